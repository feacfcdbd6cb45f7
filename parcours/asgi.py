import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parcours.settings")

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from parcours.consumers import NotificationsConsumer  # noqa: E402
from parcours.websocket_origin import SameOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Its host one of ALLOWED_HOSTS, and its Origin this very address (the port too).
        "websocket": AllowedHostsOriginValidator(
            SameOriginValidator(
                AuthMiddlewareStack(URLRouter([path("ws/notifications/", NotificationsConsumer.as_asgi())]))
            )
        ),
    }
)

# Last: what startup built lives as long as the process, and so do the caches the first requests fill
# (parcours.heap).
from parcours.heap import WarmUpFreezer, freeze_startup_objects  # noqa: E402

freeze_startup_objects()
warm_up = WarmUpFreezer().connect()

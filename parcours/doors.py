"""The doors: the client address behind the configured trusted proxies, and the login lockout backend.

The address counts logins (django-axes) and token requests (parcours.api.throttling). With TRUSTED_PROXY_COUNT = 0
it is the socket's address and a client-sent X-Forwarded-For is ignored; with N proxies, each appending the address
it saw, it is the N-th entry from the right (entries further left were written by the client and prove nothing)."""

import ipaddress
import math

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.utils.translation import gettext, ngettext

# Set on the request by the password-change page (parcours.web.passwords) when its wrong current passwords signed the
# session out: the lockout page (parcours.lockout) then says both. Here, below both of them.
SIGNED_OUT = "parcours_signed_out"


def _address(value: str) -> str | None:
    value = value.strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_address(request) -> str:
    remote = _address(request.META.get("REMOTE_ADDR", "") or "") or "0.0.0.0"
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    entries = [entry for entry in forwarded.split(",") if entry.strip()]
    if not entries:
        return remote
    # Fewer entries than proxies: the request entered below the outermost proxy; every entry is a proxy's own.
    chosen = entries[-proxies] if len(entries) >= proxies else entries[0]
    return _address(chosen) or remote


class LoginLockoutBackend(AxesStandaloneBackend):
    """django-axes' check before every login from a request (the web login, the admin login, the API token
    endpoint): a locked-out username × address is refused before its password is even checked. Logins without a
    request (management commands, the test client's login()) have no address to count and are left alone."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_minutes() -> int:
    """How long a locked-out username × address waits (LOGIN_COOLOFF_MINUTES), in whole minutes."""
    return max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_message(*, signed_out: bool = False) -> str:
    """Why the sign-in is refused, and for how long; `signed_out`: the lockout was reached by wrong current passwords
    on the password-change page, which also ended the session (one message says both)."""
    minutes = lockout_minutes()
    if signed_out:
        reason = ngettext(
            "Trop d'essais de l'ancien mot de passe : vous avez été déconnecté·e, et la connexion avec cet "
            "identifiant est bloquée pendant %(minutes)s minute.",
            "Trop d'essais de l'ancien mot de passe : vous avez été déconnecté·e, et la connexion avec cet "
            "identifiant est bloquée pendant %(minutes)s minutes.",
            minutes,
        )
    else:
        reason = ngettext(
            "Trop de tentatives de connexion échouées pour cet identifiant : réessayez dans %(minutes)s minute.",
            "Trop de tentatives de connexion échouées pour cet identifiant : réessayez dans %(minutes)s minutes.",
            minutes,
        )
    return (
        reason % {"minutes": minutes}
        + " "
        + gettext(
            "Mot de passe oublié ? Choisissez-en un nouveau avec le lien « Mot de passe oublié ? » de la page de "
            "connexion (vous pourrez vous connecter avec lui passé ce délai), ou adressez-vous à l'administrateur de "
            "la plateforme."
        )
    )

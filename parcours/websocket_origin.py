"""A live page's socket is opened by a page of this site: its Origin is the address the request reached (the Host
header), port included. channels' AllowedHostsOriginValidator compares the host name alone: a page served by another
program on the same name (localhost:9999, an intranet tool on another port) could open a socket with the user's
cookie and read the team's live events."""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier

DEFAULT_PORTS = {"http": 80, "https": 443}


def _address(netloc: str, default_port: int):
    """(host name, port) of `host[:port]`, the port the scheme's own when not given; None when unreadable."""
    try:
        parts = urlsplit(f"//{netloc}")
        return (parts.hostname or "", parts.port or default_port) if parts.hostname else None
    except ValueError:  # a port that is not a number, out of range
        return None


def same_origin(origin: str, host: str) -> bool:
    """Whether `origin` (the Origin header) is the site the request reached (its Host header, which a browser gives
    with its port unless it is the scheme's own)."""
    parts = urlsplit(origin)
    if parts.scheme not in DEFAULT_PORTS or not parts.netloc:
        return False
    default = DEFAULT_PORTS[parts.scheme]
    origin_address = _address(parts.netloc, default)
    return origin_address is not None and origin_address == _address(host, default)


class SameOriginValidator:
    """Refuses (403 at the handshake) a websocket whose Origin is not the address it reached."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            headers = dict(scope.get("headers") or [])
            origin = headers.get(b"origin", b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            if not (origin and host and same_origin(origin, host)):
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)

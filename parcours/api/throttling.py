"""Rate limits: per token (or per session user) on the API, per client address on the token endpoint.

The counters live in the shared cache (Redis or the database: settings.CACHES), so every worker process counts
against the same limit; the rates come from the environment (API_RATE_USER, API_RATE_TOKEN). The client address is
the one behind the configured trusted proxies (parcours.doors), never a client-sent X-Forwarded-For."""

import hashlib

from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from parcours.doors import client_address


class TokenRateThrottle(SimpleRateThrottle):
    scope = "user"

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None  # refused with 401 before throttling; the token endpoint has its own limit
        if isinstance(request.auth, Token):
            ident = "token-" + hashlib.sha256(request.auth.key.encode()).hexdigest()[:32]
        else:
            ident = f"session-{user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class TokenObtainRateThrottle(SimpleRateThrottle):
    scope = "token_obtain"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}

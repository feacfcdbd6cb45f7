"""Rate limits: per token (or per session user) on the API, per client address on the token endpoint."""

import hashlib

from rest_framework.authtoken.models import Token
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle


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


class TokenObtainRateThrottle(AnonRateThrottle):
    scope = "token_obtain"

"""Rate limits: per token (or per session user) on the API, per client address on the token endpoint.

The counters live in the shared cache (Redis or the database: settings.CACHES), so every worker process counts
against the same limit; the rates come from the environment (API_RATE_USER, API_RATE_TOKEN). The client address is
the one behind the configured trusted proxies (parcours.doors), never a client-sent X-Forwarded-For."""

import hashlib

from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from parcours.doors import client_address


class CountingRateThrottle(SimpleRateThrottle):
    """`num_requests` per `duration` from a caller's first request, counted by the cache's atomic increment (Redis
    `INCR`). DRF's own throttle reads a list of timestamps and writes it back: concurrent requests of one token
    overwrote each other's count, and 1,300 concurrent requests all passed a limit of 1,000. The window starts at
    the caller's first request (its start kept beside the count, for `Retry-After`), not on a clock boundary."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        # A window opened by this request, or the one running: both keys live as long as the window.
        self.cache.add(f"{self.key}:start", self.now, timeout=self.duration)
        self.cache.add(self.key, 0, timeout=self.duration)
        try:
            count = self.cache.incr(self.key)
        except ValueError:  # the window ended between the two calls: this request opens the next one
            self.cache.set(f"{self.key}:start", self.now, timeout=self.duration)
            self.cache.set(self.key, 1, timeout=self.duration)
            count = 1
        return count <= self.num_requests

    def wait(self):
        started = self.cache.get(f"{self.key}:start", self.now)
        return max(started + self.duration - self.now, 1)


class TokenRateThrottle(CountingRateThrottle):
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


class TokenObtainRateThrottle(CountingRateThrottle):
    scope = "token_obtain"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}

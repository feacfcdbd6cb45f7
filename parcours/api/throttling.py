"""Rate limits: per token (or per session user) on the API, per client address on the token endpoint.

The counters live in the shared cache (Redis or the database: settings.CACHES), so every worker process counts
against the same limit; the rates come from the environment (API_RATE_USER, API_RATE_TOKEN). The client address is
the one behind the configured trusted proxies (parcours.doors), never a client-sent X-Forwarded-For."""

import hashlib

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ResponseError
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from parcours.doors import client_address


class CountingRateThrottle(SimpleRateThrottle):
    """`num_requests` per `duration`, counted in Redis with one atomic `INCR` (and `EXPIRE … NX`, in one MULTI) when
    the shared cache is Redis: DRF's own throttle reads a list of timestamps and writes it back, and concurrent
    requests of one token overwrote each other's count (400 concurrent requests passed a limit of 100). The window
    opens at the caller's first request; `Retry-After` is what is left of it (`TTL`). On another cache (the database
    table, without REDIS_URL) DRF's sliding list is kept: right windows, but a read then a write (documented)."""

    # The counters' names are not DRF's keys (`throttle_<scope>_<ident>`): such a key, left by the release before the
    # counters holding its list of request times (pickled, for up to the window's hour), made `INCR` fail, and every
    # request of that caller answered 500 until it expired.
    COUNTER_PREFIX = "count:"

    def allow_request(self, request, view):
        backend = caches["default"]
        if not isinstance(backend, RedisCache):
            self._redis = None
            return super().allow_request(request, view)
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        key = backend.make_and_validate_key(self.COUNTER_PREFIX + self.key)
        client = backend._cache.get_client(key, write=True)
        try:
            count = self._count(client, key)
        except ResponseError as error:
            if "not an integer" not in str(error):  # a failover's read-only replica, no memory left: not ours to mend
                raise
            client.delete(key)  # not a counter (written by something else): counted again from this request
            count = self._count(client, key)
        self._redis = (client, key)
        return count <= self.num_requests

    def _count(self, client, key) -> int:
        with client.pipeline() as pipe:  # MULTI … EXEC: the count and its expiry together
            pipe.incr(key)
            pipe.expire(key, self.duration, nx=True)
            count, _ = pipe.execute()
        return count

    def wait(self):
        if getattr(self, "_redis", None) is None:
            wait = super().wait()
            if wait is None and self.history:
                # DRF says None when more requests are recorded than the rate allows (the rate lowered since): the
                # window frees a place once the request `num_requests` from the newest leaves it.
                oldest_kept = self.history[min(self.num_requests, len(self.history)) - 1]
                wait = self.duration - (self.now - oldest_kept)
            return self.duration if wait is None else max(wait, 1)
        client, key = self._redis
        return max(client.ttl(key), 1)


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

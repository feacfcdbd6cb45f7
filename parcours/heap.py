"""A web process's long-lived objects kept out of the garbage collector's full collections.

Django, the apps, the URLconf and the channels routing leave ~175,000 objects behind at startup, alive as long as the
process. Each full collection (generation 2) walked them all: 110–175 ms on the 2-core test machine, about once every
50 page requests of a worker, which set the pages' p99. Frozen (`gc.freeze`: a permanent generation the collector
skips), they are not walked again; what the requests leave behind still is.

The first requests build more that lives as long: compiled statements, templates, the policy's and the drivers'
caches. The worker freezes again after its 100th, 1,000th and 10,000th request (`WarmUpFreezer`, once the response
is sent; ~15 ms each). Over 900 page requests at 1,000,000 pathways (two runs each), the objects the collector still
tracks afterwards went from 50,900 to 32,700 and the time in full collections from 0.56–0.64 s to 0.37–0.38 s; the
p99 moved within the noise (57.8 / 64.7 → 56.6 / 56.4 ms).
"""

import gc
import itertools
import threading

from django.core.signals import request_finished
from django.urls import get_resolver

# After how many requests a worker freezes again what its requests built and kept.
WARM_UP_REQUESTS = (100, 1_000, 10_000)


def freeze_startup_objects() -> int:
    """Freeze what is alive once the process is ready to serve: the number of objects frozen."""
    get_resolver().url_patterns  # noqa: B018 - the URLconf's modules, else imported by the first request
    return _freeze()


def _freeze() -> int:
    gc.collect()  # garbage freed, not kept forever
    gc.freeze()
    return gc.get_freeze_count()


class WarmUpFreezer:
    """A receiver of `signal` (a request finished) freezing what is alive after the given numbers of requests; it
    disconnects itself after the last. Requests finish on several threads: the count is taken under a lock."""

    def __init__(self, at=WARM_UP_REQUESTS, signal=request_finished):
        self.at = set(at)
        self.last = max(at)
        self.signal = signal
        self.counted = itertools.count(1)
        self.lock = threading.Lock()

    def __call__(self, sender=None, **kwargs):
        with self.lock:
            served = next(self.counted)
        if served in self.at:
            _freeze()
        if served == self.last:
            self.signal.disconnect(self)

    def connect(self) -> "WarmUpFreezer":
        self.signal.connect(self, weak=False)
        return self

"""A web process's startup objects kept out of the garbage collector's full collections.

Django, the apps, the URLconf and the channels routing leave ~175,000 objects behind at startup, alive as long as the
process. Each full collection (generation 2) walked them all: 110–175 ms on the 2-core test machine, about once every
50 page requests of a worker, which set the pages' p99. Frozen (`gc.freeze`: a permanent generation the collector
skips), they are not walked again; what the requests leave behind still is.
"""

import gc

from django.urls import get_resolver


def freeze_startup_objects() -> int:
    """Freeze what is alive once the process is ready to serve: the number of objects frozen."""
    get_resolver().url_patterns  # noqa: B018 - the URLconf's modules, else imported by the first request
    gc.collect()  # the startup's garbage freed, not kept forever
    gc.freeze()
    return gc.get_freeze_count()

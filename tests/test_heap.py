"""A web process freezes what its startup built (parcours.heap): the garbage collector's full collections, once every
~50 page requests of a worker, walk what the requests left, not the ~175,000 objects of Django, the apps and the
URLconf (110–175 ms each on the test machine). It freezes again what its first requests built and kept."""

import os
import subprocess
import sys

from django.conf import settings
from django.core.signals import request_finished
from django.dispatch import Signal

from parcours import heap

PROBE = """
import gc
import parcours.asgi
from django.urls import get_resolver
patterns = get_resolver().url_patterns
tracked = gc.get_objects()
print(gc.get_freeze_count(), len(tracked), any(o is patterns for o in tracked))
"""


# What the first requests keep (a cache filled by the 100th) is frozen once the 100th has finished.
WARM_UP_PROBE = """
import gc
import parcours.asgi
from django.core.signals import request_finished
from django.dispatch import Signal
kept = []
for served in range(1, 102):
    kept.append([served])  # a list: tracked by the collector
    request_finished.send(sender=None)
    if served == 99:
        before = gc.get_freeze_count()
tracked = gc.get_objects()
print(before, gc.get_freeze_count(), any(o is kept[0] for o in tracked), any(o is kept[-1] for o in tracked))
"""


def run(probe, tmp_path):
    env = {**os.environ, "DEBUG": "1", "PARCOURS_VAR_DIR": str(tmp_path)}
    env.update(DJANGO_SETTINGS_MODULE="parcours.settings")
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result


def test_the_web_application_s_startup_objects_are_frozen_the_url_conf_with_them(tmp_path):
    result = run(PROBE, tmp_path)
    frozen, tracked, patterns_tracked = result.stdout.split()
    assert int(frozen) > 100_000 and int(tracked) < int(frozen) // 20, result.stdout
    # Loaded before the freeze, not by the first request: the URLconf is among the frozen objects.
    assert patterns_tracked == "False", result.stdout


def test_the_web_application_freezes_again_what_its_first_requests_kept(tmp_path):
    result = run(WARM_UP_PROBE, tmp_path)
    before, after, first_tracked, last_tracked = result.stdout.split()
    assert int(after) > int(before), result.stdout
    # Kept by the first 100 requests: frozen; by the 101st: still the collector's.
    assert (first_tracked, last_tracked) == ("False", "True"), result.stdout


def test_the_warm_up_freezes_at_its_counts_then_leaves(monkeypatch):
    # A signal of its own: request_finished's other receivers close the database connections.
    finished, frozen, served = Signal(), [], []
    monkeypatch.setattr(heap, "_freeze", lambda: frozen.append(served[-1]))
    freezer = heap.WarmUpFreezer(at=(2, 4), signal=finished).connect()
    assert heap.WarmUpFreezer().signal is request_finished
    for count in range(1, 7):
        served.append(count)
        finished.send(sender=None)
    assert frozen == [2, 4]
    assert not finished.has_listeners() and not finished.disconnect(freezer)  # it left after its last count

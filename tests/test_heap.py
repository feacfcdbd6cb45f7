"""A web process freezes what its startup built (parcours.heap): the garbage collector's full collections, once every
~50 page requests of a worker, walk what the requests left, not the ~175,000 objects of Django, the apps and the
URLconf (110–175 ms each on the test machine)."""

import os
import subprocess
import sys

from django.conf import settings

PROBE = """
import gc
import parcours.asgi
from django.urls import get_resolver
patterns = get_resolver().url_patterns
tracked = gc.get_objects()
print(gc.get_freeze_count(), len(tracked), any(o is patterns for o in tracked))
"""


def test_the_web_application_s_startup_objects_are_frozen_the_url_conf_with_them(tmp_path):
    env = {**os.environ, "DEBUG": "1", "PARCOURS_VAR_DIR": str(tmp_path)}
    env.update(DJANGO_SETTINGS_MODULE="parcours.settings")
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    frozen, tracked, patterns_tracked = result.stdout.split()
    assert int(frozen) > 100_000 and int(tracked) < int(frozen) // 20, result.stdout
    # Loaded before the freeze, not by the first request: the URLconf is among the frozen objects.
    assert patterns_tracked == "False", result.stdout

"""Settings of the test suite: the application's settings with DEBUG on (as `make run`: a development secret key, a
journal key generated in PARCOURS_VAR_DIR, no HTTPS redirect) and a per-process cache.

pytest-django still runs the tests with settings.DEBUG = False. The production settings are tested from the
environment in tests/test_security_settings.py (`manage.py check --deploy` in a subprocess)."""

import os

os.environ.setdefault("DEBUG", "1")

from parcours.settings import *  # noqa: E402,F403

# Throttle and lockout counters of one test process (xdist workers, each with its own test database, must not share
# them); the shared backends (database, Redis) are tested on their own in tests/test_doors.py.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "parcours-tests"}}

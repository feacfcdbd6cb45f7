"""The timer worker of the work layer: fires the due viewflow timers (reminders, expiries, follow-ups).

viewflow 2.4 keeps timers in the database (Task rows of type TIMER with a `scheduled` moment). A sweep fires each
due timer under its process lock (SELECT ... FOR UPDATE on PostgreSQL) after re-reading its status, so two workers
running at once fire each timer exactly once: the second one finds it DONE and skips it. A firing that fails rolls
back entirely (the timer stays SCHEDULED) and is retried on the next sweep.

Embedded default (`make run`): `python manage.py run_timers --loop` runs next to the web server.
Production: run the same command as its own long-lived process (systemd unit, container), one or more replicas.
"""

import logging
import time

from django.db import close_old_connections
from viewflow.workflow.timers import fire_due_timers

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 30


def fire_due() -> int:
    """One sweep: fire every due timer, return how many fired."""
    return fire_due_timers()


def run_forever(*, interval=DEFAULT_INTERVAL_SECONDS, stop=lambda: False, on_sweep=None):
    """Sweep every `interval` seconds until `stop()` is true; a failing sweep is logged, never fatal."""
    while not stop():
        close_old_connections()
        try:
            fired = fire_due()
        except Exception:  # the worker must survive a database restart or a broken flow
            logger.exception("timer sweep failed")
            fired = 0
        if on_sweep is not None:
            on_sweep(fired)
        slept = 0.0
        while slept < interval and not stop():
            time.sleep(min(1.0, interval - slept))
            slept += 1.0

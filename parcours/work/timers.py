"""The timer worker of the work layer: fires the due viewflow timers (reminders, expiries, follow-ups).

viewflow 2.4 keeps timers in the database (Task rows of type TIMER with a `scheduled` moment). A sweep fires each
due timer under its process lock (SELECT ... FOR UPDATE on PostgreSQL) after re-reading its status, so two workers
running at once fire each timer exactly once: the second one finds it DONE and skips it. A firing that fails rolls
back entirely (the timer stays SCHEDULED) and is retried on the next sweep.

The worker process (parcours.worker, `manage.py run_timers --loop`) calls `fire_due` on every sweep.
"""

from viewflow.workflow.timers import fire_due_timers


def fire_due() -> int:
    """One sweep: fire every due timer, return how many fired."""
    return fire_due_timers()

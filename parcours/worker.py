"""The background worker: one long-lived process (`manage.py run_timers --loop`) running the periodic jobs.

- every sweep: the due work-layer timers (reminders, referral expiries, follow-ups: workflows.timers);
- every JOURNAL_CHECKPOINT_MINUTES: a checkpoint of the journal, also written to JOURNAL_CHECKPOINT_DIR;
- once a day: retention (announce inactive files, anonymise announced ones, purge old access-log rows);
- every hour: reminders of the monthly hours statements still missing after the facilitation organisation's
  reminder day, and those of the months before it the worker missed (parcours.services.statements.missing_statements;
  each statement is reminded once: a second worker finds it reminded); the reminder is one journal
  event, pushed in the application and e-mailed to the employer according to each person's preferences;
- every sweep: the e-mail outbox (parcours.mail: immediate messages, then the daily digests once their hour has
  passed); once a day: old sent rows purged;
- every sweep: a recount of the lots whose counted hours went stale (parcours.selectors.lot_hours), so that
  homes and the register read them ready;
- every minute: a recount of the dashboards' pathway figures about to age out (parcours.selectors.kept_figures),
  for the teams that read their dashboard lately;
- every 5 minutes: the pathways' tally folded, one row per team and state (parcours.selectors.tally);
- every sweep: a heartbeat row (readiness reports a worker that stopped beating).

Several workers may run at once (replicas): each job is safe to run twice (timers fire under their process lock,
a checkpoint of an already sealed head is refused by its unique constraint, retention re-checks under row locks).

A job due every hour or less often (checkpoint, retention, statement reminders, mail purge) keeps its last run in
the database, a `WorkerHeartbeat` row named `job:<name>` (`Job.kept`): a one-shot sweep from cron (`run_timers`
without --loop) starts with no memory, and would otherwise seal a checkpoint and read every participant for
retention at each tick; a restarted worker and its replicas go by the same row. The jobs due more often are cheap
and idempotent: a one-shot sweep runs them each time.
"""

import datetime
import logging
import os
import socket
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, close_old_connections, models
from django.utils import timezone

from parcours import mail
from parcours.models import WorkerHeartbeat
from parcours.selectors import kept_figures, lot_hours, tally
from parcours.services.data_protection import apply_retention
from parcours.services.statements import remind_missing_statements
from parcours.work.timers import fire_due
from workflows.journal import take_checkpoint

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 30


def checkpoint():
    try:
        return take_checkpoint()
    except IntegrityError:  # another worker sealed the same head first
        return None


def retention():
    return apply_retention(wet=True)


KEPT_FROM = datetime.timedelta(hours=1)  # a job due this rarely or less keeps its last run in the database


@dataclass
class Job:
    name: str
    run: object
    every: datetime.timedelta
    last: datetime.datetime | None = field(default=None)

    def due(self, now) -> bool:
        return self.last is None or now - self.last >= self.every

    @property
    def kept(self) -> bool:
        return self.every >= KEPT_FROM

    @property
    def row_name(self) -> str:
        return f"job:{self.name}"


def jobs():
    return [
        Job("checkpoint", checkpoint, datetime.timedelta(minutes=settings.PARCOURS["JOURNAL_CHECKPOINT_MINUTES"])),
        Job("retention", retention, datetime.timedelta(days=1)),
        Job("statement_reminders", remind_missing_statements, datetime.timedelta(hours=1)),
        Job("digests", lambda: mail.deliver_digests(), datetime.timedelta(seconds=0)),
        Job("mail_purge", lambda: mail.purge_sent(), datetime.timedelta(days=1)),
        Job("lot_hours", lot_hours.refresh_stale, datetime.timedelta(seconds=0)),
        Job("pathway_figures", kept_figures.refresh_old, datetime.timedelta(minutes=1)),
        Job("pathway_tally", tally.fold, datetime.timedelta(minutes=5)),
    ]


def sweep(periodic, *, now=None) -> dict:
    """Fire the due timers, then every periodic job that is due. A failing job is logged and retried later."""
    now = now or timezone.now()
    report = {"timers": fire_due()}
    try:
        report["mail"] = mail.deliver_immediate()
    except Exception:  # the mail server may be away: the rows stay in the outbox for the next sweep
        logger.exception("e-mail delivery failed")
    _recall_last_runs([job for job in periodic if job.kept and job.due(now)])
    ran = report["ran"] = []
    for job in periodic:
        if not job.due(now):
            continue
        try:
            report[job.name] = job.run()
        except Exception:  # the worker must survive a broken job; it is retried on its next turn
            logger.exception("periodic job %s failed", job.name)
        ran.append(job.name)
        job.last = now
        if job.kept:
            heartbeat(job.row_name, now, now=now)
    if ran:  # what the jobs wrote to the outbox (a statement reminder) leaves now, not at the next sweep (cron's)
        try:
            report["mail"] = (report.get("mail") or 0) + mail.deliver_immediate()
        except Exception:
            logger.exception("e-mail delivery failed")
    return report


def _recall_last_runs(jobs):
    """The kept jobs that look due from this process's memory (none on a one-shot's start) take their last run from
    the database, where another sweep may have run them since: one read, only when one of them looks due."""
    if not jobs:
        return
    kept = dict(WorkerHeartbeat.objects.filter(name__in=[job.row_name for job in jobs]).values_list("name", "beat_at"))
    for job in jobs:
        last = kept.get(job.row_name)
        if last is not None and (job.last is None or last > job.last):
            job.last = last


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def heartbeat(name, started_at, *, now=None):
    now = now or timezone.now()
    updated = WorkerHeartbeat.objects.filter(name=name).update(beat_at=now, sweeps=models.F("sweeps") + 1)
    if not updated:
        WorkerHeartbeat.objects.update_or_create(name=name, defaults={"started_at": started_at, "beat_at": now})


def run_forever(*, interval=DEFAULT_INTERVAL_SECONDS, stop=lambda: False, on_sweep=None):
    """Sweep every `interval` seconds until `stop()` is true; a failing sweep is logged, never fatal."""
    periodic = jobs()
    name, started_at = worker_name(), timezone.now()
    while not stop():
        close_old_connections()
        try:
            report = sweep(periodic)
            heartbeat(name, started_at)
        except Exception:  # the worker must survive a database restart or a broken flow
            logger.exception("sweep failed")
            report = {"timers": 0}
        if on_sweep is not None:
            on_sweep(report)
        slept = 0.0
        while slept < interval and not stop():
            time.sleep(min(1.0, interval - slept))
            slept += 1.0

"""`manage.py run_timers` without --loop (a one-shot sweep, e.g. from cron) runs the periodic jobs that are due, by
the loop's rule; the hourly and daily ones keep their last run in the database, so that a cron tick every few
minutes runs them once per period (QA: the one-shot ran the timers only, never a reminder nor a checkpoint)."""

import datetime
from io import StringIO

import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from parcours import worker
from parcours.models import HoursStatement, WorkerHeartbeat
from tests.factories import make_lot, make_offer, make_placement
from workflows.models import JournalEvent

D = datetime.date
MINUTE = datetime.timedelta(minutes=1)


def at(moment):
    return time_machine.travel(moment, tick=False)


def run_once() -> str:
    out = StringIO()
    call_command("run_timers", stdout=out)
    return out.getvalue()


def lot_with_a_contract_from_march(world):
    """A lot of 2026 with a contract running from 2 March: its March statement is missing in April."""
    with at(timezone.make_aware(datetime.datetime(2026, 1, 5, 10))):
        lot = make_lot(world.a, starts_on=D(2026, 1, 1), ends_on=D(2026, 12, 31))
        offer = make_offer(world.a, lot=lot, positions=5)
    with at(timezone.make_aware(datetime.datetime(2026, 3, 2, 10))):
        make_placement(world, "active", offer=offer, start_date=D(2026, 3, 2))
    return lot


def test_a_one_shot_run_sends_the_due_statement_reminder_once(world):
    lot = lot_with_a_contract_from_march(world)
    tick = timezone.make_aware(datetime.datetime(2026, 4, 10, 9))
    with at(tick):
        out = run_once()
    assert "relevé(s) d'heures manquant(s) relancé(s)" in out
    assert HoursStatement.objects.get(lot=lot, month=D(2026, 3, 1)).reminders == 1
    for later in (tick + 5 * MINUTE, tick + 65 * MINUTE):  # the next cron ticks, and the next hour
        with at(later):
            run_once()
    assert HoursStatement.objects.get(lot=lot, month=D(2026, 3, 1)).reminders == 1
    assert JournalEvent.objects.filter(object_type="hoursstatement", action="remind").count() == 1


def test_the_hourly_and_daily_jobs_run_once_per_period_from_cron(db, monkeypatch):
    runs = []
    monkeypatch.setattr(worker, "retention", lambda: runs.append("retention"))
    monkeypatch.setattr(worker, "checkpoint", lambda: runs.append("checkpoint"))
    start = timezone.make_aware(datetime.datetime(2026, 4, 10, 9))
    with at(start):
        out = run_once()
    assert "0 minuteur(s) déclenché(s)." in out
    assert runs == ["checkpoint", "retention"]
    # The operator reads what ran (a retention pass that found nothing printed nothing).
    assert "Tâches périodiques exécutées : " in out and "checkpoint" in out and "retention" in out
    kept = set(WorkerHeartbeat.objects.filter(name__startswith="job:").values_list("name", flat=True))
    assert kept == {"job:checkpoint", "job:retention", "job:statement_reminders", "job:mail_purge"}
    with at(start + 5 * MINUTE):  # the next cron ticks
        run_once()
        out = run_once()
    assert runs == ["checkpoint", "retention"]
    assert "retention" not in out.split("Tâches périodiques exécutées : ")[1]
    with at(start + 60 * MINUTE):  # JOURNAL_CHECKPOINT_MINUTES
        run_once()
        run_once()
    assert runs == ["checkpoint", "retention", "checkpoint"]
    with at(start + datetime.timedelta(days=1)):
        run_once()
    assert runs.count("retention") == 2  # once a day


def test_a_job_the_looping_worker_ran_is_not_run_again_by_a_one_shot(db, monkeypatch):
    retention_runs = []
    monkeypatch.setattr(worker, "retention", lambda: retention_runs.append(1))
    start = timezone.make_aware(datetime.datetime(2026, 4, 10, 9))
    with at(start):
        worker.sweep(worker.jobs())  # a worker's first sweep (the loop's)
    with at(start + 10 * MINUTE):
        run_once()  # then a one-shot, or a restarted worker
    assert retention_runs == [1]


def test_a_reminder_written_by_a_one_shot_leaves_in_the_same_run(world):
    """The outbox was emptied before the jobs ran: a reminder's e-mail waited for the next cron tick."""
    lot = lot_with_a_contract_from_march(world)
    mail.outbox.clear()
    with at(timezone.make_aware(datetime.datetime(2026, 4, 10, 9))):
        run_once()
    assert HoursStatement.objects.get(lot=lot, month=D(2026, 3, 1)).reminders == 1
    assert "[Parcours] Heures du mois à déclarer — mars 2026" in [m.subject for m in mail.outbox]

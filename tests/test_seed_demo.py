"""The demo data command: idempotent (a second run adds nothing, on SQLite and on PostgreSQL), and consistent — the
timer worker started by `make run` finds nothing due, and only the item the demo means to be late is late. Its
months of hours are told through the monthly statements (declared per lot, decided in bulk, closed), with their
variety whatever the day of the month it is seeded on."""

import datetime

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Exists, OuterRef
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from parcours.dates import previous_month
from parcours.management.commands.seed_demo import (
    LATE_ON_PURPOSE,
    LOTS,
    STATEMENT_WAITING_LOT,
    is_late_on_purpose,
    overdue_tasks,
    waiting_work,
)
from parcours.models import ContractLot, HoursLine, HoursStatement, Participant, Pathway, Referral
from parcours.selectors.statements import running_in
from parcours.services.statements import missing_statements
from parcours.work.timers import fire_due
from roles.enums import Role
from tests.factories import db_counts
from workflows.journal import verify_chains
from workflows.models import JournalEvent
from workflows.states import HoursLineState

pytestmark = pytest.mark.django_db


def test_seed_demo_twice_duplicates_nothing_and_leaves_nothing_overdue():
    call_command("seed_demo", verbosity=0)
    assert Pathway.objects.exists() and Referral.objects.exists()

    # The worker's first sweep (make run) fires nothing the seed should have: it ran its timers inside its travelling
    # clock up to an hour before its start (Demo.limit). A timer due since — a follow-up due today, scheduled at
    # midnight in Paris, when the seed runs just after it (found at 00:18) — is the worker's to fire.
    seeded_up_to = timezone.now() - datetime.timedelta(hours=1, minutes=5)
    assert not Task.objects.filter(flow_task_type="TIMER", status=STATUS.SCHEDULED, scheduled__lte=seeded_up_to)
    fire_due()
    assert fire_due() == 0
    first = db_counts()  # what a second seed must leave as it is
    assert first["parcours.Participant"] > 0 and first["workflows.JournalEvent"] > 0
    # Exactly the item meant to be late is late; every working role finds something waiting.
    late = overdue_tasks()
    assert len(late) == len(LATE_ON_PURPOSE) == 1 and all(is_late_on_purpose(task) for task in late)
    teams = waiting_work()
    roles = {role for _, role in teams}
    assert {Role.ADVISER, Role.FACILITATOR, Role.EMPLOYER} <= roles
    assert all(sum(kinds.values()) <= 10 for kinds in teams.values()), teams  # a few items, not a backlog
    assert JournalEvent.objects.filter(object_type="timer").exists()
    check_months()

    call_command("seed_demo", verbosity=0)
    second = db_counts()
    grown = {label: (first[label], second[label]) for label in first if first[label] != second[label]}
    assert not grown, f"seed_demo is not idempotent: {grown}"
    assert verify_chains().ok
    assert (
        Participant.objects.count()
        == Participant.objects.values("youth_agency", "last_name", "first_name", "birth_date").distinct().count()
    )
    assert JournalEvent.objects.count() == first["workflows.JournalEvent"]


def check_months():
    """The seeded months as a facilitator's months are done: every line comes from a lot's statement, months are
    closed with their journal, a rejected line was declared again, an adjustment came after a close (and the month
    was closed again), lines wait for the facilitator, and last month's statement of STATEMENT_WAITING_LOT waits
    for its employer."""
    today = timezone.localdate()
    last = previous_month(today)
    # No line declared one by one: each (lot, month) with lines has a declared statement.
    statements = HoursStatement.objects.filter(
        lot=OuterRef("placement__lot"), month=OuterRef("month"), submitted_at__isnull=False
    )
    assert HoursLine.objects.exists() and not HoursLine.objects.filter(~Exists(statements)).exists()
    actions = set(JournalEvent.objects.filter(object_type="hoursstatement").values_list("action", flat=True))
    assert {"submit", "close"} <= actions
    closed = HoursStatement.objects.filter(closed_at__isnull=False)
    assert closed.exists()
    for statement in closed:  # a closed month has no line waiting, and its lines are locked
        lines = HoursLine.objects.filter(placement__lot=statement.lot, month=statement.month)
        assert not lines.filter(state__in=[HoursLineState.DECLARED, HoursLineState.VALIDATED]).exists(), statement
    # A rejected line, declared again and counted.
    rejected = HoursLine.objects.filter(state=HoursLineState.REJECTED, is_adjustment=False)
    assert rejected.exists()
    for line in rejected:
        again = HoursLine.objects.filter(placement=line.placement, month=line.month, is_adjustment=False)
        assert again.exclude(state=HoursLineState.REJECTED).exists()
    # An adjustment after the close, locked by closing the month again.
    adjustment = HoursLine.objects.get(is_adjustment=True)
    assert adjustment.state == HoursLineState.LOCKED
    close_events = JournalEvent.objects.filter(object_type="hoursstatement", action="close")
    assert any((event.inputs or {}).get("again") for event in close_events)
    # Lines waiting for the facilitator, in a month left open.
    waiting = HoursLine.objects.filter(state=HoursLineState.DECLARED)
    assert waiting.exists()
    for line in waiting:
        assert not HoursStatement.objects.filter(
            lot=line.placement.lot, month=line.month, closed_at__isnull=False
        ).exists()
    # Last month's statement of the waiting lot: placements ran, nothing declared (tests/e2e/test_month.py uses it).
    title = next(spec["title"] for spec in LOTS if spec["key"] == STATEMENT_WAITING_LOT)
    lot = ContractLot.objects.get(title=title)
    assert lot.placements.filter(running_in(last)).exists()
    assert not HoursLine.objects.filter(placement__lot=lot, month=last).exists()
    assert not HoursStatement.objects.filter(lot=lot, month=last, submitted_at__isnull=False).exists()
    reminder_day = lot.contract.operation.facilitation_organisation.hours_statement_reminder_day
    reminded = HoursStatement.objects.filter(lot=lot, month=last, reminded_at__isnull=False).exists()
    # The reminder job ran on its day in the travelling clock: the worker's first sweep has nothing to remind (on
    # the reminder day itself, it depends on the hour).
    if today.day != reminder_day:
        assert reminded == (today.day > reminder_day)
        assert missing_statements(today=today) == []


@pytest.mark.parametrize("day", [datetime.date(2026, 6, 2), datetime.date(2026, 6, 17)])
def test_the_months_keep_their_variety_whatever_the_day_of_the_month(day):
    """Seeded early in a month (last month not declared yet by most employers) and after the reminder day."""
    moment = timezone.make_aware(datetime.datetime.combine(day, datetime.time(10, 30)))
    with time_machine.travel(moment, tick=True):
        call_command("seed_demo", verbosity=0)
        assert fire_due() == 0
        assert len(overdue_tasks()) == len(LATE_ON_PURPOSE)
        check_months()

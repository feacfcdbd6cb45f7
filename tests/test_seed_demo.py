"""The demo data command: idempotent (a second run adds nothing, on SQLite and on PostgreSQL), and consistent — the
timer worker started by `make run` finds nothing due, and only the item the demo means to be late is late."""

import pytest
from django.core.management import call_command

from parcours.management.commands.seed_demo import LATE_ON_PURPOSE, is_late_on_purpose, overdue_tasks, waiting_work
from parcours.models import Participant, Pathway, Referral
from parcours.work.timers import fire_due
from roles.enums import Role
from tests.factories import db_counts
from workflows.journal import verify_chains
from workflows.models import JournalEvent

pytestmark = pytest.mark.django_db


def test_seed_demo_twice_duplicates_nothing_and_leaves_nothing_overdue():
    call_command("seed_demo", verbosity=0)
    first = db_counts()
    assert first["parcours.Participant"] > 0 and first["workflows.JournalEvent"] > 0
    assert Pathway.objects.exists() and Referral.objects.exists()

    # The worker's first sweep (make run) fires nothing: the seed ran its timers inside its travelling clock.
    assert fire_due() == 0
    # Exactly the item meant to be late is late; every working role finds something waiting.
    late = overdue_tasks()
    assert len(late) == len(LATE_ON_PURPOSE) == 1 and all(is_late_on_purpose(task) for task in late)
    teams = waiting_work()
    roles = {role for _, role in teams}
    assert {Role.ADVISER, Role.FACILITATOR, Role.EMPLOYER} <= roles
    assert all(sum(kinds.values()) <= 10 for kinds in teams.values()), teams  # a few items, not a backlog
    assert JournalEvent.objects.filter(object_type="timer").exists()

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

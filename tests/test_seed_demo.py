"""The demo data command is idempotent: a second run adds nothing (on SQLite and on PostgreSQL)."""

import pytest
from django.core.management import call_command

from parcours.models import Participant, Pathway, Referral
from tests.factories import db_counts
from workflows.journal import verify_chains
from workflows.models import JournalEvent

pytestmark = pytest.mark.django_db


def test_seed_demo_twice_duplicates_nothing():
    call_command("seed_demo", verbosity=0)
    first = db_counts()
    assert first["parcours.Participant"] > 0 and first["workflows.JournalEvent"] > 0
    assert Pathway.objects.exists() and Referral.objects.exists()

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

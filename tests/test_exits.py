"""Exits: the Mission Locale's situation and its derived family, the situation at six months (recorded by the
adviser, not before it is due), both visible on the timeline; the optional sex field."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from parcours.dates import add_months
from parcours.models import Exit
from parcours.selectors.core import participant_timeline
from parcours.services import participants, pathways
from tests.factories import make_pathway, today
from workflows.errors import DomainError
from workflows.vocabulary import ExitCategory, ExitSituation


def exited(world, situation=ExitSituation.CIVIC_SERVICE, detail="Service civique à la mairie"):
    pathway = make_pathway(world, "in_follow_up")
    pathways.pathway_exit(
        actor=world.a.adviser, pathway=pathway, exited_on=today(), situation=situation, detail=detail
    )
    return pathway, Exit.objects.get(pathway=pathway)


def test_the_exit_records_the_situation_and_derives_its_family(world):
    pathway, row = exited(world)
    assert row.situation == ExitSituation.CIVIC_SERVICE and row.category == ExitCategory.POSITIVE_EXIT
    events = participant_timeline(actor=world.a.adviser, participant=pathway.participant)
    (event,) = [e for e in events if e.action == "exit"]
    assert event.result == "Service civique (sortie positive) — Service civique à la mairie"
    with pytest.raises(DomainError) as refused:
        pathways.pathway_exit(
            actor=world.a.adviser, pathway=make_pathway(world, "in_follow_up"), exited_on=today(), situation="cdi?"
        )
    assert refused.value.field == "situation"


def test_the_situation_at_six_months(world):
    pathway, row = exited(world, ExitSituation.CDD_SHORT, "")
    adviser = world.a.adviser
    with pytest.raises(DomainError) as early:
        pathways.exit_record_outcome(actor=adviser, exit=row, observed_on=today(), situation=ExitSituation.CDI)
    assert early.value.code == "outcome_too_early"
    due = add_months(row.exited_on, 6)
    moment = timezone.make_aware(datetime.datetime.combine(due, datetime.time(10)))
    with time_machine.travel(moment, tick=False):
        with pytest.raises(DomainError):
            pathways.exit_record_outcome(actor=world.b.adviser, exit=row, observed_on=due, situation=ExitSituation.CDI)
        pathways.exit_record_outcome(
            actor=adviser, exit=row, observed_on=due, situation=ExitSituation.CDI, detail="CDI chez le même employeur"
        )
    row.refresh_from_db()
    assert row.outcome_category == ExitCategory.DURABLE_EMPLOYMENT
    events = participant_timeline(actor=adviser, participant=pathway.participant)
    (event,) = [e for e in events if e.action == "record_exit_outcome"]
    assert event.result == "Emploi — CDI (emploi durable) — CDI chez le même employeur"
    assert "CDI chez le même employeur" not in str(event.inputs)  # free text stays out of the journal


def test_the_sex_field_is_optional_and_checked(world):
    participant = make_pathway(world, "intake", sex="F").participant
    assert participant.sex == "F"
    with pytest.raises(DomainError) as refused:
        participants.participant_update(actor=world.a.adviser, participant=participant, changes={"sex": "X"})
    assert refused.value.field == "sex"


@pytest.mark.postgres
def test_the_situation_at_six_months_is_journaled_under_the_pathway_s_lock(world, settings):
    """The outcome's event goes to the pathway's chain: the pathway row is locked first, as for its transitions (a
    reopening at the same moment waits, and appends after it)."""
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    pathway, row = exited(world, ExitSituation.CDD_SHORT, "")
    due = add_months(row.exited_on, 6)
    with time_machine.travel(timezone.make_aware(datetime.datetime.combine(due, datetime.time(10))), tick=False):
        with CaptureQueriesContext(connection) as captured:
            pathways.exit_record_outcome(actor=world.a.adviser, exit=row, observed_on=due, situation=ExitSituation.CDI)
    statements = [q["sql"] for q in captured]
    locked = next(
        i for i, sql in enumerate(statements) if 'FROM "parcours_pathway"' in sql and "FOR NO KEY UPDATE" in sql
    )
    appended = next(i for i, sql in enumerate(statements) if sql.startswith('INSERT INTO "workflows_journalevent"'))
    assert locked < appended

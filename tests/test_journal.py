"""The audit journal: hash chains and their verification, tamper detection, the PostgreSQL append-only
trigger, no personal values in events, and the participant access log."""

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from parcours.services import participants
from roles.actor import Actor
from tests.factories import (
    call_service,
    make_hours_line,
    make_pathway,
    make_referral,
    placements,
    record_follow_up,
    reload,
    this_month,
    years_ago,
)
from workflows.journal import log_participant_access, record_event, verify_chains
from workflows.models import AccessChannel, JournalEvent, ParticipantAccess

pytestmark = pytest.mark.django_db
TRIGGER = "workflows_journal_no_update_delete"


def busy_journal(world):
    """Events on every kind of object: a story up to locked hours, an adjustment and a follow-up."""
    line = make_hours_line(world, "locked")
    placement = line.placement
    placements.hours_declare(
        actor=world.a.employer_actor, placement=placement, month=this_month(), hours=-3, is_adjustment=True
    )
    make_referral(world, "refused")
    make_pathway(world, "exited")
    call_service("placement.end", world.a.employer_actor, placement)
    record_follow_up(world, placement.pathway)
    return line


def tamper(sql, params):
    """Alter the journal behind the application's back (on PostgreSQL the trigger is lifted for this
    test's transaction only: the ALTER TABLE is rolled back with it)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            flush_deferred_checks(cursor)
            cursor.execute(f"ALTER TABLE workflows_journalevent DISABLE TRIGGER {TRIGGER}")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE workflows_journalevent ENABLE TRIGGER {TRIGGER}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def flush_deferred_checks(cursor):
    """Run the deferred foreign-key checks of the test transaction now: PostgreSQL refuses ALTER TABLE and
    TRUNCATE on a table with pending trigger events."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def run_verify_journal():
    """Run the command; return (exit code, everything it said)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_journal", stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1, out.getvalue() + err.getvalue() + str(exc.code)
    except CommandError as exc:
        if str(exc).startswith("Unknown command"):
            raise
        return exc.returncode, out.getvalue() + err.getvalue() + str(exc)
    return 0, out.getvalue() + err.getvalue()


def test_chains_verify_after_a_full_story(world):
    busy_journal(world)
    result = verify_chains()
    assert result.ok, result.problem
    assert result.events == JournalEvent.objects.count() > 30
    assert result.chains == JournalEvent.objects.values("object_type", "object_id").distinct().count()
    assert set(JournalEvent.objects.values_list("object_type", flat=True)) >= {
        "participant",
        "pathway",
        "referral",
        "placement",
        "hoursline",
        "operation",
        "contract",
        "lot",
        "offer",
    }
    code, output = run_verify_journal()
    assert code == 0, output


def test_each_event_links_to_the_previous_one_of_its_object(world):
    referral = make_referral(world, "hired")
    events = list(JournalEvent.objects.filter(object_type="referral", object_id=referral.pk).order_by("sequence"))
    assert [e.action for e in events] == ["create", "start_review", "approve", "forward", "accept", "hire"]
    assert [e.sequence for e in events] == list(range(1, 7))
    assert events[0].previous_hash == ""
    for previous, event in zip(events, events[1:], strict=False):
        assert event.previous_hash == previous.hash
    assert len({e.hash for e in events}) == len(events)


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("UPDATE workflows_journalevent SET reason = 'x' WHERE id = %s", "contenu modifié"),
        ("UPDATE workflows_journalevent SET to_state = 'hired' WHERE id = %s", "contenu modifié"),
        ("UPDATE workflows_journalevent SET actor_role = 'admin' WHERE id = %s", "contenu modifié"),
    ],
    ids=["reason", "to_state", "actor_role"],
)
def test_an_altered_event_breaks_its_chain(world, sql, problem):
    busy_journal(world)
    target = JournalEvent.objects.filter(object_type="referral", action="approve").order_by("pk").first()
    tamper(sql, [target.pk])

    result = verify_chains()
    assert not result.ok
    assert result.broken_event_id == target.pk
    assert problem in result.problem

    code, output = run_verify_journal()
    assert code != 0
    assert re.search(rf"(?<!\d){target.pk}(?!\d)", output), output


def test_a_deleted_event_breaks_the_chain_at_the_next_one(world):
    referral = make_referral(world, "accepted")
    events = list(JournalEvent.objects.filter(object_type="referral", object_id=referral.pk).order_by("sequence"))
    tamper("DELETE FROM workflows_journalevent WHERE id = %s", [events[1].pk])
    result = verify_chains()
    assert result.broken_event_id == events[2].pk
    code, output = run_verify_journal()
    assert code != 0 and str(events[2].pk) in output


def test_a_rehashed_event_still_breaks_the_link_of_the_next_one(world):
    """Recomputing the altered event's own hash is not enough: the next event points to the old one."""
    from workflows.journal import compute_hash

    referral = make_referral(world, "accepted")
    events = list(JournalEvent.objects.filter(object_type="referral", object_id=referral.pk).order_by("sequence"))
    forged = events[1]
    forged.reason = "forgé"
    tamper(
        "UPDATE workflows_journalevent SET reason = %s, hash = %s WHERE id = %s",
        [forged.reason, compute_hash(forged), forged.pk],
    )
    assert verify_chains().broken_event_id == events[2].pk


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE workflows_journalevent SET reason = 'x' WHERE id = %s",
        "DELETE FROM workflows_journalevent WHERE id = %s",
    ],
    ids=["update", "delete"],
)
def test_postgresql_trigger_refuses_update_and_delete(world, sql):
    make_referral(world, "approved")
    event = JournalEvent.objects.order_by("pk").last()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [event.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        JournalEvent.objects.filter(pk=event.pk).update(reason="x")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        JournalEvent.objects.filter(pk=event.pk).delete()
    assert reload(event).reason == event.reason
    assert verify_chains().ok


@pytest.mark.postgres
def test_postgresql_trigger_refuses_truncate(world):
    make_referral(world, "sent")
    with connection.cursor() as cursor:
        flush_deferred_checks(cursor)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE workflows_journalevent CASCADE")
    assert JournalEvent.objects.exists()


# --- No personal values in the journal ------------------------------------------------------------------------
def test_events_never_contain_personal_values(world):
    adviser = world.a.adviser
    identity = {
        "first_name": "Zéphyrine",
        "last_name": "Kowalczyk",
        "email": "zephyrine.k@example.net",
        "phone": "0612345678",
        "commune": "Pierrefitte-sur-Seine",
        "postcode": "93380",
        "imilo_reference": "IMILO-778899",
    }
    participant = participants.participant_create(
        actor=adviser, data={**identity, "birth_date": years_ago(22), "qualification_level": "level_3"}
    )
    new_identity = {
        "first_name": "Zéphyrine-Anaïs",
        "last_name": "Kowalczyk-Obi",
        "email": "z.kowalczyk-obi@example.net",
        "phone": "0798765432",
    }
    participants.participant_update(actor=adviser, participant=participant, changes=new_identity)
    pathway = participant.pathways.get()
    call_service("pathway.submit_eligibility", adviser, pathway)
    call_service("pathway.validate_eligibility", world.a.facilitator, pathway)
    make_referral(world, "hired", pathway=pathway)
    record_follow_up(world, pathway, note="Zéphyrine Kowalczyk-Obi va bien")

    events = JournalEvent.objects.filter(participant_id=participant.pk)
    assert events.count() >= 10
    update = events.get(object_type="participant", action="update")
    assert update.inputs == {"fields": sorted(new_identity)}
    created = events.get(object_type="participant", action="create")
    assert "last_name" in created.inputs["fields"]

    secrets = [
        *identity.values(),
        *new_identity.values(),
        "Zéphyrine",
        "Kowalczyk",
        str(participant.birth_date),
        participant.birth_date.strftime("%d/%m/%Y"),
    ]
    for event in JournalEvent.objects.all():
        text = json.dumps(event.inputs, ensure_ascii=False) + " " + event.reason
        for secret in secrets:
            assert secret.lower() not in text.lower(), (event, secret)


def test_an_unchanged_update_writes_no_event(world):
    participant = make_pathway(world, "intake").participant
    before = JournalEvent.objects.count()
    participants.participant_update(
        actor=world.a.adviser, participant=participant, changes={"commune": participant.commune}
    )
    assert JournalEvent.objects.count() == before


# --- Access log ---------------------------------------------------------------------------------------------------
def test_reading_a_participant_file_is_logged(world):
    participant = make_pathway(world, "eligibility_pending").participant
    facilitator = world.a.facilitator
    access = log_participant_access(actor=facilitator, participant_id=participant.pk)
    assert ParticipantAccess.objects.get() == access
    assert (access.user, access.organisation, access.role) == (facilitator.user, world.a.facilitation, "facilitator")
    assert (access.participant_id, access.channel, access.purpose) == (participant.pk, AccessChannel.PAGE, "view")

    export = log_participant_access(
        actor=world.a.auditor, participant_id=participant.pk, channel=AccessChannel.EXPORT, purpose="export"
    )
    assert export.channel == "export" and export.role == "auditor"
    assert ParticipantAccess.objects.filter(participant_id=participant.pk).count() == 2


def test_the_system_reading_is_not_an_access(world):
    participant = make_pathway(world, "intake").participant
    assert log_participant_access(actor=Actor.system(), participant_id=participant.pk) is None
    assert log_participant_access(actor=None, participant_id=participant.pk) is None
    assert not ParticipantAccess.objects.exists()


def test_system_events_are_recorded_as_such(world):
    referral = make_referral(world, "expired")
    event = JournalEvent.objects.get(object_type="referral", object_id=referral.pk, action="expire")
    assert (event.actor_user, event.actor_organisation, event.actor_role) == (None, None, "system")
    # The pathway went back to eligible, by the system too.
    back = JournalEvent.objects.get(
        object_type="pathway", action="return_to_eligible", participant_id=referral.pathway.participant_id
    )
    assert back.actor_role == "system" and back.inputs == {"referral": referral.pk}


def test_record_event_appends_to_its_own_object_chain(world):
    actor = world.a.adviser
    first = record_event(actor=actor, object_type="pathway", object_id=999_999, action="note")
    second = record_event(actor=actor, object_type="pathway", object_id=999_999, action="note", reason="r")
    other = record_event(actor=actor, object_type="referral", object_id=999_999, action="note")
    assert (first.sequence, second.sequence, other.sequence) == (1, 2, 1)
    assert second.previous_hash == first.hash and other.previous_hash == ""

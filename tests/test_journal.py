"""The audit journal: keyed chains, checkpoints, the append-only triggers, the case data agreeing with the journal —
each tampering of the list in docs/audit.md detected or refused, on SQLite and on PostgreSQL — and no personal
values in events."""

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from parcours.audit import verify_journal
from parcours.models import Referral
from parcours.services import participants
from parcours.services.common import lock
from tests.factories import (
    call_service,
    last_month,
    make_hours_line,
    make_pathway,
    make_referral,
    placements,
    record_follow_up,
    reload,
    years_ago,
)
from workflows import append_only, engine, journal, keys
from workflows.journal import (
    checkpoint_document,
    compute_hash,
    event_payload,
    read_checkpoint_file,
    record_event,
    take_checkpoint,
    verify,
)
from workflows.models import JournalCheckpoint, JournalEvent, JournalReason

pytestmark = pytest.mark.django_db


def busy_journal(world):
    """Events on every kind of object: a story up to locked hours, an adjustment and a follow-up."""
    line = make_hours_line(world, "locked")
    placement = line.placement
    placements.hours_declare(
        actor=world.a.employer_actor, placement=placement, month=last_month(), hours=-3, is_adjustment=True
    )
    make_referral(world, "refused")
    make_pathway(world, "exited")
    call_service("placement.end", world.a.employer_actor, placement)
    record_follow_up(world, placement.pathway)
    return line


def tamper(sql, params=()):
    """Alter the journal behind the application's back, as its database owner would: lift the triggers, write,
    put them back (on PostgreSQL inside the test's transaction, rolled back with it)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no ALTER TABLE with pending trigger events
        append_only.remove(connection)
        cursor.execute(sql, params)
        append_only.install(connection)
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def run_verify_journal(*files):
    """Run the command; return (exit code, everything it said)."""
    out, err = StringIO(), StringIO()
    args = [f"--checkpoint={f}" for f in files]
    try:
        call_command("verify_journal", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + err.getvalue() + str(exc)
    return 0, out.getvalue() + err.getvalue()


def delete_events(where, params=()):
    """Delete events as the database owner would, with what points at them (task closings, reasons, audiences)."""
    ids = f"(SELECT id FROM workflows_journalevent WHERE {where})"
    tamper(f"UPDATE workflows_worktask SET closing_event_id = NULL WHERE closing_event_id IN {ids}", params)
    tamper(f"DELETE FROM workflows_journalreason WHERE event_id IN {ids}", params)
    tamper(f"DELETE FROM parcours_eventaudience WHERE event_id IN {ids}", params)
    tamper(f"DELETE FROM workflows_journalevent WHERE {where}", params)


def problems_text(result):
    return " | ".join(text for _, text in result.problems)


def chain(object_type, object_id):
    return list(JournalEvent.objects.filter(object_type=object_type, object_id=object_id).order_by("sequence"))


def forge(event, **changes):
    """An event rewritten with `changes` and sealed again with the real key (an attacker holding the key)."""
    for name, value in changes.items():
        setattr(event, name, value)
    event.hash = compute_hash(event)
    return event


def reseal_chain(events):
    """Recompute the links and digests of a whole chain after an edit (an attacker holding the key)."""
    previous = ""
    for event in events:
        event.previous_hash = previous
        event.hash = compute_hash(event)
        previous = event.hash
    return events


def write_chain(events):
    for event in events:
        tamper(
            "UPDATE workflows_journalevent SET inputs = %s, previous_hash = %s, hash = %s WHERE id = %s",
            [json.dumps(event.inputs), event.previous_hash, event.hash, event.pk],
        )


# --- The untouched journal verifies ---------------------------------------------------------------------------
def test_chains_verify_after_a_full_story(world):
    busy_journal(world)
    result = verify_journal()
    assert result.ok, problems_text(result)
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


def test_each_event_links_to_the_previous_one_of_its_object_and_is_keyed(world):
    referral = make_referral(world, "hired")
    events = chain("referral", referral.pk)
    assert [e.action for e in events] == ["create", "start_review", "approve", "forward", "accept", "hire"]
    assert [e.sequence for e in events] == list(range(1, 7))
    assert events[0].previous_hash == ""
    for previous, event in zip(events, events[1:], strict=False):
        assert event.previous_hash == previous.hash
    assert {e.key_id for e in events} == {keys.current_key_id()}
    # The digest is an HMAC with the journal key: the same payload under another key gives another digest.
    with override_settings(JOURNAL_KEYS={events[0].key_id: b"another secret of at least thirty-two chars"}):
        assert compute_hash(events[0]) != events[0].hash


def test_a_transition_appends_its_event_after_the_tail_read_with_the_locked_row(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements as the ORM writes them
    referral = make_referral(world, "sent")
    with CaptureQueriesContext(connection) as captured:
        call_service("referral.start_review", world.a.facilitator, referral)
    tail_reads = [q["sql"] for q in captured if q["sql"].startswith('SELECT "workflows_journalevent"."sequence"')]
    assert tail_reads == []  # the locked read carried it
    # Two transitions of the same row in one transaction: the second reads the tail the first left.
    with transaction.atomic():
        locked = lock(Referral, referral.pk, actor=world.a.facilitator)
        engine.fire(locked, "approve", actor=world.a.facilitator)
        engine.fire(locked, "forward", actor=world.a.facilitator)
    events = chain("referral", referral.pk)
    assert [e.action for e in events] == ["create", "start_review", "approve", "forward"]
    assert [e.sequence for e in events] == [1, 2, 3, 4]
    assert all(event.previous_hash == previous.hash for previous, event in zip(events, events[1:], strict=False))
    assert verify_journal().ok


def test_the_pathway_a_hire_or_a_placement_end_moves_comes_with_its_tail(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    referral = make_referral(world, "accepted")
    employer = world.a.employer_actor

    def tail_reads(captured):
        return [q for q in captured if q["sql"].startswith('SELECT "workflows_journalevent"."sequence"')]

    with CaptureQueriesContext(connection) as captured:
        placement = call_service("referral.hire", employer, referral)
    assert tail_reads(captured) == []  # the referral's and the pathway's came with their locked rows
    call_service("placement.start", employer, placement)
    with CaptureQueriesContext(connection) as captured:
        call_service("placement.end", employer, placement)
    assert tail_reads(captured) == []
    events = chain("pathway", referral.pathway_id)
    assert [e.action for e in events][-2:] == ["place", "start_follow_up"]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert verify_journal().ok


def test_the_chain_of_an_object_created_in_the_transaction_starts_without_reading_a_tail(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    data = {"first_name": "Lou", "last_name": "Neuve", "birth_date": years_ago(20), "qualification_level": "level_3"}
    data.update(postcode="69001", commune="Lyon")
    with CaptureQueriesContext(connection) as captured:
        participant = participants.participant_create(actor=world.a.adviser, data=data)
    tail_reads = [q["sql"] for q in captured if q["sql"].startswith('SELECT "workflows_journalevent"."sequence"')]
    assert tail_reads == []
    pathway = participant.pathways.get()
    for object_type, object_id in (("participant", participant.pk), ("pathway", pathway.pk)):
        [created] = chain(object_type, object_id)
        assert (created.action, created.sequence, created.previous_hash) == ("create", 1, "")
    call_service("pathway.submit_eligibility", world.a.adviser, pathway, criteria=["QPV_RESIDENT"])
    assert [e.sequence for e in chain("pathway", pathway.pk)] == [1, 2]
    assert verify_journal().ok


# --- Refused by the database ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE workflows_journalevent SET action = 'refuse' WHERE id = %s",
        "DELETE FROM workflows_journalevent WHERE id = %s",
        "UPDATE workflows_journalreason SET text = 'autre motif' WHERE event_id = %s",
        "DELETE FROM workflows_journalreason WHERE event_id = %s",
        "DELETE FROM workflows_journalcheckpoint WHERE id >= %s",
        "UPDATE workflows_journalcheckpoint SET event_count = 0 WHERE id >= %s",
    ],
    ids=["event-update", "event-delete", "reason-rewrite", "reason-delete", "checkpoint-delete", "checkpoint-update"],
)
def test_the_database_refuses_to_change_the_journal(world, sql):
    referral = make_referral(world, "declined")
    take_checkpoint(write_file=False)
    event = chain("referral", referral.pk)[-1]
    assert event.reason
    with pytest.raises(DatabaseError, match="append-only|only erases"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, [event.pk if "checkpoint" not in sql else 0])
    assert reload(event).reason == event.reason
    assert JournalCheckpoint.objects.count() == 1
    assert verify_journal().ok


def test_the_orm_cannot_change_the_journal_either(world):
    event = chain("referral", make_referral(world, "approved").pk)[-1]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        JournalEvent.objects.filter(pk=event.pk).update(action="refuse")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        JournalEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.postgres
def test_postgresql_refuses_truncate(world):
    make_referral(world, "sent")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE workflows_journalevent CASCADE")
    assert JournalEvent.objects.exists()


def test_reasons_may_only_be_erased(world):
    referral = make_referral(world, "declined")
    event = chain("referral", referral.pk)[-1]
    with transaction.atomic():
        assert JournalReason.objects.filter(pk=event.pk).update(text="", erased_at="2026-01-01T00:00:00Z") == 1
    assert reload(event).reason_erased


# --- Detected by verify_journal: the tampering table of docs/audit.md -----------------------------------------
def test_forged_append_without_the_key_is_detected(world):
    referral = make_referral(world, "hired")
    last = chain("referral", referral.pk)[-1]
    forged = JournalEvent(**{f.attname: getattr(last, f.attname) for f in JournalEvent._meta.concrete_fields})
    forged.pk = None
    forged.sequence, forged.previous_hash = last.sequence + 1, last.hash
    forged.action, forged.from_state, forged.to_state = "refuse", "hired", "refused"
    # A digest computed without the key (plain SHA-256, or HMAC with a guessed key): INSERT is allowed, it is
    # append-only, but verification refuses it.
    import hashlib

    forged.hash = hashlib.sha256(keys.canonical(event_payload(forged))).hexdigest()
    forged.save(force_insert=True)
    result = verify_journal()
    assert not result.ok
    assert result.broken_event_id == forged.pk
    assert "forgé" in problems_text(result)
    code, output = run_verify_journal()
    assert code == 1 and re.search(rf"(?<!\d){forged.pk}(?!\d)", output), output


def test_forged_append_with_the_key_contradicts_the_object_state(world):
    """Someone holding the key appends a valid-looking "refuse" to a hired referral: the chain holds, the case
    data does not (the referral is still hired)."""
    referral = make_referral(world, "hired")
    last = chain("referral", referral.pk)[-1]
    forged = JournalEvent(**{f.attname: getattr(last, f.attname) for f in JournalEvent._meta.concrete_fields})
    forged.pk = None
    forged.sequence, forged.previous_hash = last.sequence + 1, last.hash
    forge(forged, action="refuse", from_state="hired", to_state="refused")
    forged.save(force_insert=True)
    assert verify().ok  # the chains alone hold…
    result = verify_journal()
    assert not result.ok  # …the state does not
    assert f"referral #{referral.pk}" in problems_text(result) and "refused" in problems_text(result)


def test_tail_deletion_is_detected(world):
    referral = make_referral(world, "hired")
    events = chain("referral", referral.pk)
    delete_events("id IN (%s, %s)", [events[-1].pk, events[-2].pk])
    result = verify_journal()
    assert not result.ok
    assert f"referral #{referral.pk}" in problems_text(result) and "accepted" not in problems_text(result)


def test_tail_deletion_before_a_checkpoint_is_detected_even_when_the_state_is_rewound(world, tmp_path):
    """The attacker deletes the last events of a chain and sets the object's state back: only the checkpoint
    (taken before) still tells."""
    referral = make_referral(world, "accepted")
    checkpoint = take_checkpoint(directory=tmp_path)
    events = chain("referral", referral.pk)
    delete_events("id = %s", [events[-1].pk])
    tamper("UPDATE parcours_referral SET state = 'forwarded' WHERE id = %s", [referral.pk])
    assert verify().problems  # the database checkpoint
    file = next(tmp_path.glob("*.json"))
    tamper("DELETE FROM workflows_journalcheckpoint WHERE id = %s", [checkpoint.pk])
    assert verify().ok  # without any checkpoint the journal looks whole…
    result = verify_journal([read_checkpoint_file(file)])
    assert not result.ok  # …the file kept elsewhere does not agree
    assert "ne correspond plus" in problems_text(result)
    code, output = run_verify_journal(file)
    assert code == 1 and "ne correspond plus" in output


def test_whole_chain_deletion_is_detected(world):
    referral = make_referral(world, "forwarded")
    delete_events("object_type = 'referral' AND object_id = %s", [referral.pk])
    result = verify_journal()
    assert f"referral #{referral.pk} : aucun historique" in problems_text(result)


def test_participant_chain_deletion_is_detected(world):
    participant = make_pathway(world, "intake").participant
    delete_events("object_type = 'participant' AND object_id = %s", [participant.pk])
    assert f"participant #{participant.pk} : aucun historique" in problems_text(verify_journal())


def test_consistent_rewrite_with_the_key_is_caught_by_the_checkpoint(world, tmp_path):
    """An attacker holding the key rewrites an event's inputs and reseals the whole chain: every link holds, the
    states agree; the checkpoint (and its file) does not."""
    referral = make_referral(world, "hired")
    take_checkpoint(directory=tmp_path)
    events = chain("referral", referral.pk)
    hire = events[-1]
    hire.inputs = {**hire.inputs, "weekly_hours": 12}
    write_chain(reseal_chain(events))
    assert verify_journal([]).problems  # the database checkpoint
    assert not any("rang" in t or "forgé" in t for _, t in verify_journal().problems)  # chains hold
    tamper("DELETE FROM workflows_journalcheckpoint")
    assert verify_journal().ok
    file = next(tmp_path.glob("*.json"))
    assert "ne correspond plus" in problems_text(verify_journal([read_checkpoint_file(file)]))


def test_an_altered_event_breaks_its_chain(world):
    busy_journal(world)
    target = JournalEvent.objects.filter(object_type="referral", action="approve").order_by("pk").first()
    tamper("UPDATE workflows_journalevent SET actor_role = 'admin' WHERE id = %s", [target.pk])
    result = verify_journal()
    assert result.broken_event_id == target.pk and "modifié ou forgé" in problems_text(result)


def test_a_deleted_middle_event_breaks_the_chain_at_the_next_one(world):
    events = chain("referral", make_referral(world, "accepted").pk)
    delete_events("id = %s", [events[1].pk])
    result = verify_journal()
    assert result.broken_event_id == events[2].pk


def test_a_rewritten_reason_is_detected(world):
    event = chain("referral", make_referral(world, "refused").pk)[-1]
    tamper("UPDATE workflows_journalreason SET text = 'Motif réécrit' WHERE event_id = %s", [event.pk])
    assert "motif modifié" in problems_text(verify_journal())


def test_a_deleted_reason_is_detected(world):
    event = chain("referral", make_referral(world, "refused").pk)[-1]
    tamper("DELETE FROM workflows_journalreason WHERE event_id = %s", [event.pk])
    result = verify_journal()
    assert result.broken_event_id == event.pk and "motif supprimé" in problems_text(result)


def test_a_reason_added_to_an_event_that_sealed_none_is_detected(world):
    """The verifier looks reasons up only for the events that seal one; the others are found apart."""
    event = chain("referral", make_referral(world, "approved").pk)[-1]
    assert not event.reason_digest
    tamper("INSERT INTO workflows_journalreason (event_id, text) VALUES (%s, 'Motif ajouté')", [event.pk])
    result = verify_journal()
    assert result.broken_event_id == event.pk and "motif ajouté après coup" in problems_text(result)


def test_a_reason_erased_without_anonymisation_is_detected(world):
    referral = make_referral(world, "refused")
    event = chain("referral", referral.pk)[-1]
    JournalReason.objects.filter(pk=event.pk).update(text="", erased_at="2026-01-01T00:00:00Z")
    result = verify_journal()
    assert f"participant #{referral.pathway.participant_id} : motifs effacés sans anonymisation" in problems_text(
        result
    )


def test_a_disabled_or_dropped_trigger_is_reported(world):
    make_referral(world, "sent")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE workflows_journalevent DISABLE TRIGGER workflows_journalevent_no_update")
        else:
            cursor.execute("DROP TRIGGER workflows_journalevent_no_update")
    try:
        text = problems_text(verify_journal())
        assert "workflows_journalevent_no_update" in text
        assert ("désactivé" if connection.vendor == "postgresql" else "absent") in text
    finally:
        append_only.install(connection)
    assert verify_journal().ok


def test_an_event_sealed_with_an_unknown_key_is_reported(world):
    make_referral(world, "sent")
    with override_settings(JOURNAL_KEYS={"other": b"x" * 40}, JOURNAL_KEY_ID="other"):
        assert "clé de scellement inconnue" in problems_text(verify())


def test_key_rotation_keeps_older_events_verifiable(world, settings):
    old_id = keys.current_key_id()
    make_referral(world, "approved")
    settings.JOURNAL_KEYS = {"2027": b"k" * 48, old_id: settings.JOURNAL_KEYS[old_id]}
    settings.JOURNAL_KEY_ID = "2027"
    referral = make_referral(world, "forwarded")
    assert chain("referral", referral.pk)[-1].key_id == "2027"
    assert verify_journal().ok
    settings.JOURNAL_KEYS = {"2027": b"k" * 48}  # the old key dropped: its events cannot be checked any more
    assert "clé de scellement inconnue" in problems_text(verify_journal())


def test_a_checkpoint_sealed_with_a_dropped_key_is_unverifiable_not_forged(world, settings, tmp_path):
    old_id = keys.current_key_id()
    make_referral(world, "approved")
    take_checkpoint(directory=tmp_path)
    settings.JOURNAL_KEYS = {"2027": b"k" * 48}
    settings.JOURNAL_KEY_ID = "2027"
    text = problems_text(verify_journal([read_checkpoint_file(f) for f in tmp_path.glob("*.json")]))
    assert "point de contrôle en base du" in text and f"clé de scellement inconnue « {old_id} »" in text
    assert "signature invalide" not in text  # it read as a forgery


def test_the_command_counts_every_problem_beyond_those_it_lists(world, monkeypatch):
    make_referral(world, "forwarded")
    events = JournalEvent.objects.count()
    monkeypatch.setattr(journal, "MAX_PROBLEMS", 2)
    monkeypatch.setattr("parcours.management.commands.verify_journal.MAX_PROBLEMS", 2)
    tamper("UPDATE workflows_journalevent SET to_state = 'x'")
    code, said = run_verify_journal()
    assert code == 1 and said.count("✗") == 2
    found = re.search(r"Journal altéré : (\d+) problème\(s\) \(les 2 premiers listés\)", said)
    assert found and int(found.group(1)) >= events  # every event, and the states that no longer agree


@pytest.mark.parametrize("workers", ["0", "65", "100000"])
def test_the_command_refuses_a_number_of_processes_out_of_bounds(db, workers):
    with pytest.raises(CommandError, match="entre 1 et 64"):
        call_command("verify_journal", f"--workers={workers}")


# --- Checkpoints --------------------------------------------------------------------------------------------------
def test_checkpoints_continue_each_other_and_are_written_to_a_file(world, tmp_path):
    make_referral(world, "sent")
    first = take_checkpoint(directory=tmp_path)
    assert take_checkpoint(directory=tmp_path) is None  # nothing new
    make_referral(world, "approved")
    second = take_checkpoint(directory=tmp_path)
    assert second.event_count == JournalEvent.objects.count() > first.event_count
    assert second.last_event_id == JournalEvent.objects.order_by("-pk").first().pk
    files = sorted(tmp_path.glob("journal-checkpoint-*.json"))
    assert len(files) == 2
    assert read_checkpoint_file(files[-1]) == checkpoint_document(second)
    result = verify_journal([read_checkpoint_file(f) for f in files])
    assert result.ok and result.checkpoints == 4


def test_a_forged_checkpoint_file_is_refused(world, tmp_path):
    make_referral(world, "sent")
    take_checkpoint(directory=tmp_path)
    file = next(tmp_path.glob("*.json"))
    document = read_checkpoint_file(file)
    document["event_count"] += 1
    file.write_text(json.dumps(document))
    assert "signature invalide" in problems_text(verify_journal([read_checkpoint_file(file)]))


def test_a_json_file_that_is_no_checkpoint_is_said_so_not_reported_forged(world, tmp_path):
    other = tmp_path / "export.json"
    other.write_text('{"x": 1}')
    with pytest.raises(ValueError, match="n'est pas un point de contrôle du journal.*champs manquants"):
        read_checkpoint_file(other)
    code, said = run_verify_journal(other)
    assert code == 1 and "n'est pas un point de contrôle" in said and "signature invalide" not in said


def test_journal_checkpoint_command(world, tmp_path):
    make_referral(world, "sent")
    out = StringIO()
    call_command("journal_checkpoint", f"--output={tmp_path}", stdout=out, stderr=StringIO())
    document = json.loads(out.getvalue())
    assert document["event_count"] == JournalEvent.objects.count()
    assert document["signature"]
    code, output = run_verify_journal(*tmp_path.glob("*.json"))
    assert code == 0, output


def test_a_checkpoint_whose_file_cannot_be_written_is_not_sealed_and_force_rewrites_the_last(world, tmp_path):
    """Before: --output naming a file crashed after the row was saved (a checkpoint sealed in the database only,
    « nothing new » ever after), and --force with nothing new crashed on the unique last event."""
    make_referral(world, "sent")
    not_a_directory = tmp_path / "afile"
    not_a_directory.write_text("")
    before = JournalCheckpoint.objects.count()
    with pytest.raises(CommandError, match="Répertoire des points de contrôle inutilisable"):
        call_command("journal_checkpoint", f"--output={not_a_directory}", stdout=StringIO(), stderr=StringIO())
    assert JournalCheckpoint.objects.count() == before
    directory = tmp_path / "checkpoints"
    call_command("journal_checkpoint", f"--output={directory}", stdout=StringIO(), stderr=StringIO())
    (written,) = directory.glob("*.json")
    written.unlink()  # lost
    out, err = StringIO(), StringIO()
    call_command("journal_checkpoint", f"--output={directory}", stdout=out, stderr=err)
    assert "Aucun nouvel événement" in out.getvalue() and not list(directory.glob("*.json"))
    call_command("journal_checkpoint", f"--output={directory}", "--force", stdout=out, stderr=err)
    assert "réécrit" in err.getvalue() and JournalCheckpoint.objects.count() == before + 1
    (again,) = directory.glob("*.json")
    assert read_checkpoint_file(again) == checkpoint_document(JournalCheckpoint.objects.latest("last_event_id"))
    code, output = run_verify_journal(again)
    assert code == 0, output


def test_verify_journal_refuses_an_unreadable_checkpoint_file(world, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    code, output = run_verify_journal(bad)
    assert code == 1 and "illisible" in output


# --- No personal values in the journal ------------------------------------------------------------------------
def test_events_never_contain_personal_values_nor_health_criteria(world):
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
    call_service("pathway.submit_eligibility", adviser, pathway, criteria=["DISABLED_WORKER", "QPV_RESIDENT"])
    call_service("pathway.validate_eligibility", world.a.facilitator, pathway)
    make_referral(world, "hired", pathway=pathway)
    record_follow_up(world, pathway, note="Zéphyrine Kowalczyk-Obi va bien")

    events = JournalEvent.objects.filter(participant_id=participant.pk)
    assert events.count() >= 10
    update = events.get(object_type="participant", action="update")
    assert update.inputs == {"fields": sorted(new_identity)}
    submitted = events.get(object_type="pathway", action="submit_eligibility")
    assert submitted.inputs["criteria_count"] == 2 and "criteria" not in submitted.inputs
    assert submitted.inputs["assessment"] == pathway.assessments.get().pk

    secrets = [
        *identity.values(),
        *new_identity.values(),
        "Zéphyrine",
        "Kowalczyk",
        "DISABLED_WORKER",
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


def test_reasons_live_beside_the_event_sealed_by_their_digest(world):
    referral = make_referral(world, "declined")
    event = chain("referral", referral.pk)[-1]
    record = JournalReason.objects.get(pk=event.pk)
    assert event.reason == record.text == referral.decision_reason
    assert event.reason_digest == keys.seal_text(event.key_id, record.text)


def test_system_events_are_recorded_as_such(world):
    referral = make_referral(world, "expired")
    event = JournalEvent.objects.get(object_type="referral", object_id=referral.pk, action="expire")
    assert (event.actor_user, event.actor_organisation, event.actor_role) == (None, None, "system")
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


# --- The verifier's fast read path --------------------------------------------------------------------------------
AWKWARD_TEXTS = [
    "tab\there",
    "two\nlines\r\nand a return",
    "back\\slash and \\N and \\t written out",
    'quotes " and \' and {"json": [1]}',
    "accents é à ç œ, emoji 🙂, nul-ish \x01\x1f\x7f",
    "",
]


@pytest.mark.parametrize("text", AWKWARD_TEXTS)
def test_reasons_and_inputs_with_awkward_characters_verify(world, text):
    """Reasons and inputs come back through COPY's text format on PostgreSQL (escapes, NULLs): every character
    must be read back as written, or the seals would not match."""
    actor = world.a.adviser
    record_event(
        actor=actor,
        object_type="pathway",
        object_id=888_888,
        action="note",
        reason=text or "motif",
        inputs={"note": text, "nested": {"b": [text, None, 1.5, True], "a": text}, text or "empty": 2},
    )
    record_event(actor=actor, object_type="pathway", object_id=888_888, action="note", inputs={text: None})
    result = verify()
    assert result.ok, result.problems
    assert result.events == JournalEvent.objects.count()


def test_a_reason_with_awkward_characters_rewritten_is_detected(world):
    event = record_event(
        actor=world.a.adviser, object_type="pathway", object_id=888_889, action="note", reason="a\tb\\c\nd"
    )
    tamper("UPDATE workflows_journalreason SET text = %s WHERE event_id = %s", ["a\tb\\c\nD", event.pk])
    assert "motif modifié" in problems_text(verify())


def test_events_without_actor_nor_participant_verify_and_their_forgery_is_found(world):
    """NULL numbers are sealed as JSON null: read back as such, and a NULL set afterwards breaks the seal."""
    event = record_event(actor=world.a.adviser, object_type="pathway", object_id=888_890, action="note")
    assert event.participant_id is None
    assert verify().ok
    tamper("UPDATE workflows_journalevent SET actor_user_id = NULL WHERE id = %s", [event.pk])
    result = verify()
    assert result.broken_event_id == event.pk and "modifié ou forgé" in problems_text(result)


def test_repeated_inputs_verify_and_a_swap_between_them_is_detected(world):
    """The verifier re-encodes each distinct input once (a cache): repeated inputs verify, and an event given
    another event's inputs, already seen, still breaks its seal."""
    actor = world.a.adviser
    events = [
        record_event(actor=actor, object_type="pathway", object_id=888_891, action="note", inputs={"month": month})
        for month in ["2026-01", "2026-02", "2026-01", "2026-02"]
    ]
    assert verify().ok
    tamper(
        "UPDATE workflows_journalevent SET inputs = %s WHERE id = %s", [json.dumps({"month": "2026-01"}), events[3].pk]
    )
    result = verify()
    assert result.broken_event_id == events[3].pk and "modifié ou forgé" in problems_text(result)


def test_an_intake_writes_both_first_events_in_one_statement(world, settings):
    """The participant's and the pathway's first events go in one INSERT with the Mission Locale's grants (one round
    trip on PostgreSQL): each opens its chain (sequence 1, no previous hash), each hash is its own, the chains
    verify."""
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    data = {
        "first_name": "Awa",
        "last_name": "Traoré",
        "birth_date": years_ago(19),
        "postcode": "69001",
        "commune": "Lyon",
        "qualification_level": "infra_3",
    }
    with CaptureQueriesContext(connection) as captured:
        participant = participants.participant_create(actor=world.a.adviser, data=data)
    pathway = participant.pathways.get()
    events = list(
        JournalEvent.objects.filter(participant_id=participant.pk, action="create").order_by("pk")
    )
    assert [(e.object_type, e.object_id, e.sequence, e.previous_hash) for e in events] == [
        ("participant", participant.pk, 1, ""),
        ("pathway", pathway.pk, 1, ""),
    ]
    assert all(e.hash == compute_hash(e) for e in events) and events[0].hash != events[1].hash
    inserts = [q["sql"] for q in captured if 'INSERT INTO "workflows_journalevent"' in q["sql"]]
    both = [sql for sql in inserts if sql.count("'create'") == 2 or sql.count("), (") >= 1]
    assert len(both) == 1, inserts
    if connection.vendor == "postgresql":
        assert "participantgroupobjectpermission" in both[0]  # the grants, in the same statement
    assert verify().ok

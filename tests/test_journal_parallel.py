"""`verify_journal --workers N` on PostgreSQL: the chains verified in N processes agree with one process — the same
counts on a whole journal, the same problems on a tampered one."""

import pytest
from django.db import connection

from parcours.audit import verify_journal
from tests.factories import World, make_hours_line, make_pathway, make_referral
from workflows import append_only
from workflows.models import JournalEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(transactional_db):
    """A committed world: the verifying processes read it through their own connections."""
    return World.build()


def summary(result):
    return result.events, result.chains, sorted(result.problems, key=lambda p: (p[0] is None, p[0] or 0, p[1]))


def test_parallel_verification_agrees_with_one_process(world):
    make_hours_line(world, "locked")
    make_referral(world, "refused")
    make_pathway(world, "exited")
    one, four = verify_journal(workers=1), verify_journal(workers=4)
    assert one.ok and four.ok, (one.problems, four.problems)
    assert one.events > 50 and summary(one) == summary(four)


def test_parallel_verification_finds_a_forged_event(world):
    make_referral(world, "refused")
    event = JournalEvent.objects.filter(object_type="referral").order_by("-pk").first()
    with connection.cursor() as cursor:
        append_only.remove(connection)
        try:
            cursor.execute("UPDATE workflows_journalevent SET to_state = 'accepted' WHERE id = %s", [event.pk])
        finally:
            append_only.install(connection)
    one, three = verify_journal(workers=1), verify_journal(workers=3)
    assert one.broken_event_id == event.pk == three.broken_event_id
    assert summary(one) == summary(three)


def test_parallel_verification_finds_reasons_deleted_or_added(world):
    make_referral(world, "refused")
    make_referral(world, "approved")
    refused = JournalEvent.objects.filter(object_type="referral").exclude(reason_digest="").order_by("-pk").first()
    silent = JournalEvent.objects.filter(object_type="referral", reason_digest="").order_by("-pk").first()
    with connection.cursor() as cursor:
        append_only.remove(connection)
        try:
            cursor.execute("DELETE FROM workflows_journalreason WHERE event_id = %s", [refused.pk])
            cursor.execute(
                "INSERT INTO workflows_journalreason (event_id, text) VALUES (%s, 'Motif ajouté')", [silent.pk]
            )
        finally:
            append_only.install(connection)
    one, two = verify_journal(workers=1), verify_journal(workers=2)
    texts = " | ".join(text for _, text in two.problems)
    assert "motif supprimé" in texts and "motif ajouté après coup" in texts
    assert summary(one) == summary(two)

"""A referral and a placement carry their pathway's participant (migration 0037): the Mission Locale's scope goes
through it (Referral.SCOPE_PATHS, Placement.SCOPE_PATHS), and a participant's file reads its referrals and placements
by it. The services write it with the row, the migration copies it from the pathways, and the database refuses any
other: a foreign key (pathway, participant) on PostgreSQL, triggers on SQLite (parcours.participant_copy). Runs on
SQLite and on PostgreSQL."""

import importlib

import pytest
from django.db import IntegrityError, connection, transaction

from parcours import participant_copy, selectors
from parcours.models import Placement, Referral
from roles import policy
from roles.enums import Role
from tests.factories import World, make_placement, make_referral

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("parcours.migrations.0037_participant_copied")


def _refused(model):
    """The refusal of a copy that is not the pathway's: PostgreSQL's key, SQLite's trigger."""
    return MIGRATION.KEYS[model._meta.db_table] if connection.vendor == "postgresql" else participant_copy.REFUSED


def _give_another_participant(model, row, participant_id):
    """What no service writes. The database refuses it: its key or triggers dropped first, inside the test's
    transaction (rolled back with it)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred checks of the rows just written, first
            for table, key in MIGRATION.KEYS.items():
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {key}")
        else:
            for statement in participant_copy.SQLITE_DROP:
                cursor.execute(statement)
    model.objects.filter(pk=row.pk).update(participant_id=participant_id)


@pytest.fixture
def world(db):
    return World.build()


def test_a_referral_and_its_placement_carry_their_pathways_participant(world):
    placement = make_placement(world)
    placement.refresh_from_db()
    referral = Referral.objects.get(pk=placement.referral_id)
    participant_id = placement.pathway.participant_id
    assert referral.participant_id == placement.participant_id == participant_id
    assert referral.journal_participant_id == placement.journal_participant_id == participant_id


def test_the_mission_locales_scope_reads_the_copy(world):
    """The copy is what the scope reads: a referral given the other side's young person changes Mission Locale. (The
    services never write that: this shows the column is the one that must be right, and the migration sets it.)"""
    mine, theirs = make_referral(world, side="a"), make_referral(world, side="b")
    a, b = world.actor(Role.ADVISER, "a"), world.actor(Role.ADVISER, "b")
    assert list(selectors.referrals_for(a).filter(pk__in=[mine.pk, theirs.pk])) == [mine]
    assert policy.allows(a, "referral.view", mine) and not policy.allows(a, "referral.view", theirs)
    _give_another_participant(Referral, mine, theirs.participant_id)
    assert not selectors.referrals_for(a).filter(pk=mine.pk).exists()
    assert selectors.referrals_for(b).filter(pk=mine.pk).exists()
    assert not policy.allows(a, "referral.view", Referral.objects.get(pk=mine.pk))


def test_a_participants_file_lists_the_referrals_and_placements_carrying_its_participant(world):
    first, second = make_placement(world, side="a"), make_placement(world, side="a")
    adviser = world.actor(Role.ADVISER, "a")
    one, two = first.participant_id, second.participant_id
    assert [r.pk for r in selectors.participant_referrals(adviser, one)] == [first.referral_id]
    assert [p.pk for p in selectors.participant_placements(adviser, one)] == [first.pk]
    # Read by the copy: given the second young person, the first's referral and placement move to the second's file.
    _give_another_participant(Referral, first.referral, two)
    _give_another_participant(Placement, first, two)
    assert selectors.participant_referrals(adviser, one) == []
    assert selectors.participant_placements(adviser, one) == []
    assert {r.pk for r in selectors.participant_referrals(adviser, two)} == {first.referral_id, second.referral_id}
    assert {p.pk for p in selectors.participant_placements(adviser, two)} == {first.pk, second.pk}


def test_the_migration_copies_every_pathways_participant(world):
    placement = make_placement(world, side="a")
    other = make_placement(world, side="b")
    _give_another_participant(Referral, placement.referral, other.participant_id)
    _give_another_participant(Placement, placement, other.participant_id)
    with connection.cursor() as cursor:
        for statement in MIGRATION.COPY:
            cursor.execute(statement)
    for model in (Referral, Placement):
        rows = model.objects.select_related("pathway")
        assert len(rows) == 2 and all(row.participant_id == row.pathway.participant_id for row in rows)


def test_the_database_refuses_a_copy_that_is_not_the_pathways(world):
    placement = make_placement(world, side="a")
    other = make_referral(world, side="b")
    for model, row in ((Referral, placement.referral), (Placement, placement)):
        with pytest.raises(IntegrityError, match=_refused(model)), transaction.atomic():
            model.objects.filter(pk=row.pk).update(participant_id=other.participant_id)
        # Nor moved to another pathway without its participant.
        with pytest.raises(IntegrityError, match=_refused(model)), transaction.atomic():
            model.objects.filter(pk=row.pk).update(pathway_id=other.pathway_id)
    placement.refresh_from_db()
    assert placement.participant_id == placement.pathway.participant_id
    # A new referral too: its pathway's participant or nothing.
    with pytest.raises(IntegrityError, match=_refused(Referral)), transaction.atomic():
        Referral.objects.create(
            pathway=placement.pathway,
            participant_id=other.participant_id,
            offer=other.offer,
            sent_by=other.sent_by,
            state="sent",
        )

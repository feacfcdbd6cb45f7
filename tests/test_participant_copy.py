"""A referral and a placement carry their pathway's participant (migration 0037): the Mission Locale's scope goes
through it (Referral.SCOPE_PATHS, Placement.SCOPE_PATHS), and a participant's file reads its referrals and placements
by it. The services write it with the row, the migration copies it from the pathways, and on PostgreSQL a foreign key
(pathway, participant) refuses any other. Runs on SQLite and on PostgreSQL."""

import importlib

import pytest
from django.db import IntegrityError, connection, transaction

from parcours import selectors
from parcours.models import Placement, Referral
from roles import policy
from roles.enums import Role
from tests.factories import World, make_placement, make_referral

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("parcours.migrations.0037_participant_copied")


def _give_another_participant(model, row, participant_id):
    """What no service writes. PostgreSQL's key refuses it: dropped first, inside the test's transaction (rolled back
    with it)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred checks of the rows just written, first
            for table, key in MIGRATION.KEYS.items():
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {key}")
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


def test_a_participants_file_lists_its_own_referrals_and_placements(world):
    placement = make_placement(world, side="a")
    other = make_placement(world, side="b")
    adviser = world.actor(Role.ADVISER, "a")
    participant_id = placement.pathway.participant_id
    assert [r.pk for r in selectors.participant_referrals(adviser, participant_id)] == [placement.referral_id]
    assert [p.pk for p in selectors.participant_placements(adviser, participant_id)] == [placement.pk]
    assert selectors.participant_placements(adviser, other.pathway.participant_id) == []


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


@pytest.mark.postgres
def test_postgresql_refuses_a_copy_that_is_not_the_pathways(world):
    placement = make_placement(world, side="a")
    other = make_referral(world, side="b")
    for model, row in ((Referral, placement.referral), (Placement, placement)):
        key = MIGRATION.KEYS[model._meta.db_table]
        with pytest.raises(IntegrityError, match=key), transaction.atomic():
            model.objects.filter(pk=row.pk).update(participant_id=other.participant_id)
    placement.refresh_from_db()
    assert placement.participant_id == placement.pathway.participant_id
    # A new referral too: its pathway's participant or nothing.
    with pytest.raises(IntegrityError, match=MIGRATION.KEYS["parcours_referral"]), transaction.atomic():
        Referral.objects.create(
            pathway=placement.pathway,
            participant_id=other.participant_id,
            offer=other.offer,
            sent_by=other.sent_by,
            state="sent",
        )

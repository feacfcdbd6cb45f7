"""An hours line carries its placement's lot (migration 0026): a facilitator's, a buyer's and a policy check's scope
go through it (HoursLine.SCOPE_PATHS). It is written with the line, and the migration's backfill sets it from the
placement on existing rows. Runs on SQLite and on PostgreSQL."""

import importlib

import pytest
from django.db import connection

from parcours import selectors
from parcours.models import HoursLine
from roles import policy
from roles.enums import Role
from tests.factories import World, make_hours_line

pytestmark = pytest.mark.django_db

BACKFILL = importlib.import_module("parcours.migrations.0026_hoursline_lot").BACKFILL


@pytest.fixture
def world(db):
    return World.build()


def test_a_declared_line_carries_its_placements_lot(world):
    line = make_hours_line(world)
    line.refresh_from_db()
    assert line.lot_id == line.placement.lot_id == world.a.lot.pk


def test_the_facilitators_lines_are_those_of_their_lots(world):
    mine, theirs = make_hours_line(world, side="a"), make_hours_line(world, side="b")
    facilitator = world.actor(Role.FACILITATOR, "a")
    listed = list(selectors.hours_lines_to_validate(actor=facilitator, states=["declared"]))
    assert mine in listed and theirs not in listed
    assert policy.allows(facilitator, "hoursline.validate", mine)
    assert not policy.allows(facilitator, "hoursline.validate", theirs)
    other = world.actor(Role.FACILITATOR, "b")
    assert list(selectors.hours_lines_to_validate(actor=other, states=["declared"])) == [theirs]


def test_the_scope_reads_the_lines_own_lot(world):
    """The lot on the line is what the scope reads: a line pointing at the other side's lot changes hands. (The
    services never write that: this shows the column is the one that must be right, and the backfill below sets it.)"""
    line = make_hours_line(world, side="a")
    HoursLine.objects.filter(pk=line.pk).update(lot=world.b.lot)
    a, b = world.actor(Role.FACILITATOR, "a"), world.actor(Role.FACILITATOR, "b")
    assert not selectors.hours_lines_to_validate(actor=a).filter(pk=line.pk).exists()
    assert selectors.hours_lines_to_validate(actor=b).filter(pk=line.pk).exists()


def test_the_backfill_sets_every_line_to_its_placements_lot(world):
    lines = [make_hours_line(world, side="a"), make_hours_line(world, side="b")]
    HoursLine.objects.filter(pk=lines[0].pk).update(lot=world.b.lot)
    HoursLine.objects.filter(pk=lines[1].pk).update(lot=world.a.lot)
    with connection.cursor() as cursor:
        cursor.execute(BACKFILL)
    assert {line.pk: line.lot_id for line in HoursLine.objects.select_related("placement")} == {
        lines[0].pk: world.a.lot.pk,
        lines[1].pk: world.b.lot.pk,
    }
    assert all(line.lot_id == line.placement.lot_id for line in HoursLine.objects.select_related("placement"))

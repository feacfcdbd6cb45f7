"""An hours line carries its placement's lot (migration 0026): a facilitator's, a buyer's and a policy check's scope
go through it (HoursLine.SCOPE_PATHS). It is written with the line, the migration's backfill sets it from the
placement on existing rows, and on PostgreSQL a foreign key (placement, lot) refuses any other (migration 0028).
Runs on SQLite and on PostgreSQL."""

import importlib

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction

from parcours import selectors
from parcours.models import HoursLine
from roles import policy
from roles.enums import Role
from tests.factories import World, make_hours_line

pytestmark = pytest.mark.django_db

BACKFILL = importlib.import_module("parcours.migrations.0026_hoursline_lot").BACKFILL
KEY = importlib.import_module("parcours.migrations.0028_hoursline_lot_of_its_placement").CONSTRAINT


def _give_the_line_another_lot(line, lot):
    """What no service writes. PostgreSQL's key refuses it: dropped first, inside the test's transaction (rolled back
    with it)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred checks of the rows just written, first
            cursor.execute(f"ALTER TABLE parcours_hoursline DROP CONSTRAINT IF EXISTS {KEY}")
    HoursLine.objects.filter(pk=line.pk).update(lot=lot)


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
    _give_the_line_another_lot(line, world.b.lot)
    a, b = world.actor(Role.FACILITATOR, "a"), world.actor(Role.FACILITATOR, "b")
    assert not selectors.hours_lines_to_validate(actor=a).filter(pk=line.pk).exists()
    assert selectors.hours_lines_to_validate(actor=b).filter(pk=line.pk).exists()


def test_the_backfill_sets_every_line_to_its_placements_lot(world):
    lines = [make_hours_line(world, side="a"), make_hours_line(world, side="b")]
    _give_the_line_another_lot(lines[0], world.b.lot)
    _give_the_line_another_lot(lines[1], world.a.lot)
    with connection.cursor() as cursor:
        cursor.execute(BACKFILL)
    assert {line.pk: line.lot_id for line in HoursLine.objects.select_related("placement")} == {
        lines[0].pk: world.a.lot.pk,
        lines[1].pk: world.b.lot.pk,
    }
    assert all(line.lot_id == line.placement.lot_id for line in HoursLine.objects.select_related("placement"))


@pytest.mark.postgres
def test_postgresql_refuses_a_line_whose_lot_is_not_its_placements(world):
    line = make_hours_line(world, side="a")
    with pytest.raises(IntegrityError, match=KEY), transaction.atomic():
        HoursLine.objects.filter(pk=line.pk).update(lot=world.b.lot)
    line.refresh_from_db()
    assert line.lot_id == world.a.lot.pk
    # A new line too: the placement's lot or nothing.
    with pytest.raises(IntegrityError, match=KEY), transaction.atomic():
        HoursLine.objects.create(
            placement=line.placement,
            lot=world.b.lot,
            month=line.month,
            hours=line.hours,
            is_adjustment=True,
            declared_by=line.declared_by,
        )


def test_the_admin_filters_hours_lines_on_their_lot(world, client):
    mine, theirs = make_hours_line(world, side="a"), make_hours_line(world, side="b")
    client.force_login(get_user_model().objects.create_superuser("admin.heures", "admin@example.org", "x" * 16))
    response = client.get("/admin/parcours/hoursline/", {"lot__id__exact": world.a.lot.pk})
    assert response.status_code == 200
    shown = {row.pk for row in response.context["cl"].result_list}
    assert mine.pk in shown and theirs.pk not in shown
    assert f"lot__id__exact={world.b.lot.pk}" in response.content.decode()  # the side filter offers the lots

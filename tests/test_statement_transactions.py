"""A monthly statement outside any enclosing transaction, as a request calls it: all or nothing, its row locks held.

Apart from tests/test_statements.py, whose world is built once per module inside a transaction that stays open: a
test that commits cannot share its connection."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from parcours.models import HoursLine
from parcours.services import statements
from parcours.services.statements import StatementRow
from tests.factories import World, make_lot, make_offer, make_placement

D = datetime.date


def at(day: datetime.date, hour=10):
    moment = timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))
    return time_machine.travel(moment, tick=False)


@pytest.mark.django_db(transaction=True)
def test_a_statement_is_all_or_nothing_in_a_transaction_of_its_own(monkeypatch):
    """Called outside any enclosing transaction, as a request calls it: the lines it wrote go if a later step fails,
    and its row locks hold (PostgreSQL refuses `FOR UPDATE` outside a transaction). Its `@transaction.atomic` was
    lost once, and every test ran inside the test case's own transaction."""
    world = World.build()
    with at(D(2026, 1, 5)):
        lot = make_lot(world.a, starts_on=D(2026, 1, 1), ends_on=D(2026, 12, 31))
        offer = make_offer(world.a, lot=lot, positions=20)
    with at(D(2026, 3, 2)):
        placement = make_placement(world, "active", offer=offer, start_date=D(2026, 3, 2), weekly_hours=35)
    rows = [StatementRow(placement=placement.pk, hours="70", row=1)]

    def fails(*args, **kwargs):
        raise RuntimeError("after the lines were written")

    with at(D(2026, 4, 3)):
        with monkeypatch.context() as patched:
            patched.setattr(statements, "_journal_statement", fails)
            with pytest.raises(RuntimeError):
                submit(world, lot, rows)
        assert not HoursLine.objects.filter(placement__lot=lot).exists()
        submit(world, lot, rows)
    assert HoursLine.objects.get(placement__lot=lot).hours == Decimal("70")


def submit(world, lot, rows):
    return statements.statement_submit(
        actor=world.a.employer_actor, lot=lot, month=D(2026, 3, 1), rows=rows, today=D(2026, 4, 3)
    )

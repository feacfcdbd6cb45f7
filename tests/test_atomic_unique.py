"""`atomic_unique` reports a unique key's race as the service's DomainError, the block rolled back and the caller's
transaction usable (it raised TransactionManagementError before: a failed `save()` marks the transaction for
rollback, and a bare savepoint could not be rolled back to), and lets any other integrity error go on: a broken
check or foreign key is a defect, not a duplicate. On SQLite and on PostgreSQL."""

import pytest
from django.db import IntegrityError, transaction

from parcours.models import HoursLine
from parcours.services.common import atomic_unique
from tests.factories import World, make_hours_line
from workflows.errors import DomainError

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return World.build()


def _line_like(line, **changes):
    fields = {
        "placement": line.placement,
        "lot_id": line.lot_id,
        "month": line.month,
        "hours": line.hours,
        "is_adjustment": False,
        "declared_by": line.declared_by,
    }
    return HoursLine(**{**fields, **changes})


def test_a_unique_keys_race_is_the_services_error(world):
    line = make_hours_line(world)
    with transaction.atomic():  # as in a service
        with pytest.raises(DomainError) as raised:
            with atomic_unique("duplicate_hours_line", "Les heures de ce mois ont déjà été déclarées."):
                _line_like(line).save()  # the same placement and month: hoursline_one_regular_line_per_month
        assert raised.value.code == "duplicate_hours_line"
        # The service's transaction goes on after the refused block.
        assert HoursLine.objects.filter(placement=line.placement).count() == 1


def test_another_integrity_error_is_not_called_a_duplicate(world):
    line = make_hours_line(world)
    with pytest.raises(IntegrityError, match="hoursline_positive_unless_adjustment"), transaction.atomic():
        with atomic_unique("duplicate_hours_line", "Les heures de ce mois ont déjà été déclarées."):
            _line_like(line, month=line.month.replace(year=line.month.year - 1), hours=0).save()
    assert HoursLine.objects.filter(placement=line.placement).count() == 1

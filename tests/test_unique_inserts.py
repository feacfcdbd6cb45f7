"""`insert_row_unless_duplicate` (roles.rows): a race lost on a unique key is a False the service turns into its
DomainError, nothing written and the service's transaction usable; any other integrity error goes on (a broken check
or foreign key is a defect, not a duplicate). On PostgreSQL one statement, `INSERT … ON CONFLICT DO NOTHING
RETURNING`, where the savepoint it replaces cost two round trips more; on SQLite the savepoint. On both databases."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from parcours.models import HoursLine
from roles.rows import insert_row_unless_duplicate
from tests.factories import World, make_hours_line

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


def test_a_unique_keys_race_writes_nothing_and_the_transaction_goes_on(world):
    line = make_hours_line(world)
    with transaction.atomic():  # as in a service
        twin = _line_like(line)  # the same placement and month: hoursline_one_regular_line_per_month
        with CaptureQueriesContext(connection) as queries:
            assert insert_row_unless_duplicate(twin) is False
        assert twin.pk is None and twin._state.adding
        # The service's transaction goes on after the refused insert.
        assert HoursLine.objects.filter(placement=line.placement).count() == 1
    texts = [q["sql"] for q in queries]
    if connection.vendor == "postgresql":
        assert len(texts) == 1 and "SAVEPOINT" not in texts[0], texts
    else:
        assert any(t.startswith("SAVEPOINT") for t in texts) and any("ROLLBACK TO SAVEPOINT" in t for t in texts)


def test_a_new_row_is_inserted_with_its_id(world):
    line = make_hours_line(world)
    other_month = _line_like(line, month=line.month.replace(year=line.month.year - 1))
    with transaction.atomic():
        assert insert_row_unless_duplicate(other_month) is True
    assert other_month.pk is not None and not other_month._state.adding
    assert HoursLine.objects.get(pk=other_month.pk).month == other_month.month


def test_another_integrity_error_is_not_called_a_duplicate(world):
    line = make_hours_line(world)
    with pytest.raises(IntegrityError, match="hoursline_positive_unless_adjustment"), transaction.atomic():
        insert_row_unless_duplicate(_line_like(line, month=line.month.replace(year=line.month.year - 1), hours=0))
    assert HoursLine.objects.filter(placement=line.placement).count() == 1


def test_a_row_whose_id_is_given_keeps_it(world):
    line = make_hours_line(world)
    given = _line_like(line, month=line.month.replace(year=line.month.year - 2))
    given.pk = line.pk + 1000
    with transaction.atomic():
        assert insert_row_unless_duplicate(given) is True
    assert HoursLine.objects.get(pk=line.pk + 1000).month == given.month


@pytest.mark.parametrize("clash", ["identity", "imilo_reference"])
def test_an_intake_that_loses_its_race_is_refused_by_the_key_it_broke(world, clash, settings):
    """A participant's insert (parcours.services.participants._insert_unique), its derived columns computed as its
    save() would: a race lost on the identity key or on the i-milo reference is refused with that key's message,
    nothing written, the transaction usable; on PostgreSQL one statement, no savepoint."""
    from parcours.models import Participant
    from parcours.services import participants
    from workflows.errors import DomainError

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statement's text, not EXECUTE
    agency = world.a.youth_agency
    first = Participant.objects.create(
        first_name="Inès",
        last_name="Benali",
        birth_date=datetime.date(2005, 3, 1),
        postcode="93200",
        commune="Saint-Denis",
        youth_agency=agency,
        referent_adviser=world.a.adviser.user,
        imilo_reference="ML-1",
    )
    other = {"identity": ("INES", "BEN-ALI", "ML-2"), "imilo_reference": ("Lou", "Martin", "ML-1")}[clash]
    racer = Participant(
        first_name=other[0],
        last_name=other[1],
        birth_date=first.birth_date,
        postcode="93200",
        commune="Saint-Denis",
        youth_agency=agency,
        referent_adviser=world.a.adviser.user,
        imilo_reference=other[2],
    )
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries, pytest.raises(DomainError) as refused:
            participants._insert_unique(racer)
        assert Participant.objects.filter(youth_agency=agency).count() == 1  # the transaction goes on
    assert (
        refused.value.code
        == {"identity": "duplicate_participant", "imilo_reference": "duplicate_imilo_reference"}[clash]
    )
    if connection.vendor == "postgresql":
        assert "SAVEPOINT" not in queries[0]["sql"] and "ON CONFLICT DO NOTHING" in queries[0]["sql"]
    fresh = Participant(
        first_name="Léa", last_name="Roux", birth_date=first.birth_date, postcode="93200", commune="Saint-Denis"
    )
    fresh.youth_agency, fresh.referent_adviser = agency, world.a.adviser.user
    participants._insert_unique(fresh)
    saved = Participant.objects.get(pk=fresh.pk)
    assert saved.identity_key and saved.search_text and saved.current_state == ""

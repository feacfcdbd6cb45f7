"""The task lists and the employer's lists choose a page's ids on the rows alone, then join those rows
(parcours.web.common.IdsFirstPaginator): every page must hold the same rows, in the same order, as Django's own
paginator."""

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from parcours.web.common import IdsFirstPaginator
from roles.models import Organisation
from tests.factories import OrganisationFactory


@pytest.mark.parametrize(("per_page", "orphans"), [(3, 0), (4, 1), (25, 0)])
def test_every_page_holds_what_django_paginator_holds(db, per_page, orphans):
    for n in range(11):
        OrganisationFactory(name=f"Structure {n % 4}-{n}")
    rows = Organisation.objects.select_related("group").order_by("-name", "pk")
    plain, ids_first = Paginator(rows, per_page, orphans=orphans), IdsFirstPaginator(rows, per_page, orphans=orphans)
    assert ids_first.num_pages == plain.num_pages
    for number in plain.page_range:
        expected = [o.pk for o in plain.page(number).object_list]
        page = ids_first.page(number)
        assert [o.pk for o in page.object_list] == expected
        assert (page.start_index(), page.end_index()) == (
            plain.page(number).start_index(),
            plain.page(number).end_index(),
        )


def test_an_empty_list_has_one_empty_page(db):
    page = IdsFirstPaginator(Organisation.objects.none().order_by("pk"), 10).get_page(1)
    assert list(page.object_list) == [] and page.number == 1


@pytest.mark.parametrize("few_rows", [0, 5, 500])
def test_the_pages_are_the_same_whichever_way_the_ids_are_chosen(db, monkeypatch, few_rows):
    # At most FEW_ROWS rows: on PostgreSQL the ids are read unordered, then sorted by id (one statement either way).
    monkeypatch.setattr(IdsFirstPaginator, "FEW_ROWS", few_rows)
    for n in range(11):
        OrganisationFactory(name=f"Structure {n % 3}-{n}")
    rows = Organisation.objects.order_by("name", "-pk")
    plain, ids_first = Paginator(rows, 4), IdsFirstPaginator(rows, 4)
    for number in plain.page_range:
        assert [o.pk for o in ids_first.page(number).object_list] == [o.pk for o in plain.page(number).object_list]


@pytest.mark.postgres
@pytest.mark.parametrize(("few_rows", "unordered_first"), [(5, False), (11, True)])
def test_a_short_list_takes_its_ids_from_all_its_rows(db, monkeypatch, few_rows, unordered_first):
    monkeypatch.setattr(IdsFirstPaginator, "FEW_ROWS", few_rows)
    for n in range(11):
        OrganisationFactory(name=f"Structure {n}")
    with CaptureQueriesContext(connection) as ctx:
        page = IdsFirstPaginator(Organisation.objects.order_by("-name", "pk"), 4).page(2)
        assert len(page.object_list) == 4
    ids_statement = ctx.captured_queries[-2]["sql"]
    assert ("= ANY(ARRAY(" in ids_statement) is unordered_first, ids_statement


def test_a_short_list_is_shorter_than_the_homes_count_cap():
    # A home's count stops at HOME_COUNT_CAP: only a count below it is exact, and a short list must be all there.
    from parcours.web.pages import HOME_COUNT_CAP

    assert IdsFirstPaginator.FEW_ROWS < HOME_COUNT_CAP

"""The task lists and the employer's lists choose a page's ids on the rows alone, then join those rows
(parcours.web.common.IdsFirstPaginator): every page must hold the same rows, in the same order, as Django's own
paginator."""

import pytest
from django.core.paginator import Paginator

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

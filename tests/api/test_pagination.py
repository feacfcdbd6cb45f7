"""Cursor pages choose their rows on the keys alone, then read those rows (parcours.api.pagination): walking a list
page by page, forwards and back, must give every row once, in the list's order, with what the list shows."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from parcours.api import pagination
from parcours.selectors import journal
from parcours.services import pathways, referrals
from roles.enums import Role
from tests.api.conftest import advance, client_for


def walk(client, url, direction="next"):
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append(body["results"])
        url = body[direction]
    return pages


@pytest.mark.parametrize("few_rows", [0, 500])  # 0: never among all rows (parcours.api.pagination._among_few)
@pytest.mark.parametrize("resource", ["pathways", "referrals", "participants"])
def test_walking_the_pages_gives_every_row_once_in_order(api_world, resource, few_rows, monkeypatch):
    monkeypatch.setattr(pagination, "FEW_ROWS", few_rows)
    for index in range(4):
        advance(api_world.a, "referred", first_name=f"Jeune{index}")
    advance(api_world.b, "referred", first_name="Ailleurs")
    client = client_for(api_world.a.users[Role.ADVISER])
    whole = client.get(f"/api/v1/{resource}/?page_size=200").json()
    assert whole["next"] is None and len(whole["results"]) >= 4
    ids = [row["id"] for row in whole["results"]]
    assert ids == sorted(ids, reverse=True)
    pages = walk(client, f"/api/v1/{resource}/?page_size=2")
    assert [len(page) for page in pages[:-1]] == [2] * (len(pages) - 1)
    assert [row for page in pages for row in page] == whole["results"]  # the same rows, fields and order
    last = client.get(f"/api/v1/{resource}/?page_size=2").json()
    while last["next"]:
        last = client.get(last["next"]).json()
    back = walk(client, last["previous"], "previous")
    assert [row["id"] for page in reversed(back) for row in page] + [r["id"] for r in last["results"]] == ids


def test_an_employer_pages_through_only_its_candidates(story):
    """The grant-scoped list (the case ids-first is for): the other territory's referrals never appear."""
    employer = client_for(story.a.users[Role.EMPLOYER])
    seen = [row["id"] for page in walk(employer, "/api/v1/referrals/?page_size=1") for row in page]
    theirs = {story.b.objects["referral"].pk, story.b.objects["referral2"].pk}
    assert seen and not set(seen) & theirs
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen))


def test_history_pages_run_oldest_first(story):
    adviser = client_for(story.a.users[Role.ADVISER])
    pathway = story.a.objects["pathway"]
    whole = adviser.get(f"/api/v1/pathways/{pathway.pk}/history/?page_size=200").json()["results"]
    pages = walk(adviser, f"/api/v1/pathways/{pathway.pk}/history/?page_size=1")
    assert len(whole) >= 3 and [event for page in pages for event in page] == whole


@pytest.mark.postgres
@pytest.mark.parametrize(("few_rows", "among_all"), [(1, False), (500, True)])
def test_a_short_list_is_paged_among_all_its_rows(api_world, monkeypatch, few_rows, among_all):
    """Up to FEW_ROWS rows, the page's keys are chosen among the list's rows read unordered: the planner's walk of the
    whole table in the list's order is for a large team."""
    monkeypatch.setattr(pagination, "FEW_ROWS", few_rows)
    for index in range(3):
        advance(api_world.a, "referred", first_name=f"Jeune{index}")
    client = client_for(api_world.a.users[Role.ADVISER])
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/api/v1/pathways/?page_size=2")
    assert response.status_code == 200 and len(response.json()["results"]) == 2
    keys = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "parcours_pathway"."id"')]
    assert keys and any("= ANY(ARRAY(" in sql for sql in keys) is among_all, keys


def test_a_participant_history_runs_in_the_order_things_happened(api_world):
    """A participant's history gathers the events of several objects, each numbered by its own `sequence`: paged by
    `sequence`, every object's first event came before any second one (a referral in May before the eligibility
    decided in April). Oldest first by date, then by id; events of the same instant, and an event recorded later
    but dated earlier, keep their place across pages, forwards and back."""
    side = api_world.a
    now = timezone.now()
    with time_machine.travel(now - datetime.timedelta(hours=1), tick=False):  # one instant: ties on the date
        objects = advance(side, "referred", first_name="Chronologie")
    referrals.referral_start_review(actor=side.actor(Role.FACILITATOR), referral=objects["referral"])
    with time_machine.travel(now - datetime.timedelta(hours=2), tick=False):  # recorded last, dated first
        pathways.pathway_mark_lost_contact(
            actor=side.actor(Role.ADVISER), pathway=objects["pathway"], reason="Injoignable."
        )
    client = client_for(side.users[Role.ADVISER])
    url = f"/api/v1/participants/{objects['participant'].pk}/history/"
    whole = client.get(f"{url}?page_size=200").json()
    assert whole["next"] is None
    expected = list(
        journal.participant_events(side.actor(Role.ADVISER), objects["participant"].pk).values_list("pk", flat=True)
    )
    assert [event["id"] for event in whole["results"]] == expected and len(expected) >= 6
    dates = [event["occurred_at"] for event in whole["results"]]
    assert dates == sorted(dates) and len(set(dates)) < len(dates)
    for size in (1, 2, 3):
        pages = walk(client, f"{url}?page_size={size}")
        assert [event for page in pages for event in page] == whole["results"]
        last = client.get(f"{url}?page_size={size}").json()
        while last["next"]:
            last = client.get(last["next"]).json()
        back = walk(client, last["previous"], "previous") if last["previous"] else []
        assert [e["id"] for page in reversed(back) for e in page] + [e["id"] for e in last["results"]] == expected

"""Cursor pages choose their rows on the keys alone, then read those rows (parcours.api.pagination): walking a list
page by page, forwards and back, must give every row once, in the list's order, with what the list shows."""

import pytest

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


@pytest.mark.parametrize("resource", ["pathways", "referrals", "participants"])
def test_walking_the_pages_gives_every_row_once_in_order(api_world, resource):
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

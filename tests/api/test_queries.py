"""Query-count discipline: a list costs the same number of queries whatever its length, and the bulk
`available_transitions` of lists say exactly what the engine says object by object."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from parcours.api.resources import STATEFUL
from parcours.services import pathways, referrals, register
from roles.enums import Role
from tests.api.conftest import CRITERION, STORY_STEPS, advance, client_for
from workflows import engine

LISTS = {
    Role.ADVISER: ["participants", "pathways", "referrals", "placements", "job-offers", "lots", "organisations"],
    Role.FACILITATOR: ["participants", "pathways", "referrals", "placements", "hours-lines", "job-offers", "lots"],
    Role.EMPLOYER: ["referrals", "placements", "hours-lines", "job-offers", "lots"],
    Role.AUDITOR: ["participants", "pathways", "referrals", "placements", "hours-lines", "lots"],
}


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries), len(response.json()) if isinstance(response.json(), list) else len(response.json()["results"])


@pytest.mark.parametrize("role", list(LISTS), ids=lambda r: r.value)
def test_list_queries_do_not_grow_with_the_number_of_rows(story, role):
    client = client_for(story.a.users[role])
    urls = [f"/api/v1/{name}/" for name in LISTS[role]]
    before = {url: count_queries(client, url) for url in urls}
    for index in range(3):
        advance(story.a, "active", first_name=f"Jeune{index}")
        register.offer_create(
            actor=story.a.actor(Role.FACILITATOR),
            lot=story.a.lot,
            title=f"Poste {index}",
            trade="Maçonnerie",
            contract_type="cdd",
            weekly_hours=35,
            location="Lyon",
        )
    after = {url: count_queries(client, url) for url in urls}
    for url in urls:
        (queries_before, rows_before), (queries_after, rows_after) = before[url], after[url]
        if url not in ("/api/v1/organisations/", "/api/v1/lots/"):
            assert rows_after > rows_before, url
        assert queries_after == queries_before, f"{url}: {queries_before} → {queries_after} queries"
        # token + memberships + the page's ids + its rows (+ the access-log insert, in a savepoint, for participants;
        # the organisations are one unpaginated list)
        expected = {"/api/v1/participants/": 7, "/api/v1/organisations/": 3}.get(url, 4)
        assert queries_after == expected, f"{url}: {queries_after} queries"


def test_bulk_available_transitions_match_the_engine(api_world):
    side = api_world.a
    for step in STORY_STEPS:
        advance(side, step, first_name=step)
    pending = advance(side, "intake", first_name="pending")["pathway"]
    pathways.pathway_submit_eligibility(actor=side.actor(Role.ADVISER), pathway=pending, criteria=[CRITERION])
    review = advance(side, "referred", first_name="review")["referral"]
    referrals.referral_start_review(actor=side.actor(Role.FACILITATOR), referral=review)
    actors = [s.actor(role) for s in (api_world.a, api_world.b) for role in Role if role in s.memberships]
    compared = 0
    for resource in STATEFUL:
        for actor in actors:
            objs = list(resource.queryset(actor))
            bulk = engine.available_for_rows(objs, actor, view_action=resource.view_action)
            for obj in objs:
                expected = [spec.name for spec in engine.available_transitions(obj, actor)]
                assert [spec.name for spec in bulk[obj.pk]] == expected, (resource.path, obj, actor)
                compared += 1
    assert compared > 50

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
    if url == "/api/v1/lots/":  # its counted hours: the first read after a change recounts the lot (kept figures)
        client.get(url)
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
        # + the access-log insert of the files the rows name, for pathways, referrals, placements and hours lines;
        # the organisations are one unpaginated list)
        naming = ("/api/v1/pathways/", "/api/v1/referrals/", "/api/v1/placements/", "/api/v1/hours-lines/")
        expected = {"/api/v1/participants/": 7, "/api/v1/organisations/": 3, **dict.fromkeys(naming, 5)}.get(url, 4)
        if url == "/api/v1/lots/" and role in (Role.FACILITATOR, Role.AUDITOR):
            expected += 2  # the lots whose bilans they follow, and their kept counted hours (selectors.lot_hours)
        if connection.vendor == "postgresql" and url != "/api/v1/organisations/":
            expected += 1  # the rows counted up to 501 first (parcours.api.pagination._among_few)
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


def test_guards_that_read_the_database_cost_one_statement_per_page(api_world):
    """validate_eligibility's guard reads the pending assessment and approve's the eligibility: for a list they are
    read for the whole page at once (Model.read_for_guards), so the page costs the same whatever the number of rows
    those guards are asked about, and answers as the guard asked row by row on a fresh row."""
    from parcours.models import EligibilityAssessment, Pathway, Referral
    from workflows import guards
    from workflows.errors import DomainError

    side = api_world.a
    adviser, facilitator = side.actor(Role.ADVISER), side.actor(Role.FACILITATOR)
    client = client_for(side.users[Role.FACILITATOR])
    urls = ["/api/v1/pathways/", "/api/v1/referrals/"]

    def grow(n, start):
        for index in range(start, start + n):
            pending = advance(side, "intake", first_name=f"Attente{index}")["pathway"]
            pathways.pathway_submit_eligibility(actor=adviser, pathway=pending, criteria=[CRITERION])
            review = advance(side, "referred", first_name=f"Examen{index}")["referral"]
            referrals.referral_start_review(actor=facilitator, referral=review)

    grow(1, 0)
    before = {url: count_queries(client, url) for url in urls}
    grow(3, 1)
    after = {url: count_queries(client, url) for url in urls}
    for url in urls:
        assert after[url][1] > before[url][1] and after[url][0] == before[url][0], (url, before[url], after[url])

    def offered(guard, obj):
        try:
            guard(obj, None)
        except DomainError:
            return False
        return True

    listed = {row["id"]: row for row in client.get("/api/v1/pathways/?page_size=200").json()["results"]}
    waiting = Pathway.objects.filter(pk__in=listed, state="eligibility_pending")
    assert waiting.count() == 4
    for pathway in waiting:
        names = [t["name"] for t in listed[pathway.pk]["available_transitions"]]
        assert "validate_eligibility" in names and offered(guards.assessment_submitted, pathway)
    listed = {row["id"]: row for row in client.get("/api/v1/referrals/?page_size=200").json()["results"]}
    reviewed = Referral.objects.filter(pk__in=listed, state="under_review").select_related("pathway", "offer")
    assert reviewed.count() == 4
    for referral in reviewed:
        names = [t["name"] for t in listed[referral.pk]["available_transitions"]]
        assert "approve" in names and offered(guards.eligibility_valid_today, referral)
    # A refusal read for the page is a refusal: the eligibility withdrawn, approve is no longer offered.
    EligibilityAssessment.objects.filter(participant_id=reviewed[0].pathway.participant_id).delete()
    listed = {row["id"]: row for row in client.get("/api/v1/referrals/?page_size=200").json()["results"]}
    assert "approve" not in [t["name"] for t in listed[reviewed[0].pk]["available_transitions"]]
    assert "approve" in [t["name"] for t in listed[reviewed[1].pk]["available_transitions"]]

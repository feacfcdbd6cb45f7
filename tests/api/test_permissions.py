"""The permission matrix through the API: role × resource × action × own/other organisation.

Each role of territory `a` acts on the objects of its own territory and on those of territory `b`: what it
may read (200, and present in lists), what is outside its scope (404, absent from lists, no existence leak),
what its role may never do (403), and the transitions it may or may not fire. Writes are rolled back, so every
cell starts from the same world.
"""

import pytest
from django.utils import timezone

from roles.enums import Role
from roles.models import Membership
from tests.api.conftest import assert_problem, client_for, rolled_back

TODAY = "{today}"  # filled when the request is made: a run crossing midnight would date the exit before the pathway

# Which object of a side each resource is tried on.
OBJECT = {
    "participants": "participant",
    "pathways": "pathway",
    "referrals": "referral2",  # forwarded to the employer, still open
    "placements": "placement",  # active
    "hours-lines": "hours_line",  # declared
    "job-offers": "offer",
    "lots": "lot",
}

# action → (method, url template, body); {id} is the object of OBJECT, {pathway}/{offer}/{lot} the side's.
ACTIONS = {
    ("participants", "list"): ("get", "/api/v1/participants/?page_size=200", None),
    ("participants", "read"): ("get", "/api/v1/participants/{id}/", None),
    ("participants", "history"): ("get", "/api/v1/participants/{id}/history/", None),
    ("participants", "update"): ("patch", "/api/v1/participants/{id}/", {"commune": "Lyon"}),
    ("pathways", "list"): ("get", "/api/v1/pathways/?page_size=200", None),
    ("pathways", "read"): ("get", "/api/v1/pathways/{id}/", None),
    ("pathways", "history"): ("get", "/api/v1/pathways/{id}/history/", None),
    ("pathways", "exit"): (
        "post",
        "/api/v1/pathways/{id}/transitions/exit/",
        {"exited_on": TODAY, "situation": "cdi"},
    ),
    ("pathways", "follow_up"): ("post", "/api/v1/pathways/{id}/follow-ups/", {"kind": "phone", "done_on": TODAY}),
    ("referrals", "list"): ("get", "/api/v1/referrals/?page_size=200", None),
    ("referrals", "read"): ("get", "/api/v1/referrals/{id}/", None),
    ("referrals", "history"): ("get", "/api/v1/referrals/{id}/history/", None),
    ("referrals", "accept"): ("post", "/api/v1/referrals/{id}/transitions/accept/", {}),
    ("referrals", "cancel"): ("post", "/api/v1/referrals/{id}/transitions/cancel/", {"reason": "Déménagement"}),
    ("referrals", "create"): ("post", "/api/v1/referrals/", {"pathway": "{pathway}", "offer": "{offer}"}),
    ("placements", "list"): ("get", "/api/v1/placements/?page_size=200", None),
    ("placements", "read"): ("get", "/api/v1/placements/{id}/", None),
    ("placements", "history"): ("get", "/api/v1/placements/{id}/history/", None),
    ("placements", "end"): (
        "post",
        "/api/v1/placements/{id}/transitions/end/",
        {"end_date": TODAY, "end_kind": "normal"},
    ),
    ("hours-lines", "list"): ("get", "/api/v1/hours-lines/?page_size=200", None),
    ("hours-lines", "read"): ("get", "/api/v1/hours-lines/{id}/", None),
    ("hours-lines", "history"): ("get", "/api/v1/hours-lines/{id}/history/", None),
    ("hours-lines", "validate"): ("post", "/api/v1/hours-lines/{id}/transitions/validate/", {}),
    ("job-offers", "list"): ("get", "/api/v1/job-offers/?page_size=200", None),
    ("job-offers", "read"): ("get", "/api/v1/job-offers/{id}/", None),
    ("job-offers", "close"): ("post", "/api/v1/job-offers/{id}/close/", {}),
    ("job-offers", "create"): (
        "post",
        "/api/v1/job-offers/",
        {
            "lot": "{lot}",
            "title": "Coffreur·se",
            "trade": "Coffrage",
            "contract_type": "cdd",
            "weekly_hours": 35,
            "location": "Lyon",
        },
    ),
    ("lots", "list"): ("get", "/api/v1/lots/?page_size=200", None),
    ("lots", "read"): ("get", "/api/v1/lots/{id}/", None),
    ("organisations", "read"): ("get", "/api/v1/organisations/{org}/", None),
}

# Expected outcome (own territory, other territory). Lists: "sees"/"hidden" (200) or 403.
S, H = "sees", "hidden"
# fmt: off
MATRIX = {
    Role.ADVISER: {
        ("participants", "list"): (S, H), ("participants", "read"): (200, 404),
        ("participants", "history"): (200, 404), ("participants", "update"): (200, 404),
        ("pathways", "list"): (S, H), ("pathways", "read"): (200, 404), ("pathways", "history"): (200, 404),
        ("pathways", "exit"): (200, 404), ("pathways", "follow_up"): (201, 404),
        ("referrals", "list"): (S, H), ("referrals", "read"): (200, 404), ("referrals", "history"): (200, 404),
        ("referrals", "accept"): (403, 404), ("referrals", "cancel"): (200, 404), ("referrals", "create"): (201, 404),
        ("placements", "list"): (S, H), ("placements", "read"): (200, 404),
        ("placements", "history"): (200, 404), ("placements", "end"): (403, 404),
        ("hours-lines", "list"): (403, 403), ("hours-lines", "read"): (403, 403),
        ("hours-lines", "history"): (403, 403), ("hours-lines", "validate"): (403, 403),
        ("job-offers", "list"): (S, H), ("job-offers", "read"): (200, 404), ("job-offers", "close"): (403, 404),
        ("job-offers", "create"): (403, 403),
        ("lots", "list"): (S, H), ("lots", "read"): (200, 404),
        ("organisations", "read"): (200, 404),
    },
    Role.FACILITATOR: {
        ("participants", "list"): (S, H), ("participants", "read"): (200, 404),
        ("participants", "history"): (200, 404), ("participants", "update"): (403, 404),
        ("pathways", "list"): (S, H), ("pathways", "read"): (200, 404), ("pathways", "history"): (200, 404),
        ("pathways", "exit"): (403, 404), ("pathways", "follow_up"): (201, 404),
        ("referrals", "list"): (S, H), ("referrals", "read"): (200, 404), ("referrals", "history"): (200, 404),
        ("referrals", "accept"): (403, 404), ("referrals", "cancel"): (403, 404), ("referrals", "create"): (403, 403),
        ("placements", "list"): (S, H), ("placements", "read"): (200, 404),
        ("placements", "history"): (200, 404), ("placements", "end"): (200, 404),
        ("hours-lines", "list"): (S, H), ("hours-lines", "read"): (200, 404),
        ("hours-lines", "history"): (200, 404), ("hours-lines", "validate"): (200, 404),
        ("job-offers", "list"): (S, H), ("job-offers", "read"): (200, 404), ("job-offers", "close"): (200, 404),
        ("job-offers", "create"): (201, 404),
        ("lots", "list"): (S, H), ("lots", "read"): (200, 404),
        ("organisations", "read"): (200, 404),
    },
    Role.EMPLOYER: {
        ("participants", "list"): (403, 403), ("participants", "read"): (403, 403),
        ("participants", "history"): (403, 403), ("participants", "update"): (403, 403),
        ("pathways", "list"): (403, 403), ("pathways", "read"): (403, 403), ("pathways", "history"): (403, 403),
        ("pathways", "exit"): (403, 403), ("pathways", "follow_up"): (403, 403),
        ("referrals", "list"): (S, H), ("referrals", "read"): (200, 404), ("referrals", "history"): (200, 404),
        ("referrals", "accept"): (200, 404), ("referrals", "cancel"): (403, 404), ("referrals", "create"): (403, 403),
        ("placements", "list"): (S, H), ("placements", "read"): (200, 404),
        ("placements", "history"): (200, 404), ("placements", "end"): (200, 404),
        ("hours-lines", "list"): (S, H), ("hours-lines", "read"): (200, 404),
        ("hours-lines", "history"): (200, 404), ("hours-lines", "validate"): (403, 404),
        ("job-offers", "list"): (S, H), ("job-offers", "read"): (200, 404), ("job-offers", "close"): (403, 404),
        ("job-offers", "create"): (403, 403),
        ("lots", "list"): (S, H), ("lots", "read"): (200, 404),
        ("organisations", "read"): (200, 404),
    },
    Role.AUDITOR: {
        ("participants", "list"): (S, H), ("participants", "read"): (200, 404),
        ("participants", "history"): (200, 404), ("participants", "update"): (403, 404),
        ("pathways", "list"): (S, H), ("pathways", "read"): (200, 404), ("pathways", "history"): (200, 404),
        ("pathways", "exit"): (403, 404), ("pathways", "follow_up"): (403, 404),
        ("referrals", "list"): (S, H), ("referrals", "read"): (200, 404), ("referrals", "history"): (200, 404),
        ("referrals", "accept"): (403, 404), ("referrals", "cancel"): (403, 404), ("referrals", "create"): (403, 403),
        ("placements", "list"): (S, H), ("placements", "read"): (200, 404),
        ("placements", "history"): (200, 404), ("placements", "end"): (403, 404),
        ("hours-lines", "list"): (S, H), ("hours-lines", "read"): (200, 404),
        ("hours-lines", "history"): (200, 404), ("hours-lines", "validate"): (403, 404),
        ("job-offers", "list"): (S, H), ("job-offers", "read"): (200, 404), ("job-offers", "close"): (403, 404),
        ("job-offers", "create"): (403, 403),
        ("lots", "list"): (S, H), ("lots", "read"): (200, 404),
        ("organisations", "read"): (200, 404),
    },
}
# fmt: on
ORG_OF_ROLE = {
    Role.ADVISER: "mission_locale",
    Role.FACILITATOR: "facilitation",
    Role.EMPLOYER: "employer",
    Role.AUDITOR: "buyer",
}


def _fill(value, side, role):
    ids = {
        "{pathway}": side.pathway.pk,
        "{offer}": side.offer.pk,
        "{lot}": side.lot.pk,
        "{today}": timezone.localdate().isoformat(),
    }
    if isinstance(value, dict):
        return {k: _fill(v, side, role) for k, v in value.items()}
    return ids.get(value, value)


def attempt(client, side, role, resource, action):
    method, url, body = ACTIONS[(resource, action)]
    obj = side.objects.get(OBJECT.get(resource, ""), None)
    url = url.format(id=getattr(obj, "pk", 0), org=side.orgs[ORG_OF_ROLE[role]].pk)
    call = getattr(client, method)
    response = rolled_back(
        lambda: call(url, _fill(body, side, role), format="json") if body is not None else call(url)
    )
    if action == "list" and response.status_code == 200:
        return S if obj.pk in [row["id"] for row in response.json()["results"]] else H
    if response.status_code >= 400:
        assert_problem(response, response.status_code)
    return response.status_code


@pytest.mark.parametrize("role", list(MATRIX), ids=lambda r: r.value)
def test_permission_matrix(story, role):
    own, other = story.a, story.b
    client = client_for(own.users[role])
    assert set(MATRIX[role]) == set(ACTIONS)
    mismatches = []
    for (resource, action), expected in MATRIX[role].items():
        for side, want in zip((own, other), expected, strict=True):
            got = attempt(client, side, role, resource, action)
            if got != want:
                mismatches.append(
                    f"{role.value} {action} {resource} ({'own' if side is own else 'other'}): {got} ≠ {want}"
                )
    assert not mismatches, "\n".join(mismatches)


def test_out_of_scope_is_indistinguishable_from_missing(story):
    client = client_for(story.a.users[Role.ADVISER])
    other = client.get(f"/api/v1/pathways/{story.b.pathway.pk}/")
    missing = client.get("/api/v1/pathways/999999999/")
    assert assert_problem(other, 404, "not_found")["detail"] == assert_problem(missing, 404, "not_found")["detail"]
    transition = client.post(f"/api/v1/pathways/{story.b.pathway.pk}/transitions/withdraw/", {"reason": "x"})
    assert_problem(transition, 404, "not_found")


def test_invalid_transition_from_current_state_is_409(story):
    client = client_for(story.a.users[Role.FACILITATOR])
    response = client.post(f"/api/v1/referrals/{story.a.referral.pk}/transitions/start_review/", {})
    body = assert_problem(response, 409, "invalid_transition")
    assert "Embauché" in body["detail"]


def test_a_role_that_never_takes_an_action_is_refused_it_whatever_the_state(story):
    """The referral is hired: start_review is out of its state. The facilitator (who reviews) is told the state
    moved on (409); the buyer's auditor and the adviser, who never review, were told 409 here and 403 on a referral
    still to review — now 403 on both, and nothing written."""
    url = f"/api/v1/referrals/{story.a.referral.pk}/transitions/start_review/"
    for role in (Role.AUDITOR, Role.ADVISER):
        assert_problem(client_for(story.a.users[role]).post(url, {}), 403, "forbidden")
    assert_problem(client_for(story.a.users[Role.FACILITATOR]).post(url, {}), 409, "invalid_transition")
    story.a.referral.refresh_from_db()
    assert story.a.referral.state == "hired"


def test_the_organisation_header_picks_one_of_several_memberships(story):
    user = story.a.users[Role.FACILITATOR]
    Membership.objects.create(user=user, organisation=story.b.orgs["facilitation"], role=Role.FACILITATOR)
    url = "/api/v1/pathways/?page_size=200"

    default = client_for(user).get(url).json()["results"]
    assert {p["id"] for p in default} == {story.a.pathway.pk}  # the first membership by name: PLIE A
    other = client_for(user, HTTP_X_ORGANISATION=str(story.b.orgs["facilitation"].pk)).get(url).json()["results"]
    assert {p["id"] for p in other} == {story.b.pathway.pk}

    organisations = client_for(user).get("/api/v1/organisations/").json()
    assert [(o["name"], o["is_current"]) for o in organisations] == [("PLIE A", True), ("PLIE B", False)]

    not_member = client_for(user, HTTP_X_ORGANISATION=str(story.b.orgs["employer"].pk)).get(url)
    assert_problem(not_member, 403, "not_a_member")
    malformed = client_for(user, HTTP_X_ORGANISATION="PLIE B").get(url)
    assert_problem(malformed, 400, "invalid_header")


def test_a_user_without_membership_is_403(story):
    from django.contrib.auth import get_user_model

    lonely = get_user_model().objects.create_user(username="seul", password="demo")
    assert_problem(client_for(lonely).get("/api/v1/pathways/"), 403, "no_membership")

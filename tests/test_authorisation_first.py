"""Authorisation before validation, and ids that do not fit a database integer.

Before this work an employer POSTing a participant got a 400 validation error (the body was read before the role was
checked), and so did an auditor firing a transition they may see but not take; `GET /travail/taches/<20 digits>/`
and the claim/assign/release URLs answered 500 on SQLite (integer overflow)."""

import pytest
from django.test import Client

from parcours.models import Participant
from parcours.work.models import WorkTask
from roles.enums import Role
from tests.factories import db_counts

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"  # > 2^64
JUST_OVER = str(2**63)  # one more than the largest BigAutoField


def client_of(actor):
    client = Client()
    client.force_login(actor.user)
    return client


def api_post(client, url, body):
    return client.post(url, body, content_type="application/json")


@pytest.mark.parametrize("role", [Role.EMPLOYER, Role.FACILITATOR, Role.AUDITOR, Role.DPO, Role.ADMIN])
def test_a_role_that_may_not_register_gets_403_whatever_it_sends(world, role):
    client = client_of(world.actor(role))
    counts = db_counts()
    for body in ({}, {"first_name": "\u200b", "birth_date": "1900-01-01", "unknown": 1}, []):
        response = api_post(client, "/api/v1/participants/", body)
        assert response.status_code == 403, (body, response.content)
        assert response.json()["code"] == "forbidden"
    assert db_counts() == counts and not Participant.objects.filter(first_name="\u200b").exists()


def test_the_adviser_who_may_register_gets_the_validation_errors(world):
    response = api_post(client_of(world.actor(Role.ADVISER)), "/api/v1/participants/", {})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("machine", "state", "name", "role"),
    [
        ("pathway", "placed", "exit", Role.AUDITOR),
        ("pathway", "placed", "exit", Role.FACILITATOR),
        ("referral", "forwarded", "refuse", Role.ADVISER),
        ("placement", "active", "end", Role.AUDITOR),
        ("hoursline", "declared", "reject", Role.EMPLOYER),
    ],
)
def test_a_transition_refused_to_the_role_is_403_before_its_inputs_are_read(world, made, machine, state, name, role):
    obj = made(machine, state)
    resource = {"pathway": "pathways", "referral": "referrals", "placement": "placements", "hoursline": "hours-lines"}
    client = client_of(world.actor(role))
    counts = db_counts()
    response = api_post(
        client,
        f"/api/v1/{resource[machine]}/{obj.pk}/transitions/{name}/",
        {"garbage": "x" * 5000},
    )
    assert response.status_code in (403, 404), response.content
    assert db_counts() == counts


def test_the_web_transition_page_refuses_before_reading_the_form(world, made):
    pathway = made("pathway", "placed")
    client = client_of(world.actor(Role.FACILITATOR))
    response = client.post(f"/actions/pathway/{pathway.pk}/exit/", {"exited_on": "not a date"})
    assert response.status_code == 403


def test_following_up_a_pathway_one_may_see_but_not_follow_is_403(world, made):
    pathway = made("pathway", "placed")
    client = client_of(world.actor(Role.AUDITOR))
    counts = db_counts()
    response = api_post(client, f"/api/v1/pathways/{pathway.pk}/follow-ups/", {"x": 1})
    assert response.status_code in (403, 404)
    assert db_counts() == counts


def test_assigning_a_task_outside_ones_scope_is_404_before_the_colleague_is_read(world, made):
    pathway = made("pathway", "intake")
    task = WorkTask.objects.filter(pathway=pathway).first()
    client = client_of(world.actor(Role.EMPLOYER))
    assert client.post(f"/travail/taches/{task.pk}/attribuer/", {"user": "not a user"}).status_code == 404
    assert client.post(f"/travail/taches/{task.pk}/reattribuer/", {}).status_code == 404


def test_bulk_assignment_by_someone_who_is_not_a_supervisor_is_403(world):
    client = client_of(world.actor(Role.ADVISER))
    assert client.post("/travail/repartir/", {"tasks": ["x"], "user": "y"}).status_code == 403


@pytest.mark.parametrize("number", [HUGE, JUST_OVER, "0", "1" + "0" * 40])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/travail/taches/{}/"),
        ("post", "/travail/taches/{}/prendre/"),
        ("post", "/travail/taches/{}/attribuer/"),
        ("post", "/travail/taches/{}/liberer/"),
        ("post", "/travail/taches/{}/reattribuer/"),
        ("get", "/participants/{}/"),
        ("get", "/actions/pathway/{}/exit/"),
        ("get", "/conseil/jeunes/{}/modifier/"),
    ],
)
def test_an_id_beyond_the_database_integer_is_a_404_not_a_500(world, method, path, number):
    client = client_of(world.actor(Role.ADVISER))
    client.raise_request_exception = False
    assert getattr(client, method)(path.format(number)).status_code == 404


@pytest.mark.parametrize("number", [HUGE, JUST_OVER])
def test_the_api_answers_a_problem_404_for_such_an_id(world, number):
    client = client_of(world.actor(Role.ADVISER))
    client.raise_request_exception = False
    for path in (f"/api/v1/participants/{number}/", f"/api/v1/pathways/{number}/transitions/exit/"):
        response = client.get(path) if "transitions" not in path else api_post(client, path, {})
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/problem+json")

"""What an integrator writing a client from the OpenAPI schema found: writes whose answer names a young person left
no access-log row, misspelt or repeated query parameters answered the whole list, a body of JSON `null` was told
in English, a day the calendar lacks was called a wrong format, no `Location` on a 201, a completed planned
follow-up answered 201, ids typed as strings in the schema."""

import datetime

import pytest

from parcours.models import FollowUp, ParticipantAccess, Pathway, Referral
from parcours.services import pathways
from roles.enums import Role
from tests.api.conftest import advance, assert_problem, client_for


# --- Writes whose answer names the young person --------------------------------------------------------------------
def test_a_write_whose_answer_names_the_young_person_is_a_logged_read(story):
    side = story.a
    eligible = advance(side, "eligible", first_name="Awa")["participant"]
    adviser, employer = client_for(side.users[Role.ADVISER]), client_for(side.users[Role.EMPLOYER])
    ParticipantAccess.objects.all().delete()

    pathway = eligible.pathways.get()
    created = adviser.post("/api/v1/referrals/", {"pathway": pathway.pk, "offer": side.offer2.pk}, format="json")
    assert created.status_code == 201, created.content
    assert created["Location"] == f"/api/v1/referrals/{created.json()['id']}/"
    accepted = employer.post(f"/api/v1/referrals/{side.referral2.pk}/transitions/accept/", {}, format="json")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["participant"]["last_name"] == side.participant.last_name  # the answer names them

    rows = ParticipantAccess.objects.order_by("pk")
    assert [(r.participant_id, r.channel, r.purpose, r.role) for r in rows] == [
        (eligible.pk, "api", "view", "adviser"),
        (side.participant.pk, "api", "view", "employer"),
    ]


def test_a_refused_write_is_still_no_read(story):
    employer = client_for(story.a.users[Role.EMPLOYER])
    ParticipantAccess.objects.all().delete()
    response = employer.post(f"/api/v1/referrals/{story.a.referral2.pk}/transitions/hire/", {}, format="json")
    assert response.status_code == 409  # not accepted yet
    assert not ParticipantAccess.objects.exists()


def test_a_follow_up_recorded_is_a_read_and_a_planned_one_completed_answers_200(story):
    adviser = client_for(story.a.users[Role.ADVISER])
    pathway = story.a.pathway
    url = f"/api/v1/pathways/{pathway.pk}/follow-ups/"
    ParticipantAccess.objects.all().delete()
    body = {"kind": "phone", "done_on": datetime.date.today().isoformat(), "note": "Point d'étape"}
    recorded = adviser.post(url, body, format="json")
    assert recorded.status_code == 201, recorded.content
    planned = FollowUp.objects.filter(pathway=pathway, done_on__isnull=True).order_by("due_on").first()
    completed = adviser.post(url, {**body, "planned_follow_up": planned.pk}, format="json")
    assert completed.status_code == 200, completed.content
    assert completed.json()["id"] == planned.pk
    assert list(ParticipantAccess.objects.values_list("participant_id", "channel")) == [
        (story.a.participant.pk, "api"),
        (story.a.participant.pk, "api"),
    ]


# --- Query parameters ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/pathways/?status=placed", "status"),
        ("/api/v1/pathways/?ordering=id", "ordering"),
        ("/api/v1/participants/?q=Martin", "q"),
        ("/api/v1/referrals/?page=2", "page"),
        ("/api/v1/pathways/{pathway}/history/?since=2026-01-01", "since"),
        ("/api/v1/pathways/{pathway}/follow-ups/?limit=5", "limit"),
    ],
)
def test_an_unknown_query_parameter_is_a_400_that_writes_nothing(story, url, name):
    adviser = client_for(story.a.users[Role.ADVISER])
    ParticipantAccess.objects.all().delete()
    body = assert_problem(adviser.get(url.format(pathway=story.a.pathway.pk)), 400, "invalid_input")
    assert body["errors"][0]["field"] == name
    assert f"« {name} »" in body["detail"] and "Paramètres acceptés" in body["detail"]
    assert not ParticipantAccess.objects.exists()


def test_a_one_value_filter_given_twice_is_a_400(story):
    facilitator = client_for(story.a.users[Role.FACILITATOR])
    body = assert_problem(facilitator.get("/api/v1/job-offers/?is_open=true&is_open=false"), 400, "invalid_input")
    assert body["errors"][0]["field"] == "is_open" and "qu'une valeur" in body["detail"]
    # A filter of several values still takes them all; the pagination's and `format` are known.
    both = facilitator.get("/api/v1/pathways/?state=placed&state=eligible&page_size=5&format=json")
    assert both.status_code == 200, both.content


# --- Bodies and values ---------------------------------------------------------------------------------------------
def test_a_body_of_json_null_is_told_in_french(story):
    facilitator = client_for(story.a.users[Role.FACILITATOR])
    pathway = advance(story.a, "intake", first_name="Nour")["pathway"]
    pathways.pathway_submit_eligibility(
        actor=story.a.actor(Role.ADVISER), pathway=pathway, criteria=["YOUTH_UNDER_26_LOW_QUALIFICATION"]
    )
    url = f"/api/v1/pathways/{pathway.pk}/transitions/validate_eligibility/"
    response = facilitator.post(url, "null", content_type="application/json")
    body = assert_problem(response, 400, "invalid_input")
    assert "No data provided" not in body["detail"] and "pas null" in body["detail"]
    assert Pathway.objects.get(pk=pathway.pk).state == "eligibility_pending"


@pytest.mark.parametrize("day", ["2026-02-31", "2026-02-29", "2026-13-01"])
def test_a_day_the_calendar_lacks_is_said_to_be_one(story, day):
    adviser = client_for(story.a.users[Role.ADVISER])
    url = f"/api/v1/pathways/{story.a.pathway.pk}/follow-ups/"
    body = assert_problem(adviser.post(url, {"kind": "phone", "done_on": day}, format="json"), 400, "invalid_input")
    assert body["errors"][0]["detail"] == f"Cette date n'existe pas : {day}."


@pytest.mark.parametrize(
    "day", ["07/12/2026", "2026-2-1", "20260201", "2026-W05-1", "2026-02-01T00:00", " 2026-02-01"]
)
def test_a_date_in_another_format_is_told_the_docs_format(story, day):
    """Python's fromisoformat reads "2026-2-1", "20260201" and the ISO week day "2026-W05-1": a slip recorded as
    some day (a contract ended on the wrong date), where the docs promise AAAA-MM-JJ."""
    adviser = client_for(story.a.users[Role.ADVISER])
    url = f"/api/v1/pathways/{story.a.pathway.pk}/follow-ups/"
    before = story.a.pathway.follow_ups.count()
    body = assert_problem(adviser.post(url, {"kind": "phone", "done_on": day}, format="json"), 400)
    assert "AAAA-MM-JJ" in body["errors"][0]["detail"]
    assert story.a.pathway.follow_ups.count() == before


def test_a_referral_on_a_pathway_left_says_to_reopen_it(story):
    adviser = client_for(story.a.users[Role.ADVISER])
    left = advance(story.a, "eligible", first_name="Sami")["pathway"]
    pathways.pathway_withdraw(actor=story.a.actor(Role.ADVISER), pathway=left, reason="Déménagement")
    referrals = Referral.objects.count()
    response = adviser.post("/api/v1/referrals/", {"pathway": left.pk, "offer": story.a.offer2.pk}, format="json")
    body = assert_problem(response, 409, "invalid_transition")
    assert "Rouvrez-le d'abord" in body["detail"] and "éligibilité" not in body["detail"]
    assert Referral.objects.count() == referrals


# --- The schema ----------------------------------------------------------------------------------------------------
def test_the_schema_types_ids_months_and_amounts_as_they_are_read(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    ids = [
        p["schema"]
        for item in schema["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        for p in operation.get("parameters", [])
        if p["in"] == "path" and p["name"] == "id"
    ]
    assert ids and all(s == {"type": "integer", "format": "int64", "minimum": 1} for s in ids)
    statement = schema["paths"]["/api/v1/lots/{id}/statements/{month}/"]["get"]
    [month] = [p for p in statement["parameters"] if p["name"] == "month"]
    assert month["schema"]["pattern"] == "^[0-9]{4}-[0-9]{2}$"
    hours = schema["components"]["schemas"]["HoursDeclareRequest"]["properties"]["hours"]
    assert [choice["type"] for choice in hours["oneOf"]] == ["number", "string"]

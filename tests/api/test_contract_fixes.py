"""API-contract defects found by an outside QA run: the schema and docs' error answers, the referent by username,
incremental sync (`updated_since`, If-None-Match), the decimals' shape, `Accept: application/problem+json`, Retry-After
on every 429, consistent query-integer messages and the response components' `required`."""

import datetime
import zoneinfo

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from parcours.api.throttling import TokenRateThrottle
from parcours.models import Participant, ParticipantAccess, Pathway, Referral
from parcours.services import pathways, referrals
from roles.enums import Role
from tests.api.conftest import advance, assert_problem, client_for
from tests.factories import MembershipFactory, UserFactory
from workflows.models import JournalEvent

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def bogus():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token bogus")
    return client


# --- 1. The schema and docs answer their errors as JSON problems ------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/", "/api/v1/docs/?script"])
def test_schema_and_docs_errors_are_json_problems(url):
    assert_problem(bogus().get(url), 401, "invalid_token")
    assert_problem(APIClient().get(url, HTTP_ACCEPT="application/xml"), 406, "not_acceptable")
    assert_problem(APIClient().post(url, {}, format="json"), 405, "method_not_allowed")
    separator = "&" if "?" in url else "?"
    assert_problem(APIClient().get(f"{url}{separator}format=xml"), 406, "not_acceptable")


@pytest.mark.django_db
def test_schema_and_docs_still_serve_their_success():
    client = APIClient()
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200 and response.content.startswith(b"openapi:")
    assert client.get("/api/v1/schema/?format=json").json()["openapi"]
    assert client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()["openapi"]
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    response = client.get("/api/v1/docs/?script")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/javascript")
    assert client.get("/api/v1/redoc/")["Content-Type"].startswith("text/html")


def test_a_throttled_schema_read_is_a_json_problem(api_world, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"user": "1/minute"})
    client = client_for(api_world.a.users[Role.ADVISER])
    assert client.get("/api/v1/schema/").status_code == 200
    response = client.get("/api/v1/schema/")
    assert_problem(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


# --- 2. The referent is named by username -------------------------------------------------------------------------
@pytest.fixture
def heir(story):
    user = UserFactory(username="lina.relais")
    MembershipFactory(user=user, organisation=story.a.orgs["mission_locale"], role=Role.ADVISER)
    return user


def test_the_referent_is_named_by_username(story, heir):
    participant = story.a.participant
    url = f"/api/v1/participants/{participant.pk}/referent/"
    adviser = client_for(story.a.users[Role.ADVISER])
    response = adviser.post(url, {"adviser": "lina.relais"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["referent_adviser"] == "lina.relais"
    assert Participant.objects.get(pk=participant.pk).referent_adviser_id == heir.pk


def test_a_refused_referent_is_one_answer_whoever_it_names(story, heir):
    participant = story.a.participant
    url = f"/api/v1/participants/{participant.pk}/referent/"
    adviser = client_for(story.a.users[Role.ADVISER])
    heir.is_active = False
    heir.save(update_fields=["is_active"])
    before = (ParticipantAccess.objects.count(), JournalEvent.objects.count())
    answers = set()
    for name in (
        "nobody.here",
        story.b.users[Role.ADVISER].username,
        story.a.users[Role.FACILITATOR].username,
        "lina.relais",
    ):
        body = assert_problem(adviser.post(url, {"adviser": name}, format="json"), 400, "invalid_referent")
        answers.add((body["detail"], tuple((e["field"], e["code"], e["detail"]) for e in body["errors"])))
    assert len(answers) == 1, answers
    for data in ({"adviser": heir.pk}, {"adviser": ""}, {"adviser": None}, {"adviser": "x" * 151}):
        assert_problem(adviser.post(url, data, format="json"), 400, "invalid_input")
    assert (ParticipantAccess.objects.count(), JournalEvent.objects.count()) == before


def test_the_schema_says_the_referent_is_a_username(story):
    schema = APIClient().get("/api/v1/schema/?format=json").json()
    field = schema["components"]["schemas"]["ReferentChangeRequest"]["properties"]["adviser"]
    assert field["type"] == "string"


# --- 3. Incremental sync ------------------------------------------------------------------------------------------
def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_transitions_bump_updated_at_of_pathways_and_referrals(story):
    pathway, referral = story.a.pathway, story.a.referral2
    old = (pathway.updated_at, referral.updated_at)
    referrals.referral_accept(actor=story.a.actor(Role.EMPLOYER), referral=referral)
    pathway.refresh_from_db()
    referral.refresh_from_db()
    assert referral.updated_at > old[1]
    other = advance(story.a, "intake", first_name="Noa")["pathway"]
    before = other.updated_at
    pathways.pathway_submit_eligibility(
        actor=story.a.actor(Role.ADVISER), pathway=other, criteria=["YOUTH_UNDER_26_LOW_QUALIFICATION"]
    )
    assert Pathway.objects.get(pk=other.pk).updated_at > before


@pytest.mark.parametrize("resource", ["pathways", "referrals"])
def test_updated_since_lists_what_changed(story, resource):
    facilitator = client_for(story.a.users[Role.FACILITATOR])
    everything = ids(facilitator.get(f"/api/v1/{resource}/"))
    model = {"pathways": Pathway, "referrals": Referral}[resource]
    latest = max(model.objects.filter(pk__in=everything).values_list("updated_at", flat=True))
    since = (latest + datetime.timedelta(microseconds=1)).astimezone(PARIS).isoformat()
    assert ids(facilitator.get(f"/api/v1/{resource}/", {"updated_since": since})) == set()
    since = latest.astimezone(PARIS).isoformat()  # inclusive: the row changed at that instant is listed
    assert ids(facilitator.get(f"/api/v1/{resource}/", {"updated_since": since}))
    z = latest.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert ids(facilitator.get(f"/api/v1/{resource}/", {"updated_since": z}))
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    assert ids(facilitator.get(f"/api/v1/{resource}/", {"updated_since": yesterday})) == everything
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    assert ids(facilitator.get(f"/api/v1/{resource}/", {"updated_since": tomorrow})) == set()


def test_a_date_means_midnight_in_paris(story):
    pathway = story.a.pathway
    # 23:30 UTC on the 1st is 01:30 (summer) on the 2nd in Paris: changed "since the 2nd".
    Pathway.objects.filter(pk=pathway.pk).update(updated_at=datetime.datetime(2026, 7, 1, 23, 30, tzinfo=datetime.UTC))
    facilitator = client_for(story.a.users[Role.FACILITATOR])
    assert pathway.pk in ids(facilitator.get("/api/v1/pathways/", {"updated_since": "2026-07-02"}))
    assert pathway.pk not in ids(facilitator.get("/api/v1/pathways/", {"updated_since": "2026-07-03"}))


@pytest.mark.parametrize(
    "value",
    [
        "2026-07-02T10:00:00",  # no offset: whose 10 o'clock?
        "2026-07-02 10:00:00+02:00",
        "2026-07-02T10:00+02:00x",
        "20260702T100000Z",
        "2026-7-2",
        "2026-02-31",
        "2026-07-02T25:00:00Z",
        "yesterday",
        "",
        "٢٠٢٦-٠٧-٠٢",
    ],
)
def test_a_bad_updated_since_is_a_french_400(story, value):
    facilitator = client_for(story.a.users[Role.FACILITATOR])
    before = ParticipantAccess.objects.count()
    body = assert_problem(facilitator.get("/api/v1/pathways/", {"updated_since": value}), 400, "invalid_input")
    assert body["errors"][0]["field"] == "updated_since"
    assert "AAAA-MM-JJ" in body["errors"][0]["detail"] or "n'existe pas" in body["errors"][0]["detail"]
    assert ParticipantAccess.objects.count() == before


def test_the_schema_documents_updated_since(story):
    schema = APIClient().get("/api/v1/schema/?format=json").json()
    for resource in ("pathways", "referrals"):
        names = [p["name"] for p in schema["paths"][f"/api/v1/{resource}/"]["get"]["parameters"]]
        assert "updated_since" in names, resource


def test_if_none_match_of_the_current_etag_is_304(story):
    adviser = client_for(story.a.users[Role.ADVISER])
    url = f"/api/v1/participants/{story.a.participant.pk}/"
    etag = adviser.get(url)["ETag"]
    response = adviser.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304 and response["ETag"] == etag and response.content == b""
    assert adviser.get(url, HTTP_IF_NONE_MATCH=f"W/{etag}").status_code == 304  # weak comparison (RFC 9110)
    assert adviser.get(url, HTTP_IF_NONE_MATCH='"v0", ' + etag).status_code == 304
    assert adviser.get(url, HTTP_IF_NONE_MATCH='"v0"').status_code == 200
    adviser.patch(url, {"commune": "Lyon"}, format="json")
    assert adviser.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 200


# --- 4. Decimals have the documented shape ------------------------------------------------------------------------
@pytest.mark.parametrize("hours", ["1e2", "1E0", "+5", " 5", "5 ", "5.", ".5", "5.123", "0x10", "Infinity", "NaN", ""])
def test_a_decimal_string_has_the_documented_shape(story, hours):
    employer = client_for(story.a.users[Role.EMPLOYER])
    data = {"placement": story.a.placement.pk, "month": "2026-01-01", "hours": hours}
    body = assert_problem(employer.post("/api/v1/hours-lines/", data, format="json"), 400, "invalid_input")
    assert body["errors"][0]["field"] == "hours", body


def test_a_huge_decimal_number_is_a_400(story):
    """A float of 300 digits could not be rounded to two decimals: it was a 500 (found by schemathesis)."""
    facilitator = client_for(story.a.users[Role.FACILITATOR])
    for weekly_hours in (-2.05e307, 1e300, 10**400):
        data = {"lot": story.a.lot.pk, "title": "Coffreur", "trade": "Maçonnerie", "contract_type": "cdd"}
        data.update(weekly_hours=weekly_hours, location="Lyon")
        body = assert_problem(facilitator.post("/api/v1/job-offers/", data, format="json"), 400, "invalid_input")
        assert body["errors"][0]["field"] == "weekly_hours", body


def test_the_decimal_pattern_is_the_enforced_one():
    schema = APIClient().get("/api/v1/schema/?format=json").json()
    hours = schema["components"]["schemas"]["HoursDeclareRequest"]["properties"]["hours"]
    [text] = [option for option in hours["oneOf"] if option.get("type") == "string"]
    assert text["pattern"] == r"^-?\d{1,4}(?:\.\d{1,2})?$"


# --- 7. Accept: application/problem+json --------------------------------------------------------------------------
def test_accept_problem_json_is_json(story):
    adviser = client_for(story.a.users[Role.ADVISER])
    assert_problem(adviser.get("/api/v1/pathways/999999/", HTTP_ACCEPT="application/problem+json"), 404, "not_found")
    response = adviser.get("/api/v1/pathways/", HTTP_ACCEPT="application/problem+json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"


# --- 6. Every 429 says when to come back --------------------------------------------------------------------------
def test_a_429_always_has_retry_after(story, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"user": "3/minute"})
    adviser = client_for(story.a.users[Role.ADVISER])
    for _ in range(3):
        assert adviser.get("/api/v1/lots/").status_code == 200
    # The rate lowered: the recorded requests outnumber the limit (DRF's wait() is None then).
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"user": "1/minute"})
    response = adviser.get("/api/v1/lots/")
    body = assert_problem(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60
    assert f"Réessayez dans {response['Retry-After']} seconde(s)." in body["detail"]


# --- 8. Query integers: one message for any integer out of range ---------------------------------------------------
def test_query_integers_out_of_range_have_one_message(story):
    adviser = client_for(story.a.users[Role.ADVISER])
    minus = assert_problem(adviser.get("/api/v1/pathways/?organisation=-1"), 400, "invalid_input")
    zero = assert_problem(adviser.get("/api/v1/pathways/?participant=0"), 400, "invalid_input")
    assert minus["errors"][0]["detail"] == zero["errors"][0]["detail"]
    assert_problem(adviser.get("/api/v1/pathways/?organisation=1.0"), 400, "invalid_input")
    assert_problem(adviser.get("/api/v1/pathways/?organisation=-"), 400, "invalid_input")


# --- 5, 8, 9. The schema --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return APIClient().get("/api/v1/schema/?format=json").json()


@pytest.mark.parametrize(
    ("component", "fields"),
    [
        ("Pathway", {"state", "exited_on", "closed_on", "updated_at", "referent_adviser"}),
        ("Referral", {"state", "decided_at", "forwarded_at", "decision_reason", "placement"}),
        ("Placement", {"state", "started_on", "ended_on", "end_kind", "end_reason"}),
        ("HoursLine", {"state", "validated_at", "rejection_reason", "locked_at"}),
        ("Participant", {"email", "phone", "imilo_reference", "sex", "notice_given_on", "anonymised_at"}),
        ("ParticipantDetail", {"email", "version", "pathways"}),
        ("JobOffer", {"is_open", "closed_at", "rome_code", "market_context"}),
        ("JournalEvent", {"occurred_at", "from_state", "to_state"}),
        ("FollowUp", {"due_on", "done_on", "note"}),
        ("AccessLogEntry", {"accessed_at", "role", "channel", "purpose"}),
    ],
)
def test_response_fields_always_sent_are_required(schema, component, fields):
    described = schema["components"]["schemas"][component]
    assert fields <= set(described["required"]), fields - set(described["required"])
    assert set(described["required"]) == set(described["properties"])


def test_optional_response_fields_stay_optional(schema):
    described = schema["components"]["schemas"]["TransitionInputOut"]
    assert not {"choices", "options"} & set(described["required"])
    request = schema["components"]["schemas"]["ParticipantCreateRequest"]
    assert "email" not in request["required"]  # requests keep their own rules


def test_problem_rows_and_statuses_are_documented(schema):
    item = schema["components"]["schemas"]["Problem"]["properties"]["errors"]["items"]
    assert item["properties"]["row"]["type"] == "integer" and "row" not in item["required"]
    assert "stale_form" not in schema["components"]["responses"]["Problem409"]["description"]
    operation = schema["paths"]["/api/v1/pathways/"]["get"]
    assert {"405", "503"} <= set(operation["responses"])
    body = schema["paths"]["/api/v1/participants/{id}/subject-access/"]["get"]["responses"]["200"]
    assert body["content"]["application/json"]["schema"]["properties"]


def test_participants_do_not_offer_updated_since(story):
    """A pathway's transition moves the file's `current_state` (a trigger) but not its `updated_at`: a sync on it
    would miss those changes, so the list refuses the filter rather than answer an incomplete delta."""
    objects = advance(story.a, "intake", first_name="Noé")
    participant = objects["participant"]
    before = Participant.objects.get(pk=participant.pk)
    pathways.pathway_submit_eligibility(
        actor=story.a.actor(Role.ADVISER), pathway=objects["pathway"], criteria=["YOUTH_UNDER_26_LOW_QUALIFICATION"]
    )
    after = Participant.objects.get(pk=participant.pk)
    assert after.current_state != before.current_state and after.updated_at == before.updated_at
    adviser = client_for(story.a.users[Role.ADVISER])
    body = assert_problem(adviser.get("/api/v1/participants/?updated_since=2026-01-01"), 400, "invalid_input")
    assert body["errors"][0]["field"] == "updated_since"

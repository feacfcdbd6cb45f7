"""Problem details (RFC 9457) for every refusal; malformed, mistyped, unknown or huge input is a 4xx and
writes nothing."""

import json

import pytest
from django.conf import settings
from django.db import IntegrityError, OperationalError
from django.db.models import Count
from rest_framework.test import APIClient

from parcours.api.errors import problem_exception_handler
from parcours.api.throttling import TokenObtainRateThrottle, TokenRateThrottle
from parcours.models import FollowUp, HoursLine, Participant, ParticipantAccess, Pathway, Placement, Referral
from parcours.services import pathways
from roles.enums import Role
from tests.api.conftest import advance, assert_problem, client_for, token_for
from workflows.models import JournalEvent

WRITE_MODELS = [Participant, Pathway, Referral, Placement, HoursLine, FollowUp, JournalEvent]


def snapshot():
    return {model.__name__: model.objects.aggregate(n=Count("pk"))["n"] for model in WRITE_MODELS} | {
        "states": sorted(Pathway.objects.values_list("pk", "state"))
        + sorted(Referral.objects.values_list("pk", "state"))
    }


@pytest.fixture
def adviser(story):
    return client_for(story.a.users[Role.ADVISER])


def raw_post(client, url, body, content_type="application/json"):
    return client.generic("POST", url, body, content_type=content_type)


VALID_INTAKE = {
    "first_name": "Léa",
    "last_name": "Durand",
    "birth_date": "2006-03-01",
    "postcode": "69100",
    "commune": "Villeurbanne",
    "qualification_level": "level_3",
}


@pytest.mark.parametrize(
    "body, code",
    [
        ('{"first_name": "Léa",', "malformed_json"),
        ("{'first_name': 'Léa'}", "malformed_json"),
        ("[" * 100_000 + "]" * 100_000, "malformed_json"),  # too deep for the JSON parser
        ('{"hours": NaN}', "malformed_json"),
        (b"\xff\xfe{}", "malformed_json"),
        ("[]", "invalid_input"),
        ('"texte"', "invalid_input"),
        ("null", "invalid_input"),
        ("42", "invalid_input"),
        # Valid JSON, but no character: a lone surrogate, as a value or a key (echoed by the error: a 500 before).
        ('{"first_name": "L\\ud800a"}', "malformed_json"),
        ('{"\\udfff": 1}', "malformed_json"),
    ],
    ids=[
        "truncated",
        "single-quotes",
        "deep",
        "nan",
        "not-utf8",
        "list",
        "string",
        "null",
        "number",
        "surrogate-value",
        "surrogate-key",
    ],
)
def test_malformed_json_is_400_and_writes_nothing(adviser, story, body, code):
    before = snapshot()
    response = raw_post(adviser, "/api/v1/participants/", body)
    assert_problem(response, 400, code)
    assert snapshot() == before


@pytest.mark.parametrize(
    "field, value",
    [
        ("first_name", 123),
        ("first_name", ["Léa"]),
        ("first_name", {"x": 1}),
        ("first_name", None),
        ("first_name", "Lé\x00a"),
        ("first_name", "x" * 101),
        ("birth_date", "01/03/2006"),
        ("birth_date", 20060301),
        ("birth_date", "2006-02-30"),
        ("qualification_level", "doctorat"),
        ("qualification_level", 3),
        ("is_qpv_resident", "oui"),
        ("is_qpv_resident", 1),
        ("email", "pas-un-courriel"),
        ("email", 42),
    ],
)
def test_wrong_types_are_400_with_the_field_and_write_nothing(adviser, field, value):
    before = snapshot()
    response = adviser.post("/api/v1/participants/", {**VALID_INTAKE, field: value}, format="json")
    body = assert_problem(response, 400, "invalid_input")
    assert [e["field"] for e in body["errors"]] == [field]
    assert body["detail"].startswith("La requête contient des données invalides")
    assert snapshot() == before


def test_unknown_fields_are_400_unknown_field(adviser, story):
    pending = advance(story.a, "intake", last_name="Attente")["pathway"]
    pathways.pathway_submit_eligibility(
        actor=story.a.actor(Role.ADVISER), pathway=pending, criteria=["YOUTH_UNDER_26_LOW_QUALIFICATION"]
    )
    before = snapshot()
    response = adviser.post("/api/v1/participants/", {**VALID_INTAKE, "nir": "1850775123456"}, format="json")
    body = assert_problem(response, 400, "unknown_field")
    assert body["errors"] == [{"field": "nir", "code": "unknown_field", "detail": "Champ inconnu."}]
    transition = adviser.post(
        f"/api/v1/pathways/{story.a.pathway.pk}/transitions/withdraw/", {"reason": "x", "state": "exited"}
    )
    assert_problem(transition, 400, "unknown_field")
    nested = client_for(story.a.users[Role.FACILITATOR]).post(
        f"/api/v1/pathways/{pending.pk}/transitions/validate_eligibility/",
        {"proofs": [{"criterion": "RSA", "proof_kind": "other", "seen_on": "2026-01-01", "by": "moi"}]},
    )
    assert assert_problem(nested, 400, "unknown_field")["errors"][0]["field"] == "proofs.0.by"
    assert snapshot() == before


def test_mixed_errors_report_every_field(adviser):
    response = adviser.post("/api/v1/participants/", {"first_name": 1, "surname": "x"}, format="json")
    body = assert_problem(response, 400, "invalid_input")
    fields = {e["field"]: e["code"] for e in body["errors"]}
    assert fields["surname"] == "unknown_field" and fields["first_name"] == "invalid"
    assert fields["last_name"] == "required"


def test_huge_payload_is_413_and_writes_nothing(adviser, story):
    before = snapshot()
    huge = json.dumps({**VALID_INTAKE, "commune": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    assert_problem(raw_post(adviser, "/api/v1/participants/", huge), 413, "payload_too_large")
    motivation = json.dumps({"pathway": story.a.pathway.pk, "offer": story.a.offer.pk, "motivation": "x" * 2001})
    assert_problem(raw_post(adviser, "/api/v1/referrals/", motivation), 400, "invalid_input")
    many_fields = json.dumps({f"champ{i}": i for i in range(50_000)})
    assert_problem(raw_post(adviser, "/api/v1/participants/", many_fields), 400)
    assert snapshot() == before


def test_other_content_types_are_415(adviser):
    response = raw_post(adviser, "/api/v1/participants/", "first_name=Léa", "application/x-www-form-urlencoded")
    assert_problem(response, 415, "unsupported_media_type")
    assert_problem(raw_post(adviser, "/api/v1/participants/", "Léa", "text/plain"), 415, "unsupported_media_type")


def test_domain_errors_keep_their_code_and_field(adviser):
    young = {**VALID_INTAKE, "birth_date": "2020-01-01"}
    body = assert_problem(adviser.post("/api/v1/participants/", young, format="json"), 400, "age_out_of_range")
    assert body["errors"][0]["field"] == "birth_date" and "ans" in body["detail"]


def test_details_are_french_whatever_the_accept_language(adviser):
    response = adviser.post("/api/v1/participants/", {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    body = assert_problem(response, 400, "invalid_input")
    assert "Ce champ est obligatoire." in {e["detail"] for e in body["errors"]}


def test_authentication_problems_are_401(anonymous, story):
    response = anonymous.get("/api/v1/pathways/")
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"
    # Each refusal keeps its reason's code (all were "authentication_failed"): the expired token's is tested with
    # the expiry (tests/test_passwords_and_tokens.py).
    anonymous.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert_problem(anonymous.get("/api/v1/pathways/"), 401, "invalid_token")
    anonymous.credentials(HTTP_AUTHORIZATION="Token pas-un-jeton")
    assert_problem(anonymous.get("/api/v1/pathways/"), 401, "invalid_token")
    anonymous.credentials(HTTP_AUTHORIZATION="Token a b")
    assert_problem(anonymous.get("/api/v1/pathways/"), 401, "invalid_token")
    anonymous.credentials(HTTP_AUTHORIZATION="Token")
    assert_problem(anonymous.get("/api/v1/pathways/"), 401, "invalid_token")
    user = story.a.users[Role.ADVISER]
    token_for(user)
    user.is_active = False
    user.save()
    assert_problem(client_for(user).get("/api/v1/pathways/"), 401, "invalid_token")


def test_token_endpoint(anonymous, story):
    response = anonymous.post("/api/v1/auth/token/", {"username": "conseillere", "password": "demo"}, format="json")
    assert response.status_code == 200 and len(response.json()["token"]) == 40
    again = anonymous.post("/api/v1/auth/token/", {"username": "conseillere", "password": "demo"}, format="json")
    assert again.json() == response.json()
    wrong = anonymous.post("/api/v1/auth/token/", {"username": "conseillere", "password": "x"}, format="json")
    assert_problem(wrong, 400, "invalid_credentials")
    unknown = anonymous.post("/api/v1/auth/token/", {"username": "a", "password": "b", "otp": 1}, format="json")
    assert_problem(unknown, 400, "unknown_field")


def test_unknown_addresses_are_404_problems(adviser, anonymous):
    for response in (
        adviser.get("/api/v1/nothing/"),
        adviser.get("/api/v1/pathways/abc/"),
        adviser.post("/api/v1/pathways", {}, format="json"),  # no slash: no redirect, no CSRF page
        anonymous.post("/api/v1/pathways/1/transitions/teleport/", {}, format="json"),
        adviser.get("/api/v1/pathways/99999999999999999999999/"),
        adviser.get(f"/api/v1/pathways/{2**63}/"),
    ):
        assert_problem(response, 404, "not_found")


def test_bad_query_parameters_are_400(adviser):
    junk = ("state=flying", "started_after=hier", "organisation=0", "organisation=1e400", "participant=x")
    # Digits of another script: DRF read "١٢" as 12 and `fromisoformat` "٢٠٢٦-٠٣-٠١" as a date.
    for query in (*junk, "participant=١٢", "started_after=٢٠٢٦-٠٣-٠١"):
        body = assert_problem(adviser.get(f"/api/v1/pathways/?{query}"), 400, "invalid_input")
        assert body["errors"][0]["field"] == query.split("=")[0]
    for cursor in ("nimportequoi", "cD1hYmM=", "bz0tMQ=="):  # garbage, p=abc, o=-1
        assert_problem(adviser.get(f"/api/v1/pathways/?cursor={cursor}"), 400, "invalid_cursor")
    # An id as a decimal (DRF read 1.0 as 1), an empty yes/no (every offer listed, as if not asked), the page size
    # given twice (the last won), a parameter on the unpaged organisations (ignored there alone).
    for url, field in (
        ("/api/v1/pathways/?participant=1.0", "participant"),
        ("/api/v1/referrals/?offer=1.0", "offer"),
        ("/api/v1/job-offers/?is_open=", "is_open"),
        ("/api/v1/pathways/?page_size=10&page_size=20", "page_size"),
        ("/api/v1/organisations/?page_size=1", "page_size"),
    ):
        body = assert_problem(adviser.get(url), 400, "invalid_input")
        assert body["errors"][0]["field"] == field, url
    assert adviser.get("/api/v1/job-offers/?is_open=true").status_code == 200
    assert adviser.get("/api/v1/organisations/").status_code == 200


def test_throttling_is_per_token(story, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"user": "3/minute"})
    adviser, facilitator = client_for(story.a.users[Role.ADVISER]), client_for(story.a.users[Role.FACILITATOR])
    for _ in range(3):
        assert adviser.get("/api/v1/lots/").status_code == 200
    response = adviser.get("/api/v1/lots/")
    assert_problem(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert facilitator.get("/api/v1/lots/").status_code == 200
    # A token out of requests (leaked, or a runaway script) can still be revoked, and then is refused.
    assert adviser.post("/api/v1/auth/token/revoke/").status_code == 204
    assert adviser.get("/api/v1/lots/").status_code == 401
    assert "pour ce jeton" in response.json()["detail"]


def test_the_token_endpoints_limit_says_it_counts_per_address(story, monkeypatch):
    """It said « Trop de requêtes pour ce jeton » to a caller who has no token yet: it counts per client address."""
    monkeypatch.setattr(TokenObtainRateThrottle, "THROTTLE_RATES", {"token_obtain": "2/minute"})
    anonymous = APIClient()
    for _ in range(2):
        anonymous.post("/api/v1/auth/token/", {"username": "nobody", "password": "x"}, format="json")
    response = anonymous.post("/api/v1/auth/token/", {"username": "nobody", "password": "x"}, format="json")
    body = assert_problem(response, 429, "throttled")
    assert body["detail"].startswith("Trop de demandes de jeton depuis cette adresse.") and response["Retry-After"]


def test_a_transition_on_a_stale_view_is_409(story):
    employer = client_for(story.a.users[Role.EMPLOYER])
    url = f"/api/v1/referrals/{story.a.referral2.pk}/"
    seen = employer.get(url).json()
    assert "accept" in [t["name"] for t in seen["available_transitions"]]
    assert employer.post(f"{url}transitions/accept/").status_code == 200  # someone of the company acted first
    before = snapshot()
    body = assert_problem(employer.post(f"{url}transitions/accept/"), 409, "invalid_transition")
    assert "Quelqu'un a peut-être agi avant vous" in body["detail"]
    assert snapshot() == before


def test_lock_conflicts_are_409_concurrent_change(caplog):
    response = problem_exception_handler(OperationalError("database is locked"), {"request": None})
    assert response.status_code == 409 and response.data["code"] == "concurrent_change"
    assert problem_exception_handler(OperationalError("no such table: x"), {"request": None}) is None
    with caplog.at_level("WARNING", logger="parcours.api.errors"):
        response = problem_exception_handler(IntegrityError("UNIQUE constraint failed"), {"request": None})
    assert response.status_code == 409 and response.data["code"] == "concurrent_change"
    assert "integrity error" in caplog.text  # a lost race is answered 409 but stays visible in the logs


def test_other_methods_are_405(adviser, story):
    response = adviser.delete(f"/api/v1/pathways/{story.a.pathway.pk}/")
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]
    assert_problem(adviser.put("/api/v1/participants/", {}, format="json"), 405, "method_not_allowed")


def test_participant_reads_are_in_the_access_log(story):
    adviser = client_for(story.a.users[Role.ADVISER])
    participant = story.a.participant
    ParticipantAccess.objects.all().delete()
    adviser.get(f"/api/v1/participants/{participant.pk}/")
    adviser.get("/api/v1/participants/")
    adviser.get(f"/api/v1/participants/{participant.pk}/history/")
    adviser.get(f"/api/v1/participants/{story.b.participant.pk}/")  # out of scope: not a read
    rows = ParticipantAccess.objects.order_by("pk")
    assert [(r.participant_id, r.channel, r.purpose, r.role) for r in rows] == [
        (participant.pk, "api", "view", "adviser"),
        (participant.pk, "api", "list", "adviser"),
        (participant.pk, "api", "view", "adviser"),
    ]


def test_session_authentication_acts_for_the_ui_organisation_and_checks_csrf(story):
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(story.a.users[Role.ADVISER])
    assert session.get(f"/api/v1/pathways/{story.a.pathway.pk}/").status_code == 200
    response = session.post(f"/api/v1/pathways/{story.a.pathway.pk}/transitions/withdraw/", {"reason": "x"})
    assert_problem(response, 403, "csrf_failed")
    assert Pathway.objects.get(pk=story.a.pathway.pk).state == "placed"


def test_an_employer_refusing_a_candidate_gets_the_result_then_loses_sight_of_it(story):
    employer = client_for(story.a.users[Role.EMPLOYER])
    url = f"/api/v1/referrals/{story.a.referral2.pk}/"
    refused = employer.post(f"{url}transitions/refuse/", {"reason": "Poste pourvu."}, format="json")
    assert refused.status_code == 200
    assert refused.json()["state"] == "refused" and refused.json()["available_transitions"] == []
    assert_problem(employer.get(url), 404, "not_found")

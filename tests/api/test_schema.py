"""The OpenAPI schema, and schemathesis against the live schema served by the app.

Every operation of /api/v1/schema/ — reads and writes: creations, every transition, statements, token
endpoints — is fuzzed in-process (Django's WSGI handler, inside the test transaction) for each role, with
positive cases (on real objects of the caller) and negative cases (data that breaks the schema), authenticated
with a token and with throttling out of the way. Checks: no 5xx, documented status codes and content types,
response bodies that conform to the schema, and a 4xx writes nothing (no row added or removed in any table of the
application, the addressed object unchanged). The counts are printed (run with -s to see them).
"""

import logging
import time
from collections import Counter

import hypothesis
import pytest
import schemathesis
from django.apps import apps
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from django.forms.models import model_to_dict
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from parcours.api import resources
from parcours.api.throttling import TokenObtainRateThrottle, TokenRateThrottle
from parcours.models import ParticipantAccess
from roles.enums import Role
from tests.api.conftest import client_for, token_for

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = 8  # per operation, per generation mode (positive, negative) and per role
ROLES = [Role.ADVISER, Role.FACILITATOR, Role.EMPLOYER, Role.AUDITOR]
ORGANISATION_OF = {
    Role.ADVISER: "mission_locale",
    Role.FACILITATOR: "facilitation",
    Role.EMPLOYER: "employer",
    Role.AUDITOR: "buyer",
}


def test_schema_is_valid_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for expected in ("/api/v1/pathways/{id}/transitions/submit_eligibility/", "application/problem+json"):
        assert expected in text


def test_the_schema_lists_the_406_and_the_headers_answers_carry(client):
    """406 (an Accept the API cannot answer) on every operation, Retry-After on 429, WWW-Authenticate on 401, and
    Location on a creation's 201 — but a follow-up's, which has no address of its own."""
    schema = client.get("/api/v1/schema/?format=json").json()
    responses = schema["components"]["responses"]
    assert set(responses["Problem429"]["headers"]) == {"Retry-After"}
    assert set(responses["Problem401"]["headers"]) == {"WWW-Authenticate"}
    operations = [op for item in schema["paths"].values() for method, op in item.items() if method in ("get", "post")]
    assert all("406" in op["responses"] for op in operations)
    assert "Location" in schema["paths"]["/api/v1/participants/"]["post"]["responses"]["201"]["headers"]
    assert "headers" not in schema["paths"]["/api/v1/pathways/{id}/follow-ups/"]["post"]["responses"]["201"]


def test_schema_and_docs_are_served(client):
    assert client.get("/api/v1/schema/").status_code == 200
    assert client.get("/api/v1/docs/").status_code == 200


METHODS = ["get", "head", "options", "post", "put", "patch", "delete"]


@pytest.mark.parametrize("role", [None, Role.ADVISER, Role.EMPLOYER], ids=["anonymous", "adviser", "employer"])
def test_every_method_on_every_path_is_answered_without_5xx(story, role, client, monkeypatch):
    """Methods the schema does not declare (OPTIONS, PUT, DELETE…) and empty or junk bodies included."""
    monkeypatch.setattr(logging.getLogger("django.request"), "level", logging.ERROR)
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"user": "1000000/hour"})
    monkeypatch.setattr(TokenObtainRateThrottle, "THROTTLE_RATES", {"token_obtain": "1000000/hour"})
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]
    ids = _real_ids(story.a)
    seen = {}
    for template in paths:
        resource = template.removeprefix("/api/v1/").split("/")[0]
        pk = ids.get(resource, 1)
        url = template.replace("{id}", str(pk))
        for method in METHODS:
            for body in (None, "{}", "junk"):
                write = method in ("post", "put", "patch", "delete")
                # Read at each request: POST auth/token/revoke/ revokes the token (the next one is a new token).
                headers = {"HTTP_AUTHORIZATION": f"Token {token_for(story.a.users[role])}"} if role else {}
                before = fingerprint(template, pk) if write else None
                response = client.generic(
                    method.upper(), url, data=body or "", content_type="application/json", **headers
                )
                seen[response.status_code] = seen.get(response.status_code, 0) + 1
                assert response.status_code < 500, (method, url, body, response.content)
                if write and 400 <= response.status_code < 500:
                    assert not nothing_written(before, fingerprint(template, pk)), (method, url, body)
                if response.status_code >= 400 and method != "head":
                    assert response["Content-Type"] == "application/problem+json", (method, url, response.content)
    assert 405 in seen and 200 in seen
    if role:  # authenticated throughout: the views answered, not the authentication
        assert seen.get(401, 0) == 0, seen


@pytest.fixture
def wsgi_app():
    """Django's WSGI handler, kept on the test transaction's connection (as django.test.Client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _real_ids(side):
    return {
        "participants": side.participant.pk,
        "pathways": side.pathway.pk,
        "referrals": side.referral2.pk,
        "placements": side.placement.pk,
        "hours-lines": side.hours_line.pk,
        "job-offers": side.offer.pk,
        "lots": side.lot.pk,
    }


# Tables a refused request may legitimately write: failed logins are recorded (axes), sessions and cache entries.
NOT_CASE_DATA = {"axes", "sessions"}
MODEL_OF = {
    resource.path: resource.model
    for resource in resources.STATEFUL + [resources.PARTICIPANTS, resources.JOB_OFFERS, resources.LOTS]
}


def _counting_query():
    tables = sorted(
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and model._meta.app_label not in NOT_CASE_DATA
    )
    quote = connection.ops.quote_name
    return tables, "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(table)})" for table in tables)


def fingerprint(template, pk):
    """Row counts of every table of the application (one query) and the fields of the object the path addresses."""
    tables, query = _counting_query()
    with connection.cursor() as cursor:
        cursor.execute(query)
        counts = dict(zip(tables, cursor.fetchone(), strict=True))
    model = MODEL_OF.get(template.removeprefix("/api/v1/").split("/")[0])
    target = None
    if model is not None and isinstance(pk, int):
        found = model.objects.filter(pk=pk).first()
        target = found and model_to_dict(found)
    return counts, target


def nothing_written(before, after):
    changed = {table: (count, after[0][table]) for table, count in before[0].items() if after[0][table] != count}
    if before[1] != after[1]:
        changed["addressed object"] = (before[1], after[1])
    return changed


def fuzz(strategy, label, user, stats, failures):
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case):
        stats["cases"] += 1
        stats["by_operation"][label] += 1
        write = case.operation.method.upper() not in ("GET", "HEAD", "OPTIONS")
        # The caller's token, read at each case (before the snapshot: it may create one): a case of POST
        # auth/token/revoke/ revokes it, and every case after it would otherwise be a 401.
        headers = {"Authorization": f"Token {token_for(user)}"}
        pk = (case.path_parameters or {}).get("id")
        before = fingerprint(case.operation.path, pk) if write else None
        response = case.call(headers=headers)
        stats["by_status"][response.status_code] = stats["by_status"].get(response.status_code, 0) + 1
        if write and 400 <= response.status_code < 500:
            stats["refused_writes"] += 1
            changed = nothing_written(before, fingerprint(case.operation.path, pk))
            if changed:
                failures.append(f"{label}: {response.status_code} but written: {changed} ({case.body!r})")
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:  # collected without shrinking: the report names every failure
            failures.append(f"{label}: {exc}")

    run()


def test_schemathesis_no_server_error_and_responses_conform(story, wsgi_app, client, monkeypatch, settings):
    settings.AXES_FAILURE_LIMIT = 10**6  # the token endpoint's wrong passwords must not lock the demo users out
    monkeypatch.setattr(logging.getLogger("django.request"), "level", logging.ERROR)  # 4xx are expected here
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"user": "1000000/hour"})
    monkeypatch.setattr(TokenObtainRateThrottle, "THROTTLE_RATES", {"token_obtain": "1000000/hour"})
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    ids = _real_ids(story.a)
    stats = {"operations": len(operations), "cases": 0, "by_status": {}, "refused_writes": 0}
    stats["by_operation"] = Counter()
    failures = []
    started = time.monotonic()

    for role in ROLES:
        # Positive cases act for the caller's organisation on its real objects; negative ones break the schema.
        organisation = {"X-Organisation": str(story.a.orgs[ORGANISATION_OF[role]].pk)}
        for operation in operations:
            resource = operation.path.removeprefix("/api/v1/").split("/")[0]
            strategies = [operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE)]
            if "{id}" in operation.path and resource in ids:
                strategies.append(operation.as_strategy(path_parameters={"id": ids[resource]}, headers=organisation))
            elif operation.path != "/api/v1/auth/token/":
                strategies.append(operation.as_strategy(headers=organisation))
            else:
                strategies.append(operation.as_strategy())
            for strategy in strategies:
                fuzz(strategy, f"{role.value} {operation.label}", story.a.users[role], stats, failures)

    stats["seconds"] = round(time.monotonic() - started, 1)
    by_operation = stats.pop("by_operation")
    writes = [o for o in operations if o.method.upper() not in ("GET", "HEAD", "OPTIONS")]
    print(f"\nschemathesis: {stats}, {len(writes)} write operations, failures: {len(failures)}")
    assert stats["cases"] >= stats["operations"] * len(ROLES) * 2
    # Every operation of the schema, writes included, was fuzzed for every role (positive and negative cases).
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]
    declared = {(method, path) for path, item in paths.items() for method in item if method in METHODS}
    assert {(o.method.lower(), o.path) for o in operations} == declared
    assert any("/transitions/" in o.path for o in writes) and any(
        o.path.endswith("/statements/{month}/") for o in writes
    )
    for role in ROLES:
        for operation in operations:
            assert by_operation[f"{role.value} {operation.label}"] >= 2, (role, operation.label)
    assert stats["refused_writes"] > 0
    # Authenticated cases reached the views: successes on reads and writes, not a wall of 401.
    assert stats["by_status"].get(200, 0) > stats["cases"] // 10
    assert stats["by_status"].get(401, 0) < stats["cases"] // 10
    assert not any(status >= 500 for status in stats["by_status"])
    assert not failures, "\n\n".join(failures[:20])


def test_every_user_fireable_transition_has_a_service_an_input_and_a_url(client):
    from parcours.api.resources import STATEFUL
    from parcours.services.registry import missing_services

    assert missing_services() == []
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]
    for resource in STATEFUL:
        for spec in resource.transitions():
            assert f"/api/v1/{resource.path}/{{id}}/transitions/{spec.name}/" in paths
    assert "/api/v1/referrals/{id}/transitions/expire/" not in paths  # fired by timers only


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/hours-lines/%0A/transitions/reject/",
        "/api/v1/referrals/1%0A2/",
        "/api/v1/%0A",
    ],
)
def test_an_address_with_a_line_break_is_a_404_problem(client, path):
    """Found by schemathesis: "." does not match a line break, so these fell through to the HTML 404 page."""
    response = client.post(path, data="{}", content_type="application/json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_a_refused_edit_of_a_participant_file_logs_no_access(story, monkeypatch):
    """Found by the nothing-written check: a PATCH refused as malformed or invalid wrote an access-log row (the file
    was read for the permission check, and never shown). A successful edit returns the file: that read is logged."""
    adviser = client_for(story.a.users[Role.ADVISER])
    url = f"/api/v1/participants/{story.a.participant.pk}/"
    before = ParticipantAccess.objects.count()
    for body in ("junk", '{"birth_date": "1900-01-01"}', '{"unknown": 1}'):
        response = adviser.generic("PATCH", url, data=body, content_type="application/json")
        assert response.status_code == 400, response.content
    assert ParticipantAccess.objects.count() == before
    response = adviser.patch(url, {"commune": "Villeurbanne"}, format="json")
    assert response.status_code == 200, response.content
    assert ParticipantAccess.objects.count() == before + 1

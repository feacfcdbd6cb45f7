"""Content Security Policy (django-csp) and the API docs served locally.

Before this work there was no CSP, and /api/v1/docs/ loaded Swagger UI `@latest` from a public CDN without integrity.
Every HTML page is checked for inline scripts by tests/test_access_table.py."""

import re

import pytest
from django.test import Client

from roles.enums import Role

pytestmark = pytest.mark.django_db


def directives(response):
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part}


def test_pages_carry_a_policy_without_inline_or_eval_scripts(client):
    policy = directives(client.get("/connexion/"))
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_the_language_switch_works_without_an_inline_handler(world):
    client = Client()
    client.force_login(world.actor(Role.ADVISER).user)
    body = client.get("/").content.decode()
    # Changed by its own button (a change on an arrow key reloaded the page: WCAG 3.2.2), never by a handler.
    assert 'id="language"' in body and "data-autosubmit" not in body and "onchange" not in body


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_the_api_docs_load_nothing_from_another_site(client, path):
    response = client.get(path)
    assert response.status_code == 200
    body = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in body
    assert not re.search(r"(src|href)=\"https?://", body), body
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body)  # no inline script
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_the_swagger_init_script_is_served_as_a_script(client):
    response = client.get("/api/v1/docs/?script=")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema/" in response.content.decode()

"""Answers about people are kept by no browser cache nor proxy (parcours/private.py): every page of a signed-in user
and every API answer say `Cache-Control: private, no-store`; anonymous pages do
not, and an answer that says its own keeps it."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import make_pathway

pytestmark = pytest.mark.django_db


def no_store(response):
    return {part.strip() for part in response.get("Cache-Control", "").split(",")} >= {"private", "no-store"}


def test_a_signed_in_users_pages_and_downloads_are_not_kept(world):
    pathway = make_pathway(world, "eligible")
    client = Client()
    client.force_login(world.a.adviser.user)
    for url in ("/", f"/participants/{pathway.participant_id}/", "/inexistant/"):
        response = client.get(url)
        assert no_store(response), (url, response.status_code, response.get("Cache-Control"))


def test_every_api_answer_is_not_kept_whoever_asks(world):
    api = APIClient()
    assert no_store(api.get("/api/v1/pathways/"))  # 401
    api.force_authenticate(world.a.adviser.user)
    assert no_store(api.get("/api/v1/pathways/"))


def test_anonymous_pages_and_those_that_say_their_own_keep_it():
    client = Client()
    assert not client.get("/").has_header("Cache-Control")  # the redirect to the sign-in page: nobody's data
    # The sign-in page and the health checks say their own (Django's never_cache): left as they are.
    for url in ("/connexion/", "/health/live/"):
        assert client.get(url)["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private", url

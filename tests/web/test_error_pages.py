"""Error pages are Parcours' own (French, the site's layout), not those of an installed app: with DEBUG=0 the
templates named 400/403/404/500 are looked up in every app, and viewflow ships some for its own site."""

import html

from axes.handlers.proxy import AxesProxyHandler
from django.template.loader import render_to_string
from django.test import Client, override_settings
from django.urls import reverse

from parcours.models import Participant


def test_missing_page_is_parcours_404_for_anonymous_and_members(site, client):
    response = client.get("/nulle-part/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page introuvable" in body and "viewflow" not in body
    client.login(username="employeur", password="demo")
    body = client.get("/nulle-part/").content.decode()
    assert "Page introuvable" in body and "Se déconnecter" in body


def test_refusal_page_gives_the_reason(site, client):
    client.login(username="employeur", password="demo")
    response = client.get(reverse("adviser:participant_create"))
    assert response.status_code == 403
    body = response.content.decode()
    assert "Accès refusé" in body and "viewflow" not in body


def test_a_form_refused_by_the_csrf_check_gets_the_sites_page_and_writes_nothing(site):
    """Not Django's technical page (« …lorsque la variable DEBUG vaut True »): the site's, in the reader's layout."""
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="conseillere", password="demo")
    before = Participant.objects.count()
    response = client.post(reverse("adviser:participant_create"), {"first_name": "Inès"})
    assert response.status_code == 403
    body = html.unescape(response.content.decode())
    assert "Formulaire expiré" in body and "Rien n’a été enregistré." in body
    assert 'lang="fr"' in body and reverse("home") in body and "Se déconnecter" in body  # the reader's own layout
    assert "vérification CSRF" not in body and "variable DEBUG" not in body  # Django's own page
    assert Participant.objects.count() == before


def test_an_action_address_opened_directly_gets_a_page_not_a_blank_one(site, client):
    """GET on a POST-only view answered 405 with an empty body (a blank page)."""
    client.login(username="facilitateur", password="demo")
    response = client.get(reverse("work:claim", args=[1]))
    assert response.status_code == 405 and response["Allow"] == "POST"
    body = html.unescape(response.content.decode())
    assert "Action impossible depuis cette adresse" in body and "Se déconnecter" in body
    # The API keeps its problem details.
    api = client.get("/api/v1/auth/token/")
    assert api.status_code == 405 and api["Content-Type"] == "application/problem+json"


@override_settings(ALLOWED_HOSTS=["testserver"])
def test_a_bad_host_header_is_refused_with_the_security_headers(site, client):
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["X-Frame-Options"] == "DENY" and "default-src" in response["Content-Security-Policy"]


@override_settings(DEBUG=False)
def test_server_error_page_renders_without_any_context():
    body = render_to_string("500.html")
    assert "Erreur du serveur" in body and "/static/vendor/bootstrap/" in body


# Redis (the lockouts' and throttles' cache) down: a port nothing listens on.
REDIS_DOWN = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2},
    }
}


def test_redis_down_answers_503_saying_so_not_500(site, caplog, monkeypatch):
    client = Client(raise_request_exception=False)
    monkeypatch.setattr(AxesProxyHandler, "implementation", None)  # it holds the cache it was made with
    with override_settings(CACHES=REDIS_DOWN):  # Django's test signals reset the cache handler
        response = client.post("/connexion/", {"username": "conseillere", "password": "demo"})
        assert response.status_code == 503 and response["Retry-After"] == "30"
        assert "Service momentanément indisponible" in html.unescape(response.content.decode())
        api = client.post(
            "/api/v1/auth/token/", {"username": "conseillere", "password": "demo"}, content_type="application/json"
        )
        assert api.status_code == 503 and api["Content-Type"] == "application/problem+json"
        assert api.json()["code"] == "service_unavailable"
    AxesProxyHandler.implementation = None  # made again with the tests' cache
    assert "a shared service is unavailable" in caplog.text

"""Error pages are Parcours' own (French, the site's layout), not those of an installed app: with DEBUG=0 the
templates named 400/403/404/500 are looked up in every app, and viewflow ships some for its own site."""

from django.template.loader import render_to_string
from django.test import override_settings
from django.urls import reverse


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


@override_settings(DEBUG=False)
def test_server_error_page_renders_without_any_context():
    body = render_to_string("500.html")
    assert "Erreur du serveur" in body and "/static/vendor/bootstrap/" in body

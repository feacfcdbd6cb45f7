"""« Sécurité du compte »: a person signs their other sessions out (a shared computer left signed in, a lost phone)
and revokes their own API token (a leaked script key), without the platform's administrator."""

import html

from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from roles.tokens import issue_token

URL = "/compte/securite/"


def signed_in(username):
    client = Client()
    assert client.login(username=username, password="demo")
    return client


def text(response):
    return html.unescape(response.content.decode())


def test_signing_the_other_sessions_out_keeps_this_one(site):
    here, laptop, phone = signed_in("conseillere"), signed_in("conseillere"), signed_in("conseillere")
    colleague = signed_in("facilitateur")
    body = text(here.get(URL))
    assert "Votre compte est aussi connecté dans 2 autres sessions" in body
    response = here.post(URL, {"action": "sign_out_elsewhere"}, follow=True)
    assert "2 autres sessions déconnectées." in text(response)
    assert "Votre compte n'est connecté que dans cette session." in text(response)
    assert here.get("/travail/").status_code == 200
    for other in (laptop, phone):
        assert other.get("/travail/").status_code == 302  # to the sign-in page
    assert colleague.get("/travail/").status_code == 200
    response = here.post(URL, {"action": "sign_out_elsewhere"}, follow=True)
    assert "Aucune autre session n'était ouverte." in text(response)


def test_revoking_ones_own_api_token(site):
    token = issue_token(site.adviser.user).key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/organisations/").status_code == 200
    here = signed_in("conseillere")
    assert "Un jeton d'API est actif : demandé le " in text(here.get(URL))
    response = here.post(URL, {"action": "revoke_token"}, follow=True)
    assert "Votre jeton d'API est révoqué" in text(response)
    assert not Token.objects.filter(user=site.adviser.user).exists()
    assert api.get("/api/v1/organisations/").status_code == 401
    assert "Vous n'avez pas de jeton d'API." in text(here.get(URL))
    response = here.post(URL, {"action": "revoke_token"}, follow=True)
    assert "Vous n'aviez pas de jeton d'API." in text(response)


def test_an_unknown_action_changes_nothing_and_anonymous_is_sent_to_sign_in(site):
    issue_token(site.adviser.user)
    here, other = signed_in("conseillere"), signed_in("conseillere")
    assert here.post(URL, {"action": "everything"}).status_code == 400
    assert Token.objects.filter(user=site.adviser.user).exists() and other.get("/travail/").status_code == 200
    assert Client().get(URL).status_code == 302

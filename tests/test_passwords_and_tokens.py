"""Passwords (similarity, common, numeric, length ≥ 12) and API tokens (expire, revoked when the password changes,
revocable on request). Before this work "conseiller" was accepted for conseiller.b, a token issued before a password
change still worked afterwards and tokens never expired."""

import datetime
from unittest import mock

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

GOOD = "Lune-Orange-Chantier-42"


@pytest.fixture
def adviser(db):
    user = UserFactory(username="conseiller.b", first_name="Bruno", last_name="Conseil")
    user.set_password(GOOD)
    user.save()
    MembershipFactory(user=user, organisation=OrganisationFactory(mission_locale=True), role="adviser")
    return user


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("conseiller", "trop court"),  # the password of the report
        ("conseiller.b", "trop semblable"),
        ("conseiller.b2026", "trop semblable"),
        ("Bruno-Conseil", "trop semblable"),
        ("password1234", "trop courant"),
        ("123456789012345", "entièrement numérique"),
        ("court-9", "trop court"),
    ],
)
def test_weak_passwords_are_refused_with_a_french_reason(adviser, password, why):
    with pytest.raises(ValidationError) as refused:
        validate_password(password, adviser)
    assert any(why in message for message in refused.value.messages), refused.value.messages


def test_a_long_unrelated_password_is_accepted(adviser):
    validate_password(GOOD, adviser)


def test_the_password_change_page_refuses_a_weak_password(client, adviser):
    client.force_login(adviser)
    response = client.post(
        "/mot-de-passe/",
        {"old_password": GOOD, "new_password1": "conseiller.b1", "new_password2": "conseiller.b1"},
    )
    assert response.status_code == 200
    assert "trop semblable" in response.content.decode()
    adviser.refresh_from_db()
    assert adviser.check_password(GOOD)


def _api(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _obtain(password=GOOD):
    return APIClient().post("/api/v1/auth/token/", {"username": "conseiller.b", "password": password}, format="json")


def test_a_token_issued_before_a_password_change_stops_working(client, adviser):
    token = _obtain().json()["token"]
    assert _api(token).get("/api/v1/organisations/").status_code == 200
    client.force_login(adviser)
    new = "Autre-Phrase-Longue-7"
    response = client.post("/mot-de-passe/", {"old_password": GOOD, "new_password1": new, "new_password2": new})
    assert response.status_code == 302
    assert _api(token).get("/api/v1/organisations/").status_code == 401
    assert _obtain(new).json()["token"] != token


def test_any_path_changing_the_password_revokes_the_token(adviser):
    token = _obtain().json()["token"]
    adviser.set_password("Encore-Une-Phrase-9")  # the admin and `manage.py changepassword` do this
    adviser.save()
    assert not Token.objects.filter(key=token).exists()


@override_settings(API_TOKEN_TTL=datetime.timedelta(hours=12))
def test_tokens_expire_and_a_new_one_is_issued(adviser):
    body = _obtain().json()
    token = Token.objects.get(key=body["token"])
    assert datetime.datetime.fromisoformat(body["expires_at"]) == token.created + datetime.timedelta(hours=12)
    assert _obtain().json()["token"] == token.key  # still valid: the same token
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - datetime.timedelta(hours=12, seconds=1))
    response = _api(token.key).get("/api/v1/organisations/")
    assert response.status_code == 401
    assert "Jeton expiré" in response.json()["detail"]
    assert response.json()["code"] == "token_expired"  # a client renews on the code, not on the French detail
    renewed = _obtain().json()["token"]
    assert renewed != token.key and _api(renewed).get("/api/v1/organisations/").status_code == 200


def test_a_token_can_be_revoked_by_its_holder(adviser):
    token = _obtain().json()["token"]
    response = _api(token).post("/api/v1/auth/token/revoke/", {}, format="json")
    assert response.status_code == 204
    assert _api(token).get("/api/v1/organisations/").status_code == 401


def test_revoke_requires_a_token(adviser):
    response = APIClient().post("/api/v1/auth/token/revoke/", {}, format="json")
    assert response.status_code == 401


def test_operators_revoke_tokens_from_the_command_line(adviser, capsys):
    other = UserFactory(username="autre")
    Token.objects.create(user=other)
    _obtain()
    call_command("revoke_api_tokens", "--user", "conseiller.b")
    assert list(Token.objects.values_list("user__username", flat=True)) == ["autre"]
    call_command("revoke_api_tokens", "--all")
    assert not Token.objects.exists()
    assert "1 jeton(s) révoqué(s)." in capsys.readouterr().out


def test_the_demo_password_is_set_by_the_seed_and_still_works(client, db):
    """The seed sets "demo" directly (validators judge what people choose, not the demo's fixed password)."""
    with mock.patch("parcours.notifications.get_channel_layer", return_value=None):
        call_command("seed_demo", verbosity=0)
    assert client.post("/connexion/", {"username": "conseiller.b", "password": "demo"}).status_code == 302

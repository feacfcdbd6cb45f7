"""The password-change page limits the wrong current passwords (parcours/web/passwords.py). Before this work 8 wrong
« ancien mot de passe » then the right one succeeded: an unattended session was a way to guess the password."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

GOOD = "Lune-Orange-Chantier-42"
NEW = "Riviere-Ardoise-Velo-97"


@pytest.fixture(autouse=True)
def _clean_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def adviser(db):
    user = UserFactory(username="conseiller.b", first_name="Bruno", last_name="Conseil")
    user.set_password(GOOD)
    user.save()
    MembershipFactory(user=user, organisation=OrganisationFactory(mission_locale=True), role="adviser")
    return user


def _change(client, old, new=NEW, **extra):
    return client.post("/mot-de-passe/", {"old_password": old, "new_password1": new, "new_password2": new}, **extra)


def _sign_in(client, password=GOOD, **extra):
    return client.post("/connexion/", {"username": "conseiller.b", "password": password}, **extra)


def test_wrong_current_passwords_sign_the_session_out(client, adviser):
    assert _sign_in(client).status_code == 302
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        response = _change(client, "pas-le-bon-mot-de-passe")
        assert response.status_code == 200
        assert "Votre ancien mot de passe est incorrect" in response.content.decode()
    last = _change(client, "pas-le-bon-mot-de-passe")
    # Signed out; the wrong ones counted as failed sign-ins of the username from this address: locked out too.
    assert last.status_code in (302, 429)
    assert "_auth_user_id" not in client.session
    assert _change(client, GOOD).status_code == 302 and "_auth_user_id" not in client.session  # to the sign-in
    adviser.refresh_from_db()
    assert adviser.check_password(GOOD)
    locked = _sign_in(client)
    assert locked.status_code == 429 and "Trop de tentatives de connexion échouées" in locked.content.decode()
    assert _sign_in(client, REMOTE_ADDR="192.0.2.9").status_code == 302  # the username from elsewhere: not locked


def test_below_the_limit_the_right_password_still_changes_it(client, adviser):
    assert _sign_in(client).status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 2):
        _change(client, "pas-le-bon-mot-de-passe")
    assert _change(client, GOOD).status_code == 302
    adviser.refresh_from_db()
    assert adviser.check_password(NEW)


def test_the_signed_out_session_is_told_why_in_french(client, adviser, settings):
    settings.AXES_FAILURE_LIMIT = 100  # the session's own limit, the sign-in lockout not reached
    assert _sign_in(client).status_code == 302
    from parcours.web import passwords

    session = client.session
    session[passwords.WRONG_OLD_PASSWORDS] = 99
    session.save()
    response = _change(client, "pas-le-bon-mot-de-passe", follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0].startswith("/connexion/")
    assert "Trop d&#x27;essais de l&#x27;ancien mot de passe : vous avez été déconnecté·e." in page
    assert "_auth_user_id" not in client.session


def test_failed_sign_ins_before_count_with_the_wrong_current_passwords(client, adviser):
    """The sign-in lockout reached by the page's wrong passwords (after failed sign-ins from the same address) signs
    the session out at once, whatever the session's own count."""
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 2):
        _sign_in(client, "mauvais")
    assert _sign_in(client).status_code == 302  # a success resets the sign-in count
    for _ in range(limit - 2):
        _sign_in(Client(), "mauvais")  # another browser from the same address
    assert _change(client, "pas-le-bon-mot-de-passe").status_code == 200
    assert "_auth_user_id" in client.session
    assert _change(client, "pas-le-bon-mot-de-passe").status_code == 429  # the lockout's page
    assert "_auth_user_id" not in client.session

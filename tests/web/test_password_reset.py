"""« Mot de passe oublié ? »: Django's reset views under French addresses (parcours/web/passwords.py). Before this work
a person who forgot their password, or had none yet, depended on the platform's administrator; the lockout page sent
them to « l'administrateur de votre organisation », a role that does not exist."""

import datetime
import re
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from parcours.services.accounts import account_deactivate, account_state, record_account_change
from roles.actor import Actor
from tests import test_doors as doors
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

GOOD = "Lune-Orange-Chantier-42"
NEW = "Riviere-Ardoise-Velo-97"
EMAIL = "bruno.conseil@example.org"
SAME_ANSWER = "/mot-de-passe/oublie/envoye/"


@pytest.fixture(autouse=True)
def _clean_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def adviser(db):
    user = UserFactory(username="conseiller.b", first_name="Bruno", last_name="Conseil", email=EMAIL)
    user.set_password(GOOD)
    user.save()
    MembershipFactory(user=user, organisation=OrganisationFactory(mission_locale=True), role="adviser")
    return user


def _ask(client, email=EMAIL, **extra):
    return client.post("/mot-de-passe/oublie/", {"email": email}, **extra)


def _link(message) -> str:
    """The path of the reset link in the e-mail (which carries the public address before it)."""
    found = re.search(
        rf"{re.escape(settings.PARCOURS_BASE_URL)}(/mot-de-passe/nouveau/[^/\s]+/[^/\s]+/)", message.body
    )
    assert found, message.body
    return found.group(1)


def test_the_sign_in_page_and_the_lockout_point_to_the_reset(client, db):
    page = client.get("/connexion/").content.decode()
    assert 'href="/mot-de-passe/oublie/"' in page and "Mot de passe oublié ?" in page
    form = client.get("/mot-de-passe/oublie/").content.decode()
    assert '<label class="form-label fw-semibold" for="id_email">Adresse e-mail' in form
    assert 'autocomplete="email"' in form and "<h1" in form and "Mot de passe oublié" in form

    from parcours.doors import lockout_message

    assert "administrateur de votre organisation" not in lockout_message()
    assert "« Mot de passe oublié ? »" in lockout_message() and "administrateur de la plateforme" in lockout_message()


def test_a_reset_from_the_e_mail_to_the_sign_in(client, adviser):
    """The whole path; the other session, the API token and the old password are gone; the link works once."""
    elsewhere = Client()
    assert elsewhere.login(username="conseiller.b", password=GOOD)
    token = APIClient().post("/api/v1/auth/token/", {"username": "conseiller.b", "password": GOOD}).json()["token"]

    response = _ask(client, email="Bruno.Conseil@EXAMPLE.org")  # the address's case does not matter
    assert response.status_code == 302 and response["Location"] == SAME_ANSWER
    done = client.get(SAME_ANSWER).content.decode()
    assert "Si un compte actif a cette adresse" in done

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [EMAIL] and message.subject == "[Parcours] Choisir un nouveau mot de passe"
    assert "Bonjour Bruno," in message.body and "conseiller.b" in message.body and "&#x27;" not in message.body
    assert f"dans les {settings.PASSWORD_RESET_TIMEOUT // 60} minutes" in message.body
    link = _link(message)

    opened = client.get(link)  # Django moves the token out of the address into the session
    assert opened.status_code == 302 and opened["Location"].endswith("/choisir/")
    form = client.get(opened["Location"])
    assert form.status_code == 200 and "Choisir un nouveau mot de passe" in form.content.decode()

    weak = client.post(opened["Location"], {"new_password1": "court-9", "new_password2": "court-9"})
    assert weak.status_code == 200 and "trop court" in weak.content.decode()
    similar = client.post(opened["Location"], {"new_password1": "conseiller.b1", "new_password2": "conseiller.b1"})
    assert "trop semblable" in similar.content.decode()

    saved = client.post(opened["Location"], {"new_password1": NEW, "new_password2": NEW})
    assert saved.status_code == 302 and saved["Location"] == "/mot-de-passe/nouveau/fait/"
    assert "Votre nouveau mot de passe est enregistré" in client.get(saved["Location"]).content.decode()

    adviser.refresh_from_db()
    assert adviser.check_password(NEW)
    assert elsewhere.get("/").status_code == 302  # the other session is signed out
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/organisations/").status_code == 401  # the token is revoked

    assert client.post("/connexion/", {"username": "conseiller.b", "password": GOOD}).status_code == 200
    assert client.post("/connexion/", {"username": "conseiller.b", "password": NEW}).status_code == 302
    client.logout()

    again = client.get(link, follow=True)  # used: refused
    page = again.content.decode()
    assert again.status_code == 200 and "Lien invalide" in page and "a déjà servi" in page


def test_an_unknown_address_gets_the_same_answer_and_no_e_mail(client, adviser):
    known = _ask(client)
    unknown = _ask(client, email="personne@example.org")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"]) == (302, SAME_ANSWER)
    assert [m.to for m in mail.outbox] == [[EMAIL]]


def test_a_malformed_address_is_refused_in_french(client, db):
    response = _ask(client, email="pas-une-adresse")
    assert response.status_code == 200 and "Saisissez une adresse e-mail valide" in response.content.decode()
    assert mail.outbox == []


def test_an_inactive_account_gets_no_e_mail(client, adviser):
    adviser.is_active = False
    adviser.save()
    assert _ask(client)["Location"] == SAME_ANSWER
    assert mail.outbox == []


def test_an_account_without_a_password_sets_its_first_one(client, db):
    """Created in the admin with an e-mail address only (no usable password): the reset is its first password."""
    newcomer = UserFactory(username="nouvelle.recrue", email="recrue@example.org")
    newcomer.set_unusable_password()
    newcomer.save()
    _ask(client, email="recrue@example.org")
    assert len(mail.outbox) == 1
    opened = client.get(_link(mail.outbox[0]))
    client.post(opened["Location"], {"new_password1": NEW, "new_password2": NEW})
    newcomer.refresh_from_db()
    assert newcomer.check_password(NEW)


@pytest.mark.parametrize(
    "path",
    [
        "/mot-de-passe/nouveau/MQ/abc-def/",  # a made-up token
        "/mot-de-passe/nouveau/zzzz/choisir/",  # no token in the session
        "/mot-de-passe/nouveau/%F0%9F%98%80/x/",  # not base64
        "/mot-de-passe/nouveau/OTk5OTk5OTk5OTk5OTk5OTk5OTk5/x/",  # an id beyond any integer column
    ],
)
def test_a_bad_link_is_a_french_page_not_an_error(client, adviser, path):
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    assert "Lien invalide" in page and 'href="/mot-de-passe/oublie/"' in page
    assert client.post(path, {"new_password1": NEW, "new_password2": NEW}).status_code == 200
    adviser.refresh_from_db()
    assert adviser.check_password(GOOD)


def test_an_expired_link_is_refused(client, adviser):
    _ask(client)
    link = _link(mail.outbox[0])
    later = datetime.datetime.now() + datetime.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    with mock.patch.object(PasswordResetTokenGenerator, "_now", return_value=later):
        page = client.get(link, follow=True).content.decode()
    assert "Lien invalide" in page and "expiré" in page


def test_a_link_dies_when_the_password_changes_meanwhile(client, adviser):
    _ask(client)
    link = _link(mail.outbox[0])
    adviser.set_password("Encore-Une-Autre-Phrase-3")
    adviser.save()
    assert "Lien invalide" in client.get(link, follow=True).content.decode()


def test_a_link_dies_when_the_account_is_switched_off_meanwhile(client, adviser):
    """Django's token does not depend on the account being on: the password chosen through a link sent before the
    account was switched off would be the one live the day it is switched back on."""
    _ask(client)
    link = _link(mail.outbox[0])
    account_deactivate(actor=Actor.system(), user=adviser)
    page = client.get(link, follow=True)
    assert "Lien invalide" in page.content.decode()
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else link
    client.post(form_url, {"new_password1": NEW, "new_password2": NEW})
    adviser.refresh_from_db()
    assert adviser.check_password(GOOD) and not adviser.check_password(NEW)
    # Switched back on (in the admin, journaled as it is there), the link sent before stays dead.
    before = account_state(adviser)
    adviser.is_active = True
    adviser.save(update_fields=["is_active"])
    record_account_change(actor=Actor.system(), user_id=adviser.pk, before=before, after=account_state(adviser))
    assert "Lien invalide" in Client().get(link, follow=True).content.decode()
    # A link asked for now works.
    mail.outbox.clear()
    _ask(Client())
    assert "Lien invalide" not in Client().get(_link(mail.outbox[0]), follow=True).content.decode()


def test_requests_are_limited_per_e_mail_address(client, adviser):
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7"):
        response = _ask(client, REMOTE_ADDR=address)
        assert (response.status_code, response["Location"]) == (302, SAME_ANSWER)
    assert len(mail.outbox) == settings.PASSWORD_RESET_LIMIT == 5


def test_requests_are_limited_per_client_address(client, adviser):
    for n in range(settings.PASSWORD_RESET_LIMIT):
        assert _ask(client, email=f"inconnu{n}@example.org")["Location"] == SAME_ANSWER
    assert _ask(client)["Location"] == SAME_ANSWER  # the known address, from the same client: over the limit
    assert mail.outbox == []
    assert _ask(client, REMOTE_ADDR="192.0.2.7")["Location"] == SAME_ANSWER  # another client may
    assert len(mail.outbox) == 1


def test_the_limit_holds_in_the_database_cache(settings, client, adviser):
    """Without REDIS_URL the counters are rows of the cache table, their window kept (its increment would reset it)."""
    from django.core.management import call_command

    settings.CACHES = doors.DATABASE_CACHE
    doors._reset_cache_handlers()
    call_command("createcachetable", verbosity=0)
    try:
        for _ in range(settings.PASSWORD_RESET_LIMIT + 2):
            assert _ask(client)["Location"] == SAME_ANSWER
        assert len(mail.outbox) == settings.PASSWORD_RESET_LIMIT
        later = datetime.datetime.now(datetime.UTC) + settings.PASSWORD_RESET_WINDOW + datetime.timedelta(seconds=5)
        with mock.patch("django.utils.timezone.now", return_value=later):
            assert _ask(client)["Location"] == SAME_ANSWER  # a new window
        assert len(mail.outbox) == settings.PASSWORD_RESET_LIMIT + 1
    finally:
        doors._reset_cache_handlers()


@pytest.mark.redis
def test_the_limit_holds_in_redis(settings, client, adviser):
    import os

    from django.core.cache.backends.redis import RedisCache

    url = os.environ["REDIS_URL"]
    prefix = f"reset-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url, "KEY_PREFIX": prefix}
    }
    doors._reset_cache_handlers()
    try:
        for _ in range(settings.PASSWORD_RESET_LIMIT + 2):
            assert _ask(client)["Location"] == SAME_ANSWER
        assert len(mail.outbox) == settings.PASSWORD_RESET_LIMIT
        keys = RedisCache(url, {"KEY_PREFIX": prefix})._cache.get_client().keys(f"{prefix}:*parcours-reset*")
        assert keys and all(0 < RedisCache(url, {})._cache.get_client().ttl(k) <= 3600 for k in keys)
    finally:
        client_ = RedisCache(url, {})._cache.get_client()
        for key in client_.keys(f"{prefix}:*"):
            client_.delete(key)
        doors._reset_cache_handlers()


def test_a_failing_mail_server_is_no_500_and_tells_nothing(client, adviser, settings, caplog):
    with mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("relay down")):
        response = _ask(client)
    assert (response.status_code, response["Location"]) == (302, SAME_ANSWER)
    assert "Failed to send password reset email" in caplog.text

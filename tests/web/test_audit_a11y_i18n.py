"""Accessibility and translation defects of an audit (RGAA 4.1 / WCAG 2.1 AA): French left in the English interface
(sign-in, password change, lockout, transition pages, the live parts' texts, a referral's message); a stale closing
page whose summary points to the referrals it cancels; one coherent lockout page after wrong current passwords; the
hand-over's confirmation step with its own title; « Comptes et droits » paged titles and empty count; the account
menu's name; the statement's caption on phones; the messages after a redirect taking the focus."""

import datetime
import html
import pathlib
import re
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from parcours.models import JobOffer
from parcours.services import participants, referrals
from roles.enums import Role
from tests.factories import MembershipFactory
from tests.web.test_referent_pages import colleague
from tests.web.test_stale_forms import listed_of, second_offer, seen_of

TITLE = re.compile(r"<title>(.*?)</title>", re.S)


@pytest.fixture(autouse=True)
def _clean_counters():
    cache.clear()  # the sign-in lockout's counters
    yield
    cache.clear()


def text(response) -> str:
    return html.unescape(response.content.decode())


def title(body: str) -> str:
    return html.unescape(TITLE.search(body)[1]).strip()


def in_english(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    return client


def login(client, username="conseillere"):
    assert client.login(username=username, password="demo")
    return client


def wrong_change(client):
    return client.post(
        reverse("password_change"),
        {
            "old_password": "pas-le-bon",
            "new_password1": "Riviere-Ardoise-Velo-97",
            "new_password2": "Riviere-Ardoise-Velo-97",
        },
    )


# --- 1. The English interface speaks English --------------------------------------------------------------------
def test_the_sign_in_page_in_english(site, client):
    body = text(in_english(client).get(reverse("login")))
    assert 'lang="en"' in body and title(body) == "Sign in · Parcours"
    for english in (
        '<h1 class="h3">Sign in</h1>',
        ">Username <",
        ">Password <",
        "Log in</button>",
        "Forgotten password?",
    ):
        assert english in body, english
    for french in ("Connexion", "Identifiant", "Mot de passe", "Se connecter", "suivi des parcours"):
        assert french not in body, french
    refused = text(client.post(reverse("login"), {"username": "conseillere", "password": "pas-le-bon"}))
    assert title(refused) == "Error: Sign in · Parcours"
    assert "Incorrect username or password." in refused and "Le formulaire" not in refused


def test_the_password_change_page_in_english(site, client):
    body = text(in_english(login(client)).get(reverse("password_change")))
    assert title(body) == "Change password · Parcours"
    assert "Changer de mot de passe" not in body and ">Enregistrer<" not in body and ">Save</button>" in body
    refused = text(wrong_change(client))
    assert title(refused) == "Error: Change password · Parcours"


def test_the_lockout_page_in_english(site, client, settings):
    settings.AXES_COOLOFF_TIME = datetime.timedelta(minutes=7)
    in_english(client)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(reverse("login"), {"username": "conseillere", "password": "pas-le-bon"})
    body = text(response)
    assert response.status_code == 429
    assert title(body) == "Error: Sign-in blocked · Parcours"
    assert "Sign-in temporarily blocked" in body and "try again in 7 minutes" in body
    for french in ("Connexion", "bloquée", "Trop de tentatives", "réessayez", "Mot de passe oublié"):
        assert french not in body, french


def test_the_transition_page_cancel_link_and_the_live_texts_in_english(site, client):
    pathway = site.participant().pathways.get()
    body = text(in_english(login(client)).get(reverse("transition", args=["pathway", pathway.pk, "withdraw"])))
    assert re.search(r'<a class="btn btn-outline-secondary" href="[^"]*">Cancel</a>', body)
    assert ">Annuler<" not in body
    # The task badge's wording and the close button of live announcements, for parcours.js.
    assert 'data-label="{inbox} task(s) of mine, {queue} to take"' in body
    assert 'data-close-label="Close"' in body
    french = text(in_french(client).get(reverse("home")))
    assert 'data-label="{inbox} tâche(s) à moi, {queue} à prendre"' in french and 'data-close-label="Fermer"' in french


def in_french(client):
    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    return client


def test_parcours_js_takes_its_texts_from_the_page():
    script = pathlib.Path(settings.BASE_DIR, "static/js/parcours.js").read_text()
    assert 'badge.getAttribute("data-label")' in script and 'box.getAttribute("data-close-label")' in script
    assert '" tâche(s) à moi, "' not in script


def test_a_referral_is_confirmed_in_english(site, client):
    pathway = site.participant().pathways.get()
    offer = second_offer(site, title="Plaquiste")
    in_english(login(client))
    response = client.post(
        reverse("adviser:referral_create", args=[offer.pk]), {"pathway": pathway.pk, "motivation": ""}, follow=True
    )
    body = text(response)
    assert "Referral to “Plaquiste” sent to the facilitation organisation." in body
    assert "envoyé à la structure porteuse" not in body
    assert JobOffer.objects.filter(pk=offer.pk).exists()


def test_a_referral_is_confirmed_in_french_by_default(site, client):
    pathway = site.participant().pathways.get()
    offer = second_offer(site, title="Plaquiste")
    response = login(client).post(
        reverse("adviser:referral_create", args=[offer.pk]), {"pathway": pathway.pk}, follow=True
    )
    assert "Positionnement sur « Plaquiste » envoyé à la structure porteuse." in text(response)


# --- 2. A stale closing page: the summary points to the referrals it cancels ------------------------------------
def test_a_stale_closing_page_summary_points_to_the_referrals_it_cancels(site, client):
    pathway = site.participant().pathways.get()
    url = reverse("transition", args=["pathway", pathway.pk, "withdraw"])
    body = text(login(client).get(url))
    assert 'id="referrals-cancelled"' in body
    assert "Cette action annulera aussi" not in body  # nothing refused yet: no summary
    referrals.referral_create(actor=site.adviser, pathway=pathway, offer=second_offer(site))
    response = client.post(url, {"reason": "Déménagement", "seen": seen_of(body), "listed": listed_of(body)})
    again = text(response)
    assert response.status_code == 409
    summary = re.search(
        r"<div class=\"alert alert-danger error-summary\"[^>]*data-error-summary>.*?</div>", again, re.S
    )
    assert summary, "no error summary"
    assert "Ce dossier a changé depuis l'ouverture de cette page" in summary[0]
    assert (
        'Cette action annulera aussi les <a class="alert-link" href="#referrals-cancelled">positionnements en cours '
        "listés ci-dessus</a>." in summary[0]
    )
    listing = re.search(r'<div class="alert alert-warning"[^>]*id="referrals-cancelled"[^>]*>.*?</div>', again, re.S)
    assert listing and "Coffreur·se" in listing[0]


def test_a_refused_page_without_referrals_to_cancel_says_nothing_of_them(site, client):
    participant = site.participant()
    pathway = participant.pathways.get()
    url = reverse("transition", args=["pathway", pathway.pk, "withdraw"])
    body = text(login(client).get(url))
    response = client.post(url, {"reason": "", "seen": seen_of(body), "listed": listed_of(body)})
    assert response.status_code == 400
    # With a list on the page, a refusal of any kind points to it; a page without one says nothing of it.
    assert "Cette action annulera aussi" in text(response)
    referral = site.participant().pathways.get().referrals.get()
    client.logout()
    login(client, "facilitateur")
    response = client.post(reverse("transition", args=["referral", referral.pk, "decline"]), {"reason": ""})
    assert response.status_code == 400 and "data-error-summary" in text(response)
    assert "Cette action annulera aussi" not in text(response) and 'id="referrals-cancelled"' not in text(response)


# --- 3. The lockout reached from the password change: one coherent message --------------------------------------
def test_the_last_wrong_current_password_shows_one_coherent_lockout(site, client, settings):
    settings.AXES_COOLOFF_TIME = datetime.timedelta(minutes=7)
    login(client)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert wrong_change(client).status_code == 200
    response = wrong_change(client)
    body = text(response)
    assert response.status_code == 429 and "_auth_user_id" not in client.session
    assert title(body) == "Erreur : Connexion bloquée · Parcours"
    assert body.count('role="alert"') == 1
    alert = re.search(r'<div class="alert alert-danger" role="alert">(.*?)</div>', body, re.S)[1]
    assert "vous avez été déconnecté·e" in alert and "bloquée pendant 7 minutes" in alert
    assert "Reconnectez-vous" not in body and "15 minutes" not in body
    assert '<div class="card card-body"' in body
    # Reached by the sign-in page: the same title, the same duration.
    locked = client.post(reverse("login"), {"username": "conseillere", "password": "demo"})
    body = text(locked)
    assert locked.status_code == 429 and title(body) == "Erreur : Connexion bloquée · Parcours"
    assert "réessayez dans 7 minutes" in body and body.count('role="alert"') == 1


def test_a_one_minute_lockout_is_said_in_the_singular(site, client, settings):
    settings.AXES_COOLOFF_TIME = datetime.timedelta(minutes=1)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(reverse("login"), {"username": "conseillere", "password": "pas-le-bon"})
    assert "réessayez dans 1 minute." in text(response)


# --- 4. The hand-over's confirmation step ------------------------------------------------------------------------
def test_the_hand_over_confirmation_has_its_own_title_and_says_what_happens_first(site, client):
    leaver = colleague(site, "Paul", "Depart")
    heir = colleague(site, "Lina", "Relais")
    participant = site.participant()
    participants.participant_change_referent(actor=site.adviser, participant=participant, adviser=leaver.user)
    url = reverse("adviser:hand_over")
    first = text(login(client).get(url))
    assert title(first) == "Transmettre les dossiers d'un·e collègue · Parcours"
    body = text(client.post(url, {"from_adviser": str(leaver.user.pk), "to_adviser": str(heir.user.pk)}))
    expected = "Confirmer la transmission des dossiers de Paul Depart à Lina Relais"
    assert title(body) == f"{expected} · Parcours"
    heading = re.search(r"<h1[^>]*>(.*?)</h1>\s*<p([^>]*)>(.*?)</p>", body, re.S)
    assert heading[1] == expected
    assert heading[3] == "1 dossier ouvert de Paul Depart va être transmis à Lina Relais."
    assert "role=" not in heading[2]  # read in order after the heading, not a status region present at load


# --- 5. « Comptes et droits »: paged titles, an empty count ------------------------------------------------------
def dpo_client(site, client):
    dpo = MembershipFactory(organisation=site.ml, role=Role.DPO)
    client.force_login(dpo.user)
    return client


def test_the_rights_log_says_its_page_in_the_title_and_no_zero_count(site, client, monkeypatch):
    from parcours.web import data_protection

    url = reverse("dataprotection:rights_log")
    body = text(dpo_client(site, client).get(url))
    assert title(body) == "Comptes et droits · Parcours"
    assert "Aucun événement." in body and "0 événement" not in body
    rows = [
        SimpleNamespace(
            occurred_at=None, actor_user=SimpleNamespace(username="admin"), subject="s", label="l", detail="d"
        )
        for _ in range(3)
    ]
    monkeypatch.setattr(data_protection, "PAGE_SIZE", 2)
    monkeypatch.setattr(data_protection.dp, "rights_log_for", lambda actor: rows)
    monkeypatch.setattr(data_protection.dp, "describe_rights_events", lambda events: list(events))
    assert title(text(client.get(url))) == "Comptes et droits · Parcours"
    second = text(client.get(url, {"page": 2}))
    assert title(second) == "Comptes et droits — page 2 · Parcours" and "3 événements" in second
    english = text(in_english(client).get(url, {"page": 2}))
    assert title(english).endswith("— page 2 · Parcours")


# --- 6. The account menu is named as such ------------------------------------------------------------------------
def test_the_account_menu_button_says_what_it_is(site, client):
    body = text(login(client).get(reverse("home")))
    assert re.search(
        r'data-bs-toggle="dropdown"[^>]*><span class="visually-hidden">Menu du compte : </span>Conseillere</button>',
        body,
    )
    assert '<span class="visually-hidden">Account menu: </span>' in text(in_english(client).get(reverse("home")))


# --- 7. The statement's caption on phones -----------------------------------------------------------------------
def test_a_cards_table_caption_takes_the_full_width_on_phones():
    css = pathlib.Path(settings.BASE_DIR, "static/css/parcours.css").read_text()
    phones = css.split("@media (max-width: 575.98px) {")[1].split("\n}")[0]
    assert "table.table-cards caption { display:block; width:100%; }" in phones


# --- 8. The messages after a redirect take the focus (unless the page has an error) ------------------------------
MESSAGES = re.compile(r'<div id="messages"([^>]*)>')


def test_a_success_message_after_a_redirect_takes_the_focus(site, client):
    pathway = site.participant().pathways.get()
    offer = second_offer(site, title="Plaquiste")
    response = login(client).post(
        reverse("adviser:referral_create", args=[offer.pk]), {"pathway": pathway.pk}, follow=True
    )
    body = response.content.decode()
    assert MESSAGES.search(body)[1] == ' tabindex="-1" autofocus'
    assert 'role="status">Positionnement sur' in body  # still a status (the browser tests find it by its role)
    assert body.count(" autofocus") == 1
    # Without messages, no container.
    assert 'id="messages"' not in client.get(reverse("home")).content.decode()


def test_an_error_message_leaves_the_focus_alone(site, client):
    referral = site.participant().pathways.get().referrals.get()
    login(client, "facilitateur")
    url = reverse("referral_detail", args=[referral.pk])
    for name in ("start_review", "approve", "forward"):
        client.post(reverse("transition", args=["referral", referral.pk, name]), {"next": url})
    response = client.post(
        reverse("transition", args=["referral", referral.pk, "forward"]), {"next": url}, follow=True
    )
    body = response.content.decode()
    assert title(body).startswith("Erreur : ") and 'role="alert"' in body
    assert MESSAGES.search(body)[1] == ""

"""In a real browser: signing in, each role's home page, and the partitioning of participant files.

One demo world per test (seeding costs seconds): each test walks several pages."""

import re

import pytest
from django.db.models import Count
from playwright.sync_api import expect

from parcours.management.commands.seed_demo import EMPLOYER_1, ML_A
from parcours.models import Participant, Referral

pytestmark = pytest.mark.e2e

HOMES = [
    # login, the heading of its home page, an entry of its menu
    ("conseillere", "Mes jeunes", "Jeunes"),
    ("facilitateur", None, "Positionnements"),
    ("employeur", "Recrutements en clause", "Candidatures"),
    ("auditeur", None, "Parcours"),
]
NO_MATCH = "Aucun·e jeune ne correspond à la recherche."


def _menu(page):
    return page.get_by_role("navigation", name="Navigation principale").get_by_role("list").first


def test_sign_in_and_each_role_home_page(browser, demo, login, shot):
    context = browser.new_context(base_url=demo.url, locale="fr-FR")
    try:
        page = context.new_page()
        page.goto("/")
        expect(page).to_have_url(re.compile(r"/connexion/\?next=/$"))
        shot(page, "00-login")
        page.get_by_label("Identifiant").fill("conseillere")
        page.get_by_label("Mot de passe").fill("pas-le-bon")
        page.get_by_role("button", name="Se connecter").click()
        expect(page.get_by_text("Identifiant ou mot de passe incorrect.")).to_be_visible()
        shot(page, "00-login-refused")
    finally:
        context.close()

    for username, heading, menu in HOMES:
        page = login(username)
        expect(page).to_have_url(re.compile(r"/$"))
        if heading:
            expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        expect(_menu(page).get_by_role("link", name=menu, exact=True)).to_be_visible()
        shot(page, f"01-home-{username}")


def _hired_by_employer_1():
    """A participant of Mission Locale A hired by the employer `employeur`: the employer sees the candidate,
    never the file; with a last name no other participant has (the search below is by last name)."""
    unique = (
        Participant.objects.values("last_name").annotate(n=Count("pk")).filter(n=1).values_list("last_name", flat=True)
    )
    referral = (
        Referral.objects.filter(
            state="hired",
            offer__lot__awardee__name=EMPLOYER_1,
            pathway__participant__youth_agency__name=ML_A,
            pathway__participant__last_name__in=list(unique),
        )
        .select_related("pathway__participant")
        .order_by("pk")
        .first()
    )
    assert referral is not None, "seed_demo has no hire by Bâtir Rhône Construction"
    return referral, referral.pathway.participant


def _search(page, text):
    search = page.get_by_role("search", name="Rechercher un·e jeune")
    search.get_by_label("Nom, prénom ou identifiant i-milo").fill(text)
    search.get_by_role("button", name="Rechercher").click()
    expect(page).to_have_url(re.compile(r"[?&]q="))


def test_participant_files_are_partitioned(login, shot):
    referral, participant = _hired_by_employer_1()
    file_url = f"/participants/{participant.pk}/"
    row_name = f"{participant.last_name.upper()} {participant.first_name}"

    # Adviser A finds the young person and opens the file.
    adviser = login("conseillere")
    adviser.goto("/conseil/jeunes/")
    _search(adviser, participant.last_name)
    expect(adviser.get_by_role("link", name=row_name)).to_be_visible()
    shot(adviser, "80-adviser-a-search")
    adviser.get_by_role("link", name=row_name).click()
    expect(adviser).to_have_url(re.compile(re.escape(file_url) + "$"))
    expect(adviser.get_by_role("heading", level=1)).to_have_text(
        f"{participant.first_name} {participant.last_name.upper()}"
    )

    # Adviser B (another Mission Locale): the search finds nothing, the direct URL is not found.
    adviser_b = login("conseiller.b")
    _menu(adviser_b).get_by_role("link", name="Jeunes", exact=True).click()
    _search(adviser_b, participant.last_name)
    expect(adviser_b.get_by_text(NO_MATCH)).to_be_visible()
    expect(adviser_b.get_by_role("link", name=row_name)).to_have_count(0)
    shot(adviser_b, "81-adviser-b-search-finds-nothing")
    response = adviser_b.goto(file_url)
    assert response.status == 404
    expect(adviser_b.get_by_text(participant.last_name)).to_have_count(0)
    shot(adviser_b, "82-adviser-b-participant-404")

    # The employer sees its candidate (name, offer) but not the file.
    employer = login("employeur")
    employer.goto(f"/positionnements/{referral.pk}/")
    expect(employer.get_by_role("heading", level=1)).to_contain_text(participant.first_name)
    expect(employer.get_by_role("link", name="Ouvrir le dossier")).to_have_count(0)
    expect(employer.get_by_text(participant.birth_date.strftime("%d/%m/%Y"))).to_have_count(0)
    shot(employer, "83-employer-candidate-without-file")
    response = employer.goto(file_url)
    assert response.status == 404
    expect(employer.get_by_text(participant.last_name)).to_have_count(0)
    shot(employer, "84-employer-participant-404")

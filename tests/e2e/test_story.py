"""The whole story of one young person, in a real browser, each step by the role that owns it.

Adviser registers → submits eligibility → facilitator validates it → adviser refers to an offer → facilitator
reviews, approves, forwards → employer accepts, confirms the hire and starts the contract → adviser records a
follow-up and the exit → the auditor reads the complete timeline. Then the database is checked: every step
went through the services (journal events, chains intact).
"""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from parcours.audit import verify_journal
from parcours.models import Participant
from workflows.models import JournalEvent

pytestmark = pytest.mark.e2e

FIRST, LAST = "Noémie", "Vasseur"  # not among seed_demo's people
ROW_NAME = f"{LAST.upper()} {FIRST}"  # how the lists name a young person
OFFER = "Aide-maçon·ne"  # seed_demo: lot "Gros œuvre" of Bâtir Rhône Construction (login employeur)
CRITERION = "Jeune de moins de 26 ans sans qualification (niveau 3 au plus)"
FOLLOW_UP_NOTE = "Point d'étape avant la prise de poste : EPI fournis, trajet organisé."
EXIT_DETAIL = "CDD de 6 mois chez Bâtir Rhône Construction"

# Every transition of the story, as the timeline names it (workflows/transitions.py labels).
TIMELINE_ACTIONS = [
    "Soumettre l'éligibilité",
    "Valider l'éligibilité",
    "Prendre en examen",
    "Valider le positionnement",
    "Transmettre à l'employeur",
    "Retenir la candidature",
    "Confirmer l'embauche",
    "Démarrer le contrat",
    "Suivi enregistré",
    "Enregistrer la sortie",
]


def _menu(page, label):
    navigation = page.get_by_role("navigation", name="Navigation principale")
    toggler = navigation.get_by_role("button", name="Menu")
    page.wait_for_load_state("load")  # the stylesheets decide whether the toggler shows: not before they apply
    if toggler.is_visible():  # phone width: the menu is folded behind its button
        toggler.click()
    menu = navigation.get_by_role("list").first
    menu.get_by_role("link", name=label, exact=True).click()


def _status(page, text):
    expect(page.get_by_role("status").filter(has_text=text)).to_be_visible()


def _pathway_badge(page, label):
    expect(page.get_by_role("region", name="Parcours").locator("[data-state]").first).to_have_text(label)


def _referral_state(page, label):
    expect(page.locator("dl").get_by_text(label, exact=True).first).to_be_visible()


def _click_action(page, label):
    page.get_by_role("button", name=label, exact=True).click()
    _status(page, f"Action « {label} » enregistrée pour {FIRST} {LAST}.")


# The elements sticking out on the right, outside a region that scrolls on its own (for the failure message).
WIDER_THAN_THE_PAGE = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .filter(e => !e.parentElement.closest('.table-responsive'))
  .slice(0, 8).map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px`)"""


@pytest.fixture(params=[1366, 390], ids=["desktop", "phone"])
def width(request):
    return request.param


@pytest.fixture
def at_width(login, shot, width):
    """`login` and `shot` at the test's width (the phone run saves its screenshots as phone-*)."""

    def sign_in(username):
        page = login(username)
        page.set_viewport_size({"width": width, "height": 900})
        return page

    def save(page, name):
        # A step's expectation holds once the DOM is parsed; the stylesheets may still be loading (document
        # 'interactive', Bootstrap not yet among document.styleSheets): measured then, every table sticks out.
        page.wait_for_load_state("load")
        if width < 576:
            # Nothing may stick out sideways: wide tables become cards or scroll inside their own region.
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= width, f"{name}: wider than the phone {page.evaluate(WIDER_THAN_THE_PAGE)}"
        shot(page, name if width >= 576 else f"phone-{name}")

    return sign_in, save


def test_the_whole_story_in_the_browser(at_width):
    login, shot = at_width
    today = timezone.localdate()

    # --- Adviser: intake -----------------------------------------------------------------------------------
    adviser = login("conseillere")
    _menu(adviser, "Jeunes")
    expect(adviser.get_by_role("heading", level=1)).to_have_text("Jeunes suivis")
    shot(adviser, "10-adviser-participants")
    adviser.get_by_role("link", name="Inscrire un·e jeune").click()
    adviser.get_by_role("textbox", name="Prénom", exact=True).fill(FIRST)
    adviser.get_by_role("textbox", name="Nom", exact=True).fill(LAST)
    adviser.get_by_label("Date de naissance").fill("2006-03-14")
    adviser.get_by_label("Code postal").fill("69200")
    adviser.get_by_label("Commune").fill("Vénissieux")
    adviser.get_by_label("Niveau de qualification").select_option(label="Sans diplôme (infra niveau 3)")
    adviser.get_by_label("Dispositif").select_option(label="Contrat d'engagement jeune (CEJ)")
    adviser.get_by_label("Courriel").fill("noemie.vasseur@example.org")
    shot(adviser, "11-adviser-intake-form")
    adviser.get_by_role("button", name="Enregistrer", exact=True).click()
    expect(adviser.get_by_role("heading", level=1)).to_have_text(f"{FIRST} {LAST.upper()}")
    _status(adviser, "est inscrit·e")
    _pathway_badge(adviser, "Accueil")
    participant = Participant.objects.get(first_name=FIRST, last_name=LAST)
    file_url = f"/participants/{participant.pk}/"
    expect(adviser).to_have_url(re.compile(re.escape(file_url) + "$"))
    shot(adviser, "12-adviser-participant-file")

    # --- Adviser: eligibility submission ---------------------------------------------------------------------
    adviser.get_by_role("link", name="Soumettre l'éligibilité").click()
    adviser.get_by_label(CRITERION).check()
    shot(adviser, "13-adviser-submit-eligibility")
    adviser.get_by_role("button", name="Soumettre l'éligibilité").click()
    _status(adviser, "Éligibilité soumise")
    _pathway_badge(adviser, "Éligibilité à valider")
    shot(adviser, "14-adviser-eligibility-submitted")

    # --- Facilitator: eligibility validation -----------------------------------------------------------------
    facilitator = login("facilitateur")
    _menu(facilitator, "Éligibilité")
    shot(facilitator, "20-facilitator-eligibility-queue")
    facilitator.get_by_role("link", name=f"Examiner {FIRST} {LAST}").click()
    expect(facilitator.get_by_role("heading", level=1)).to_contain_text(f"Éligibilité de {FIRST}")
    facilitator.get_by_label(f"Justificatif vu — {CRITERION}").select_option(label="Pièce d'identité")
    facilitator.get_by_label(f"Vu le — {CRITERION}").fill(today.isoformat())
    shot(facilitator, "21-facilitator-validate-eligibility")
    facilitator.get_by_role("button", name="Valider l'éligibilité").click()
    _status(facilitator, f"Éligibilité validée pour {FIRST}")
    expect(facilitator.get_by_role("link", name=f"Examiner {FIRST} {LAST}")).to_have_count(0)

    # --- Adviser: referral to an offer -----------------------------------------------------------------------
    adviser.goto(file_url)
    _pathway_badge(adviser, "Éligible")
    adviser.get_by_role("link", name="Positionner sur une offre").click()
    expect(adviser.get_by_role("status").filter(has_text=f"Positionnement de {FIRST}")).to_be_visible()
    shot(adviser, "30-adviser-offers")
    offer_row = adviser.get_by_role("row").filter(has=adviser.get_by_role("rowheader", name=OFFER, exact=True))
    offer_row.get_by_role("textbox").fill("Motivée par les métiers du gros œuvre, disponible tout de suite.")
    offer_row.get_by_role("button", name="Positionner").click()
    _status(adviser, f"Positionnement sur « {OFFER} » envoyé")
    _pathway_badge(adviser, "Positionné·e")
    expect(adviser.get_by_role("region", name="Positionnements")).to_contain_text("Envoyé")
    shot(adviser, "31-adviser-referred")

    # --- Facilitator: review, approve, forward ---------------------------------------------------------------
    facilitator.reload()
    _menu(facilitator, "Positionnements")
    shot(facilitator, "40-facilitator-referrals")
    facilitator.get_by_role("link", name=ROW_NAME).click()
    expect(facilitator.get_by_role("heading", level=1)).to_have_text(f"Positionnement — {FIRST} {LAST.upper()}")
    _referral_state(facilitator, "Envoyé")
    shot(facilitator, "41-facilitator-referral")
    _click_action(facilitator, "Prendre en examen")
    _referral_state(facilitator, "En examen")
    _click_action(facilitator, "Valider le positionnement")
    _referral_state(facilitator, "Validé par le facilitateur")
    _click_action(facilitator, "Transmettre à l'employeur")
    _referral_state(facilitator, "Transmis à l'employeur")
    shot(facilitator, "42-facilitator-referral-forwarded")

    # --- Employer: accept, confirm the hire ------------------------------------------------------------------
    employer = login("employeur")
    _menu(employer, "Candidatures")
    expect(employer.get_by_role("link", name=ROW_NAME)).to_be_visible()
    shot(employer, "50-employer-candidates")
    employer.get_by_role("link", name=ROW_NAME).click()
    _referral_state(employer, "Transmis à l'employeur")
    expect(employer.get_by_role("link", name="Ouvrir le dossier")).to_have_count(0)
    expect(employer.get_by_text("14/03/2006")).to_have_count(0)  # no birth date for the employer
    _click_action(employer, "Retenir la candidature")
    _referral_state(employer, "Retenu par l'employeur")
    shot(employer, "51-employer-candidate-accepted")
    employer.get_by_role("link", name="Confirmer l'embauche").click()
    employer.get_by_label("Type de contrat").select_option(label="CDD")
    employer.get_by_label("Date de début").fill(today.isoformat())
    employer.get_by_label("Date de fin prévue").fill((today + datetime.timedelta(days=182)).isoformat())
    employer.get_by_label("Durée hebdomadaire (heures)").fill("35")
    shot(employer, "52-employer-hire-form")
    employer.get_by_role("button", name="Confirmer l'embauche").click()
    _status(employer, f"Action « Confirmer l'embauche » enregistrée pour {FIRST} {LAST}.")
    _referral_state(employer, "Embauché·e")
    expect(employer.get_by_role("region", name="Mise en poste")).to_contain_text("Prévue")
    shot(employer, "53-employer-hired")
    _click_action(employer, "Démarrer le contrat")
    expect(employer.get_by_role("region", name="Mise en poste")).to_contain_text("En cours")
    _menu(employer, "Salarié·es")
    expect(employer.get_by_text(LAST.upper(), exact=False).first).to_be_visible()
    shot(employer, "54-employer-placements")

    # --- Adviser: follow-up and exit -------------------------------------------------------------------------
    adviser.goto(file_url)
    _pathway_badge(adviser, "En poste")
    adviser.get_by_role("link", name="Enregistrer un suivi").click()
    adviser.get_by_label("Type de suivi").select_option(label="Point d'étape")
    expect(adviser.get_by_role("textbox", name="Date", exact=True)).to_have_value(today.isoformat())
    adviser.get_by_label("Note factuelle (facultatif)").fill(FOLLOW_UP_NOTE)
    shot(adviser, "60-adviser-follow-up-form")
    adviser.get_by_role("button", name="Enregistrer un suivi").click()
    _status(adviser, "Suivi enregistré.")
    expect(adviser.get_by_role("region", name="Suivis")).to_contain_text(FOLLOW_UP_NOTE)
    adviser.get_by_role("link", name="Enregistrer la sortie").click()
    adviser.get_by_label("Date de sortie").fill(today.isoformat())
    adviser.get_by_label("Situation à la sortie").select_option(label="Emploi — CDD ou intérim de 6 mois et plus")
    adviser.get_by_label("Précision (type de contrat, employeur…)").fill(EXIT_DETAIL)
    shot(adviser, "61-adviser-exit-form")
    adviser.get_by_role("button", name="Enregistrer la sortie").click()
    _status(adviser, f"Action « Enregistrer la sortie » enregistrée pour {FIRST} {LAST}.")
    _pathway_badge(adviser, "Sorti·e")
    shot(adviser, "62-adviser-exited")

    # --- Auditor: the pseudonymised file and its history --------------------------------------------------------
    auditor = login("auditeur")
    _menu(auditor, "Parcours")
    pseudonym = participant.pseudonym
    auditor.get_by_role("search").get_by_label("Pseudonyme (P-000123)").fill(pseudonym)
    auditor.get_by_role("search").get_by_role("button", name="Rechercher").click()
    row = auditor.get_by_role("row").filter(has=auditor.get_by_role("link", name=pseudonym, exact=True))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Sorti·e")
    expect(auditor.get_by_text(LAST.upper())).to_have_count(0)
    shot(auditor, "70-auditor-pathways")
    row.get_by_role("link", name=pseudonym, exact=True).click()
    expect(auditor.get_by_role("heading", level=1)).to_have_text(f"Dossier {pseudonym}")
    expect(auditor.get_by_text(LAST, exact=False)).to_have_count(0)
    history = auditor.get_by_role("region", name="Historique")
    for action in TIMELINE_ACTIONS:
        expect(history.locator("td[data-action]").filter(has_text=action).first).to_be_visible()
    # Who acted: the organisation and the role, not the professional's name (a buyer audits clauses, not people).
    for role in ("Conseiller·ère", "Facilitateur·rice", "Employeur"):
        expect(history.get_by_role("cell").filter(has_text=f"{role} (").first).to_be_visible()
    expect(history.get_by_text("nom non communiqué").first).to_be_visible()
    for who in ("Claire Dumont", "Julien Morin", "Sophie Lacroix"):
        expect(history.get_by_text(who)).to_have_count(0)
    expect(auditor.get_by_role("button", name="Enregistrer la sortie")).to_have_count(0)
    expect(auditor.get_by_role("link", name="Enregistrer un suivi")).to_have_count(0)
    shot(auditor, "71-auditor-timeline")
    with auditor.expect_download() as download_info:
        auditor.get_by_role("link", name="Exporter (CSV)").click()
    csv_text = download_info.value.path().read_text(encoding="utf-8-sig")
    for action in TIMELINE_ACTIONS:
        assert action in csv_text, f"{action!r} missing from the CSV export"
    assert LAST not in csv_text and "Claire Dumont" not in csv_text

    # --- Adviser: who consulted the file, and the young person's subject-access export -------------------------
    adviser.goto(file_url)
    accesses = adviser.get_by_role("region", name="Données personnelles")
    expect(accesses.get_by_role("cell", name="Auditeur·rice").first).to_be_visible()
    shot(adviser, "63-adviser-data-protection")
    with adviser.expect_download() as download_info:
        accesses.get_by_role("link", name="Droit d'accès : toutes ses données (PDF)").click()
    assert download_info.value.path().read_bytes().startswith(b"%PDF")

    # --- Data-protection officer: the access log -------------------------------------------------------------
    dpo = login("dpo")
    _menu(dpo, "Consultations des dossiers")
    expect(dpo.get_by_role("cell", name=pseudonym).first).to_be_visible()
    shot(dpo, "80-dpo-access-log")

    # --- Every step went through the services ----------------------------------------------------------------
    pathway = participant.pathways.get()
    assert pathway.state == "exited"
    referral = pathway.referrals.get()
    assert referral.state == "hired" and referral.offer.title == OFFER
    actions = set(
        JournalEvent.objects.filter(object_type="referral", object_id=referral.pk).values_list("action", flat=True)
    )
    assert {"start_review", "approve", "forward", "accept", "hire"} <= actions
    assert verify_journal().ok

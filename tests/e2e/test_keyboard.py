"""The main story with the keyboard only: Tab (and Shift+Tab) to move, Enter and Space to act, typing into fields;
never a mouse click, never a programmatic click or fill.

The adviser signs in, skips the menu with the skip link, registers a young person and submits the eligibility;
the employer answers a candidate forwarded to it. At each stop, the focused element must show its focus (an
outline or Bootstrap's focus ring)."""

import re

import pytest
from playwright.sync_api import expect

from parcours.models import Participant, Referral
from tests.e2e.conftest import PASSWORD, TIMEOUT_MS
from workflows.models import JournalEvent
from workflows.states import ReferralState

pytestmark = pytest.mark.e2e

FIRST, LAST = "Lison", "Marchetti"  # not among seed_demo's people
CRITERION = "Jeune de moins de 26 ans sans qualification (niveau 3 au plus)"
MAX_TABS = 250

FOCUS_VISIBLE = """e => {
  const s = getComputedStyle(e);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  return outline || (s.boxShadow && s.boxShadow !== 'none');
}"""


def _is_focused(locator):
    return locator.evaluate("e => e === document.activeElement")


def tab_to(page, locator, *, backwards=False):
    """Press Tab until `locator` has the focus (fails after MAX_TABS), then check the focus is visible."""
    expect(locator).to_have_count(1)
    for _ in range(MAX_TABS):
        if _is_focused(locator):
            break
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    else:
        pytest.fail(f"{locator} never got the focus with the keyboard")
    assert locator.evaluate(FOCUS_VISIBLE), f"{locator}: the focus is not visible"
    return locator


def keyboard_login(browser, demo, username, width=1366):
    context = browser.new_context(base_url=demo.url, locale="fr-FR", viewport={"width": width, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/connexion/")
    tab_to(page, page.get_by_label("Identifiant"))
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Mot de passe")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).not_to_have_url(re.compile(r"/connexion/"))
    return page


def test_adviser_intake_and_eligibility_then_employer_answer_with_the_keyboard_only(browser, demo):
    adviser = keyboard_login(browser, demo, "conseillere")

    # The first Tab reaches the skip link; Enter moves the focus to the content, past the menu.
    adviser.keyboard.press("Tab")
    skip = adviser.get_by_role("link", name="Aller au contenu")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    assert skip.evaluate(FOCUS_VISIBLE)
    adviser.keyboard.press("Enter")
    expect(adviser.locator("main#contenu")).to_be_focused()
    # From the content, the next Tab is inside it (the menu is skipped).
    adviser.keyboard.press("Tab")
    assert adviser.evaluate("document.activeElement.closest('main') !== null")

    # Menu → Jeunes → Inscrire un·e jeune (backwards from the content to the menu).
    tab_to(
        adviser,
        adviser.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Jeunes", exact=True),
        backwards=True,
    )
    adviser.keyboard.press("Enter")
    expect(adviser.get_by_role("heading", level=1)).to_have_text("Jeunes suivis")
    tab_to(adviser, adviser.get_by_role("link", name="Inscrire un·e jeune"))
    adviser.keyboard.press("Enter")

    # The intake form, field by field.
    for label, text in [("Prénom", FIRST), ("Nom", LAST)]:
        tab_to(adviser, adviser.get_by_role("textbox", name=label, exact=True))
        adviser.keyboard.type(text)
    tab_to(adviser, adviser.get_by_label("Date de naissance"))
    adviser.keyboard.type("03142006")  # the date field's segments, in the browser's own order (headless: mm dd yyyy)
    expect(adviser.get_by_label("Date de naissance")).to_have_value("2006-03-14")
    for label, text in [("Code postal", "69200"), ("Commune", "Vénissieux")]:
        tab_to(adviser, adviser.get_by_label(label))
        adviser.keyboard.type(text)
    qualification = tab_to(adviser, adviser.get_by_label("Niveau de qualification"))
    adviser.keyboard.type("Sans dipl")  # a closed select picks the option typed
    expect(qualification.locator("option:checked")).to_have_text(re.compile("^Sans diplôme"))
    tab_to(adviser, adviser.get_by_label("Courriel"))
    adviser.keyboard.type("lison.marchetti@example.org")
    tab_to(adviser, adviser.get_by_role("button", name="Enregistrer", exact=True))
    adviser.keyboard.press("Enter")
    expect(adviser.get_by_role("heading", level=1)).to_have_text(f"{FIRST} {LAST.upper()}")

    # Eligibility: a checkbox ticked with Space, the form sent with Space on its button.
    tab_to(adviser, adviser.get_by_role("link", name="Soumettre l'éligibilité"))
    adviser.keyboard.press("Enter")
    criterion = tab_to(adviser, adviser.get_by_label(CRITERION))
    adviser.keyboard.press("Space")
    expect(criterion).to_be_checked()
    tab_to(adviser, adviser.get_by_role("button", name="Soumettre l'éligibilité"))
    adviser.keyboard.press("Space")
    expect(adviser.get_by_role("status").filter(has_text="Éligibilité soumise")).to_be_visible()
    pathway = Participant.objects.get(first_name=FIRST, last_name=LAST).pathways.get()
    assert pathway.state == "eligibility_pending"

    # --- The employer answers a candidate forwarded to it, from the list on its home ----------------------------
    employer = keyboard_login(browser, demo, "employeur")
    waiting = employer.get_by_role("table", name=re.compile("Candidatures transmises qui attendent"))
    link = waiting.get_by_role("row").filter(has_text="Transmis à l'employeur").first.get_by_role("link")
    referral_url = link.get_attribute("href")
    tab_to(employer, link)
    employer.keyboard.press("Enter")
    expect(employer).to_have_url(re.compile(re.escape(referral_url) + "$"))
    tab_to(employer, employer.get_by_role("button", name="Retenir la candidature", exact=True))
    employer.keyboard.press("Enter")
    expect(
        employer.get_by_role("status").filter(has_text="Action « Retenir la candidature » enregistrée")
    ).to_be_visible()
    referral_pk = int(referral_url.strip("/").split("/")[-1])
    assert Referral.objects.get(pk=referral_pk).state == ReferralState.ACCEPTED
    assert JournalEvent.objects.filter(object_type="referral", object_id=referral_pk, action="accept").exists()

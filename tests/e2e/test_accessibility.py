"""Automated accessibility checks (axe-core, through axe-playwright-python) on every main page of every role, at
desktop width and at a 390 px phone width: no serious or critical violation.

axe finds what a machine can (contrast, names, labels, landmarks, ARIA); keyboard and screen-reader walks stay
manual. The counts per page are printed (`-s`) for the issue's closing note."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from parcours.dates import previous_month
from parcours.models import HoursLine, Referral
from workflows.states import ReferralState

pytestmark = pytest.mark.e2e

PAGES = {
    "conseillere": [
        "/",
        "/?parcours=2&positionnements=2",
        "/conseil/jeunes/",
        "/conseil/jeunes/inscrire/",
        "/conseil/offres/",
        "/travail/",
        "/workflows/",
        "/travail/circuits/",
    ],
    "facilitateur": [
        "/",
        "/facilitation/positionnements/",
        "/facilitation/eligibilite/",
        "/facilitation/heures/",
        "/facilitation/registre/",
        "/travail/a-prendre/",
    ],
    "employeur": ["/", "/employeur/candidatures/", "/employeur/salaries/", "/employeur/offres/"],
    "auditeur": ["/", "/audit/parcours/"],
}
BLOCKING = {"serious", "critical"}
AXE = Axe()


def _blocking(page):
    results = AXE.run(page)
    violations = results.response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} × e.g. {v['nodes'][0]['target']}"
        for v in violations
        if v["impact"] in BLOCKING
    ], len(violations)


@pytest.mark.parametrize("width", [1366, 390], ids=["desktop", "phone"])
def test_main_pages_have_no_serious_accessibility_violation(login, width):
    found = {}
    for username, urls in PAGES.items():
        page = login(username)
        page.set_viewport_size({"width": width, "height": 900})
        for url in urls:
            page.goto(url)
            blocking, total = _blocking(page)
            print(f"axe {width}px {username} {url}: {total} violation(s), {len(blocking)} serious or critical")
            if blocking:
                found[f"{username} {url}"] = blocking
    assert not found, found


# --- The audit's pages (RGAA 4.1 / WCAG 2.1 AA): every violation of the WCAG A/AA rules fails, whatever its impact --
WCAG_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


def _wcag_violations(page):
    page.wait_for_load_state("load")  # the stylesheets applied: contrast and layout are what the user sees
    violations = AXE.run(page, options=WCAG_AA).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} × e.g. {v['nodes'][0]['target']}"
        for v in violations
    ]


def _assert_error_page(page):
    """A form sent back with errors: « Erreur : » first in the title, the summary focused, its links to fields."""
    expect(page).to_have_title(re.compile(r"^Erreur : "))
    summary = page.locator("[data-error-summary]").first
    expect(summary).to_be_focused()
    expect(summary).to_have_attribute("role", "alert")
    for href in summary.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        assert page.locator(href).count() == 1, f"the summary links to a missing field: {href}"


def test_the_audited_forms_sent_with_errors_have_no_wcag_violation(browser, demo, login):
    found = {}

    # Login with a wrong password.
    context = browser.new_context(base_url=demo.url, locale="fr-FR")
    try:
        page = context.new_page()
        page.goto("/connexion/")
        page.get_by_label("Identifiant").fill("conseillere")
        page.get_by_label("Mot de passe").fill("pas-le-bon")
        page.get_by_role("button", name="Se connecter").click()
        _assert_error_page(page)
        expect(page.get_by_label("Identifiant")).to_have_attribute("aria-invalid", "true")
        found["login refused"] = _wcag_violations(page)
    finally:
        context.close()

    # The intake form, sent empty.
    adviser = login("conseillere")
    adviser.goto("/conseil/jeunes/inscrire/")
    found["intake"] = _wcag_violations(adviser)
    adviser.get_by_role("button", name="Enregistrer", exact=True).click()
    _assert_error_page(adviser)
    found["intake with errors"] = _wcag_violations(adviser)
    # A link of the summary moves the focus to its field.
    adviser.locator("[data-error-summary] a").first.click()
    assert adviser.evaluate("document.activeElement.tagName") in ("INPUT", "SELECT", "TEXTAREA")

    # The password change: its rules shown, then its errors.
    adviser.goto("/mot-de-passe/")
    expect(adviser.get_by_text("12 caractères")).to_be_visible()
    found["password change"] = _wcag_violations(adviser)
    adviser.locator("#id_old_password").fill("pas-le-bon")
    adviser.locator("#id_new_password1").fill("court")
    adviser.locator("#id_new_password2").fill("autre")
    adviser.get_by_role("button", name="Enregistrer").click()
    _assert_error_page(adviser)
    found["password change with errors"] = _wcag_violations(adviser)

    # A transition form (decline a referral without a reason).
    referral = Referral.objects.filter(state=ReferralState.SENT).order_by("pk").first()
    facilitator = login("facilitateur")
    facilitator.goto(reverse("transition", args=["referral", referral.pk, "decline"]))
    found["transition form"] = _wcag_violations(facilitator)
    facilitator.locator("form.card button[type=submit]").click()
    _assert_error_page(facilitator)
    found["transition form with errors"] = _wcag_violations(facilitator)

    assert not {name: v for name, v in found.items() if v}, found


def test_the_task_page_criteria_are_a_fieldset_that_does_not_overlap_the_next_fields(login):
    page = login("conseiller.b")
    page.goto("/travail/")
    page.get_by_role("link", name="Constituer le dossier d'éligibilité").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Constituer le dossier d'éligibilité")
    group = page.get_by_role("group", name="Critères d'éligibilité")
    expect(group).to_be_visible()
    boxes = group.get_by_role("checkbox")
    assert boxes.count() >= 10
    # Each box and label on its own line, inside the group, above the next field.
    tops = [boxes.nth(i).bounding_box()["y"] for i in range(boxes.count())]
    assert all(b > a for a, b in zip(tops, tops[1:], strict=False)), tops
    group_box = group.bounding_box()
    assert tops[-1] < group_box["y"] + group_box["height"]
    next_field = page.locator("form.card select, form.card textarea, form.card input[type=text]").first
    if next_field.count():
        assert next_field.bounding_box()["y"] >= group_box["y"] + group_box["height"]
    violations = {"task page": _wcag_violations(page)}
    page.get_by_role("button", name="Soumettre l'éligibilité").click()
    _assert_error_page(page)
    violations["task page with errors"] = _wcag_violations(page)
    assert not {name: v for name, v in violations.items() if v}, violations


def test_the_dashboard_reflows_at_320px_and_the_month_page_has_no_wcag_violation(login):
    page = login("facilitateur")
    page.set_viewport_size({"width": 320, "height": 800})
    page.goto("/tableau-de-bord/")
    page.wait_for_load_state("load")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, f"the dashboard is {width} px wide at 320 px: it scrolls sideways"
    regions = page.locator(".table-responsive")
    for i in range(regions.count()):
        region = regions.nth(i)
        assert region.get_attribute("tabindex") == "0" and region.get_attribute("role") == "region"
    found = {"dashboard 320px": _wcag_violations(page)}

    page.set_viewport_size({"width": 1366, "height": 900})
    line = HoursLine.objects.filter(month=previous_month(timezone.localdate())).order_by("pk").first()
    page.goto(f"/facilitation/mois/lot-{line.placement.lot_id}/?mois={line.month:%Y-%m}")
    expect(page.get_by_role("region", name="Lignes d'heures du mois")).to_be_visible()
    found["month page"] = _wcag_violations(page)
    page.set_viewport_size({"width": 320, "height": 800})
    found["month page 320px"] = _wcag_violations(page)
    assert not {name: v for name, v in found.items() if v}, found


def test_the_live_search_announces_a_short_status_and_ties_its_error(login):
    page = login("conseillere")
    page.goto("/conseil/jeunes/")
    rows = page.locator("#participant-rows")
    assert rows.get_attribute("aria-live") is None  # the table is never read again as a whole
    status = page.locator("#participant-search-status")
    expect(status).to_have_attribute("aria-live", "polite")
    search = page.locator("#id_q")
    search.fill("zzzzzz")
    expect(status).to_have_text(re.compile(r"^0 jeunes? trouvés?$"))
    search.fill("!!!")
    expect(search).to_have_attribute("aria-invalid", "true")
    expect(search).to_have_attribute("aria-describedby", "id_q_error")
    expect(page.locator("#id_q_error")).to_have_text("Saisissez au moins une lettre ou un chiffre.")
    expect(status).to_have_text("Saisissez au moins une lettre ou un chiffre.")
    search.fill("")
    expect(search).not_to_have_attribute("aria-invalid", "true")
    expect(status).to_have_text(re.compile(r"^\d+ jeunes? trouvés?$"))
    assert not _wcag_violations(page)


def test_the_hours_pages_read_as_cards_on_a_phone(login):
    """Found from outside: at 390 px the employer's statement and the facilitator's month put the hour inputs in a
    sideways scroll. Their tables now become one card per row, each value labelled, as the homes' do."""
    line = (
        HoursLine.objects.filter(placement__lot__awardee__memberships__user__username="employeur")
        .order_by("-month", "pk")
        .first()
    )
    pages = {
        "employeur": f"/employeur/releves/lot-{line.placement.lot_id}/?mois={line.month:%Y-%m}",
        "facilitateur": f"/facilitation/mois/lot-{line.placement.lot_id}/?mois={line.month:%Y-%m}",
    }
    for username, url in pages.items():
        page = login(username)
        page.set_viewport_size({"width": 390, "height": 900})
        page.goto(url)
        page.wait_for_load_state("load")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{url} is {width} px wide at 390 px"
        sideways = page.evaluate(
            "[...document.querySelectorAll('.table-responsive')].filter(r => r.scrollWidth > r.clientWidth + 1).length"
        )
        assert sideways == 0, f"{url}: a table scrolls sideways at 390 px"
        assert page.locator("td[data-label]").count() > 0

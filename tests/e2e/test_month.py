"""A month of clause work in a real browser: the employer declares last month for all its employees of a lot in
one page (a bad row first: named, nothing written), the facilitator validates the lines in bulk and closes the
month, then opens the dashboard (charts, lots at risk) and downloads the lot's clause report (PDF)."""

import io

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from parcours.dates import previous_month
from parcours.models import ContractLot, HoursLine, HoursStatement
from parcours.selectors.statements import running_in
from workflows.states import HoursLineState

pytestmark = pytest.mark.e2e


def _menu(page, label):
    menu = page.get_by_role("navigation", name="Navigation principale").get_by_role("list").first
    menu.get_by_role("link", name=label, exact=True).click()


def test_a_month_of_clause_work(login, shot):
    month = previous_month(timezone.localdate())
    # A lot of the employer with employees running last month and no statement yet.
    lot = next(
        lot
        for lot in ContractLot.objects.filter(awardee__name__startswith="Bâtir").order_by("pk")
        if lot.placements.filter(running_in(month)).exists()
        and not HoursLine.objects.filter(placement__lot=lot, month=month, is_adjustment=False).exists()
    )
    running = list(lot.placements.filter(running_in(month)).order_by("pk"))

    employer = login("employeur")
    _menu(employer, "Relevés d'heures")
    expect(employer.get_by_role("heading", level=1)).to_have_text("Relevés mensuels d'heures d'insertion")
    employer.locator(f"a[href*='lot-{lot.pk}/']").first.click()
    expect(employer.get_by_role("heading", level=1)).to_contain_text("Relevé d'heures de")
    inputs = employer.locator("input[name^='hours-']")
    expect(inputs).to_have_count(len(running))
    for index in range(len(running)):
        inputs.nth(index).fill("7")
    inputs.first.fill("900")
    employer.get_by_role("button", name="Déclarer le mois").click()
    expect(employer.get_by_role("alert").first).to_contain_text("Rien n'a été enregistré.")
    shot(employer, "80-employer-statement-refused")
    assert not HoursStatement.objects.filter(lot=lot, month=month, submitted_at__isnull=False).exists()
    employer.locator("input[name^='hours-']").first.fill("14")
    employer.get_by_role("button", name="Déclarer le mois").click()
    expect(employer.get_by_role("status").first).to_contain_text("enregistré")
    shot(employer, "81-employer-statement-declared")

    facilitator = login("facilitateur")
    _menu(facilitator, "Mois à clôturer")
    facilitator.locator(f"a[href*='mois/lot-{lot.pk}/']").first.click()
    facilitator.get_by_role("button", name="Valider la sélection").click()
    expect(facilitator.get_by_role("status").first).to_contain_text("validée")
    facilitator.get_by_role("button", name="Clôturer le mois").click()
    expect(facilitator.get_by_role("status").first).to_contain_text("clôturé")
    shot(facilitator, "82-facilitator-month-closed")
    lines = HoursLine.objects.filter(placement__lot=lot, month=month)
    assert set(lines.values_list("state", flat=True)) == {HoursLineState.LOCKED}

    _menu(facilitator, "Tableau de bord")
    expect(facilitator.get_by_role("heading", level=1)).to_have_text("Tableau de bord des clauses d'insertion")
    expect(facilitator.locator("svg").first).to_be_visible()
    shot(facilitator, "83-facilitator-dashboard")
    with facilitator.expect_download() as download:
        facilitator.locator(f"a[href$='lots/{lot.pk}/bilan.pdf']").click()
    reader = PdfReader(io.BytesIO(open(download.value.path(), "rb").read()))
    assert "Bilan de la clause sociale d'insertion" in reader.pages[0].extract_text()

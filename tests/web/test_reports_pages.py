"""The dashboard and the clause report downloads: who may see them (facilitator: its lots; buyer's auditor: its
contracts, pseudonymised; other roles: 403), charts drawn server-side, files that open, and a query count that does
not grow with the number of lots."""

import datetime
import html
import io
import re
from decimal import Decimal

import openpyxl
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from parcours import selectors
from parcours.models import ParticipantAccess
from parcours.selectors import reports
from parcours.services import placements, referrals, register
from tests.web.test_reopened_period import hired_again


def login(client, username):
    assert client.login(username=username, password="demo")
    return client


def test_the_facilitator_dashboard_draws_its_lots(client, site):
    site.participant(hired=True)
    login(client, "facilitateur")
    response = client.get(reverse("reports:dashboard"))
    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    assert "<svg" in body and str(site.lot) in body
    assert re.search(r'<rect x="0" y="0" width="[0-9.]+" height="20" fill="#0d6efd">', body)
    assert not re.search(r'(width|x)="[0-9]+,[0-9]', body)  # SVG numbers are never localised
    assert 'id="total-counted">70\u00a0h' in body
    assert "Travailleur·ses handicapé·es (RQTH, AAH)" in body
    contract = site.lot.contract
    assert "Heures comptées et objectif par marché" in body and f"{contract.reference} — {contract.title}" in body


def test_the_buyer_sees_its_contracts_without_names_or_health_publics(client, site):
    participant = site.participant(hired=True)
    login(client, "auditeur")
    body = html.unescape(client.get(reverse("reports:dashboard")).content.decode())
    assert str(site.lot) in body
    assert participant.last_name not in body
    assert "RQTH" not in body
    # The dashboard's publics are counts only for a buyer (found from outside: « Femmes 1 — 100,25 h » beside the
    # bilan's P-000012 at 100,25 h told who she was); the facilitator's have their hours.
    publics = body[body.index('id="publics"') :].split("</table>")[0]
    assert "Heures comptées" not in publics and " h<" not in publics
    assert "Heures comptées par public" not in body
    response = client.get(reverse("reports:lot_report_xlsx", args=[site.lot.pk]))
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    rows = list(book["Participant·es"].iter_rows(min_row=2, values_only=True))
    assert rows and rows[0][0] == participant.pseudonym
    # Never who is in which public (a woman, a criterion met): the counts by public only. The row's publics gave a
    # pseudonymised person's sex and criteria — and through them, an empty list beside « éligible », a hidden one.
    assert "Publics" not in next(book["Participant·es"].iter_rows(max_row=1, values_only=True))
    assert not {"Jeunes de moins de 26 ans", "Femmes"} & {str(cell) for cell in rows[0]}
    # The counts by public, not their hours: beside the rows' hours they would tell who is in a public.
    by_public = list(book["Par public"].iter_rows(values_only=True))
    assert by_public[0] == ("Public", "Participant·es") and by_public[1][0] == "Jeunes de moins de 26 ans"
    response = client.get(reverse("reports:lot_report_pdf", args=[site.lot.pk]))
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    table = text[text.index("Participant·es (pseudonymes)") :]
    assert participant.pseudonym in table and "Jeunes de moins" not in table and "Publics" not in table
    # The facilitator's bilan names each person's publics.
    login(client, "facilitateur")
    body = html.unescape(client.get(reverse("reports:dashboard")).content.decode())
    assert "Heures comptées" in body[body.index('id="publics"') :].split("</table>")[0]
    book = openpyxl.load_workbook(
        io.BytesIO(client.get(reverse("reports:lot_report_xlsx", args=[site.lot.pk])).content)
    )
    header, row = list(book["Participant·es"].iter_rows(max_row=2, values_only=True))
    assert header[1] == "Publics" and row[:2] == (participant.pseudonym, "Jeunes de moins de 26 ans")
    assert next(book["Par public"].iter_rows(max_row=1, values_only=True)) == (
        "Public",
        "Participant·es",
        "Heures comptées",
    )
    response = client.get(reverse("reports:lot_report_pdf", args=[site.lot.pk]))
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Jeunes de moins" in text[text.index("Participant·es (pseudonymes)") :]


def test_the_pdf_report_reads_like_a_document(client, site):
    site.participant(hired=True)
    login(client, "facilitateur")
    response = client.get(reverse("reports:lot_report_pdf", args=[site.lot.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    text = reader.pages[0].extract_text()
    assert "Bilan de la clause sociale d'insertion" in text and "M-1" in text


def test_the_consolidation_downloads(client, site):
    site.participant(hired=True)
    login(client, "facilitateur")
    year = site.today.year
    response = client.get(reverse("reports:consolidation", args=["csv"]) + f"?annee={year}")
    assert response.status_code == 200
    rows = response.content.decode("utf-8-sig").splitlines()
    assert rows[0] == "Synthèse;Rubrique;Valeur" and f"Synthèse;Année;{year}" in rows
    response = client.get(reverse("reports:consolidation", args=["xlsx"]))
    assert openpyxl.load_workbook(io.BytesIO(response.content)).sheetnames[0] == "Synthèse"
    assert client.get(reverse("reports:consolidation", args=["pdf"])).status_code == 404
    # A year that is not one is said, not answered with last year's file (a superscript digit passed `str.isdigit`
    # and failed `int`: a 500; then every bad value downloaded last year's, 0 h for a year to come, unsaid).
    for junk in ("²", "٢٠٢٥", "abc", "", "1999", str(site.today.year + 1), "20260"):
        response = client.get(reverse("reports:consolidation", args=["csv"]), {"annee": junk})
        assert response.status_code == 400 and "Content-Disposition" not in response
        assert "Export impossible : l'année « " in response.content.decode()
    login(client, "auditeur")
    assert client.get(reverse("reports:consolidation", args=["csv"])).status_code == 403


def test_other_roles_and_other_lots(client, site):
    login(client, "employeur")
    assert client.get(reverse("reports:dashboard")).status_code == 403
    login(client, "conseillere")
    assert client.get(reverse("reports:lot_report_pdf", args=[site.lot.pk])).status_code == 403
    login(client, "facilitateur")
    assert client.get(reverse("reports:lot_report_xlsx", args=[999999])).status_code == 404


def test_the_dashboard_query_count_does_not_grow_with_the_lots(client, site):
    site.participant(hired=True)
    login(client, "facilitateur")

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("reports:dashboard")).status_code == 200
        return len(queries)

    count()  # warm the per-process caches
    before = count()
    contract = site.lot.contract
    for number in range(2, 5):
        register.lot_create(
            actor=site.facilitator,
            contract=contract,
            number=number,
            title=f"Lot {number}",
            trade="Peinture",
            amount_excl_tax=Decimal("100000"),
            sizing_method="fixed",
            target_hours=Decimal("200"),
            execution_starts_on=site.today - datetime.timedelta(30),
            execution_ends_on=site.today + datetime.timedelta(300),
            fulfilment_modes=["direct_hire"],
            awardee=site.emp,
        )
    site.participant(hired=True)  # and more placements and lines: no query per placement either
    recount = count()  # the new and changed lots counted once, at a fixed cost (tests/test_lot_hours.py)
    # The pathway figures: one statement (the team's kept row, tests/test_kept_figures.py).
    assert count() == before == 6 and recount > before


def test_the_esf_indicators_export_pseudonyms_only(client, site):
    participant = site.participant(hired=True)
    login(client, "facilitateur")
    response = client.get(reverse("reports:esf_export"))
    assert response.status_code == 200 and response.streaming
    rows = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert rows[0].startswith("Pseudonyme;Sexe;Tranche d'âge à l'entrée")
    assert any(row.startswith(participant.pseudonym + ";") for row in rows[1:])
    assert participant.last_name not in "\n".join(rows)
    login(client, "auditeur")
    assert client.get(reverse("reports:esf_export")).status_code == 403


def test_the_committee_pack_is_a_named_pdf_in_the_access_log(client, site):
    participant = site.participant(hired=True)
    login(client, "facilitateur")
    url = reverse("reports:committee_pack", args=[site.lot.contract.operation_id])
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Commission d'insertion" in text and "Maçon·ne" in text.replace("\u00b7", "·")
    assert participant.last_name.upper() in text
    (logged,) = ParticipantAccess.objects.filter(participant=participant, channel="export")
    assert logged.purpose == "committee_pack" and logged.purpose_label == "Dossier de commission d'insertion (PDF)"
    login(client, "auditeur")
    assert client.get(url).status_code == 403


def test_every_long_export_streams_or_says_its_length(client, site):
    """The browser shows a download's progress: each export is either streamed (rows written as they are read) or
    served whole with its Content-Length. Exports carrying names are in the access log; the others carry
    pseudonyms only."""
    participant = site.participant(hired=True)
    login(client, "facilitateur")
    operation = site.lot.contract.operation_id
    urls = [
        reverse("reports:lot_report_xlsx", args=[site.lot.pk]),
        reverse("reports:lot_report_pdf", args=[site.lot.pk]),
        reverse("reports:contract_report", args=[site.lot.contract_id, "xlsx"]),
        reverse("reports:contract_report", args=[site.lot.contract_id, "pdf"]),
        reverse("reports:operation_report", args=[operation, "xlsx"]),
        reverse("reports:operation_report", args=[operation, "pdf"]),
        reverse("reports:consolidation", args=["csv"]) + f"?annee={site.today.year}",
        reverse("reports:consolidation", args=["xlsx"]) + f"?annee={site.today.year}",
        reverse("reports:esf_export"),
        reverse("reports:committee_pack", args=[operation]),
    ]
    streamed = []
    for url in urls:
        ParticipantAccess.objects.all().delete()
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Disposition"].startswith("attachment;"), url
        if response.streaming:
            streamed.append(url)
            body = b"".join(response.streaming_content)
        else:
            body = response.content
            assert int(response["Content-Length"]) == len(body), url
        named = participant.last_name.upper().encode() in body or participant.last_name.encode() in body
        logged = ParticipantAccess.objects.filter(participant=participant, channel="export").exists()
        assert not named or logged, f"{url} carries names but is not in the access log"
    assert streamed == [reverse("reports:esf_export")]  # the one export that grows with every pathway followed
    assert logged  # the committee pack (last) carries names: logged

    login(client, "auditeur")
    for name in ("auditor:pathway_export", "auditor:pathway_export_xlsx"):
        response = client.get(reverse(name, args=[participant.pk]))
        assert response.status_code == 200 and int(response["Content-Length"]) == len(response.content), name


def test_a_contract_cancelled_before_it_started_is_no_hire(site):
    """Found from outside: the lot's offers said « 4 embauches » and the committee pack « Mises en poste 24 » with a
    contract « Non commencée » among them, which the bilans do not list."""
    pathway = site.participant().pathways.get()
    referrals.referral_cancel(actor=site.adviser, referral=pathway.referrals.get(), reason="Autre offre")
    planned = hired_again(site, pathway)  # referred again on the same offer, hired, then cancelled
    [offer] = selectors.lot_offers(actor=site.facilitator, lot=site.lot)
    assert offer.hired_count == 1
    placements.placement_cancel(actor=site.employer, placement=planned, reason="Pas venu")
    [offer] = selectors.lot_offers(actor=site.facilitator, lot=site.lot)
    assert (offer.referral_count, offer.hired_count) == (2, 0)
    pack = reports.committee_pack(actor=site.facilitator, operation_pk=site.lot.contract.operation_id)
    assert len(pack.placements) == 1 and pack.hires == 0

"""Auditor pages: pathway search in the buyer's scope, the participant file, the CSV export of a timeline."""

import csv
import datetime
import html
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from parcours.models import ParticipantAccess
from parcours.selectors import pathway_search, pathway_total
from parcours.services import pathways
from parcours.web.auditor import csv_safe

# session, user, memberships, then the count (by state: the tally on PostgreSQL) + the page's ids + its rows
PATHWAY_LIST_QUERIES = 6


def login(client, username):
    assert client.login(username=username, password="demo")
    return client


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def rows(response):
    text = b"".join(response.streaming_content if response.streaming else [response.content]).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def test_pathway_list_query_count_is_pinned(site, client):
    for _ in range(2):
        site.participant()
    login(client, "auditeur")
    url = reverse("auditor:pathways")
    client.get(url)
    before, _ = count_queries(client, url)
    for _ in range(4):
        site.participant(adviser=site.adviser_b)
    after, response = count_queries(client, url)
    assert before == after == PATHWAY_LIST_QUERIES
    assert response.content.decode().count("Exporter (CSV)") == 6


@pytest.mark.parametrize("state", ["", "referred", "placed", "withdrawn", "intake"])
def test_pathway_list_total_is_the_count_of_the_search(site, state):
    """The total shown without a name searched comes from the pathway figures (the tally on PostgreSQL): the same
    number as counting the list, in the auditor's scope only."""
    for _ in range(3):
        site.participant()
    site.participant(hired=True)
    intake_only = site.participant()
    pathways.pathway_withdraw(actor=site.adviser, pathway=intake_only.pathways.get(), reason="Déménagement")
    total = pathway_total(site.auditor, state=state)
    assert total == pathway_search(site.auditor, state=state).count()
    assert total == {"": 5, "referred": 3, "placed": 1, "withdrawn": 1, "intake": 0}[state]
    assert pathway_total(site.auditor, query="P-000001", state=state) is None


def test_pathway_list_scope_search_and_filter(site, client):
    referred = site.participant()
    hired = site.participant(hired=True)
    from parcours.services import participants

    never_referred = participants.participant_create(
        actor=site.adviser,
        data={
            "first_name": "Jamais",
            "last_name": "Positionne",
            "birth_date": referred.birth_date,
            "postcode": "59000",
            "commune": "Lille",
            "qualification_level": "level_3",
        },
    )
    login(client, "auditeur")
    url = reverse("auditor:pathways")
    body = client.get(url).content.decode()
    # A buyer's auditor reads pseudonyms, never names.
    assert referred.pseudonym in body and hired.pseudonym in body
    assert never_referred.pseudonym not in body
    assert referred.last_name.upper() not in body and hired.last_name.upper() not in body
    body = client.get(url, {"state": "placed"}).content.decode()
    assert hired.pseudonym in body and referred.pseudonym not in body
    body = client.get(url, {"q": referred.pseudonym}).content.decode()
    assert referred.pseudonym in body and hired.pseudonym not in body
    # Searching by name finds nothing: the search would tell who is in the files.
    assert "Aucun parcours" in client.get(url, {"q": referred.last_name}).content.decode()
    assert client.get(url, {"state": "bogus", "page": "99"}).status_code == 200


@pytest.mark.parametrize("query", ["P" * 101, "'", "--"])
def test_a_search_that_cannot_be_run_says_why_and_lists_nothing(site, client, query):
    """A search too long (ignored: every pathway listed) or of punctuation alone is an error on the search field,
    the input kept, and no pathway is listed."""
    referred = site.participant()
    login(client, "auditeur")
    response = client.get(reverse("auditor:pathways"), {"q": query})
    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    message = "Recherche : 100 caractères au plus." if len(query) > 100 else "Saisissez au moins une lettre"
    assert message in body and 'id="id_q_error"' in body and f'value="{query}"' in body
    assert referred.pseudonym not in body and response.context["page"].paginator.count == 0


def test_pathway_list_pagination(site, client):
    for _ in range(26):
        site.participant()
    login(client, "auditeur")
    url = reverse("auditor:pathways")
    body = client.get(url).content.decode()
    assert body.count("Exporter (CSV)") == 25 and "Page 1 sur 2" in body and 'aria-current="page"' in body
    assert client.get(url, {"page": 2}).content.decode().count("Exporter (CSV)") == 1


def test_buyer_without_contracts_sees_nothing(site, client):
    from roles.enums import OrganisationKind, Role
    from roles.models import Membership, Organisation

    site.participant()
    other_buyer = Organisation.objects.create(name="Département", kind=OrganisationKind.AUTHORITY)
    Membership.objects.create(user=site.auditor.user, organisation=other_buyer, role=Role.AUDITOR)
    login(client, "auditeur")
    membership = Membership.objects.get(user=site.auditor.user, organisation=other_buyer)
    client.post(reverse("switch_organisation"), {"membership": membership.pk})
    assert "Aucun parcours" in client.get(reverse("auditor:pathways")).content.decode()


@pytest.mark.parametrize("username", ["conseillere", "facilitateur", "employeur"])
def test_auditor_pages_refuse_other_roles(site, client, username):
    participant = site.participant()
    login(client, username)
    assert client.get(reverse("auditor:pathways")).status_code == 403
    assert client.get(reverse("auditor:pathway_export", args=[participant.pk])).status_code == 403
    assert not ParticipantAccess.objects.filter(channel="export").exists()


def test_export_timeline_csv(site, client):
    participant = site.participant(hired=True)
    pathway = participant.pathways.get()
    pathways.pathway_exit(actor=site.adviser, pathway=pathway, exited_on=site.today, situation="cdi")
    login(client, "auditeur")
    response = client.get(reverse("auditor:pathway_export", args=[participant.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert (
        "attachment" in response["Content-Disposition"]
        and participant.last_name not in response["Content-Disposition"]
    )
    table = rows(response)
    assert table[0] == [
        "Date (heure de Paris)",
        "Acteur",
        "Organisation",
        "Rôle",
        "Objet",
        "Action",
        "État avant",
        "État après",
        "Précisions",
        "Motif",
    ]
    # Paris time, with its zone; French words, never an internal code.
    assert all(row[0].endswith((" CET", " CEST")) for row in table[1:])
    exit_row = next(row for row in table[1:] if row[5] == "Enregistrer la sortie")
    assert exit_row[8] == "Sortie : Emploi durable"
    assert not {cell for row in table[1:] for cell in row[5:9]} & {"durable_employment", "exit", "create", "placed"}
    actions = [row[5] for row in table[1:]]
    assert "Soumettre l'éligibilité" in actions and "Confirmer l'embauche" in actions
    assert "Enregistrer la sortie" in actions
    submit = next(row for row in table[1:] if row[5] == "Soumettre l'éligibilité")
    # Who acted: the organisation and the role; a buyer's auditor is not told the professional's name.
    assert submit[1:4] == ["nom non communiqué", "Mission Locale A", "Conseiller·ère"]
    assert submit[6] == "Accueil" and submit[7] == "Éligibilité à valider"
    # No personal values: neither the name, the birth date nor the contact.
    text = response.content.decode("utf-8-sig")
    for value in [
        participant.last_name,
        participant.first_name,
        participant.email,
        participant.birth_date.isoformat(),
    ]:
        assert value not in text
    access = ParticipantAccess.objects.get(channel="export")
    assert access.participant_id == participant.pk and access.purpose == "export"
    assert access.user == site.auditor.user


def test_export_timeline_xlsx_writes_paris_time_with_its_zone(site, client):
    """The XLSX history wrote naive times: Paris time, but without its zone, unlike the CSV. Its date cells stay
    dates, in Paris time, and print their zone (CET or CEST) after the time, as the CSV writes them."""
    participant = site.participant(hired=True)
    login(client, "auditeur")
    csv_dates = [row[0] for row in rows(client.get(reverse("auditor:pathway_export", args=[participant.pk])))[1:]]
    response = client.get(reverse("auditor:pathway_export_xlsx", args=[participant.pk]))
    sheet = load_workbook(io.BytesIO(response.content))["Historique"]
    assert sheet["A1"].value == "Date (heure de Paris)"
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert cells and len(cells) == len(csv_dates)
    for cell, written in zip(cells, csv_dates, strict=True):
        assert isinstance(cell.value, datetime.datetime)
        zone = written.rsplit(" ", 1)[1]
        assert zone in ("CET", "CEST") and cell.number_format == f'dd/mm/yyyy hh:mm:ss "{zone}"'
        assert f"{cell.value:%d/%m/%Y %H:%M:%S} {zone}" == written  # the same Paris time as the CSV


def test_export_is_csv_injection_safe(site, client):
    participant = site.participant()
    pathway = participant.pathways.get()
    pathways.pathway_withdraw(actor=site.adviser, pathway=pathway, reason='=HYPERLINK("http://x")')
    # Reasons are shown to an auditor with named access only (a charter): this one has it.
    site.auditor.user.memberships.update(named_access=True)
    login(client, "auditeur")
    table = rows(client.get(reverse("auditor:pathway_export", args=[participant.pk])))
    reasons = [row[9] for row in table[1:] if row[9]]
    assert '\'=HYPERLINK("http://x")' in reasons
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in table for cell in row)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+1", "'=1+1"), ("+33", "'+33"), ("-2", "'-2"), ("@SUM", "'@SUM"), ("ok", "ok"), (None, ""), (3, "3")],
)
def test_csv_safe(value, expected):
    assert csv_safe(value) == expected


def test_export_outside_scope_is_404(site, client):
    from parcours.services import participants

    not_referred = participants.participant_create(
        actor=site.adviser,
        data={
            "first_name": "Hors",
            "last_name": "Champ",
            "birth_date": site.today.replace(year=site.today.year - 20),
            "postcode": "59000",
            "commune": "Lille",
            "qualification_level": "level_3",
        },
    )
    login(client, "auditeur")
    assert client.get(reverse("auditor:pathway_export", args=[not_referred.pk])).status_code == 404
    assert client.get(reverse("auditor:pathway_export", args=[999999])).status_code == 404
    assert client.get(reverse("participant_detail", args=[not_referred.pk])).status_code == 404
    assert not ParticipantAccess.objects.exists()


def test_auditor_reads_the_file_with_full_timeline(site, client):
    participant = site.participant(hired=True)
    login(client, "auditeur")
    response = client.get(reverse("participant_detail", args=[participant.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Confirmer l&#x27;embauche" in body or "Confirmer l'embauche" in body
    assert ParticipantAccess.objects.get(user=site.auditor.user).channel == "page"
    assert reverse("auditor:pathway_export", args=[participant.pk]) in body and "Exporter (CSV)" in body

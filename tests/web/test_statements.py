"""The statement pages: the employer declares a lot's month in one page (last month by default) or uploads a
timesheet; the facilitator validates in bulk and closes the month. Bad rows: 400, every bad row named next to its
input, nothing written. Scope (other employer → 404, other role → 403), query counts independent of the rows, and
the statement API (RFC 9457 problem with every bad row)."""

import datetime
import html
from decimal import Decimal

import pytest
from django import forms as django_forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from parcours.dates import add_months, previous_month
from parcours.models import HoursLine, HoursStatement, ParticipantAccess
from parcours.services import statements as services
from workflows.errors import DomainError
from workflows.states import HoursLineState
from workflows.vocabulary import AccessChannel


def login(client, username):
    assert client.login(username=username, password="demo")
    return client


def text(response):
    return html.unescape(response.content.decode())


def hired(site, n=1):
    """`n` participants hired on the site's lot, their contracts started on the first day of last month; their
    last month is left to declare."""
    placements = []
    for _ in range(n):
        participant = site.participant(hired=True)
        placement = participant.pathways.get().placements.get()
        HoursLine.objects.filter(placement=placement).delete()  # the site declared last month: start afresh
        placements.append(placement)
    return placements


def statement_url(site, month=None):
    url = reverse("employer:statement", args=[site.lot.pk])
    return f"{url}?mois={month:%Y-%m}" if month else url


def test_the_statement_page_shows_last_month_with_one_row_per_employee(client, site):
    first, second = hired(site, 2)
    login(client, "employeur")
    response = client.get(statement_url(site))
    assert response.status_code == 200
    body = text(response)
    month = previous_month(site.today)
    assert f'name="mois" value="{month:%Y-%m}"' in body
    for placement in (first, second):
        assert f'name="hours-{placement.pk}"' in body
    assert "Déclarer le mois" in body


def test_declaring_the_month_in_one_page(client, site):
    first, second = hired(site, 2)
    login(client, "employeur")
    response = client.post(statement_url(site), {f"hours-{first.pk}": "70", f"hours-{second.pk}": "35,5"})
    assert response.status_code == 302
    lines = dict(HoursLine.objects.filter(placement__lot=site.lot).values_list("placement_id", "hours"))
    assert lines == {first.pk: Decimal("70"), second.pk: Decimal("35.5")}
    statement = HoursStatement.objects.get(lot=site.lot, month=previous_month(site.today))
    assert statement.source == "page" and statement.submitted_at is not None
    # Every row declared: no form left whose every sending would be refused, and the page says what comes next.
    body = text(client.get(statement_url(site)))
    assert "Toutes les heures du mois sont déclarées" in body
    assert "Déclarer le mois" not in body and 'name="no_hours"' not in body and 'name="file"' not in body


def test_a_bad_row_refuses_the_whole_page_and_is_named_next_to_its_input(client, site):
    first, second = hired(site, 2)
    login(client, "employeur")
    response = client.post(statement_url(site), {f"hours-{first.pk}": "70", f"hours-{second.pk}": "900"})
    assert response.status_code == 400
    body = text(response)
    assert "Relevé non enregistré : 1 ligne à corriger. Rien n'a été enregistré." in body
    assert f'id="hours-{second.pk}-error"' in body and "Heures : 220 au plus." in body
    assert 'value="70"' in body  # the good row keeps its input
    assert not HoursLine.objects.filter(placement__lot=site.lot).exists()


@pytest.mark.parametrize(("typed", "said"), [("-1", "Heures : un nombre positif est attendu."), ("0,5", None)])
def test_hours_below_zero_are_told_as_zero_is(client, site, typed, said):
    """-1 said « doit être entre 0 et 220 » where 0 said « un nombre positif est attendu »: 0 is in that range."""
    first, second = hired(site, 2)
    login(client, "employeur")
    response = client.post(statement_url(site), {f"hours-{first.pk}": "70", f"hours-{second.pk}": typed})
    if said is None:
        assert response.status_code == 302
        return
    assert response.status_code == 400 and said in text(response) and "entre 0 et" not in text(response)
    assert not HoursLine.objects.filter(placement__lot=site.lot).exists()


def test_a_form_posted_after_its_rows_were_declared_says_so_and_changes_nothing(client, site):
    """A second tab (or a colleague) declared the month first: the typed hours are refused by name, not dropped
    under a success message."""
    (first,) = hired(site, 1)
    login(client, "employeur")
    assert client.post(statement_url(site), {f"hours-{first.pk}": "80"}).status_code == 302
    response = client.post(statement_url(site), {f"hours-{first.pk}": "85"})
    assert response.status_code == 409  # the month moved on: not bad input
    body = text(response)
    assert "Rien n'a été enregistré" in body and "Les heures de ce mois ont déjà été déclarées." in body
    assert list(HoursLine.objects.filter(placement=first).values_list("hours", flat=True)) == [Decimal("80")]
    assert HoursStatement.objects.get(lot=site.lot, month=previous_month(site.today)).submissions == 1


def test_an_empty_page_is_not_a_declared_month_unless_no_hours_is_ticked(client, site):
    (first,) = hired(site, 1)
    month = previous_month(site.today)
    login(client, "facilitateur")
    page = reverse("facilitator:month", args=[site.lot.pk])
    body = text(client.get(f"{page}?mois={month:%Y-%m}"))
    assert "Clôture possible une fois le relevé déclaré." in body and 'value="close"' not in body
    login(client, "employeur")
    assert 'name="no_hours"' in text(client.get(statement_url(site)))
    response = client.post(statement_url(site), {f"hours-{first.pk}": ""})
    assert response.status_code == 400 and "Aucune heure saisie : rien n'a été enregistré." in text(response)
    assert not HoursStatement.objects.filter(lot=site.lot, month=month).exists()
    response = client.post(statement_url(site), {f"hours-{first.pk}": "", "no_hours": "1"})
    assert response.status_code == 302
    assert HoursStatement.objects.get(lot=site.lot, month=month).submitted_at is not None
    login(client, "facilitateur")
    assert 'value="close"' in text(client.get(f"{page}?mois={month:%Y-%m}"))


def test_an_uploaded_timesheet_with_bad_lines_names_them(client, site):
    (placement,) = hired(site, 1)
    login(client, "employeur")
    content = f"Référence;Nom;Heures\n{placement.pk};X;70\n999999;Y;10\n".encode()
    upload = _file("releve.csv", content)
    response = client.post(statement_url(site), {"action": "upload", "file": upload})
    assert response.status_code == 400
    assert "Ligne 3 (Y) : Salarié·e inconnu·e sur ce lot" in text(response)
    assert not HoursLine.objects.filter(placement__lot=site.lot).exists()
    # A reference of non-ASCII digits ("²" passed `str.isdigit`, then `int` failed: a 500) is a bad line too.
    for reference in ("²", "٣"):
        odd = f"Référence;Nom;Heures\n{placement.pk};X;70\n{reference};Z;1\n".encode()
        response = client.post(statement_url(site), {"action": "upload", "file": _file("releve.csv", odd)})
        assert response.status_code == 400 and "Ligne 3 (Z)" in text(response)
    assert not HoursLine.objects.filter(placement__lot=site.lot).exists()
    response = client.post(
        statement_url(site), {"action": "upload", "file": _file("releve.csv", content.split(b"999999")[0])}
    )
    assert response.status_code == 302
    assert HoursLine.objects.get(placement=placement).hours == Decimal("70")


def test_the_timesheet_template_lists_the_employees_of_the_month(client, site):
    (placement,) = hired(site, 1)
    login(client, "employeur")
    response = client.get(reverse("employer:statement_template", args=[site.lot.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = response.content.decode("utf-8-sig").splitlines()
    assert rows[0] == "Référence;Nom;Heures;Régularisation"
    assert rows[1].startswith(f"{placement.pk};NOM")
    # In the access log as what it is (it was « Export de l'historique »).
    (logged,) = ParticipantAccess.objects.filter(channel=AccessChannel.EXPORT)
    assert logged.participant_id == placement.pathway.participant_id and logged.purpose == "timesheet"
    assert logged.purpose_label == "Modèle de relevé d'heures"


def test_the_statement_page_logs_a_read_of_each_employee_it_names(client, site):
    """The page lists every employee by name with their hours, and wrote no access-log row (the employee's hours
    page and the timesheet template did): one row per employee, purpose `list`, as an API list."""
    placements = hired(site, 2)
    login(client, "employeur")
    ParticipantAccess.objects.all().delete()
    assert client.get(statement_url(site)).status_code == 200
    logged = ParticipantAccess.objects.filter(channel=AccessChannel.PAGE)
    assert sorted(logged.values_list("participant_id", flat=True)) == sorted(
        placement.pathway.participant_id for placement in placements
    )
    assert {(row.purpose, row.role, row.user.username) for row in logged} == {("list", "employer", "employeur")}
    # A page sent back with its errors names them too.
    first, second = placements
    response = client.post(statement_url(site), {f"hours-{first.pk}": "70", f"hours-{second.pk}": "900"})
    assert response.status_code == 400 and logged.all().count() == 4
    # So does the facilitator's month of the lot.
    login(client, "facilitateur")
    month = previous_month(site.today)
    assert client.get(f"{reverse('facilitator:month', args=[site.lot.pk])}?mois={month:%Y-%m}").status_code == 200
    read = logged.filter(role="facilitator", purpose="list")
    assert sorted(read.values_list("participant_id", flat=True)) == sorted(
        placement.pathway.participant_id for placement in placements
    )


def test_scope_and_roles(client, site):
    hired(site, 1)
    login(client, "employeur.b")
    assert client.get(statement_url(site)).status_code == 404
    login(client, "conseillere")
    assert client.get(statement_url(site)).status_code == 403
    assert client.get(reverse("facilitator:month", args=[site.lot.pk])).status_code == 403


def _queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_query_counts_do_not_grow_with_the_rows(client, site):
    hired(site, 1)
    login(client, "employeur")
    pages = [statement_url(site), reverse("employer:statements")]
    few = [_queries(client, url) for url in pages]
    login(client, "facilitateur")
    fac_pages = [reverse("facilitator:month", args=[site.lot.pk]), reverse("facilitator:months")]
    fac_few = [_queries(client, url) for url in fac_pages]
    hired(site, 3)
    login(client, "employeur")
    assert [_queries(client, url) for url in pages] == few
    login(client, "facilitateur")
    assert [_queries(client, url) for url in fac_pages] == fac_few
    # Pinned: session, user, memberships, then the page's own queries; the employer's statement page adds its
    # access-log rows in one INSERT whatever the number of employees.
    assert (few, fac_few) == ([12, 5], [12, 5])


def test_the_facilitator_validates_in_bulk_and_closes_the_month(client, site):
    first, second = hired(site, 2)
    login(client, "employeur")
    client.post(statement_url(site), {f"hours-{first.pk}": "70", f"hours-{second.pk}": "35"})
    lines = list(HoursLine.objects.filter(placement__lot=site.lot).values_list("pk", flat=True))
    login(client, "facilitateur")
    month = previous_month(site.today)
    action = reverse("facilitator:month_action", args=[site.lot.pk])
    response = client.post(action, {"mois": f"{month:%Y-%m}", "action": "close"})
    assert response.status_code == 400
    assert "attendent encore une décision" in text(response)
    # Ids that are not ids (a superscript digit passed `str.isdigit` and failed `int`; past a bigint) are left out.
    junk = ["²", "99999999999999999999", "abc"]
    # The total says how much of it is validated (what the dashboard and the reports count).
    page = text(client.get(f"{reverse('facilitator:month', args=[site.lot.pk])}?mois={month:%Y-%m}"))
    total = "Total du mois : <strong>105\u00a0h</strong> déclarées, dont <strong>0\u00a0h</strong> validées"
    assert total in page and "data-label=\"Heures\">70\u00a0h" in page
    response = client.post(action, {"mois": f"{month:%Y-%m}", "action": "validate", "lines": junk})
    assert response.status_code in (302, 400)
    assert set(HoursLine.objects.filter(pk__in=lines).values_list("state", flat=True)) != {HoursLineState.LOCKED}
    response = client.post(action, {"mois": f"{month:%Y-%m}", "action": "validate", "lines": lines + junk})
    assert response.status_code == 302
    response = client.post(action, {"mois": f"{month:%Y-%m}", "action": "close"})
    assert response.status_code == 302
    assert set(HoursLine.objects.filter(pk__in=lines).values_list("state", flat=True)) == {HoursLineState.LOCKED}
    # After the close, the employer's page offers adjustment lines.
    login(client, "employeur")
    body = text(client.get(statement_url(site)))
    assert "Régularisation (h)" in body and "Enregistrer les régularisations" in body


def test_a_refused_bulk_action_keeps_what_was_ticked_and_typed(client, site):
    """QA: a rejection refused for its missing reason came back with every line ticked; typing the reason and
    clicking again would have rejected the hours the facilitator had left out."""
    first, second = hired(site, 2)
    login(client, "employeur")
    client.post(statement_url(site), {f"hours-{first.pk}": "70", f"hours-{second.pk}": "35"})
    kept, left = (HoursLine.objects.get(placement=p) for p in (first, second))
    login(client, "facilitateur")
    month = previous_month(site.today)
    action = reverse("facilitator:month_action", args=[site.lot.pk])
    page = reverse("facilitator:month", args=[site.lot.pk])
    body = text(client.get(f"{page}?mois={month:%Y-%m}"))
    assert f'id="line-{kept.pk}" checked' in body and f'id="line-{left.pk}" checked' in body  # all, at first
    response = client.post(action, {"mois": f"{month:%Y-%m}", "action": "reject", "lines": [kept.pk], "reason": ""})
    body = text(response)
    assert response.status_code == 400 and "Motif du rejet" in body
    assert f'id="line-{kept.pk}" checked' in body and f'id="line-{left.pk}" checked' not in body
    response = client.post(
        action, {"mois": f"{month:%Y-%m}", "action": "validate", "lines": [], "reason": "Heures en double"}
    )
    assert response.status_code == 400 and 'value="Heures en double"' in text(response)
    assert set(HoursLine.objects.filter(pk__in=[kept.pk, left.pk]).values_list("state", flat=True)) == {"declared"}
    # Once closed, the month offers no decision any more (they would only be refused).
    client.post(action, {"mois": f"{month:%Y-%m}", "action": "validate", "lines": [kept.pk, left.pk]})
    assert client.post(action, {"mois": f"{month:%Y-%m}", "action": "close"}).status_code == 302
    body = text(client.get(f"{page}?mois={month:%Y-%m}"))
    assert 'value="validate"' not in body and 'value="reject"' not in body and 'value="close"' not in body


def test_the_month_page_offers_a_reminder_only_for_a_month_the_employer_can_declare(client, site):
    hired(site)
    login(client, "facilitateur")
    page = reverse("facilitator:month", args=[site.lot.pk])
    last = previous_month(site.today)
    assert "Relancer l'employeur" in text(client.get(f"{page}?mois={last:%Y-%m}"))
    before = previous_month(site.lot.execution_starts_on)  # the month before the lot's execution
    body = text(client.get(f"{page}?mois={before:%Y-%m}"))
    assert "Relancer l'employeur" not in body and 'value="close"' not in body
    assert "Mois hors de la période d'exécution du lot." in body
    current = text(client.get(f"{page}?mois={site.today:%Y-%m}"))  # not over: nothing to remind yet
    assert "Relancer l'employeur" not in current
    action = reverse("facilitator:month_action", args=[site.lot.pk])
    response = client.post(action, {"mois": f"{before:%Y-%m}", "action": "remind"})
    assert response.status_code == 400 and "rien à relancer" in text(response)
    assert not HoursStatement.objects.filter(lot=site.lot, reminders__gt=0).exists()
    # Reminded: the button is gone for the day (a second click was refused after it was offered).
    assert client.post(action, {"mois": f"{last:%Y-%m}", "action": "remind"}).status_code == 302
    body = text(client.get(f"{page}?mois={last:%Y-%m}"))
    assert "Relancer l'employeur" not in body and "1 relance, la dernière le" in body
    response = client.post(action, {"mois": f"{last:%Y-%m}", "action": "remind"})
    assert response.status_code == 400 and "une relance par jour au plus" in text(response)
    assert HoursStatement.objects.get(lot=site.lot, month=last).reminders == 1


def test_an_action_on_a_month_it_cannot_read_is_refused_not_done_on_the_default_month(client, site):
    (placement,) = hired(site)
    login(client, "facilitateur")
    action = reverse("facilitator:month_action", args=[site.lot.pk])
    for month in ("garbage", "2026-13", "0001-01"):
        response = client.post(action, {"mois": month, "action": "remind"})
        assert response.status_code == 400 and "Mois illisible" in text(response), month
    assert not HoursStatement.objects.filter(lot=site.lot).exists()
    login(client, "employeur")
    response = client.post(f"{statement_url(site)[:-1]}/?mois=garbage", {f"hours-{placement.pk}": "7"})
    assert response.status_code == 400 and "Mois illisible" in text(response)
    assert not HoursLine.objects.filter(placement=placement).exists()


def _file(name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="text/csv")


# --- API ------------------------------------------------------------------------------------------------------------
def _api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def test_the_statement_api_reads_and_declares_all_or_nothing(site):
    first, second = hired(site, 2)
    month = previous_month(site.today)
    url = f"/api/v1/lots/{site.lot.pk}/statements/{month:%Y-%m}/"
    api = _api(site.employer.user)
    logged = ParticipantAccess.objects.filter(user=site.employer.user, channel=AccessChannel.API)
    body = api.get(url).json()
    assert {row["placement"] for row in body["rows"]} == {first.pk, second.pk}
    # Each row names an employee: its read is logged.
    named = {first.pathway.participant_id, second.pathway.participant_id}
    assert set(logged.values_list("participant_id", flat=True)) == named
    assert set(logged.values_list("purpose", flat=True)) == {"list"}
    bad = api.post(
        url,
        {"rows": [{"placement": first.pk, "hours": "70"}, {"placement": second.pk, "hours": "300"}]},
        format="json",
    )
    assert bad.status_code == 400 and bad["Content-Type"] == "application/problem+json"
    problem = bad.json()
    assert problem["code"] == "statement_invalid"
    (error,) = problem["errors"]
    assert error == {
        "field": "rows.1.hours",
        "code": "statement_invalid",
        "detail": "Heures : 220 au plus.",
        "row": 1,
    }
    assert not HoursLine.objects.filter(placement__lot=site.lot).exists()
    good = api.post(url, {"rows": [{"placement": first.pk, "hours": "70"}]}, format="json")
    assert good.status_code == 201 and good["Location"] == url  # the month's statement, read there
    assert good.json()["source"] == "api"
    assert _api(site.employer_b.user).get(url).status_code == 404
    assert _api(site.adviser.user).get(url).status_code == 403
    assert api.get(f"/api/v1/lots/{site.lot.pk}/statements/mars/").status_code == 400


def test_months_outside_the_case_dates_are_refused_or_ignored_and_write_nothing(client, site):
    """Year 1 or 9999 (a probe): the API says 400, the pages fall back to last month, the services refuse to write;
    `0001-1` is not AAAA-MM. Before: a 500 on the month navigation and a statement of month 0001 written."""
    hired(site)
    api = _api(site.employer.user)
    for month in ("0001-01", "9999-12", "1999-12", "0001-1", "2026-3", "٢٠٢٦-٠٣"):
        response = api.get(f"/api/v1/lots/{site.lot.pk}/statements/{month}/")
        assert response.status_code == 400, month
        response = api.post(f"/api/v1/lots/{site.lot.pk}/statements/{month}/", {"rows": []}, format="json")
        assert response.status_code == 400, month
    last = previous_month(site.today)
    default = f'name="mois" value="{last:%Y-%m}"'
    login(client, "employeur")
    for month in ("0001-01", "9999-12"):
        response = client.get(f"{statement_url(site)}?mois={month}")
        assert response.status_code == 200 and default in text(response)
        # The page's form posts the month it showed (last month): the action acts on it.
        response = client.post(
            f"{statement_url(site)}?mois={month}", {"action": "save", "no_hours": "1", "mois": f"{last:%Y-%m}"}
        )
        assert response.status_code == 302 and response["Location"].endswith(f"?mois={last:%Y-%m}")
    login(client, "facilitateur")
    for month in ("0001-01", "9999-12"):
        page = reverse("facilitator:month", args=[site.lot.pk])
        assert client.get(f"{page}?mois={month}").status_code == 200
        action = reverse("facilitator:month_action", args=[site.lot.pk])
        for verb in ("remind", "validate", "close"):
            # An action posting a month it cannot read is refused: never done on another month than the one meant.
            response = client.post(action, {"mois": month, "action": verb})
            assert response.status_code == 400 and "Mois illisible" in text(response), verb
    assert not HoursStatement.objects.filter(month__year__lt=2000).exists()
    assert not HoursStatement.objects.filter(month__year__gt=2100).exists()


def test_the_services_refuse_a_month_before_2000(site):
    year_one = datetime.date(1, 1, 1)
    for call in (
        lambda: services.statement_submit(actor=site.employer, lot=site.lot.pk, month=year_one, rows=[]),
        lambda: services.statement_close_month(actor=site.facilitator, lot=site.lot.pk, month=year_one),
        lambda: services.statement_remind(actor=site.facilitator, lot=site.lot.pk, month=year_one),
    ):
        with pytest.raises(DomainError) as error:
            call()
        assert error.value.code == "invalid_input" and error.value.field == "month"


@pytest.mark.parametrize("hours", ["٣", "１", "١٢,٥"])
def test_digits_of_another_script_are_refused_everywhere_hours_are_typed(client, site, hours):
    """`Decimal("٣")` is 3: the page, the API and a form field read such digits as numbers, silently. Refused, and
    nothing written."""
    (placement,) = hired(site, 1)
    login(client, "employeur")
    response = client.post(statement_url(site), {f"hours-{placement.pk}": hours})
    assert response.status_code == 400
    api = _api(site.employer.user)
    month = previous_month(site.today)
    url = f"/api/v1/lots/{site.lot.pk}/statements/{month:%Y-%m}/"
    response = api.post(url, {"rows": [{"placement": placement.pk, "hours": hours}]}, format="json")
    assert response.status_code == 400
    line = {"placement": placement.pk, "month": f"{month:%Y-%m-01}", "hours": hours}
    response = api.post("/api/v1/hours-lines/", line, format="json")
    assert response.status_code == 400
    assert not HoursLine.objects.filter(placement=placement).exists()
    from parcours.web.forms import FrenchDecimalField, IntegerField

    for field in (FrenchDecimalField(max_digits=6, decimal_places=2), IntegerField()):
        with pytest.raises(django_forms.ValidationError):
            field.clean(hours)
    assert FrenchDecimalField(max_digits=6, decimal_places=2).clean("3,5") == Decimal("3.5")
    assert IntegerField().clean("3") == 3
    # Thousands as the pages print them (no-break or narrow no-break space) are read; an exponent is not a typing.
    amount = FrenchDecimalField(max_digits=12, decimal_places=2)
    assert amount.clean("1\u00a0234,5") == amount.clean("1\u202f234,5") == amount.clean("1 234,5") == Decimal("1234.5")
    for typed in ("1e3", "1E3"):
        with pytest.raises(django_forms.ValidationError):
            amount.clean(typed)


def test_a_choice_of_row_typed_in_another_script_is_not_read_as_its_id(site):
    from parcours.web.forms import ModelChoiceField
    from roles.models import Organisation

    field = ModelChoiceField(queryset=Organisation.objects.all())
    organisation = site.emp
    assert field.clean(str(organisation.pk)) == organisation
    arabic = "".join(chr(0x660 + int(digit)) for digit in str(organisation.pk))
    with pytest.raises(django_forms.ValidationError):
        field.clean(arabic)


def test_a_month_outside_the_lots_execution_is_not_shown_as_waiting(client, site):
    """Declaring and closing a month outside the lot's execution are refused: the lists said « À déclarer » and
    « Manquant » for it all the same."""
    hired(site)
    month = previous_month(site.today)
    type(site.lot).objects.filter(pk=site.lot.pk).update(execution_ends_on=month - datetime.timedelta(days=1))
    login(client, "employeur")
    body = text(client.get(reverse("employer:statements")))
    assert "Hors de la période d'exécution du lot" in body and "À déclarer" not in body
    client.logout()
    login(client, "facilitateur")
    body = text(client.get(reverse("facilitator:months")))
    assert "Hors de la période d'exécution du lot" in body and "Manquant" not in body
    # Inside it, the same month waits for its statement.
    type(site.lot).objects.filter(pk=site.lot.pk).update(execution_ends_on=site.today + datetime.timedelta(days=90))
    assert "Manquant" in text(client.get(reverse("facilitator:months")))
    # The month under way is not missing yet: it is declared once over.
    current = text(client.get(reverse("facilitator:months"), {"mois": f"{site.today:%Y-%m}"}))
    assert "Manquant" not in current and "Mois en cours : relevé attendu le mois prochain" in current
    ahead = add_months(site.today.replace(day=1), 1)  # an edited address: not missing either
    assert "Manquant" not in text(client.get(reverse("facilitator:months"), {"mois": f"{ahead:%Y-%m}"}))


def test_month_pages_elide_before_a_vowel(client, site):
    """« Mois de octobre 2026 », « Relevé d'heures de avril »: « d’octobre », « d’avril », and « de mars »."""
    hired(site)
    login(client, "facilitateur")
    page = reverse("facilitator:month", args=[site.lot.pk])
    october = text(client.get(page, {"mois": f"{site.today.year - 1}-10"}))
    assert f"Mois d’octobre {site.today.year - 1}" in october and "de octobre" not in october
    march = text(client.get(page, {"mois": f"{site.today.year - 1}-03"}))
    assert f"Heures de mars {site.today.year - 1}" in march
    login(client, "employeur")
    april = text(client.get(statement_url(site), {"mois": f"{site.today.year - 1}-04"}))
    assert f"Relevé d'heures d’avril {site.today.year - 1}" in april


def test_hours_typed_as_the_month_on_a_month_closed_since_are_not_turned_into_an_adjustment(client, site):
    """Found from outside: the employer's page showed a row to declare; the facilitator closed the month; the hours
    sent were recorded as an adjustment under « Relevé enregistré », without a word. The row's kind is the one the
    page showed: refused by name, nothing written; the page now offers the adjustment, which is then a choice."""
    first, second = hired(site, 2)
    login(client, "employeur")
    assert f'name="kind-{second.pk}" value="regular"' in text(client.get(statement_url(site)))
    month = previous_month(site.today)
    assert (
        client.post(statement_url(site), {f"hours-{first.pk}": "70", f"kind-{first.pk}": "regular"}).status_code == 302
    )
    line = HoursLine.objects.get(placement=first)
    services.hours_lines_decide(
        actor=site.facilitator, lot=site.lot, month=month, lines=[line.pk], decision="validate"
    )
    services.statement_close_month(actor=site.facilitator, lot=site.lot, month=month)
    response = client.post(statement_url(site), {f"hours-{second.pk}": "60", f"kind-{second.pk}": "regular"})
    body = text(response)
    assert response.status_code == 409 and "Ce mois est clôturé : déclarez une ligne de régularisation." in body
    assert not HoursLine.objects.filter(placement=second).exists()
    assert f'name="kind-{second.pk}" value="adjustment"' in body
    response = client.post(statement_url(site), {f"hours-{second.pk}": "60", f"kind-{second.pk}": "adjustment"})
    assert response.status_code == 302
    assert HoursLine.objects.get(placement=second).is_adjustment


def test_the_api_tells_a_month_that_moved_on_from_bad_input(site):
    """Every row refused because the month was declared (a retry, a colleague) is a 409 `statement_conflict`; a row
    badly typed among them keeps the whole refusal a 400 `statement_invalid` (found from outside: both were 400)."""
    first, second = hired(site, 2)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=site.employer.user).key}")
    url = f"/api/v1/lots/{site.lot.pk}/statements/{previous_month(site.today):%Y-%m}/"
    rows = [{"placement": first.pk, "hours": "70"}, {"placement": second.pk, "hours": "60"}]
    assert api.post(url, {"rows": rows}, format="json").status_code == 201
    again = api.post(url, {"rows": rows}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "statement_conflict"
    assert [e["row"] for e in again.json()["errors"]] == [0, 1]
    mixed = api.post(url, {"rows": [rows[0], {"placement": second.pk, "hours": "900"}]}, format="json")
    assert mixed.status_code == 400 and mixed.json()["code"] == "statement_invalid"
    assert HoursLine.objects.filter(placement__lot=site.lot).count() == 2

"""Auditor pages (buyer, network, DPO): read-only pathway search and the CSV export of a timeline."""

import csv

from django import forms
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from parcours import selectors
from parcours.documents import xlsx
from parcours.web.common import filters_of, no_rows, paginate, role_required
from parcours.web.forms import SearchField
from roles.enums import Role
from workflows.errors import DomainError
from workflows.states import PathwayState

app_name = "auditor"
CSV_HEADER = [
    gettext_lazy("Date (heure de Paris)"),
    gettext_lazy("Acteur"),
    gettext_lazy("Organisation"),
    gettext_lazy("Rôle"),
    gettext_lazy("Objet"),
    gettext_lazy("Action"),
    gettext_lazy("État avant"),
    gettext_lazy("État après"),
    gettext_lazy("Précisions"),
    gettext_lazy("Motif"),
]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class PathwayFilterForm(forms.Form):
    q = SearchField(label=gettext_lazy("Nom ou prénom"))
    state = forms.ChoiceField(
        label=gettext_lazy("État du parcours"),
        required=False,
        choices=[("", gettext_lazy("Tous"))] + list(PathwayState.choices),
    )


@role_required(Role.AUDITOR)
def pathway_list(request, *, actor):
    form = PathwayFilterForm(request.GET)
    if selectors.pseudonymised(actor):
        form.fields["q"].label = gettext_lazy("Pseudonyme (P-000123)")
    filters = filters_of(form)
    if filters is None:
        page = no_rows()
    else:
        search = {"query": filters["q"], "state": filters["state"]}
        rows = selectors.pathway_search(actor, **search)
        page = paginate(request, rows, ids_first=True, count=selectors.pathway_total(actor, **search))
    return render(request, "auditor/pathways.html", {"form": form, "page": page})


def csv_safe(value):
    """Neutralise spreadsheet formulas (CSV injection): cells starting with = + - @ get a leading quote."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


def _reason(event):
    if event.reason_withheld:
        return gettext("motif renseigné (non communiqué)")
    if event.reason_erased:
        return gettext("motif effacé (anonymisation)")
    return event.shown_reason


def _row(event):
    actor = gettext("système")
    if event.actor_user_id:
        actor = event.actor_name or gettext("nom non communiqué")
    return [
        timezone.localtime(event.occurred_at),
        actor,
        str(event.actor_organisation_shown or ""),
        event.role_label,
        f"{event.object_label} #{event.object_id}",
        event.action_label,
        event.from_label,
        event.to_label,
        event.detail,
        _reason(event),
    ]


def _export(actor, pk):
    try:
        return selectors.participant_timeline_export(actor=actor, participant_id=pk)
    except DomainError:
        raise Http404(gettext("Participant·e introuvable.")) from None


@role_required(Role.AUDITOR)
def pathway_export(request, pk, *, actor):
    """The visible timeline of one file as CSV (the same columns as the page, Paris time); the export is logged."""
    participant, events = _export(actor, pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="historique-{participant.pseudonym}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response, delimiter=";")
    writer.writerow([str(title) for title in CSV_HEADER])
    for event in events:
        row = _row(event)
        row[0] = row[0].strftime("%d/%m/%Y %H:%M:%S %Z")  # CET or CEST: the zone travels with the time
        writer.writerow([csv_safe(cell) for cell in row])
    return response


@role_required(Role.AUDITOR)
def pathway_export_xlsx(request, pk, *, actor):
    """The same as a spreadsheet."""
    participant, events = _export(actor, pk)
    header = [str(title) for title in CSV_HEADER]
    content = xlsx.workbook([(gettext("Historique"), header, [_row(event) for event in events])])
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="historique-{participant.pseudonym}.xlsx"'
    return response


urlpatterns = [
    path("parcours/", pathway_list, name="pathways"),
    path("parcours/<id:pk>/export.csv", pathway_export, name="pathway_export"),
    path("parcours/<id:pk>/export.xlsx", pathway_export_xlsx, name="pathway_export_xlsx"),
]

"""Data-protection pages: a young person's subject-access export (JSON, PDF), who consulted their file, the
information notice, and the data-protection officer's access log. Views parse, call a selector or a service,
render; the policy decides who may do what (404 outside scope)."""

import csv
import json

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from parcours.access_log import log_participant_access
from parcours.documents import subject_access
from parcours.models import Participant
from parcours.selectors import data_protection as dp
from parcours.services.data_protection import participant_record_notice, participant_subject_access
from parcours.web.common import (
    actor_required,
    apply_domain_error,
    filters_of,
    no_rows,
    paginate,
    query_without_ignored,
)
from parcours.web.forms import BootstrapFormMixin, DateField, DateInput, SearchField
from roles import policy
from workflows.errors import DomainError
from workflows.vocabulary import AccessChannel

app_name = "dataprotection"
PAGE_SIZE = 50
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _participant_or_404(actor, pk, action):
    participant = Participant.objects.select_related("youth_agency", "referent_adviser").filter(pk=pk).first()
    if participant is None or not policy.allows(actor, action, participant):
        raise Http404("Participant·e introuvable.")
    return participant


# --- Subject access -----------------------------------------------------------------------------------------------
@actor_required
def subject_access_export(request, pk, fmt, *, actor):
    """Everything held on the young person, as JSON or PDF; logged in the access log and journaled."""
    try:
        participant = participant_subject_access(actor=actor, participant=pk)
    except DomainError as error:
        if error.code == "forbidden":
            raise Http404("Participant·e introuvable.") from None
        raise Http404(error.message) from None
    data = dp.subject_access_data(participant)
    stamp = timezone.localdate().strftime("%Y%m%d")
    name = f"droit-d-acces-{participant.pseudonym}-{stamp}"
    if fmt == "json":
        response = HttpResponse(
            json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8"
        )
    else:
        response = HttpResponse(subject_access.render(data), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


# --- Who consulted this file --------------------------------------------------------------------------------------
@actor_required
def participant_accesses(request, pk, *, actor):
    try:
        rows = dp.participant_access_log(actor=actor, participant_id=pk)
    except DomainError:
        raise Http404("Participant·e introuvable.") from None
    participant = Participant.objects.get(pk=pk)
    log_participant_access(actor=actor, participant_id=participant.pk)  # the page names the person (and lists it)
    page = paginate(request, rows, PAGE_SIZE)
    return render(request, "data_protection/participant_accesses.html", {"participant": participant, "page": page})


# --- Information notice -------------------------------------------------------------------------------------------
class NoticeForm(BootstrapFormMixin, forms.Form):
    given_on = DateField(
        label=gettext_lazy("Notice remise (ou envoyée) le"),
        widget=DateInput(),
        initial=timezone.localdate,
        error_messages={"required": gettext_lazy("Ce champ est obligatoire.")},
    )


@actor_required
def notice(request, pk, *, actor):
    """The printable information notice for the young person; the adviser records when it was handed over."""
    participant = _participant_or_404(actor, pk, "participant.record_notice")
    form = NoticeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                participant_record_notice(actor=actor, participant=pk, given_on=form.cleaned_data["given_on"])
            except DomainError as error:
                if error.code in ("not_found", "forbidden"):
                    raise Http404(error.message) from None
                apply_domain_error(form, error)
            else:
                messages.success(request, gettext("La remise de la notice d'information est enregistrée."))
                return redirect("participant_detail", pk=pk)
        status = 400
    log_participant_access(actor=actor, participant_id=participant.pk)  # the printable notice names the person
    return render(
        request,
        "data_protection/notice.html",
        {
            "participant": participant,
            "form": form,
            "retention_months": _settings()["RETENTION_INACTIVITY_MONTHS"],
            "access_log_days": _settings()["ACCESS_LOG_RETENTION_DAYS"],
        },
        status=status,
    )


def _settings():
    return settings.PARCOURS


# --- The data-protection officer's access log ---------------------------------------------------------------------


class AccessLogFilterForm(forms.Form):
    q = SearchField(label=gettext_lazy("Utilisateur ou dossier (P-000123)"))
    channel = forms.ChoiceField(
        label=gettext_lazy("Canal"), required=False, choices=[("", gettext_lazy("Tous"))] + list(AccessChannel.choices)
    )
    since = DateField(label=gettext_lazy("Du"), required=False, widget=DateInput())
    until = DateField(label=gettext_lazy("Au"), required=False, widget=DateInput())

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("since", gettext("La date de début suit la date de fin."))
        return data


def _access_rows(request, actor, *, strict=False):
    """The filter form and the rows it selects; rows is None when a filter cannot be applied (its error is on the
    form)."""
    if not policy.may(actor, "accesslog.view"):
        raise PermissionDenied(
            gettext("Cette page est réservée au délégué ou à la déléguée à la protection des données.")
        )
    form = AccessLogFilterForm(request.GET)
    filters = filters_of(form, strict=strict)
    if filters is None:
        return form, None
    rows = dp.access_log_for(
        actor,
        query=filters["q"],
        channel=filters["channel"],
        since=filters["since"] or None,
        until=filters["until"] or None,
    )
    return form, rows


@actor_required
def access_log(request, *, actor):
    form, rows = _access_rows(request, actor)
    page = no_rows() if rows is None else paginate(request, rows, PAGE_SIZE)
    context = {"form": form, "page": page, "may_export": rows is not None}
    return render(
        request, "data_protection/access_log.html", {**context, "query": query_without_ignored(request, form)}
    )


def csv_safe(value):
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


@actor_required
def access_log_export(request, *, actor):
    form, rows = _access_rows(request, actor, strict=True)
    if rows is None:  # exporting every row instead would answer another question than the one asked
        errors = " ".join(
            f"{form.fields[name].label} : {message}"
            for name, messages_of_field in form.errors.items()
            if name in form.fields
            for message in messages_of_field
        )
        return HttpResponseBadRequest(
            gettext("Export impossible : corrigez les filtres. %(errors)s") % {"errors": errors},
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="consultations.csv"'
    response.write("\ufeff")
    writer = csv.writer(response, delimiter=";")
    writer.writerow(
        [
            gettext("Date (heure de Paris)"),
            gettext("Utilisateur"),
            gettext("Organisation"),
            gettext("Rôle"),
            gettext("Dossier"),
            gettext("Canal"),
            gettext("Objet"),
        ]
    )
    for row in rows.iterator(chunk_size=2000):
        writer.writerow(
            [
                csv_safe(cell)
                for cell in (
                    # CET or CEST: the zone travels with the time, as in the auditor's export
                    timezone.localtime(row.accessed_at).strftime("%d/%m/%Y %H:%M:%S %Z"),
                    row.user.get_full_name() or row.user.username,
                    row.organisation or "",
                    dp.ROLE_LABELS.get(row.role, row.role),
                    row.participant.pseudonym,
                    row.get_channel_display(),
                    row.purpose_label,
                )
            ]
        )
    return response


@actor_required
def rights_log(request, *, actor):
    """Who granted what to whom in the organisation, and when: its memberships' and members' accounts' journal."""
    if not policy.may(actor, "accesslog.view"):
        raise PermissionDenied(
            gettext("Cette page est réservée au délégué ou à la déléguée à la protection des données.")
        )
    page = paginate(request, dp.rights_log_for(actor), PAGE_SIZE)
    page.object_list = dp.describe_rights_events(page.object_list)
    return render(request, "data_protection/rights_log.html", {"page": page})


urlpatterns = [
    path("comptes/", rights_log, name="rights_log"),
    path("consultations/", access_log, name="access_log"),
    path("consultations/export.csv", access_log_export, name="access_log_export"),
    path("participants/<id:pk>/consultations/", participant_accesses, name="participant_accesses"),
    path("participants/<id:pk>/notice/", notice, name="notice"),
    path(
        "participants/<id:pk>/droit-d-acces.json", subject_access_export, {"fmt": "json"}, name="subject_access_json"
    ),
    path("participants/<id:pk>/droit-d-acces.pdf", subject_access_export, {"fmt": "pdf"}, name="subject_access_pdf"),
]

"""Monthly statements (relevés mensuels): the employer declares a lot's month for all its employees in one page (or
uploads a timesheet); the facilitator validates or rejects the lines in bulk, closes the month, reminds the
employer. Views parse input and call parcours.services.statements; every rule lives there."""

import csv
import datetime

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from parcours.access_log import log_access
from parcours.counting import hours_text
from parcours.dates import add_months, latest_month, month_from_text, month_label
from parcours.selectors import statements as selectors
from parcours.services import statements as services
from parcours.text import of_name, plain_id
from parcours.web.common import role_required
from roles.enums import Role
from workflows.errors import DomainError, RowsRefused
from workflows.inputs import EARLIEST_DATE
from workflows.vocabulary import AccessChannel


# --- The month in the address -----------------------------------------------------------------------------------
def _month_text(request) -> str:
    posted = request.POST.get("mois") if request.method == "POST" else None
    return posted or request.GET.get("mois") or ""


def month_of(request) -> datetime.date:
    """`?mois=AAAA-MM` (an action: the month its form posts, the page's); absent or unreadable: the month that
    ended (hours are declared for it). An action refuses a month it cannot read (`require_readable_month`)."""
    text = _month_text(request)
    month = month_from_text(text, earliest=EARLIEST_DATE, latest=latest_month())
    return month or selectors.default_month()


def require_readable_month(request):
    """An action names its month: one it cannot read is refused, never replaced by the default month (a close or a
    reminder would act on another month than the one meant)."""
    text = _month_text(request)
    if text and month_from_text(text, earliest=EARLIEST_DATE, latest=latest_month()) is None:
        raise DomainError(
            "invalid_input",
            gettext("Mois illisible « %(text)s » : AAAA-MM attendu.") % {"text": text[:20]},
            field="month",
        )


def month_nav(month) -> dict:
    current = timezone.localdate().replace(day=1)
    following = add_months(month, 1)
    return {
        "month": month,
        "month_label": month_label(month),
        "month_param": f"{month:%Y-%m}",
        "previous_param": f"{add_months(month, -1):%Y-%m}",
        "next_param": f"{following:%Y-%m}" if following <= current else "",
        "is_current": month == current,
        "not_over": month >= current,  # the month under way (or one ahead, by an edited address): nothing missing
    }


def _lot(actor, pk):
    lot = selectors.statement_lot(actor=actor, pk=pk)
    if lot is None:
        raise Http404("Lot introuvable.")
    return lot


def _back(name, lot, month):
    return f"{reverse(name, args=[lot.pk])}?mois={month:%Y-%m}"


def _person(placement) -> str:
    participant = placement.pathway.participant
    return f"{participant.last_name.upper()} {participant.first_name}"


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Fichier des heures (.csv ou .xlsx)"),
        error_messages={
            "required": gettext_lazy("Choisissez un fichier."),
            "empty": gettext_lazy("Le fichier est vide."),
        },
    )


def _month_context(actor, lot, month):
    rows = selectors.statement_rows(actor=actor, lot=lot, month=month)
    statement = selectors.statement_of(actor=actor, lot=lot, month=month)
    closed = statement is not None and statement.is_closed
    for row in rows:
        # Before the close: one regular line per month; after it: adjustment lines only.
        row.input_kind = "adjustment" if closed else ("" if row.declared else "regular")
        row.total_label = hours_text(row.total)
        row.maximum_label = hours_text(row.capacity.maximum)
    return {
        "lot": lot,
        "rows": rows,
        "statement": statement,
        "selected": None,  # the lines ticked: every declared one until a refused action says which were
        "closed": closed,
        # The close's own rule (the service refuses it): the page shows why instead of the button.
        "statement_missing": selectors.waits_for_its_statement(
            contracts_ran=any(row.runs for row in rows),
            submitted=statement is not None and statement.submitted_at is not None,
            has_lines=any(row.lines for row in rows),
        ),
        # The reminder's own rule (its service raises the refusal): the button only when it would be sent.
        "may_remind": selectors.reminder_refusal(
            lot=lot,
            month=month,
            today=timezone.localdate(),
            contracts_ran=any(row.runs for row in rows),
            submitted=statement is not None and statement.submitted_at is not None,
            closed=closed,
            reminded_at=statement and statement.reminded_at,
        )
        is None,
        "in_window": lot.month_in_execution_window(month),
        "total_label": hours_text(sum((row.total for row in rows), 0)),
        # The part validated (what the dashboard and the reports count): the total holds the lines awaiting a decision.
        "validated_label": hours_text(
            sum((line.hours for row in rows for line in row.lines if line.state in selectors.COUNTED_STATES), 0)
        ),
        **month_nav(month),
    }


# --- Employer ----------------------------------------------------------------------------------------------------
@role_required(Role.EMPLOYER)
def employer_index(request, *, actor):
    month = month_of(request)
    lots = selectors.statement_lot_summaries(actor, month)
    return render(request, "employer/statements.html", {"lots": lots, **month_nav(month)})


@role_required(Role.EMPLOYER)
def employer_statement(request, pk, *, actor):
    lot = _lot(actor, pk)
    month = month_of(request)
    back = _back("employer:statement", lot, month)
    errors, typed, status, from_file = [], {}, 200, False
    upload_form = UploadForm()
    if request.method == "POST":
        from_file = request.POST.get("action") == "upload"
        try:
            require_readable_month(request)
            if from_file:
                upload_form = UploadForm(request.POST, request.FILES)
                if not upload_form.is_valid():
                    raise DomainError("invalid_file", upload_form.errors["file"][0], field="file")
                upload = upload_form.cleaned_data["file"]
                statement = services.statement_upload(
                    actor=actor, lot=lot, month=month, name=upload.name, content=upload.read()
                )
            else:
                rows = []
                for row in _month_context(actor, lot, month)["rows"]:
                    typed[row.placement.pk] = value = request.POST.get(f"hours-{row.placement.pk}", "").strip()
                    if not row.input_kind and not value:
                        continue  # declared already: no input on the page
                    # A value for a row declared meanwhile (a second tab, a colleague) goes to the service, which
                    # refuses it as a duplicate: never recorded as done while the typed hours were dropped. The
                    # row's kind is the one the page showed: hours typed as the month's, on a month closed since,
                    # are refused (« déclarez une ligne de régularisation »), never turned into an adjustment unsaid.
                    shown = request.POST.get(f"kind-{row.placement.pk}")
                    kind = shown if shown in ("regular", "adjustment") else row.input_kind
                    rows.append(
                        services.StatementRow(
                            placement=row.placement.pk,
                            hours=value,
                            is_adjustment=kind == "adjustment",
                            row=row.placement.pk,
                            label=row.name,
                        )
                    )
                no_hours = request.POST.get("no_hours") == "1"
                statement = services.statement_submit(actor=actor, lot=lot, month=month, rows=rows, no_hours=no_hours)
        except RowsRefused as refused:
            messages.error(request, refused.message)
            errors, status = refused.errors, refused.status
        except DomainError as error:
            if error.code == "not_found":
                raise Http404(error.message) from None
            messages.error(request, error.message)
            status = error.status  # 409: the month moved on (declared, closed) since the page was drawn
        else:
            messages.success(
                request,
                gettext("Relevé %(of_month)s enregistré (%(source)s) : la structure porteuse du lot va le valider.")
                % {"of_month": of_name(month_label(month)), "source": statement.get_source_display().lower()},
            )
            return redirect(back)
    context = _month_context(actor, lot, month)
    # The page names each employee with their hours (a page sent back with its errors too): one access-log row per
    # employee, written in one INSERT, as the timesheet template and the API lists do.
    ids = [row.placement.pathway.participant_id for row in context["rows"]]
    log_access(actor=actor, participant_ids=ids, purpose="list")
    # Errors of the page name their row by placement (shown next to the input); those of a file, by line number.
    by_placement = {} if from_file else {error["row"]: error for error in errors}
    for row in context["rows"]:
        row.error = by_placement.get(row.placement.pk)
        row.typed = typed.get(row.placement.pk, "")
    # Every row declared (before the close, nothing to type): no form whose every sending would be refused.
    all_declared = bool(context["rows"]) and not any(row.input_kind for row in context["rows"])
    context.update(
        {
            "errors": errors,
            "errors_from_file": from_file,
            "upload_form": upload_form,
            "may_submit": selectors.may_submit(actor, lot) and not all_declared,
            "all_declared": all_declared,
            "max_upload_kb": settings.PARCOURS["STATEMENT_UPLOAD_MAX_BYTES"] // 1024,
        }
    )
    return render(request, "employer/statement.html", context, status=status)


@role_required(Role.EMPLOYER)
def employer_statement_template(request, pk, *, actor):
    """The timesheet to fill: one line per employee running in the month, to upload back."""
    lot = _lot(actor, pk)
    month = month_of(request)
    rows = selectors.statement_rows(actor=actor, lot=lot, month=month)
    ids = [row.placement.pathway.participant_id for row in rows]
    log_access(actor=actor, participant_ids=ids, channel=AccessChannel.EXPORT, purpose="timesheet")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="releve-lot-{lot.pk}-{month:%Y-%m}.csv"'
    response.write("\ufeff")  # Excel opens UTF-8 with a BOM
    writer = csv.writer(response, delimiter=";")
    writer.writerow(["Référence", "Nom", "Heures", "Régularisation"])
    for row in rows:
        writer.writerow([row.placement.pk, _person(row.placement), "", ""])
    return response


# --- Facilitator --------------------------------------------------------------------------------------------------
@role_required(Role.FACILITATOR)
def facilitator_index(request, *, actor):
    month = month_of(request)
    lots = selectors.statement_lot_summaries(actor, month)
    return render(request, "facilitator/months.html", {"lots": lots, **month_nav(month)})


@role_required(Role.FACILITATOR)
def facilitator_month(request, pk, *, actor):
    lot = _lot(actor, pk)
    month = month_of(request)
    context = _month_context(actor, lot, month)
    context["errors"] = []
    context["may_close"] = selectors.may_close(actor, lot)
    _log_names(actor, context)
    return render(request, "facilitator/month.html", context)


def _log_names(actor, context):
    """The month's page names each employee with their hours: one access-log row each, in one INSERT."""
    ids = [row.placement.pathway.participant_id for row in context["rows"]]
    log_access(actor=actor, participant_ids=ids, purpose="list")


@require_POST
@role_required(Role.FACILITATOR)
def facilitator_month_action(request, pk, *, actor):
    lot = _lot(actor, pk)
    month = month_of(request)
    action = request.POST.get("action")
    try:
        require_readable_month(request)
        if action in ("validate", "reject"):
            chosen = request.POST.getlist("lines")
            lines = [pk for pk in map(plain_id, chosen) if pk is not None]
            reason = request.POST.get("reason", "").strip()
            decided = services.hours_lines_decide(
                actor=actor, lot=lot, month=month, lines=lines, decision=action, reason=reason
            )
            if action == "validate":
                done = ngettext("%(n)s ligne validée.", "%(n)s lignes validées.", len(decided)) % {"n": len(decided)}
            else:
                done = ngettext("%(n)s ligne rejetée.", "%(n)s lignes rejetées.", len(decided)) % {"n": len(decided)}
        elif action == "close":
            services.statement_close_month(actor=actor, lot=lot, month=month)
            done = gettext("%(month)s clôturé : ses lignes sont verrouillées.") % {
                "month": month_label(month).capitalize()
            }
        elif action == "remind":
            services.statement_remind(actor=actor, lot=lot, month=month)
            done = gettext("Relance envoyée à l'employeur.")
        else:
            raise DomainError("invalid_input", gettext("Action inconnue."))
    except (RowsRefused, DomainError) as error:
        if error.code == "not_found":
            raise Http404(error.message) from None
        context = _month_context(actor, lot, month)
        context.update(
            {
                "errors": getattr(error, "errors", []),
                "may_close": selectors.may_close(actor, lot),
                # What was ticked and typed, kept: every line ticked again would have the next click reject hours
                # the facilitator had left out.
                "selected": {pk for pk in map(plain_id, request.POST.getlist("lines")) if pk is not None},
                "reason": request.POST.get("reason", ""),
                # Said at the field too (its input named, described and focused), not only at the top of the page.
                "reason_error": error.message if error.field == "reason" else "",
            }
        )
        _log_names(actor, context)
        messages.error(request, error.message)
        return render(request, "facilitator/month.html", context, status=error.status)
    messages.success(request, done)
    return redirect(_back("facilitator:month", lot, month))

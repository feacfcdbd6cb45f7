"""Monthly statements (relevés mensuels) and the facilitator's month.

- `statement_submit`: the awardee declares a month for all its placements on a lot at once (the statement page, an
  uploaded timesheet, the API). All or nothing: every bad row is named with its reason, and nothing is written while
  one row is bad.
- `hours_lines_decide`: the facilitator validates or rejects a set of lines of a lot's month, all or nothing.
- `statement_close_month`: the facilitator closes a lot's month: its validated lines are locked; corrections after
  that are adjustment lines.
- `statement_remind` and `remind_missing_statements` (the worker, every hour): the awardee whose statement of the
  previous month is still missing on the facilitation organisation's reminder day is reminded, through the
  notifications (journal event, pushed to the teams that may see the statement); a month of the last
  REMINDER_LOOK_BACK_MONTHS that was never declared nor reminded (the worker stopped past its reminder day) is
  reminded too, once.
"""

import csv
import datetime
import decimal
import io
import itertools
import unicodedata
from dataclasses import dataclass

import openpyxl
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from parcours.counting import hours_text
from parcours.dates import add_months, last_day_of_month, month_label, previous_month
from parcours.models import ContractLot, HoursLine, HoursStatement, Placement
from parcours.notifications import publish_on_commit
from parcours.selectors.statements import (
    declarable_placements,
    outside_execution,
    reminder_refusal,
    waits_for_its_statement,
)
from parcours.services.common import lock, require
from parcours.services.hours import (
    MonthState,
    check_line,
    create_line,
    first_of_month,
    is_month_closed,
    month_states,
)
from parcours.text import of_name
from roles import policy
from roles.actor import Actor
from workflows import engine
from workflows.errors import DomainError, RowsRefused
from workflows.journal import record_event
from workflows.states import HoursLineState
from workflows.vocabulary import StatementSource


@dataclass
class StatementRow:
    """One row of a statement: a placement, its hours, whether they adjust a closed month. `row` names the row in
    messages (a line number of an uploaded file, or the row's position on the page)."""

    placement: object
    hours: object
    is_adjustment: bool = False
    row: object = None
    label: str = ""


def _name(placement) -> str:
    participant = placement.pathway.participant
    return f"{participant.last_name.upper()} {participant.first_name}"


def _error(row: StatementRow, message, field=None, label=None):
    return {"row": row.row, "label": label or row.label, "field": field, "message": message}


def _statement(lot, month) -> HoursStatement:
    """The statement row of a lot's month, under the lot's lock (so get-or-create cannot race)."""
    statement, _ = HoursStatement.objects.select_for_update(of=("self",)).get_or_create(lot=lot, month=month)
    return statement


def _journal_statement(actor, statement, action, **inputs):
    event = record_event(
        actor=actor,
        object_type="hoursstatement",
        object_id=statement.pk,
        action=action,
        inputs={"lot": statement.lot_id, "month": statement.month, **inputs},
    )
    publish_on_commit(event)
    return event


def _month(month) -> datetime.date:
    """The first day of `month`, within the dates a case can hold (2000 on): year 1 or 9999 is a probe."""
    return first_of_month(month)


@transaction.atomic
def statement_submit(
    *,
    actor,
    lot,
    month,
    rows,
    source=StatementSource.PAGE,
    no_hours: bool = False,
    today: datetime.date | None = None,
    unreadable=(),
) -> HoursStatement:
    """Declare a lot's month: one line per row with hours (a row with no or zero hours declares nothing for that
    placement). Refused as a whole (RowsRefused, every bad row named) when any row is bad. A statement declaring no
    hours at all is refused unless said on purpose (`no_hours`): an empty click must not pass for a declared month
    (it would stop the reminders and let the month be closed at 0 h)."""
    lot = lock(ContractLot, lot, actor=actor)
    require(actor, "statement.submit", lot, _("Seul l'attributaire du lot déclare ses relevés d'heures."))
    month = _month(month)
    today = today or timezone.localdate()
    if month > today:
        raise DomainError("date_in_future", _("On ne déclare pas les heures d'un mois à venir."), field="month")
    if not lot.month_in_execution_window(month):
        raise outside_execution(
            lot,
            month,
            _("%(month)s est hors de la période d'exécution du lot (%(starts)s – %(ends)s) : rien à déclarer."),
        )
    rows = [row if isinstance(row, StatementRow) else StatementRow(**row) for row in rows]
    wanted = {getattr(row.placement, "pk", row.placement) for row in rows}
    candidates = policy.with_scopes(
        Placement.objects.filter(lot=lot, pk__in=[pk for pk in wanted if isinstance(pk, int)])
        .select_for_update(of=("self",))
        .select_related("pathway__participant", "lot")
        .order_by("pk"),
        actor,
    )
    placements = {}
    for placement in candidates:
        policy.remember_scopes(placement, actor)
        if policy.allows(actor, "placement.declare_hours", placement):
            placements[placement.pk] = placement
    states = month_states(list(placements), month)
    closed = is_month_closed(lot.pk, month)
    errors, accepted, seen = list(unreadable), [], set()  # `unreadable`: an uploaded file's lines not read
    conflicts = 0
    for row in rows:
        pk = getattr(row.placement, "pk", row.placement)
        placement = placements.get(pk)
        if placement is None:
            message = _("Salarié·e inconnu·e sur ce lot (référence de mise en poste introuvable).")
            errors.append(_error(row, message, "placement"))
            continue
        label = row.label or _name(placement)
        if isinstance(row.hours, str):  # typed in a page or a file: French decimal comma, spaces
            row.hours = row.hours.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        if row.hours in (None, "") or (not row.is_adjustment and _is_zero(row.hours)):
            continue  # nothing declared for this placement this month
        key = (pk, row.is_adjustment)
        if key in seen:
            errors.append(
                _error(row, _("Ce ou cette salarié·e apparaît deux fois dans le relevé."), "placement", label)
            )
            continue
        seen.add(key)
        state = states.setdefault(pk, MonthState())
        try:
            hours = check_line(
                placement=placement,
                month=month,
                hours=row.hours,
                is_adjustment=row.is_adjustment,
                state=state,
                month_closed=closed,
                today=today,
            )
        except DomainError as error:
            errors.append(_error(row, error.message, error.field, label))
            conflicts += error.status == 409  # the month moved on for this row (declared, closed meanwhile)
            continue
        # The following rows of the same placement (its adjustment) see this one in the month's total.
        state.total += hours
        state.has_regular = state.has_regular or not row.is_adjustment
        accepted.append((placement, hours, row.is_adjustment))
    if errors:
        errors.sort(key=lambda e: (0, e["row"], "") if isinstance(e["row"], int) else (1, 0, str(e["row"])))
        count = len(errors)
        raise RowsRefused(
            # Every row refused because the month moved on (a second tab, a colleague): 409, as a retried request
            # of anything else already done; any row badly typed: 400.
            "statement_conflict" if conflicts == count else "statement_invalid",
            ngettext(
                "Relevé non enregistré : %(count)s ligne à corriger. Rien n'a été enregistré.",
                "Relevé non enregistré : %(count)s lignes à corriger. Rien n'a été enregistré.",
                count,
            )
            % {"count": count},
            errors=errors,
        )
    if no_hours and accepted:
        raise DomainError(
            "invalid_input",
            _(
                "« Aucune heure ce mois-ci » est coché alors que des heures sont saisies : décochez-le ou videz "
                "les heures."
            ),
            field="no_hours",
        )
    if no_hours and closed:
        raise DomainError(
            "month_closed",
            _(
                "%(month)s est clôturé : il n'y a plus de relevé à déclarer, seulement des régularisations d'heures "
                "déjà déclarées."
            )
            % {"month": month_label(month).capitalize()},
            field="no_hours",
        )
    if (
        no_hours
        and HoursLine.objects.filter(lot=lot, month=month, is_adjustment=False)
        .exclude(state=HoursLineState.REJECTED)
        .exists()
    ):  # a second tab, a colleague: the month has hours, « none » would contradict them
        raise DomainError(
            "already_declared",
            _(
                "Les heures de ce mois ont déjà été déclarées : « Aucune heure ce mois-ci » ne s'applique plus "
                "(corrigez les lignes déclarées si besoin)."
            ),
            field="no_hours",
        )
    if not accepted and not no_hours:
        if closed:
            message = _("Aucune régularisation saisie : rien n'a été enregistré.")
        else:
            message = _(
                "Aucune heure saisie : rien n'a été enregistré. Si personne n'a travaillé sur ce lot en %(month)s, "
                "déclarez-le avec « Aucune heure ce mois-ci »."
            ) % {"month": month_label(month)}
        raise DomainError("statement_empty", message, field="rows")
    for placement, hours, is_adjustment in accepted:
        create_line(actor=actor, placement=placement, month=month, hours=hours, is_adjustment=is_adjustment)
    statement = _statement(lot, month)
    if statement.submitted_at is None:  # the month's declaration: its date says whether it came in time; what was
        statement.submitted_at, statement.submitted_by, statement.source = timezone.now(), actor.user, source
    statement.submissions += 1  # sent later (a correction, a forgotten employee) is counted, each one journaled
    statement.save()
    _journal_statement(
        actor,
        statement,
        "submit",
        lines=len(accepted),
        hours=sum((hours for _, hours, _ in accepted), 0),
        source=str(source),
    )
    return statement


def _is_zero(value) -> bool:
    try:
        return float(str(value).replace(",", ".")) == 0
    except ValueError:
        return False


@transaction.atomic
def hours_lines_decide(*, actor, lot, month, lines, decision, reason: str = ""):
    """Validate (decision "validate") or reject ("reject", with a reason) lines of a lot's month, all or nothing."""
    if decision not in ("validate", "reject"):
        raise DomainError(
            "invalid_input", _("Décision inconnue : « %(decision)s ».") % {"decision": decision}, field="decision"
        )
    if decision == "reject" and not (reason or "").strip():
        raise DomainError("missing_input", _("Motif du rejet : obligatoire."), field="reason")
    lot = lock(ContractLot, lot, actor=actor)
    month = _month(month)
    wanted = [getattr(line, "pk", line) for line in lines]
    if not wanted:
        raise DomainError("missing_input", _("Cochez au moins une ligne."), field="lines")
    found = policy.with_scopes(
        HoursLine.objects.filter(pk__in=wanted, placement__lot=lot, month=month)
        .select_for_update(of=("self",))
        .select_related("placement__pathway__participant", "placement__lot")
        .order_by("pk"),
        actor,
    )
    found = {line.pk: line for line in found}
    errors, events = [], []
    inputs = {"reason": reason} if decision == "reject" else None
    for pk in wanted:
        line = found.get(pk)
        if line is None:
            errors.append(
                {"row": pk, "label": "", "field": None, "message": _("Relevé introuvable dans ce mois du lot.")}
            )
            continue
        policy.remember_scopes(line, actor)
        if not policy.allows(actor, "hoursline.view", line):
            errors.append(
                {"row": pk, "label": "", "field": None, "message": _("Relevé introuvable dans ce mois du lot.")}
            )
            continue
        try:
            events.append(engine.fire(line, decision, actor=actor, inputs=inputs))
        except DomainError as error:
            errors.append({"row": pk, "label": _name(line.placement), "field": error.field, "message": error.message})
    if errors:
        raise RowsRefused(
            "bulk_refused",
            ngettext(
                "Aucune ligne n'a été traitée : une ligne ne peut pas l'être.",
                "Aucune ligne n'a été traitée : %(count)s lignes ne peuvent pas l'être.",
                len(errors),
            )
            % {"count": len(errors)},
            errors=errors,
        )
    for event in events:
        publish_on_commit(event)
    return list(found.values())


@transaction.atomic
def statement_close_month(*, actor, lot, month, today: datetime.date | None = None) -> HoursStatement:
    """Close a lot's month: every validated line is locked (an already closed month: the adjustments validated since).
    Refused while lines of the month wait for a decision, or before the month is over."""
    lot = lock(ContractLot, lot, actor=actor)
    require(actor, "statement.close", lot, _("Seule la structure porteuse du lot clôture ses mois."))
    month = _month(month)
    today = today or timezone.localdate()
    if month >= today.replace(day=1):
        raise DomainError(
            "month_not_over",
            _("%(month)s n'est pas terminé : il se clôture à partir du mois suivant.")
            % {"month": month_label(month).capitalize()},
            field="month",
        )
    if not lot.month_in_execution_window(month):
        raise outside_execution(
            lot,
            month,
            _("%(month)s est hors de la période d'exécution du lot (%(starts)s – %(ends)s) : rien à clôturer."),
        )
    lines = list(
        policy.with_scopes(
            HoursLine.objects.filter(placement__lot=lot, month=month)
            .select_for_update(of=("self",))
            .select_related("placement__pathway__participant", "placement__lot")
            .order_by("pk"),
            actor,
        )
    )
    pending = [line for line in lines if line.state == HoursLineState.DECLARED]
    if pending:
        count = len(pending)
        raise RowsRefused(
            "lines_pending",
            ngettext(
                "%(count)s relevé %(of_month)s attend encore une décision : validez-le ou rejetez-le avant de "
                "clôturer le mois.",
                "%(count)s relevés %(of_month)s attendent encore une décision : validez-les ou rejetez-les avant de "
                "clôturer le mois.",
                count,
            )
            % {"count": count, "of_month": of_name(month_label(month))},
            errors=[
                {
                    "row": line.pk,
                    "label": _name(line.placement),
                    "field": None,
                    "message": _("%(hours)s déclarées, à valider ou à rejeter.") % {"hours": hours_text(line.hours)},
                }
                for line in pending
            ],
        )
    locked = 0
    for line in lines:
        if line.state != HoursLineState.VALIDATED:
            continue
        policy.remember_scopes(line, actor)
        publish_on_commit(engine.fire(line, "lock", actor=actor))
        locked += 1
    # Asked only when no line was declared (the rule's two reads are then needed).
    if not lines and waits_for_its_statement(
        contracts_ran=declarable_placements(Placement.objects.filter(lot=lot), month).exists(),
        submitted=HoursStatement.objects.filter(lot=lot, month=month, submitted_at__isnull=False).exists(),
        has_lines=False,
    ):
        raise DomainError(
            "statement_missing",
            _(
                "Le relevé %(of_month)s n'a pas été déclaré par l'attributaire alors que des contrats couraient ce "
                "mois-là : relancez-le. Le mois se clôture une fois le relevé déclaré (« Aucune heure ce mois-ci » "
                "s'il n'y en a pas eu)."
            )
            % {"of_month": of_name(month_label(month))},
            field="month",
        )
    statement = _statement(lot, month)
    again = statement.closed_at is not None
    if not again:
        statement.closed_at, statement.closed_by = timezone.now(), actor.user
        statement.save(update_fields=["closed_at", "closed_by"])
    elif locked == 0:
        raise DomainError(
            "month_already_closed", _("%(month)s est déjà clôturé.") % {"month": month_label(month).capitalize()}
        )
    _journal_statement(actor, statement, "close", locked=locked, again=again)
    return statement


# --- Reminders ---------------------------------------------------------------------------------------------------
@transaction.atomic
def statement_remind(*, actor, lot, month, today: datetime.date | None = None, once=False) -> HoursStatement:
    """Remind the awardee that its statement of `month` is missing (the facilitator, or the system's daily job,
    which reminds `once`)."""
    lot = lock(ContractLot, lot, actor=actor)
    if not actor.is_system:
        require(actor, "statement.remind", lot, _("Seule la structure porteuse du lot relance ses employeurs."))
    month = _month(month)
    today = today or timezone.localdate()
    statement = _statement(lot, month)
    refusal = reminder_refusal(
        lot=lot,
        month=month,
        today=today,
        contracts_ran=declarable_placements(Placement.objects.filter(lot=lot), month).exists(),
        submitted=statement.submitted_at is not None,
        closed=statement.closed_at is not None,
        reminded_at=statement.reminded_at,
    )
    if refusal is not None:
        raise refusal
    if once and statement.reminded_at is not None:
        raise DomainError(
            "already_reminded",
            _("Le relevé %(of_month)s a déjà fait l'objet d'une relance.") % {"of_month": of_name(month_label(month))},
        )
    statement.reminded_at = timezone.now()
    statement.reminders += 1
    statement.save(update_fields=["reminded_at", "reminders"])
    _journal_statement(actor, statement, "remind", reminders=statement.reminders)
    return statement


# How far back the system reminds a statement never declared nor reminded: the previous month and the two before it.
# A month the worker missed (stopped past its reminder day) is caught up; older ones are the facilitator's to remind
# from the month page, not a burst of mail about a quarter long gone.
REMINDER_LOOK_BACK_MONTHS = 3


def missing_statements(*, today: datetime.date | None = None):
    """(lot, month) pairs, oldest month first, whose statement is missing and was never reminded (by the system or
    by hand: `reminded_at`), for each of the last REMINDER_LOOK_BACK_MONTHS months over: the previous month from
    the facilitation organisation's reminder day on, the older ones whatever the day (theirs has passed); lots with
    an awardee, in their execution that month, with a placement running then."""
    today = today or timezone.localdate()
    newest = previous_month(today)
    pairs = []
    for back in range(REMINDER_LOOK_BACK_MONTHS - 1, -1, -1):
        month = add_months(newest, -back)
        running = declarable_placements(Placement.objects.filter(lot=OuterRef("pk")), month)
        done = HoursStatement.objects.filter(lot=OuterRef("pk"), month=month).exclude(
            submitted_at__isnull=True, reminded_at__isnull=True, closed_at__isnull=True
        )
        lots = ContractLot.objects.filter(
            awardee__isnull=False,
            execution_starts_on__lte=last_day_of_month(month),  # Lot.month_in_execution_window
            execution_ends_on__gte=month,
        )
        if month == newest:
            lots = lots.filter(
                contract__operation__facilitation_organisation__hours_statement_reminder_day__lte=today.day
            )
        lots = lots.filter(Exists(running)).exclude(Exists(done)).order_by("pk")
        pairs.extend((lot, month) for lot in lots)
    return pairs


def remind_missing_statements(*, today: datetime.date | None = None) -> int:
    """The worker's daily job: one reminder per missing statement (each in its own transaction)."""
    sent = 0
    for lot, month in missing_statements(today=today):
        try:
            statement_remind(actor=Actor.system(), lot=lot, month=month, today=today, once=True)
        except DomainError:  # declared or reminded meanwhile (another worker)
            continue
        sent += 1
    return sent


# --- Uploaded timesheets -------------------------------------------------------------------------------------------
# Column headers accepted (case, accents and spaces ignored): the placement reference (as printed on the statement
# page and in its template), the hours, and optionally a name (not read) and the adjustment flag.
TIMESHEET_COLUMNS = {
    "placement": {"reference", "ref", "miseenposte", "misenposte", "n°miseenposte", "nmiseenposte", "placement"},
    "hours": {"heures", "heuresrealisees", "heuresdinsertion", "hours"},
    "is_adjustment": {"regularisation", "adjustment", "isadjustment"},
    "label": {"nom", "salarie", "salariee", "salarie·e", "name"},
}
TRUE_WORDS = {"oui", "o", "x", "1", "true", "vrai", "yes"}
FALSE_WORDS = {"", "non", "n", "0", "false", "faux", "no"}


def _header_key(text) -> str:
    normalised = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in normalised if ch.isalnum() or ch == "°")


# A formula cell that no spreadsheet program computed (a file written by a script): its value is unknown, and read as
# empty it would drop the hours typed under a success message.
UNCOMPUTED = object()


def _unreadable(message=None):
    return DomainError(
        "invalid_file",
        message or _("Fichier illisible : enregistrez-le au format Excel (.xlsx) ou CSV."),
        field="file",
    )


def _read_xlsx(content: bytes) -> list:
    try:
        values = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        formulas = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=False)
        rows = []
        # Enough rows for the header, blank lines and one row over the limit (refused then, in parse_timesheet): a
        # small compressed sheet of a million rows is not read whole, twice.
        limit = settings.PARCOURS["STATEMENT_UPLOAD_MAX_ROWS"] + 100
        for computed, written in zip(
            values.worksheets[0].iter_rows(values_only=True, max_row=limit),
            formulas.worksheets[0].iter_rows(values_only=True, max_row=limit),
            strict=False,
        ):
            rows.append(
                [
                    UNCOMPUTED
                    if value is None and isinstance(formula, str) and formula.startswith("=")
                    else ""
                    if value is None
                    else value
                    for value, formula in itertools.zip_longest(computed, written)
                ]
            )
        values.close()
        formulas.close()
    except Exception:  # openpyxl raises many kinds of errors on a damaged or foreign file
        raise _unreadable() from None
    return rows


def _read_csv(content: bytes) -> list:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # five bytes have no character in Windows-1252 (0x81, 0x8d…): neither encoding
        raise _unreadable(_("Fichier illisible : enregistrez-le en CSV (UTF-8 ou Windows-1252) ou au format Excel."))
    # The separator is the one of the header: the first line with something on it.
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    try:
        return list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error:  # a cell over the reader's limit (131,072 characters) or a NUL byte
        raise _unreadable() from None


def _read_rows(name: str, content: bytes) -> list:
    """The cells of the first sheet (XLSX) or of the CSV (UTF-8 or Windows-1252, `;` or `,`), as text."""
    lower = (name or "").lower()
    if lower.endswith(".xlsx"):
        return _read_xlsx(content)
    if lower.endswith(".csv") or lower.endswith(".txt"):
        return _read_csv(content)
    raise DomainError("invalid_file", _("Format non pris en charge : déposez un fichier .csv ou .xlsx."), field="file")


def _cell_number(value):
    if isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool):
        return decimal.Decimal(str(value))
    text = str(value).strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if text.lower().endswith("h"):
        text = text[:-1]
    return text


def parse_timesheet(*, name: str, content: bytes) -> tuple[list[StatementRow], list[dict]]:
    """The rows of an uploaded timesheet that can be read, and the errors of those that cannot (each named with its
    line number): the statement refuses them together with the readable rows' own errors, every bad line at once.
    A file that cannot be read at all is refused here (DomainError on `file`)."""
    limits = settings.PARCOURS
    if len(content) > limits["STATEMENT_UPLOAD_MAX_BYTES"]:
        raise DomainError(
            "file_too_large",
            _("Fichier trop volumineux (%(size)s Ko) : %(limit)s Ko au plus.")
            % {"size": len(content) // 1024, "limit": limits["STATEMENT_UPLOAD_MAX_BYTES"] // 1024},
            field="file",
        )
    if not content:
        raise DomainError("invalid_file", _("Le fichier est vide."), field="file")
    table = _read_rows(name, content)
    header_at = next(
        (i for i, row in enumerate(table) if any(c is not UNCOMPUTED and str(c).strip() for c in row)), None
    )
    if header_at is None:
        raise DomainError("invalid_file", _("Le fichier est vide."), field="file")
    columns = {}
    for index, cell in enumerate(table[header_at]):
        key = _header_key(cell)
        for column, names in TIMESHEET_COLUMNS.items():
            if key in names and column not in columns:
                columns[column] = index
    required = (("placement", "« Référence »"), ("hours", "« Heures »"))
    missing = [label for column, label in required if column not in columns]
    if missing:
        raise DomainError(
            "invalid_file",
            ngettext(
                "Colonne %(columns)s introuvable sur la première ligne : partez du modèle téléchargeable sur cette "
                "page.",
                "Colonnes %(columns)s introuvables sur la première ligne : partez du modèle téléchargeable sur cette "
                "page.",
                len(missing),
            )
            % {"columns": _(" et ").join(missing)},
            field="file",
        )
    body = table[header_at + 1 :]
    if len(body) > limits["STATEMENT_UPLOAD_MAX_ROWS"]:
        raise DomainError(
            "file_too_large",
            _("Trop de lignes : %(limit)s au plus.") % {"limit": limits["STATEMENT_UPLOAD_MAX_ROWS"]},
            field="file",
        )

    def cell(row, column):
        index = columns.get(column)
        return row[index] if index is not None and index < len(row) else ""

    rows, errors = [], []
    for offset, raw in enumerate(body):
        line = header_at + offset + 2  # as the spreadsheet numbers its lines
        # A formula left without value reads as nothing: a template's `=SI(B5="";"";…)` computed to "" is stored
        # so. A row with nothing else is empty; one with a reference or hours besides is named below.
        if not any(c is not UNCOMPUTED and str(c).strip() for c in raw):
            continue
        label = "" if cell(raw, "label") is UNCOMPUTED else str(cell(raw, "label") or "").strip()[:120]
        uncomputed = next((c for c in ("placement", "hours", "is_adjustment") if cell(raw, c) is UNCOMPUTED), None)
        if uncomputed:
            errors.append(
                {
                    "row": line,
                    "label": label,
                    "field": uncomputed,
                    "message": _(
                        "Formule sans valeur calculée : ouvrez le fichier dans votre tableur et enregistrez-le, ou "
                        "saisissez le nombre."
                    ),
                }
            )
            continue
        reference = str(cell(raw, "placement")).strip()
        if reference.endswith(".0"):  # a number typed in a spreadsheet cell
            reference = reference[:-2]
        if not (reference.isascii() and reference.isdigit()) or not 0 < int(reference) < 2**31:
            errors.append(
                {
                    "row": line,
                    "label": label,
                    "field": "placement",
                    "message": _("Référence de mise en poste invalide."),
                }
            )
            continue
        flag = str(cell(raw, "is_adjustment")).strip().lower()
        if flag not in TRUE_WORDS | FALSE_WORDS:
            errors.append(
                {
                    "row": line,
                    "label": label,
                    "field": "is_adjustment",
                    "message": _("Régularisation : « oui » ou « non » attendu."),
                }
            )
            continue
        rows.append(
            StatementRow(
                placement=int(reference),
                hours=_cell_number(cell(raw, "hours")),
                is_adjustment=flag in TRUE_WORDS,
                row=line,
                label=label,
            )
        )
    if not rows and not errors:
        raise DomainError("invalid_file", _("Le fichier ne contient aucune ligne d'heures."), field="file")
    return rows, errors


def statement_upload(*, actor, lot, month, name: str, content: bytes, today=None) -> HoursStatement:
    """Declare a lot's month from an uploaded timesheet (CSV or XLSX): all or nothing, like the page; the lines that
    cannot be read are named with those the checks refuse."""
    rows, unreadable = parse_timesheet(name=name, content=content)
    return statement_submit(
        actor=actor,
        lot=lot,
        month=month,
        rows=rows,
        source=StatementSource.UPLOAD,
        today=today,
        unreadable=unreadable,
    )

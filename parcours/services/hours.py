"""Hours lines (relevés d'heures): the checks every declaration goes through — one line from the API or the
placement page, a whole monthly statement from the statement page or an uploaded timesheet — and the line's
transitions (validate, reject, lock).

A month's total for a placement (regular line and adjustments, rejected lines aside) stays within the configured
maximum and within what the contract allows that month: weekly hours × the working days (Monday to Friday) of the
month inside the contract, up to today, plus a tolerance (PARCOURS["HOURS_TOLERANCE_PERCENT"]) for overtime.
"""

import dataclasses
import datetime
import decimal
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from parcours.counting import hours_text
from parcours.dates import month_label
from parcours.models import HoursLine, HoursStatement, Placement
from parcours.notifications import publish_on_commit
from parcours.selectors.statements import month_capacity
from parcours.services.common import lock, require, require_number
from parcours.text import of_name
from roles.rows import insert_row_unless_duplicate
from workflows import engine, work
from workflows.errors import DomainError
from workflows.inputs import check_plausible_date
from workflows.journal import NEW_CHAIN, record_event
from workflows.states import HoursLineState, PlacementState

DECLARABLE_STATES = (PlacementState.ACTIVE, PlacementState.ENDED)
CENT = decimal.Decimal("0.01")


def first_of_month(value, field="month") -> datetime.date:
    """The first day of the month `value` falls in, within the dates a case can hold (2000 on: year 1 or 9999 is a
    probe, and « Janvier 1 précède le début du contrat » no answer)."""
    if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
        raise DomainError("invalid_input", _("Mois : date invalide."), field=field)
    return check_plausible_date(value.replace(day=1), field=field, label=_("Mois"))


@dataclass
class MonthState:
    """The lines a placement already has for a month (rejected lines aside)."""

    total: decimal.Decimal = decimal.Decimal("0")
    has_regular: bool = False
    regular_locked: bool = False
    pending_adjustments: list = dataclasses.field(default_factory=list)  # their hours, still to validate


def month_states(placement_ids, month) -> dict:
    """{placement id: MonthState} for one month, in one query."""
    rows = (
        HoursLine.objects.filter(placement_id__in=placement_ids, month=month)
        .exclude(state=HoursLineState.REJECTED)
        .values_list("placement_id", "hours", "is_adjustment", "state")
    )
    states = {}
    for placement_id, hours, is_adjustment, state in rows:
        current = states.setdefault(placement_id, MonthState())
        current.total += hours
        if not is_adjustment:
            current.has_regular = True
            current.regular_locked = state == HoursLineState.LOCKED
        elif state == HoursLineState.DECLARED:
            current.pending_adjustments.append(hours)
    return states


def is_month_closed(lot_id, month) -> bool:
    return HoursStatement.objects.filter(lot_id=lot_id, month=month, closed_at__isnull=False).exists()


def check_line(*, placement, month, hours, is_adjustment, state: MonthState, month_closed: bool, today=None):
    """Refuse a declaration with a precise French message on its field; returns the hours as a Decimal."""
    today = today or timezone.localdate()
    maximum = settings.PARCOURS["MAX_MONTHLY_HOURS"]
    # Not an adjustment: any number below zero or zero is told one way (« un nombre positif »), not by a range.
    hours = require_number(hours, "hours", _("Heures"), minimum=-maximum if is_adjustment else None, maximum=maximum)
    if hours == 0 and is_adjustment:  # an adjustment adds or removes hours (negative: removes)
        raise DomainError(
            "invalid_input",
            _("Régularisation : un nombre d'heures non nul est attendu (négatif pour en retirer)."),
            field="hours",
        )
    if hours <= 0 and not is_adjustment:
        raise DomainError("invalid_input", _("Heures : un nombre positif est attendu."), field="hours")
    if hours != hours.quantize(CENT):
        raise DomainError("invalid_input", _("Heures : deux décimales au plus."), field="hours")
    if placement.state not in DECLARABLE_STATES:
        raise DomainError("invalid_transition", _("Les heures se déclarent une fois le contrat démarré."))
    start = placement.started_on or placement.start_date
    if month < start.replace(day=1):
        raise DomainError(
            "outside_contract",
            _("%(month)s précède le début du contrat (%(start)s).")
            % {"month": month_label(month).capitalize(), "start": format(start, "%d/%m/%Y")},
            field="month",
        )
    if placement.ended_on and month > placement.ended_on:
        raise DomainError(
            "outside_contract",
            _("%(month)s suit la fin du contrat (%(ended_on)s).")
            % {"month": month_label(month).capitalize(), "ended_on": format(placement.ended_on, "%d/%m/%Y")},
            field="month",
        )
    if month > today:
        raise DomainError("date_in_future", _("On ne déclare pas les heures d'un mois à venir."), field="month")
    lot = placement.lot
    if not lot.month_in_execution_window(month):
        raise DomainError(
            "outside_execution_window",
            _("Ce mois est hors de la période d'exécution du lot (%(execution_starts_on)s – %(execution_ends_on)s).")
            % {
                "execution_starts_on": format(lot.execution_starts_on, "%d/%m/%Y"),
                "execution_ends_on": format(lot.execution_ends_on, "%d/%m/%Y"),
            },
            field="month",
        )
    closed = month_closed or state.regular_locked
    if is_adjustment:
        if not closed:
            raise DomainError(
                "adjustment_without_locked_month",
                _("Une régularisation ne porte que sur un mois clôturé."),
                field="month",
            )
        if hours in state.pending_adjustments:
            # Sent twice (a double click, the browser's back button, a retried request) would count twice once
            # validated: the same amount again waits until the first is decided.
            raise DomainError(
                "duplicate_adjustment",
                _(
                    "Une régularisation de %(hours)s pour %(month)s attend déjà la validation de la structure "
                    "porteuse : elle a sans doute été envoyée deux fois. Une seconde du même montant se déclare "
                    "une fois la première validée ou rejetée."
                )
                % {"hours": hours_text(hours), "month": month_label(month)},
                field="hours",
            )
    elif closed:
        raise DomainError(
            "month_locked", _("Ce mois est clôturé : déclarez une ligne de régularisation."), field="month"
        )
    elif state.has_regular:
        raise DomainError("duplicate_hours_line", _("Les heures de ce mois ont déjà été déclarées."), field="month")
    total = state.total + hours
    if total < 0:
        raise DomainError(
            "hours_total_negative",
            _("Avec cette régularisation, le total %(of_month)s deviendrait négatif (%(total)s).")
            % {"of_month": of_name(month_label(month)), "total": hours_text(total)},
            field="hours",
        )
    capacity = month_capacity(placement, month, today)
    if total > capacity.maximum:
        already = _(" (dont %(total)s déjà déclarées)") % {"total": hours_text(state.total)} if state.total else ""
        raise DomainError(
            "hours_above_contract",
            _("%(total)s pour %(month)s%(already)s dépassent le maximum de %(maximum)s (%(explanation)s).")
            % {
                "total": hours_text(total),
                "month": month_label(month),
                "already": already,
                "maximum": hours_text(capacity.maximum),
                "explanation": capacity.explanation,
            },
            field="hours",
        )
    return hours


def create_line(*, actor, placement, month, hours, is_adjustment) -> HoursLine:
    """Write a checked line: the row, its journal event, the work layer, the notification on commit."""
    line = HoursLine(
        placement=placement,
        lot_id=placement.lot_id,  # the line's scope (HoursLine.SCOPE_PATHS): a placement never changes lot
        month=month,
        hours=hours,
        is_adjustment=is_adjustment,
        declared_by=actor.user,
    )
    if not insert_row_unless_duplicate(line):  # a race lost to another declaration of the same month
        raise DomainError("duplicate_hours_line", _("Les heures de ce mois ont déjà été déclarées."))
    event = record_event(
        actor=actor,
        object_type="hoursline",
        object_id=line.pk,
        participant_id=placement.pathway.participant_id,
        action="create",
        to_state=line.state,
        inputs={"placement": placement.pk, "month": month, "hours": hours, "is_adjustment": is_adjustment},
        tail=NEW_CHAIN,
    )
    work.object_created(obj=line, actor=actor, event=event)
    publish_on_commit(event)
    return line


@transaction.atomic
def hours_declare(*, actor, placement, month, hours, is_adjustment: bool = False) -> HoursLine:
    """The employer declares the insertion hours of one month (or an adjustment of a closed month)."""
    placement = lock(Placement, placement, actor=actor)
    require(actor, "placement.declare_hours", placement, _("Seul l'employeur déclare les heures de ce contrat."))
    month = first_of_month(month)
    state = month_states([placement.pk], month).get(placement.pk, MonthState())
    hours = check_line(
        placement=placement,
        month=month,
        hours=hours,
        is_adjustment=is_adjustment,
        state=state,
        month_closed=is_month_closed(placement.lot_id, month),
    )
    return create_line(actor=actor, placement=placement, month=month, hours=hours, is_adjustment=is_adjustment)


# --- The line's transitions ----------------------------------------------------------------------------------
def hours_transition(actor, line, name, inputs=None):
    line = lock(HoursLine, line, actor=actor, transition=name)
    engine.ensure_can_fire(line, name, actor=actor)
    event = engine.fire(line, name, actor=actor, inputs=inputs)
    publish_on_commit(event)
    return line


@transaction.atomic
def hoursline_validate(*, actor, hours_line):
    return hours_transition(actor, hours_line, "validate")


@transaction.atomic
def hoursline_reject(*, actor, hours_line, reason: str):
    return hours_transition(actor, hours_line, "reject", {"reason": reason})


@transaction.atomic
def hoursline_lock(*, actor, hours_line):
    return hours_transition(actor, hours_line, "lock")


HOURS_LINE_SERVICES = {"validate": hoursline_validate, "reject": hoursline_reject, "lock": hoursline_lock}

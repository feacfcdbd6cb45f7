import datetime
import decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from parcours.models import HoursLine, Pathway, Placement
from parcours.notifications import publish_on_commit
from parcours.services.common import atomic_unique, lock, require, require_choice, require_date, require_number
from workflows import engine, work
from workflows.errors import DomainError
from workflows.journal import record_event
from workflows.states import REFERRAL_OPEN_STATES, HoursLineState, PathwayState, PlacementState
from workflows.vocabulary import PlacementEndKind


def _after_placement_closed(actor, placement):
    """With no other planned or active placement, the pathway goes to follow-up (or back to eligible)."""
    pathway = Pathway.objects.select_for_update(of=("self",)).get(pk=placement.pathway_id)
    if pathway.state != PathwayState.PLACED:
        return
    others = pathway.placements.exclude(pk=placement.pk)
    if others.filter(state__in=[PlacementState.PLANNED, PlacementState.ACTIVE]).exists():
        return
    worked = pathway.placements.filter(state=PlacementState.ENDED).exists()
    name = "start_follow_up" if worked else "return_to_eligible"
    engine.fire(pathway, name, actor=actor, internal=True, journal_extra={"placement": placement.pk})
    if name == "return_to_eligible" and pathway.referrals.filter(state__in=REFERRAL_OPEN_STATES).exists():
        # Other referrals are still open: the pathway is referred again, so that a later hire places it.
        engine.fire(pathway, "refer", actor=actor, internal=True, journal_extra={"placement": placement.pk})


def _transition(actor, placement, name, inputs=None, *, after=None):
    placement = lock(Placement, placement, actor=actor)
    engine.ensure_can_fire(placement, name, actor=actor)
    event = engine.fire(placement, name, actor=actor, inputs=inputs)
    if after is not None:
        after(placement)
    publish_on_commit(event)
    return placement


@transaction.atomic
def placement_start(*, actor, placement):
    return _transition(actor, placement, "start")


@transaction.atomic
def placement_end(*, actor, placement, end_date, end_kind, reason: str = ""):
    if end_date is not None:
        require_date(end_date, "end_date", "Date de fin")
    if end_kind is not None:
        require_choice(end_kind, PlacementEndKind, "end_kind", "Type de fin")
    inputs = {"end_date": end_date, "end_kind": end_kind, "reason": reason}
    return _transition(actor, placement, "end", inputs, after=lambda p: _after_placement_closed(actor, p))


@transaction.atomic
def placement_change_start_date(*, actor, placement, start_date, reason: str = ""):
    """Correct the planned start date of a contract not started yet (journaled, with the former date)."""
    if start_date is not None:
        require_date(start_date, "start_date", "Nouvelle date de début")
    placement = lock(Placement, placement, actor=actor)
    engine.ensure_can_fire(placement, "change_start_date", actor=actor)
    previous = placement.start_date
    inputs = {"start_date": start_date, "reason": reason}
    event = engine.fire(
        placement, "change_start_date", actor=actor, inputs=inputs, journal_extra={"previous": previous}
    )
    publish_on_commit(event)
    return placement


@transaction.atomic
def placement_cancel(*, actor, placement, reason: str):
    """A contract that never started: its planned follow-ups are dropped (they were only reminders)."""

    def drop_planned_follow_ups_and_close(p):
        p.follow_ups.filter(done_on__isnull=True).delete()
        _after_placement_closed(actor, p)

    return _transition(actor, placement, "cancel", {"reason": reason}, after=drop_planned_follow_ups_and_close)


def _first_of_month(value):
    if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
        raise DomainError("invalid_input", "Mois : date invalide.", field="month")
    return value.replace(day=1)


@transaction.atomic
def hours_declare(*, actor, placement, month, hours, is_adjustment: bool = False) -> HoursLine:
    """The employer declares the insertion hours of one month (or an adjustment of a locked month)."""
    placement = lock(Placement, placement, actor=actor)
    require(actor, "placement.declare_hours", placement, "Seul l'employeur déclare les heures de ce contrat.")
    month = _first_of_month(month)
    maximum = settings.PARCOURS["MAX_MONTHLY_HOURS"]
    hours = require_number(hours, "hours", "Heures", minimum=-maximum if is_adjustment else 0, maximum=maximum)
    if hours == 0 or (not is_adjustment and hours <= 0):
        raise DomainError("invalid_input", "Heures : un nombre positif est attendu.", field="hours")
    if hours != hours.quantize(decimal.Decimal("0.01")):
        raise DomainError("invalid_input", "Heures : deux décimales au plus.", field="hours")
    if placement.state not in (PlacementState.ACTIVE, PlacementState.ENDED):
        raise DomainError("invalid_transition", "Les heures se déclarent une fois le contrat démarré.")
    if month < placement.started_on.replace(day=1) or (placement.ended_on and month > placement.ended_on):
        raise DomainError("outside_contract", "Ce mois est en dehors de la période du contrat.", field="month")
    if month > timezone.localdate():
        raise DomainError("date_in_future", "On ne déclare pas les heures d'un mois à venir.", field="month")
    if not placement.lot.month_in_execution_window(month):
        lot = placement.lot
        raise DomainError(
            "outside_execution_window",
            f"Ce mois est hors de la période d'exécution du lot ({lot.execution_starts_on:%d/%m/%Y} – "
            f"{lot.execution_ends_on:%d/%m/%Y}).",
            field="month",
        )
    regular = placement.hours_lines.filter(month=month, is_adjustment=False).exclude(state=HoursLineState.REJECTED)
    if is_adjustment:
        if not regular.filter(state=HoursLineState.LOCKED).exists():
            raise DomainError(
                "adjustment_without_locked_month",
                "Une régularisation ne porte que sur un mois clôturé.",
                field="month",
            )
    elif regular.exists():
        if regular.filter(state=HoursLineState.LOCKED).exists():
            raise DomainError(
                "month_locked", "Ce mois est clôturé : déclarez une ligne de régularisation.", field="month"
            )
        raise DomainError("duplicate_hours_line", "Les heures de ce mois ont déjà été déclarées.", field="month")
    with atomic_unique("duplicate_hours_line", "Les heures de ce mois ont déjà été déclarées."):
        line = HoursLine.objects.create(
            placement=placement, month=month, hours=hours, is_adjustment=is_adjustment, declared_by=actor.user
        )
    event = record_event(
        actor=actor,
        object_type="hoursline",
        object_id=line.pk,
        participant_id=placement.pathway.participant_id,
        action="create",
        to_state=line.state,
        inputs={"placement": placement.pk, "month": month, "hours": hours, "is_adjustment": is_adjustment},
    )
    work.object_created(obj=line, actor=actor, event=event)
    publish_on_commit(event)
    return line


def _hours_transition(actor, line, name, inputs=None):
    line = lock(HoursLine, line, actor=actor)
    engine.ensure_can_fire(line, name, actor=actor)
    event = engine.fire(line, name, actor=actor, inputs=inputs)
    publish_on_commit(event)
    return line


@transaction.atomic
def hoursline_validate(*, actor, hours_line):
    return _hours_transition(actor, hours_line, "validate")


@transaction.atomic
def hoursline_reject(*, actor, hours_line, reason: str):
    return _hours_transition(actor, hours_line, "reject", {"reason": reason})


@transaction.atomic
def hoursline_lock(*, actor, hours_line):
    return _hours_transition(actor, hours_line, "lock")


PLACEMENT_SERVICES = {
    "start": placement_start,
    "end": placement_end,
    "change_start_date": placement_change_start_date,
    "cancel": placement_cancel,
}
HOURS_LINE_SERVICES = {"validate": hoursline_validate, "reject": hoursline_reject, "lock": hoursline_lock}

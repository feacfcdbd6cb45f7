from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Case, F, Subquery, Value, When
from django.utils.translation import gettext as _

from parcours.dates import add_months
from parcours.models import FollowUp, Pathway, Placement
from parcours.notifications import publish_on_commit
from parcours.services.common import lock, lock_consequence, require_choice, require_date

# The hours lines' services live in parcours.services.hours; these names stay importable from here.
from parcours.services.hours import (  # noqa: F401
    HOURS_LINE_SERVICES,
    hours_declare,
    hoursline_lock,
    hoursline_reject,
    hoursline_validate,
)
from roles.rows import Pending, send_unsent, unsent
from roles.statements import Template
from workflows import engine
from workflows.states import REFERRAL_OPEN_STATES, PathwayState
from workflows.vocabulary import PlacementEndKind


def _after_placement_closed(actor, placement, event=None):
    """With no other planned or active placement, the pathway goes to follow-up (or back to eligible). The pathway's
    lock carries the placement's transition `event`, if still unsent, and reads its placements: one round trip."""
    # The placement's own row is written before the read (its transition's write goes in front of it, or went
    # before): closed, it is not counted among the open ones.
    pathway = lock_consequence(Pathway, placement.pathway_id, leads=unsent(event), reads=("placements",))
    if pathway.state != PathwayState.PLACED:
        return
    # Both questions with the lock: another contract still planned or running, and one that ended (this one too).
    others_open, ended = pathway.placements_left()
    if others_open:
        return
    name = "start_follow_up" if ended else "return_to_eligible"
    # A consequence is told live as its cause is (its audience may differ: a pathway's teams, not a placement's).
    publish_on_commit(
        engine.fire(pathway, name, actor=actor, internal=True, journal_extra={"placement": placement.pk})
    )
    if name == "return_to_eligible" and pathway.referrals.filter(state__in=REFERRAL_OPEN_STATES).exists():
        # Other referrals are still open: the pathway is referred again, so that a later hire places it.
        publish_on_commit(
            engine.fire(pathway, "refer", actor=actor, internal=True, journal_extra={"placement": placement.pk})
        )


def _transition(actor, placement, name, inputs=None, *, after=None):
    """`after(placement, event)`: what follows the transition; its first read may carry the transition's write (else
    it sends it before writing anything: `roles.rows.send_unsent`)."""
    placement = lock(Placement, placement, actor=actor, transition=name, inputs=inputs)
    engine.ensure_can_fire(placement, name, actor=actor)
    event = engine.fire(placement, name, actor=actor, inputs=inputs, keep_lead=after is not None)
    if after is not None:
        after(placement, event)
        send_unsent(event)  # never committed unsent
    publish_on_commit(event)
    return placement


@transaction.atomic
def placement_start(*, actor, placement):
    return _transition(actor, placement, "start")


@transaction.atomic
def placement_end(*, actor, placement, end_date, end_kind, reason: str = ""):
    if end_date is not None:
        require_date(end_date, "end_date", _("Date de fin"))
    if end_kind is not None:
        require_choice(end_kind, PlacementEndKind, "end_kind", _("Type de fin"))
    inputs = {"end_date": end_date, "end_kind": end_kind, "reason": reason}
    return _transition(actor, placement, "end", inputs, after=lambda p, e: _after_placement_closed(actor, p, e))


@transaction.atomic
def placement_change_start_date(*, actor, placement, start_date, reason: str = ""):
    """Correct the planned start date of a contract not started yet (journaled, with the former date)."""
    if start_date is not None:
        require_date(start_date, "start_date", _("Nouvelle date de début"))
    placement = lock(Placement, placement, actor=actor)
    engine.ensure_can_fire(placement, "change_start_date", actor=actor)
    previous = placement.start_date
    inputs = {"start_date": start_date, "reason": reason}
    # Its planned follow-ups move with it (the work layer moves their timers: parcours.work.listener).
    event = engine.fire(
        placement,
        "change_start_date",
        actor=actor,
        inputs=inputs,
        journal_extra={"previous": previous},
        along=lambda: _planned_follow_ups_moved(placement, start_date),
    )
    publish_on_commit(event)
    return placement


def _planned_follow_ups_moved(placement, start_date) -> Pending:
    """The placement's planned follow-ups not recorded yet, each at its offset from `start_date`: one UPDATE, for the
    transition's statement to carry. Each is named by its rank (FollowUp.planned_rank), not by its former day; a
    recorded one keeps the day it was planned for."""
    ranked = FollowUp.objects.filter(placement_id=placement.pk).order_by("pk").values("pk")
    due_on = Case(
        *(
            When(pk=Subquery(ranked[rank : rank + 1]), then=Value(add_months(start_date, months)))
            for months in FollowUp.PLANNED_OFFSETS_MONTHS
            for rank in [FollowUp.planned_rank(months)]
        ),
        default=F("due_on"),
    )
    planned = FollowUp.objects.filter(placement_id=placement.pk, done_on__isnull=True)
    update = Template.of_update(planned, {"due_on": due_on}, required=())
    return Pending(label="planned follow-ups", using=DEFAULT_DB_ALIAS, sql=update.sql, params=list(update.params))


@transaction.atomic
def placement_cancel(*, actor, placement, reason: str):
    """A contract that never started: its planned follow-ups are dropped (they were only reminders)."""

    def drop_planned_follow_ups_and_close(p, event):
        send_unsent(event)  # before this write
        p.follow_ups.filter(done_on__isnull=True).delete()
        _after_placement_closed(actor, p)

    return _transition(actor, placement, "cancel", {"reason": reason}, after=drop_planned_follow_ups_and_close)


PLACEMENT_SERVICES = {
    "start": placement_start,
    "end": placement_end,
    "change_start_date": placement_change_start_date,
    "cancel": placement_cancel,
}

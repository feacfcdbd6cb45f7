"""The hours counted per lot, as homes, the register and the lot page show them, read from a summary row per lot.

Counting a lot means reading every placement of the lot, its hours, its participant's eligibility decisions and
running the lot's counting rules (parcours.counting, via selectors.reports.clause_figures): seconds for a register
at national scale. The result is kept in LotHoursSummary and only recounted when something that moves it changed:

- writers: every journal event that can change a lot's count (hours lines, placements, monthly statements, the lot
  itself, a participant's eligibility) marks the lot's row stale in the writer's own transaction (`event_recorded`,
  one UPDATE touching only fresh rows, so concurrent writers of an already stale lot take no lock; on PostgreSQL
  inside the event's INSERT statement);
- readers: rows fresh and counted are used as they are; the others are claimed (fresh, no count, a token of the
  reader), recounted, and written only if still fresh with the reader's token. A writer committing meanwhile has
  made the row stale again (or waits for the claim to commit, then does): the recount it may have missed is never
  kept. Two readers recounting the same lot: the last claim's count is kept;
- the worker recounts stale lots between sweeps (`refresh_stale`), so that pages seldom count themselves.

The figures do not depend on who reads them (only which lots: `report.view`), so one row serves every viewer."""

import datetime
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, DatabaseError, transaction
from django.utils import timezone

from parcours.counting import percent
from parcours.models import ContractLot, LotHoursSummary
from parcours.selectors.reports import (
    PUBLICS,
    Figures,
    LotFigures,
    clause_figures,
    elapsed_share,
    execution_over,
    report_lots,
    shows_health,
)
from roles.rows import Pending
from roles.statements import Template, sentinel

logger = logging.getLogger(__name__)

# The events that can move a lot's count, by object type: the path from a summary to the event's object.
_LOTS_OF = {
    "hoursline": "lot__placements__hours_lines",
    "placement": "lot__placements",
    "hoursstatement": "lot__statements",
    "lot": "lot_id",
}
# Eligibility decisions and participant data count through the placements of the participant's pathways.
_THROUGH_PARTICIPANT = "lot__placements__pathway__participant_id"
_ELIGIBILITY_ACTIONS = {"validate_eligibility", "reject_eligibility"}
_STALE = {}  # path → the UPDATE marking the fresh summaries it reaches stale, compiled once (roles.statements)


def event_recorded(event):
    """The write marking stale the summaries of the lots whose count `event` may move, for workflows.journal to send
    with the event's row (a `Pending`: in the event's INSERT on PostgreSQL), or None."""
    if event.object_type in _LOTS_OF:
        path, value = _LOTS_OF[event.object_type], event.object_id
    elif event.object_type == "participant" and event.action == "create":
        return None  # a participant just created has no placement yet
    elif (
        event.object_type in ("pathway", "participant")
        and event.participant_id
        and (event.object_type == "participant" or event.action in _ELIGIBILITY_ACTIONS)
    ):
        path, value = _THROUGH_PARTICIPANT, event.participant_id
    else:
        return None
    statement = _stale_statement(path)
    return Pending(
        label="lot hours summary", using=DEFAULT_DB_ALIAS, sql=statement.sql, params=statement.bind(value=value)
    )


def _stale_statement(path):
    statement = _STALE.get(path)
    if statement is None:
        marker = sentinel()
        summaries = LotHoursSummary.objects.filter(fresh=True, **{path: marker})
        statement = _STALE[path] = Template.of_update(summaries, {"fresh": False}, required=("value",), value=marker)
    return statement


@dataclass(frozen=True)
class Counted:
    """What a lot's summary holds: the totals, the rule version, the breakdowns (JSON-ready)."""

    counted: Decimal
    declared: Decimal
    rules: str
    breakdown: dict


def _breakdown(figures) -> dict:
    return {
        "by_month": {month.isoformat(): str(value) for month, value in figures.by_month.items()},
        "by_mode": {str(mode): str(value) for mode, value in figures.by_mode.items()},
        "by_public": {key: str(value) for key, value in figures.by_public.items()},
        # Ids, not counts: a dashboard over several lots counts a person once (selectors.reports.count_people).
        "people_by_public": {key: sorted(ids) for key, ids in figures.people_by_public.items()},
    }


def _count(lot_ids) -> dict:
    """{lot id: Counted} counted now under each lot's rules (every public, health ones included)."""
    lots = ContractLot.objects.select_related("contract__operation", "contract__buyer", "awardee", "counting_rules")
    figures = clause_figures(actor=None, lots=lots.filter(pk__in=lot_ids), detail=False, health=True)
    return {f.lot.pk: Counted(f.counted, f.declared, f.rules, _breakdown(f)) for f in figures.lots}


def _claim(lot_ids, token):
    with transaction.atomic():
        LotHoursSummary.objects.bulk_create([LotHoursSummary(lot_id=pk) for pk in lot_ids], ignore_conflicts=True)
        LotHoursSummary.objects.filter(lot_id__in=lot_ids).update(fresh=True, token=token, counted=None)


def _keep(counts, token):
    now = timezone.now()
    rows = [
        LotHoursSummary(
            lot_id=pk,
            counted=c.counted,
            declared=c.declared,
            rules_label=c.rules,
            breakdown=c.breakdown,
            computed_at=now,
        )
        for pk, c in counts.items()
    ]
    with transaction.atomic():
        LotHoursSummary.objects.filter(fresh=True, token=token).bulk_update(
            rows, ["counted", "declared", "rules_label", "breakdown", "computed_at"]
        )


def recount(lot_ids) -> dict:
    """Count the lots now and keep the result unless a writer changed them meanwhile: {lot id: Counted}. A database
    refusal while claiming or keeping (a lock timeout, a deadlock with a writer) costs only the keeping: the counts
    are returned all the same."""
    lot_ids = sorted(set(lot_ids))
    if not lot_ids:
        return {}
    token = uuid.uuid4().hex
    try:
        _claim(lot_ids, token)
    except DatabaseError:
        logger.warning("lot hours: could not claim %s lots for a recount", len(lot_ids), exc_info=True)
        return _count(lot_ids)
    counts = _count(lot_ids)
    try:
        _keep(counts, token)
    except DatabaseError:
        logger.warning("lot hours: could not keep the recount of %s lots", len(lot_ids), exc_info=True)
    return counts


def counted_hours(lot_ids) -> dict:
    """{lot id: Counted} for the lots (whose access the caller checked): one query when the summaries are fresh, a
    recount of the stale ones otherwise."""
    lot_ids = set(lot_ids)
    found = {
        pk: Counted(counted, declared, rules, breakdown)
        for pk, counted, declared, rules, breakdown in LotHoursSummary.objects.filter(
            lot_id__in=lot_ids, fresh=True, counted__isnull=False
        ).values_list("lot_id", "counted", "declared", "rules_label", "breakdown")
    }
    # A summary kept by a worker of the previous release (a rolling restart) counts people per lot, not by id.
    missing = lot_ids - {pk for pk, counted in found.items() if "people_by_public" in counted.breakdown}
    if missing:
        found.update(recount(missing))
    return found


def with_counted_hours(actor, lots) -> list:
    """The lots (a list or a queryset) with the hours their counting rules count, as the dashboard and the clause
    reports show them: `counted_hours`, `counted_pct` (of the target) and `counting_rules_label` (the rule version).
    The lots out of the actor's `report.view` get None. Two queries when the summaries are fresh."""
    lots = list(lots)
    reachable = set(report_lots(actor).filter(pk__in=[lot.pk for lot in lots]).values_list("pk", flat=True))
    counts = counted_hours(reachable)
    for lot in lots:
        found = counts.get(lot.pk) if lot.pk in reachable else None
        lot.counted_hours = found.counted if found else None
        lot.counted_pct = percent(found.counted, lot.target_hours) if found else None
        lot.counting_rules_label = found.rules if found else ""
    return lots


def summary_figures(*, actor, lots=None, today=None) -> Figures:
    """The dashboard's figures (totals and breakdowns per lot, no participant rows) of the actor's lots (or `lots`,
    a queryset from report_lots), from the summaries: three queries when they are fresh. The health publics only
    for the roles that may see them (selectors.reports.shows_health)."""
    today = today or timezone.localdate()
    lot_list = list(lots if lots is not None else report_lots(actor))
    counts = counted_hours([lot.pk for lot in lot_list])
    show_health = shows_health(actor)
    hidden = {key for key, _, _, health in PUBLICS if health and not show_health}
    by_lot = []
    for lot in lot_list:
        found = counts[lot.pk]
        figures = LotFigures(
            lot=lot,
            target=lot.target_hours,
            declared=found.declared,
            counted=found.counted,
            rules=found.rules,
            elapsed_share=elapsed_share(lot, today),
            ended=execution_over(lot, today),
        )
        parts = found.breakdown
        for month, value in parts.get("by_month", {}).items():
            figures.by_month[datetime.date.fromisoformat(month)] = Decimal(value)
        for mode, value in parts.get("by_mode", {}).items():
            figures.by_mode[mode] = Decimal(value)
        for key, value in parts.get("by_public", {}).items():
            if key not in hidden:
                figures.by_public[key] = Decimal(value)
        for key, ids in parts.get("people_by_public", {}).items():
            if key not in hidden:
                figures.people_by_public[key] = set(ids)
        by_lot.append(figures)
    ordered = sorted(by_lot, key=lambda f: (not f.at_risk, f.realised_share - f.elapsed_share))
    publics = [(key, label) for key, label, _, health in PUBLICS if show_health or not health]
    # The hours of a public only beside who may see who is in it: an auditor's bilan gives each pseudonymised row its
    # hours, and a public's hours beside them tell its members (one of two women, 100,25 h: P-000012).
    return Figures(lots=ordered, show_health=show_health, publics=publics, person_publics=show_health)


def refresh_stale(*, limit=200) -> int:
    """Recount up to `limit` stale (or never counted) lots, the worker's job between sweeps. Returns how many."""
    stale = list(
        ContractLot.objects.exclude(hours_summary__fresh=True, hours_summary__counted__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    recount(stale)
    return len(stale)

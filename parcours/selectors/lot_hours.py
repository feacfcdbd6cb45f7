"""The hours counted per lot, as homes, the register and the lot page show them, read from a summary row per lot.

Counting a lot means reading every placement of the lot, its hours, its participant's eligibility decisions and
running the lot's counting rules (parcours.counting, via selectors.reports.clause_figures): seconds for a register
at national scale. The result is kept in LotHoursSummary and only recounted when something that moves it changed:

- writers: every journal event that can change a lot's count (hours lines, placements, monthly statements, the lot
  itself, a participant's eligibility) marks the lot's row stale in the writer's own transaction (`event_recorded`,
  one UPDATE statement touching only fresh rows, so concurrent writers of an already stale lot take no lock);
- readers: rows fresh and counted are used as they are; the others are claimed (fresh, no count, a token of the
  reader), recounted, and written only if still fresh with the reader's token. A writer committing meanwhile has
  made the row stale again (or waits for the claim to commit, then does): the recount it may have missed is never
  kept. Two readers recounting the same lot: the last claim's count is kept;
- the worker recounts stale lots between sweeps (`refresh_stale`), so that pages seldom count themselves.

The figures do not depend on who reads them (only which lots: `report.view`), so one row serves every viewer."""

import logging
import uuid

from django.db import DatabaseError, transaction
from django.utils import timezone

from parcours.models import ContractLot, LotHoursSummary
from parcours.selectors.reports import clause_figures, report_lots

logger = logging.getLogger(__name__)

# The events that can move a lot's count, by object type: how the lots they touch are found from the event.
_LOTS_OF = {
    "hoursline": lambda event: {"lot__placements__hours_lines": event.object_id},
    "placement": lambda event: {"lot__placements": event.object_id},
    "hoursstatement": lambda event: {"lot__statements": event.object_id},
    "lot": lambda event: {"lot_id": event.object_id},
}
# Eligibility decisions count through the placements of the participant's pathways.
_ELIGIBILITY_ACTIONS = {"validate_eligibility", "reject_eligibility"}


def event_recorded(event):
    """Mark stale the summaries of the lots whose count `event` may move (called by workflows.journal)."""
    if event.object_type in _LOTS_OF:
        lookup = _LOTS_OF[event.object_type](event)
    elif (
        event.object_type in ("pathway", "participant")
        and event.participant_id
        and (event.object_type == "participant" or event.action in _ELIGIBILITY_ACTIONS)
    ):
        lookup = {"lot__placements__pathway__participant_id": event.participant_id}
    else:
        return
    LotHoursSummary.objects.filter(fresh=True, **lookup).update(fresh=False)


def _count(lot_ids) -> dict:
    """{lot id: (counted, declared, rules label)} counted now under each lot's rules."""
    lots = ContractLot.objects.select_related("contract__operation", "contract__buyer", "awardee", "counting_rules")
    figures = clause_figures(actor=None, lots=lots.filter(pk__in=lot_ids), detail=False)
    return {f.lot.pk: (f.counted, f.declared, f.rules) for f in figures.lots}


def _claim(lot_ids, token):
    with transaction.atomic():
        LotHoursSummary.objects.bulk_create([LotHoursSummary(lot_id=pk) for pk in lot_ids], ignore_conflicts=True)
        LotHoursSummary.objects.filter(lot_id__in=lot_ids).update(fresh=True, token=token, counted=None)


def _keep(counts, token):
    now = timezone.now()
    rows = [
        LotHoursSummary(lot_id=pk, counted=counted, declared=declared, rules_label=rules, computed_at=now)
        for pk, (counted, declared, rules) in counts.items()
    ]
    with transaction.atomic():
        LotHoursSummary.objects.filter(fresh=True, token=token).bulk_update(
            rows, ["counted", "declared", "rules_label", "computed_at"]
        )


def recount(lot_ids) -> dict:
    """Count the lots now and keep the result unless a writer changed them meanwhile. {lot id: (counted, declared,
    rules label)}. A database refusal while keeping (a lock timeout, a deadlock with a writer) costs only the
    keeping: the counts are returned all the same."""
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
    """{lot id: (counted, declared, rules label)} for the lots (whose access the caller checked): one query when the
    summaries are fresh, a recount of the stale ones otherwise."""
    lot_ids = set(lot_ids)
    found = {
        pk: (counted, declared, rules)
        for pk, counted, declared, rules in LotHoursSummary.objects.filter(
            lot_id__in=lot_ids, fresh=True, counted__isnull=False
        ).values_list("lot_id", "counted", "declared", "rules_label")
    }
    missing = lot_ids - found.keys()
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
        lot.counted_hours = found[0] if found else None
        share = float(found[0] / lot.target_hours) if found and lot.target_hours else 0.0
        lot.counted_pct = round(share * 100) if found else None
        lot.counting_rules_label = found[2] if found else ""
    return lots


def refresh_stale(*, limit=200) -> int:
    """Recount up to `limit` stale (or never counted) lots, the worker's job between sweeps. Returns how many."""
    stale = list(
        ContractLot.objects.exclude(hours_summary__fresh=True, hours_summary__counted__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    recount(stale)
    return len(stale)

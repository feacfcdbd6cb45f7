"""The dashboard's pathway figures, kept per team for PATHWAY_FIGURES_MINUTES.

Counting them reads every state change of the team's pathways in the journal: 0.8 s for the 50,000 pathways a
facilitation organisation shares at 100,000 pathways, ten times that at national scale. They are statistics (a
funnel, medians, exits), read by people who watch trends, so the dashboard shows them as of the time they were
counted, and that time on the page:

- readers use the team's row while it is younger than PATHWAY_FIGURES_MINUTES; otherwise they count and keep (an
  upsert: two readers counting at once both write a correct row, the last one stays);
- the worker recounts, between sweeps, the rows read in the last READ_WITHIN that are older than two thirds of
  PATHWAY_FIGURES_MINUTES, so that members seldom count themselves; it drops the rows nobody read for that long.

One row per (organisation, role): `participant.view`'s scope depends on nothing else (roles.policy), so any
member's count is every member's. The rows hold counts only, never a participant."""

import datetime
import logging
import time

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from parcours.models import PathwayFiguresSnapshot
from parcours.selectors.reports import PathwayFigures, count_pathway_figures
from roles.actor import Actor
from roles.models import Membership

logger = logging.getLogger(__name__)

READ_WITHIN = datetime.timedelta(days=7)
READ_MARK = datetime.timedelta(hours=1)  # read_at is written at most this often (a dashboard view writes nothing else)


def max_age() -> datetime.timedelta:
    return datetime.timedelta(minutes=settings.PARCOURS["PATHWAY_FIGURES_MINUTES"])


def _keep(actor, counts, now):
    """Upsert the team's row. A database refusal (a lock timeout under a concurrent keeper) costs only the keeping:
    the page shows the counts all the same, in a savepoint so that the request's transaction stays usable."""
    row = PathwayFiguresSnapshot(
        organisation_id=actor.organisation_id, role=actor.role, figures=counts, computed_at=now, read_at=now
    )
    try:
        with transaction.atomic():
            PathwayFiguresSnapshot.objects.bulk_create(
                [row],
                update_conflicts=True,
                unique_fields=["organisation", "role"],
                update_fields=["figures", "computed_at", "read_at"],
            )
    except DatabaseError:
        logger.warning("pathway figures: could not keep the count of team %s/%s", row.organisation_id, row.role)


def pathway_figures(*, actor, now=None) -> PathwayFigures:
    """The actor's team figures: the kept ones while younger than PATHWAY_FIGURES_MINUTES (one query), else
    counted now and kept."""
    now = now or timezone.now()
    if actor.organisation_id is None or actor.is_system:
        return PathwayFigures.from_counts(count_pathway_figures(actor=actor), now)
    row = (
        PathwayFiguresSnapshot.objects.filter(organisation_id=actor.organisation_id, role=actor.role)
        .only("figures", "computed_at", "read_at")
        .first()
    )
    if row is not None and now - row.computed_at < max_age():
        if now - row.read_at >= READ_MARK:
            PathwayFiguresSnapshot.objects.filter(pk=row.pk).update(read_at=now)
        return PathwayFigures.from_counts(row.figures, row.computed_at)
    counts = count_pathway_figures(actor=actor)
    _keep(actor, counts, now)
    return PathwayFigures.from_counts(counts, now)


def refresh_old(*, limit=20, budget_seconds=5.0, now=None) -> int:
    """Recount up to `limit` teams' figures read lately and older than two thirds of their lifetime, oldest first,
    for at most about `budget_seconds` (the worker's job between sweeps: its timers must not wait behind the
    recounts of large teams; the rest is recounted at the next turn); drop those nobody read for READ_WITHIN.
    Returns how many were recounted."""
    now = now or timezone.now()
    started = time.monotonic()
    PathwayFiguresSnapshot.objects.filter(read_at__lt=now - READ_WITHIN).delete()
    due = PathwayFiguresSnapshot.objects.filter(computed_at__lt=now - max_age() * 2 / 3).order_by("computed_at")
    recounted = 0
    for row in due[:limit]:
        # Any active member stands for the team (the scope is the team's); a team without one is dropped.
        member = (
            Membership.objects.filter(organisation_id=row.organisation_id, role=row.role, is_active=True)
            .filter(user__is_active=True)
            .select_related("user", "organisation")
            .order_by("pk")
            .first()
        )
        if member is None:
            row.delete()
            continue
        counts = count_pathway_figures(actor=Actor.from_membership(member))
        # read_at stays the readers': a team that stops reading its dashboard stops being recounted.
        PathwayFiguresSnapshot.objects.filter(pk=row.pk).update(figures=counts, computed_at=now)
        recounted += 1
        if time.monotonic() - started >= budget_seconds:
            break
    return recounted

"""Selectors of the employer pages: only what hiring needs (never birth date, address, criteria)."""

from django.db.models import Prefetch

from parcours.models import HoursLine
from parcours.selectors.core import offers_for, placements_for, referrals_for
from workflows.states import ReferralState

CANDIDATES_WAITING_FOR_EMPLOYER = [ReferralState.FORWARDED, ReferralState.ACCEPTED]
# The states in which an employer sees a referral at all: refusing, cancelling and expiring revoke its grant.
CANDIDATE_STATES_FOR_EMPLOYER = [ReferralState.FORWARDED, ReferralState.ACCEPTED, ReferralState.HIRED]


def candidates_for(*, actor, states=None):
    """Referrals forwarded to the employer (its grants), optionally by state."""
    qs = referrals_for(actor).select_related("placement")
    return qs.filter(state__in=states) if states else qs


def employer_placements(actor):
    """The employer's placements with their hours lines (two queries whatever the number of rows)."""
    lines = HoursLine.objects.order_by("month", "pk")
    return (
        placements_for(actor)
        .select_related("referral__offer")
        .prefetch_related(Prefetch("hours_lines", queryset=lines))
    )


def employer_placement(*, actor, pk):
    return placements_for(actor).select_related("lot", "referral__offer").filter(pk=pk).first()


def employer_offers(actor):
    return offers_for(actor)


__all__ = [
    "CANDIDATES_WAITING_FOR_EMPLOYER",
    "CANDIDATE_STATES_FOR_EMPLOYER",
    "candidates_for",
    "employer_placements",
    "employer_placement",
    "employer_offers",
]

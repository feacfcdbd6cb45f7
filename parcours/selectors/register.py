"""Selectors of the facilitator pages: the clause register, referrals to review, eligibility to validate,
hours lines to validate."""

from django.db.models import Count, F, Prefetch, Q
from django.utils import timezone

from parcours.models import AssessedCriterion, CountingRuleSet, Operation, PublicContract
from parcours.selectors.core import hours_lines_for, lots_for, offers_for, pathways_for, referrals_for
from parcours.selectors.lot_hours import with_counted_hours
from roles.enums import OrganisationKind
from roles.models import Organisation
from roles.policy import scope_queryset
from workflows.states import REFERRAL_REVIEW_STATES, HoursLineState, PathwayState, PlacementState

REFERRALS_WAITING_FOR_FACILITATOR = REFERRAL_REVIEW_STATES
HOURS_WAITING_FOR_FACILITATOR = [HoursLineState.DECLARED]


# --- Clause register -----------------------------------------------------------------------------------------
def register_operations_for(actor):
    """The actor's operations → contracts → lots, each lot with the hours its counting rules count (as the
    dashboard and the clause reports count them): a fixed number of queries whatever the size."""
    contracts = PublicContract.objects.select_related("buyer").order_by("reference", "pk")
    lots = lots_for(actor)
    operations = list(
        scope_queryset(actor, "register.create", Operation.objects.all())
        .prefetch_related(Prefetch("contracts", queryset=contracts), Prefetch("contracts__lots", queryset=lots))
        .order_by("name", "pk")
    )
    with_counted_hours(actor, [lot for op in operations for c in op.contracts.all() for lot in c.lots.all()])
    return operations


def operations_for(actor):
    return scope_queryset(actor, "register.create", Operation.objects.all()).order_by("name", "pk")


def contracts_for(actor):
    return (
        PublicContract.objects.filter(operation__in=operations_for(actor))
        .select_related("operation")
        .order_by("operation__name", "reference", "pk")
    )


def buyer_organisations():
    return Organisation.objects.filter(kind=OrganisationKind.AUTHORITY).order_by("name")


def awardee_organisations():
    return Organisation.objects.filter(kind=OrganisationKind.EMPLOYER).order_by("name")


def counting_rule_sets_for(organisation, today=None):
    """The counting rules a facilitation organisation may give its lots: its own charters, then the platform's
    defaults; the organisation's newest version first (the default of a new lot). A version is offered from the day
    it is in force (`valid_from`): one published for a later date is neither offered nor the default before it."""
    return CountingRuleSet.objects.filter(
        Q(facilitation_organisation=organisation) | Q(facilitation_organisation__isnull=True),
        valid_from__lte=today or timezone.localdate(),
    ).order_by(F("facilitation_organisation").asc(nulls_last=True), "-valid_from", "-version", "-pk")


def lot_for(*, actor, pk):
    """One lot in the actor's scope, with its counted hours (None: the page answers 404)."""
    lot = lots_for(actor).filter(pk=pk).first()
    if lot is not None:
        with_counted_hours(actor, [lot])
    return lot


def lot_offers(*, actor, lot):
    return (
        offers_for(actor)
        .filter(lot=lot)
        .annotate(
            referral_count=Count("referrals"),
            # A hire whose contract was cancelled before it started is no hire (the bilans do not list it).
            hired_count=Count(
                "referrals",
                filter=Q(referrals__state="hired") & ~Q(referrals__placement__state=PlacementState.CANCELLED),
            ),
        )
    )


def offer_for(*, actor, pk):
    return offers_for(actor).filter(pk=pk).first()


# --- Referrals, eligibility, hours ---------------------------------------------------------------------------
def referrals_to_review(*, actor, states=None):
    qs = referrals_for(actor)
    return qs.filter(state__in=states) if states else qs


def eligibility_to_validate(actor):
    """Pathways waiting for the validation of their eligibility by the actor's facilitation organisation, the longest
    waiting first (a queue: `updated_at` is when the pathway entered the state, the page's « Depuis »). In that order
    the page's rows are the first entries of one range of `pathway_facilitation_wait_idx`; in name order every
    pending pathway of the organisation was joined to its participant to be sorted (2,449, 35 ms at 1,000,000
    pathways)."""
    return (
        pathways_for(actor)
        .filter(state=PathwayState.ELIGIBILITY_PENDING, facilitation_organisation_id=actor.organisation_id)
        .order_by("updated_at", "pk")
    )


def pathway_for_validation(*, actor, pk):
    """A pathway shared with the actor's facilitation organisation (any state; the page says when it moved)."""
    return pathways_for(actor).filter(pk=pk, facilitation_organisation_id=actor.organisation_id).first()


def declared_criteria(pathway):
    """The criteria of the pending assessment, health data included (only facilitators reach this)."""
    assessment = pathway.pending_assessment()
    if assessment is None:
        return None, []
    rows = (
        AssessedCriterion.objects.filter(assessment=assessment)
        .select_related("criterion", "proof_seen_by")
        .order_by("criterion__position", "criterion__code")
    )
    return assessment, list(rows)


def criteria_without_proof(assessment, proofs: dict | None = None) -> list[str]:
    """Labels of the assessment's declared criteria with no proof seen (neither recorded nor in `proofs`)."""
    rows = AssessedCriterion.objects.filter(assessment=assessment, proof_seen_on__isnull=True).select_related(
        "criterion"
    )
    return [
        row.criterion.label
        for row in rows.order_by("criterion__position", "pk")
        if row.criterion.code not in (proofs or {})
    ]


def hours_lines_to_validate(*, actor, states=None):
    qs = hours_lines_for(actor).select_related("placement__employer")
    return qs.filter(state__in=states) if states else qs


__all__ = [
    "REFERRALS_WAITING_FOR_FACILITATOR",
    "HOURS_WAITING_FOR_FACILITATOR",
    "register_operations_for",
    "operations_for",
    "contracts_for",
    "buyer_organisations",
    "awardee_organisations",
    "counting_rule_sets_for",
    "lot_for",
    "with_counted_hours",
    "lot_offers",
    "offer_for",
    "referrals_to_review",
    "eligibility_to_validate",
    "pathway_for_validation",
    "declared_criteria",
    "criteria_without_proof",
    "hours_lines_to_validate",
]

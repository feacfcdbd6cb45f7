"""The choices and initial values of transition inputs that depend on the object or the actor.

A declaration (workflows.transitions) names its source (`options="criteria"`, `initial="offer_weekly_hours"`);
the page forms, the task forms and the API's `available_transitions` read them here. The services still validate
what they receive: a choice offered here is a convenience, not a permission.
"""

from django.utils import timezone
from django.utils.translation import gettext

from parcours.counting import plain
from parcours.models import AssessedCriterion, EligibilityCriterion
from roles.enums import OrganisationKind
from roles.models import Organisation
from workflows.vocabulary import FulfilmentMode, ProofKind


def _participant(obj):
    return obj.participant if hasattr(obj, "participant") else None


def _criteria(obj, actor):
    active = EligibilityCriterion.objects.filter(is_active=True).order_by("position", "code")
    return [
        (c.code, gettext("%(criterion)s (donnée de santé)") % {"criterion": c.label} if c.is_health_data else c.label)
        for c in active
    ]


def _partner_facilitations(obj, actor):
    participant = _participant(obj)
    if participant is None:
        return []
    partners = Organisation.objects.filter(
        partners=participant.youth_agency_id, kind=OrganisationKind.FACILITATION
    ).order_by("name")
    return [(o.pk, o.name) for o in partners]


def _lot_fulfilment_modes(obj, actor):
    modes = obj.offer.lot.fulfilment_modes or FulfilmentMode.values
    return [(value, label) for value, label in FulfilmentMode.choices if value in modes]


def _pending_criteria(obj, actor):
    """The criteria declared in the pending assessment of a pathway, each with the proof kinds to choose from."""
    assessment = obj.pending_assessment()
    if assessment is None:
        return []
    rows = AssessedCriterion.objects.filter(assessment=assessment).select_related("criterion")
    return [(row.criterion.code, row.criterion.label) for row in rows.order_by("criterion__position", "pk")]


OPTIONS = {
    "criteria": _criteria,
    "partner_facilitations": _partner_facilitations,
    "lot_fulfilment_modes": _lot_fulfilment_modes,
    "pending_criteria": _pending_criteria,
}

INITIALS = {
    "today": lambda obj, actor: timezone.localdate(),
    "offer_contract_type": lambda obj, actor: obj.offer.contract_type,
    "offer_weekly_hours": lambda obj, actor: plain(obj.offer.weekly_hours),  # 35, not 35.00, in the form
    "placement_start_date": lambda obj, actor: obj.start_date,
    # Today, or the lot's first day of execution when it is still ahead.
    "hire_start_date": lambda obj, actor: max(timezone.localdate(), obj.offer.lot.execution_starts_on),
    "first_partner_facilitation": lambda obj, actor: next(iter(_partner_facilitations(obj, actor)), (None,))[0],
}

PROOF_CHOICES = ProofKind.choices


def input_options(declared, *, obj, actor) -> list:
    """(value, label) pairs offered for an input: its enum, or its named source for this object."""
    if declared.options and obj is not None:
        return OPTIONS[declared.options](obj, actor)
    if declared.choices is not None:
        return list(declared.choices.choices)
    return []


def input_initial(declared, *, obj, actor):
    if declared.initial and obj is not None:
        return INITIALS[declared.initial](obj, actor)
    return declared.default

"""The permission policy: one table of who may do what, on which objects.

Deny by default: an action absent from the table, or a role absent from an action's row, is refused.
A row maps each allowed role to a *scope*, the relation between the actor's current organisation and
the object that must hold. The same scope expressions filter the list pages (selectors) and check single
objects, so a page can never show an object an action would refuse to touch, or the reverse.
"""

import enum
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q

from roles.enums import Role

A, F, E, AU = Role.ADVISER, Role.FACILITATOR, Role.EMPLOYER, Role.AUDITOR


class Scope(enum.Enum):
    OWN_ORGANISATION = "own_organisation"  # creating something in one's own organisation
    FOLLOWED_PARTICIPANT = "followed_participant"  # the Mission Locale following the young person
    SHARED_PARTICIPANT = "shared_participant"  # a facilitation organisation the file was shared with
    LOT_FACILITATION = "lot_facilitation"  # the facilitation organisation running the lot
    PARTNER_LOT = "partner_lot"  # a lot run by a partner facilitation organisation (adviser's offer search)
    AWARDED_LOT = "awarded_lot"  # a lot awarded to the employer
    FORWARDED_TO_EMPLOYER = "forwarded_to_employer"  # referral/placement granted to the employer
    BUYER_CONTRACT = "buyer_contract"  # the buyer's contracts (auditors)


# fmt: off
POLICY: dict[str, dict[Role, Scope]] = {
    # participant file
    "participant.create":            {A: Scope.OWN_ORGANISATION},
    "participant.view":              {A: Scope.FOLLOWED_PARTICIPANT, F: Scope.SHARED_PARTICIPANT,
                                      AU: Scope.BUYER_CONTRACT},
    "participant.update":            {A: Scope.FOLLOWED_PARTICIPANT},
    "participant.view_health_data":  {F: Scope.SHARED_PARTICIPANT},
    "followup.record":               {A: Scope.FOLLOWED_PARTICIPANT, F: Scope.SHARED_PARTICIPANT},
    # pathway transitions
    "pathway.submit_eligibility":    {A: Scope.FOLLOWED_PARTICIPANT},
    "pathway.validate_eligibility":  {F: Scope.SHARED_PARTICIPANT},
    "pathway.reject_eligibility":    {F: Scope.SHARED_PARTICIPANT},
    "pathway.exit":                  {A: Scope.FOLLOWED_PARTICIPANT},
    "pathway.withdraw":              {A: Scope.FOLLOWED_PARTICIPANT},
    "pathway.mark_lost_contact":     {A: Scope.FOLLOWED_PARTICIPANT},
    "pathway.reopen":                {A: Scope.FOLLOWED_PARTICIPANT},
    # referrals (positionnements)
    "referral.create":               {A: Scope.FOLLOWED_PARTICIPANT},
    "referral.view":                 {A: Scope.FOLLOWED_PARTICIPANT, F: Scope.LOT_FACILITATION,
                                      E: Scope.FORWARDED_TO_EMPLOYER, AU: Scope.BUYER_CONTRACT},
    "referral.start_review":         {F: Scope.LOT_FACILITATION},
    "referral.approve":              {F: Scope.LOT_FACILITATION},
    "referral.decline":              {F: Scope.LOT_FACILITATION},
    "referral.forward":              {F: Scope.LOT_FACILITATION},
    "referral.accept":               {E: Scope.FORWARDED_TO_EMPLOYER},
    "referral.refuse":               {E: Scope.FORWARDED_TO_EMPLOYER},
    "referral.hire":                 {E: Scope.FORWARDED_TO_EMPLOYER},
    "referral.cancel":               {A: Scope.FOLLOWED_PARTICIPANT},
    # placements (mises en poste)
    "placement.view":                {A: Scope.FOLLOWED_PARTICIPANT, F: Scope.LOT_FACILITATION,
                                      E: Scope.FORWARDED_TO_EMPLOYER, AU: Scope.BUYER_CONTRACT},
    "placement.start":               {E: Scope.FORWARDED_TO_EMPLOYER, F: Scope.LOT_FACILITATION},
    "placement.end":                 {E: Scope.FORWARDED_TO_EMPLOYER, F: Scope.LOT_FACILITATION},
    "placement.cancel":              {E: Scope.FORWARDED_TO_EMPLOYER, F: Scope.LOT_FACILITATION},
    "placement.declare_hours":       {E: Scope.FORWARDED_TO_EMPLOYER},
    # hours lines (relevés d'heures)
    "hoursline.view":                {E: Scope.FORWARDED_TO_EMPLOYER, F: Scope.LOT_FACILITATION,
                                      AU: Scope.BUYER_CONTRACT},
    "hoursline.validate":            {F: Scope.LOT_FACILITATION},
    "hoursline.reject":              {F: Scope.LOT_FACILITATION},
    "hoursline.lock":                {F: Scope.LOT_FACILITATION},
    # clause register and offers
    "register.create":               {F: Scope.OWN_ORGANISATION},
    "lot.view":                      {F: Scope.LOT_FACILITATION, A: Scope.PARTNER_LOT,
                                      E: Scope.AWARDED_LOT, AU: Scope.BUYER_CONTRACT},
    "offer.create":                  {F: Scope.LOT_FACILITATION},
    "offer.close":                   {F: Scope.LOT_FACILITATION},
    "offer.view":                    {F: Scope.LOT_FACILITATION, A: Scope.PARTNER_LOT,
                                      E: Scope.AWARDED_LOT, AU: Scope.BUYER_CONTRACT},
}
# fmt: on

# Actions only the system (timers) may take; no human role can.
SYSTEM_ACTIONS = frozenset({"referral.expire"})


@dataclass(frozen=True)
class ScopePaths:
    """How to reach, from a model, the things scopes are about (ORM lookup paths; "" means self)."""

    participant: str | None = None
    lot: str | None = None
    forwarded: tuple[str, str] | None = None  # (grant model label, path to the granted object)
    organisation: str | None = None


def _outer(path):
    return OuterRef(path or "pk")


def _join(path, field):
    return f"{path}__{field}" if path else field


def _participant_grant_q(paths, actor, codename):
    from parcours.models import ParticipantGroupObjectPermission

    return Q(
        Exists(
            ParticipantGroupObjectPermission.objects.filter(
                content_object=_outer(paths.participant),
                group_id=actor.organisation.group_id,
                permission__codename=codename,
            )
        )
    )


def scope_q(model, scope: Scope, actor) -> Q:
    """A filter keeping the rows of `model` that `actor` reaches through `scope`. Never an IN list."""
    from django.apps import apps

    from parcours.models import Referral

    paths: ScopePaths = model.SCOPE_PATHS
    org = actor.organisation
    nothing = Q(pk__in=[])
    if scope is Scope.OWN_ORGANISATION:
        return Q(**{paths.organisation: org}) if paths.organisation else nothing
    if scope is Scope.FOLLOWED_PARTICIPANT and paths.participant is not None:
        return _participant_grant_q(paths, actor, "change_participant")
    if scope is Scope.SHARED_PARTICIPANT and paths.participant is not None:
        return _participant_grant_q(paths, actor, "view_participant")
    if scope is Scope.LOT_FACILITATION and paths.lot is not None:
        return Q(**{_join(paths.lot, "contract__operation__facilitation_organisation"): org})
    if scope is Scope.AWARDED_LOT and paths.lot is not None:
        return Q(**{_join(paths.lot, "awardee"): org})
    if scope is Scope.PARTNER_LOT and paths.lot is not None:
        from parcours.models import ContractLot

        return Q(
            Exists(
                ContractLot.objects.filter(
                    pk=_outer(paths.lot), contract__operation__facilitation_organisation__partners=org
                )
            )
        )
    if scope is Scope.FORWARDED_TO_EMPLOYER and paths.forwarded is not None:
        label, path = paths.forwarded
        grant_model = apps.get_model(label)
        return Q(
            Exists(
                grant_model.objects.filter(
                    content_object=_outer(path),
                    group_id=org.group_id,
                    permission__codename=f"view_{grant_model.GRANTED_MODEL_NAME}",
                )
            )
        )
    if scope is Scope.BUYER_CONTRACT:
        if paths.lot is not None:
            return Q(**{_join(paths.lot, "contract__buyer"): org})
        if paths.participant is not None:
            return Q(
                Exists(
                    Referral.objects.filter(
                        pathway__participant=_outer(paths.participant), offer__lot__contract__buyer=org
                    )
                )
            )
    return nothing


def roles_for(action: str) -> dict[Role, Scope]:
    return POLICY.get(action, {})


def may(actor, action: str) -> bool:
    """Whether the actor's role may take this action at all (on some object)."""
    if actor.is_system:
        return action in SYSTEM_ACTIONS
    return actor.role in roles_for(action)


def allows(actor, action: str, obj=None) -> bool:
    """Whether `actor` may take `action` on `obj` (or, with no object, in its own organisation)."""
    if actor.is_system:
        return action in SYSTEM_ACTIONS
    scope = roles_for(action).get(actor.role)
    if scope is None or actor.organisation is None:
        return False
    if obj is None:
        return scope is Scope.OWN_ORGANISATION
    model = type(obj)
    return model._default_manager.filter(pk=obj.pk).filter(scope_q(model, scope, actor)).exists()


def scope_queryset(actor, action: str, queryset):
    """Restrict `queryset` to the rows on which `actor` may take `action`."""
    if actor is None or actor.is_system:
        return queryset.none()
    scope = roles_for(action).get(actor.role)
    if scope is None or actor.organisation is None:
        return queryset.none()
    return queryset.filter(scope_q(queryset.model, scope, actor))

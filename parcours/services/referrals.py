from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from parcours.dates import add_months
from parcours.models import FollowUp, JobOffer, Pathway, Placement, Referral
from parcours.notifications import publish_on_commit
from parcours.services.common import lock, lock_consequence, read_row, require, require_choice, require_date
from roles import grants
from roles.actor import Actor
from roles.rows import insert_row, insert_row_unless_duplicate, insert_rows, send
from roles.statements import Compiled
from workflows import engine, text, work
from workflows.errors import DomainError
from workflows.inputs import check_plausible_date
from workflows.journal import NEW_CHAIN, record_event
from workflows.states import REFERRAL_OPEN_STATES, PathwayState, PlacementState, ReferralState
from workflows.vocabulary import ContractType, FollowUpKind, FulfilmentMode

# What a referral's creation reads of its offer: the organisations its grants go to.
OFFER_RELATED = ("lot__contract__operation__facilitation_organisation", "lot__contract__buyer")

REFERABLE_PATHWAY_STATES = [
    PathwayState.ELIGIBLE,
    PathwayState.REFERRED,
    PathwayState.PLACED,
    PathwayState.IN_FOLLOW_UP,
]


@transaction.atomic
def referral_create(*, actor, pathway, offer, motivation: str = "") -> Referral:
    """The adviser refers a participant to a job offer (positionnement)."""
    # The participant's eligibility today is read with the locked row (its guard read, as an approval's).
    pathway = lock(Pathway, pathway, actor=actor, reads=("eligible_today",))
    require(actor, "referral.create", pathway, _("Vous ne pouvez pas positionner ce ou cette jeune."))
    offer = read_row(JobOffer, offer, actor=actor, related=OFFER_RELATED)
    if pathway.state not in REFERABLE_PATHWAY_STATES:
        # What would make it possible: the eligibility validated (before), the pathway reopened (after).
        if pathway.state in (PathwayState.EXITED, PathwayState.WITHDRAWN, PathwayState.LOST_CONTACT):
            message = _("Positionnement impossible : le parcours est « %(state)s ». Rouvrez-le d'abord.")
        else:
            message = _(
                "Positionnement impossible : le parcours est « %(state)s ». L'éligibilité doit d'abord être validée."
            )
        raise DomainError("invalid_transition", message % {"state": pathway.get_state_display()})
    participant = pathway.participant
    if not offer.is_open:
        raise DomainError("offer_closed", _("L'offre « %(title)s » est clôturée.") % {"title": offer.title})
    if not pathway.participant_eligible_on(timezone.localdate()):
        raise DomainError("eligibility_not_valid", _("L'éligibilité n'est pas validée ou a expiré."))
    if offer.is_qpv_mandatory and not participant.is_qpv_resident:
        raise DomainError(
            "qpv_required", _("Cette offre est réservée aux résidents des quartiers prioritaires (QPV).")
        )
    motivation = text.clean_text(motivation or "", field="motivation", label=_("Motivation"), multiline=True)
    if len(motivation) > 2000:
        raise DomainError("invalid_input", _("Motivation : 2000 caractères au plus."), field="motivation")
    referral = Referral(
        pathway=pathway,
        participant_id=pathway.participant_id,
        offer=offer,
        sent_by=actor.user,
        motivation=motivation,
    )
    # Another referral of the pathway to the offer still open (made before, or by a race just lost) breaks the unique
    # index on open referrals: nothing written, refused (the first write of the transition: nothing before it).
    if not insert_row_unless_duplicate(referral):
        raise DomainError("duplicate_referral", _("Un positionnement sur cette offre est déjà en cours."))
    granted = grants.open_to_referral(
        facilitation=offer.lot.contract.operation.facilitation_organisation,
        buyer=offer.lot.contract.buyer,
        participant=participant,
        send_with_next=True,
    )
    event = record_event(
        actor=actor,
        object_type="referral",
        object_id=referral.pk,
        participant_id=participant.pk,
        action="create",
        to_state=referral.state,
        inputs={"offer": offer.pk, "pathway": pathway.pk},
        tail=NEW_CHAIN,
        along=granted,
        lead=True,  # sent by the work layer's read of the pathway's open tasks
    )
    work.object_created(obj=referral, actor=actor, event=event)
    if pathway.state == PathwayState.ELIGIBLE:
        # A consequence is told live as its cause is (its audience may differ: a pathway's teams).
        publish_on_commit(
            engine.fire(pathway, "refer", actor=actor, internal=True, journal_extra={"referral": referral.pk})
        )
    publish_on_commit(event)
    return referral


def _after_closing(actor, referral):
    """When the last open referral of a referred pathway closes, the pathway returns to eligible."""
    pathway = lock_consequence(Pathway, referral.pathway_id)
    if (
        pathway.state == PathwayState.REFERRED
        and not pathway.referrals.filter(state__in=REFERRAL_OPEN_STATES).exists()
    ):
        publish_on_commit(
            engine.fire(
                pathway, "return_to_eligible", actor=actor, internal=True, journal_extra={"referral": referral.pk}
            )
        )


def _transition(actor, referral, name, inputs=None, *, after=None, carried=None):
    """`carried(referral)`: the service's own pending writes, asked once the transition's checks have passed (its
    refusals after theirs), before anything is written, and sent with the transition's event; `after(referral)`: what
    follows the transition."""
    referral = lock(Referral, referral, actor=actor, transition=name)
    engine.ensure_can_fire(referral, name, actor=actor)
    along = (lambda: carried(referral)) if carried is not None else None
    event = engine.fire(referral, name, actor=actor, inputs=inputs, along=along)
    if after is not None:
        after(referral)
    publish_on_commit(event, subject=referral)
    return referral


@transaction.atomic
def referral_start_review(*, actor, referral):
    return _transition(actor, referral, "start_review")


@transaction.atomic
def referral_approve(*, actor, referral):
    return _transition(actor, referral, "approve")


@transaction.atomic
def referral_decline(*, actor, referral, reason: str):
    return _transition(actor, referral, "decline", {"reason": reason}, after=lambda r: _after_closing(actor, r))


@transaction.atomic
def referral_forward(*, actor, referral):
    def grant_employer(r):
        awardee = r.offer.lot.awardee
        if awardee is None:
            raise DomainError("no_awardee", _("Le lot n'a pas encore d'attributaire : impossible de transmettre."))
        return grants.grant(organisation=awardee, permission="parcours.view_referral", obj=r, send_with_next=True)

    return _transition(actor, referral, "forward", carried=grant_employer)


@transaction.atomic
def referral_accept(*, actor, referral):
    return _transition(actor, referral, "accept")


@transaction.atomic
def referral_refuse(*, actor, referral, reason: str):
    def revoke_and_close(r):
        grants.revoke(organisation=r.offer.lot.awardee, permission="parcours.view_referral", obj=r)
        _after_closing(actor, r)

    return _transition(actor, referral, "refuse", {"reason": reason}, after=revoke_and_close)


@transaction.atomic
def referral_cancel(*, actor, referral, reason: str, _closing_pathway: bool = False):
    def revoke_and_close(r):
        if r.forwarded_at is not None and r.offer.lot.awardee is not None:
            grants.revoke(organisation=r.offer.lot.awardee, permission="parcours.view_referral", obj=r)
        if not _closing_pathway:
            _after_closing(actor, r)

    return _transition(actor, referral, "cancel", {"reason": reason}, after=revoke_and_close)


@transaction.atomic
def referral_expire(*, referral, actor=None):
    """Timer: no answer within the facilitation organisation's delay (actor: the system)."""
    actor = actor or Actor.system()

    def revoke_and_close(r):
        if r.forwarded_at is not None and r.offer.lot.awardee is not None:
            grants.revoke(organisation=r.offer.lot.awardee, permission="parcours.view_referral", obj=r)
        _after_closing(actor, r)

    return _transition(actor, referral, "expire", after=revoke_and_close)


@transaction.atomic
def referral_hire(
    *,
    actor,
    referral,
    contract_type,
    start_date,
    weekly_hours,
    fulfilment_mode=FulfilmentMode.DIRECT_HIRE,
    planned_end_date=None,
) -> Placement:
    """The employer confirms the hire: a planned placement, follow-ups at +1/+3/+6 months, pathway placed."""
    # Its guards' eligibility on the start date is read with the row (parcours.services.common.guard_reads).
    referral = lock(Referral, referral, actor=actor, transition="hire", inputs={"start_date": start_date})
    engine.ensure_can_fire(referral, "hire", actor=actor)
    if contract_type is not None:
        require_choice(contract_type, ContractType, "contract_type", _("Type de contrat"))
    # Each date in its bounds before they are compared: 31/12/9999 is a slip on its own field, not an end too early.
    if start_date is not None:
        require_date(start_date, "start_date", _("Date de début"))
        check_plausible_date(start_date, field="start_date", label=_("Date de début"))
    if planned_end_date is not None:
        require_date(planned_end_date, "planned_end_date", _("Date de fin prévue"))
        check_plausible_date(planned_end_date, field="planned_end_date", label=_("Date de fin prévue"))
        if start_date and planned_end_date < start_date:
            raise DomainError(
                "invalid_input", _("La fin prévue précède le début du contrat."), field="planned_end_date"
            )
    if weekly_hours is not None:  # the placement keeps the value the journal seals (17.50, not 17.5)
        weekly_hours = engine.check_service_inputs(referral, "hire", weekly_hours=weekly_hours)["weekly_hours"]
    require_choice(fulfilment_mode, FulfilmentMode, "fulfilment_mode", _("Modalité"))
    lot = referral.offer.lot
    if lot.fulfilment_modes and fulfilment_mode not in lot.fulfilment_modes:
        raise DomainError(
            "invalid_input", _("Cette modalité n'est pas prévue par la clause du lot."), field="fulfilment_mode"
        )
    inputs = {
        "contract_type": contract_type,
        "start_date": start_date,
        "weekly_hours": weekly_hours,
        "fulfilment_mode": fulfilment_mode,
    }
    if planned_end_date is not None:
        inputs["planned_end_date"] = planned_end_date
    event = engine.fire(referral, "hire", actor=actor, inputs=inputs)
    placement = Placement(
        referral=referral,
        pathway=referral.pathway,
        participant_id=referral.participant_id,
        employer=lot.awardee,
        lot=lot,
        fulfilment_mode=fulfilment_mode,
        contract_type=contract_type,
        start_date=start_date,
        planned_end_date=planned_end_date,
        weekly_hours=weekly_hours,
    )
    insert_row(placement)
    # The employer's grant goes with the placement's first event (one round trip on PostgreSQL).
    granted = grants.grant(
        organisation=lot.awardee, permission="parcours.view_placement", obj=placement, send_with_next=True
    )
    participant_id = referral.participant_id
    placement_event = record_event(
        actor=actor,
        object_type="placement",
        object_id=placement.pk,
        participant_id=participant_id,
        action="create",
        to_state=placement.state,
        inputs={"referral": referral.pk, **inputs},
        tail=NEW_CHAIN,
        along=granted,
    )
    work.object_created(obj=placement, actor=actor, event=placement_event)
    # The planned follow-ups' ids are not read: they go with the pathway's move (one round trip on PostgreSQL).
    planned = insert_rows(
        (
            FollowUp(
                pathway_id=referral.pathway_id,
                placement=placement,
                kind=FollowUpKind.CHECK,
                due_on=add_months(start_date, months),
            )
            for months in FollowUp.PLANNED_OFFSETS_MONTHS
        ),
        send_with_next=True,
    )
    # The offer's lock and count go with the pathway's (one round trip): after the pathway's wait, as before, and
    # after the placement's insert, which the count sees.
    offer = _offer_reads(referral.offer_id)
    pathway = lock_consequence(Pathway, referral.pathway_id, also=offer)
    if pathway.state in (PathwayState.REFERRED, PathwayState.IN_FOLLOW_UP):
        publish_on_commit(
            engine.fire(
                pathway, "place", actor=actor, internal=True, journal_extra={"placement": placement.pk}, along=planned
            )
        )
    else:
        send(planned)
    publish_on_commit(placement_event)  # the new contract, to the teams that may view it (the employer's…)
    publish_on_commit(event, subject=referral)
    _close_offer_when_filled(actor, referral.offer_id, read=[rows for _, rows in offer])
    return placement


# Compiled once (roles.statements): they run at every hire.
_locked_offer = Compiled(
    lambda pk: (
        JobOffer.objects.select_for_update(of=("self",)).filter(pk=pk).values_list("is_open", "positions").order_by()
    )
)
_filled_positions = Compiled(
    lambda pk: (
        Placement.objects.filter(referral__offer_id=pk)
        .exclude(state=PlacementState.CANCELLED)
        .values("referral__offer_id")
        .annotate(filled=Count("pk"))
        .values_list("filled")
        .order_by()
    )
)


def _offer_reads(offer_id):
    """The offer's lock and the count of its filled positions, as statements for another read's round trip
    (`common.lock(..., also=)`), each with the list its rows go to. In this order: the count must see the placements
    of a hire that held the offer before us; each statement of a text takes its snapshot once the one before is done,
    the lock ours."""
    return [(_locked_offer.statement(offer_id), []), (_filled_positions.statement(offer_id), [])]


def _close_offer_when_filled(actor, offer_id, read):
    """An offer closes itself once its positions are filled (contracts not cancelled); the journal says it was
    automatic. Other open referrals on it stay as they are: the facilitator decides (the lot page shows them).
    `read`: the rows of `_offer_reads`, taken by the pathway's lock."""
    offer, counted = read
    is_open, positions = offer[0]
    if not is_open:
        return
    filled = next(iter(counted), (0,))[0]  # grouped by offer: no row for none
    if filled < positions:
        return
    JobOffer.objects.filter(pk=offer_id).update(is_open=False, closed_at=timezone.now())
    event = record_event(
        actor=actor,
        object_type="offer",
        object_id=offer_id,
        action="close",
        inputs={"automatic": True, "positions": positions, "filled": filled},
    )
    publish_on_commit(event)


REFERRAL_SERVICES = {
    "start_review": referral_start_review,
    "approve": referral_approve,
    "decline": referral_decline,
    "forward": referral_forward,
    "accept": referral_accept,
    "refuse": referral_refuse,
    "hire": referral_hire,
    "cancel": referral_cancel,
    "expire": referral_expire,
}

__all__ = [name for name in dir() if name.startswith("referral_")] + ["REFERRAL_SERVICES", "ReferralState"]

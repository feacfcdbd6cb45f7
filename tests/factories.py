"""Factories and state-reaching helpers for the Parcours test suite.

States are protected fsm fields: tests never write them directly. Every object below is built by the
services (the one write path), so a helper such as `make_referral(world, "forwarded")` walks the same
transitions a user would, writing the same journal events and grants.

Vocabulary (business situations → factory traits):
- ParticipantFactory: eligibility_submitted, eligible, ineligible, referred, placed, in_follow_up, exited,
  withdrawn, lost_contact (the state of the participant's open pathway), plus qpv_resident.
- ReferralFactory: under_review, approved_by_facilitator, forwarded_to_employer, accepted_by_employer, hired,
  declined_by_facilitator, refused_by_employer, cancelled_by_adviser, expired.
- PlacementFactory: started, ended, not_started.
- HoursLineFactory: validated, rejected, locked.

All of them need a `world` (see World.build): two territories "a" and "b", each with a Mission Locale, a
facilitation organisation (partner of that Mission Locale only), an employer (awardee of the territory's
lot), a buyer and a platform organisation, one member per role, and a clause register with one open offer.
"""

import datetime
import decimal
import itertools
from dataclasses import dataclass, field

import factory
from django.apps import apps
from django.contrib.auth import get_user_model
from django.utils import timezone
from factory.django import DjangoModelFactory

from parcours.models import EligibilityAssessment, HoursLine, Participant, Pathway, Placement, Referral
from parcours.services import followups, participants, pathways, placements, referrals, register
from roles.actor import Actor
from roles.enums import OrganisationKind, Role
from roles.models import Membership, Organisation
from workflows.states import HoursLineState, PathwayState, PlacementState, ReferralState
from workflows.vocabulary import (
    ContractType,
    ExitSituation,
    FollowUpKind,
    FulfilmentMode,
    LegalLever,
    PlacementEndKind,
    QualificationLevel,
    SizingMethod,
)

CRITERION = "YOUTH_UNDER_26_LOW_QUALIFICATION"
ROLE_KIND = {
    Role.ADVISER: OrganisationKind.MISSION_LOCALE,
    Role.FACILITATOR: OrganisationKind.FACILITATION,
    Role.EMPLOYER: OrganisationKind.EMPLOYER,
    Role.AUDITOR: OrganisationKind.AUTHORITY,
    Role.ADMIN: OrganisationKind.PLATFORM,
}
_names = itertools.count(1)


def today() -> datetime.date:
    return timezone.localdate()


def years_ago(years: int, day: datetime.date | None = None) -> datetime.date:
    day = day or today()
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def this_month() -> datetime.date:
    return today().replace(day=1)


def last_month() -> datetime.date:
    """The month employers declare (hours are declared for the month that ended)."""
    return (this_month() - datetime.timedelta(days=1)).replace(day=1)


def backdate_placement(placement, start: datetime.date | None = None):
    """Test scaffolding standing for elapsed time: the placement started on `start` (default: the first day of
    last month) and its participant's eligibility was validated that day, so last month is declarable in full."""
    start = start or last_month()
    moment = timezone.make_aware(datetime.datetime.combine(start, datetime.time(9)))
    EligibilityAssessment.objects.filter(participant_id=placement.pathway.participant_id).update(
        decided_at=moment
    )
    Placement.objects.filter(pk=placement.pk).update(start_date=start)
    Placement.objects.filter(pk=placement.pk, started_on__isnull=False).update(started_on=start)
    placement.refresh_from_db()
    return placement


# --- Organisations, users, memberships ---------------------------------------------------------------------
class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    # No password: hashing is slow and these users never log in through a form here.
    password = "!"


class OrganisationFactory(DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    kind = OrganisationKind.MISSION_LOCALE

    class Params:
        mission_locale = factory.Trait(
            kind=OrganisationKind.MISSION_LOCALE, name=factory.Sequence(lambda n: f"Mission Locale {n}")
        )
        facilitation = factory.Trait(kind=OrganisationKind.FACILITATION, name=factory.Sequence(lambda n: f"PLIE {n}"))
        employer = factory.Trait(kind=OrganisationKind.EMPLOYER, name=factory.Sequence(lambda n: f"BTP Bâtir {n}"))
        buyer = factory.Trait(kind=OrganisationKind.AUTHORITY, name=factory.Sequence(lambda n: f"Bailleur social {n}"))
        platform = factory.Trait(kind=OrganisationKind.PLATFORM, name=factory.Sequence(lambda n: f"Plateforme {n}"))


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory, mission_locale=True)
    role = Role.ADVISER

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        membership = model_class(*args, **kwargs)
        membership.clean()  # a role that does not exist in this kind of organisation is a test bug
        membership.save()
        return membership


def member(organisation, role) -> Actor:
    return Actor.from_membership(MembershipFactory(organisation=organisation, role=role))


# --- The world: two territories ----------------------------------------------------------------------------
@dataclass
class Side:
    name: str
    youth_agency: Organisation
    facilitation: Organisation
    employer: Organisation
    buyer: Organisation
    platform: Organisation
    actors: dict = field(default_factory=dict)
    lot: object = None
    offer: object = None

    @property
    def adviser(self) -> Actor:
        return self.actors[Role.ADVISER]

    @property
    def facilitator(self) -> Actor:
        return self.actors[Role.FACILITATOR]

    @property
    def employer_actor(self) -> Actor:
        return self.actors[Role.EMPLOYER]

    @property
    def auditor(self) -> Actor:
        return self.actors[Role.AUDITOR]

    @property
    def admin(self) -> Actor:
        return self.actors[Role.ADMIN]

    @property
    def dpo(self) -> Actor:
        return self.actors[Role.DPO]

    def organisation_for(self, role) -> Organisation:
        return {
            Role.ADVISER: self.youth_agency,
            Role.FACILITATOR: self.facilitation,
            Role.EMPLOYER: self.employer,
            Role.AUDITOR: self.buyer,
            Role.DPO: self.youth_agency,  # the Mission Locale's data-protection officer
            Role.ADMIN: self.platform,
        }[Role(role)]


@dataclass
class World:
    a: Side
    b: Side

    def side(self, name) -> Side:
        return name if isinstance(name, Side) else {"a": self.a, "b": self.b}[name]

    def actor(self, role, side="a") -> Actor:
        return self.side(side).actors[Role(role)]

    @classmethod
    def build(cls) -> "World":
        return cls(a=build_side("a"), b=build_side("b"))


def build_side(name: str) -> Side:
    side = Side(
        name=name,
        youth_agency=OrganisationFactory(mission_locale=True),
        facilitation=OrganisationFactory(facilitation=True),
        employer=OrganisationFactory(employer=True),
        buyer=OrganisationFactory(buyer=True),
        platform=OrganisationFactory(platform=True),
    )
    side.facilitation.partners.add(side.youth_agency)
    for role in Role:
        side.actors[role] = member(side.organisation_for(role), role)
    side.lot = make_lot(side)
    side.offer = make_offer(side)
    return side


def make_lot(side: Side, *, starts_on=None, ends_on=None, fulfilment_modes=None, buyer=None):
    """A lot of the side's facilitation organisation, bought by its buyer (or `buyer`), awarded to its employer."""
    fac = side.facilitator
    n = next(_names)
    starts_on = starts_on or today() - datetime.timedelta(days=365)
    ends_on = ends_on or today() + datetime.timedelta(days=365)
    operation = register.operation_create(
        actor=fac,
        name=f"Rénovation urbaine {n}",
        commune="Saint-Denis",
        starts_on=min(starts_on, today()),
        ends_on=max(ends_on, today()),
        is_anru=True,
    )
    contract = register.contract_create(
        actor=fac,
        operation=operation,
        reference=f"2025-{n:03d}",
        title="Réhabilitation de logements",
        buyer=buyer or side.buyer,
        legal_lever=LegalLever.EXECUTION_CONDITION,
    )
    return register.lot_create(
        actor=fac,
        contract=contract,
        number=1,
        title="Gros œuvre",
        trade="Maçonnerie",
        amount_excl_tax=decimal.Decimal("1000000"),
        sizing_method=SizingMethod.LABOUR_SHARE,
        labour_share=decimal.Decimal("0.400"),
        hourly_cost=decimal.Decimal("40.00"),
        insertion_rate=decimal.Decimal("0.070"),
        execution_starts_on=starts_on,
        execution_ends_on=ends_on,
        fulfilment_modes=fulfilment_modes or [FulfilmentMode.DIRECT_HIRE, FulfilmentMode.STAFF_PROVISION_GEIQ],
        awardee=side.employer,
    )


def make_offer(side: Side, lot=None, **kwargs):
    data = {
        # Each its own: the same offer open twice on a lot is refused (register.offer_create).
        "title": f"Maçon·ne coffreur·se {next(_names)}",
        "trade": "Maçonnerie",
        "contract_type": ContractType.CDD,
        "weekly_hours": 35,
        "location": "Saint-Denis",
        # Room for every hire a test makes (an offer closes itself once its positions are filled).
        "positions": 50,
    }
    data.update(kwargs)
    return register.offer_create(actor=side.facilitator, lot=lot or side.lot, **data)


# --- Valid service calls, one per declared user-fireable or system transition ------------------------------
def _hire_inputs():
    return {"contract_type": ContractType.CDD, "start_date": today(), "weekly_hours": 35}


SERVICE_CALLS = {
    "pathway.submit_eligibility": lambda actor, obj, **kw: pathways.pathway_submit_eligibility(
        actor=actor, pathway=obj, **{"criteria": [CRITERION], **kw}
    ),
    "pathway.validate_eligibility": lambda actor, obj, **kw: pathways.pathway_validate_eligibility(
        actor=actor, pathway=obj, **kw
    ),
    "pathway.reject_eligibility": lambda actor, obj, **kw: pathways.pathway_reject_eligibility(
        actor=actor, pathway=obj, **{"reason": "Critères non justifiés", **kw}
    ),
    "pathway.exit": lambda actor, obj, **kw: pathways.pathway_exit(
        actor=actor, pathway=obj, **{"exited_on": today(), "situation": ExitSituation.CDI, **kw}
    ),
    "pathway.withdraw": lambda actor, obj, **kw: pathways.pathway_withdraw(
        actor=actor, pathway=obj, **{"reason": "Déménagement", **kw}
    ),
    "pathway.mark_lost_contact": lambda actor, obj, **kw: pathways.pathway_mark_lost_contact(
        actor=actor, pathway=obj, **{"reason": "Injoignable depuis trois mois", **kw}
    ),
    "pathway.reopen": lambda actor, obj, **kw: pathways.pathway_reopen(
        actor=actor, pathway=obj, **{"reason": "Retour du ou de la jeune", **kw}
    ),
    "referral.start_review": lambda actor, obj, **kw: referrals.referral_start_review(actor=actor, referral=obj, **kw),
    "referral.approve": lambda actor, obj, **kw: referrals.referral_approve(actor=actor, referral=obj, **kw),
    "referral.decline": lambda actor, obj, **kw: referrals.referral_decline(
        actor=actor, referral=obj, **{"reason": "Profil éloigné du poste", **kw}
    ),
    "referral.forward": lambda actor, obj, **kw: referrals.referral_forward(actor=actor, referral=obj, **kw),
    "referral.accept": lambda actor, obj, **kw: referrals.referral_accept(actor=actor, referral=obj, **kw),
    "referral.refuse": lambda actor, obj, **kw: referrals.referral_refuse(
        actor=actor, referral=obj, **{"reason": "Poste pourvu", **kw}
    ),
    "referral.hire": lambda actor, obj, **kw: referrals.referral_hire(
        actor=actor, referral=obj, **{**_hire_inputs(), **kw}
    ),
    "referral.cancel": lambda actor, obj, **kw: referrals.referral_cancel(
        actor=actor, referral=obj, **{"reason": "Le ou la jeune a trouvé un autre emploi", **kw}
    ),
    "referral.expire": lambda actor, obj, **kw: referrals.referral_expire(actor=actor, referral=obj, **kw),
    "placement.start": lambda actor, obj, **kw: placements.placement_start(actor=actor, placement=obj, **kw),
    "placement.end": lambda actor, obj, **kw: placements.placement_end(
        actor=actor, placement=obj, **{"end_date": today(), "end_kind": PlacementEndKind.NORMAL, **kw}
    ),
    "placement.change_start_date": lambda actor, obj, **kw: placements.placement_change_start_date(
        actor=actor, placement=obj, **{"start_date": obj.start_date + datetime.timedelta(days=7), **kw}
    ),
    "placement.cancel": lambda actor, obj, **kw: placements.placement_cancel(
        actor=actor, placement=obj, **{"reason": "Contrat non signé", **kw}
    ),
    "hoursline.validate": lambda actor, obj, **kw: placements.hoursline_validate(actor=actor, hours_line=obj, **kw),
    "hoursline.reject": lambda actor, obj, **kw: placements.hoursline_reject(
        actor=actor, hours_line=obj, **{"reason": "Heures non justifiées", **kw}
    ),
    "hoursline.lock": lambda actor, obj, **kw: placements.hoursline_lock(actor=actor, hours_line=obj, **kw),
}
MODELS = {"pathway": Pathway, "referral": Referral, "placement": Placement, "hoursline": HoursLine}


def call_service(action: str, actor, obj, **overrides):
    if action not in SERVICE_CALLS:
        raise AssertionError(f"No service call registered in tests/factories.py for the transition {action!r}")
    return SERVICE_CALLS[action](actor, obj, **overrides)


def reload(obj):
    return type(obj).objects.get(pk=obj.pk)


# --- Walking each machine to a state ------------------------------------------------------------------------
def advance_pathway(world: World, pathway: Pathway, state: str, side="a") -> Pathway:
    s = world.side(side)
    adv, fac = s.adviser, s.facilitator
    state = PathwayState(state)

    def submit():
        call_service("pathway.submit_eligibility", adv, pathway)

    def eligible():
        submit()
        call_service("pathway.validate_eligibility", fac, pathway)

    if state == PathwayState.INTAKE:
        pass
    elif state == PathwayState.ELIGIBILITY_PENDING:
        submit()
    elif state == PathwayState.ELIGIBLE:
        eligible()
    elif state == PathwayState.INELIGIBLE:
        submit()
        call_service("pathway.reject_eligibility", fac, pathway)
    elif state == PathwayState.REFERRED:
        eligible()
        referrals.referral_create(actor=adv, pathway=pathway, offer=s.offer)
    elif state in (PathwayState.PLACED, PathwayState.IN_FOLLOW_UP, PathwayState.EXITED):
        eligible()
        placement = make_placement(
            world, "ended" if state != PathwayState.PLACED else "planned", side=side, pathway=pathway
        )
        assert placement.pathway_id == pathway.pk
        if state == PathwayState.EXITED:
            call_service("pathway.exit", adv, pathway)
    elif state == PathwayState.WITHDRAWN:
        eligible()
        call_service("pathway.withdraw", adv, pathway)
    elif state == PathwayState.LOST_CONTACT:
        eligible()
        call_service("pathway.mark_lost_contact", adv, pathway)
    pathway = reload(pathway)
    assert pathway.state == state, (pathway.state, state)
    return pathway


REFERRAL_STEPS = {
    ReferralState.SENT: [],
    ReferralState.UNDER_REVIEW: ["start_review"],
    ReferralState.APPROVED: ["start_review", "approve"],
    ReferralState.FORWARDED: ["start_review", "approve", "forward"],
    ReferralState.ACCEPTED: ["start_review", "approve", "forward", "accept"],
    ReferralState.HIRED: ["start_review", "approve", "forward", "accept", "hire"],
    ReferralState.DECLINED: ["start_review", "decline"],
    ReferralState.REFUSED: ["start_review", "approve", "forward", "refuse"],
    ReferralState.CANCELLED: ["cancel"],
    ReferralState.EXPIRED: ["expire"],
}
REFERRAL_ROLE = {
    "start_review": Role.FACILITATOR,
    "approve": Role.FACILITATOR,
    "decline": Role.FACILITATOR,
    "forward": Role.FACILITATOR,
    "accept": Role.EMPLOYER,
    "refuse": Role.EMPLOYER,
    "hire": Role.EMPLOYER,
    "cancel": Role.ADVISER,
}


def advance_referral(world: World, referral: Referral, state: str, side="a", **hire) -> Referral:
    for step in REFERRAL_STEPS[ReferralState(state)]:
        actor = Actor.system() if step == "expire" else world.actor(REFERRAL_ROLE[step], side)
        call_service(f"referral.{step}", actor, referral, **(hire if step == "hire" else {}))
    referral = reload(referral)
    assert referral.state == state, (referral.state, state)
    return referral


def advance_placement(world: World, placement: Placement, state: str, side="a") -> Placement:
    employer = world.side(side).employer_actor
    state = PlacementState(state)
    if state in (PlacementState.ACTIVE, PlacementState.ENDED):
        call_service("placement.start", employer, placement)
    if state == PlacementState.ENDED:
        call_service("placement.end", employer, placement)
    if state == PlacementState.CANCELLED:
        call_service("placement.cancel", employer, placement)
    placement = reload(placement)
    assert placement.state == state, (placement.state, state)
    return placement


def advance_hours_line(world: World, line: HoursLine, state: str, side="a") -> HoursLine:
    fac = world.side(side).facilitator
    state = HoursLineState(state)
    if state in (HoursLineState.VALIDATED, HoursLineState.LOCKED):
        call_service("hoursline.validate", fac, line)
    if state == HoursLineState.LOCKED:
        call_service("hoursline.lock", fac, line)
    if state == HoursLineState.REJECTED:
        call_service("hoursline.reject", fac, line)
    line = reload(line)
    assert line.state == state, (line.state, state)
    return line


# --- factory_boy factories driving the services -------------------------------------------------------------
class _ServiceFactory(factory.Factory):
    """Base: `world` and `side` are required; objects are only ever created through the services."""

    world = None
    side = "a"

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise TypeError("Parcours objects are created through the services: use create(), not build().")

    @classmethod
    def _world(cls, world):
        if world is None:
            raise TypeError(f"{cls.__name__} needs world=<tests.factories.World>")
        return world


_participant_numbers = itertools.count(1)
FIRST_NAMES = ["Yanis", "Inès", "Mamadou", "Léa", "Kenza", "Théo", "Aïcha", "Lucas"]


class ParticipantFactory(_ServiceFactory):
    """A young person registered by the side's adviser; `situation` is the state of the open pathway."""

    class Meta:
        model = Participant

    situation = PathwayState.INTAKE
    first_name = factory.LazyFunction(lambda: FIRST_NAMES[next(_participant_numbers) % len(FIRST_NAMES)])
    last_name = factory.Sequence(lambda n: f"Benali-Moreau{n}")
    birth_date = factory.LazyFunction(lambda: years_ago(20))
    postcode = "93200"
    commune = "Saint-Denis"
    qualification_level = QualificationLevel.INFRA_3

    class Params:
        eligibility_submitted = factory.Trait(situation=PathwayState.ELIGIBILITY_PENDING)
        eligible = factory.Trait(situation=PathwayState.ELIGIBLE)
        ineligible = factory.Trait(situation=PathwayState.INELIGIBLE)
        referred = factory.Trait(situation=PathwayState.REFERRED)
        placed = factory.Trait(situation=PathwayState.PLACED)
        in_follow_up = factory.Trait(situation=PathwayState.IN_FOLLOW_UP)
        exited = factory.Trait(situation=PathwayState.EXITED)
        withdrawn = factory.Trait(situation=PathwayState.WITHDRAWN)
        lost_contact = factory.Trait(situation=PathwayState.LOST_CONTACT)
        qpv_resident = factory.Trait(is_qpv_resident=True, postcode="93200")

    @classmethod
    def _create(cls, model_class, *, world, side, situation, **data):
        world = cls._world(world)
        participant = participants.participant_create(actor=world.side(side).adviser, data=data)
        advance_pathway(world, participant.pathways.get(), situation, side)
        return participant


class ReferralFactory(_ServiceFactory):
    """A referral of an eligible participant to the side's offer, walked to `situation`."""

    class Meta:
        model = Referral

    situation = ReferralState.SENT
    pathway = None
    offer = None

    class Params:
        under_review = factory.Trait(situation=ReferralState.UNDER_REVIEW)
        approved_by_facilitator = factory.Trait(situation=ReferralState.APPROVED)
        forwarded_to_employer = factory.Trait(situation=ReferralState.FORWARDED)
        accepted_by_employer = factory.Trait(situation=ReferralState.ACCEPTED)
        hired = factory.Trait(situation=ReferralState.HIRED)
        declined_by_facilitator = factory.Trait(situation=ReferralState.DECLINED)
        refused_by_employer = factory.Trait(situation=ReferralState.REFUSED)
        cancelled_by_adviser = factory.Trait(situation=ReferralState.CANCELLED)
        expired = factory.Trait(situation=ReferralState.EXPIRED)

    @classmethod
    def _create(cls, model_class, *, world, side, situation, pathway, offer, **hire):
        world = cls._world(world)
        s = world.side(side)
        if pathway is None:
            pathway = ParticipantFactory(world=world, side=side, eligible=True).pathways.get()
        referral = referrals.referral_create(
            actor=s.adviser, pathway=pathway, offer=offer or s.offer, motivation="Motivé·e, permis B"
        )
        return advance_referral(world, referral, situation, side, **hire)


class PlacementFactory(_ServiceFactory):
    """A placement created by the employer's hire confirmation (start today), walked to `situation`."""

    class Meta:
        model = Placement

    situation = PlacementState.PLANNED
    pathway = None

    class Params:
        started = factory.Trait(situation=PlacementState.ACTIVE)
        ended = factory.Trait(situation=PlacementState.ENDED)
        not_started = factory.Trait(situation=PlacementState.CANCELLED)

    @classmethod
    def _create(cls, model_class, *, world, side, situation, pathway, **hire):
        world = cls._world(world)
        referral = ReferralFactory(world=world, side=side, pathway=pathway, hired=True, **hire)
        return advance_placement(world, referral.placement, situation, side)


class HoursLineFactory(_ServiceFactory):
    """Last month's hours of an active placement, declared by the employer, walked to `situation`."""

    class Meta:
        model = HoursLine

    situation = HoursLineState.DECLARED
    placement = None
    hours = decimal.Decimal("70")

    class Params:
        validated = factory.Trait(situation=HoursLineState.VALIDATED)
        rejected = factory.Trait(situation=HoursLineState.REJECTED)
        locked = factory.Trait(situation=HoursLineState.LOCKED)

    @classmethod
    def _create(cls, model_class, *, world, side, situation, placement, hours):
        world = cls._world(world)
        placement = backdate_placement(placement or PlacementFactory(world=world, side=side, started=True))
        line = placements.hours_declare(
            actor=world.side(side).employer_actor, placement=placement, month=last_month(), hours=hours
        )
        return advance_hours_line(world, line, situation, side)


# --- Plain helpers (what most tests call) --------------------------------------------------------------------
def make_pathway(world, state="intake", *, side="a", **data) -> Pathway:
    return ParticipantFactory(world=world, side=side, situation=state, **data).pathways.order_by("-pk").first()


def make_referral(world, state="sent", *, side="a", pathway=None, offer=None, **hire) -> Referral:
    return ReferralFactory(world=world, side=side, situation=state, pathway=pathway, offer=offer, **hire)


def make_placement(world, state="planned", *, side="a", pathway=None, **hire) -> Placement:
    return PlacementFactory(world=world, side=side, situation=state, pathway=pathway, **hire)


def make_hours_line(world, state="declared", *, side="a", placement=None) -> HoursLine:
    return HoursLineFactory(world=world, side=side, situation=state, placement=placement)


MAKERS = {
    "pathway": make_pathway,
    "referral": make_referral,
    "placement": make_placement,
    "hoursline": make_hours_line,
}


def make(world, machine: str, state: str, *, side="a"):
    """An object of `machine` in `state`, reached through the services on territory `side`."""
    return MAKERS[machine](world, state, side=side)


def record_follow_up(world, pathway, *, side="a", **kwargs):
    data = {"kind": FollowUpKind.PHONE, "done_on": today(), "note": "Point téléphonique"}
    data.update(kwargs)
    return followups.followup_record(actor=world.side(side).adviser, pathway=pathway, **data)


# --- Database snapshots ----------------------------------------------------------------------------------------
def db_counts() -> dict:
    """Row counts of every installed model (a cheap "nothing was written" check), in one query."""
    from django.db import connection

    models = [m for m in apps.get_models(include_auto_created=True) if m._meta.managed and not m._meta.proxy]
    quote = connection.ops.quote_name
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(m._meta.db_table)})" for m in models)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    return {model._meta.label: count for model, count in zip(models, row, strict=True)}

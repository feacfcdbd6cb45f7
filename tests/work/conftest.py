"""Fixtures of the work-layer tests (`territories`), built with the shared factories (tests/factories.py) and the
services only (never fsm writes).

Two territories ("a" and "b"), each with a Mission Locale, a facilitation organisation (partner of that Mission
Locale), an employer (awardee of the territory's lot) and a buyer; two members per working role so that
assignment to a colleague can be tested, and one auditor.
"""

import datetime
import decimal
import itertools
from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from parcours.models import Pathway, Referral
from parcours.services import participants, pathways, referrals, register
from parcours.work.flows import PlacementFlow
from parcours.work.models import OPEN_TASK_STATUSES, WorkTask
from roles.actor import Actor
from roles.enums import Role
from roles.models import Organisation
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from workflows.vocabulary import ContractType, FulfilmentMode, LegalLever, QualificationLevel, SizingMethod

_numbers = itertools.count(1)


def today():
    return timezone.localdate()


def make_actor(organisation, role, username=None) -> Actor:
    username = username or f"{role}{next(_numbers)}"
    return Actor.from_membership(
        MembershipFactory(user=UserFactory(username=username), organisation=organisation, role=role)
    )


@dataclass
class Territory:
    name: str
    youth_agency: Organisation
    facilitation: Organisation
    employer_org: Organisation
    buyer: Organisation
    actors: dict = field(default_factory=dict)
    lot: object = None
    offer: object = None

    def __getattr__(self, name):
        try:
            return self.__dict__["actors"][name]
        except KeyError:
            raise AttributeError(name) from None


def build_territory(name) -> Territory:
    n = next(_numbers)
    t = Territory(
        name=name,
        youth_agency=OrganisationFactory(mission_locale=True, name=f"Mission Locale {name}{n}"),
        facilitation=OrganisationFactory(facilitation=True, name=f"PLIE {name}{n}"),
        employer_org=OrganisationFactory(employer=True, name=f"BTP {name}{n}"),
        buyer=OrganisationFactory(buyer=True, name=f"Bailleur {name}{n}"),
    )
    t.facilitation.partners.add(t.youth_agency)
    for key, org, role in [
        ("adviser", t.youth_agency, Role.ADVISER),
        ("adviser2", t.youth_agency, Role.ADVISER),
        ("facilitator", t.facilitation, Role.FACILITATOR),
        ("facilitator2", t.facilitation, Role.FACILITATOR),
        ("employer", t.employer_org, Role.EMPLOYER),
        ("employer2", t.employer_org, Role.EMPLOYER),
        ("auditor", t.facilitation, Role.AUDITOR),
    ]:
        t.actors[key] = make_actor(org, role, f"{key}-{name}{n}")
    fac = t.actors["facilitator"]
    operation = register.operation_create(
        actor=fac,
        name=f"Rénovation {name}{n}",
        commune="Saint-Denis",
        starts_on=today() - datetime.timedelta(days=365),
        ends_on=today() + datetime.timedelta(days=3 * 365),
    )
    contract = register.contract_create(
        actor=fac,
        operation=operation,
        reference=f"2026-{n:03d}",
        title="Réhabilitation",
        buyer=t.buyer,
        legal_lever=LegalLever.EXECUTION_CONDITION,
    )
    t.lot = register.lot_create(
        actor=fac,
        contract=contract,
        number=1,
        title="Gros œuvre",
        trade="Maçonnerie",
        amount_excl_tax=decimal.Decimal("1000000"),
        sizing_method=SizingMethod.FIXED,
        target_hours=decimal.Decimal("1000"),
        execution_starts_on=today() - datetime.timedelta(days=365),
        execution_ends_on=today() + datetime.timedelta(days=3 * 365),
        fulfilment_modes=[FulfilmentMode.DIRECT_HIRE],
        awardee=t.employer_org,
    )
    t.offer = make_offer(t, title="Maçon·ne", trade="Maçonnerie", positions=5)
    return t


def make_offer(t, *, title, trade, positions) -> object:
    """An offer of the territory's lot, published by its facilitator."""
    return register.offer_create(
        actor=t.facilitator,
        lot=t.lot,
        title=title,
        trade=trade,
        contract_type=ContractType.CDD,
        weekly_hours=35,
        location="Saint-Denis",
        positions=positions,
    )


@dataclass
class WorkWorld:
    a: Territory
    b: Territory

    # --- situations, each reached through the services -------------------------------------------------------
    def register(self, t=None) -> Pathway:
        t = t or self.a
        participant = participants.participant_create(
            actor=t.adviser,
            data={
                "first_name": "Inès",
                "last_name": f"Benali{next(_numbers)}",
                "birth_date": today().replace(year=today().year - 20, day=1),
                "postcode": "93200",
                "commune": "Saint-Denis",
                "qualification_level": QualificationLevel.INFRA_3,
            },
        )
        return participant.pathways.get()

    def eligible(self, t=None) -> Pathway:
        t = t or self.a
        pathway = self.register(t)
        pathways.pathway_submit_eligibility(actor=t.adviser, pathway=pathway, criteria=[], derogation_reason="Test")
        pathways.pathway_validate_eligibility(actor=t.facilitator, pathway=pathway)
        return Pathway.objects.get(pk=pathway.pk)

    def referral(self, t=None, pathway=None) -> Referral:
        t = t or self.a
        pathway = pathway or self.eligible(t)
        return referrals.referral_create(actor=t.adviser, pathway=pathway, offer=t.offer)

    def forwarded(self, t=None) -> Referral:
        t = t or self.a
        referral = self.referral(t)
        referrals.referral_start_review(actor=t.facilitator, referral=referral)
        referrals.referral_approve(actor=t.facilitator, referral=referral)
        referrals.referral_forward(actor=t.facilitator, referral=referral)
        return Referral.objects.get(pk=referral.pk)

    def hired(self, t=None, start_date=None):
        t = t or self.a
        referral = self.forwarded(t)
        referrals.referral_accept(actor=t.employer, referral=referral)
        return referrals.referral_hire(
            actor=t.employer,
            referral=referral,
            contract_type=ContractType.CDD,
            start_date=start_date or today(),
            weekly_hours=35,
        )


@pytest.fixture
def territories(db):
    return WorkWorld(a=build_territory("a"), b=build_territory("b"))


def open_task(kind, **filters) -> WorkTask:
    """The one open task of `kind` matching `filters`."""
    return WorkTask.objects.select_related("task").get(kind=kind, status__in=OPEN_TASK_STATUSES, **filters)


# --- Tests that commit (two timer workers on two connections) ------------------------------------------------
@pytest.fixture
def committed_db(transactional_db):
    """Committed rows, visible to other connections; tests/conftest.py lifts the journal's append-only triggers for
    the flush that ends the test and reloads the reference data."""


def finished_tasks_analysed(process_id, count=5000):
    """Thousands of done human tasks in one process, then the task tables analysed: statistics that say few timers
    are armed and few tasks are open, as a table grown old has (the plans' tests read them)."""
    done = (
        Task(process_id=process_id, flow_task=PlacementFlow.review, flow_task_type="HUMAN", status=STATUS.DONE)
        for _ in range(count)
    )
    Task.objects.bulk_create(done)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE viewflow_task, viewflow_task_previous")

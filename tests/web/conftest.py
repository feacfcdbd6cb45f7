"""The page tests' site: the demo's logins (conseillere, facilitateur, employeur, auditeur…) on a small register,
built with the shared factories (tests/factories.py) and the services. Fixture: `site`."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from parcours.services import participants, pathways, placements, referrals, register
from roles.actor import Actor
from roles.enums import OrganisationKind, Role
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory, backdate_placement, last_month


class Site:
    def __init__(self):
        today = timezone.localdate()
        self.today = today
        self.ml = OrganisationFactory(name="Mission Locale A", kind=OrganisationKind.MISSION_LOCALE)
        self.ml_b = OrganisationFactory(name="Mission Locale B", kind=OrganisationKind.MISSION_LOCALE)
        self.fac = OrganisationFactory(name="PLIE", kind=OrganisationKind.FACILITATION)
        self.fac.partners.add(self.ml, self.ml_b)
        self.emp = OrganisationFactory(name="BTP Nord", kind=OrganisationKind.EMPLOYER)
        self.emp_b = OrganisationFactory(name="BTP Sud", kind=OrganisationKind.EMPLOYER)
        self.buyer = OrganisationFactory(name="Ville", kind=OrganisationKind.AUTHORITY)
        self.adviser = self._actor("conseillere", self.ml, Role.ADVISER)
        self.adviser_b = self._actor("conseiller.b", self.ml_b, Role.ADVISER)
        self.facilitator = self._actor("facilitateur", self.fac, Role.FACILITATOR)
        self.employer = self._actor("employeur", self.emp, Role.EMPLOYER)
        self.employer_b = self._actor("employeur.b", self.emp_b, Role.EMPLOYER)
        self.auditor = self._actor("auditeur", self.buyer, Role.AUDITOR)
        f = self.facilitator
        op = register.operation_create(
            actor=f, name="École", commune="Lille", starts_on=today, ends_on=today + datetime.timedelta(400)
        )
        contract = register.contract_create(
            actor=f, operation=op, reference="M-1", title="Travaux", buyer=self.buyer, legal_lever="L2112-2"
        )
        self.lot = register.lot_create(
            actor=f,
            contract=contract,
            number=1,
            title="Gros œuvre",
            trade="Maçonnerie",
            amount_excl_tax=Decimal("500000"),
            sizing_method="fixed",
            target_hours=Decimal("1000"),
            execution_starts_on=today - datetime.timedelta(60),
            execution_ends_on=today + datetime.timedelta(300),
            fulfilment_modes=["direct_hire"],
            awardee=self.emp,
        )
        self.offer = register.offer_create(
            actor=f,
            lot=self.lot,
            title="Maçon·ne",
            trade="Maçon",
            contract_type="cdd",
            weekly_hours=35,
            location="Lille",
            positions=20,  # room for every hire of a test (an offer closes itself once filled)
        )
        self.counter = 0

    def _actor(self, username, org, role):
        user = UserFactory(username=username, first_name=username.title())
        user.set_password("demo")  # these users log in through the login form
        user.save(update_fields=["password"])
        return Actor.from_membership(MembershipFactory(user=user, organisation=org, role=role))

    def participant(self, *, adviser=None, hired=False):
        """A participant of the adviser's agency; eligible and referred; optionally hired and working."""
        adviser = adviser or self.adviser
        self.counter += 1
        p = participants.participant_create(
            actor=adviser,
            data={
                "first_name": f"Jeune{self.counter}",
                "last_name": f"Nom{self.counter}",
                "birth_date": datetime.date(2005, 1, 1) + datetime.timedelta(days=self.counter),
                "postcode": "59000",
                "commune": "Lille",
                "qualification_level": "level_3",
                "email": f"jeune{self.counter}@example.org",
            },
        )
        pathway = p.pathways.get()
        pathways.pathway_submit_eligibility(actor=adviser, pathway=pathway, criteria=["YOUTH_ML_FOLLOWED"])
        pathways.pathway_validate_eligibility(actor=self.facilitator, pathway=pathway)
        referral = referrals.referral_create(actor=adviser, pathway=pathway, offer=self.offer)
        if hired:
            f, e = self.facilitator, self.employer
            referrals.referral_start_review(actor=f, referral=referral)
            referrals.referral_approve(actor=f, referral=referral)
            referrals.referral_forward(actor=f, referral=referral)
            referrals.referral_accept(actor=e, referral=referral)
            placement = referrals.referral_hire(
                actor=e, referral=referral, contract_type="cdd", start_date=self.today, weekly_hours=35
            )
            placements.placement_start(actor=e, placement=placement)
            placement = backdate_placement(placement)
            line = placements.hours_declare(actor=e, placement=placement, month=last_month(), hours=Decimal("70"))
            placements.hoursline_validate(actor=f, hours_line=line)
        return p


@pytest.fixture
def site(db):
    return Site()

"""Fixtures of the API tests, built with the shared factories (tests/factories.py) and the services.

`api_world` is two territories, `a` and `b`, each with a Mission Locale, a facilitation organisation (PLIE),
an employer, a buyer, the demo users of each role, a clause register (operation → contract → lot → offers)
and a pathway story taken up to a state chosen by the test.
"""

import datetime
from dataclasses import dataclass, field

import pytest
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from parcours.services import participants, pathways, placements, referrals, register
from roles.actor import Actor
from roles.enums import Role
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory, backdate_placement, last_month
from workflows.vocabulary import ContractType, QualificationLevel, SizingMethod

PASSWORD = "demo"
CRITERION = "YOUTH_UNDER_26_LOW_QUALIFICATION"
HEALTH_CRITERION = "DISABLED_WORKER"


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()  # throttling counters
    yield
    cache.clear()


def today():
    return timezone.localdate()


@dataclass
class Side:
    """One territory: organisations, users (by role), register and story objects."""

    name: str
    orgs: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    memberships: dict = field(default_factory=dict)
    objects: dict = field(default_factory=dict)

    def actor(self, role):
        return Actor.from_membership(self.memberships[role])

    def __getattr__(self, name):
        try:
            return self.__dict__["objects"][name]
        except KeyError:
            raise AttributeError(name) from None


USERNAMES = {
    "a": {
        Role.ADVISER: "conseillere",
        Role.FACILITATOR: "facilitateur",
        Role.EMPLOYER: "employeur",
        Role.AUDITOR: "auditeur",
    },
    "b": {
        Role.ADVISER: "conseiller.b",
        Role.FACILITATOR: "facilitateur.b",
        Role.EMPLOYER: "employeur.b",
        Role.AUDITOR: "auditeur.b",
    },
}
ORG_OF_ROLE = {
    Role.ADVISER: "mission_locale",
    Role.FACILITATOR: "facilitation",
    Role.EMPLOYER: "employer",
    Role.AUDITOR: "buyer",
}


def _build_side(name):
    side = Side(name=name)
    upper = name.upper()
    side.orgs = {
        "mission_locale": OrganisationFactory(mission_locale=True, name=f"Mission Locale {upper}"),
        "facilitation": OrganisationFactory(facilitation=True, name=f"PLIE {upper}"),
        "employer": OrganisationFactory(employer=True, name=f"Bâtiment {upper}"),
        "buyer": OrganisationFactory(buyer=True, name=f"Métropole {upper}"),
    }
    side.orgs["mission_locale"].partners.add(side.orgs["facilitation"])
    for role, username in USERNAMES[name].items():
        user = UserFactory(username=username)
        user.set_password(PASSWORD)  # the API tests obtain tokens with it
        user.save(update_fields=["password"])
        side.users[role] = user
        side.memberships[role] = MembershipFactory(user=user, organisation=side.orgs[ORG_OF_ROLE[role]], role=role)
    facilitator = side.actor(Role.FACILITATOR)
    operation = register.operation_create(
        actor=facilitator,
        name=f"Renouvellement urbain {upper}",
        commune="Villeurbanne",
        starts_on=today() - datetime.timedelta(days=60),
        ends_on=today() + datetime.timedelta(days=700),
    )
    contract = register.contract_create(
        actor=facilitator,
        operation=operation,
        reference=f"2026-{upper}-01",
        title="Réhabilitation de logements",
        buyer=side.orgs["buyer"],
        legal_lever="L2112-2",
    )
    lot = register.lot_create(
        actor=facilitator,
        contract=contract,
        number=1,
        title="Gros œuvre",
        trade="Maçonnerie",
        amount_excl_tax=1_000_000,
        sizing_method=SizingMethod.FIXED,
        target_hours=1400,
        execution_starts_on=today() - datetime.timedelta(days=30),
        execution_ends_on=today() + datetime.timedelta(days=365),
        fulfilment_modes=["direct_hire", "staff_provision_siae"],
        awardee=side.orgs["employer"],
    )
    offers = [
        register.offer_create(
            actor=facilitator,
            lot=lot,
            title=title,
            trade="Maçonnerie",
            contract_type=ContractType.CDD,
            weekly_hours=35,
            location="Villeurbanne",
            positions=20,  # room for every hire of a test (an offer closes itself once filled)
        )
        for title in ("Aide-maçon·ne", "Manœuvre")
    ]
    side.objects.update(operation=operation, contract=contract, lot=lot, offer=offers[0], offer2=offers[1])
    return side


STORY_STEPS = [
    "intake",  # a participant with an open pathway
    "eligible",  # eligibility submitted and validated
    "referred",  # referred to `offer`
    "forwarded",  # referral reviewed, approved, forwarded to the employer
    "hired",  # accepted and hired: a planned placement
    "active",  # placement started, one hours line declared, a second referral forwarded to `offer2`
]


def advance(side, until="active", *, first_name="Inès", last_name=None):
    """Take a new participant of `side` through the story up to `until` (with the services)."""
    adviser, facilitator, employer = (side.actor(r) for r in (Role.ADVISER, Role.FACILITATOR, Role.EMPLOYER))
    steps = STORY_STEPS[: STORY_STEPS.index(until) + 1]
    objects = {}
    participant = participants.participant_create(
        actor=adviser,
        data={
            "first_name": first_name,
            "last_name": last_name or f"Martin-{side.name.upper()}",
            "birth_date": today().replace(year=today().year - 20, day=1),
            "email": "ines@example.org",
            "phone": "0600000000",
            "postcode": "69100",
            "commune": "Villeurbanne",
            "qualification_level": QualificationLevel.INFRA_3,
        },
        allow_duplicate=True,
    )
    objects["participant"] = participant
    objects["pathway"] = pathway = participant.pathways.get()
    if "eligible" in steps:
        pathways.pathway_submit_eligibility(actor=adviser, pathway=pathway, criteria=[CRITERION, HEALTH_CRITERION])
        pathways.pathway_validate_eligibility(actor=facilitator, pathway=pathway)
    if "referred" in steps:
        objects["referral"] = referral = referrals.referral_create(actor=adviser, pathway=pathway, offer=side.offer)
    if "forwarded" in steps:
        referrals.referral_start_review(actor=facilitator, referral=referral)
        referrals.referral_approve(actor=facilitator, referral=referral)
        referrals.referral_forward(actor=facilitator, referral=referral)
    if "hired" in steps:
        referrals.referral_accept(actor=employer, referral=referral)
        objects["placement"] = placement = referrals.referral_hire(
            actor=employer, referral=referral, contract_type=ContractType.CDD, start_date=today(), weekly_hours=35
        )
    if "active" in steps:
        placements.placement_start(actor=employer, placement=placement)
        placement = backdate_placement(placement)
        objects["hours_line"] = placements.hours_declare(
            actor=employer, placement=placement, month=last_month(), hours=20
        )
        objects["referral2"] = referral2 = referrals.referral_create(actor=adviser, pathway=pathway, offer=side.offer2)
        referrals.referral_start_review(actor=facilitator, referral=referral2)
        referrals.referral_approve(actor=facilitator, referral=referral2)
        referrals.referral_forward(actor=facilitator, referral=referral2)
    for obj in objects.values():
        obj.refresh_from_db()
    return objects


@dataclass
class ApiWorld:
    a: Side
    b: Side

    def side(self, name):
        return {"a": self.a, "b": self.b}[name]


def _ensure_reference_data():
    """The eligibility criteria come from a data migration; a flush by a transactional test elsewhere in the
    suite removes them, so load them again if needed."""
    import importlib

    from django.apps import apps

    from parcours.models import EligibilityCriterion

    if not EligibilityCriterion.objects.exists():
        importlib.import_module("parcours.migrations.0003_eligibility_criteria").load(apps, None)


@pytest.fixture
def api_world(db):
    _ensure_reference_data()
    return ApiWorld(a=_build_side("a"), b=_build_side("b"))


@pytest.fixture
def story(api_world):
    """Both territories taken to the "active" step (see STORY_STEPS)."""
    for side in (api_world.a, api_world.b):
        side.objects.update(advance(side, "active"))
    return api_world


def token_for(user):
    from rest_framework.authtoken.models import Token

    return Token.objects.get_or_create(user=user)[0].key


def client_for(user, **headers):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}", **headers)
    return client


@pytest.fixture
def anonymous():
    return APIClient()


def rolled_back(call):
    """Run a request and undo whatever it wrote (to try several writes on one world)."""
    with transaction.atomic():
        response = call()
        transaction.set_rollback(True)
    return response


def assert_problem(response, status, code=None):
    assert response.status_code == status, (response.status_code, getattr(response, "data", response.content))
    assert response["Content-Type"] == "application/problem+json", response["Content-Type"]
    body = response.json()
    assert body["status"] == status
    assert body["detail"] and body["title"] and body["type"].startswith("urn:parcours:problem:")
    if code is not None:
        assert body["code"] == code, body
    return body

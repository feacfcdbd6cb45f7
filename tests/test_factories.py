"""The factories reach every declared state through the services, and their traits mean what they say."""

import pytest

from roles.enums import ROLES_BY_ORGANISATION_KIND, OrganisationKind, Role
from tests.factories import (
    HoursLineFactory,
    MembershipFactory,
    OrganisationFactory,
    ParticipantFactory,
    PlacementFactory,
    ReferralFactory,
    make,
)
from workflows.transitions import STATE_ENUMS

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("machine", "state"),
    [pytest.param(m, s, id=f"{m}-{s}") for m, enum in STATE_ENUMS.items() for s in enum],
)
def test_every_declared_state_is_reachable_through_the_services(world, machine, state):
    obj = make(world, machine, state)
    assert obj.state == state
    assert obj.MACHINE == machine


@pytest.mark.parametrize(
    ("factory", "trait", "state"),
    [
        (ParticipantFactory, "eligibility_submitted", "eligibility_pending"),
        (ParticipantFactory, "ineligible", "ineligible"),
        (ParticipantFactory, "placed", "placed"),
        (ParticipantFactory, "lost_contact", "lost_contact"),
        (ReferralFactory, "forwarded_to_employer", "forwarded"),
        (ReferralFactory, "refused_by_employer", "refused"),
        (ReferralFactory, "expired", "expired"),
        (PlacementFactory, "started", "active"),
        (PlacementFactory, "not_started", "cancelled"),
        (HoursLineFactory, "locked", "locked"),
    ],
)
def test_business_traits(world, factory, trait, state):
    obj = factory(world=world, **{trait: True})
    if factory is ParticipantFactory:
        obj = obj.pathways.get()
    assert obj.state == state


def test_factories_work_on_the_other_territory(world):
    participant = ParticipantFactory(world=world, side="b", referred=True, qpv_resident=True)
    assert participant.youth_agency == world.b.youth_agency and participant.is_qpv_resident
    assert participant.pathways.get().referrals.get().offer == world.b.offer


def test_factories_need_a_world(db):
    with pytest.raises(TypeError, match="world"):
        ParticipantFactory()
    with pytest.raises(TypeError):
        ReferralFactory.build()


def test_membership_factory_refuses_roles_foreign_to_the_organisation_kind(db):
    from django.core.exceptions import ValidationError

    for kind in OrganisationKind:
        organisation = OrganisationFactory(kind=kind)
        for role in Role:
            if role in ROLES_BY_ORGANISATION_KIND[kind]:
                MembershipFactory(organisation=organisation, role=role)
            else:
                with pytest.raises(ValidationError):
                    MembershipFactory(organisation=organisation, role=role)

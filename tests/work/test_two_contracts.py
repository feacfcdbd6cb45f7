"""A young person with two contracts at once: the pathway goes to follow-up only once neither is planned or running
(parcours.services.placements: both questions asked in one statement)."""

from django.utils import timezone

from parcours.models import Pathway
from parcours.services import placements, referrals
from tests.work.conftest import make_offer
from workflows.states import PathwayState, PlacementState
from workflows.vocabulary import ContractType, PlacementEndKind


def _second_hire(territories, pathway):
    t = territories.a
    offer = make_offer(t, title="Coffreur·se", trade="Maçonnerie", positions=2)
    referral = referrals.referral_create(actor=t.adviser, pathway=pathway, offer=offer)
    referrals.referral_start_review(actor=t.facilitator, referral=referral)
    referrals.referral_approve(actor=t.facilitator, referral=referral)
    referrals.referral_forward(actor=t.facilitator, referral=referral)
    referrals.referral_accept(actor=t.employer, referral=referral)
    return referrals.referral_hire(
        actor=t.employer,
        referral=referral,
        contract_type=ContractType.CDD,
        start_date=timezone.localdate(),
        weekly_hours=20,
    )


def _end(territories, placement):
    placements.placement_start(actor=territories.a.employer, placement=placement)
    return placements.placement_end(
        actor=territories.a.employer,
        placement=placement,
        end_date=timezone.localdate(),
        end_kind=PlacementEndKind.NORMAL,
    )


def test_the_pathway_waits_for_the_last_contract_before_its_follow_up(territories):
    first = territories.hired()
    pathway = Pathway.objects.get(pk=first.pathway_id)
    second = _second_hire(territories, pathway)
    assert Pathway.objects.get(pk=pathway.pk).state == PathwayState.PLACED

    assert _end(territories, first).state == PlacementState.ENDED
    assert Pathway.objects.get(pk=pathway.pk).state == PathwayState.PLACED  # the second contract still runs

    assert _end(territories, second).state == PlacementState.ENDED
    assert Pathway.objects.get(pk=pathway.pk).state == PathwayState.IN_FOLLOW_UP

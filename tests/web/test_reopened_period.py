"""A pathway reopened starts a new period: what ended before it (a contract, an exit) belongs to a period already
closed. Found from outside: a contract cancelled before it started, after a reopening, took the pathway to « En suivi »
— the contract ended in the closed period counted as this one's."""

import datetime

from parcours.models import Pathway
from parcours.services import pathways, placements, referrals
from tests.factories import backdate_placement


def hired_again(site, pathway):
    referral = referrals.referral_create(actor=site.adviser, pathway=pathway, offer=site.offer)
    f, e = site.facilitator, site.employer
    referrals.referral_start_review(actor=f, referral=referral)
    referrals.referral_approve(actor=f, referral=referral)
    referrals.referral_forward(actor=f, referral=referral)
    referrals.referral_accept(actor=e, referral=referral)
    return referrals.referral_hire(
        actor=e,
        referral=referral,
        contract_type="cdd",
        start_date=site.today + datetime.timedelta(days=7),
        weekly_hours=35,
    )


def closed_then_reopened(site):
    participant = site.participant(hired=True)
    pathway = participant.pathways.get()
    # Opened before its contract (which `site` backdates to last month).
    Pathway.objects.filter(pk=pathway.pk).update(started_on=site.today - datetime.timedelta(days=90))
    pathway = Pathway.objects.get(pk=pathway.pk)
    placement = pathway.placements.get()
    placements.placement_end(
        actor=site.employer, placement=placement, end_date=site.today - datetime.timedelta(days=3), end_kind="normal"
    )
    assert Pathway.objects.get(pk=pathway.pk).state == "in_follow_up"
    pathways.pathway_exit(
        actor=site.adviser, pathway=pathway, exited_on=site.today - datetime.timedelta(days=2), situation="cdd_short"
    )
    pathways.pathway_reopen(actor=site.adviser, pathway=Pathway.objects.get(pk=pathway.pk), reason="Revenu")
    pathway = Pathway.objects.get(pk=pathway.pk)
    assert pathway.state == "eligible" and pathway.reopened_on == site.today
    return pathway


def test_a_contract_cancelled_after_a_reopening_takes_the_pathway_back_to_eligible(site):
    pathway = closed_then_reopened(site)
    planned = hired_again(site, pathway)
    assert Pathway.objects.get(pk=pathway.pk).state == "placed"
    placements.placement_cancel(actor=site.employer, placement=planned, reason="Pas venu")
    assert Pathway.objects.get(pk=pathway.pk).state == "eligible"
    assert Pathway.objects.get(pk=pathway.pk).placements_left() == (0, 0)  # read now: the same answer


def test_a_contract_ended_after_a_reopening_takes_it_to_follow_up(site):
    pathway = closed_then_reopened(site)
    planned = hired_again(site, pathway)
    planned = backdate_placement(planned, site.today)
    placements.placement_start(actor=site.employer, placement=planned)
    placements.placement_end(actor=site.employer, placement=planned, end_date=site.today, end_kind="normal")
    assert Pathway.objects.get(pk=pathway.pk).state == "in_follow_up"

"""The whole story of one young person, through the services only: intake → eligibility → referral →
hire → placement → hours (validated, locked, adjusted) → end of contract → follow-up → exit. Checks
states, who can see what when (object grants) and what the journal says at each step."""

import datetime
import decimal

import pytest

from parcours.models import Exit, FollowUp, HoursLine, Placement, Referral
from parcours.services import followups, participants, pathways, placements, referrals
from roles import policy
from tests.factories import (
    CRITERION,
    backdate_placement,
    last_month,
    make_offer,
    make_placement,
    make_referral,
    reload,
    today,
    years_ago,
)
from workflows.errors import DomainError
from workflows.journal import verify_chains
from workflows.models import JournalEvent
from workflows.states import HoursLineState, PathwayState, PlacementState, ReferralState
from workflows.vocabulary import AssessmentDecision, ExitCategory, ExitSituation, FollowUpKind

pytestmark = pytest.mark.django_db


def last_event(obj_type, obj_id):
    return JournalEvent.objects.filter(object_type=obj_type, object_id=obj_id).latest("sequence")


def assert_event(obj, action, from_state, to_state, actor):
    event = last_event(obj.MACHINE, obj.pk)
    assert (event.action, event.from_state, event.to_state) == (action, from_state, to_state)
    assert event.actor_user == actor.user
    assert event.actor_organisation == actor.organisation
    assert event.actor_role == actor.role.value
    return event


def sees(actor, action, obj):
    return policy.allows(actor, action, obj)


def test_whole_story(world):
    a = world.a
    adviser, facilitator, employer, auditor = a.adviser, a.facilitator, a.employer_actor, a.auditor

    # Intake
    participant = participants.participant_create(
        actor=adviser,
        data={
            "first_name": "Inès",
            "last_name": "Belkacem",
            "birth_date": years_ago(19),
            "postcode": "93200",
            "commune": "Saint-Denis",
            "qualification_level": "infra_3",
            "programme": "cej",
            "is_qpv_resident": True,
        },
    )
    pathway = participant.pathways.get()
    assert pathway.state == PathwayState.INTAKE
    assert sees(adviser, "participant.update", participant)
    assert not sees(facilitator, "participant.view", participant)
    assert not sees(world.b.adviser, "participant.view", participant)
    assert last_event("participant", participant.pk).action == "create"
    assert_event(pathway, "create", "", PathwayState.INTAKE, adviser)

    # Eligibility: submitted by the adviser, shared with the partner facilitation organisation, validated
    pathways.pathway_submit_eligibility(actor=adviser, pathway=pathway, criteria=[CRITERION, "QPV_RESIDENT"])
    pathway = reload(pathway)
    assert pathway.state == PathwayState.ELIGIBILITY_PENDING
    assert pathway.facilitation_organisation == a.facilitation
    event = assert_event(pathway, "submit_eligibility", PathwayState.INTAKE, PathwayState.ELIGIBILITY_PENDING, adviser)
    # The journal names the assessment and counts the criteria; which ones stays on the assessment (health data).
    assert event.inputs["criteria_count"] == 2 and "criteria" not in event.inputs
    assert event.inputs["assessment"] == participant.assessments.get().pk
    assert sees(facilitator, "participant.view", participant)
    assert not sees(facilitator, "participant.update", participant)
    assert not sees(world.b.facilitator, "participant.view", participant)

    pathways.pathway_validate_eligibility(actor=facilitator, pathway=pathway, proofs={CRITERION: ("diploma", today())})
    pathway = reload(pathway)
    assert pathway.state == PathwayState.ELIGIBLE
    assessment = participant.assessments.get()
    assert assessment.decision == AssessmentDecision.ACCEPTED and assessment.decided_by == facilitator.user
    assert assessment.valid_until > today() + datetime.timedelta(days=700)
    assert assessment.assessed.get(criterion__code=CRITERION).proof_seen_by == facilitator.user
    assert_event(pathway, "validate_eligibility", PathwayState.ELIGIBILITY_PENDING, PathwayState.ELIGIBLE, facilitator)

    # Two referrals; the pathway is referred by the first
    second_offer = make_offer(a, title="Coffreur·se bancheur·se")
    referral = referrals.referral_create(actor=adviser, pathway=pathway, offer=a.offer, motivation="Motivée")
    other = referrals.referral_create(actor=adviser, pathway=pathway, offer=second_offer)
    assert reload(pathway).state == PathwayState.REFERRED
    assert [
        e.action for e in JournalEvent.objects.filter(object_type="pathway", object_id=pathway.pk, action="refer")
    ] == ["refer"]
    with pytest.raises(DomainError) as duplicate:
        referrals.referral_create(actor=adviser, pathway=pathway, offer=a.offer)
    assert duplicate.value.code == "duplicate_referral"
    assert sees(auditor, "referral.view", referral)  # the buyer's contract
    assert sees(auditor, "participant.view", participant)
    assert not sees(world.b.auditor, "referral.view", referral)

    # The facilitator reviews, approves and forwards; only then does the employer see the referral
    for step, service, before, after in [
        ("start_review", referrals.referral_start_review, ReferralState.SENT, ReferralState.UNDER_REVIEW),
        ("approve", referrals.referral_approve, ReferralState.UNDER_REVIEW, ReferralState.APPROVED),
        ("forward", referrals.referral_forward, ReferralState.APPROVED, ReferralState.FORWARDED),
    ]:
        assert not sees(employer, "referral.view", referral)
        for r in (referral, other):
            service(actor=facilitator, referral=r)
            assert reload(r).state == after
            assert_event(r, step, before, after, facilitator)
    assert sees(employer, "referral.view", referral) and sees(employer, "referral.view", other)
    assert not sees(world.b.employer_actor, "referral.view", referral)
    assert reload(referral).forwarded_at is not None

    # The employer refuses the second one and loses it; the pathway stays referred (one referral open)
    referrals.referral_refuse(actor=employer, referral=other, reason="Poste pourvu en interne")
    other = reload(other)
    assert other.state == ReferralState.REFUSED and other.decision_reason == "Poste pourvu en interne"
    event = assert_event(other, "refuse", ReferralState.FORWARDED, ReferralState.REFUSED, employer)
    assert event.reason == "Poste pourvu en interne"
    assert not sees(employer, "referral.view", other)
    assert reload(pathway).state == PathwayState.REFERRED

    # Accept and hire: placement planned, follow-ups planned, pathway placed, employer sees the placement
    referrals.referral_accept(actor=employer, referral=referral)
    assert_event(reload(referral), "accept", ReferralState.FORWARDED, ReferralState.ACCEPTED, employer)
    start = today()
    placement = referrals.referral_hire(
        actor=employer,
        referral=referral,
        contract_type="cdd",
        start_date=start,
        weekly_hours=35,
        planned_end_date=start + datetime.timedelta(days=180),
    )
    referral = reload(referral)
    assert referral.state == ReferralState.HIRED
    event = assert_event(referral, "hire", ReferralState.ACCEPTED, ReferralState.HIRED, employer)
    assert event.inputs == {
        "contract_type": "cdd",
        "start_date": start.isoformat(),
        "weekly_hours": "35.00",
        "fulfilment_mode": "direct_hire",
        "planned_end_date": (start + datetime.timedelta(days=180)).isoformat(),
    }
    assert placement.state == PlacementState.PLANNED
    assert (placement.employer, placement.lot, placement.pathway) == (a.employer, a.lot, pathway)
    assert last_event("placement", placement.pk).action == "create"
    assert sees(employer, "placement.view", placement)
    assert not sees(world.b.employer_actor, "placement.view", placement)
    planned = FollowUp.objects.filter(placement=placement, done_on__isnull=True).order_by("due_on")
    assert [f.due_on.month for f in planned] == [
        (start.month + months - 1) % 12 + 1 for months in FollowUp.PLANNED_OFFSETS_MONTHS
    ]
    assert reload(pathway).state == PathwayState.PLACED
    place = last_event("pathway", pathway.pk)
    assert (place.action, place.from_state, place.to_state, place.actor_role) == (
        "place",
        PathwayState.REFERRED,
        PathwayState.PLACED,
        "employer",
    )
    assert place.inputs == {"placement": placement.pk}

    # The contract starts; the employer declares hours, the facilitator validates and locks the month
    placements.placement_start(actor=employer, placement=placement)
    placement = reload(placement)
    assert placement.state == PlacementState.ACTIVE and placement.started_on == start
    assert_event(placement, "start", PlacementState.PLANNED, PlacementState.ACTIVE, employer)
    placement = backdate_placement(placement)  # time passes: last month is over and declared
    line = placements.hours_declare(
        actor=employer, placement=placement, month=last_month(), hours=decimal.Decimal("70")
    )
    assert line.month == last_month() and line.state == HoursLineState.DECLARED
    assert last_event("hoursline", line.pk).inputs["hours"] == "70"
    assert sees(employer, "hoursline.view", line) and sees(auditor, "hoursline.view", line)
    placements.hoursline_validate(actor=facilitator, hours_line=line)
    assert_event(reload(line), "validate", HoursLineState.DECLARED, HoursLineState.VALIDATED, facilitator)
    placements.hoursline_lock(actor=facilitator, hours_line=line)
    line = reload(line)
    assert line.state == HoursLineState.LOCKED and line.locked_at is not None
    assert_event(line, "lock", HoursLineState.VALIDATED, HoursLineState.LOCKED, facilitator)

    # A locked month is never edited: a new regular line is refused, an adjustment line is the way
    with pytest.raises(DomainError) as locked:
        placements.hours_declare(actor=employer, placement=placement, month=last_month(), hours=10)
    assert locked.value.code == "month_locked"
    adjustment = placements.hours_declare(
        actor=employer, placement=placement, month=last_month(), hours=-4, is_adjustment=True
    )
    placements.hoursline_validate(actor=facilitator, hours_line=adjustment)
    total = sum(
        HoursLine.objects.filter(placement=placement, state__in=["validated", "locked"]).values_list(
            "hours", flat=True
        )
    )
    assert total == decimal.Decimal("66")

    # End of contract: the pathway goes to follow-up
    placements.placement_end(actor=employer, placement=placement, end_date=today(), end_kind="normal")
    placement = reload(placement)
    assert placement.state == PlacementState.ENDED and placement.ended_on == today()
    assert_event(placement, "end", PlacementState.ACTIVE, PlacementState.ENDED, employer)
    assert reload(pathway).state == PathwayState.IN_FOLLOW_UP
    assert last_event("pathway", pathway.pk).action == "start_follow_up"

    # A planned follow-up is completed by the adviser
    due = planned.first()
    followups.followup_record(
        actor=adviser,
        pathway=pathway,
        kind=FollowUpKind.PHONE,
        done_on=today(),
        note="En poste, satisfaite",
        planned_follow_up=due,
    )
    due = reload(due)
    assert due.done_on == today() and due.recorded_by == adviser.user
    event = last_event("pathway", pathway.pk)
    assert (event.action, event.from_state, event.to_state) == ("record_follow_up", "in_follow_up", "in_follow_up")
    assert event.inputs == {"follow_up": due.pk, "kind": "phone", "done_on": today().isoformat()}

    # Exit
    pathways.pathway_exit(
        actor=adviser, pathway=pathway, exited_on=today(), situation=ExitSituation.CDI, detail="CDI signé"
    )
    pathway = reload(pathway)
    assert pathway.state == PathwayState.EXITED and pathway.exited_on == today()
    assert Exit.objects.get(pathway=pathway).category == ExitCategory.DURABLE_EMPLOYMENT
    assert_event(pathway, "exit", PathwayState.IN_FOLLOW_UP, PathwayState.EXITED, adviser)
    with pytest.raises(DomainError) as closed:
        followups.followup_record(actor=adviser, pathway=pathway, kind="phone", done_on=today())
    assert closed.value.code == "invalid_transition"

    # The pathway's timeline, as an auditor would read it
    timeline = [
        (e.action, e.from_state, e.to_state, e.actor_role, e.actor_organisation_id)
        for e in JournalEvent.objects.filter(object_type="pathway", object_id=pathway.pk).order_by("sequence")
    ]
    ml, fac = a.youth_agency.pk, a.facilitation.pk
    assert timeline == [
        ("create", "", "intake", "adviser", ml),
        ("submit_eligibility", "intake", "eligibility_pending", "adviser", ml),
        ("validate_eligibility", "eligibility_pending", "eligible", "facilitator", fac),
        ("refer", "eligible", "referred", "adviser", ml),
        ("place", "referred", "placed", "employer", a.employer.pk),
        ("start_follow_up", "placed", "in_follow_up", "employer", a.employer.pk),
        ("record_follow_up", "in_follow_up", "in_follow_up", "adviser", ml),
        ("exit", "in_follow_up", "exited", "adviser", ml),
    ]
    assert set(JournalEvent.objects.filter(participant_id=participant.pk).values_list("object_type", flat=True)) == {
        "participant",
        "pathway",
        "referral",
        "placement",
        "hoursline",
        "task",  # the young person's tasks given to the referent adviser, by the system
    }
    assert verify_chains().ok


def test_second_placement_loops_back_from_follow_up(world):
    pathway = make_placement(world, "ended").pathway
    assert reload(pathway).state == PathwayState.IN_FOLLOW_UP
    placement = make_placement(world, "active", pathway=pathway)
    assert reload(pathway).state == PathwayState.PLACED
    placements.placement_end(actor=world.a.employer_actor, placement=placement, end_date=today(), end_kind="normal")
    assert reload(pathway).state == PathwayState.IN_FOLLOW_UP
    assert Placement.objects.filter(pathway=pathway, state="ended").count() == 2


def test_cancelled_placement_with_another_referral_open_keeps_the_pathway_referred(world):
    """Regression: the pathway used to fall back to "eligible" with a referral still open, and the later
    hire on that referral left it "eligible" with a contract."""
    placement = make_placement(world, "planned")
    pathway = placement.pathway
    waiting = make_referral(world, "accepted", pathway=pathway, offer=make_offer(world.a))
    placements.placement_cancel(actor=world.a.employer_actor, placement=placement, reason="Contrat non signé")
    assert reload(pathway).state == PathwayState.REFERRED
    referrals.referral_hire(
        actor=world.a.employer_actor, referral=waiting, contract_type="cdd", start_date=today(), weekly_hours=35
    )
    assert reload(pathway).state == PathwayState.PLACED


def test_withdrawing_a_referred_pathway_cancels_its_referrals_and_revokes_the_employer(world):
    forwarded = make_referral(world, "forwarded")
    pathway = forwarded.pathway
    sent = make_referral(world, "sent", pathway=pathway, offer=make_offer(world.a))
    pathways.pathway_withdraw(actor=world.a.adviser, pathway=pathway, reason="Déménagement")
    assert reload(pathway).state == PathwayState.WITHDRAWN and reload(pathway).closed_on == today()
    assert set(Referral.objects.filter(pathway=pathway).values_list("state", flat=True)) == {"cancelled"}
    assert not policy.allows(world.a.employer_actor, "referral.view", forwarded)
    reasons = set(
        JournalEvent.objects.filter(
            object_type="referral", action="cancel", object_id__in=[forwarded.pk, sent.pk]
        ).values_list("reason_record__text", flat=True)
    )
    assert reasons == {"Parcours clos : Déménagement"}
    # No return_to_eligible in between: the pathway went straight from referred to withdrawn.
    assert not JournalEvent.objects.filter(
        object_type="pathway", object_id=pathway.pk, action="return_to_eligible"
    ).exists()


def test_expired_referral_is_revoked_from_the_employer(world):
    referral = make_referral(world, "forwarded")
    referrals.referral_expire(referral=referral)
    assert reload(referral).state == ReferralState.EXPIRED
    assert not policy.allows(world.a.employer_actor, "referral.view", referral)
    assert reload(referral.pathway).state == PathwayState.ELIGIBLE


def test_a_reopened_pathway_runs_again(world):
    adviser, facilitator = world.a.adviser, world.a.facilitator
    exited = make_placement(world, "ended").pathway
    pathways.pathway_exit(
        actor=adviser, pathway=exited, exited_on=today(), situation=ExitSituation.QUALIFYING_TRAINING
    )
    pathways.pathway_reopen(actor=adviser, pathway=exited, reason="Fin de formation, cherche un emploi")
    exited = reload(exited)
    assert exited.state == PathwayState.ELIGIBLE and exited.exited_on is None
    assert Exit.objects.filter(pathway=exited).count() == 1  # the former exit stays on record
    make_referral(world, "hired", pathway=exited, offer=make_offer(world.a))
    assert reload(exited).state == PathwayState.PLACED

    refused = make_referral(world, "sent").pathway
    pathways.pathway_withdraw(actor=adviser, pathway=refused, reason="Déménagement")
    other = participants.participant_create(
        actor=adviser,
        data={
            "first_name": "Noé",
            "last_name": "Lambert",
            "birth_date": years_ago(17),
            "postcode": "93200",
            "commune": "Saint-Denis",
            "qualification_level": "infra_3",
        },
    ).pathways.get()
    pathways.pathway_submit_eligibility(actor=adviser, pathway=other, criteria=[CRITERION])
    pathways.pathway_reject_eligibility(actor=facilitator, pathway=other, reason="Justificatifs manquants")
    assert reload(other).closed_on == today()
    pathways.pathway_reopen(actor=adviser, pathway=other, reason="Justificatifs apportés")
    other = reload(other)
    assert other.state == PathwayState.INTAKE and other.closed_on is None
    pathways.pathway_submit_eligibility(actor=adviser, pathway=other, criteria=[CRITERION])
    pathways.pathway_validate_eligibility(actor=facilitator, pathway=other)
    assert reload(other).state == PathwayState.ELIGIBLE
    decisions = sorted(other.assessments.values_list("decision", flat=True))
    assert decisions == [AssessmentDecision.ACCEPTED, AssessmentDecision.REJECTED]


@pytest.mark.parametrize("offer_open", [True, False])
def test_a_forward_to_a_lot_without_awardee_is_refused_and_writes_nothing(world, settings, offer_open):
    """The employer's grant goes with the forward's event: a lot not yet awarded is refused before anything is
    written — the referral still approved, no event, no grant, no task moved."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from viewflow.workflow.models import Task

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    referral = make_referral(world, "approved")
    lot = referral.offer.lot
    lot.awardee = None
    lot.save(update_fields=["awardee"])
    if not offer_open:
        from parcours.services import register

        register.offer_close(actor=world.a.facilitator, offer=referral.offer)
    events, tasks = JournalEvent.objects.count(), list(Task.objects.order_by("pk").values_list("pk", "status"))
    with CaptureQueriesContext(connection) as queries, pytest.raises(DomainError) as refused:
        referrals.referral_forward(actor=world.a.facilitator, referral=referral)
    # The transition's own guards first (a closed offer), then what the service adds (the employer to grant).
    assert refused.value.code == ("no_awardee" if offer_open else "offer_closed")
    # Refused before anything was sent to be written (not written, then rolled back).
    assert not [q["sql"] for q in queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "WITH", "DELETE")]
    assert Referral.objects.get(pk=referral.pk).state == ReferralState.APPROVED
    assert JournalEvent.objects.count() == events
    assert list(Task.objects.order_by("pk").values_list("pk", "status")) == tasks


@pytest.mark.parametrize("missing", ["situation", "exited_on"])
def test_an_exit_with_a_missing_input_is_refused_and_writes_nothing(world, missing):
    """The exit's row goes with the transition's event, on SQLite as on PostgreSQL: a missing input is the
    transition's refusal (`missing_input`), not a NOT NULL of the row sent first."""
    from tests.factories import make_pathway

    pathway = make_pathway(world, "in_follow_up")
    values = {"exited_on": today(), "situation": ExitSituation.CDI, missing: None}
    events = JournalEvent.objects.count()
    with pytest.raises(DomainError) as refused:
        pathways.pathway_exit(actor=world.a.adviser, pathway=pathway, **values)
    assert refused.value.code == "missing_input" and refused.value.field == missing
    assert reload(pathway).state == PathwayState.IN_FOLLOW_UP
    assert not Exit.objects.filter(pathway=pathway).exists() and JournalEvent.objects.count() == events

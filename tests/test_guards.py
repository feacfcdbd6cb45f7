"""Guard conditions: expired eligibility, closed offers, execution windows, dates. A refused guard writes
nothing and leaves the state as it was."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from parcours.models import ContractLot, Placement
from parcours.services import pathways, placements, referrals, register
from tests.factories import (
    backdate_placement,
    call_service,
    db_counts,
    last_month,
    make,
    make_lot,
    make_offer,
    make_pathway,
    make_placement,
    make_referral,
    reload,
    today,
)
from workflows import engine
from workflows.errors import DomainError
from workflows.states import PathwayState
from workflows.vocabulary import PlacementEndKind

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def later(days):
    """A moment `days` days from now (time_machine destination; the clock does not tick)."""
    return time_machine.travel(timezone.now() + days * DAY, tick=False)


def assert_refused(code, call, *objects, field=None):
    states = [(o, reload(o).state) for o in objects]
    counts = db_counts()
    with pytest.raises(DomainError) as refused:
        call()
    assert refused.value.code == code, refused.value.message
    if field is not None:
        assert refused.value.field == field
    assert db_counts() == counts
    for obj, state in states:
        assert reload(obj).state == state
    return refused.value


def short_eligibility(world, days):
    """An eligible pathway whose eligibility is valid for `days` more days only."""
    pathway = make_pathway(world, "eligibility_pending")
    call_service("pathway.validate_eligibility", world.a.facilitator, pathway, valid_until=today() + days * DAY)
    return reload(pathway)


# --- Eligibility ---------------------------------------------------------------------------------------------
def test_expired_eligibility_blocks_approval_and_new_referrals(world):
    pathway = short_eligibility(world, 10)
    referral = make_referral(world, "under_review", pathway=pathway)
    other_offer = make_offer(world.a)
    assert reload(pathway).participant.eligibility_valid_on(today())
    with later(20):
        assert not pathway.participant.eligibility_valid_on(today())
        assert_refused(
            "eligibility_not_valid",
            lambda: call_service("referral.approve", world.a.facilitator, referral),
            referral,
            pathway,
        )
        assert engine.spec_for(referral, "approve") not in engine.available_transitions(referral, world.a.facilitator)
        assert_refused(
            "eligibility_not_valid",
            lambda: referrals.referral_create(actor=world.a.adviser, pathway=pathway, offer=other_offer),
            pathway,
        )
    # Back to today: still valid.
    call_service("referral.approve", world.a.facilitator, referral)


def test_approval_reads_eligibility_with_the_locked_row_on_its_last_valid_day(world, settings):
    """The approval's guard is answered by the locked read (no statement of its own), on the guards' today: the last
    day of validity still counts, the next one no longer does."""
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text
    pathway = short_eligibility(world, 3)
    first = make_referral(world, "under_review", pathway=pathway)
    second = make_referral(world, "under_review", pathway=pathway, offer=make_offer(world.a))
    with later(3), CaptureQueriesContext(connection) as captured:
        call_service("referral.approve", world.a.facilitator, first)
    assert reload(first).state == "approved"
    assessed = [q["sql"] for q in captured if '"parcours_eligibilityassessment"' in q["sql"]]
    locked_read = 'SELECT "parcours_referral"."id", "parcours_referral"."state"'
    assert len(assessed) == 1 and locked_read in assessed[0], assessed  # inside the locked read
    with later(4):
        assert_refused(
            "eligibility_not_valid",
            lambda: call_service("referral.approve", world.a.facilitator, second),
            second,
            pathway,
        )


def test_expired_eligibility_reopens_to_intake(world):
    pathway = short_eligibility(world, 10)
    call_service("pathway.withdraw", world.a.adviser, pathway)
    with later(20):
        call_service("pathway.reopen", world.a.adviser, pathway)
    assert reload(pathway).state == PathwayState.INTAKE


def test_a_reopened_pathways_contract_begins_after_the_reopening(world):
    """Exited, then reopened 20 days later: a contract starting in between ran while the young person had left the
    pathway (its exit counted), and its hours counted for the clause all the same."""
    pathway = make_pathway(world, "eligible")
    call_service("pathway.withdraw", world.a.adviser, pathway)
    with later(20):
        call_service("pathway.reopen", world.a.adviser, pathway)
        assert reload(pathway).reopened_on == timezone.localdate()
        referral = make_referral(world, "accepted", pathway=pathway)
        error = assert_refused(
            "start_before_reopening",
            lambda: call_service("referral.hire", world.a.employer_actor, referral, start_date=today() - 5 * DAY),
            referral,
            pathway,
            field="start_date",
        )
        assert f"rouvert le {timezone.localdate():%d/%m/%Y}" in error.message
        call_service("referral.hire", world.a.employer_actor, referral, start_date=today() + 5 * DAY)
        placement = Placement.objects.get(referral=referral)
        # Its planned start corrected to before the reopening: refused the same way.
        assert_refused(
            "start_before_reopening",
            lambda: call_service(
                "placement.change_start_date", world.a.employer_actor, placement, start_date=today() - DAY
            ),
            placement,
            field="start_date",
        )


def test_a_contract_hired_before_the_pathway_was_left_begins_after_its_reopening(world):
    """Hired (planned for in 5 days), then the young person is lost, found again 20 days later: starting the contract
    at its planned day, before the reopening, backdated it over the months they had left."""
    placement = make_placement(world, "planned", start_date=today() + 5 * DAY)
    call_service("pathway.mark_lost_contact", world.a.adviser, placement.pathway)
    with later(20):
        call_service("pathway.reopen", world.a.adviser, placement.pathway)
        assert_refused(
            "start_before_reopening",
            lambda: call_service("placement.start", world.a.employer_actor, placement),
            placement,
        )
        # Its start corrected to the reopening day, it begins.
        call_service("placement.change_start_date", world.a.employer_actor, placement, start_date=today())
        call_service("placement.start", world.a.employer_actor, placement)
    assert reload(placement).started_on == today() + 20 * DAY


def test_eligibility_must_be_valid_at_contract_start(world):
    pathway = short_eligibility(world, 10)
    referral = make_referral(world, "accepted", pathway=pathway)
    error = assert_refused(
        "eligibility_not_valid",
        lambda: call_service("referral.hire", world.a.employer_actor, referral, start_date=today() + 30 * DAY),
        referral,
        pathway,
        field="start_date",
    )
    assert (today() + 30 * DAY).strftime("%d/%m/%Y") in error.message
    call_service("referral.hire", world.a.employer_actor, referral, start_date=today() + 10 * DAY)


def test_hire_reads_eligibility_at_start_with_the_locked_row(world, settings):
    """The hire's guard is answered by the locked read, on the start date its inputs give (no statement of its own);
    the last day of validity still counts, the next one no longer does."""
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text
    pathway = short_eligibility(world, 10)
    first = make_referral(world, "accepted", pathway=pathway)
    second = make_referral(world, "accepted", pathway=pathway, offer=make_offer(world.a))
    with CaptureQueriesContext(connection) as captured:
        call_service("referral.hire", world.a.employer_actor, first, start_date=today() + 10 * DAY)
    assert reload(first).state == "hired"
    assessed = [q["sql"] for q in captured if '"parcours_eligibilityassessment"' in q["sql"]]
    locked_read = 'SELECT "parcours_referral"."id", "parcours_referral"."state"'
    assert len(assessed) == 1 and locked_read in assessed[0], assessed  # inside the locked read
    assert_refused(
        "eligibility_not_valid",
        lambda: call_service("referral.hire", world.a.employer_actor, second, start_date=today() + 11 * DAY),
        second,
        field="start_date",
    )


@pytest.mark.parametrize("with_the_row", [True, False])
def test_a_late_eligibility_counts_within_the_lot_s_grace(world, monkeypatch, with_the_row):
    """A lot whose counting rules accept an eligibility validated up to 5 days after the contract's start: validated
    today, a start 5 days ago counts, 6 days ago does not — read with the locked row or by the guard on its own."""
    from parcours.models import ContractLot, CountingRuleSet
    from parcours.services import common

    if not with_the_row:
        monkeypatch.setattr(common, "guard_reads", lambda model, transition: ())
    lenient = CountingRuleSet.objects.create(name="Charte souple", valid_from=today(), eligibility_grace_days=5)
    lot = make_lot(world.a)
    ContractLot.objects.filter(pk=lot.pk).update(counting_rules=lenient)
    pathway = short_eligibility(world, 30)  # validated today
    late = make_referral(world, "accepted", pathway=pathway, offer=make_offer(world.a, lot=lot))
    in_time = make_referral(world, "accepted", pathway=pathway, offer=make_offer(world.a, lot=lot))
    assert_refused(
        "eligibility_not_valid",
        lambda: call_service("referral.hire", world.a.employer_actor, late, start_date=today() - 6 * DAY),
        late,
        field="start_date",
    )
    call_service("referral.hire", world.a.employer_actor, in_time, start_date=today() - 5 * DAY)
    assert reload(in_time).state == "hired"


def test_eligibility_validated_after_the_contract_start_does_not_count(world):
    referral = make_referral(world, "accepted")
    assert_refused(
        "eligibility_not_valid",
        lambda: call_service("referral.hire", world.a.employer_actor, referral, start_date=today() - DAY),
        referral,
        field="start_date",
    )


def test_validating_eligibility_needs_declared_criteria_or_a_derogation(world):
    pathway = make_pathway(world, "eligibility_pending")
    pathway.pending_assessment().assessed.all().delete()  # criteria withdrawn from the file (admin)
    assert_refused(
        "assessment_incomplete",
        lambda: call_service("pathway.validate_eligibility", world.a.facilitator, pathway),
        pathway,
    )


def test_validating_eligibility_reads_the_pending_assessment_once(world, settings):
    """The service reads the assessment it decides, and its guard checks that same reading; once decided, the pathway
    no longer answers it as pending. The read goes after the pathway's lock, in its round trip on PostgreSQL."""
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    pathway = make_pathway(world, "eligibility_pending")
    with CaptureQueriesContext(connection) as captured:
        validated = call_service("pathway.validate_eligibility", world.a.facilitator, pathway)
    texts = [q["sql"] for q in captured]
    sent = [(number, sql) for number, text in enumerate(texts) for sql in text.split("; ")]
    reads = [i for i, (_, sql) in enumerate(sent) if sql.startswith('SELECT "parcours_eligibilityassessment"')]
    assert len(reads) == 1, texts
    locked = next(i for i, (_, sql) in enumerate(sent) if sql.startswith('SELECT "parcours_pathway"."id", "parcours'))
    assert reads[0] == locked - 1, texts  # just before the pathway's read
    if connection.vendor == "postgresql":  # after the row's wait, in the round trip of the lock
        assert sent[reads[0]][0] == sent[locked][0] and "FOR NO KEY UPDATE" in sent[locked - 2][1], texts
    assert validated.state == PathwayState.ELIGIBLE and validated.pending_assessment() is None


def test_validating_eligibility_is_refused_without_a_pending_assessment(world):
    """The guard's read in the lock's round trip answers "none" as the guard's own read did."""
    pathway = make_pathway(world, "eligibility_pending")
    pathway.assessments.all().delete()
    assert_refused(
        "assessment_incomplete",
        lambda: call_service("pathway.validate_eligibility", world.a.facilitator, pathway),
        pathway,
    )


# --- Offers --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "transition", "role"),
    [
        ("under_review", "approve", "facilitator"),
        ("approved", "forward", "facilitator"),
        ("forwarded", "accept", "employer"),
        ("accepted", "hire", "employer"),
    ],
)
def test_closed_offer_blocks_the_referral(world, source, transition, role):
    referral = make(world, "referral", source)
    register.offer_close(actor=world.a.facilitator, offer=referral.offer)
    actor = world.actor(role)
    assert engine.spec_for(referral, transition) not in engine.available_transitions(reload(referral), actor)
    assert_refused("offer_closed", lambda: call_service(f"referral.{transition}", actor, referral), referral)
    # Declining, refusing or cancelling a referral to a closed offer stays possible.
    closing = {
        "facilitator": ("referral.decline", world.a.facilitator),
        "employer": ("referral.refuse", world.a.employer_actor),
    }[role]
    call_service(closing[0], closing[1], referral)


def test_closed_offer_takes_no_new_referral(world):
    pathway = make_pathway(world, "eligible")
    offer = register.offer_close(actor=world.a.facilitator, offer=make_offer(world.a))
    assert_refused(
        "offer_closed", lambda: referrals.referral_create(actor=world.a.adviser, pathway=pathway, offer=offer), pathway
    )
    assert_refused("invalid_transition", lambda: register.offer_close(actor=world.a.facilitator, offer=offer))


# --- Execution window ----------------------------------------------------------------------------------------
def test_hire_start_date_outside_the_execution_window(world):
    referral = make_referral(world, "accepted")
    lot = world.a.lot
    for start in (lot.execution_ends_on + DAY,):
        assert_refused(
            "outside_execution_window",
            lambda s=start: call_service("referral.hire", world.a.employer_actor, referral, start_date=s),
            referral,
            field="start_date",
        )
    call_service("referral.hire", world.a.employer_actor, referral, start_date=lot.execution_ends_on)


def test_hire_before_the_execution_window_opens(world):
    lot = make_lot(world.a, starts_on=today() + 20 * DAY, ends_on=today() + 200 * DAY)
    referral = make_referral(world, "accepted", offer=make_offer(world.a, lot=lot))
    assert_refused(
        "outside_execution_window",
        lambda: call_service("referral.hire", world.a.employer_actor, referral, start_date=today() + 19 * DAY),
        referral,
        field="start_date",
    )
    call_service("referral.hire", world.a.employer_actor, referral, start_date=today() + 20 * DAY)


def test_hours_for_a_month_outside_the_execution_window(world):
    lot = make_lot(world.a, starts_on=today() - 30 * DAY, ends_on=today() + 40 * DAY)
    referral = make_referral(world, "accepted", offer=make_offer(world.a, lot=lot))
    placement = call_service("referral.hire", world.a.employer_actor, referral)
    call_service("placement.start", world.a.employer_actor, placement)
    with later(80):
        month = today().replace(day=1)
        assert month > lot.execution_ends_on
        assert_refused(
            "outside_execution_window",
            lambda: placements.hours_declare(actor=world.a.employer_actor, placement=placement, month=month, hours=80),
            placement,
            field="month",
        )
        # The last month of the window is still declarable.
        placements.hours_declare(
            actor=world.a.employer_actor, placement=placement, month=lot.execution_ends_on.replace(day=1), hours=80
        )


def test_hours_validation_rechecks_the_window(world):
    line = make(world, "hoursline", "declared")
    # The register is corrected after the declaration (the lot ended earlier than recorded).
    ContractLot.objects.filter(pk=world.a.lot.pk).update(execution_ends_on=line.month - DAY)
    assert_refused(
        "outside_execution_window", lambda: call_service("hoursline.validate", world.a.facilitator, line), line
    )


# --- Other guards --------------------------------------------------------------------------------------------
def test_weekly_hours_must_be_between_1_and_48_as_declared(world):
    referral = make_referral(world, "accepted")
    for hours in (0, 49):
        assert_refused(
            "invalid_input",
            lambda h=hours: call_service("referral.hire", world.a.employer_actor, referral, weekly_hours=h),
            referral,
            field="weekly_hours",
        )
    call_service("referral.hire", world.a.employer_actor, referral, weekly_hours=48)


def test_a_hire_date_out_of_bounds_is_refused_on_its_own_field(world):
    referral = make_referral(world, "accepted")
    refusal = assert_refused(
        "invalid_input",
        lambda: call_service(
            "referral.hire",
            world.a.employer_actor,
            referral,
            start_date=datetime.date(9999, 12, 31),
            planned_end_date=today() + 30 * DAY,
        ),
        referral,
        field="start_date",
    )
    assert "hors des limites" in refusal.message


def test_placement_cannot_start_before_its_start_date(world):
    placement = make_placement(world, "planned", start_date=today() + 5 * DAY)
    assert_refused(
        "start_in_future",
        lambda: call_service("placement.start", world.a.employer_actor, placement),
        placement,
        placement.pathway,
    )
    with later(5):
        call_service("placement.start", world.a.employer_actor, placement)


def test_placement_end_date_checks(world):
    placement = make_placement(world, "active")
    employer = world.a.employer_actor
    assert_refused(
        "date_in_future",
        lambda: call_service("placement.end", employer, placement, end_date=today() + DAY),
        placement,
        field="end_date",
    )
    assert_refused(
        "end_before_start",
        lambda: call_service("placement.end", employer, placement, end_date=today() - DAY),
        placement,
        field="end_date",
    )
    assert_refused(
        "missing_input",
        lambda: call_service("placement.end", employer, placement, end_kind=PlacementEndKind.EARLY),
        placement,
        field="reason",
    )
    call_service("placement.end", employer, placement, end_kind=PlacementEndKind.EARLY, reason="Démission")
    assert reload(placement).end_reason == "Démission"


def test_a_contract_cannot_end_before_a_month_it_has_hours_for(world):
    two_months_ago = (last_month() - DAY).replace(day=1)
    placement = backdate_placement(make_placement(world, "active"), two_months_ago)
    employer = world.a.employer_actor
    line = placements.hours_declare(actor=employer, placement=placement, month=last_month(), hours=70)
    refusal = assert_refused(
        "hours_after_end",
        lambda: call_service("placement.end", employer, placement, end_date=last_month() - DAY),
        placement,
        placement.pathway,
        field="end_date",
    )
    assert last_month().strftime("%m/%Y") in refusal.message
    # Read with the locked row: no statement of its own.
    with CaptureQueriesContext(connection) as queries:
        with pytest.raises(DomainError):
            call_service("placement.end", employer, placement, end_date=last_month() - DAY)
    assert not [q for q in queries if q["sql"].startswith('SELECT "parcours_hoursline"')]
    # Rejected hours do not hold the end back; an end inside the month of the hours is a partial month.
    call_service("hoursline.reject", world.a.facilitator, line, reason="Pas travaillé")
    call_service("placement.end", employer, placement, end_date=last_month() + 14 * DAY)
    assert reload(placement).state == "ended"


def test_a_contract_cannot_end_before_the_days_its_last_months_hours_were_worked(world):
    """154 h declared for October, the contract ended on 9 October: every report counted the 154 h of a contract
    that allowed 53.9 h up to its end. The end is refused until the hours are corrected, or set later."""
    two_months_ago = (last_month() - DAY).replace(day=1)
    placement = backdate_placement(make_placement(world, "active"), two_months_ago)
    employer = world.a.employer_actor
    placements.hours_declare(actor=employer, placement=placement, month=last_month(), hours=120)
    early = last_month() + 2 * DAY
    refusal = assert_refused(
        "hours_after_end",
        lambda: call_service(
            "placement.end", employer, placement, end_date=early, end_kind=PlacementEndKind.EARLY, reason="Démission"
        ),
        placement,
        placement.pathway,
        field="end_date",
    )
    assert "120 h sont déclarées pour " + last_month().strftime("%m/%Y") in refusal.message
    assert early.strftime("%d/%m/%Y") in refusal.message
    # Read with the locked row: no statement of its own.
    with CaptureQueriesContext(connection) as queries:
        with pytest.raises(DomainError):
            call_service("placement.end", employer, placement, end_date=early)
    assert not [q for q in queries if q["sql"].startswith('SELECT "parcours_hoursline"')]
    # The month's last day allows its hours.
    month_end = (last_month() + 40 * DAY).replace(day=1) - DAY
    call_service("placement.end", employer, placement, end_date=month_end)
    assert reload(placement).state == "ended"


def test_a_start_date_cannot_be_moved_after_the_planned_end(world):
    placement = make_placement(world, "planned", start_date=today() + 5 * DAY, planned_end_date=today() + 30 * DAY)
    employer = world.a.employer_actor
    refusal = assert_refused(
        "end_before_start",
        lambda: call_service("placement.change_start_date", employer, placement, start_date=today() + 31 * DAY),
        placement,
        field="start_date",
    )
    assert (today() + 30 * DAY).strftime("%d/%m/%Y") in refusal.message
    call_service("placement.change_start_date", employer, placement, start_date=today() + 30 * DAY)
    assert reload(placement).start_date == today() + 30 * DAY


def test_exit_date_checks(world):
    pathway = make_pathway(world, "in_follow_up")
    adviser = world.a.adviser
    assert_refused(
        "date_in_future",
        lambda: call_service("pathway.exit", adviser, pathway, exited_on=today() + DAY),
        pathway,
        field="exited_on",
    )
    assert_refused(
        "exit_before_start",
        lambda: call_service("pathway.exit", adviser, pathway, exited_on=today() - DAY),
        pathway,
        field="exited_on",
    )


def test_reopen_refused_while_another_pathway_is_open(world):
    pathway = make_pathway(world, "eligible")
    call_service("pathway.withdraw", world.a.adviser, pathway)
    # Not reachable through the services (one pathway per participant), but the rule holds anyway.
    from parcours.models import Pathway

    Pathway.objects.create(participant=pathway.participant, referent_adviser=world.a.adviser.user, started_on=today())
    assert_refused(
        "pathway_already_open",
        lambda: pathways.pathway_reopen(actor=world.a.adviser, pathway=pathway, reason="Retour"),
        pathway,
    )


def test_only_the_reads_a_model_can_annotate_go_in_its_locked_read():
    from parcours.models import Pathway, Referral
    from parcours.services.common import guard_reads

    assert guard_reads(Referral, "approve") == (("eligible_today", None),)
    assert guard_reads(Referral, "hire") == (("eligible_at_start", "start_date"),)  # on the start date given
    assert guard_reads(Referral, "forward") == ()
    assert guard_reads(Pathway, "validate_eligibility") == ()  # its guard reads the pending assessment, not here
    assert guard_reads(Referral, None) == ()


def test_the_pathways_reopened_before_the_migration_take_their_day_from_the_journal(world):
    """parcours 0042 gives `reopened_on` to the pathways reopened before it, from their latest reopening's event
    (its local day: a reopening at 23:30 UTC in winter is the next day in Paris)."""
    import importlib

    from django.apps import apps

    from parcours.models import Pathway
    from workflows.models import JournalEvent

    migration = importlib.import_module("parcours.migrations.0042_pathway_reopened_on")
    pathway = make_pathway(world, "eligible")
    call_service("pathway.withdraw", world.a.adviser, pathway)
    late_evening = datetime.datetime(2027, 1, 14, 23, 30, tzinfo=datetime.UTC)
    with time_machine.travel(late_evening, tick=False):
        call_service("pathway.reopen", world.a.adviser, pathway)
    never = make_pathway(world, "eligible")
    Pathway.objects.filter(pk__in=[pathway.pk, never.pk]).update(reopened_on=None)  # as before the migration
    assert JournalEvent.objects.filter(object_type="pathway", object_id=pathway.pk, action="reopen").exists()
    migration.from_the_journal(apps, None)
    assert reload(pathway).reopened_on == datetime.date(2027, 1, 15)
    assert reload(never).reopened_on is None

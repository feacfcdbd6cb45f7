"""Timers (viewflow 2.4 database Timer): reminders, expiry, follow-ups — at the right moment, once, journaled."""

import datetime
import itertools
import logging
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone
from viewflow.workflow.status import STATUS

from parcours.dates import add_months
from parcours.models import Pathway, Referral
from parcours.services import referrals
from parcours.work.models import OPEN_TASK_STATUSES, TaskKind, WorkProcess, WorkTask
from parcours.work.timers import fire_due
from roles.enums import Role
from tests.work.conftest import make_offer, open_task
from workflows.journal import verify_chains
from workflows.models import JournalEvent
from workflows.states import PathwayState, ReferralState

DAY = datetime.timedelta(days=1)


def at(moment):
    return time_machine.travel(moment, tick=False)


def timer_events(**filters):
    return JournalEvent.objects.filter(object_type="timer", **filters).order_by("pk")


def test_reminder_then_expiry_at_the_configured_moments(territories):
    facilitation = territories.a.facilitation
    facilitation.referral_reminder_days, facilitation.referral_expiry_days = 3, 10
    facilitation.save()
    sent = timezone.now()
    with at(sent):
        referral = territories.referral()
    review = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    assert review.due_at == sent + 3 * DAY  # overdue once the reminder is due

    with at(sent + 3 * DAY - datetime.timedelta(seconds=1)):
        assert fire_due() == 0
    with at(sent + 3 * DAY):
        assert fire_due() == 1
        assert fire_due() == 0  # once
    (reminder,) = timer_events()
    assert (reminder.action, reminder.actor_role, reminder.actor_user_id) == ("remind", "system", None)
    assert reminder.participant_id == referral.pathway.participant_id
    assert reminder.inputs["task"] == review.pk and reminder.inputs["referral"] == referral.pk
    assert Referral.objects.get(pk=referral.pk).state == ReferralState.SENT  # a reminder changes nothing
    assert open_task(TaskKind.REVIEW_REFERRAL, pk=review.pk)

    with at(sent + 10 * DAY - datetime.timedelta(seconds=1)):
        assert fire_due() == 0
    with at(sent + 10 * DAY):
        assert fire_due() == 1
        assert fire_due() == 0
    referral = Referral.objects.get(pk=referral.pk)
    assert referral.state == ReferralState.EXPIRED
    expiry = JournalEvent.objects.get(object_type="referral", object_id=referral.pk, action="expire")
    assert (expiry.actor_role, expiry.actor_user_id, expiry.to_state) == ("system", None, "expired")
    assert timer_events(action="expire").count() == 1
    review = WorkTask.objects.select_related("task").get(pk=review.pk)
    assert review.task.status == STATUS.DONE and review.done_by is None and review.outcome == "referral.expire"
    # The expired referral comes back to the adviser's queue; the pathway is eligible again.
    rebound = open_task(TaskKind.REFERRAL_EXPIRED, referral=referral)
    assert (rebound.organisation, rebound.role) == (territories.a.youth_agency, Role.ADVISER)
    assert Pathway.objects.get(pk=referral.pathway_id).state == PathwayState.ELIGIBLE
    with at(sent + 400 * DAY):
        assert fire_due() == 0  # nothing left armed
    assert verify_chains().ok


def test_an_answer_disarms_the_timers_and_the_next_step_gets_its_own(territories):
    sent = timezone.now()
    with at(sent):
        referral = territories.referral()
    with at(sent + 20 * DAY):  # the facilitator answers on day 20, after the reminder
        assert fire_due() == 1
        for step in ("start_review", "approve", "forward"):
            getattr(referrals, f"referral_{step}")(actor=territories.a.facilitator, referral=referral)
    with at(sent + 27 * DAY - datetime.timedelta(seconds=1)):
        assert fire_due() == 0
    with at(sent + 31 * DAY):  # the review's expiry (day 30) was disarmed; the employer's reminder (day 27) fires
        assert fire_due() == 1
        assert Referral.objects.get(pk=referral.pk).state == ReferralState.FORWARDED
    with at(sent + 50 * DAY):
        assert fire_due() == 1  # the employer's expiry
    assert Referral.objects.get(pk=referral.pk).state == ReferralState.EXPIRED
    assert [e.inputs["node"] for e in timer_events()] == ["review_reminder", "answer_reminder", "answer_expiry"]


def test_follow_ups_become_due_at_one_three_and_six_months(territories):
    start = timezone.localdate() + 10 * DAY
    placement = territories.hired(start_date=start)
    pathway = placement.pathway
    for months in (1, 3, 6):
        due_on = add_months(start, months)
        day_start = timezone.make_aware(datetime.datetime.combine(due_on, datetime.time.min))
        with at(day_start - datetime.timedelta(seconds=1)):
            assert fire_due() == 0
            assert not WorkTask.objects.filter(kind=TaskKind.FOLLOW_UP, follow_up__due_on=due_on).exists()
        with at(day_start):
            assert fire_due() == 1
            assert fire_due() == 0
        task = open_task(TaskKind.FOLLOW_UP, follow_up__due_on=due_on)
        a = territories.a
        assert (task.organisation, task.role, task.pathway_id) == (a.youth_agency, Role.ADVISER, pathway.pk)
        assert task.due_at == day_start + 8 * DAY  # overdue a week after the planned day
        event = timer_events(action="follow_up_due").last()
        assert (event.actor_role, event.inputs["node"]) == ("system", f"wait_{months}")
    # Three open follow-up tasks, each in the referent adviser's inbox; no exit task until they are done.
    follow_ups = WorkTask.objects.filter(kind=TaskKind.FOLLOW_UP, status=STATUS.ASSIGNED)
    assert follow_ups.count() == 3
    assert {task.owner_id for task in follow_ups} == {task.pathway.referent_adviser_id for task in follow_ups}
    assert not WorkTask.objects.filter(kind=TaskKind.RECORD_EXIT).exists()


def test_a_follow_up_recorded_early_is_not_asked_again(territories):
    from parcours.services.followups import followup_record

    placement = territories.hired()
    first = placement.follow_ups.order_by("due_on").first()
    followup_record(
        actor=territories.a.adviser,
        pathway=placement.pathway,
        kind="phone",
        done_on=timezone.localdate(),
        planned_follow_up=first,
    )
    with at(timezone.make_aware(datetime.datetime.combine(first.due_on, datetime.time(8)))):
        assert fire_due() == 1  # the timer fires (journaled) but the gateway skips the task
    assert not WorkTask.objects.filter(follow_up=first).exists()


def test_follow_up_timers_skip_a_closed_pathway_and_the_process_ends(territories):
    from parcours.services.pathways import pathway_mark_lost_contact

    placement = territories.hired()
    pathway_mark_lost_contact(actor=territories.a.adviser, pathway=placement.pathway, reason="Injoignable")
    with at(timezone.now() + 200 * DAY):
        assert fire_due() == 3
    process = WorkProcess.objects.get(referral=placement.referral)
    assert not WorkTask.objects.filter(pathway=placement.pathway, kind=TaskKind.FOLLOW_UP).exists()
    assert process.status == "DONE"


def test_run_timers_command_once(territories):
    territories.referral()
    with at(timezone.now() + 8 * DAY):
        call_command("run_timers")
    assert timer_events(action="remind").count() == 1


@pytest.mark.parametrize("interval", ["0", "-5", "nan", "inf", "100000"])
def test_run_timers_refuses_an_interval_that_would_spin_or_stall(interval):
    """Before: --interval 0 or -5 looped without a pause (« une passe toutes les -5 s »), burning a core."""
    with pytest.raises(CommandError, match="--interval"):
        call_command("run_timers", "--loop", "--interval", interval, stdout=StringIO())


def test_a_failing_firing_is_rolled_back_and_retried(territories, monkeypatch):
    from parcours.work import flows

    referral = territories.referral()
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(flows, "referral_expire", broken)  # the service the expiry node calls
    with at(timezone.now() + 31 * DAY):
        assert fire_due() == 1  # the reminder fires; the expiry fails and is rolled back
        assert calls
        assert Referral.objects.get(pk=referral.pk).state == ReferralState.SENT
        assert timer_events(action="expire").count() == 0
        monkeypatch.undo()
        assert fire_due() == 1  # retried on the next sweep
    assert Referral.objects.get(pk=referral.pk).state == ReferralState.EXPIRED
    assert flows.expire_referral  # the node function is the one that calls the service


def test_follow_up_timers_match_the_planned_offsets():
    from parcours.models import FollowUp
    from parcours.work.flows import PlacementFlow, WorkTimer

    months = sorted(
        int(node.name.removeprefix("wait_")) for node in PlacementFlow.instance.nodes() if isinstance(node, WorkTimer)
    )
    assert tuple(months) == FollowUp.PLANNED_OFFSETS_MONTHS


def test_a_cancelled_contract_drops_its_follow_up_task(territories):
    from parcours.services.placements import placement_cancel

    placement = territories.hired()
    with at(timezone.now() + 35 * DAY):
        assert fire_due() == 1
        task = open_task(TaskKind.FOLLOW_UP, pathway=placement.pathway)
        placement_cancel(actor=territories.a.employer, placement=placement, reason="Contrat non signé")
    task = WorkTask.objects.select_related("task").get(pk=task.pk)
    assert task.task.status == STATUS.DONE and task.outcome == "placement.cancel"
    assert task.follow_up is None  # the planned follow-up was dropped by the service
    with at(timezone.now() + 200 * DAY):
        assert fire_due() == 2  # the +3 and +6 timers fire and skip: nothing planned any more
    assert not WorkTask.objects.filter(kind=TaskKind.FOLLOW_UP, task__status__in=["NEW", "ASSIGNED"]).exists()


_OFFERS = itertools.count(1)


def _second_offer(t):
    # Each its own: the same offer open twice on a lot is refused (register.offer_create).
    return make_offer(t, title=f"Coffreur·se {next(_OFFERS)}", trade="Coffrage", positions=2)


def test_an_expiry_after_a_newer_referral_leaves_no_rebound_to_do(territories):
    """The rebound task asks the adviser to refer again: a referral made after the expired one already answers it,
    whether it is still open or already declined. The task is settled by the expiry itself."""
    a = territories.a
    first = territories.referral()
    pathway = first.pathway
    still_open = referrals.referral_create(actor=a.adviser, pathway=pathway, offer=_second_offer(a))
    referrals.referral_expire(referral=first)  # the timer's service
    assert not WorkTask.objects.filter(kind=TaskKind.REFERRAL_EXPIRED, status__in=OPEN_TASK_STATUSES).exists()
    rebound = WorkTask.objects.get(kind=TaskKind.REFERRAL_EXPIRED, referral=first)
    assert rebound.outcome == "referral.expire" and rebound.done_by is None  # the system's expiry, not a person
    assert open_task(TaskKind.REVIEW_REFERRAL, referral=still_open)
    assert Pathway.objects.get(pk=pathway.pk).state == PathwayState.REFERRED

    # The newer one declined before the older expires: the pathway returns to eligible, no rebound either.
    pathway = territories.eligible()
    older = territories.referral(pathway=pathway)
    newer = referrals.referral_create(actor=a.adviser, pathway=pathway, offer=_second_offer(a))
    referrals.referral_decline(actor=a.facilitator, referral=newer, reason="Profil éloigné du poste.")
    referrals.referral_expire(referral=older)
    assert Pathway.objects.get(pk=pathway.pk).state == PathwayState.ELIGIBLE
    assert not WorkTask.objects.filter(kind=TaskKind.REFERRAL_EXPIRED, status__in=OPEN_TASK_STATUSES).exists()
    assert verify_chains().ok


def test_the_looping_worker_writes_its_lines_into_the_json_logs(settings, caplog):
    """Production logs are one JSON object per line: the worker wrote « Minuteurs : une passe… » as bare text."""
    from parcours.management.commands.run_timers import Command

    command = Command(stdout=StringIO())
    command.looping = True
    settings.LOG_FORMAT = "json"
    with caplog.at_level(logging.INFO, logger="parcours.worker"):
        command.say("Point de contrôle du journal : 12 événements.")
    assert [r.getMessage() for r in caplog.records] == ["Point de contrôle du journal : 12 événements."]
    assert command.stdout.getvalue() == ""
    settings.LOG_FORMAT = "text"  # a developer's terminal: the text as it is
    command.say("1 minuteur(s) déclenché(s).")
    assert command.stdout.getvalue() == "1 minuteur(s) déclenché(s).\n"

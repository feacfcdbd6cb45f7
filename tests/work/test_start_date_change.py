"""A contract's corrected start date moves its planned follow-ups and their timers (QA: the +1 month task was never
created, its timer found no follow-up at the recomputed date and took the « fait / clos » branch)."""

import datetime

import time_machine
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from parcours.dates import add_months
from parcours.models import FollowUp, Placement
from parcours.services.followups import followup_record
from parcours.services.placements import placement_change_start_date
from parcours.work.flows import PlacementFlow, start_of_day
from parcours.work.models import TaskKind, WorkTask
from parcours.work.timers import fire_due
from tests.work.conftest import open_task
from workflows.journal import verify_chains
from workflows.models import JournalEvent

DAY = datetime.timedelta(days=1)
SECOND = datetime.timedelta(seconds=1)


def at(moment):
    return time_machine.travel(moment, tick=False)


def planned(placement):
    return list(FollowUp.objects.filter(placement=placement).order_by("pk").values_list("due_on", "done_on"))


def timers(placement):
    return dict(
        Task.objects.filter(process__workprocess__referral_id=placement.referral_id, flow_task_type="TIMER")
        .exclude(status=STATUS.CANCELED)
        .values_list("flow_task", "scheduled")
    )


def test_a_new_start_date_moves_the_planned_follow_ups_not_the_recorded_one(territories):
    start = timezone.localdate() + 10 * DAY
    placement = territories.hired(start_date=start)
    first = FollowUp.objects.filter(placement=placement).order_by("pk").first()
    done_on = timezone.localdate()
    followup_record(
        actor=territories.a.adviser, pathway=placement.pathway, kind="phone", done_on=done_on, planned_follow_up=first
    )
    corrected = start + 20 * DAY

    placement_change_start_date(
        actor=territories.a.employer, placement=placement, start_date=corrected, reason="Report"
    )

    assert Placement.objects.get(pk=placement.pk).start_date == corrected
    assert planned(placement) == [
        (add_months(start, 1), done_on),  # recorded: it keeps the day it was planned for
        (add_months(corrected, 3), None),
        (add_months(corrected, 6), None),
    ]
    # One event, as before: the new date, the former one, the reason; nothing journaled for the follow-ups.
    (event,) = JournalEvent.objects.filter(object_type="placement", object_id=placement.pk, action="change_start_date")
    assert event.inputs["start_date"] == corrected.isoformat()
    assert event.inputs["previous"] == start.isoformat()
    assert event.reason == "Report"
    assert not JournalEvent.objects.filter(pk__gt=event.pk).exists()
    # The timers still armed follow the new dates.
    armed = timers(placement)
    assert armed[PlacementFlow.wait_3] == start_of_day(add_months(corrected, 3))
    assert armed[PlacementFlow.wait_6] == start_of_day(add_months(corrected, 6))
    assert verify_chains().ok


def test_the_follow_up_task_opens_at_the_new_date_not_the_old_one(territories):
    start = timezone.localdate() + 10 * DAY
    placement = territories.hired(start_date=start)
    corrected = start + 25 * DAY
    placement_change_start_date(actor=territories.a.employer, placement=placement, start_date=corrected)

    old_day, new_day = start_of_day(add_months(start, 1)), start_of_day(add_months(corrected, 1))
    with at(old_day):
        assert fire_due() == 0
    assert not WorkTask.objects.filter(kind=TaskKind.FOLLOW_UP).exists()
    with at(new_day - SECOND):
        assert fire_due() == 0
    with at(new_day):
        assert fire_due() == 1
    task = open_task(TaskKind.FOLLOW_UP, pathway=placement.pathway)
    assert task.follow_up.due_on == add_months(corrected, 1)
    assert task.owner_id == placement.pathway.referent_adviser_id  # in the referent adviser's inbox
    assert task.due_at == new_day + 8 * DAY
    event = JournalEvent.objects.filter(object_type="timer", action="follow_up_due").get()
    assert event.inputs["node"] == "wait_1"


def test_an_earlier_start_date_brings_the_follow_up_task_forward(territories):
    start = timezone.localdate() + 40 * DAY
    placement = territories.hired(start_date=start)
    corrected = start - 30 * DAY
    placement_change_start_date(actor=territories.a.employer, placement=placement, start_date=corrected)

    with at(start_of_day(add_months(corrected, 1))):
        assert fire_due() == 1
    task = open_task(TaskKind.FOLLOW_UP, pathway=placement.pathway)
    assert task.follow_up.due_on == add_months(corrected, 1)
    with at(start_of_day(add_months(start, 1))):
        assert fire_due() == 0  # not a second time at the former date


def test_a_timer_read_due_before_its_date_moved_waits_for_the_new_one(territories):
    """A sweep reads the due timers, then fires each under its process lock: one re-dated in between (by a start date
    corrected meanwhile) waits for its new moment."""
    start = timezone.localdate() + 10 * DAY
    placement = territories.hired(start_date=start)
    timer = Task.objects.get(process__workprocess__referral_id=placement.referral_id, flow_task=PlacementFlow.wait_1)
    later = start_of_day(add_months(start, 2))
    Task.objects.filter(pk=timer.pk).update(scheduled=later)  # what the sweep's read did not see
    with at(start_of_day(add_months(start, 1))):
        with timer.activation() as activation:  # as viewflow's fire_due_timers does with the row it read
            assert not activation.start.can_proceed()
    with at(later):
        assert fire_due() == 1
    assert open_task(TaskKind.FOLLOW_UP, pathway=placement.pathway)

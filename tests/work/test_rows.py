"""The rows the work layer writes, pinned scenario by scenario: every viewflow task (node, type, status, token, owner,
which moments are set, its previous tasks), every process's status and every WorkTask (kind, routing, owner,
outcome, who did it). The work layer's driver writes these rows with set-based statements; these pinned rows are the
ones viewflow's own per-node runtime wrote, so the driver stays a faithful, cheaper way of running the same flows
(the timer worker, the task pages and the Circuits page still read them through viewflow's models).

After an intentional change of the flows, regenerate with `WORK_ROWS_WRITE=1 pytest tests/work/test_rows.py`.
"""

import datetime
import json
import os
import re
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone
from viewflow.workflow.models import Task

from parcours.services import pathways, placements, referrals
from parcours.services.followups import followup_record
from parcours.work.models import TaskKind, WorkProcess, WorkTask
from parcours.work.timers import fire_due
from tests.work.conftest import open_task
from workflows.vocabulary import ExitSituation

GOLDEN = Path(__file__).with_name("rows.json")
DAY = datetime.timedelta(days=1)


def _plain(text):
    return re.sub(r"\d+", "", text) if text else text


def _token(token):
    return re.sub(r"/\d+_", "/S_", str(token))


def dump(pathway):
    """The work rows of one pathway, without ids or moments (only whether each moment is set)."""
    processes = []
    for process in WorkProcess.objects.filter(pathway=pathway).order_by("pk"):
        tasks = Task.objects.filter(process=process).select_related("owner").prefetch_related("previous")
        rows = sorted(
            (
                task.flow_task.name,
                task.flow_task_type,
                task.status,
                _token(task.token),
                _plain(task.owner.username) if task.owner else None,
                "".join(
                    flag if value is not None else "-"
                    for flag, value in zip(
                        "casf", (task.assigned, task.started, task.finished, task.scheduled), strict=True
                    )
                ),
                sorted(f"{p.flow_task.name}:{p.status}" for p in task.previous.all()),
            )
            for task in tasks
        )
        work = sorted(
            (
                w.kind,
                w.role,
                _plain(w.organisation.name),
                w.status,
                _plain(w.owner.username) if w.owner else None,
                w.outcome,
                _plain(w.done_by.username) if w.done_by else None,
                w.due_at is not None,
                w.follow_up_id is not None,
                w.closing_event_id is not None,
            )
            for w in WorkTask.objects.filter(task__process=process).select_related("organisation", "owner", "done_by")
        )
        processes.append(
            {
                "flow": process.flow_class.__name__,
                "status": process.status,
                "finished": process.finished is not None,
                "tasks": [list(row) for row in rows],
                "work": [list(row) for row in work],
            }
        )
    return json.loads(json.dumps(processes, default=str))


def at(moment):
    return time_machine.travel(moment, tick=False)


def lifecycle(world):
    """Intake to exit: hire, the +1 follow-up recorded before its timer, the +3 and +6 ones from their tasks."""
    a = world.a
    placement = world.hired(start_date=timezone.localdate() + 10 * DAY)
    pathway = placement.pathway
    with at(timezone.now() + 10 * DAY):
        placements.placement_start(actor=a.employer, placement=placement)
    planned = list(placement.follow_ups.order_by("due_on"))
    followup_record(
        actor=a.adviser, pathway=pathway, kind="phone", done_on=timezone.localdate(), planned_follow_up=planned[0]
    )
    for follow_up in planned:
        with at(timezone.make_aware(datetime.datetime.combine(follow_up.due_on, datetime.time(9)))):
            fire_due()
            if follow_up is not planned[0]:
                followup_record(
                    actor=a.adviser,
                    pathway=pathway,
                    kind="phone",
                    done_on=follow_up.due_on,
                    planned_follow_up=follow_up,
                )
    with at(timezone.make_aware(datetime.datetime.combine(planned[-1].due_on, datetime.time(10)))):
        pathways.pathway_exit(
            actor=a.adviser, pathway=pathway, exited_on=timezone.localdate(), situation=ExitSituation.CDI
        )
    return pathway


def declined(world):
    a = world.a
    referral = world.referral()
    referrals.referral_start_review(actor=a.facilitator, referral=referral)
    referrals.referral_decline(actor=a.facilitator, referral=referral, reason="Profil")
    return referral.pathway


def refused_after_accept(world):
    a = world.a
    referral = world.forwarded()
    referrals.referral_accept(actor=a.employer, referral=referral)
    referrals.referral_refuse(actor=a.employer, referral=referral, reason="Poste pourvu")
    return referral.pathway


def expired_then_referred_again(world):
    """The employer never answers: reminder, expiry, the rebound task, then a new referral closes it."""
    a = world.a
    referral = world.forwarded()
    with at(timezone.now() + 31 * DAY):
        fire_due()
    referrals.referral_create(actor=a.adviser, pathway=referral.pathway, offer=a.offer)
    return referral.pathway


def withdrawn_in_intake(world):
    pathway = world.register()
    pathways.pathway_withdraw(actor=world.a.adviser, pathway=pathway, reason="Déménagement")
    return pathway


def rejected(world):
    a = world.a
    pathway = world.register()
    pathways.pathway_submit_eligibility(actor=a.adviser, pathway=pathway, criteria=[], derogation_reason="Test")
    pathways.pathway_reject_eligibility(actor=a.facilitator, pathway=pathway, reason="Hors critères")
    return pathway


def hired_then_lost(world):
    """The contract is cancelled, then the young person is lost from view: the follow-up timers skip their tasks."""
    a = world.a
    placement = world.hired()
    placements.placement_cancel(actor=a.employer, placement=placement, reason="Rupture")
    pathways.pathway_mark_lost_contact(actor=a.adviser, pathway=placement.pathway, reason="Injoignable")
    with at(timezone.now() + 200 * DAY):
        fire_due()
    return placement.pathway


def filed_rebound(world):
    """An expired referral's rebound task, filed by the adviser."""
    from parcours.services.tasks import task_file

    a = world.a
    referral = world.referral()
    with at(timezone.now() + 31 * DAY):
        fire_due()
        task_file(actor=a.adviser, task=open_task(TaskKind.REFERRAL_EXPIRED, pathway=referral.pathway), reason="")
    return referral.pathway


def follow_ups_in_order(world):
    """Each follow-up task opened by its timer, then recorded: the first recorded starts the join."""
    a = world.a
    placement = world.hired()
    pathway = placement.pathway
    for follow_up in placement.follow_ups.order_by("due_on"):
        with at(timezone.make_aware(datetime.datetime.combine(follow_up.due_on, datetime.time(9)))):
            fire_due()
            followup_record(
                actor=a.adviser, pathway=pathway, kind="phone", done_on=follow_up.due_on, planned_follow_up=follow_up
            )
    pathways.pathway_mark_lost_contact(actor=a.adviser, pathway=pathway, reason="Injoignable")
    return pathway


def follow_ups_closed_together(world):
    """The three follow-up tasks open at once, all closed by one change (the pathway lost from view)."""
    a = world.a
    placement = world.hired()
    with at(timezone.now() + 200 * DAY):
        fire_due()
        pathways.pathway_mark_lost_contact(actor=a.adviser, pathway=placement.pathway, reason="Injoignable")
    return placement.pathway


SCENARIOS = {
    f.__name__: f
    for f in (
        lifecycle,
        declined,
        refused_after_accept,
        expired_then_referred_again,
        withdrawn_in_intake,
        rejected,
        hired_then_lost,
        filed_rebound,
        follow_ups_in_order,
        follow_ups_closed_together,
    )
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_work_rows_of_each_scenario_are_the_pinned_ones(territories, name):
    rows = dump(SCENARIOS[name](territories))
    golden = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if os.environ.get("WORK_ROWS_WRITE"):
        golden[name] = rows
        GOLDEN.write_text(json.dumps(golden, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    assert rows == golden[name]


def test_a_contract_step_not_handed_over_by_the_settle_is_found_and_gives_the_same_rows(territories, monkeypatch):
    """A hire's settle hands the contract step it opened to the placement's creation (`driver._opened_handle`, on the
    referral row both hold); without it the step is found by a query, its process locked again: the same rows."""
    from parcours.work import driver

    taken = []
    monkeypatch.setattr(driver, "_opened_handle", lambda placement, node: taken.append(node))
    rows = dump(lifecycle(territories))
    assert taken  # the hire asked
    assert rows == json.loads(GOLDEN.read_text())["lifecycle"]

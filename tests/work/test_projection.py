"""The work task's copy of viewflow's status and owner (parcours/work/projection.py) follows every change, whatever
code path makes it: services, viewflow activations, or a direct write to viewflow's table."""

import pytest
from django.db import connection
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from parcours.selectors import tasks as selectors
from parcours.services import referrals
from parcours.services import tasks as services
from parcours.work.models import TaskKind, WorkTask
from tests.work.conftest import open_task


def drift():
    """Work tasks whose copy differs from viewflow's row."""
    return [
        (w.pk, w.status, w.owner_id, w.task.status, w.task.owner_id)
        for w in WorkTask.objects.select_related("task")
        if (w.status, w.owner_id) != (w.task.status, w.task.owner_id)
    ]


def copy(work_task):
    return WorkTask.objects.filter(pk=work_task.pk).values_list("status", "owner_id").get()


def test_the_copy_follows_claim_assignment_and_completion(territories):
    a = territories.a
    referral = territories.referral()
    task = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    assert copy(task) == (STATUS.NEW, None)
    assert task in selectors.queue(a.facilitator)

    services.task_claim(actor=a.facilitator, task=task)
    assert copy(task) == (STATUS.ASSIGNED, a.facilitator.user.pk)
    assert task not in selectors.queue(a.facilitator)
    assert task in selectors.inbox(a.facilitator) and task not in selectors.inbox(a.facilitator2)

    services.task_reassign(actor=a.facilitator, task=task, user=a.facilitator2.user)
    assert copy(task) == (STATUS.ASSIGNED, a.facilitator2.user.pk)
    assert task in selectors.inbox(a.facilitator2) and task not in selectors.inbox(a.facilitator)

    services.task_unassign(actor=a.facilitator2, task=task)
    assert copy(task) == (STATUS.NEW, None)

    for step in ("start_review", "approve", "forward"):
        getattr(referrals, f"referral_{step}")(actor=a.facilitator, referral=referral)
    assert copy(task) == (STATUS.DONE, a.facilitator.user.pk)  # viewflow records who completed it
    assert task not in selectors.team(a.facilitator)
    # the flow moved on: the employer's task is open, and every copy matches viewflow
    assert open_task(TaskKind.ANSWER_REFERRAL, referral=referral).status == STATUS.NEW
    assert drift() == []


def test_a_direct_write_to_viewflow_is_copied_too(territories):
    a = territories.a
    task = open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral())
    Task.objects.filter(pk=task.pk).update(status=STATUS.CANCELED)
    assert copy(task)[0] == STATUS.CANCELED
    assert task not in selectors.team(a.facilitator)
    Task.objects.filter(pk=task.pk).update(status=STATUS.ASSIGNED, owner=a.facilitator.user)
    assert copy(task) == (STATUS.ASSIGNED, a.facilitator.user.pk)
    assert task in selectors.inbox(a.facilitator)
    assert drift() == []


def test_a_cancelled_referral_closes_its_tasks_in_the_copy(territories):
    a = territories.a
    referral = territories.referral()
    task = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    referrals.referral_cancel(actor=a.adviser, referral=referral, reason="Le jeune a trouvé un autre emploi.")
    assert copy(task)[0] not in (STATUS.NEW, STATUS.ASSIGNED)
    assert task not in selectors.team(a.facilitator)
    assert drift() == []


def _work_task_versions_written():
    """Row versions this transaction has written to the work tasks' table so far (PostgreSQL's own count)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_get_xact_tuples_updated('workflows_worktask'::regclass)")
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_a_close_writes_its_work_task_once_the_trigger_finding_it_in_step(territories):
    """A task's close writes the copy with the rest of its work task's row (parcours/work/driver.py): the trigger
    finds the row in step and writes no second version of it, with its index entries."""
    a = territories.a
    referral = territories.referral()
    for step in ("start_review", "approve"):
        getattr(referrals, f"referral_{step}")(actor=a.facilitator, referral=referral)
    task = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    before = _work_task_versions_written()
    referrals.referral_forward(actor=a.facilitator, referral=referral)
    assert _work_task_versions_written() - before == 1  # the closed review task's row, once
    assert copy(task) == (STATUS.DONE, a.facilitator.user.pk)
    assert WorkTask.objects.get(pk=task.pk).done_by_id == a.facilitator.user.pk
    assert drift() == []


@pytest.mark.postgres
def test_a_close_by_no_one_writes_its_work_task_once_too(territories):
    """The adviser cancels a referral under review: the facilitators' review task is closed, credited to no one (the
    adviser does not hold its role); its owner stays as it was, in both rows."""
    a = territories.a
    referral = territories.referral()
    task = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    before = _work_task_versions_written()
    referrals.referral_cancel(actor=a.adviser, referral=referral, reason="Le jeune a trouvé un autre emploi.")
    assert _work_task_versions_written() - before == 1
    assert copy(task) == (STATUS.DONE, None)
    assert WorkTask.objects.get(pk=task.pk).done_by_id is None
    assert drift() == []


@pytest.mark.postgres
def test_the_trigger_still_copies_a_change_the_row_does_not_carry(territories):
    """Claiming (viewflow's activation) writes only viewflow's row: the trigger writes the copy."""
    a = territories.a
    task = open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral())
    before = _work_task_versions_written()
    services.task_claim(actor=a.facilitator, task=task)
    assert _work_task_versions_written() - before == 1
    assert copy(task) == (STATUS.ASSIGNED, a.facilitator.user.pk)

"""The work task's copy of viewflow's status and owner (parcours/work/projection.py) follows every change, whatever
code path makes it: services, viewflow activations, or a direct write to viewflow's table."""

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

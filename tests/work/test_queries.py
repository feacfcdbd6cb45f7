"""Inbox, queue and archive pages cost a fixed number of queries, whether there are 10 or 1,000 tasks."""

import datetime
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from parcours.work.flows import PlacementFlow
from parcours.work.models import TaskKind, WorkProcess, WorkTask

KINDS = [TaskKind.REVIEW_REFERRAL, TaskKind.REVIEW_ELIGIBILITY]
PAGE_QUERIES = {  # for a supervisor (docs/work-layer.md); the supervisors' permission is one query (was two)
    "/travail/": 8,
    "/travail/a-prendre/": 9,
    "/travail/en-retard/": 9,
    "/travail/terminees/": 9,
    "/travail/equipe/": 10,
}
PAGES = ["/travail/", "/travail/a-prendre/", "/travail/en-retard/", "/travail/terminees/", "/travail/equipe/"]


def grow(territories, user, total):
    """Bring the facilitator's organisation to `total` extra tasks: a third queued, a third mine, a third done."""
    seed = WorkTask.objects.select_related("task").filter(kind=TaskKind.REVIEW_REFERRAL).order_by("pk").first()
    process = WorkProcess.objects.get(pk=seed.task.process_id)
    existing = WorkTask.objects.count() - 1
    now = timezone.now()
    states = itertools.cycle([(STATUS.NEW, None), (STATUS.ASSIGNED, user), (STATUS.DONE, user)])
    tasks = []
    for _ in range(total - existing):
        status, owner = next(states)
        tasks.append(
            Task(
                process_id=process.pk,
                flow_task=PlacementFlow.review,
                flow_task_type="HUMAN",
                status=status,
                owner=owner,
                finished=now if status == STATUS.DONE else None,
            )
        )
    Task.objects.bulk_create(tasks)
    WorkTask.objects.bulk_create(
        WorkTask(
            task=task,
            status=task.status,
            owner=task.owner,
            kind=KINDS[n % 2],
            organisation=territories.a.facilitation,
            role="facilitator",
            pathway_id=seed.pathway_id,
            referral_id=seed.referral_id,
            due_at=now + datetime.timedelta(days=(n % 20) - 10),  # half of them overdue
            done_by=user if task.status == STATUS.DONE else None,
            outcome="referral.forward" if task.status == STATUS.DONE else "",
        )
        for n, task in enumerate(tasks)
    )


def count_queries(client, path):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


@pytest.mark.parametrize("path", PAGES)
def test_query_count_is_constant_from_10_to_1000_tasks(territories, client, path, django_user_model):
    from django.contrib.auth.models import Permission

    territories.referral()
    facilitator = territories.a.facilitator
    facilitator.user.user_permissions.add(Permission.objects.get(codename="supervise_worktask"))
    client.force_login(facilitator.user)

    client.get(path)  # the first request stores the current organisation in the session
    grow(territories, facilitator.user, 10)
    small, response = count_queries(client, path)
    assert response.content.decode().count("/travail/taches/") >= 3

    grow(territories, facilitator.user, 1000)
    assert WorkTask.objects.count() >= 1000
    large, response = count_queries(client, path)
    assert large == small, f"{path}: {small} queries with 10 tasks, {large} with 1,000"
    assert large == PAGE_QUERIES[path]
    if path in ("/travail/", "/travail/a-prendre/", "/travail/en-retard/"):
        page = response.content.decode()
        assert "En retard" in page  # overdue first
        assert "Page 1 sur" in page


def test_overdue_tasks_come_first(territories):
    from parcours.selectors import tasks as selectors

    territories.referral()
    facilitator = territories.a.facilitator
    grow(territories, facilitator.user, 40)
    rows = list(selectors.queue(facilitator))
    now = timezone.now()
    flags = [row.due_at is not None and row.due_at < now for row in rows]
    assert flags == sorted(flags, reverse=True) and flags[0] and not flags[-1]
    overdue = [row.due_at for row in rows if row.due_at and row.due_at < now]
    assert overdue == sorted(overdue)


@pytest.mark.parametrize("path", PAGES)
def test_the_pager_counts_from_the_counts_by_kind_and_no_statement_runs_twice(territories, client, path):
    """The tab's counts by kind are its list's: their sum is the pager's total, with no COUNT of its own, and the
    queue's counts are not asked twice (the tab's and the menu's)."""
    import math

    from django.contrib.auth.models import Permission

    from parcours.selectors import tasks as selectors
    from parcours.web.work import PAGE_SIZE

    territories.referral()
    facilitator = territories.a.facilitator
    facilitator.user.user_permissions.add(Permission.objects.get(codename="supervise_worktask"))
    client.force_login(facilitator.user)
    client.get(path)
    grow(territories, facilitator.user, 3 * PAGE_SIZE + 30)
    listed = {
        "/travail/": selectors.inbox,
        "/travail/a-prendre/": selectors.queue,
        "/travail/en-retard/": selectors.late,
        "/travail/terminees/": selectors.archive,
        "/travail/equipe/": selectors.team,
    }[path](facilitator)
    total = listed.count()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    statements = [query["sql"] for query in ctx.captured_queries]
    assert len(statements) == len(set(statements)), [sql for sql in statements if statements.count(sql) > 1]
    assert not any(sql.startswith('SELECT COUNT(*) AS "__count" FROM "workflows_worktask"') for sql in statements)
    assert total > PAGE_SIZE and f"Page 1 sur {math.ceil(total / PAGE_SIZE)}" in response.content.decode()

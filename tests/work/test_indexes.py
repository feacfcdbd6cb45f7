"""The work tables keep the indexes something reads (migration 0030): each index is written at every task row written.
What reads a task by something else than its id, its process or its owner (the timer sweep) has an index of its own."""

import importlib

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from parcours.work.models import TaskKind
from parcours.work.timers import fire_due
from tests.work.conftest import finished_tasks_analysed, open_task

migration = importlib.import_module("parcours.migrations.0030_work_tables_fewer_indexes")

KEPT = {"viewflow_task_process_id_619bc849", "viewflow_task_due_timer_idx", "viewflow_task_owned_idx"}


def _indexes(table):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {name for name, c in constraints.items() if c["index"] and not c["primary_key"]}


def test_the_task_table_keeps_three_indexes_besides_its_key(db):
    assert _indexes("viewflow_task") == KEPT
    assert "viewflow_task_previous_from_task_id_da5536f6" not in _indexes("viewflow_task_previous")
    # the unique (from, to) pair answers a lookup by its first column
    with connection.cursor() as cursor:
        links = connection.introspection.get_constraints(cursor, "viewflow_task_previous").values()
    assert any(c["unique"] and c["columns"] == ["from_task_id", "to_task_id"] for c in links)
    work = _indexes("workflows_worktask")
    assert "worktask_archive_idx" in work and "workflows_worktask_done_by_id_06b29fb1" not in work
    assert "workflows_worktask_owner_id_db769cf0" not in work and "worktask_owned_open_idx" in work


def test_the_migration_puts_the_indexes_back_when_reversed(transactional_db):
    with connection.schema_editor() as editor:
        migration.backward(None, editor)
        migration.drop_added_indexes(None, editor)
    restored = _indexes("viewflow_task")
    try:
        assert {index for table, index, _, pg in migration.DROPPED if table == "viewflow_task"} - restored == (
            set() if connection.vendor == "postgresql" else {i for t, i, _, pg in migration.DROPPED if pg}
        )
        assert "viewflow_task_due_timer_idx" not in restored
    finally:
        with connection.schema_editor() as editor:
            migration.add_indexes(None, editor)
            migration.forward(None, editor)
    assert _indexes("viewflow_task") == KEPT


def test_the_migration_drops_an_index_on_a_dropped_column_whatever_its_name(transactional_db):
    """A database whose index on the status was named otherwise (made by hand, or by another version) loses it too."""
    with connection.schema_editor() as editor:
        editor.execute("CREATE INDEX task_status_by_hand ON viewflow_task (status)")
        migration.forward(None, editor)
    assert _indexes("viewflow_task") == KEPT


@pytest.mark.postgres
def test_the_timer_sweep_reads_the_due_timers_index(territories):
    """viewflow's sweep (fire_due_timers, the statement it sends): scheduled timers due now, oldest first, read
    through their partial index among thousands of finished tasks, not by a scan of the table."""
    review = open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral())
    finished_tasks_analysed(review.task.process_id)
    with CaptureQueriesContext(connection) as sweep:
        fire_due()  # nothing is due: its one statement reads no row
    [statement] = [q["sql"] for q in sweep.captured_queries if "viewflow_task" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {statement}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "viewflow_task_due_timer_idx" in plan, plan


def test_the_task_admin_lists_by_id_and_changes_nothing(territories, client):
    """viewflow's own admin of its tasks sorted the whole table by creation date and could change tasks outside every
    service: Parcours's lists them newest first by id, read-only."""
    review = open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral())
    client.force_login(get_user_model().objects.create_superuser("admin.taches", "admin@example.org", "x" * 16))
    with CaptureQueriesContext(connection) as listing:
        response = client.get("/admin/viewflow/task/")
    assert response.status_code == 200
    assert review.pk in {task.pk for task in response.context["cl"].result_list}
    [rows] = [q["sql"] for q in listing.captured_queries if q["sql"].startswith('SELECT "viewflow_task"."id"')]
    assert 'ORDER BY "viewflow_task"."id" DESC' in rows and '"created" DESC' not in rows
    with CaptureQueriesContext(connection) as search:
        found = client.get("/admin/viewflow/task/", {"q": str(review.task.process_id)})
    assert review.pk in {task.pk for task in found.context["cl"].result_list}
    [rows] = [q["sql"] for q in search.captured_queries if q["sql"].startswith('SELECT "viewflow_task"."id"')]
    assert "UPPER" not in rows and f'"viewflow_task"."process_id" = {review.task.process_id}' in rows  # an index's
    for nothing in ("abc", "1e3", str(2**63), "-1"):
        assert list(client.get("/admin/viewflow/task/", {"q": nothing}).context["cl"].result_list) == []
    # the columns are not sortable: a sort asked for by the address is not applied
    with CaptureQueriesContext(connection) as by_status:
        assert client.get("/admin/viewflow/task/", {"o": "3"}).status_code == 200
    [rows] = [q["sql"] for q in by_status.captured_queries if q["sql"].startswith('SELECT "viewflow_task"."id"')]
    assert rows.split("ORDER BY")[1].strip().startswith('"viewflow_task"."id" DESC')
    page = client.get(f"/admin/viewflow/task/{review.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content  # shown, not editable
    assert client.post(f"/admin/viewflow/task/{review.pk}/change/", {"data": "{}"}).status_code == 403


def test_the_process_admin_lists_by_id_and_changes_nothing(territories, client):
    review = open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral())
    client.force_login(get_user_model().objects.create_superuser("admin.processus", "admin@example.org", "x" * 16))
    with CaptureQueriesContext(connection) as listing:
        response = client.get("/admin/viewflow/process/", {"q": str(review.task.process_id)})
    assert [process.pk for process in response.context["cl"].result_list] == [review.task.process_id]
    [rows] = [q["sql"] for q in listing.captured_queries if q["sql"].startswith('SELECT "viewflow_process"."id"')]
    assert 'ORDER BY "viewflow_process"."id" DESC' in rows and '"created" DESC' not in rows
    page = f"/admin/viewflow/process/{review.task.process_id}/"
    assert client.post(page + "change/", {"status": "DONE"}).status_code == 403
    assert client.post(page + "delete/", {"post": "yes"}).status_code == 403

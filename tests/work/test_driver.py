"""The work layer's driver (parcours/work/driver.py): which chains it runs, its compare-and-set on a task settled
meanwhile, and the statements a transition spends on the work layer (pinned: the bookkeeping must not creep back)."""

import datetime
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from parcours.services import referrals
from parcours.work import driver, flows
from parcours.work.flows import HumanTask, IntakeFlow, PlacementFlow
from parcours.work.models import ARMED_TIMER_STATUSES, TaskKind, WorkTask
from parcours.work.timers import fire_due
from roles.models import Membership
from tests.factories import UserFactory
from tests.work.conftest import finished_tasks_analysed, open_task
from workflows.models import JournalEvent
from workflows.vocabulary import ContractType

WORK_TABLES = ("viewflow_", "workflows_work")


def human_tasks(flow):
    return {node.name: node for node in flow.instance.nodes() if isinstance(node, HumanTask)}


def test_the_driver_runs_every_human_task_of_the_flows():
    nodes = [*human_tasks(IntakeFlow).values(), *human_tasks(PlacementFlow).values()]
    assert len(nodes) == 10 and all(driver.supports(node) for node in nodes)


def test_a_task_settled_meanwhile_is_left_alone(territories):
    """The driver closes a task with `UPDATE … WHERE status IN (open)`: one settled by someone else between the read
    and the lock (filed, or by a timer) is neither closed again nor followed by a second next step."""
    referral = territories.referral()
    review = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    Task.objects.filter(pk=review.pk).update(status=STATUS.CANCELED)
    timers = Task.objects.filter(previous=review.pk, status__in=ARMED_TIMER_STATUSES)
    armed = set(timers.values_list("pk", flat=True))
    assert armed, "the review has its timers armed"
    tasks = Task.objects.count()
    closed = driver.settle([review], actor=territories.a.facilitator, event=None, outcome="test")
    assert closed == 0
    assert Task.objects.count() == tasks
    assert WorkTask.objects.filter(pk=review.pk, outcome="", done_by=None).exists()
    assert set(timers.values_list("pk", flat=True)) == armed  # its timers are not cancelled either


def test_a_settled_task_records_who_closed_it_and_cancels_its_timers(territories):
    referral = territories.referral()
    review = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    timers = list(
        Task.objects.filter(previous=review.pk, status__in=ARMED_TIMER_STATUSES).values_list("pk", flat=True)
    )
    assert timers
    facilitator = territories.a.facilitator
    closed = driver.settle([review], actor=facilitator, event=None, outcome="referral.test")
    assert closed == 1
    task = Task.objects.get(pk=review.pk)
    assert (task.status, task.owner_id) == (STATUS.DONE, facilitator.user.pk)
    assert task.finished is not None and task.started is not None and task.assigned is not None
    assert WorkTask.objects.filter(
        pk=review.pk, outcome="referral.test", done_by=facilitator.user, status=STATUS.DONE
    ).exists()
    assert set(Task.objects.filter(pk__in=timers).values_list("status", flat=True)) == {STATUS.CANCELED}


@pytest.mark.postgres
def test_the_generic_plan_of_a_close_reaches_the_timers_through_their_ids(territories):
    """The prepared close keeps one generic plan per connection: it must find a task's timers through its links and
    the primary key, never by reading the armed timers of every process (what a join on viewflow's status index,
    dropped by migration 0030, did once the statistics said few were armed)."""
    referral = territories.referral()
    review = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    boundaries = tuple(review.task.flow_task._boundary_events)
    now = timezone.now()
    values = driver._close_values(review, 1, now, "test", None, boundaries)
    # Statistics that say few timers are armed: thousands of done tasks, analysed.
    finished_tasks_analysed(review.task.process_id)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        parts = driver._close_statement(True, boundaries).split("%s")
        numbered = "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], start=1)) + parts[-1]
        cursor.execute(f"PREPARE close_plan AS {numbered}")
        try:
            cursor.execute("EXPLAIN EXECUTE close_plan(" + ", ".join(["%s"] * len(values)) + ")", values)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE close_plan")
    timers = plan[plan.index("CTE timers") :].splitlines()
    assert any("Index Cond: (id = ANY" in line for line in timers), plan
    driven = [line for line in timers if "Index Cond" in line or "Recheck Cond" in line or "Index Scan using" in line]
    assert not any("status" in line for line in driven), plan  # no scan driven by the status or its index


def _text(sql):
    """A statement's SQL; for a prepared one (roles.statements.prepared, PostgreSQL), the text it was prepared with —
    each one's, in a text of several sent in one round trip (`EXECUTE a(…); EXECUTE b(…)`)."""
    if "EXECUTE parcours_" not in sql:
        return sql
    texts = []
    with connection.cursor() as cursor:
        for piece in sql.split("; "):
            name = re.match(r"EXECUTE (parcours_[0-9a-f]+)", piece)
            if name:
                cursor.execute("SELECT statement FROM pg_prepared_statements WHERE name = %s", [name[1]])
                piece = cursor.fetchone()[0]
            texts.append(piece)
    return "; ".join(texts)


def work_statements(call):
    with CaptureQueriesContext(connection) as captured:
        call()
    statements = [_text(q["sql"]) for q in captured.captured_queries]
    return [sql for sql in statements if any(table in sql for table in WORK_TABLES)]


# Closing a task, its WorkTask row and its timers: one statement on PostgreSQL (driver._close), three elsewhere.
CLOSE = 1 if connection.vendor == "postgresql" else 3
# The tasks opened, their links and their WorkTask rows: one statement on PostgreSQL (Plan.write), three elsewhere.
PLAN_WRITE = 1 if connection.vendor == "postgresql" else 3
# Tasks opened with their links, no WorkTask row (a handle, timers): one statement on PostgreSQL, two elsewhere.
TASKS_AND_LINKS = 1 if connection.vendor == "postgresql" else 2
# A task read open once its process was locked is closed by the statement of the plan's rows on PostgreSQL.
CLOSED_WITH = 1 if connection.vendor == "postgresql" else 0
# A hire's contract step closed and the split inserted: one statement on PostgreSQL, two elsewhere.
CLOSE_WITH_SPLIT = 1 if connection.vendor == "postgresql" else 2
# The open tasks of the pathway and the lock of their processes: one text on PostgreSQL, sent in one round trip
# (flows.open_tasks_of_pathway) behind the transition's event (its write, not counted here: no work table);
# elsewhere the read, then the lock of the processes of the tasks settled.
READ_AND_LOCK = 1 if connection.vendor == "postgresql" else 2
# Once nothing closes: the read alone where nothing is locked with it.
READ_ONLY = 1


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        # open tasks with their processes' lock (READ_AND_LOCK), close the task with its WorkTask and its two timers
        # (CLOSE), insert the switch + the employer's task + its two timers, their links and the WorkTask
        # (PLAN_WRITE); on PostgreSQL the close goes with them (its process locked with the read): CLOSED_WITH
        ("forward", READ_AND_LOCK + CLOSE + PLAN_WRITE - CLOSED_WITH),
        # open tasks and lock (READ_AND_LOCK), close the confirmation with its WorkTask and timers (CLOSE), insert the
        # switch + the contract handle with their links (TASKS_AND_LINKS); then the handle (known from the settle,
        # its process locked by it): close it with the split's insert (CLOSE_WITH_SPLIT), then the three follow-up
        # timers with their links (TASKS_AND_LINKS); the pathway's move re-reads its open tasks, with their
        # processes' lock on PostgreSQL (none closes: READ_ONLY); on PostgreSQL the confirmation's close goes with
        # the handle's insert (CLOSED_WITH)
        (
            "hire",
            READ_AND_LOCK + CLOSE + TASKS_AND_LINKS - CLOSED_WITH + CLOSE_WITH_SPLIT + TASKS_AND_LINKS + READ_ONLY,
        ),
        # nothing closes: the facilitator's review waits on, and its condition tells `sent` and `under_review`
        # alike (flows.may_settle): no task is read
        ("start_review", 0),
    ],
)
def test_the_work_layer_statements_of_a_transition_are_pinned(territories, step, expected):
    a = territories.a
    if step == "start_review":
        referral = territories.referral()
        statements = work_statements(lambda: referrals.referral_start_review(actor=a.facilitator, referral=referral))
    elif step == "forward":
        referral = territories.referral()
        referrals.referral_start_review(actor=a.facilitator, referral=referral)
        referrals.referral_approve(actor=a.facilitator, referral=referral)
        statements = work_statements(lambda: referrals.referral_forward(actor=a.facilitator, referral=referral))
    else:
        referral = territories.forwarded()
        referrals.referral_accept(actor=a.employer, referral=referral)
        statements = work_statements(
            lambda: referrals.referral_hire(
                actor=a.employer,
                referral=referral,
                contract_type=ContractType.CDD,
                start_date=timezone.localdate(),
                weekly_hours=35,
            )
        )
    assert len(statements) == expected, "\n".join(s[:160] for s in statements)


@pytest.mark.parametrize(
    ("machine", "from_state", "to_state", "expected"),
    [
        ("referral", "sent", "under_review", False),  # the review waits in both
        ("referral", "under_review", "approved", False),
        ("referral", "approved", "forwarded", True),  # the review ends, the employer's answer opens
        ("referral", "forwarded", "accepted", True),
        ("referral", "sent", "cancelled", True),
        ("pathway", "eligible", "referred", False),  # open both: a rebound waits on
        ("pathway", "referred", "placed", True),  # the exit to record opens
        ("pathway", "placed", "in_follow_up", False),
        ("pathway", "in_follow_up", "exited", True),
        ("placement", "planned", "active", False),
        ("placement", "active", "ended", False),  # the follow-ups go on after the contract
        ("placement", "planned", "cancelled", True),  # the follow-ups of a cancelled contract end
        ("hoursline", "declared", "validated", False),  # no task reads an hours line
    ],
)
def test_a_transition_that_no_condition_tells_apart_settles_nothing(machine, from_state, to_state, expected):
    assert flows.may_settle(machine, from_state, to_state) is expected


def test_a_condition_that_does_not_say_what_it_reads_counts_as_reading_everything(monkeypatch):
    flows.may_settle.cache_clear()
    review = human_tasks(PlacementFlow)["review"]
    monkeypatch.setattr(review, "_open_while", lambda wt: wt.referral.state != "forwarded")
    try:
        assert flows.may_settle("referral", "sent", "under_review") is True
    finally:
        flows.may_settle.cache_clear()


def test_a_referent_assignment_is_journaled_by_the_driver(territories):
    """A young person's task opened by the driver goes to the referent's inbox, and the journal says so."""
    pathway = territories.register()
    submit = open_task(TaskKind.SUBMIT_ELIGIBILITY, pathway=pathway)
    assert submit.owner_id == pathway.referent_adviser_id and submit.status == STATUS.ASSIGNED
    assert submit.task.owner_id == submit.owner_id and submit.task.assigned is not None
    event = JournalEvent.objects.get(object_type="task", object_id=submit.pk, action="assign")
    assert (event.inputs["rule"], event.inputs["to"]) == ("referent", pathway.referent_adviser_id)


def test_no_active_referent_leaves_the_task_in_the_team_queue(territories):
    """The rebound task after an expiry, opened by the driver while the referent has left the Mission Locale."""
    referral = territories.referral()
    Membership.objects.filter(user_id=referral.pathway.referent_adviser_id).update(is_active=False)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=31), tick=False):
        fire_due()
    rebound = open_task(TaskKind.REFERRAL_EXPIRED, pathway=referral.pathway)
    assert (rebound.owner_id, rebound.status, rebound.task.owner_id) == (None, STATUS.NEW, None)
    assert not JournalEvent.objects.filter(object_type="task", object_id=rebound.pk).exists()


@pytest.mark.parametrize("owned_by_closer", [True, False])
def test_a_task_keeps_its_assignment_moment_only_when_its_closer_owned_it(territories, owned_by_closer):
    referral = territories.referral()
    review = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    facilitator = territories.a.facilitator
    owner = facilitator.user if owned_by_closer else UserFactory()
    earlier = timezone.now() - datetime.timedelta(days=2)
    Task.objects.filter(pk=review.pk).update(owner=owner, assigned=earlier, status=STATUS.ASSIGNED)
    assert driver.settle([review], actor=facilitator, event=None, outcome="referral.test") == 1
    task = Task.objects.get(pk=review.pk)
    assert task.owner_id == facilitator.user.pk  # who did it
    if owned_by_closer:
        assert task.assigned == earlier
    else:
        assert task.assigned > earlier  # taken over when closed


def test_a_handle_is_finished_once_with_its_moments(territories):
    """The contract step a hire closes (driver._finish_handle): done, started and finished at that moment, once."""
    referral = territories.forwarded()
    some = Task.objects.filter(process__in=WorkTask.objects.filter(referral=referral).values("task__process")).first()
    now = timezone.now()
    handle = Task.objects.create(
        process_id=some.process_id, flow_task=some.flow_task, status=STATUS.NEW, token=some.token, data={}
    )
    assert driver._finish_handle(handle.pk, now) is True
    done = Task.objects.get(pk=handle.pk)
    assert (done.status, done.started, done.finished) == (STATUS.DONE, now, now)
    assert driver._finish_handle(handle.pk, now) is False  # no longer NEW: nothing written


def test_a_handle_closed_with_the_next_insert_is_checked_there(territories):
    """A hire's contract step, opened in its transaction, is closed by the split's insert (driver.contract_recorded):
    closed once; a step no longer NEW fails the insert, and nothing of it is written."""
    from django.db import DatabaseError, transaction

    from roles.rows import insert_rows

    referral = territories.forwarded()
    some = Task.objects.filter(process__in=WorkTask.objects.filter(referral=referral).values("task__process")).first()
    now = timezone.now()

    def task(status):
        return Task(process_id=some.process_id, flow_task=some.flow_task, status=status, token=some.token, data={})

    handle = Task.objects.create(
        process_id=some.process_id, flow_task=some.flow_task, status=STATUS.NEW, token=some.token, data={}
    )
    [carrier] = insert_rows([task(STATUS.DONE)], along=driver._finish_handle_write(handle.pk, now))
    done = Task.objects.get(pk=handle.pk)
    assert (done.status, done.started, done.finished) == (STATUS.DONE, now, now) and carrier.pk
    before = Task.objects.count()
    with pytest.raises(DatabaseError, match="gone"), transaction.atomic():
        insert_rows([task(STATUS.DONE)], along=driver._finish_handle_write(handle.pk, now))
    assert Task.objects.count() == before


@pytest.mark.postgres
def test_with_server_side_binding_the_open_tasks_are_read_without_their_processes_lock(territories, monkeypatch):
    """The lock rides with the read only where both leave in one round trip; otherwise the read goes alone, as
    before, and the settle locks the processes of the tasks it closes (nothing when nothing closes)."""
    from django.db import transaction

    referral = territories.referral()
    review = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    with transaction.atomic():
        locked = set()
        found = flows.open_tasks_of_pathway(referral.pathway_id, locked=locked, referral_id=referral.pk)
        assert [w.pk for w in found] == [review.pk]
        assert locked == {review.task.process_id}  # the referral's own process
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "server_side_binding", True)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = set()
        found = flows.open_tasks_of_pathway(referral.pathway_id, locked=locked, referral_id=referral.pk)
        assert [w.pk for w in found] == [review.pk]
        assert locked == set()
    assert len(queries) == 1 and "FOR UPDATE" not in queries[0]["sql"]


@pytest.mark.parametrize("left_open", [False, True])
def test_a_process_at_an_end_is_finished_by_the_plan_s_statement_unless_a_task_stays_open(
    territories, left_open, settings
):
    """Plan.write finishes a process that reached an end with nothing left open, in the statement that inserts the
    plan's rows on PostgreSQL (no statement of its own); a task of the plan still open (another branch) keeps it
    running, as one open before does."""
    from viewflow.workflow.models import Process
    from viewflow.workflow.status import PROCESS
    from viewflow.workflow.token import Token

    from parcours.work.models import WorkProcess

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    referral = territories.referral()
    review = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    Task.objects.filter(pk=review.pk).update(status=STATUS.DONE, finished=timezone.now())
    Task.objects.filter(process_id=review.task.process_id, finished__isnull=True).update(
        status=STATUS.CANCELED, finished=timezone.now()
    )  # its timers: nothing of the process open before the plan
    process = WorkProcess.objects.get(pk=review.task.process_id)
    subject = driver.Subject(process=process, pathway=referral.pathway, referral=referral)
    plan = driver.Plan()
    plan.add(subject, PlacementFlow.closed, review.task, Token("start"), status=STATUS.DONE, finished=plan.now)
    plan.ends.add(process.pk)
    if left_open:
        plan.add(subject, PlacementFlow.finished, review.task, Token("start"), status=STATUS.NEW)
    with CaptureQueriesContext(connection) as queries:
        plan.write()
    assert Process.objects.get(pk=process.pk).status == (PROCESS.NEW if left_open else PROCESS.DONE)
    finishing = [q["sql"] for q in queries if 'UPDATE "viewflow_process"' in q["sql"]]
    assert len(finishing) == (0 if left_open else 1)  # not asked for a process the plan leaves open
    if connection.vendor == "postgresql":
        assert len(queries) == 1


@pytest.mark.postgres
def test_a_task_closed_by_the_plan_s_statement_is_checked_there(territories, settings):
    """A task read open once its process was locked (`settle(..., locked=)`) is closed by the statement that writes
    the plan's rows, its one row checked there: found closed all the same (only a write that skipped the process's
    lock could do it), the statement fails and nothing of the plan stays."""
    from django.db import DatabaseError, transaction

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    referral = territories.referral()
    review = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    Task.objects.filter(pk=review.pk).update(status=STATUS.DONE)
    with CaptureQueriesContext(connection) as queries:
        with pytest.raises(DatabaseError, match="gone"), transaction.atomic():
            driver.settle(
                [review], actor=territories.a.facilitator, event=None, outcome="test", locked={review.task.process_id}
            )
    # Refused by the plan's statement, which carried the close (no compare-and-set of its own before it).
    writes = [q["sql"] for q in queries if "viewflow_task" in q["sql"] and "SAVEPOINT" not in q["sql"]]
    assert len(writes) == 1 and "close_0_done" in writes[0]
    assert driver.settle([review], actor=territories.a.facilitator, event=None, outcome="test") == 0  # the usual way

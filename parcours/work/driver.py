"""The work layer's driver: runs the common steps of the flows with a few set-based statements.

viewflow's runtime activates one node at a time: each activation reloads its process (twice: the base row, then the
WorkProcess child), saves its task, adds its link to the previous task, arms and cancels boundary timers one by one,
each under its own savepoint. A referral forwarded to the employer cost 35 statements of bookkeeping for one task
closed and one opened. The flows themselves stay viewflow's (parcours/work/flows.py: the diagrams, the Circuits
page, the timer worker, the task pages); this module writes the same rows viewflow would, in this order:

1. lock the processes concerned (one `SELECT … FOR UPDATE SKIP LOCKED`, retried briefly, no savepoint; a settle after
   a transition sends it with the read of the open tasks, in one round trip on PostgreSQL);
2. close each settled task with a compare-and-set `UPDATE … WHERE status IN (open)`, then its WorkTask row, and
   cancel its armed boundary timers — on PostgreSQL the three in one prepared statement (`_close`);
3. walk the graph in memory: gateways read the fsm states loaded with the open tasks (the rows the service holds
   locked), until a human task (with its boundary timers), a handle or an end;
4. insert every new task in one statement, their links in one, their WorkTask rows in one; finish the processes
   that reached an end and have nothing left open (one `UPDATE … WHERE NOT EXISTS`).

It drives: a process start, a human task settled up to the next waiting node (through the follow-ups' join), and
the contract handle (the hire) up to the three follow-up timers. The timer firings (the worker) and the task pages'
assignments still run on viewflow's activations. tests/work/test_rows.py pins the rows of every scenario.
"""

import functools
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from viewflow.workflow.models import Process, Task
from viewflow.workflow.nodes import End, Handle, Join, Split, StartHandle
from viewflow.workflow.status import PROCESS, STATUS
from viewflow.workflow.token import Token

from parcours.models import Pathway
from parcours.notifications import publish_on_commit
from parcours.work import flows
from parcours.work.flows import HumanTask, StateSwitch, WorkTimer, pathway_state, remember_subject
from parcours.work.models import ARMED_TIMER_STATUSES, OPEN_TASK_STATUSES, WorkProcess, WorkTask
from roles.actor import Actor
from roles.enums import Role
from roles.models import Membership
from roles.rows import Pending, insert_rows, insert_rows_with_children, send
from roles.statements import Compiled, prepared
from workflows.errors import WORK_BUSY
from workflows.journal import NEW_CHAIN, record_event

PREVIOUS = Task.previous.through


def lock_processes(pks):
    """The process rows, locked as viewflow's flow lock does (flows.ProcessRowLock), else "busy" (409)."""
    if not flows.lock_processes(pks):
        raise WORK_BUSY


# --- What the driver runs -----------------------------------------------------------------------------------------
def _reaches_a_wait(node, seen=()):
    """Whether every path from `node` goes through switches (and a plain join) only, to a human task, a handle or
    an end."""
    if isinstance(node, HumanTask | End) or (isinstance(node, Handle) and not isinstance(node, StartHandle)):
        return True
    if node in seen:
        return False
    if isinstance(node, StateSwitch):
        return all(_reaches_a_wait(nxt, (*seen, node)) for nxt, _ in node._routes)
    if isinstance(node, Join) and node._continue_on_condition is None:
        return _reaches_a_wait(node._next, (*seen, node))
    return False


def supports(node) -> bool:
    """Whether the driver can settle this human task (every one of the flows: tests/work/test_driver.py)."""
    cached = node.__dict__.get("_driven")
    if cached is None:
        cached = node.__dict__["_driven"] = _reaches_a_wait(node._next)
    return cached


# --- The plan of one run -------------------------------------------------------------------------------------------
@dataclass
class Subject:
    """The process a chain runs in, with the fsm rows read once (the service holds them locked)."""

    process: WorkProcess
    pathway: Pathway
    referral: object = None

    def state(self, switch):
        if switch.read_state is pathway_state:
            return self.pathway.state
        return self.referral.state


@dataclass
class Plan:
    now: object = field(default_factory=timezone.now)
    tasks: list = field(default_factory=list)
    links: list = field(default_factory=list)  # (previous task, next task): pks known once inserted
    work: list = field(default_factory=list)  # (task, WorkTask fields, subject)
    opened: list = field(default_factory=list)  # the WorkTask rows written, with their task and subject rows
    assigned: list = field(default_factory=list)  # (task, node, subject): referent assignments to journal
    handles: list = field(default_factory=list)  # (task, node, subject): the handles opened (a hire's contract step)
    ends: set = field(default_factory=set)
    closing: list = field(default_factory=list)  # the closes of settled tasks, carried by the rows' statement

    def add(self, subject, node, previous, token, **fields):
        task = Task(
            process_id=subject.process.pk,
            flow_task=node,
            flow_task_type=node.task_type,
            token=token,
            data={},
            created=self.now,
            **fields,
        )
        self.tasks.append(task)
        if previous is not None:
            self.links.append((previous, task))
        return task

    def advance(self, subject, node, previous, token):
        """Plan the nodes from `node` on, reached from the task `previous`, up to the next one that waits."""
        while isinstance(node, StateSwitch):
            previous = self.add(subject, node, previous, token, status=STATUS.DONE, finished=self.now)
            node = node.route(subject.state(node))
        if isinstance(node, HumanTask):
            self.open_human_task(subject, node, previous, token)
        elif isinstance(node, End):
            self.add(subject, node, previous, token, status=STATUS.DONE, started=self.now, finished=self.now)
            self.ends.add(subject.process.pk)
        elif isinstance(node, Handle):
            self.handles.append((self.add(subject, node, previous, token, status=STATUS.NEW), node, subject))
        else:  # pragma: no cover - supports() holds for every human task of the flows (tests/work/test_driver.py)
            raise ValueError(f"the work-layer driver does not run {node.name}")

    def open_human_task(self, subject, node, previous, token):
        process = subject.process
        activation = SimpleNamespace(process=process, task=None)
        referent = _referent(node, subject)
        task = self.add(
            subject,
            node,
            previous,
            token,
            status=STATUS.ASSIGNED if referent else STATUS.NEW,
            owner_id=referent,
            assigned=self.now if referent else None,
        )
        activation.task = task
        organisation_id = node._organisation(process)
        if organisation_id is None:  # pragma: no cover - flows only open tasks for known organisations
            raise ValueError(f"{node.name}: no organisation to offer the task to")
        fields = {"due_at": node._due(activation) if node._due else None}
        if node._extra:
            fields.update(node._extra(activation))
        self.work.append(
            (
                task,
                dict(
                    kind=node.kind,
                    role=node.role,
                    organisation_id=organisation_id,
                    pathway_id=process.pathway_id,
                    referral_id=process.referral_id,
                    status=task.status,
                    owner_id=referent,
                    **fields,
                ),
                subject,
            )
        )
        if referent:
            self.assigned.append((task, node, subject))
        for boundary in node._boundary_events:
            self.add(subject, boundary, task, token, status=STATUS.SCHEDULED, scheduled=_moment(boundary, activation))

    def write(self):
        """Insert the planned rows, journal the referent assignments, finish the processes that ended."""
        # The tasks, their links and their queue rows: one statement on PostgreSQL (the links and queue rows read
        # the new tasks' ids in it).
        links = [(PREVIOUS(), {"from_task_id": task, "to_task_id": previous}) for previous, task in self.links]
        self.opened = [WorkTask(**fields) for _, fields, _ in self.work]
        queued = [
            (work_task, {"task_id": task}) for work_task, (task, _, _) in zip(self.opened, self.work, strict=True)
        ]
        # The processes that reached an end with nothing left open are finished in that statement too: those with
        # a task of this plan still open are not (the statement's own rows are not seen by its NOT EXISTS). The
        # settled tasks' closes go with it, but before it where a process ends: the NOT EXISTS would see them open.
        ends = sorted(self.ends - {task.process_id for task in self.tasks if task.finished is None})
        if ends:
            send(self.closing)
            self.closing = []
        along = [*self.closing, _finish_processes(ends, self.now)]
        if self.tasks:
            insert_rows_with_children(self.tasks, links + queued, along=along)
        else:
            send(along)
        for work_task, (task, _, subject) in zip(self.opened, self.work, strict=True):
            work_task.task, work_task.pathway, work_task.referral = task, subject.pathway, subject.referral
        for task, node, subject in self.handles:
            if subject.referral is not None:
                # The process is locked and the handle open in this transaction: the service that goes on with the
                # same referral row (a hire creating its placement) finds them here (`_opened_handle`), not by a query.
                opened = subject.referral.__dict__.setdefault("_parcours_opened_handles", {})
                opened[node] = (task.pk, task.process_id, task.token)
        for task, node, subject in self.assigned:
            event = record_event(
                actor=Actor.system(),
                object_type="task",
                object_id=task.pk,
                participant_id=subject.pathway.participant_id,
                action="assign",
                from_state="new",
                to_state=str(STATUS.ASSIGNED).lower(),
                inputs={"kind": node.kind.value, "to": task.owner_id, "rule": "referent"},
                tail=NEW_CHAIN,  # the task was inserted above
            )
            publish_on_commit(event)


@functools.cache
def _finish_processes_sql(vendor, count) -> str:
    process, task, quote = Process._meta, Task._meta, connection.ops.quote_name
    table, pk = quote(process.db_table), quote(process.pk.column)
    status, finished = quote(process.get_field("status").column), quote(process.get_field("finished").column)
    tasks, of_process = quote(task.db_table), quote(task.get_field("process").column)
    task_finished = quote(task.get_field("finished").column)
    return (
        f"UPDATE {table} SET {status} = %s, {finished} = %s WHERE {pk} IN ({', '.join(['%s'] * count)}) "
        f"AND NOT EXISTS (SELECT 1 FROM {tasks} WHERE {tasks}.{of_process} = {table}.{pk} "
        f"AND {tasks}.{task_finished} IS NULL)"
    )


def _finish_processes(pks, now) -> Pending | None:
    """The processes `pks` done (finished `now`) unless a task of theirs is still open: viewflow's end of a process,
    as a write for the plan's insert to carry; None for none."""
    if not pks:
        return None
    moment = Process._meta.get_field("finished").get_db_prep_value(now, connection)
    sql = _finish_processes_sql(connection.vendor, len(pks))
    return Pending(label="processes", using=DEFAULT_DB_ALIAS, sql=sql, params=[PROCESS.DONE.value, moment, *pks])


def _moment(timer, activation):
    """A timer's due moment, as viewflow's TimerActivation computes it."""
    delay = timer._delay(activation) if callable(timer._delay) else timer._delay
    return delay if not hasattr(delay, "total_seconds") else timezone.now() + delay


def _referent(node, subject):
    """A young person's task goes straight to their referent adviser, while that person is an active adviser of the
    organisation the task is offered to (HumanTask.give_to_referent); else None: it waits in the team's queue."""
    if node.role != Role.ADVISER:
        return None
    referent_id = subject.pathway.referent_adviser_id
    organisation_id = node._organisation(subject.process)
    if referent_id is None or organisation_id is None:
        return None
    return referent_id if _active_adviser(referent_id, organisation_id) else None


# Compiled once (roles.statements): it runs whenever an adviser's task opens (an intake's, a follow-up's).
_active_adviser = Compiled(
    lambda user_id, organisation_id: (
        Membership.objects.filter(user_id=user_id, organisation_id=organisation_id, role=Role.ADVISER, is_active=True)
        .order_by()
        .values_list("pk")[:1]
    ),
    arguments=2,
)


# --- The three entry points ---------------------------------------------------------------------------------------
def start(flow_class, *, pathway, referral=None):
    """A new process: its start task done, then up to its first waiting node."""
    process = WorkProcess(flow_class=flow_class, pathway_id=pathway.pk, referral_id=referral.pk if referral else None)
    # viewflow's row and the WorkProcess's own: one statement on PostgreSQL, where the ORM sends two.
    inherited = [column.attname for column in Process._meta.concrete_fields]
    row = Process(**{name: getattr(process, name) for name in inherited})
    insert_rows_with_children([row], [(process, {"process_ptr_id": row})])
    for name in inherited:
        setattr(process, name, getattr(row, name))
    subject = Subject(process=process, pathway=pathway, referral=referral)
    remember_subject(process, pathway, referral)
    plan = Plan()
    first = plan.add(
        subject, flow_class.start, None, Token("start"), status=STATUS.DONE, started=plan.now, finished=plan.now
    )
    plan.advance(subject, flow_class.start._next, first, Token("start"))
    plan.write()
    return process


def settle(work_tasks, *, actor, event, outcome, known=None, locked=frozenset()):
    """Close these open human tasks (their waiting condition no longer holds) and plan what follows each.
    Returns how many were still open once their processes were locked. `known`: the row the service changed, with
    the related rows it loaded (the organisations and delays it carries are not read again). `locked`: processes
    this transaction already holds (locked with the read of their tasks: flows.open_tasks_of_pathway)."""
    missing = {wt.task.process_id for wt in work_tasks} - set(locked)
    if missing:
        lock_processes(missing)
    plan = Plan()
    closed, joining = [], []
    for wt in work_tasks:
        by = _done_by(actor, wt)
        if connection.vendor == "postgresql" and wt.task.process_id in locked:
            # Read open under its process's lock: closed by the statement that writes the plan's rows.
            number = len(plan.closing)
            plan.closing.append(
                _close_write(wt, by=by, now=plan.now, outcome=outcome[:50], event=event, number=number)
            )
        elif not _close(wt, by=by, now=plan.now, outcome=outcome[:50], event=event):
            continue  # settled meanwhile (filed, or by a timer) once the lock was ours
        closed.append(wt)
        process = WorkProcess(pk=wt.task.process_id, pathway_id=wt.pathway_id, referral_id=wt.referral_id)
        pathway, referral = _known_subject(wt, known)
        remember_subject(process, pathway, referral)
        subject = Subject(process=process, pathway=pathway, referral=referral)
        following = wt.task.flow_task._next
        if isinstance(following, Join):
            joining.append((subject, following, wt.task))
        else:
            plan.advance(subject, following, wt.task, wt.task.token)
    plan.write()
    # A join reads what its branches left open: one arrival at a time, the tasks of this batch that have not arrived
    # yet counting as open (as when viewflow closed them one by one).
    for index, (subject, join, previous) in enumerate(joining):
        _arrive(subject, join, previous, [later for _, _, later in joining[index + 1 :]])
    # A task that opens with its condition already false (the rebound of a referral that expires after a newer one
    # was made) is settled by the same change: a later transition may read no task (flows.may_settle).
    stale = [wt for wt in plan.opened if not wt.task.flow_task.is_open(wt)]
    if stale:
        settle(stale, actor=actor, event=event, outcome=outcome, known=known)
    return len(closed)


def _close(wt, *, by, now, outcome, event) -> bool:
    """Close the open human task `wt` (a compare-and-set on its status), record on its WorkTask row who did it and
    what closed it, and cancel its armed boundary timers; False when it was no longer open.

    On PostgreSQL one prepared statement (`_close_statement`: data-modifying WITH queries, the later ones acting only
    if the task was still open), where the ORM sends three, each built at every call — the ORM cannot express it, and
    it runs for every task a transition settles. The ORM's three run elsewhere (SQLite cannot update in a WITH). The
    rows written are the same: tests/work/test_rows.py pins them on both databases."""
    boundaries = tuple(wt.task.flow_task._boundary_events)
    by_pk = by.pk if by is not None else None
    event_pk = event.pk if event is not None else None
    if connection.vendor != "postgresql":
        changes = {"status": STATUS.DONE, "finished": now, "started": Coalesce(F("started"), Value(now))}
        if by_pk is not None:
            changes["owner_id"] = by_pk
            changes["assigned"] = Case(When(owner_id=by_pk, then=F("assigned")), default=Value(now))
        if not Task.objects.filter(pk=wt.pk, status__in=OPEN_TASK_STATUSES).update(**changes):
            return False
        WorkTask.objects.filter(pk=wt.pk).update(outcome=outcome, done_by_id=by_pk, closing_event_id=event_pk)
        if boundaries:
            Task.objects.filter(previous=wt.pk, flow_task__in=boundaries, status__in=ARMED_TIMER_STATUSES).update(
                status=STATUS.CANCELED, finished=now
            )
        return True
    values = _close_values(wt, by_pk, now, outcome, event_pk, boundaries)
    sql, params = prepared(_close_statement(by_pk is not None, boundaries), values, range(len(values)))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0] > 0


def _close_values(wt, by_pk, now, outcome, event_pk, boundaries) -> list:
    owner = (by_pk,) if by_pk is not None else ()
    values = [now, now, *((by_pk, by_pk, now) if by_pk is not None else ()), wt.pk, outcome, by_pk, event_pk, *owner]
    values.append(wt.pk)
    return values + [now, wt.pk] if boundaries else values


def _close_write(wt, *, by, now, outcome, event, number) -> Pending:
    """`_close` not sent (PostgreSQL): its queries named `close_{number}_…`, for the plan's statement to carry, the
    task's one row checked there. Only for a task read open once its process was locked by this transaction
    (`settle(..., locked=)`): nothing else may close it meanwhile, the check is a guard, not a race lost."""
    boundaries = tuple(wt.task.flow_task._boundary_events)
    by_pk = by.pk if by is not None else None
    values = _close_values(wt, by_pk, now, outcome, event.pk if event is not None else None, boundaries)
    prefix = f"close_{number}_"
    return Pending(
        label=f"task #{wt.pk}",
        using=DEFAULT_DB_ALIAS,
        sql=_close_queries(by_pk is not None, boundaries, prefix),
        params=values,
        expect=1,
        counted=f"{prefix}done",
    )


@functools.cache
def _close_statement(with_owner, boundaries):
    """The SQL of `_close` on PostgreSQL (see `_close_queries`): the closed task's row counted."""
    return f'WITH {_close_queries(with_owner, boundaries, "")} SELECT COUNT(*) FROM "done"'


@functools.cache
def _close_queries(with_owner, boundaries, prefix):
    """The SQL of `_close` on PostgreSQL for a task closed by someone (or not) with these boundary timers: its
    arguments are `_close`'s values, in order; the statuses and the timers' nodes are literals (never a user's input);
    tables and columns are read from the models.

    The WorkTask row's status and owner follow its task's through the trigger of parcours/work/projection.py, which
    runs at the end of the statement: "work" writes them with the other columns of the same row, so the trigger finds
    the row in step and writes no second version of it (with its index entries).

    The later queries name the task by its id (`= %s`, and `EXISTS` on "done" for the compare-and-set), not by a
    semi-join on "done": a prepared statement keeps its generic plan, and one made while the tables looked empty
    turned that semi-join into nested scans of the whole task tables (seconds per call once they had grown, inside
    the demo seed's long transaction); an equality on an indexed column stays cheap whatever the plan."""
    task, work, links = Task._meta, WorkTask._meta, PREVIOUS._meta
    t = {name: task.get_field(name).column for name in ("id", "status", "finished", "started", "owner", "assigned")}
    w_fields = ("task", "outcome", "done_by", "closing_event", "status", "owner")
    w = {name: work.get_field(name).column for name in w_fields}
    previous, following = links.get_field("from_task").column, links.get_field("to_task").column
    flow_task = task.get_field("flow_task")
    owner, assigned = t["owner"], t["assigned"]
    owner = f', "{owner}" = %s, "{assigned}" = CASE WHEN "{owner}" = %s THEN "{assigned}" ELSE %s END'
    work_owner = f', "{w["owner"]}" = %s'
    done, closed_work, timers = f"{prefix}done", f"{prefix}work", f"{prefix}timers"
    text = (
        f'"{done}" AS (UPDATE "{task.db_table}" SET "{t["status"]}" = {{done}}, "{t["finished"]}" = %s, '
        f'"{t["started"]}" = COALESCE("{t["started"]}", %s){owner if with_owner else ""} '
        f'WHERE "{t["id"]}" = %s AND "{t["status"]}" IN ({{open}}) RETURNING "{t["id"]}"), '
        f'"{closed_work}" AS (UPDATE "{work.db_table}" SET "{w["outcome"]}" = %s, "{w["done_by"]}" = %s, '
        f'"{w["closing_event"]}" = %s, "{w["status"]}" = {{done}}{work_owner if with_owner else ""} '
        f'WHERE "{w["task"]}" = %s AND EXISTS (SELECT 1 FROM "{done}"))'
    )
    if boundaries:
        # The timers are found through the task's links, by their ids. The status is compared as an expression
        # (`|| ''`), which no index answers: with statistics that said few timers were armed, the planner started
        # from viewflow's status index and read every armed timer of every process (0.26 ms at 800 armed, growing
        # with them), in the generic plan a prepared statement keeps. That index is gone (migration 0030) but the
        # due timers' partial one names the status too. It is checked on the row updated: a timer fired meanwhile
        # stays as it is.
        text += (
            f', "{timers}" AS (UPDATE "{task.db_table}" SET "{t["status"]}" = {{canceled}}, "{t["finished"]}" = %s '
            f'WHERE "{t["id"]}" = ANY(ARRAY(SELECT "l"."{previous}" FROM "{links.db_table}" "l" '
            f'WHERE "l"."{following}" = %s)) AND "{flow_task.column}" IN ({{nodes}}) '
            f'AND ("{t["status"]}" || \'\') IN ({{armed}}) AND EXISTS (SELECT 1 FROM "{done}"))'
        )
    literals = {
        "done": _literal(STATUS.DONE),
        "open": ", ".join(_literal(status) for status in OPEN_TASK_STATUSES),
        "canceled": _literal(STATUS.CANCELED),
        "nodes": ", ".join(_literal(flow_task.get_prep_value(node)) for node in boundaries),
        "armed": ", ".join(_literal(status) for status in ARMED_TIMER_STATUSES),
    }
    return text.format(**literals)


def _literal(value) -> str:
    """A constant string of the statement, as an SQL literal (node names and statuses: letters, digits, dots,
    slashes and underscores only)."""
    text = str(value)
    if not all(c.isalnum() or c in "._/" for c in text):
        raise ValueError(f"unexpected constant in a work-layer statement: {text!r}")
    return f"'{text}'"


def _arrive(subject, join, previous, not_arrived=()):
    """viewflow's Join: the process's open join task (created at the first arrival, with the token before the
    split, started) gets a link from each arriving task; once no task of the split's branches is open (nor among
    `not_arrived`), it is done and the flow moves on."""
    now = timezone.now()
    process_id = subject.process.pk
    task = Task.objects.filter(process_id=process_id, flow_task=join, status__in=(STATUS.NEW, STATUS.STARTED)).first()
    if task is None:
        token = previous.token
        task = Task.objects.create(
            process_id=process_id,
            flow_task=join,
            flow_task_type=join.task_type,
            token=token.get_base_split_token() if token.is_split_token() else token,
            status=STATUS.STARTED,
            started=now,
            data={},
        )
    PREVIOUS.objects.create(from_task_id=task.pk, to_task_id=previous.pk)
    prefix = previous.token.get_common_split_prefix(task.token, previous.pk)
    branches_open = (
        Task.objects.filter(process_id=process_id, token__startswith=prefix)
        .exclude(status__in=(STATUS.DONE, STATUS.CANCELED, STATUS.REVIVED))
        .exists()
    )
    if branches_open or any(str(later.token).startswith(prefix) for later in not_arrived):
        return
    Task.objects.filter(pk=task.pk).update(status=STATUS.DONE, finished=now)
    plan = Plan(now=now)
    plan.advance(subject, join._next, task, task.token)
    plan.write()


def contract_recorded(placement, handle_node):
    """The hire created the placement: its process's contract handle is done, the follow-up timers are armed.
    Returns False when the referral has no process waiting for its contract (a referral from before the work
    layer)."""
    plan = Plan()
    row = _opened_handle(placement, handle_node)
    if row is not None:
        # Opened by this transaction, its process locked since: still NEW. Its close goes with the split's insert
        # (checked there: one row).
        handle_pk, process_pk, token = row
        finished = _finish_handle_write(handle_pk, plan.now)
    else:
        row = (
            Task.objects.filter(
                process_id__in=WorkProcess.objects.filter(referral_id=placement.referral_id).values("pk"),
                flow_task=handle_node,
                status=STATUS.NEW,
            )
            .values_list("pk", "process_id", "token")
            .first()
        )
        if row is None:
            return False
        handle_pk, process_pk, token = row
        lock_processes([process_pk])
        if not _finish_handle(handle_pk, plan.now):  # done meanwhile, before the lock was ours
            return False
        finished = None
    activation = _contract_activation(placement, process_pk)
    process = activation.process
    split_node = _follow_up_split(handle_node)
    subject = Subject(process=process, pathway=None)
    # The split's own id goes into its branches' tokens (viewflow's Token.split_token_source): inserted first.
    [split] = insert_rows(  # the statement of the plan's tasks (viewflow's save() only sets the type, given here)
        [
            Task(
                process_id=process_pk,
                flow_task=split_node,
                flow_task_type=split_node.task_type,
                token=token,
                status=STATUS.DONE,
                finished=plan.now,
                created=plan.now,
                data={},
            )
        ],
        along=finished,
    )
    plan.links.append((Task(pk=handle_pk), split))
    tokens = Token.split_token_source(token, split.pk)
    for timer, _cond, _data in split_node._branches:
        plan.add(subject, timer, split, next(tokens), status=STATUS.SCHEDULED, scheduled=_moment(timer, activation))
    plan.write()
    return True


def follow_up_timers_moved(placement, handle_node) -> int:
    """The contract's start date was corrected: its follow-up timers still armed go to their new moments, by the rule
    that armed them (`_moment`, from the placement's start), in one UPDATE. A timer firing meanwhile holds its row:
    this waits, then finds it fired (its status compared) and leaves it. A sweep that read it due before this commits
    reads it again under its process lock and waits for the new moment (flows.WorkTimerActivation.start). Returns
    how many timers moved."""
    activation = _contract_activation(placement)
    moments = {timer: _moment(timer, activation) for timer, *_ in _follow_up_split(handle_node)._branches}
    processes = WorkProcess.objects.filter(referral_id=placement.referral_id).values("pk")
    return Task.objects.filter(process_id__in=processes, flow_task__in=list(moments), status=STATUS.SCHEDULED).update(
        scheduled=Case(*(When(flow_task=timer, then=Value(moment)) for timer, moment in moments.items()))
    )


def _contract_activation(placement, process_pk=None):
    """What a follow-up timer's moment reads (flows._follow_up_moment): the process, its contract start known."""
    process = WorkProcess(pk=process_pk, pathway_id=placement.pathway_id, referral_id=placement.referral_id)
    process.__dict__.setdefault("_parcours_settled", {})["contract_start"] = placement.start_date
    return SimpleNamespace(process=process, task=None)


def _follow_up_split(handle_node):
    split_node = handle_node._next
    if not isinstance(split_node, Split) or not all(isinstance(t, WorkTimer) for t, *_ in split_node._branches):
        raise ValueError(f"{handle_node.name}: the driver arms a split of timers only")  # pragma: no cover
    return split_node


@functools.cache
def _finish_handle_sql(vendor) -> str:
    meta, quote = Task._meta, connection.ops.quote_name
    column = {name: quote(meta.get_field(name).column) for name in ("id", "status", "started", "finished")}
    return (
        f"UPDATE {quote(meta.db_table)} SET {column['status']} = %s, {column['started']} = %s, "
        f"{column['finished']} = %s WHERE {column['id']} = %s AND {column['status']} = %s"
    )


def _finish_handle_params(pk, now) -> list:
    moment = Task._meta.get_field("started").get_db_prep_value(now, connection)  # as the ORM sends a moment
    return [STATUS.DONE.value, moment, moment, int(pk), STATUS.NEW.value]


def _finish_handle_write(pk, now) -> Pending:
    """`_finish_handle` not sent: for the next insert to carry, its one row checked."""
    sql, params = _finish_handle_sql(connection.vendor), _finish_handle_params(pk, now)
    return Pending(label=f"handle task #{pk}", using=DEFAULT_DB_ALIAS, sql=sql, params=params, expect=1)


def _finish_handle(pk, now) -> bool:
    """A NEW handle task marked done (started and finished `now`), in one statement built once from the model and
    prepared on PostgreSQL (a hire runs it): whether it was still NEW."""
    sql, params = prepared(_finish_handle_sql(connection.vendor), _finish_handle_params(pk, now), [1, 2, 3])
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1


def _opened_handle(placement, handle_node):
    """(task id, process id, token) of `handle_node`'s task when the transition that opened it ran on the referral
    row the placement was created with (its process locked since, in this transaction); taken once. Else None."""
    referral = placement._state.fields_cache.get("referral")
    if referral is None or referral.pk != placement.referral_id:
        return None
    return referral.__dict__.get("_parcours_opened_handles", {}).pop(handle_node, None)


def _done_by(actor, work_task):
    """The user who did the task: the actor when they hold its role in its organisation (else it was closed)."""
    if actor is None or actor.is_system:
        return None
    if actor.organisation_id == work_task.organisation_id and actor.role == work_task.role:
        return actor.user
    return None


def _known_subject(work_task, known):
    """(pathway, referral) of a task's process, as rich as the row the service holds: the same rows (their state
    was just saved), with their related rows loaded."""
    pathway, referral = work_task.pathway, work_task.referral
    model = known._meta.model_name if known is not None else None
    if model == "pathway" and known.pk == work_task.pathway_id:
        pathway = known
    elif model == "referral" and known.pk == work_task.referral_id:
        referral = known
        pathway = flows._cached(known, "pathway") or pathway
    return pathway, referral

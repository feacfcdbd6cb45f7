"""`make bench` / `make bench-smoke`: Parcours measured side by side with its anchors, in the same run.

Runs against the PostgreSQL (and Redis) given by DATABASE_URL / REDIS_URL — `make bench` starts throwaway ones with
durable settings — and writes bench/results.json and bench/RESULTS.md. Every figure is a median (and p95) over
repeated runs next to its anchor measured in the same run, as a ratio: the machines are noisy, ratios less so.

Sections:
  floor         the raw-SQL floor of a transition: lock the row, read the last journal hash, update the state,
                insert the journal row, commit (1 client; and 1, 4, 8 concurrent clients)
  transitions   each kind of transition through its full service (lock, policy, fsm, journal, work layer,
                notification), latency and SQL statements, and its ratio to the floor
  concurrency   transitions/s with 1, 4 and 8 processes, on distinct and on overlapping referrals
  lifecycle     whole pathways through the services vs SpiffWorkflow running a 10-user-task BPMN process whose
                serialized state and a log row are written to the same PostgreSQL after each step
  pages         role homes, inboxes, lists, a participant file and API lists at each data-set size
                (generate_load): p50/p95, SQL statements, the slowest statement's plan
  verify        verify_journal, events per second, on the largest data set
  websocket     delivery delay of committed events to many websocket clients through the Redis channel layer

Usage: python bench/run.py [--smoke] [--sizes 10000,100000,1000000] [--out bench/results.json]
"""

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import math
import multiprocessing
import os
import platform
import pstats
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parcours.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from parcours.heap import freeze_startup_objects  # noqa: E402
from roles import commit  # noqa: E402

RESULTS = {"machine": {}, "anchors": {}, "sections": {}}
SHOW_SQL = set()  # transition labels whose statements are printed (--show-sql)
SQL_WIDTH = int(os.environ.get("BENCH_SQL_WIDTH", "300"))  # characters of each shown statement
# Transitions of each kind a parallel worker runs before its timed window: past our statements' preparation (their
# second run on the connection) and PostgreSQL's custom plans (their first five). The floor's raw connection prepares
# its statements at their fifth run (psycopg's prepare_threshold): also behind it.
WARM_UP_STEPS = 6
PROFILE = set()  # transition labels profiled (--profile): the functions where their time goes, printed
# Transition labels whose statements are printed as PostgreSQL counted them (--server-statements): planning and
# execution time per call, triggers' statements included. Needs the server's pg_stat_statements (loaded with
# shared_preload_libraries; the extension is created here).
SERVER_STATEMENTS = set()


def say(text):
    print(text, file=sys.stderr, flush=True)


def pct(values, q):
    values = sorted(values)
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[index]


class Statements:
    """Counts the SQL statements a block sends (CaptureQueriesContext is reset by each request of the test client)."""

    def __init__(self):
        self.sql = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.sql.append({"sql": sql, "params": params, "time": time.perf_counter() - started})

    def __enter__(self):
        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self._wrapper.__exit__(*exc)

    @property
    def count(self):
        """SQL statements, those sent together in one text (`a; b`: the row lock and its read, the outbox's savepoint
        when it has a round trip of its own) each counted; a write carried by another as its `WITH` (roles.rows) is
        part of that one statement. BEGIN and COMMIT are not counted, nor the savepoint around what a COMMIT carries
        (roles.commit: the outbox's rows, the audience read)."""
        return sum(len(_counted(q["sql"])) for q in self.sql)

    @property
    def round_trips(self):
        """Round trips but BEGIN's and COMMIT's, that of a COMMIT carrying reads included (roles.commit)."""
        return len([q for q in self.sql if q["sql"] not in ("BEGIN", "COMMIT") and not q["sql"].endswith("; COMMIT")])


_NOT_COUNTED = ("BEGIN", "COMMIT", f"SAVEPOINT {commit.SAVEPOINT}", f"RELEASE SAVEPOINT {commit.SAVEPOINT}")


def _counted(text) -> list:
    """The statements of a text sent in one round trip that the figures count."""
    return [statement for statement in text.split("; ") if statement not in _NOT_COUNTED]


def summary(samples_ms):
    return {
        "median_ms": round(statistics.median(samples_ms), 3),
        "p95_ms": round(pct(samples_ms, 95), 3),
        "n": len(samples_ms),
    }


# --- floor -------------------------------------------------------------------------------------------------------
FLOOR_SETUP = """
DROP TABLE IF EXISTS bench_floor_journal; DROP TABLE IF EXISTS bench_floor_object;
CREATE TABLE bench_floor_object (id bigint PRIMARY KEY, state varchar(30) NOT NULL, updated_at timestamptz);
CREATE TABLE bench_floor_journal (id bigserial PRIMARY KEY, object_id bigint NOT NULL, sequence int NOT NULL,
  action varchar(50) NOT NULL, from_state varchar(30), to_state varchar(30), occurred_at timestamptz NOT NULL,
  previous_hash varchar(64) NOT NULL, hash varchar(64) NOT NULL, UNIQUE (object_id, sequence));
INSERT INTO bench_floor_object SELECT g, 'a', now() FROM generate_series(1, %(rows)s) g;
INSERT INTO bench_floor_journal (object_id, sequence, action, from_state, to_state, occurred_at, previous_hash, hash)
  SELECT g, 1, 'create', '', 'a', now(), '', md5(g::text) || md5(g::text) FROM generate_series(1, %(rows)s) g;
"""


def floor_transition(cursor, object_id, step):
    cursor.execute("BEGIN")
    cursor.execute("SELECT state FROM bench_floor_object WHERE id = %s FOR UPDATE", [object_id])
    state = cursor.fetchone()[0]
    cursor.execute(
        "SELECT sequence, hash FROM bench_floor_journal WHERE object_id = %s ORDER BY sequence DESC LIMIT 1",
        [object_id],
    )
    sequence, previous = cursor.fetchone()
    new = "b" if state == "a" else "a"
    cursor.execute("UPDATE bench_floor_object SET state = %s, updated_at = now() WHERE id = %s", [new, object_id])
    cursor.execute(
        "INSERT INTO bench_floor_journal (object_id, sequence, action, from_state, to_state, occurred_at, "
        "previous_hash, hash) VALUES (%s, %s, %s, %s, %s, now(), %s, md5(%s) || md5(%s))",
        [object_id, sequence + 1, f"step{step}", state, new, previous, previous, str(step)],
    )
    cursor.execute("COMMIT")


def _raw_cursor():
    import psycopg

    params = connection.get_connection_params()
    conn = psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}, autocommit=True)
    return conn, conn.cursor()


def floor_latency(reps):
    """(samples in ms, CPU per call: `cpu_per_call`)."""
    conn, cursor = _raw_cursor()
    pid = conn.info.backend_pid
    samples = []
    wal = wal_position(cursor)
    cpu = time.process_time(), backend_cpu_seconds(pid)
    for step in range(reps):
        started = time.perf_counter()
        floor_transition(cursor, 1 + step % 1000, step)
        samples.append((time.perf_counter() - started) * 1000)
    cpu = cpu_per_call(cpu, (time.process_time(), backend_cpu_seconds(pid)), reps)
    wal = round((wal_position(cursor) - wal) / reps)
    conn.close()
    return samples, cpu, wal


CLIENTS = (1, 4, 8)  # concurrent client processes of the floor's and Parcours's throughput runs


def _floor_worker(args):
    worker, seconds, rows, overlap = args
    conn, cursor = _raw_cursor()
    rng = random.Random(worker)

    def object_id(step):
        # Distinct: each worker walks its own eighth of the rows. (A stride of 100,000 over 200,000 rows gave workers
        # 0, 2, 4 and 6 the same rows in the same order, and 1, 3, 5 and 7 theirs: they waited on each other's locks.)
        return rng.randint(1, 50) if overlap else 1 + (worker * (rows // max(CLIENTS)) + step) % rows

    step = 0
    with warming_up():
        for step in range(WARM_UP_STEPS):
            floor_transition(cursor, object_id(step), step)
    done, step = 0, step + 1
    began = warmed_up()
    deadline = began + seconds
    while time.monotonic() < deadline:
        floor_transition(cursor, object_id(step), step)
        done += 1
        step += 1
    ended = time.monotonic()
    conn.close()
    return done, began, ended


# The workers of one parallel run meet here once warmed up (connection open, statements prepared and planned, the
# forked copy of the parent's memory touched), so that the timed window holds steady-state work only, as a server
# keeping its connections (DB_CONN_MAX_AGE) runs. Set before the fork, inherited by the workers.
_WARMED_UP = None


WARM_UP_TIMEOUT = 300  # seconds a worker waits for the others: a stuck run fails instead of hanging `make test`


@contextlib.contextmanager
def warming_up():
    """Around a worker's warm-up: if it fails, the barrier breaks and the other workers fail too (instead of
    waiting for it forever)."""
    try:
        yield
    except BaseException:
        _WARMED_UP.abort()
        raise


def warmed_up() -> float:
    """Wait for the other workers of the run to be warmed up too; the start of the timed window."""
    _WARMED_UP.wait(WARM_UP_TIMEOUT)
    return time.monotonic()


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def backend_cpu_seconds(pid) -> float:
    """CPU time of PostgreSQL backend `pid` so far (the scheduler's count, in ns); NaN when the server is not a
    process of this host (another host, a container: its pid may be another process's here)."""
    try:
        with open(f"/proc/{pid}/comm") as comm:
            if comm.read().strip() != "postgres":
                return math.nan
        with open(f"/proc/{pid}/schedstat") as stat:
            return int(stat.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return math.nan


def wal_position(cursor) -> int:
    """Bytes of WAL the cluster has written so far: two readings around timed calls give the WAL each call wrote
    (what a replica receives and a backup archives; the cluster's, so the machine must be otherwise idle)."""
    cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint")
    return cursor.fetchone()[0]


def cpu_per_call(before, after, calls) -> dict:
    """{client, server}: ms of CPU per call between two (process_time, backend CPU) readings (server None: the
    server runs on another host)."""
    server = 1000 * (after[1] - before[1]) / calls
    return {
        "client": round(1000 * (after[0] - before[0]) / calls, 3),
        "server": None if math.isnan(server) else round(server, 3),
    }


def _cpu_text(figure) -> str:
    cpu = figure.get("cpu_ms")
    return f", CPU per call {cpu['client']} ms in Python and {_ms(cpu['server'])} in PostgreSQL" if cpu else ""


def _wal_text(figure) -> str:
    return f", WAL {figure['wal_bytes']:,} bytes per call" if figure.get("wal_bytes") is not None else ""


def _ms(value) -> str:
    return "?" if value is None else f"{value} ms"  # None: the server's CPU is not readable from here


def say_server_statements(label, calls):
    """The statements PostgreSQL ran for `calls` calls of `label` (pg_stat_statements, reset before them): per
    call, planning and execution time, busiest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT calls, plans, total_plan_time, total_exec_time, regexp_replace(query, '\\s+', ' ', 'g') "
            "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query NOT LIKE '%pg_stat_statements%' ORDER BY total_plan_time + total_exec_time DESC"
        )
        rows = cursor.fetchall()
    total = sum(plan + run for _, _, plan, run, _ in rows) / calls
    say(f"  {label}, server time per call {total:.3f} ms (pg_stat_statements; plan + run, per statement):")
    for count, plans, plan, run, text in rows:
        times = f"plan {plan / calls:6.3f} ({plans} plans) run {run / calls:6.3f} ms"
        say(f"    {count / calls:4.1f}× {times}  {text[:SQL_WIDTH]}")


def run_parallel(function, processes, seconds, **kwargs):
    """(results, elapsed): each worker returns (counts…, start, end) of its timed window (`warmed_up`); the elapsed
    time runs from the first start to the last end (time.monotonic is one clock for every process)."""
    global _WARMED_UP
    connections.close_all()
    context = multiprocessing.get_context("fork")
    _WARMED_UP = context.Barrier(processes)
    try:
        with context.Pool(processes) as pool:
            # One task per process, each in its own (chunksize 1): all of them meet at the barrier.
            results = pool.map(function, [(i, seconds, *kwargs.values()) for i in range(processes)], chunksize=1)
    finally:
        _WARMED_UP = None
    elapsed = max(r[-1] for r in results) - min(r[-2] for r in results)
    return [r[:-2] for r in results], elapsed


def steady_statistics():
    """ANALYZE the database, as autovacuum keeps a running one's statistics, before a figure is timed.

    The bench's tables grow from empty during the run, and a prepared statement keeps the generic plan PostgreSQL
    chose for it at its sixth run until the statistics of one of its tables change. Planned while the grants held a
    few rows, a notification's audience read scanned them all in each later transition, until autovacuum (a minute
    apart) happened to analyze the table: the figures were that timing's, not the code's."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def section_floor(smoke):
    say("· floor")
    rows = 20_000 if smoke else 200_000
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SETUP, {"rows": rows})
    steady_statistics()
    samples, cpu, wal = floor_latency(50 if smoke else 1000)
    latency = {**summary(samples), "cpu_ms": cpu, "wal_bytes": wal}
    throughput = {}
    seconds = 1 if smoke else 10
    for clients in CLIENTS:
        done, elapsed = run_parallel(_floor_worker, clients, seconds, rows=rows, overlap=False)
        throughput[clients] = round(sum(d for (d,) in done) / elapsed, 1)
    RESULTS["anchors"]["floor"] = {"latency": latency, "throughput_per_s": throughput}
    say(f"  floor {latency['median_ms']} ms{_cpu_text(latency)}, WAL {wal} bytes per call; {throughput} transitions/s")


# --- transitions through the services --------------------------------------------------------------------------
def bench_world():
    from parcours.models import JobOffer
    from tests.factories import World

    with transaction.atomic():
        world = World.build()
        # Hundreds of hires on the same offers: they must not close themselves when their positions are filled.
        JobOffer.objects.update(positions=30000)
        return world


def _objects(world, machine, state, count):
    from tests.factories import make

    return [make(world, machine, state) for _ in range(count)]


TRANSITIONS = [
    # (label, machine, source state, service call)
    ("pathway.submit_eligibility", "pathway", "intake", "pathway.submit_eligibility"),
    ("pathway.validate_eligibility", "pathway", "eligibility_pending", "pathway.validate_eligibility"),
    ("referral.start_review", "referral", "sent", "referral.start_review"),
    ("referral.approve", "referral", "under_review", "referral.approve"),
    ("referral.forward", "referral", "approved", "referral.forward"),
    ("referral.accept", "referral", "forwarded", "referral.accept"),
    ("referral.hire", "referral", "accepted", "referral.hire"),
    ("placement.start", "placement", "planned", "placement.start"),
    ("placement.end", "placement", "active", "placement.end"),
    ("hoursline.validate", "hoursline", "declared", "hoursline.validate"),
    ("pathway.exit", "pathway", "in_follow_up", "pathway.exit"),
]


def _actor_for(world, action):
    from roles.enums import Role
    from workflows.transitions import MACHINES

    machine, name = action.split(".")
    roles = MACHINES[machine][name].roles
    for role in (Role.FACILITATOR, Role.EMPLOYER, Role.ADVISER):
        if role in roles:
            return world.actor(role, "a")
    raise ValueError(action)


def section_transitions(smoke, world):
    from tests.factories import call_service

    say("· transitions")
    floor = RESULTS["anchors"]["floor"]["latency"]["median_ms"]
    reps = int(os.environ.get("BENCH_TRANSITION_REPS", 2 if smoke else 30))
    out = {}
    for label, machine, state, action in TRANSITIONS:
        objs = _objects(world, machine, state, reps + 2)
        actor = _actor_for(world, action)
        steady_statistics()
        # The first call fills the process's caches (content types, permission ids, compiled reads): the statements
        # counted are a warm call's, as every later call in a running server.
        call_service(action, actor, objs[0])
        with Statements() as queries:
            call_service(action, actor, objs[1])
        samples = []
        profiler = cProfile.Profile() if label in PROFILE else None
        # Each timed call's statements, when shown; a profiled call's would be timed under the profiler: not kept.
        timed = [] if label in SHOW_SQL and profiler is None else None
        pid = backend_pid()
        with connection.cursor() as cursor:
            wal = wal_position(cursor)  # read outside pg_stat_statements's count, if asked for
            if label in SERVER_STATEMENTS:
                cursor.execute("SELECT pg_stat_statements_reset()")
        cpu = time.process_time(), backend_cpu_seconds(pid)
        for obj in objs[2:]:
            started = time.perf_counter()
            if profiler is not None:
                profiler.runcall(call_service, action, actor, obj)
            elif timed is not None:
                with Statements() as each:
                    call_service(action, actor, obj)
                timed.append(each.sql)
            else:
                call_service(action, actor, obj)
            samples.append((time.perf_counter() - started) * 1000)
        cpu = cpu_per_call(cpu, (time.process_time(), backend_cpu_seconds(pid)), len(samples))
        if label in SERVER_STATEMENTS:
            say_server_statements(label, len(samples))
        with connection.cursor() as cursor:
            wal = round((wal_position(cursor) - wal) / len(samples))
        if label in SHOW_SQL and timed is None:
            say(f"  {label}, statements (a warm call's; profiled, so not timed):")
            for q in queries.sql:
                say(f"    {q['sql'][:SQL_WIDTH]}")
        if timed is not None:
            # Median over the timed calls, statement by statement: the warm call's own times are first executions,
            # still planned one by one (PostgreSQL keeps a prepared statement's generic plan from its sixth run).
            say(f"  {label}, statements (median time over {len(timed)} calls; the text of a warm call's):")
            for position, q in enumerate(queries.sql):
                times = [call[position]["time"] for call in timed if len(call) > position]
                say(f"    {statistics.median(times) * 1000:6.2f} ms  {q['sql'][:SQL_WIDTH]}")
        if profiler is not None:
            report = io.StringIO()
            order = os.environ.get("BENCH_PROFILE_SORT", "tottime")  # e.g. cumulative
            lines = int(os.environ.get("BENCH_PROFILE_LINES", "30"))
            stats = pstats.Stats(profiler, stream=report).sort_stats(order)
            stats.print_stats(lines)
            if os.environ.get("BENCH_PROFILE_CALLERS"):
                stats.print_callers(os.environ["BENCH_PROFILE_CALLERS"])
            say(report.getvalue())
        figure = summary(samples)
        figure["statements"] = queries.count
        figure["round_trips"] = queries.round_trips
        figure["x_floor"] = round(figure["median_ms"] / floor, 1)
        # Where a call's time went, on average: CPU in this process (Python, the driver), CPU in its PostgreSQL
        # backend; the rest is waiting (round trips, the commit's flush). Meaningless when profiled.
        figure["cpu_ms"] = cpu
        figure["wal_bytes"] = wal
        out[label] = figure
        say(
            f"  {label}: {figure['median_ms']} ms ({figure['x_floor']}× floor), {figure['statements']} statements "
            f"in {figure['round_trips']} round trips; CPU per call {figure['cpu_ms']['client']} ms here, "
            f"{_ms(figure['cpu_ms']['server'])} in PostgreSQL; WAL {wal} bytes"
        )
    RESULTS["sections"]["transitions"] = out


# --- concurrency -----------------------------------------------------------------------------------------------
def _service_worker(args):
    """One client process: start_review → approve → forward on its share of the referrals, as long as it can (after
    the same on referrals of its own, untimed: `warmed_up`)."""
    worker, seconds, pks, warm, clients, overlap, facilitator_pk = args
    from parcours.services import referrals
    from roles.actor import Actor
    from roles.models import Membership
    from workflows.errors import DomainError

    mine = pks if overlap else pks[worker::clients]
    rng = random.Random(worker)
    if overlap:
        mine = list(mine)
        rng.shuffle(mine)
    steps = [referrals.referral_start_review, referrals.referral_approve, referrals.referral_forward]
    with warming_up():
        members = Membership.objects.select_related("user", "organisation")
        actor = Actor.from_membership(members.get(pk=facilitator_pk))
        for step in steps:
            for pk in warm[worker::clients]:
                step(actor=actor, referral=pk)
        pid = backend_pid()
    done = refused = 0
    began = warmed_up()
    cpu = time.process_time(), backend_cpu_seconds(pid)
    deadline = began + seconds
    for step in steps:
        for pk in mine:
            if time.monotonic() > deadline:
                break
            try:
                step(actor=actor, referral=pk)
                done += 1
            except DomainError:
                refused += 1
    ended = time.monotonic()
    cpu = time.process_time() - cpu[0], backend_cpu_seconds(pid) - cpu[1]
    connections.close_all()
    return done, refused, *cpu, began, ended


def section_concurrency(smoke, world):
    from parcours.models import Referral
    from roles.models import Membership
    from tests.factories import make_referral

    say("· concurrency")
    per = 8 if smoke else int(os.environ.get("BENCH_CONCURRENCY_PER", 400))
    seconds = 1 if smoke else 12
    facilitator = Membership.objects.get(user=world.a.facilitator.user)
    out = {}
    for overlap in (False, True):
        for clients in CLIENTS:
            with transaction.atomic():
                pks = [make_referral(world, "sent").pk for _ in range(per)]
                warm = [make_referral(world, "sent").pk for _ in range(clients * WARM_UP_STEPS)]
            steady_statistics()
            results, elapsed = run_parallel(
                _service_worker,
                clients,
                seconds,
                pks=pks,
                warm=warm,
                clients=clients,
                overlap=overlap,
                facilitator=facilitator.pk,
            )
            done = sum(r[0] for r in results)
            refused = sum(r[1] for r in results)
            key = f"{'overlapping' if overlap else 'distinct'}_{clients}"
            out[key] = {"transitions_per_s": round(done / elapsed, 1), "refused": refused}
            attempts = max(done + refused, 1)
            # Where the cores went: each attempt's CPU in the client process and in its PostgreSQL backend.
            out[key]["cpu_ms_per_attempt"] = cpu_per_call(
                (0, 0), (sum(r[2] for r in results), sum(r[3] for r in results)), attempts
            )
            say(f"  {key}: {out[key]} in {elapsed:.2f} s")
            Referral.objects.filter(pk__in=pks).count()
    floor = RESULTS["anchors"]["floor"]["throughput_per_s"]
    out["x_floor_8_distinct"] = round(out["distinct_8"]["transitions_per_s"] / floor[8], 3)
    out["scaling_8_over_1"] = round(out["distinct_8"]["transitions_per_s"] / out["distinct_1"]["transitions_per_s"], 2)
    RESULTS["sections"]["concurrency"] = out


# --- lifecycle vs SpiffWorkflow ------------------------------------------------------------------------------------
def parcours_lifecycle(world, index, statements=None, trips=None):
    """Intake → eligibility → referral → review → hire → contract → follow-up → end → exit, through the services.
    With `statements` and `trips` dicts, each step's SQL statements and round trips are counted into them (label →
    count)."""
    import datetime

    from django.utils import timezone

    from parcours.services import followups, participants, pathways, placements, referrals
    from workflows.vocabulary import ContractType, ExitSituation, FollowUpKind, PlacementEndKind

    side = world.a
    today = timezone.localdate()
    steps = 0

    def step(call, label):
        nonlocal steps
        steps += 1
        if statements is None:
            return call()
        with Statements() as captured:
            result = call()
        statements[label] = captured.count
        trips[label] = captured.round_trips
        return result

    participant = step(
        lambda: participants.participant_create(
            actor=side.adviser,
            data={
                "first_name": "Lou",
                "last_name": f"Bench{index}",
                "birth_date": today.replace(year=today.year - 20),
                "postcode": "69001",
                "commune": "Lyon",
                "qualification_level": "level_3",
            },
            allow_duplicate=True,
        ),
        "intake",
    )
    pathway = participant.pathways.get()
    step(
        lambda: pathways.pathway_submit_eligibility(
            actor=side.adviser, pathway=pathway.pk, criteria=["YOUTH_UNDER_26_LOW_QUALIFICATION"]
        ),
        "submit_eligibility",
    )
    step(
        lambda: pathways.pathway_validate_eligibility(actor=side.facilitator, pathway=pathway.pk),
        "validate_eligibility",
    )
    referral = step(
        lambda: referrals.referral_create(actor=side.adviser, pathway=pathway.pk, offer=side.offer.pk),
        "referral_create",
    )
    step(lambda: referrals.referral_start_review(actor=side.facilitator, referral=referral.pk), "start_review")
    step(lambda: referrals.referral_approve(actor=side.facilitator, referral=referral.pk), "approve")
    step(lambda: referrals.referral_forward(actor=side.facilitator, referral=referral.pk), "forward")
    step(lambda: referrals.referral_accept(actor=side.employer_actor, referral=referral.pk), "accept")
    placement = step(
        lambda: referrals.referral_hire(
            actor=side.employer_actor,
            referral=referral.pk,
            contract_type=ContractType.CDD,
            start_date=today,
            weekly_hours=35,
        ),
        "hire",
    )
    step(lambda: placements.placement_start(actor=side.employer_actor, placement=placement.pk), "placement_start")
    step(
        lambda: followups.followup_record(
            actor=side.adviser, pathway=pathway.pk, kind=FollowUpKind.PHONE, done_on=today
        ),
        "follow_up",
    )
    step(
        lambda: placements.placement_end(
            actor=side.employer_actor, placement=placement.pk, end_date=today, end_kind=PlacementEndKind.NORMAL
        ),
        "placement_end",
    )
    step(
        lambda: pathways.pathway_exit(
            actor=side.adviser, pathway=pathway.pk, exited_on=today, situation=ExitSituation.CDI
        ),
        "exit",
    )
    del datetime
    return steps


SPIFF_SETUP = """
DROP TABLE IF EXISTS bench_spiff_log; DROP TABLE IF EXISTS bench_spiff_state;
CREATE TABLE bench_spiff_state (id bigint PRIMARY KEY, state jsonb NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE bench_spiff_log (id bigserial PRIMARY KEY, workflow_id bigint NOT NULL, task varchar(100) NOT NULL,
  occurred_at timestamptz NOT NULL);
"""


def spiff_lifecycles(count):
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.parser import BpmnParser
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.util.task import TaskState

    parser = BpmnParser()
    parser.add_bpmn_file(str(ROOT / "bench" / "lifecycle.bpmn"))
    spec = parser.get_spec("lifecycle")
    serializer = BpmnWorkflowSerializer()
    conn, cursor = _raw_cursor()
    with conn.cursor() as setup:
        setup.execute(SPIFF_SETUP)

    def lifecycle(workflow_id) -> int:
        steps = 0
        workflow = BpmnWorkflow(spec)
        workflow.do_engine_steps()
        while not workflow.is_completed():
            task = workflow.get_next_task(state=TaskState.READY, manual=True)
            task.run()
            workflow.do_engine_steps()
            state = serializer.serialize_json(workflow)
            cursor.execute("BEGIN")
            cursor.execute(
                "INSERT INTO bench_spiff_state (id, state, updated_at) VALUES (%s, %s, now()) "
                "ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
                [workflow_id, state],
            )
            cursor.execute(
                "INSERT INTO bench_spiff_log (workflow_id, task, occurred_at) VALUES (%s, %s, now())",
                [workflow_id, task.task_spec.name],
            )
            cursor.execute("COMMIT")
            steps += 1
        return steps

    lifecycle(0)  # untimed, then analyzed, as Parcours's first (`section_lifecycle`)
    steady_statistics()
    started = time.perf_counter()
    steps = sum(lifecycle(workflow_id) for workflow_id in range(1, count + 1))
    elapsed = time.perf_counter() - started
    conn.close()
    return {
        "lifecycles_per_s": round(count / elapsed, 2),
        "ms_per_step": round(elapsed / steps * 1000, 3),
        "steps_per_lifecycle": steps // count,
    }


def section_lifecycle(smoke, world):
    say("· lifecycle")
    count = 1 if smoke else 30
    # One lifecycle untimed: its statements prepared, the process's caches filled, as in a running server (the
    # transitions' figures are warm calls too); then the statistics of what it wrote.
    parcours_lifecycle(world, count + 1)
    steady_statistics()
    started = time.perf_counter()
    steps = sum(parcours_lifecycle(world, index) for index in range(count))
    elapsed = time.perf_counter() - started
    parcours = {
        "lifecycles_per_s": round(count / elapsed, 2),
        "ms_per_step": round(elapsed / steps * 1000, 3),
        "steps_per_lifecycle": steps // count,
    }
    statements, trips = {}, {}
    parcours_lifecycle(world, count, statements, trips)  # one more, its statements counted step by step
    parcours["statements_per_step"] = statements
    parcours["statements_per_lifecycle"] = sum(statements.values())
    parcours["round_trips_per_lifecycle"] = sum(trips.values())
    spiff = spiff_lifecycles(count * 3)
    out = {
        "parcours": parcours,
        "spiffworkflow": spiff,
        "x_spiff": round(parcours["lifecycles_per_s"] / spiff["lifecycles_per_s"], 3),
    }
    RESULTS["anchors"]["spiffworkflow"] = spiff
    RESULTS["sections"]["lifecycle"] = out
    say(f"  parcours {parcours}, spiffworkflow {spiff}")


# --- pages at each size --------------------------------------------------------------------------------------------
def _users():
    """The heavy adviser, a typical one (a Mission Locale of the regular size, in the middle of the list), a light one
    (the smallest Mission Locale's: generate_load makes the last one small), a facilitator and a light one (the last
    facilitation organisation, the small Mission Locale's partner), an employer and an auditor of the generated data
    set."""
    from django.contrib.auth import get_user_model

    from roles.enums import OrganisationKind, Role
    from roles.models import Membership, Organisation

    User = get_user_model()

    def last_team_member(role, kind):
        return User.objects.get(
            pk=Membership.objects.filter(role=role, organisation__kind=kind)
            .order_by("-organisation__name", "user__username")
            .values_list("user_id", flat=True)
            .first()
        )

    def middle_team_member(role, kind):
        """A member of the team in the middle of the name order: neither the first (the heavy one) nor the last (the
        small one) when there are more than two; the first otherwise (at 10,000 pathways: the heavy one)."""
        names = list(Organisation.objects.filter(kind=kind).order_by("name").values_list("name", flat=True))
        middle = names[len(names) // 2] if len(names) > 2 else names[0]
        return User.objects.get(
            pk=Membership.objects.filter(role=role, organisation__name=middle)
            .order_by("user__username")
            .values_list("user_id", flat=True)
            .first()
        )

    return {
        "adviser": User.objects.get(username="conseil.1.1"),
        "typical adviser": middle_team_member(Role.ADVISER, OrganisationKind.MISSION_LOCALE),
        "light adviser": last_team_member(Role.ADVISER, OrganisationKind.MISSION_LOCALE),
        "light facilitator": last_team_member(Role.FACILITATOR, OrganisationKind.FACILITATION),
        "facilitator": User.objects.get(username="facil.1.1"),
        "employer": User.objects.get(username="employeur.1"),
        "auditor": User.objects.get(username="auditeur.1"),
    }


def _pages():
    from django.db.models import Count

    from parcours.models import Participant, Placement
    from roles.models import Membership

    participant = Participant.objects.filter(youth_agency__name="Mission Locale 001").order_by("pk").first()
    facilitation = Membership.objects.filter(user__username="facil.1.1").values_list("organisation_id", flat=True)[0]
    busiest_lot = (  # the facilitator's lot with the most placements: its page and its clause report
        Placement.objects.filter(lot__contract__operation__facilitation_organisation_id=facilitation)
        .values("lot_id")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .values_list("lot_id", flat=True)
        .first()
    )
    lot_pages = (
        [
            ("facilitator", "facilitator lot page", f"/facilitation/registre/lots/{busiest_lot}/"),
            ("facilitator", "lot clause report (XLSX)", f"/tableau-de-bord/lots/{busiest_lot}/bilan.xlsx"),
        ]
        if busiest_lot
        else []
    )
    return lot_pages + [
        ("facilitator", "facilitator dashboard", "/tableau-de-bord/"),
        ("auditor", "auditor dashboard", "/tableau-de-bord/"),
        ("adviser", "adviser home", "/"),
        # A Mission Locale of the regular size (about 5,000 young people, half a percent of the rows at 1,000,000
        # pathways): too many rows to read them all for one page cheaply, too few for a walk in the whole table's
        # order to meet them soon.
        ("typical adviser", "adviser home, typical Mission Locale", "/"),
        ("typical adviser", "API referrals, typical Mission Locale", "/api/v1/referrals/"),
        ("typical adviser", "API placements, typical Mission Locale", "/api/v1/placements/"),
        # The smallest Mission Locale's adviser: its few rows in tables of millions (a plan made for a large team
        # walks the whole table's most recent rows to find them).
        ("light adviser", "adviser home, smallest Mission Locale", "/"),
        ("light adviser", "API pathways, smallest Mission Locale", "/api/v1/pathways/"),
        ("adviser", "adviser participants", "/conseil/jeunes/"),
        ("adviser", "adviser search", "/conseil/jeunes/?q=Benali"),
        # A name late in the alphabet and a state: the lists' worst cases when walked in name order.
        ("adviser", "adviser search (late name)", "/conseil/jeunes/?q=Rousseau"),
        ("adviser", "adviser participants by state", "/conseil/jeunes/?state=exited"),
        ("adviser", "participant file", f"/participants/{participant.pk}/"),
        ("adviser", "adviser offers", "/conseil/offres/"),
        ("adviser", "adviser inbox", "/travail/"),
        ("adviser", "adviser queue", "/travail/a-prendre/"),
        ("adviser", "notifications", "/notifications/"),
        # A facilitator and an employer see more kinds of objects, most of them through grants: their first page
        # walks the journal's latest events checking each one's scope.
        ("facilitator", "facilitator notifications", "/notifications/"),
        ("employer", "employer notifications", "/notifications/"),
        ("adviser", "API participants", "/api/v1/participants/"),
        ("facilitator", "facilitator home", "/"),
        # The smallest facilitation organisation's facilitator (one lot, the smallest Mission Locale's referrals).
        ("light facilitator", "facilitator home, smallest organisation", "/"),
        ("light facilitator", "facilitator referrals, smallest organisation", "/facilitation/positionnements/"),
        ("light facilitator", "API hours lines, smallest organisation", "/api/v1/hours-lines/"),
        ("facilitator", "facilitator referrals", "/facilitation/positionnements/"),
        ("facilitator", "facilitator register", "/facilitation/registre/"),
        ("facilitator", "facilitator eligibility", "/facilitation/eligibilite/"),
        ("facilitator", "facilitator hours", "/facilitation/heures/"),
        ("facilitator", "facilitator inbox", "/travail/"),
        ("facilitator", "API pathways", "/api/v1/pathways/"),
        ("employer", "employer home", "/"),
        ("employer", "employer candidates", "/employeur/candidatures/"),
        ("employer", "employer placements", "/employeur/salaries/"),
        ("employer", "API referrals", "/api/v1/referrals/"),
        ("auditor", "auditor home", "/"),
        ("auditor", "auditor pathways", "/audit/parcours/"),
        ("auditor", "auditor search", "/audit/parcours/?q=P-000001"),
    ]


def _slowest_plan(queries):
    slowest = max(queries, key=lambda q: q["time"], default=None)
    if slowest is None or not slowest["sql"].lstrip().upper().startswith("SELECT"):
        return None
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"], slowest["params"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return {"ms": round(float(slowest["time"]) * 1000, 1), "sql": slowest["sql"][:600], "plan": plan[:4000]}


def _load_words(machine) -> str:
    """Whether other work shared the machine: a 1-minute load average above the CPU count at the start. (The load at
    the end counts this run's own last minute: its last sections' concurrent clients or processes.)"""
    start = (machine.get("load_average_at_start") or [0])[0]
    if start > machine["cpus"]:
        return (
            "above the CPU count at the start: other work shared the machine and the times (less so the ratios) are "
            "inflated."
        )
    return (
        "below the CPU count at the start; the load at the end includes this run's own work (its concurrent clients), "
        "so other work during the run is not ruled out: compare ratios, not times."
    )


def _read(response):
    """The whole body, a streamed one (exports) included: its time is the page's."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def section_pages(size, smoke):
    say(f"· pages at {size:,} pathways")
    users = _users()
    clients = {}
    for role, user in users.items():
        client = Client()
        client.force_login(user)
        clients[role] = client
    reps = 2 if smoke else 12
    anchor = PageAnchor()
    anchor.sample(reps)
    out = {}
    for role, label, url in _pages():
        client = clients[role]
        client.get(url)  # warm the caches of this page
        with Statements() as queries:
            response = client.get(url)
            _read(response)
        if response.status_code != 200:
            raise RuntimeError(f"{label} {url}: {response.status_code}")
        samples = []
        for _ in range(reps):
            started = time.perf_counter()
            _read(client.get(url))
            samples.append((time.perf_counter() - started) * 1000)
        figure = summary(samples)
        figure["statements"] = queries.count
        if not smoke:
            figure["slowest"] = _slowest_plan(queries.sql)
        out[label] = figure
        say(f"  {label}: p50 {figure['median_ms']} ms, p95 {figure['p95_ms']} ms, {figure['statements']} statements")
    label, figure = _pathway_figures_recount(users["facilitator"], reps)
    out[label] = figure
    say(f"  {label}: p50 {figure['median_ms']} ms, p95 {figure['p95_ms']} ms, {figure['statements']} statements")
    anchor.sample(reps)
    figure = anchor.figure()
    say(f"  {PAGE_ANCHOR}: p50 {figure['median_ms']} ms, p95 {figure['p95_ms']} ms")
    return {PAGE_ANCHOR: figure, **out}


PAGE_ANCHOR = "anchor: the sign-in page, anonymous"


class PageAnchor:
    """The pages' anchor, timed in the same run: a request through the whole middleware stack rendering a template
    with a form, no query and no data. Sampled before the pages and again after them, so that it spans the same
    minutes as they do."""

    def __init__(self):
        self.client, self.url, self.samples = Client(), reverse("login"), []
        with Statements() as queries:
            response = self.client.get(self.url)
            _read(response)
        if response.status_code != 200:
            raise RuntimeError(f"{PAGE_ANCHOR} {self.url}: {response.status_code}")
        self.statements = queries.count

    def sample(self, reps):
        for _ in range(reps):
            started = time.perf_counter()
            _read(self.client.get(self.url))
            self.samples.append((time.perf_counter() - started) * 1000)

    def figure(self):
        return {**summary(self.samples), "statements": self.statements}


def _pathway_figures_recount(user, reps):
    """What the dashboards keep per team (parcours.selectors.kept_figures): the count itself, as the worker (or a
    view finding the team's figures older than PATHWAY_FIGURES_MINUTES) runs it."""
    from parcours.selectors.reports import count_pathway_figures
    from roles.actor import Actor
    from roles.models import Membership

    actor = Actor.from_membership(Membership.objects.select_related("user", "organisation").get(user=user))
    with Statements() as queries:
        count_pathway_figures(actor=actor)
    samples = []
    for _ in range(max(2, reps // 4)):
        started = time.perf_counter()
        count_pathway_figures(actor=actor)
        samples.append((time.perf_counter() - started) * 1000)
    return "facilitator pathway figures, recounted (worker)", {**summary(samples), "statements": len(queries.sql)}


def section_verify():
    """`verify_journal` as operators run it: a checkpoint sealed first (so that its running digest is recomputed too),
    then chains, reasons, checkpoint and case data, the chains in one process per CPU."""
    from parcours.audit import verify_journal
    from workflows.journal import take_checkpoint

    take_checkpoint(write_file=False, force=True)
    workers = os.cpu_count() or 1
    out = {}
    for label, count in (("one process", 1), (f"{workers} processes", workers)):
        started = time.perf_counter()
        result = verify_journal(workers=count)
        elapsed = time.perf_counter() - started
        out[label] = {
            "when": time.strftime("%Y-%m-%d %H:%M %Z"),
            "workers": count,
            "events": result.events,
            "seconds": round(elapsed, 1),
            "events_per_s": round(result.events / elapsed),
            "ok": result.ok,
        }
        say(f"· verify_journal ({label}): {out[label]}")
    return out


# --- websocket fan-out ---------------------------------------------------------------------------------------------
def section_websocket(smoke, world):
    """Deliver committed events to N websocket clients of one team, through an ASGI server and Redis."""
    if not os.environ.get("REDIS_URL"):
        say("· websocket: skipped (no REDIS_URL)")
        return {"skipped": "no REDIS_URL"}
    import socket

    import websockets
    from django.contrib.sessions.backends.db import SessionStore

    from parcours.services import referrals
    from tests.factories import make_referral

    say("· websocket")
    clients_count = 20 if smoke else 1000
    events = 3 if smoke else 20
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connections.close_all()
    # The production worker (deploy/bin/parcours-web: uvicorn, uvloop, httptools, websockets), one process.
    server = subprocess.Popen(
        [str(ROOT / "deploy" / "bin" / "parcours-web"), str(port)],
        cwd=ROOT,
        env={**os.environ, "PARCOURS_VENV": str(Path(sys.executable).parent.parent)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        session = SessionStore()
        user = world.a.adviser.user
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.save()
        with transaction.atomic():
            pks = [make_referral(world, "sent").pk for _ in range(events)]
        sent_at = {}
        delays = []

        async def main():
            for _ in range(100):
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            # As a page of the site the socket reaches (its Origin is that address: parcours.websocket_origin).
            headers = {"Cookie": f"sessionid={session.session_key}", "Origin": f"http://127.0.0.1:{port}"}
            sockets = []
            for _ in range(clients_count):
                sockets.append(
                    await websockets.connect(
                        f"ws://127.0.0.1:{port}/ws/notifications/", additional_headers=headers, open_timeout=30
                    )
                )
            await asyncio.sleep(0.5)

            async def listen(ws):
                try:
                    while True:
                        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=40))
                        received = time.perf_counter()
                        if message.get("object_id") in sent_at and message.get("action") == "start_review":
                            delays.append((received - sent_at[message["object_id"]]) * 1000)
                except (TimeoutError, websockets.ConnectionClosed):
                    return

            listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
            loop = asyncio.get_running_loop()
            for pk in pks:
                sent_at[pk] = time.perf_counter()
                await loop.run_in_executor(
                    None, lambda pk=pk: referrals.referral_start_review(actor=world.a.facilitator, referral=pk)
                )
                await asyncio.sleep(0.05)
            # Every frame or 30 s of waiting: a frame is "lost" only if it never comes, not if it comes late.
            deadline = time.perf_counter() + 30
            while len(delays) < clients_count * events and time.perf_counter() < deadline:
                await asyncio.sleep(0.1)
            for ws in sockets:
                await ws.close()
            await asyncio.gather(*listeners, return_exceptions=True)

        asyncio.run(main())
    finally:
        server.terminate()
        server.wait(timeout=10)
    expected = clients_count * events
    out = {
        "clients": clients_count,
        "events": events,
        "delivered": len(delays),
        "expected": expected,
        "server": "one uvicorn worker (deploy/bin/parcours-web)",
    }
    if delays:
        out.update({"delay_p50_ms": round(statistics.median(delays), 1), "delay_p95_ms": round(pct(delays, 95), 1)})
    say(f"  {out}")
    return out


# --- report --------------------------------------------------------------------------------------------------------
def write_markdown(path):
    r = RESULTS
    floor = r["anchors"]["floor"]
    lines = [
        "# Parcours benchmarks",
        "",
        f"Measured {r['machine']['when']} on {r['machine']['cpus']} CPU(s), {r['machine']['python']}, "
        f"PostgreSQL {r['machine']['postgresql']} with durable settings (fsync, synchronous commit). Every figure is "
        "a median over repeated runs (p95 beside it) next to its anchor measured in the same run. Generated by "
        "`make bench` (bench/run.py); bench/results.json holds every number and the plans of the slowest queries.",
        "",
        f"Load average (1, 5, 15 min) at the start: {r['machine'].get('load_average_at_start')}, at the end: "
        f"{r['machine'].get('load_average_at_end')} — {_load_words(r['machine'])}",
        "",
        "## One transition, one client",
        "",
        f"Anchor: the raw-SQL floor (lock the row, read the last journal hash, update the state, insert the journal "
        f"row, commit): **{floor['latency']['median_ms']} ms** (p95 {floor['latency']['p95_ms']} ms)"
        f"{_cpu_text(floor['latency'])}{_wal_text(floor['latency'])}.",
        "",
        "Each kind is timed on rows made for it, after a warm call (the process's caches filled, its statements "
        "prepared) and an ANALYZE of the database (`steady_statistics`: the statistics autovacuum keeps in a running "
        "one; the bench's tables grow from empty during the run, and a statement's generic plan chosen on a few rows "
        "would stay until autovacuum happened to pass).",
        "",
        "CPU per call: the mean CPU time of the calling process (Python, the driver) and of its PostgreSQL backend, "
        "over the timed calls; the rest of the median is waiting (round trips, the commit's flush). The process "
        "froze what was alive once it was set up (`gc.freeze`, as a web process does at its start: "
        "parcours/heap.py), so the garbage collector's full collections do not walk it again.",
        "",
        "Round trips: BEGIN and COMMIT not counted. Parcours's BEGIN goes with the transaction's first statement "
        "(roles/postgresql/base.py) and its COMMIT carries the e-mails' outbox rows and the notification's audience "
        "read (roles/commit.py); the floor sends each on its own.",
        "",
        "WAL per call: the bytes of write-ahead log the cluster wrote over the timed calls, per call (what the commit "
        "flushes, a replica receives and a backup archives): the rows, their indexes' entries and the commit record.",
        "",
        "Median ÷ its PostgreSQL CPU: the median over the CPU its PostgreSQL backend spent per call — what a "
        "transition costs for the database work it does (the floor's own is in the first row).",
        "",
        "| Transition | median | p95 | × floor | SQL statements (round trips) | CPU per call: Python / PostgreSQL "
        "| WAL per call | median ÷ its PostgreSQL CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    # The floor's four statements, each in its own round trip (`floor_transition`).
    anchor = {**floor["latency"], "x_floor": 1.0, "statements": 4, "round_trips": 4}
    for label, f in [("anchor: the raw-SQL floor", anchor), *r["sections"].get("transitions", {}).items()]:
        trips = f" ({f['round_trips']})" if "round_trips" in f else ""
        cpu = f"{f['cpu_ms']['client']} ms / {_ms(f['cpu_ms']['server'])}" if "cpu_ms" in f else ""
        times = f"{f['median_ms']} ms | {f['p95_ms']} ms | {f['x_floor']}×"
        wal = f"{f['wal_bytes']:,} bytes" if f.get("wal_bytes") is not None else ""
        server = f.get("cpu_ms", {}).get("server")
        own = f"{f['median_ms'] / server:.1f}×" if server else ""
        lines.append(f"| {label} | {times} | {f['statements']}{trips} | {cpu} | {wal} | {own} |")
    c = r["sections"].get("concurrency")
    if c:
        lines += [
            "",
            "## Throughput with concurrent clients (processes)",
            "",
            "Each process runs a few transitions of each kind before the timed window, which opens when all are "
            "warmed up (connection open, statements prepared and planned), as in a server keeping its connections. "
            "Transitions: start_review, approve, forward in turn, on referrals made for the run, then analyzed "
            "(`steady_statistics`). CPU per attempt: the processes' and their backends', refused attempts included.",
            "",
            "| Clients | floor (distinct rows) | Parcours, distinct referrals | CPU per attempt: Python / PostgreSQL "
            "| Parcours, overlapping (refused) |",
            "|---|---|---|---|---|",
        ]
        by_clients = floor["throughput_per_s"]  # keyed by int in a run, by str in a results.json read back
        for n in (1, 4, 8):
            distinct = c[f"distinct_{n}"]
            cpu = distinct.get("cpu_ms_per_attempt")
            cpu = f"{cpu['client']} ms / {_ms(cpu['server'])}" if cpu else ""
            lines.append(
                f"| {n} | {by_clients.get(n, by_clients.get(str(n)))}/s | {distinct['transitions_per_s']}/s | {cpu} | "
                f"{c[f'overlapping_{n}']['transitions_per_s']}/s ({c[f'overlapping_{n}']['refused']}) |"
            )
        lines += [
            "",
            f"8 clients: {c['x_floor_8_distinct']}× the floor's throughput; 8 clients give "
            f"{c['scaling_8_over_1']}× one client.",
        ]
    life = r["sections"].get("lifecycle")
    if life:
        p, s = life["parcours"], life["spiffworkflow"]
        lines += [
            "",
            "## A whole pathway",
            "",
            "Each engine runs one lifecycle untimed (caches filled, statements prepared), the database is analyzed "
            "(`steady_statistics`), then the timed ones.",
            "",
            "| | lifecycles/s | ms per step | steps |",
            "|---|---|---|---|",
            f"| SpiffWorkflow 3.2, 10 user tasks, state + log row in PostgreSQL per step | "
            f"{s['lifecycles_per_s']} | {s['ms_per_step']} | {s['steps_per_lifecycle']} |",
            f"| Parcours through the services (permissions, keyed journal, tasks, notifications) | "
            f"{p['lifecycles_per_s']} | {p['ms_per_step']} | {p['steps_per_lifecycle']} |",
            "",
            f"Parcours runs {life['x_spiff']}× SpiffWorkflow's lifecycles per second.",
        ]
        counted = p.get("statements_per_step")
        if counted:
            lines += [
                "",
                f"SQL statements per step ({p['statements_per_lifecycle']} per lifecycle"
                + (f", in {p['round_trips_per_lifecycle']} round trips" if "round_trips_per_lifecycle" in p else "")
                + "; BEGIN and COMMIT not counted): "
                + ", ".join(f"{label} {n}" for label, n in counted.items())
                + ".",
            ]
    pages = r["sections"].get("pages", {})
    if pages:
        sizes = list(pages)
        lines += [
            "",
            "## Pages and API lists by data-set size (p50 / p95 ms, SQL statements)",
            "",
            *(
                [f"Measured {r['sections']['pages_measured']} (a run of `--only pages`).", ""]
                if r["sections"].get("pages_measured")
                else []
            ),
            "| Page | " + " | ".join(f"{int(size):,} pathways" for size in sizes) + " |",
            "|---|" + "---|" * len(sizes),
        ]
        for label in pages[sizes[0]]:
            cells = []
            for size in sizes:
                f, anchor = pages[size].get(label), pages[size].get(PAGE_ANCHOR)
                cell = f"{f['median_ms']} / {f['p95_ms']} ({f['statements']})" if f else "—"
                if f and anchor and label != PAGE_ANCHOR:
                    cell += f" · {f['median_ms'] / anchor['median_ms']:.1f}×"
                cells.append(cell)
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "The first row is the pages' anchor, timed in the same run: the sign-in page requested anonymously (the "
            "middleware and a template, no query). The figure after · is a page's p50 over the anchor's: how many "
            "requests that need no data the page costs on the machine of that run.",
            "",
            "The dashboards read their team's pathway figures (funnel, stays, exits) kept for "
            "`PARCOURS_PATHWAY_FIGURES_MINUTES`; counting them, as the worker does before they age out, is the "
            "*recounted (worker)* row.",
        ]
    v = r["sections"].get("verify")
    if v:
        lines += [
            "",
            "## verify_journal",
            "",
            "Chains, reasons, a checkpoint's running digest and the case data, after `journal_checkpoint`.",
            "",
            "| processes | events | seconds | events/s | ok | measured |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {run['workers']} | {run['events']:,} | {run['seconds']} | **{run['events_per_s']:,}** | {run['ok']} "
            f"| {run.get('when', r['machine']['when'])} |"
            for run in v.values()
        ]
    w = r["sections"].get("websocket")
    if w and "skipped" not in w:
        lines += [
            "",
            "## WebSocket fan-out through Redis",
            "",
            f"{w['clients']} clients of one team on {w.get('server', 'daphne')}, {w['events']} events: "
            f"{w['delivered']}/{w['expected']} "
            f"delivered, delay p50 {w.get('delay_p50_ms')} ms, p95 {w.get('delay_p95_ms')} ms."
            + (f" Measured {w['when']}." if w.get("when") else ""),
        ]
    Path(path).write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes, short runs: checks the harness works.")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--md", default=str(ROOT / "bench" / "RESULTS.md"))
    parser.add_argument("--only", default="", help="Comma-separated sections to run (default: all).")
    parser.add_argument("--show-sql", default="", help="Print the statements of these transitions (labels).")
    parser.add_argument("--profile", default="", help="Profile these transitions (labels): where the time goes.")
    parser.add_argument(
        "--server-statements",
        default="",
        help="Print the statements of these transitions as pg_stat_statements counts them (server time).",
    )
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    SHOW_SQL.update(filter(None, args.show_sql.split(",")))
    PROFILE.update(filter(None, args.profile.split(",")))
    SERVER_STATEMENTS.update(filter(None, args.server_statements.split(",")))
    if SERVER_STATEMENTS:
        with connection.cursor() as cursor:
            cursor.execute("SHOW shared_preload_libraries")
            if "pg_stat_statements" not in cursor.fetchone()[0]:
                raise SystemExit(
                    "--server-statements needs pg_stat_statements loaded by the server: start it with "
                    '-c shared_preload_libraries=pg_stat_statements (scripts/with-postgres.sh: PG_OPTIONS="-c …").'
                )
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            # The statements of triggers and functions too, and the planning of each (superuser settings).
            cursor.execute("SET pg_stat_statements.track = 'all'")
            cursor.execute("SET pg_stat_statements.track_planning = on")

    def wanted(section):
        return not only or section in only

    if not settings.DEBUG:  # pages are served as in production: the hashed static files collectstatic writes
        call_command("collectstatic", interactive=False, verbosity=0)

    if connection.vendor != "postgresql":
        raise SystemExit("bench/run.py needs PostgreSQL (DATABASE_URL).")
    sizes = [int(s) for s in ("200,600" if args.smoke else args.sizes).split(",")]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
        cursor.execute("SHOW fsync")
        fsync = cursor.fetchone()[0]
    RESULTS["machine"] = {
        "when": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "fsync": fsync,
        "smoke": args.smoke,
        # Other work on the machine skews every figure (ratios less than times): the load is recorded with them.
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    call_command("migrate", verbosity=0)
    section_floor(args.smoke)  # every ratio needs its anchor
    world = bench_world()
    # As a web process does once started (parcours/asgi.py): what is alive now (Django, the apps, the URLconf, the
    # bench's world) is left out of the garbage collector's full collections, which walked it all (~130 ms each).
    freeze_startup_objects()
    if wanted("transitions"):
        section_transitions(args.smoke, world)
    if wanted("concurrency"):
        section_concurrency(args.smoke, world)
    if wanted("lifecycle"):
        section_lifecycle(args.smoke, world)
    if wanted("websocket"):
        RESULTS["sections"]["websocket"] = section_websocket(args.smoke, world)
    if wanted("pages") or wanted("verify"):
        RESULTS["sections"]["pages"] = {}
        for size in sizes:
            _reset_database()
            call_command("generate_load", pathways=size, verbosity=0)
            if wanted("pages"):
                RESULTS["sections"]["pages"][str(size)] = section_pages(size, args.smoke)
        if wanted("verify"):
            RESULTS["sections"]["verify"] = section_verify()
    RESULTS["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    Path(args.out).write_text(json.dumps(RESULTS, indent=2, ensure_ascii=False) + "\n")
    write_markdown(args.md)
    print("\n" + Path(args.md).read_text(), flush=True)  # the tables, each figure beside its anchor
    say(f"Written: {args.out}, {args.md}")


def _reset_database():
    """An empty database for the next size (the fixtures of the other sections are dropped with it)."""
    connections.close_all()
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)


if __name__ == "__main__":
    settings.PARCOURS  # noqa: B018 - settings are loaded
    main()

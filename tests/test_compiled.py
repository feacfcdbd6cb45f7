"""Reads compiled once (workflows.compiled): the same rows as the queryset, one statement, no compiling at the second
call, and a refusal of querysets whose SQL would freeze a value that is not an argument."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from parcours.work.flows import open_tasks_of_pathway
from parcours.work.models import OPEN_TASK_STATUSES, WorkTask
from roles.policy import forget_permission_ids
from roles.statements import Compiled
from tests.factories import make_pathway, make_referral
from workflows.models import JournalEvent

pytestmark = pytest.mark.django_db


def _open_tasks_queryset(pathway_id):
    return (
        WorkTask.objects.filter(pathway_id=pathway_id, status__in=OPEN_TASK_STATUSES)
        .select_related("task", "pathway", "referral", "follow_up__placement")
        .order_by("task_id")
    )


def _seen(work_task):
    return (
        work_task.pk,
        work_task.kind,
        work_task.task.flow_task.name,
        work_task.task.status,
        work_task.pathway.state,
        work_task.referral.state if work_task.referral_id else None,
    )


def test_the_open_tasks_of_a_pathway_are_the_querysets_rows_with_their_related_rows(world):
    pathways = [make_pathway(world, "eligibility_pending"), make_referral(world, "under_review").pathway]
    for pathway in pathways:
        expected = [_seen(w) for w in _open_tasks_queryset(pathway.pk)]
        assert expected, "each pathway has an open task"
        with CaptureQueriesContext(connection) as queries:
            found = open_tasks_of_pathway(pathway.pk)
            seen = [_seen(w) for w in found]  # the related rows come with the row: no further statement
        assert seen == expected
        assert len(queries) == 1
    assert open_tasks_of_pathway(10**9) == []


def test_a_compiled_read_builds_its_queryset_once_per_database_and_kind_of_arguments(world):
    built = []

    def build(object_type, object_id):
        built.append((object_type, object_id))
        return (
            JournalEvent.objects.filter(object_type=object_type, object_id=object_id)
            .order_by("-sequence")
            .values_list("sequence", "action")
        )

    chain = Compiled(build, arguments=2)
    referral = make_referral(world, "approved")
    expected = list(build("referral", referral.pk))
    built.clear()
    assert chain("referral", referral.pk) == expected
    assert chain("pathway", referral.pathway_id) == list(
        JournalEvent.objects.filter(object_type="pathway", object_id=referral.pathway_id)
        .order_by("-sequence")
        .values_list("sequence", "action")
    )
    assert chain("referral", 10**9) == []
    assert len(built) == 2  # compiled once: built with two sets of markers, then never again
    with pytest.raises(TypeError):
        chain("referral")


def test_a_value_computed_while_building_is_refused_not_frozen(db):
    moving = Compiled(lambda pathway_id: WorkTask.objects.filter(pathway_id=pathway_id, due_at__lt=timezone.now()))
    with pytest.raises(ValueError, match="depends on more than its arguments"):
        moving(1)


def test_an_argument_written_into_the_sql_text_is_refused(db):
    folded = Compiled(lambda pathway_id: WorkTask.objects.extra(where=[f"pathway_id = {int(pathway_id)}"]))
    with pytest.raises(ValueError, match="depends on more than its arguments"):
        folded(1)


def test_an_argument_the_shape_does_not_use_changes_nothing(world):
    pathway = make_pathway(world, "eligibility_pending")
    unused = Compiled(lambda pathway_id, organisation: _open_tasks_queryset(pathway_id), arguments=2)
    assert [_seen(w) for w in unused(pathway.pk, 1)] == [_seen(w) for w in _open_tasks_queryset(pathway.pk)]


def test_reads_are_compiled_again_once_permissions_are_created_again(world):
    built = []

    def build(pathway_id):
        built.append(pathway_id)
        return _open_tasks_queryset(pathway_id)

    read = Compiled(build)
    pathway = make_pathway(world, "eligibility_pending")
    read(pathway.pk)
    read(pathway.pk)
    assert len(built) == 2  # two sets of sentinels, once
    forget_permission_ids()  # post_migrate: the permission ids held in compiled scope checks may have changed
    assert [_seen(w) for w in read(pathway.pk)] == [_seen(w) for w in _open_tasks_queryset(pathway.pk)]
    assert len(built) == 4


def _row_lock_of_pathway():
    from parcours.models import Pathway

    return Compiled(lambda pk: Pathway.objects.filter(pk=pk).select_for_update(of=("self",)).values_list("pk")[:1])


def _states():
    from parcours.models import Pathway

    return Compiled(lambda pk: Pathway.objects.filter(pk=pk).values_list("pk", "state"))


def test_a_read_after_another_statement_returns_the_read_s_rows_in_one_round_trip_on_postgresql(world, settings):
    from django.db import transaction

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    pathway = make_pathway(world, "eligibility_pending")
    lock, read = _row_lock_of_pathway(), _states()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        rows = read(pathway.pk, after=lock.statement(pathway.pk))
        nothing = read(pathway.pk + 10_000, after=lock.statement(pathway.pk + 10_000))
    assert rows == [(pathway.pk, "eligibility_pending")] and nothing == []
    if connection.vendor == "postgresql":  # both statements in one text: the lock's rows are not read
        assert len(queries) == 2 and all("FOR UPDATE" in q["sql"] and "; " in q["sql"] for q in queries)
    else:  # SQLite: no row lock, the statement runs first on its own
        assert len(queries) == 4


def test_the_rows_of_the_statement_before_the_read_are_handed_back_when_asked(world, monkeypatch):
    """`after_rows`: the first statement's rows (the processes a SKIP LOCKED lock took), whichever way it was sent."""
    from django.db import transaction

    pathway = make_pathway(world, "eligibility_pending")
    lock, read = _row_lock_of_pathway(), _states()
    ways = [False]
    if connection.vendor == "postgresql":
        ways.append(True)  # server-side binding: the two statements one by one
    for apart in ways:
        if apart:
            monkeypatch.setitem(connection.settings_dict["OPTIONS"], "server_side_binding", True)
        taken, none_taken = [], []
        with transaction.atomic():
            rows = read(pathway.pk, after=lock.statement(pathway.pk), after_rows=taken)
            nothing = read(pathway.pk, after=lock.statement(pathway.pk + 10_000), after_rows=none_taken)
        assert rows == nothing == [(pathway.pk, "eligibility_pending")]
        assert (taken, none_taken) == ([(pathway.pk,)], [])


@pytest.mark.postgres
def test_with_server_side_binding_the_statement_before_the_read_goes_on_its_own(world, monkeypatch, settings):
    from django.db import transaction

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    pathway = make_pathway(world, "eligibility_pending")
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "server_side_binding", True)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        rows = _states()(pathway.pk, after=_row_lock_of_pathway().statement(pathway.pk))
    assert rows == [(pathway.pk, "eligibility_pending")]
    assert [("FOR UPDATE" in q["sql"], "; " in q["sql"]) for q in queries] == [(True, False), (False, False)]


def test_a_date_argument_is_substituted_as_the_database_takes_it(world):
    import datetime

    from parcours.models import Pathway

    pathways = [make_pathway(world, "eligibility_pending") for _ in range(2)]
    Pathway.objects.filter(pk=pathways[1].pk).update(started_on=timezone.localdate() - datetime.timedelta(days=5))
    since = Compiled(
        lambda day: Pathway.objects.filter(started_on__gte=day).order_by("pk").values_list("pk", flat=True)
    )
    for days in (0, 4, 5, 6):
        day = timezone.localdate() - datetime.timedelta(days=days)
        assert since(day) == list(
            Pathway.objects.filter(started_on__gte=day).order_by("pk").values_list("pk", flat=True)
        )
    assert len(since(timezone.localdate() - datetime.timedelta(days=5))) == len(since(datetime.date(2000, 1, 1)))


def test_a_date_computed_from_the_argument_is_refused_not_frozen(db):
    import datetime

    from parcours.models import Pathway

    shifted = Compiled(lambda day: Pathway.objects.filter(started_on__gte=day + datetime.timedelta(days=1)))
    with pytest.raises(ValueError, match="depends on more than its arguments"):
        shifted(timezone.localdate())


def test_rows_brought_back_by_another_read_become_what_the_read_returns(world):
    """`objects(rows)`: the raw rows of `statement()` sent in another read's round trip (`also=`), converted by the
    read's own compiler — dates, times, an annotation and related rows as the read itself returns them, on SQLite
    (where times come back naive and booleans as 0 or 1) as on PostgreSQL. Nothing is sent."""
    from django.db.models import Exists, OuterRef

    from parcours.models import AssessedCriterion, EligibilityAssessment

    pathway = make_pathway(world, "eligibility_pending")
    read = Compiled(
        lambda pk: EligibilityAssessment.objects.filter(pathway_id=pk)
        .select_related("pathway")
        .annotate(declares=Exists(AssessedCriterion.objects.filter(assessment=OuterRef("pk"))))
        .order_by("-pk")
    )
    sql, params, _ = read.statement(pathway.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    with CaptureQueriesContext(connection) as queries:
        found = read.objects(rows, pathway.pk)
    assert queries.captured_queries == [] and found == read(pathway.pk) and len(found) == 1
    assessment = found[0]
    assert timezone.is_aware(assessment.submitted_at)
    assert assessment.declares is True and assessment.pathway.started_on == pathway.started_on
    assert read.objects([], pathway.pk) == []


def test_rows_brought_back_lose_the_columns_only_the_order_needed(world):
    """A distinct read ordered on a column it does not return selects that column too (Django's extra select):
    `objects(rows)` returns what the read returns, without it."""
    from parcours.models import Pathway

    pathway = make_pathway(world, "eligibility_pending")
    read = Compiled(lambda pk: Pathway.objects.filter(pk=pk).distinct().values_list("pk").order_by("state"))
    sql, params, _ = read.statement(pathway.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    assert len(rows[0]) == 2  # the order's column came back too
    assert read.objects(rows, pathway.pk) == read(pathway.pk) == [(pathway.pk,)]


def _count_orm_compilations(monkeypatch) -> list:
    """From now on, each statement a Django compiler builds (its class's own `as_sql`), appended to the list
    returned: (compiler, model)."""
    from django.db.models.sql import compiler as compilers

    built = []
    for name in ("SQLCompiler", "SQLInsertCompiler", "SQLUpdateCompiler", "SQLDeleteCompiler", "SQLAggregateCompiler"):
        cls = getattr(compilers, name)
        original = cls.__dict__["as_sql"]  # each defines its own (Django 5.2)

        def counting(self, *args, __original=original, __name=name, **kwargs):
            built.append((__name, self.query.model and self.query.model._meta.label))
            return __original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "as_sql", counting)
    return built


# The transitions `make bench` times (bench/run.py, TRANSITIONS): machine, source state, service call.
TIMED = [
    ("pathway", "intake", "pathway.submit_eligibility"),
    ("pathway", "eligibility_pending", "pathway.validate_eligibility"),
    ("referral", "sent", "referral.start_review"),
    ("referral", "under_review", "referral.approve"),
    ("referral", "approved", "referral.forward"),
    ("referral", "forwarded", "referral.accept"),
    ("referral", "accepted", "referral.hire"),
    ("placement", "planned", "placement.start"),
    ("placement", "active", "placement.end"),
    ("hoursline", "declared", "hoursline.validate"),
    ("pathway", "in_follow_up", "pathway.exit"),
]


@pytest.mark.postgres
@pytest.mark.parametrize(("machine", "source", "action"), TIMED, ids=[action for *_, action in TIMED])
def test_a_warm_transition_builds_no_statement_with_the_orm(world, machine, source, action, monkeypatch):
    """On PostgreSQL every statement of a timed transition is compiled once per process (roles.statements, roles.rows,
    the work layer's driver): compiling a query with the ORM at each call cost more Python time than the database
    took to answer it (validate_eligibility's guard read: about a quarter of its time). A compiler's own `as_sql` is
    never called on a warm call (a compiled read replaces it on its copy)."""
    from roles.enums import Role
    from tests.factories import call_service, make
    from workflows.transitions import MACHINES

    roles = MACHINES[machine][action.split(".")[1]].roles
    actor = world.actor(next(r for r in (Role.FACILITATOR, Role.EMPLOYER, Role.ADVISER) if r in roles), "a")
    call_service(action, actor, make(world, machine, source))  # cold: caches, compiled reads
    obj = make(world, machine, source)
    built = _count_orm_compilations(monkeypatch)
    call_service(action, actor, obj)
    assert built == []


@pytest.mark.postgres
def test_a_warm_intake_builds_no_statement_with_the_orm(world, monkeypatch):
    """An intake: its duplicate check and its adviser task's referent check (roles.statements) as the transitions'."""
    from parcours.services import participants
    from tests.factories import years_ago

    def intake(last_name):
        data = {
            "first_name": "Sofiane",
            "last_name": last_name,
            "birth_date": years_ago(20),
            "postcode": "93200",
            "commune": "Saint-Denis",
            "qualification_level": "infra_3",
        }
        return participants.participant_create(actor=world.a.adviser, data=data)

    intake("Cold")  # caches, compiled reads
    built = _count_orm_compilations(monkeypatch)
    participant = intake("Warm")
    assert built == [] and participant.pathways.get().work_tasks.filter(owner=world.a.adviser.user).exists()


@pytest.mark.postgres
def test_a_scoped_read_is_planned_for_its_viewer_not_prepared(world):
    """`policy.member_rows` reads are compiled once but planned at each run: a prepared statement's generic plan
    hashed a facilitator's whole scope (53 ms at 1,000,000 pathways, 0.4 ms planned for its ids). Other compiled
    reads are prepared from their second run."""
    from parcours.selectors.journal import participant_timeline_events

    pathway = make_pathway(world, "eligibility_pending")
    for _ in range(4):
        with CaptureQueriesContext(connection) as timeline:
            assert participant_timeline_events(world.a.facilitator, pathway.participant_id)
        with CaptureQueriesContext(connection) as tasks:
            assert open_tasks_of_pathway(pathway.pk)
    assert len(timeline) == 1 and not timeline[0]["sql"].startswith("EXECUTE")
    assert tasks[0]["sql"].startswith("EXECUTE")

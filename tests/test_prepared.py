"""Statements prepared once per PostgreSQL session (roles.statements.prepared): the same rows as unprepared, one
PREPARE per session and statement from its second run, constants kept in the prepared text, a statement PostgreSQL
refuses run unprepared without harming the transaction, nothing prepared when the setting is off or on SQLite."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from parcours.models import Referral
from parcours.work.flows import open_tasks_of_pathway
from roles import policy
from roles.enums import Role
from roles.statements import _UNPREPARABLE, PREPARE_AT_RUN, Template, prepared, sentinel
from tests.factories import make_referral

pytestmark = pytest.mark.django_db

PATHWAYS_OF = 'SELECT "id" FROM "parcours_pathway" WHERE "id" = %s AND "state" = %s'


def _prepared_in_session():
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'parcours\\_%%'")
        return dict(cursor.fetchall())


def _run(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@pytest.mark.postgres
def test_a_statement_is_prepared_once_per_session_with_its_constants_as_literals(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": True}
    referral = make_referral(world, "sent")
    params = [referral.pathway_id, referral.pathway.state]
    assert prepared(PATHWAYS_OF, params, [0]) == (PATHWAYS_OF, params)  # run once in a session: not prepared
    sql, bound = prepared(PATHWAYS_OF, params, [0])
    assert sql.startswith("EXECUTE parcours_") and bound == [referral.pathway_id]
    assert _run(sql, bound) == _run(PATHWAYS_OF, params) == [(referral.pathway_id,)]
    name = sql.split()[1].split("(")[0]
    text = _prepared_in_session()[name]
    assert '"id" = $1' in text and f"\"state\" = '{referral.pathway.state}'" in text  # the constant, a literal
    with CaptureQueriesContext(connection) as queries:
        again, _ = prepared(PATHWAYS_OF, params, [0])
        _run(again, [referral.pathway_id])
    assert again == sql and len(queries) == 1  # no second PREPARE
    prepared(PATHWAYS_OF, [referral.pathway_id, "closed"], [0])
    other, _ = prepared(PATHWAYS_OF, [referral.pathway_id, "closed"], [0])
    # another constant is another statement (a permission id recreated by a flush)
    assert other.startswith("EXECUTE parcours_") and other != sql
    assert _run(other, [referral.pathway_id]) == []


@pytest.mark.postgres
def test_a_statement_postgresql_refuses_to_prepare_runs_unprepared_and_the_transaction_goes_on(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": True}
    untyped = "SELECT %s IS NULL"  # PostgreSQL cannot type $1 here
    with transaction.atomic():
        prepared(untyped, [None], [0])  # its first run
        sql, params = prepared(untyped, [None], [0])
        assert (sql, params) == (untyped, [None])
        assert _run(sql, params) == [(True,)]
        assert _run("SELECT 1", []) == [(1,)]  # the transaction is not aborted: it still answers
    assert len(_UNPREPARABLE) >= 1
    assert prepared(untyped, [None], [0]) == (untyped, [None])  # not tried again


@pytest.mark.postgres
def test_the_hot_reads_run_prepared_and_answer_as_before(world, settings):
    """The transition's reads (lock, scope checks, open tasks, audience) through their prepared statements."""
    referral = make_referral(world, "under_review")
    facilitator = world.actor(Role.FACILITATOR, "a")
    answers = []
    # off (none prepared); on, a first run in this session or not (the fixtures ran some); on, again (all prepared)
    for mode, expect_prepared in ((False, False), (True, None), (True, True), (True, True)):
        settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": mode}
        with CaptureQueriesContext(connection) as queries:
            answers.append(
                (
                    policy.allows(facilitator, "referral.view", Referral(pk=referral.pk)),
                    policy.audience("referral.view", referral),
                    [(w.pk, w.kind) for w in open_tasks_of_pathway(referral.pathway_id)],
                )
            )
        executed = [q["sql"] for q in queries]
        if expect_prepared is not None:
            assert all(sql.startswith("EXECUTE parcours_") == expect_prepared for sql in executed), executed
    assert answers[0] == answers[1] == answers[2] == answers[3]
    assert answers[0][0] is True and answers[0][1] and answers[0][2]


def test_nothing_is_prepared_when_off_or_on_another_database(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": connection.vendor != "postgresql"}
    assert prepared(PATHWAYS_OF, [1, "sent"], [0]) == (PATHWAYS_OF, [1, "sent"])


def test_a_compiled_update_changes_the_rows_it_reaches_and_runs_prepared_from_its_second_run(world, settings):
    """Template.of_update: the UPDATE compiled once with a sentinel (its filter through a relation made a subquery),
    run with each value; on PostgreSQL an EXECUTE of the prepared statement from its second run in a session."""
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": True}
    first, second = make_referral(world, "sent"), make_referral(world, "sent")
    marker = sentinel()
    statement = Template.of_update(
        Referral.objects.filter(pathway__participant_id=marker),
        {"motivation": "revue"},
        required=("value",),
        value=marker,
    )
    participants = first.pathway.participant_id, second.pathway.participant_id
    with CaptureQueriesContext(connection) as queries:
        assert statement.execute(value=participants[0]) == 1
        assert statement.execute(value=participants[1]) == 1
        assert statement.execute(value=-1) == 0
    assert Referral.objects.filter(motivation="revue").count() == 2
    executed = [q["sql"] for q in queries]
    assert executed[0].startswith("UPDATE")
    assert all(sql.startswith("EXECUTE parcours_") == (connection.vendor == "postgresql") for sql in executed[1:])


@pytest.mark.postgres
def test_the_conversion_of_a_statement_of_many_parameters_is_kept_between_runs(world):
    # A prepared plan statement of a hire takes ~80 parameters: psycopg splits its text once (roles.statements
    # .keep_conversions_of_long_statements, from RolesConfig.ready), not at every run.
    from psycopg import _queries

    sql = "SELECT " + ", ".join(["%s::int"] * 120)
    assert _queries.MAX_CACHED_STATEMENT_PARAMS >= 120
    _run(sql, list(range(120)))
    before = _queries._query2pg_client.cache_info()
    assert _run(sql, list(range(1, 121))) == [tuple(range(1, 121))]
    after = _queries._query2pg_client.cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses


def _nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.postgres
def test_a_grant_audience_reads_its_granted_object_once_under_a_plan_made_on_small_tables(world, settings):
    """A prepared statement keeps the generic plan made on the statistics of its first runs. A pathway's audience read
    its participant's grants through `IN (SELECT participant …)`: planned while the tables were small, it probed the
    pathway once per grant, until the next ANALYZE (referrals made in one transaction: 21 ms each at 40 grants, 384
    ms at 600). A scalar subquery reads it once, whatever the plan."""
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": True}
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE parcours_pathway, parcours_participantgroupobjectpermission")  # a world without any
    pathway = [make_referral(world, "sent") for _ in range(6)][-1].pathway
    statement = policy.audience_statement("participant.view", pathway)
    for _ in range(PREPARE_AT_RUN):
        sql, params = prepared(*statement)
    assert sql.startswith("EXECUTE parcours_"), sql
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0][0]["Plan"]
    loops = [node["Actual Loops"] for node in _nodes(plan) if node.get("Relation Name") == "parcours_pathway"]
    assert loops and max(loops) == 1, plan
    assert policy.teams_of(_run(sql, params)) == policy.audience("participant.view", pathway) != set()

"""Reads carried by a transaction's COMMIT (roles.commit): sent with it in one round trip, seeing what the transaction
wrote; dropped with a rollback; never costing the transaction when they fail. A transition's notification audience
goes this way on PostgreSQL."""

import contextlib
import logging

import pytest
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from parcours import notifications
from roles import commit
from tests.factories import World, call_service, make
from workflows.models import JournalEvent


def test_only_a_postgresql_transaction_carries_reads(db):
    # The test's own transaction is open: on PostgreSQL a read would go with its commit; SQLite has no such commit.
    assert commit.can_carry() is (connection.vendor == "postgresql")


def committed(test):
    """A PostgreSQL test whose transactions really commit."""
    return pytest.mark.postgres(pytest.mark.django_db(transaction=True)(test))


@pytest.fixture
def probe(transactional_db):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE carried_probe (n int UNIQUE DEFERRABLE INITIALLY DEFERRED)")
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE carried_probe")


def probe_rows():
    with connection.cursor() as cursor:
        cursor.execute("SELECT n FROM carried_probe ORDER BY n")
        return [n for (n,) in cursor.fetchall()]


def write(*values):
    with connection.cursor() as cursor:
        for n in values:
            cursor.execute("INSERT INTO carried_probe VALUES (%s)", [n])


def left() -> dict:
    """The connection wrapper's own attributes (`connection` is a proxy to it), where the reads are left."""
    return connections[DEFAULT_DB_ALIAS].__dict__


def idle() -> bool:
    from psycopg.pq import TransactionStatus

    return connection.connection.info.transaction_status == TransactionStatus.IDLE


@committed
def test_the_commit_sends_the_reads_in_one_round_trip_and_they_see_the_transaction(probe):
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        write(1, 2, 3)
        above = commit.carry("SELECT count(*) FROM carried_probe WHERE n > %s", [1], [0])
        both = commit.carry("SELECT %s::int, %s::text", [7, "sept"], [0, 1])
        assert above.rows is None and both.rows is None  # not yet sent
    assert above.rows == [(2,)] and both.rows == [(7, "sept")]
    texts = [query["sql"] for query in captured.captured_queries]
    assert texts[-1].startswith(f"SAVEPOINT {commit.SAVEPOINT}; ") and texts[-1].endswith("; COMMIT")
    assert texts.count("COMMIT") == 0  # no COMMIT of its own
    assert idle() and probe_rows() == [1, 2, 3]  # committed
    assert commit.CARRIED not in left()


@committed
def test_outside_a_transaction_nothing_is_carried(probe):
    assert commit.carry("SELECT 1", [], []) is None


@committed
def test_a_rollback_drops_the_reads(probe):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        write(1)
        read = commit.carry("SELECT count(*) FROM carried_probe WHERE n > %s", [0], [0])
        1 / 0  # noqa: B018
    assert read.rows is None and commit.CARRIED not in left()
    assert probe_rows() == []
    with transaction.atomic():  # the next transaction commits alone
        write(2)
    assert read.rows is None and probe_rows() == [2]


@committed
def test_a_failing_read_never_costs_the_transaction(probe, caplog):
    with caplog.at_level(logging.WARNING, logger="roles.commit"), transaction.atomic():
        write(1)
        failing = commit.carry("SELECT 1 / %s", [0], [0])
        after = commit.carry("SELECT %s::int", [5], [0])
    assert failing.rows is None and after.rows is None  # the text stopped at the error: read after the commit
    assert idle() and probe_rows() == [1]  # the transaction committed all the same
    assert "what a commit carried failed" in caplog.text and "division by zero" in caplog.text


@committed
def test_a_failing_commit_fails_as_a_commit(probe):
    with pytest.raises(IntegrityError), transaction.atomic():
        write(1, 1)  # the unique check is deferred to the COMMIT
        read = commit.carry("SELECT %s::int", [5], [0])
    assert read.rows is None
    assert idle() and probe_rows() == []  # rolled back, and the connection usable


@committed
def test_reads_left_in_a_savepoint_rolled_back_are_dropped(probe):
    with transaction.atomic():
        kept = commit.carry("SELECT %s::int", [1], [0])
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            dropped = commit.carry("SELECT %s::int", [2], [0])
            1 / 0  # noqa: B018
        with transaction.atomic():  # a savepoint released: its reads stay
            released = commit.carry("SELECT %s::int", [3], [0])
        assert [read.params for read in left()[commit.CARRIED]] == [kept.params, released.params]
    assert kept.rows == [(1,)] and released.rows == [(3,)] and dropped.rows is None


@committed
def test_a_transaction_an_error_was_swallowed_in_is_never_committed_silently(probe):
    from django.db import DatabaseError

    with pytest.raises(DatabaseError, match="failed before its commit"), transaction.atomic():
        write(1)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 / %s", [0])
        except DatabaseError:
            pass  # swallowed: PostgreSQL has aborted the transaction, Django does not know
        read = commit.carry("SELECT %s::int", [5], [0])
    assert read.rows is None and idle() and probe_rows() == []


@committed
def test_a_prepared_read_is_carried_as_its_execute(probe, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": True}
    texts = []
    for n in (1, 2):  # prepared at its second run in the session (roles.statements.PREPARE_AT_RUN)
        with CaptureQueriesContext(connection) as captured, transaction.atomic():
            write(n)
            read = commit.carry("SELECT count(*) FROM carried_probe WHERE n >= %s AND %s", [1, True], [0])
        texts.append(captured.captured_queries[-1]["sql"])
        assert read.rows == [(n,)]
    assert "EXECUTE" not in texts[0] and "; EXECUTE parcours_" in texts[1]


@contextlib.contextmanager
def isolation(name):
    """The connection's transactions at isolation level `name` (psycopg's IsolationLevel), for the block."""
    from psycopg import IsolationLevel

    driver = connection.connection
    before = driver.isolation_level
    driver.isolation_level = IsolationLevel[name]
    try:
        yield
    finally:
        driver.isolation_level = before


@committed
def test_above_read_committed_nothing_is_carried(probe):
    """Its snapshot would miss a grant revoked since the transaction began: read after the commit instead."""
    with isolation("REPEATABLE_READ"), transaction.atomic():
        assert commit.carry("SELECT 1", [], []) is None


@committed
def test_a_transitions_audience_rides_with_its_commit(monkeypatch):
    world = World.build()
    referral = make(world, "referral", "sent")
    sent = []
    monkeypatch.setattr(notifications, "get_channel_layer", lambda: object())
    monkeypatch.setattr(notifications, "_deliver", lambda layer, groups, payload: sent.append((groups, payload)))
    with CaptureQueriesContext(connection) as captured:
        call_service("referral.start_review", world.a.facilitator, referral)
    texts = [query["sql"] for query in captured.captured_queries]
    last = max(i for i, text in enumerate(texts) if text.endswith("COMMIT"))
    assert texts[last].startswith(f"SAVEPOINT {commit.SAVEPOINT}; ") and last == len(texts) - 1  # no read after it
    event = JournalEvent.objects.filter(object_type="referral", object_id=referral.pk).latest("id")
    ((groups, payload),) = sent
    assert payload["event_id"] == event.pk and payload["action"] == "start_review"
    # The teams read with the commit are those a read of the committed rows finds: the facilitation's facilitators
    # and the referring organisation's advisers, none of the other territory.
    expected = sorted({notifications.team_group(org, role) for org, role in notifications.audience_of(event)})
    assert groups == expected
    assert notifications.team_group(world.a.facilitation.pk, "facilitator") in groups
    assert not any(group.startswith(f"organisation-{world.b.youth_agency.pk}-") for group in groups)


# --- The BEGIN carried by a transaction's first statement (roles.postgresql.BeginningCursor) ----------------------
@pytest.fixture
def sent_alone(monkeypatch):
    """The commands psycopg sends on their own (its BEGIN, COMMIT, ROLLBACK), as they go."""
    sent = []
    driver = connection.connection
    own = driver._exec_command

    def spy(command, *args, **kwargs):
        sent.append(bytes(command))
        return own(command, *args, **kwargs)

    monkeypatch.setattr(driver, "_exec_command", spy)
    return sent


@committed
def test_a_transaction_s_first_statement_carries_its_begin(probe, sent_alone):
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s::int", [42])
            assert cursor.fetchall() == [(42,)]  # its own result, not the BEGIN's
        assert not idle()  # the transaction is open
        write(1)
        with connection.cursor() as cursor:  # a text of several statements: each result in turn
            cursor.execute("SELECT 1; SELECT 2")
            assert cursor.fetchall() == [(1,)] and cursor.nextset() and cursor.fetchall() == [(2,)]
    assert not any(command.startswith(b"BEGIN") for command in sent_alone)
    assert sent_alone == [b"COMMIT"]  # what psycopg sent on its own: the COMMIT only (the spy works)
    assert idle() and probe_rows() == [1]
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        write(2)
        1 / 0  # noqa: B018
    assert probe_rows() == [1]  # the carried BEGIN opened a real transaction: rolled back


@committed
def test_a_swallowed_error_in_the_opening_statement_is_never_committed_silently(probe):
    """No read carried: the commit refuses a failed transaction all the same; psycopg's autocommit flag, flipped
    around the statement that opened it, is back."""
    from django.db import DatabaseError

    with pytest.raises(DatabaseError, match="failed before its commit"), transaction.atomic():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 / %s", [0])  # the statement that opens the transaction
        except DatabaseError:
            pass  # swallowed: Django does not know
        assert connection.connection.autocommit is False and not idle()
    assert idle() and probe_rows() == []
    with transaction.atomic():  # the connection goes on
        write(6)
    assert probe_rows() == [6]


@committed
def test_a_failing_first_statement_fails_its_transaction_only(probe):
    from django.db import DataError

    with pytest.raises(DataError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / %s", [0])
    assert idle() and probe_rows() == []  # rolled back, the connection usable
    with transaction.atomic():
        write(3)
    assert probe_rows() == [3]


@committed
def test_the_carried_begin_keeps_the_isolation_level(probe, sent_alone):
    with isolation("SERIALIZABLE"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SHOW transaction_isolation")
        assert cursor.fetchall() == [("serializable",)]
    # the BEGIN that set it was the carried one, not psycopg's own
    assert not any(command.startswith(b"BEGIN") for command in sent_alone)


@committed
def test_other_ways_in_still_open_their_transaction(probe, sent_alone):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany("INSERT INTO carried_probe VALUES (%s)", [[4], [5]])
    assert any(command.startswith(b"BEGIN") for command in sent_alone)  # psycopg's own, as before
    assert probe_rows() == [4, 5]


@committed
def test_without_carried_rows_the_audience_is_read_after_the_commit(monkeypatch):
    world = World.build()
    referral = make(world, "referral", "sent")
    call_service("referral.start_review", world.a.facilitator, referral)
    event = JournalEvent.objects.filter(object_type="referral", object_id=referral.pk).latest("id")
    sent = []
    monkeypatch.setattr(notifications, "get_channel_layer", lambda: object())
    monkeypatch.setattr(notifications, "_deliver", lambda layer, groups, payload: sent.append(groups))
    expected = sorted({notifications.team_group(org, role) for org, role in notifications.audience_of(event)})
    not_taken = commit.Carried("SELECT 1", [], frozenset())  # its commit did not run it (rows None)
    with CaptureQueriesContext(connection) as read_after:
        notifications._send(event, not_taken.rows)
    taken = commit.Carried("SELECT 1", [], frozenset())
    taken.rows = [(world.b.facilitation.pk, "facilitator")]  # what the commit read: used as it is
    with CaptureQueriesContext(connection) as not_read:
        notifications._send(event, taken.rows)
    assert sent == [expected, [notifications.team_group(world.b.facilitation.pk, "facilitator")]]
    assert len(read_after) == 1 and len(not_read) == 0


@committed
def test_an_audience_the_database_refuses_fails_the_action_loudly(monkeypatch):
    """A database error while leaving the read has lost PostgreSQL's transaction: the action fails, nothing of it is
    committed, no notification is sent (never a COMMIT answered by a silent ROLLBACK)."""
    from django.db import DataError

    world = World.build()
    referral = make(world, "referral", "sent")
    events = JournalEvent.objects.count()
    sent = []
    monkeypatch.setattr(notifications, "get_channel_layer", lambda: object())
    monkeypatch.setattr(notifications, "_deliver", lambda layer, groups, payload: sent.append(groups))

    def refused(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / %s", [0])

    monkeypatch.setattr(notifications, "carry", refused)
    with pytest.raises(DataError):
        call_service("referral.start_review", world.a.facilitator, referral)
    referral.refresh_from_db()
    assert referral.state == "sent" and JournalEvent.objects.count() == events and sent == []


# --- Writes carried by the COMMIT (roles.commit.carry_write): an e-mail in the outbox -------------------------------
@committed
def test_a_write_rides_with_the_commit_in_front_of_the_reads(probe):
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        write(1)
        written = commit.carry_write("INSERT INTO carried_probe VALUES (%s)", [5], [0])
        counted = commit.carry("SELECT count(*) FROM carried_probe", [], [])
        assert probe_rows() == [1]  # not yet sent
    assert written.rows is None and counted.rows == [(2,)]  # the read sees the write
    texts = [query["sql"] for query in captured.captured_queries]
    assert texts[-1].startswith(f"SAVEPOINT {commit.SAVEPOINT}; INSERT INTO carried_probe") and texts[-1].endswith(
        "; COMMIT"
    )
    assert idle() and probe_rows() == [1, 5] and commit.CARRIED not in left()


@committed
def test_a_failing_write_is_rolled_back_alone_and_the_transaction_committed(probe, caplog):
    with caplog.at_level(logging.WARNING, logger="roles.commit"), transaction.atomic():
        write(1)
        commit.carry_write("INSERT INTO carried_probe VALUES (1 / %s)", [0], [0])
        kept = commit.carry_write("INSERT INTO carried_probe VALUES (%s)", [9], [0])
        read = commit.carry("SELECT %s::int", [5], [0])
    # The writes go again on their own, fail again, and are rolled back together: the action is committed.
    assert idle() and probe_rows() == [1] and read.rows is None and kept.rows is None
    assert "writes carried by a commit failed" in caplog.text and "division by zero" in caplog.text


@committed
def test_a_failing_read_keeps_the_writes(probe, caplog):
    with caplog.at_level(logging.WARNING, logger="roles.commit"), transaction.atomic():
        write(1)
        commit.carry_write("INSERT INTO carried_probe VALUES (%s)", [7], [0])
        failing = commit.carry("SELECT 1 / %s", [0], [0])
    assert idle() and probe_rows() == [1, 7] and failing.rows is None
    assert "what a commit carried failed" in caplog.text and "writes carried" not in caplog.text


@committed
def test_a_rollback_drops_the_writes(probe):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        write(1)
        commit.carry_write("INSERT INTO carried_probe VALUES (%s)", [2], [0])
        1 / 0  # noqa: B018
    assert commit.CARRIED not in left() and probe_rows() == []
    with transaction.atomic():
        write(3)
    assert probe_rows() == [3]


@committed
def test_no_write_is_carried_outside_the_transaction_s_own_block(probe):
    assert commit.carry_write("INSERT INTO carried_probe VALUES (%s)", [1], [0]) is None  # no transaction
    with transaction.atomic(), transaction.atomic():  # nested: its caller may read the rows before its commit
        assert commit.carry_write("INSERT INTO carried_probe VALUES (%s)", [1], [0]) is None
    assert probe_rows() == []


@pytest.mark.postgres
def test_a_test_case_s_transaction_carries_no_write(db):
    """Rolled back at the test's end, it never commits: a write left for its COMMIT would never be written."""
    assert commit.carry_write("SELECT 1", [], []) is None


@committed
def test_a_forward_s_e_mail_is_written_by_its_commit(settings):
    from parcours.models import MailNotification

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text
    world = World.build()
    referral = make(world, "referral", "approved")
    with CaptureQueriesContext(connection) as captured:
        call_service("referral.forward", world.a.facilitator, referral)
    texts = [query["sql"] for query in captured.captured_queries]
    assert not any("parcours_on_its_own" in text for text in texts)  # no round trip of its own
    last = texts[-1]
    assert last.startswith(f'SAVEPOINT {commit.SAVEPOINT}; INSERT INTO "parcours_mailnotification"') and last.endswith(
        "; COMMIT"
    )
    told = MailNotification.objects.get(referral=referral)
    assert (told.user_id, told.kind) == (world.a.employer_actor.user.pk, "candidate_forwarded")


@committed
def test_a_write_the_driver_refuses_is_refused_when_left_not_at_the_commit(probe):
    from django.db import ProgrammingError

    with transaction.atomic():
        write(1)
        with pytest.raises(ProgrammingError, match="placeholders"):  # one parameter for two placeholders
            commit.carry_write("INSERT INTO carried_probe VALUES (%s + %s)", [1], [0])
        assert commit.CARRIED not in left()  # nothing left: the COMMIT goes alone
    assert idle() and probe_rows() == [1]


@committed
def test_a_write_s_values_are_not_read_as_placeholders_beside_the_reads(probe):
    with transaction.atomic():
        write(1)
        commit.carry_write("INSERT INTO carried_probe SELECT length(%s)", ["50 %s% d'écart"], [0])
        read = commit.carry("SELECT %s::int", [5], [0])
    assert read.rows == [(5,)] and probe_rows() == [1, 14]


@committed
def test_a_connection_closed_inside_its_block_carries_nothing():
    with transaction.atomic():
        connection.close()  # as a worker that drops a broken connection: this block will never commit
        assert commit.carry_write("SELECT 1", [], []) is None and commit.carry("SELECT 1", [], []) is None

"""Shared fixtures and the PostgreSQL guard.

Tests marked `postgres` need PostgreSQL (the journal trigger, row locks between connections). They are
never skipped: the Makefile runs SQLite with `-m "not postgres"`, then the whole suite on PostgreSQL. A
`postgres` test that reaches a non-PostgreSQL database fails loudly instead of passing silently.
"""

import sys

import pytest
from django.db import connection, transaction
from django.utils import translation

from tests.factories import World, make, reload
from workflows import append_only
from workflows.transitions import STATE_ENUMS

POSTGRES_MISSING = "needs_postgresql_database"


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Users of the tests log in with "demo": a fast hasher (the login form still checks it)."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_configure(config):
    config.addinivalue_line("markers", f"{POSTGRES_MISSING}: a postgres test collected against another database")


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "postgresql":
        return
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(getattr(pytest.mark, POSTGRES_MISSING))


def pytest_runtest_setup(item):
    if item.get_closest_marker(POSTGRES_MISSING):
        pytest.fail(
            f"{item.nodeid} is marked `postgres` but the test database is {connection.vendor}: run it with "
            "DATABASE_URL=postgres://... or deselect it with -m 'not postgres'.",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def _module_world(django_db_setup, django_db_blocker):
    """Built once per module inside an outer transaction; every test runs in a savepoint of it (pytest-django's
    own per-test transaction), and the whole module's data is rolled back at the end."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            world = World.build()
        except BaseException:
            outer.__exit__(*sys.exc_info())
            raise
    try:
        yield world
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def world(_module_world, db):
    """Two territories (a, b) with every role, a clause register and one open offer each.

    Shared by the tests of a module (never written by them: each test is rolled back). Modules of
    `transaction=True` tests override this fixture with a fresh, committed World.build().
    """
    return _module_world


@pytest.fixture(scope="module")
def _module_objects(_module_world, django_db_blocker):
    with django_db_blocker.unblock():
        return {
            (machine, state): make(_module_world, machine, state)
            for machine, states in STATE_ENUMS.items()
            for state in states
        }


@pytest.fixture
def made(_module_objects, world):
    """`made(machine, state)`: an object of that machine in that state, reached through the services once per
    module (in the module's outer transaction) and handed fresh to each test, whose changes are rolled back."""

    def get(machine, state):
        return reload(_module_objects[(machine, str(state))])

    return get


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    if marker is not None:
        kwargs, args = marker.kwargs, marker.args
        if kwargs.get("transaction") or kwargs.get("reset_sequences") or (args and args[0]):
            return True
    return bool({"transactional_db", "live_server", "django_db_reset_sequences"} & set(request.fixturenames))


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts and ends in the default language (French): a page requested in English activates English
    in the thread (LocaleMiddleware), and the refusals raised by the next test would follow it."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _transactional_tests_lift_append_only(request):
    """`transaction=True` tests end with a flush (TRUNCATE on PostgreSQL, DELETE on SQLite), which has two
    consequences here:

    - the journal's append-only triggers refuse it: they are lifted for that flush only, and put back right after
      (the flush emits post_migrate, whose first delivery reinstalls them);
    - rows loaded by data migrations (the eligibility criteria) are gone: they are loaded again right after the
      flush (for whatever test follows in this process) and before each transactional test.
    """
    if not _is_transactional(request):
        yield
        return
    request.getfixturevalue("transactional_db")  # set up before this fixture, so flushed after its teardown
    _load_reference_data()
    assert not append_only.problems(connection), "the journal's triggers were left lifted"
    yield
    from django.db import connections
    from django.db.models.signals import post_migrate

    uid = "tests.conftest.reinstall_append_only"

    def reinstall(using="default", **kwargs):
        post_migrate.disconnect(dispatch_uid=uid)
        append_only.install(connections[using])
        _load_reference_data()  # for the tests that follow in this process, transactional or not

    post_migrate.connect(reinstall, dispatch_uid=uid, weak=False)
    append_only.remove(connection)


def _load_reference_data():
    import importlib

    from django.apps import apps

    from parcours.models import EligibilityCriterion

    if not EligibilityCriterion.objects.exists():
        importlib.import_module("parcours.migrations.0003_eligibility_criteria").load(apps, None)

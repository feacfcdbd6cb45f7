"""The related rows a transition's locked read builds (parcours.services.common.LOCK_RELATED_OF): each transition with
its own, smaller set reads nothing later that its model's default set would have brought (no statement more), and
the locked read really is the smaller one."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from parcours.services import common
from roles.enums import Role
from tests.factories import MODELS, call_service, make, reload
from workflows.transitions import MACHINES

pytestmark = pytest.mark.django_db

USER_ROLES = (Role.FACILITATOR, Role.EMPLOYER, Role.ADVISER)


def _spec(action):
    machine, name = action.split(".")
    return MACHINES[machine][name]


# Each transition with its own set, from each of its source states and by each role that may fire it (what it reads
# may depend on the state left or on who acts: a cancellation tells the employer only once the candidate was
# forwarded).
CASES = [
    (action, source, role)
    for action in sorted(common.LOCK_RELATED_OF)
    for source in _spec(action).sources
    for role in USER_ROLES
    if role in _spec(action).roles
]


def _actor(world, spec):
    for role in USER_ROLES:
        if role in spec.roles:
            return world.actor(role, "a")
    raise AssertionError(f"no user role fires {spec.action}")


def _fire(world, spec, actor, source):
    """Fire `spec` on a fresh object in state `source` (a warm call first: caches and compiled reads); the
    statements of the second call, and that object after it."""
    machine = spec.machine
    call_service(spec.action, actor, make(world, machine, source))
    obj = make(world, machine, source)
    with CaptureQueriesContext(connection) as captured:
        call_service(spec.action, actor, obj)
    return [q["sql"] for q in captured], reload(obj)


def _rows(paths):
    """The related rows `select_related(*paths)` brings: each path and the paths it goes through."""
    return {"__".join(hops[:n]) for hops in (path.split("__") for path in paths) for n in range(1, len(hops) + 1)}


def _locked_read(statements, model):
    table = model._meta.db_table
    sent = [sql for text in statements for sql in text.split("; ")]  # the row lock and the read: one round trip on PG
    return next(sql for sql in sent if sql.startswith(f'SELECT "{table}"."id", "{table}".'))


@pytest.mark.parametrize(("action", "source", "role"), CASES)
def test_a_transition_with_its_own_set_costs_no_statement_more(action, source, role, world, settings, monkeypatch):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    spec = _spec(action)
    machine = spec.machine
    actor = world.actor(role, "a")
    model = MODELS[machine]
    assert _rows(common.LOCK_RELATED_OF[action]) < _rows(common.LOCK_RELATED[machine]), "smaller than the default"

    own, obj = _fire(world, spec, actor, source)
    with monkeypatch.context() as patch:
        patch.setattr(common, "LOCK_RELATED_OF", {})
        default, default_obj = _fire(world, spec, actor, source)

    assert obj.state == default_obj.state == spec.target
    # A related row the transition reads and its own set lacks would be fetched on its own: one statement more.
    assert len(own) == len(default), "\n".join(own)
    # The smaller read is the one that ran (fewer joined tables).
    assert _locked_read(own, model).count(" JOIN ") < _locked_read(default, model).count(" JOIN ")


def test_an_own_set_too_small_costs_a_statement(world, settings, monkeypatch):
    """The check above can fail: start_review's referral without its pathway reads it on its own (the journal event's
    participant)."""
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    spec = MACHINES["referral"]["start_review"]
    actor = _actor(world, spec)
    default, _ = _fire(world, spec, actor, "sent")
    monkeypatch.setitem(common.LOCK_RELATED_OF, "referral.start_review", ())
    common._LOCKED_READS.clear()
    too_small, obj = _fire(world, spec, actor, "sent")
    assert obj.state == spec.target
    assert len(too_small) == len(default) + 1


def test_lock_related_falls_back_to_the_model_default():
    from parcours.models import Pathway, Referral

    assert common.lock_related(Referral) == common.LOCK_RELATED["referral"]
    assert common.lock_related(Referral, "forward") == common.LOCK_RELATED["referral"]
    assert common.lock_related(Referral, "start_review") == common.LOCK_RELATED_OF["referral.start_review"]
    assert common.lock_related(Pathway, "start_review") == common.LOCK_RELATED["pathway"]

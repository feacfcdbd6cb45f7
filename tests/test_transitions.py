"""Every declared transition, parametrised from workflows.transitions: happy path from each source state,
refusal from each other state, and who may fire internal and system transitions.

A transition added to the tables is picked up here automatically; if the tests do not know how to call
its service (tests.factories.SERVICE_CALLS) or, for an internal one, which service triggers it
(INTERNAL_SCENARIOS below), its cases fail with a message saying so.
"""

import pytest

from parcours.services.common import VIEW_ACTIONS
from roles import policy
from roles.actor import Actor
from roles.enums import Role
from tests.factories import (
    MODELS,
    call_service,
    db_counts,
    make_offer,
    make_pathway,
    make_placement,
    make_referral,
    reload,
    today,
)
from workflows import engine
from workflows.errors import DomainError
from workflows.models import JournalEvent
from workflows.states import PathwayState
from workflows.transitions import MACHINES, STATE_ENUMS, all_specs

pytestmark = pytest.mark.django_db


NO_ROLE = "nobody"


def _firers(spec):
    """Who fires `spec` in its happy path: each policy role, the system, or a service (internal)."""
    if spec.internal:
        return ["internal"]
    if spec.system:
        return ["system"]
    return [role.value for role in spec.roles] or [NO_ROLE]


def _actor(world, firer):
    if firer == NO_ROLE:
        pytest.fail("this transition is offered to users but no role of roles.policy.POLICY may fire it")
    if firer == "system":
        return Actor.system()
    if firer == "internal":
        return world.a.adviser
    return world.actor(firer, "a")


def _events(obj):
    return JournalEvent.objects.filter(object_type=obj.MACHINE, object_id=obj.pk)


HAPPY_CASES = [
    pytest.param(spec, source, firer, id=f"{spec.action}-from-{source}-by-{firer}")
    for spec in all_specs()
    for source in spec.sources
    for firer in _firers(spec)
]
WRONG_SOURCE_CASES = [
    pytest.param(spec, state, id=f"{spec.action}-from-{state}")
    for spec in all_specs()
    for state in STATE_ENUMS[spec.machine]
    if state not in spec.sources
]


def _expected_target(spec, obj):
    if len(spec.targets) == 1:
        return spec.target
    if spec.action == "pathway.reopen":
        valid = obj.participant.eligibility_valid_on(today())
        return PathwayState.ELIGIBLE if valid else PathwayState.INTAKE
    raise AssertionError(f"{spec.action} has several targets: teach tests/test_transitions.py which one to expect")


@pytest.mark.parametrize(("spec", "source", "firer"), HAPPY_CASES)
def test_happy_path(world, made, spec, source, firer):
    obj = made(spec.machine, source)
    actor = _actor(world, firer)
    expected = _expected_target(spec, obj)
    events_before = _events(obj).count()

    if spec.internal:
        engine.fire(obj, spec.name, actor=actor, internal=True)
    else:
        # Buttons are derived from the same declarations: offered to users, never for system transitions.
        assert (spec in engine.available_transitions(obj, actor)) == spec.user_fireable
        call_service(spec.action, actor, obj)

    obj = reload(obj)
    assert obj.state == expected
    assert expected in spec.targets
    event = _events(obj).filter(action=spec.name).latest("sequence")
    assert event.sequence > events_before
    assert (event.from_state, event.to_state) == (source, expected)
    assert event.actor_user_id == (actor.user.pk if actor.user else None)
    assert event.actor_organisation_id == actor.organisation_id
    assert event.actor_role == (actor.role.value if actor.role else "system")
    assert event.participant_id == obj.journal_participant_id


@pytest.mark.parametrize(("spec", "state"), WRONG_SOURCE_CASES)
def test_refused_from_wrong_source_state(world, made, spec, state):
    obj = made(spec.machine, state)
    firer = _firers(spec)[0]
    actor = _actor(world, firer)
    counts = db_counts()

    with pytest.raises(DomainError) as refused:
        engine.fire(obj, spec.name, actor=actor, internal=spec.internal)
    assert refused.value.code == "invalid_transition"
    assert refused.value.status == 409
    assert reload(obj).state == state
    assert db_counts() == counts

    if spec.internal:
        return
    # Through the service: the same refusal, unless the actor cannot even see the object in that state.
    visible = actor.is_system or policy.allows(actor, VIEW_ACTIONS[spec.machine], obj)
    with pytest.raises(DomainError) as refused:
        call_service(spec.action, actor, obj)
    assert refused.value.code == ("invalid_transition" if visible else "not_found")
    assert reload(obj).state == state
    assert db_counts() == counts


INTERNAL_CASES = [
    pytest.param(spec, firer, id=f"{spec.action}-by-{firer}")
    for spec in all_specs()
    if spec.internal
    for firer in [*Role.values, "system"]
]


@pytest.mark.parametrize(("spec", "firer"), INTERNAL_CASES)
def test_internal_transition_refused_through_public_path(world, made, spec, firer):
    obj = made(spec.machine, spec.sources[0])
    actor = Actor.system() if firer == "system" else world.actor(firer)
    counts = db_counts()
    for attempt in (engine.ensure_can_fire, engine.fire):
        with pytest.raises(DomainError) as refused:
            attempt(obj, spec.name, actor=actor)
        assert refused.value.code == "forbidden"
    assert spec not in engine.available_transitions(obj, actor)
    assert reload(obj).state == spec.sources[0]
    assert db_counts() == counts


SYSTEM_CASES = [
    pytest.param(spec, role, side, id=f"{spec.action}-by-{role}-{side}")
    for spec in all_specs()
    if spec.system
    for role in Role.values
    for side in ("a", "b")
]


@pytest.mark.parametrize(("spec", "role", "side"), SYSTEM_CASES)
def test_system_transition_refused_to_users(world, made, spec, role, side):
    obj = made(spec.machine, spec.sources[0])
    actor = world.actor(role, side)
    counts = db_counts()
    with pytest.raises(DomainError) as refused:
        engine.fire(obj, spec.name, actor=actor)
    assert refused.value.code == "forbidden"
    with pytest.raises(DomainError) as refused:
        call_service(spec.action, actor, obj)
    assert refused.value.code in ("forbidden", "not_found")
    assert spec not in engine.available_transitions(obj, actor)
    assert reload(obj).state == spec.sources[0]
    assert db_counts() == counts


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.action) for s in all_specs() if s.user_fireable])
def test_system_actor_cannot_fire_user_transitions(world, made, spec):
    """The system (timers) only takes roles.policy.SYSTEM_ACTIONS, like the policy says."""
    obj = made(spec.machine, spec.sources[0])
    counts = db_counts()
    with pytest.raises(DomainError) as refused:
        engine.fire(obj, spec.name, actor=Actor.system())
    assert refused.value.code == "forbidden"
    assert db_counts() == counts


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.action) for s in all_specs() if s.user_fireable])
def test_internal_flag_never_bypasses_a_user_transition(world, made, spec):
    obj = made(spec.machine, spec.sources[0])
    with pytest.raises(ValueError, match="not an internal transition"):
        engine.fire(obj, spec.name, actor=world.a.adviser, internal=True)
    assert reload(obj).state == spec.sources[0]


# --- Internal transitions happen as consequences of services ------------------------------------------------
def _refer(world):
    pathway = make_pathway(world, "eligible")
    make_referral(world, "sent", pathway=pathway)
    return pathway


def _last_referral_closes(world):
    referral = make_referral(world, "under_review")
    call_service("referral.decline", world.a.facilitator, referral)
    return referral.pathway


def _planned_placement_cancelled(world):
    placement = make_placement(world, "planned")
    call_service("placement.cancel", world.a.employer_actor, placement)
    return placement.pathway


def _hire(world):
    return make_referral(world, "hired").pathway


def _hire_during_follow_up(world):
    pathway = make_pathway(world, "in_follow_up")
    make_referral(world, "hired", pathway=pathway, offer=make_offer(world.a))
    return pathway


def _last_placement_ends(world):
    placement = make_placement(world, "active")
    call_service("placement.end", world.a.employer_actor, placement)
    return placement.pathway


INTERNAL_SCENARIOS = {
    ("pathway.refer", PathwayState.ELIGIBLE): _refer,
    ("pathway.return_to_eligible", PathwayState.REFERRED): _last_referral_closes,
    ("pathway.return_to_eligible", PathwayState.PLACED): _planned_placement_cancelled,
    ("pathway.place", PathwayState.REFERRED): _hire,
    ("pathway.place", PathwayState.IN_FOLLOW_UP): _hire_during_follow_up,
    ("pathway.start_follow_up", PathwayState.PLACED): _last_placement_ends,
}


@pytest.mark.parametrize(
    ("spec", "source"),
    [pytest.param(s, src, id=f"{s.action}-from-{src}") for s in all_specs() if s.internal for src in s.sources],
)
def test_internal_transition_is_fired_by_a_service(world, spec, source):
    scenario = INTERNAL_SCENARIOS.get((spec.action, source))
    assert scenario, f"add a service scenario for the internal transition {spec.action} from {source}"
    obj = scenario(world)
    event = _events(obj).filter(action=spec.name, from_state=source).get()
    assert event.to_state == spec.target
    assert event.actor_role != "system"


def test_declarations_and_policy_agree():
    for spec in all_specs():
        assert spec.machine in MACHINES and spec.machine in MODELS
        assert set(spec.sources) <= set(STATE_ENUMS[spec.machine]), spec.action
        assert set(spec.targets) <= set(STATE_ENUMS[spec.machine]), spec.action
        if spec.user_fireable:
            assert spec.roles, f"{spec.action} is offered to users but no role may fire it"
        else:
            assert not spec.roles, f"{spec.action} is internal or system but has a policy row"
        if spec.system:
            assert spec.action in policy.SYSTEM_ACTIONS
    assert policy.SYSTEM_ACTIONS == {s.action for s in all_specs() if s.system}


def test_model_fsm_methods_mirror_the_tables():
    for machine, table in MACHINES.items():
        model = MODELS[machine]
        declared = {t.name for t in model._meta.get_field("state").get_all_transitions(model)}
        assert declared == set(table), machine

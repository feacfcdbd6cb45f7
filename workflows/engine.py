"""Firing declared transitions: the checks every service goes through, in one place.

Order of checks: role (403 forbidden), current state (409 invalid_transition), scope (403), the page's view of
the object (409 stale_form, when the action comes from a form: `seen_as`), inputs (400 missing_input /
unknown_input), guards (400, their own code); then the fsm method, the save and the journal event. Callers
(services) hold a transaction and the row lock of `obj`.
"""

import contextlib
import contextvars

from django.utils.translation import gettext as _
from django_fsm import TransitionNotAllowed

from roles import policy
from roles.rows import save_row
from workflows import work
from workflows.errors import DomainError, StaleForm
from workflows.inputs import check as check_inputs
from workflows.journal import chain_tail_of, record_event
from workflows.models import JournalEvent
from workflows.transitions import MACHINES, STATE_ENUMS


def machine_name(obj) -> str:
    return obj.MACHINE


def spec_for(obj, name):
    table = MACHINES[machine_name(obj)]
    if name not in table:
        raise DomainError("unknown_transition", _("Action inconnue : « %(name)s ».") % {"name": name})
    return table[name]


def state_label(machine: str, state: str) -> str:
    enum = STATE_ENUMS[machine]
    try:
        return str(enum(state).label)
    except ValueError:
        return state


def _check_state(obj, spec):
    if obj.state not in spec.sources:
        raise DomainError(
            "invalid_transition",
            _(
                "Action « %(label)s » impossible : l'état actuel est « %(state)s ». Quelqu'un a peut-être "
                "agi avant vous."
            )
            % {"label": spec.label, "state": state_label(spec.machine, obj.state)},
        )


# The object a form was opened on, the last event of its journal chain then, and the newest row it listed beside the
# object (a closing pathway's referrals): (machine, pk, sequence, listed).
_SEEN = contextvars.ContextVar("seen", default=None)


@contextlib.contextmanager
def seen_as(machine: str, pk: int, sequence: int | None, *, listed: int | None = None):
    """Fire what runs inside as of a page that showed object `pk` when its chain's last event was `sequence` (None:
    no such knowledge, nothing checked): a transition of that object refuses (StaleForm) if anything was recorded on
    it since — the same state reached again (withdrawn, reopened, resubmitted), a date changed by someone else —
    instead of acting on what its author never saw. `listed`: the highest id of the rows the page listed as what the
    action also ends (services compare it with seen_listed: a row added since was never shown)."""
    token = _SEEN.set((machine, pk, sequence, listed) if sequence is not None else None)
    try:
        yield
    finally:
        _SEEN.reset(token)


def seen_listed(machine: str, pk: int) -> int | None:
    """The highest id the page acting on object `pk` listed beside it (seen_as), None when no page said (an API call,
    a task, a form from before): the service then acts on what is there."""
    seen = _SEEN.get()
    return seen[3] if seen is not None and seen[:2] == (machine, pk) else None


def check_seen(obj, name):
    """Refuse (StaleForm) now what `fire` would refuse for the page's knowledge of `obj`: for a service that writes
    consequences of the transition before firing it, so that the refusal names the object's own changes first."""
    _check_seen(obj, spec_for(obj, name))


def chain_sequence(machine: str, pk: int) -> int:
    """The sequence of the last event of the object's journal chain (0: none yet)."""
    last = (
        JournalEvent.objects.filter(object_type=machine, object_id=pk)
        .order_by("-sequence")
        .values_list("sequence", flat=True)
        .first()
    )
    return last or 0


# Events of a chain that record something beside its case, which no transition's page shows or decides on: a page
# opened before one of these is not stale (a facilitator's eligibility page and the adviser's follow-up meanwhile).
NOT_SHOWN_BY_FORMS = frozenset({"record_follow_up", "record_exit_outcome"})


def _check_seen(obj, spec):
    seen = _SEEN.get()
    if seen is None or seen[:2] != (spec.machine, obj.pk):
        return
    if "journal_tail_sequence" in obj.__dict__:  # read with the row lock (services.common.lock)
        current = obj.__dict__["journal_tail_sequence"] or 0
    else:
        current = chain_sequence(spec.machine, obj.pk)
    if current != seen[2]:
        since = (
            list(
                JournalEvent.objects.filter(object_type=spec.machine, object_id=obj.pk, sequence__gt=seen[2])
                .order_by("sequence")
                .values_list("action", "occurred_at")
            )
            if seen[2] < current
            else None
        )
        if since and all(action in NOT_SHOWN_BY_FORMS for action, _at in since):
            return  # only notes beside the case (a follow-up recorded): nothing a transition's page showed moved
        raise StaleForm(machine=spec.machine, pk=obj.pk, current=current, events=since or [])


def ensure_can_fire(obj, name, *, actor):
    """Refuse early (the role, then the state, then the scope) before a service writes anything. A role that never
    takes the action is refused whatever the object's state (403 always, not 409 on some objects); one that may is
    told first that the state moved on (someone acted before them), then whether this object is theirs."""
    spec = spec_for(obj, name)
    if spec.internal or (spec.system and not actor.is_system) or not policy.may(actor, spec.action):
        raise DomainError(
            "forbidden", _("Vous n'avez pas le droit de faire « %(label)s » sur cet objet.") % {"label": spec.label}
        )
    _check_state(obj, spec)
    # The system (timers) may only take roles.policy.SYSTEM_ACTIONS; policy.allows says so for it too.
    if not policy.allows(actor, spec.action, obj):
        raise DomainError(
            "forbidden", _("Vous n'avez pas le droit de faire « %(label)s » sur cet objet.") % {"label": spec.label}
        )
    return spec


def refusal(obj, name, *, actor):
    """Why transition `name` cannot be offered on `obj` now (its state, the actor's role and scope, a guard that needs
    no input), as the DomainError its service would raise; None when it can. For a form asked for (GET): shown
    instead of a form whose every submission would be refused."""
    try:
        spec = ensure_can_fire(obj, name, actor=actor)
        for guard in spec.guards:
            guard(obj, None)
    except DomainError as error:
        return error
    return None


def check_service_inputs(obj, name, **values) -> dict:
    """The inputs of transition `name` that its service takes itself (declared `machine=False`: an exit's detail, a
    derogation reason), checked against their declaration as `fire` checks the machine's (type, limits, text rules:
    workflows.inputs.check), before the service writes anything. Returns them normalised (stripped text)."""
    spec = spec_for(obj, name)
    return check_inputs([declared for declared in spec.inputs if declared.name in values], values)


def fire(obj, name, *, actor, inputs=None, internal=False, journal_extra=None, along=None, keep_lead=False):
    """Run transition `name` on `obj` for `actor` and journal it. Returns the JournalEvent.

    `internal=True` is for consequences fired by a service inside an action already authorised
    (e.g. the pathway becoming "placed" when the employer confirms a hire); it skips the role check,
    never the state check. `journal_extra` adds codes and ids to the journal event (not to the fsm method).
    `along`: the service's own pending writes (roles.rows.Pending) that go with the transition, sent with its row's
    update and its event (one statement on PostgreSQL), only once every check has passed; or a callable that returns
    them, called then (its own refusals come after the transition's).
    `keep_lead=True`: the transition's write, unless the work layer's read carried it, is left for the caller's next
    read to carry (`roles.rows.unsent(event)`: a consequence's `lock_consequence(..., leads=)`); the caller sends it
    (`roles.rows.send_unsent`) before anything else it writes, and in any case before the commit.
    """
    inputs = dict(inputs or {})
    spec = spec_for(obj, name)
    _check_state(obj, spec)
    if internal:
        if spec.user_fireable:
            raise ValueError(f"{spec.action} is not an internal transition")
    else:
        ensure_can_fire(obj, name, actor=actor)
        _check_seen(obj, spec)
    inputs = check_inputs(spec.inputs, inputs, machine_only=True)
    for guard in spec.guards:
        guard(obj, inputs)
    if callable(along):
        along = along()
    from_state = obj.state
    try:
        getattr(obj, name)(**inputs)
    except TransitionNotAllowed as exc:  # pragma: no cover - the state check above runs first
        raise DomainError(
            "invalid_transition", _("Action « %(label)s » impossible dans l'état actuel.") % {"label": spec.label}
        ) from exc
    # The row's UPDATE goes with the journal event's INSERT: one round trip on PostgreSQL.
    saved = save_row(obj, send_with_next=True)
    event = record_event(
        actor=actor,
        object_type=spec.machine,
        object_id=obj.pk,
        participant_id=obj.journal_participant_id,
        action=name,
        from_state=from_state,
        to_state=obj.state,
        reason=inputs.get("reason", ""),
        inputs={**inputs, **(journal_extra or {})},
        tail=chain_tail_of(obj),  # read with the locked row (parcours.services.common.lock), when it was
        along=[saved, along],
        lead=True,  # the work layer's read of the tasks sends them, in its round trip
    )
    # sends them, if no read of its did (unless kept for the caller's read)
    work.transition_fired(obj=obj, spec=spec, actor=actor, event=event, keep_lead=keep_lead)
    return event


def available_transitions(obj, actor):
    """The transitions `actor` may fire on `obj` now (buttons, the API's `available_transitions`)."""
    return available_for_rows([obj], actor).get(obj.pk, [])


def available_for_rows(objs, actor, *, view_action=None) -> dict:
    """The transitions `actor` may fire now on each object of a page (same machine), at a fixed query cost.

    Same rules for one object or a list: user-fireable, current state among the sources, role and scope allowed by
    the policy, guards silent. When the page was read through `view_action` and a transition's scope is that same
    scope, the listing already proves it; any other scope costs one query for the whole page."""
    objs = list(objs)
    result = {obj.pk: [] for obj in objs}
    if not objs or actor is None or actor.is_system or actor.organisation is None:
        return result
    model = type(objs[0])
    specs = [s for s in MACHINES[machine_name(objs[0])].values() if s.user_fireable and policy.may(actor, s.action)]
    listed_scope = policy.roles_for(view_action).get(actor.role) if view_action else None
    allowed = {}  # scope -> pks of the page in that scope (None: every row of the page)
    for spec in specs:
        scope = policy.roles_for(spec.action)[actor.role]
        if scope in allowed:
            continue
        if scope is listed_scope:
            allowed[scope] = None
        else:
            rows = model._default_manager.filter(pk__in=[obj.pk for obj in objs])  # one page, bounded
            allowed[scope] = set(rows.filter(policy.scope_q(model, scope, actor)).values_list("pk", flat=True))

    def in_scope(obj, spec):
        pks = allowed[policy.roles_for(spec.action)[actor.role]]
        return pks is None or obj.pk in pks

    offered = [(obj, spec) for obj in objs for spec in specs if obj.state in spec.sources and in_scope(obj, spec)]
    # What the guards read, for the whole page at once: one statement per kind of read, not one per row.
    wanted = {}
    for obj, spec in offered:
        for guard in spec.guards:
            if getattr(guard, "reads", None):
                wanted.setdefault(guard.reads, {})[obj.pk] = obj
    for name, rows in wanted.items():
        model.read_for_guards(name, list(rows.values()))
    for obj, spec in offered:
        try:
            for guard in spec.guards:
                guard(obj, None)
        except DomainError:  # a guard refusing means "not offered now"
            continue
        result[obj.pk].append(spec)
    return result

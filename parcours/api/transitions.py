"""`available_transitions` for a page of objects at a fixed query cost.

Same rules as workflows.engine.available_transitions (user-fireable, current state in the sources, role
allowed by the policy on the object, guards silent), but the policy scope is checked once per page: rows come
from the selector scoped by the read action, so an action whose scope equals the read scope needs no query,
and any other scope costs one query for the whole page. Guards run per row, as in the engine (only a few of
them read the database, and only in the states awaiting them). Details use the engine directly.
"""

from roles import policy
from workflows.errors import DomainError
from workflows.transitions import MACHINES


def available_transitions_bulk(objs, actor, view_action) -> dict:
    objs = list(objs)
    result = {obj.pk: [] for obj in objs}
    if not objs or actor is None or actor.is_system or actor.organisation is None:
        return result
    model = type(objs[0])
    specs = [
        spec for spec in MACHINES[model.MACHINE].values() if spec.user_fireable and policy.may(actor, spec.action)
    ]
    view_scope = policy.roles_for(view_action).get(actor.role)
    allowed = {}  # scope -> set of pks, None meaning "every row of the page"
    for spec in specs:
        scope = policy.roles_for(spec.action)[actor.role]
        if scope in allowed:
            continue
        if scope is view_scope:
            allowed[scope] = None
        else:
            pks = [obj.pk for obj in objs]  # one page, bounded by the page size
            allowed[scope] = set(
                model._default_manager.filter(pk__in=pks)
                .filter(policy.scope_q(model, scope, actor))
                .values_list("pk", flat=True)
            )
    for obj in objs:
        for spec in specs:
            if obj.state not in spec.sources:
                continue
            pks = allowed[policy.roles_for(spec.action)[actor.role]]
            if pks is not None and obj.pk not in pks:
                continue
            try:
                for guard in spec.guards:
                    guard(obj, None)
            except DomainError:
                continue
            result[obj.pk].append(spec)
    return result

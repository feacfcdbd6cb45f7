"""The seam between the engine and the work layer (viewflow: who must act next, inboxes, timers).

The engine and the services call these functions after every journaled change, inside the same
transaction (the change's own write may still wait for the work layer's first read: see below); the work layer
reacts (opens, completes or cancels tasks). The fsm state stays the single source of truth: the work layer never
changes a state by itself, it only calls services.
"""

from roles.rows import send_unsent

_listeners = []


def subscribe(listener):
    """Register a work-layer listener (object_created / transition_fired, optionally object_changed methods)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


# `event`'s own write (and, for a transition, its row's update) may wait for a listener's first read to carry it
# (workflows.journal.record_event's `lead`): a listener sends it (`roles.rows.send_unsent`) before anything else it
# writes, and each function below sends it after each listener, if none did — the next listener, and the caller,
# find it written; but a transition's caller that keeps it for its own next read (`engine.fire(..., keep_lead=True)`:
# a placement's end locks its pathway next) sends it itself.


def object_created(*, obj, actor, event):
    for listener in _listeners:
        listener.object_created(obj=obj, actor=actor, event=event)
        send_unsent(event)


def transition_fired(*, obj, spec, actor, event, keep_lead=False):
    """`keep_lead`: the caller's next read carries the event's write, if no listener's did (workflows.engine.fire);
    every listener but the last still finds it sent, as always."""
    for number, listener in enumerate(_listeners, start=1):
        keep = keep_lead and number == len(_listeners)
        listener.transition_fired(obj=obj, spec=spec, actor=actor, event=event, keep_lead=keep)
        if not keep:
            send_unsent(event)


def object_changed(*, obj, actor, event):
    """A journaled change that is neither a creation nor a transition (e.g. a planned follow-up recorded)."""
    for listener in _listeners:
        handler = getattr(listener, "object_changed", None)
        if handler is not None:
            handler(obj=obj, actor=actor, event=event)
        send_unsent(event)

"""The seam between the engine and the work layer (viewflow: who must act next, inboxes, timers).

The engine and the services call these two functions after every journaled change, inside the same
transaction; the work layer reacts (opens, completes or cancels tasks). The fsm state stays the single
source of truth: the work layer never changes a state by itself, it only calls services.
"""

_listeners = []


def subscribe(listener):
    """Register a work-layer listener (an object with object_created / transition_fired methods)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def object_created(*, obj, actor, event):
    for listener in _listeners:
        listener.object_created(obj=obj, actor=actor, event=event)


def transition_fired(*, obj, spec, actor, event):
    for listener in _listeners:
        listener.transition_fired(obj=obj, spec=spec, actor=actor, event=event)

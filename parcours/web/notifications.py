from django.shortcuts import render

from parcours import selectors
from parcours.web.common import actor_required
from workflows.diagrams import TITLES
from workflows.engine import state_label
from workflows.transitions import MACHINES

OBJECT_LABELS = {**TITLES, "offer": "Offre", "participant": "Participant·e"}


def describe(event):
    """A French sentence for a journal event (labels from the declarations)."""
    spec = MACHINES.get(event.object_type, {}).get(event.action)
    action = (
        spec.label
        if spec
        else {"create": "Création", "update": "Modification", "close": "Clôture"}.get(event.action, event.action)
    )
    state = state_label(event.object_type, event.to_state) if event.object_type in MACHINES and event.to_state else ""
    return action, OBJECT_LABELS.get(event.object_type, event.object_type), state


@actor_required
def notifications(request, *, actor):
    events = list(selectors.notifications_for(actor))
    rows = [(event, *describe(event)) for event in events]
    return render(request, "notifications.html", {"rows": rows})

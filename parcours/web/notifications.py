from django.shortcuts import render

from parcours import selectors
from parcours.selectors.notifications import PAGE_SIZE
from parcours.web.common import actor_required


@actor_required
def notifications(request, *, actor):
    """Partners' latest actions; `?avant=<event id>` shows the page before that event."""
    before = request.GET.get("avant", "")
    before = int(before) if before.isdigit() and len(before) < 19 else None
    events = selectors.notifications_for(actor, before=before)
    older = events[-1].pk if len(events) == PAGE_SIZE else None
    return render(request, "notifications.html", {"events": events, "older": older, "paged": before is not None})

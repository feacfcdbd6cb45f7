from django.shortcuts import render

from parcours import selectors
from parcours.web.common import actor_required


@actor_required
def notifications(request, *, actor):
    """Partners' latest actions; `?avant=<event id>` shows the page before that event."""
    before = request.GET.get("avant", "")
    # ASCII digits only: "²" is a digit to `str.isdigit` and not to `int`.
    before = int(before) if before.isascii() and before.isdigit() and len(before) < 19 else None
    events = selectors.notifications_for(actor, before=before)
    context = {"events": events, "older": events.older, "paged": before is not None}
    return render(request, "notifications.html", context)

from django.shortcuts import render

from parcours import selectors
from parcours.text import plain_id
from parcours.web.common import actor_required


@actor_required
def notifications(request, *, actor):
    """Partners' latest actions; `?avant=<event id>` shows the page before that event."""
    before = request.GET.get("avant", "")
    # ASCII digits only: "²" is a digit to `str.isdigit` and not to `int`.
    before = plain_id(before)
    events = selectors.notifications_for(actor, before=before)
    context = {"events": events, "older": events.older, "paged": before is not None}
    return render(request, "notifications.html", context)

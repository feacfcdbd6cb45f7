"""Notifications: recent journal events by others on the objects the actor may see (the derived-view rule of
parcours.selectors.journal), newest first, a page at a time (keyset on the moment and the id)."""

from django.db.models import Q

from parcours.selectors.journal import present_events, visible_events
from workflows.models import JournalEvent

PAGE_SIZE = 50


def notifications_for(actor, *, limit=PAGE_SIZE, before=None):
    """The page of notifications older than event `before` (an id), or the newest page."""
    if actor is None or actor.is_system:
        return []
    events = visible_events(actor).exclude(actor_user=actor.user)
    if before is not None:
        anchor = JournalEvent.objects.filter(pk=before).values_list("occurred_at", flat=True).first()
        if anchor is None:
            return []
        events = events.filter(Q(occurred_at__lt=anchor) | Q(occurred_at=anchor, pk__lt=before))
    return present_events(actor, events.order_by("-occurred_at", "-pk")[:limit])

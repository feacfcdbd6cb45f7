"""Notifications: recent journal events on the objects the actor may see, by others (one query)."""

from django.db.models import Exists, OuterRef, Q

from parcours.models import HoursLine, JobOffer, Pathway, Placement, Referral
from roles.policy import scope_queryset
from workflows.models import JournalEvent

# object_type in the journal → (model, the action whose scope decides visibility)
WATCHED = {
    "pathway": (Pathway, "participant.view"),
    "referral": (Referral, "referral.view"),
    "placement": (Placement, "placement.view"),
    "hoursline": (HoursLine, "hoursline.view"),
    "offer": (JobOffer, "offer.view"),
}


def notifications_for(actor, *, limit=50):
    if actor is None or actor.is_system:
        return JournalEvent.objects.none()
    visible = Q(pk__in=[])
    for object_type, (model, action) in WATCHED.items():
        scoped = scope_queryset(actor, action, model.objects.filter(pk=OuterRef("object_id")))
        visible |= Q(object_type=object_type) & Q(Exists(scoped))
    return (
        JournalEvent.objects.filter(visible)
        .exclude(actor_user=actor.user)
        .select_related("actor_user", "actor_organisation")
        .order_by("-occurred_at", "-pk")[:limit]
    )

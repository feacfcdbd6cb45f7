"""A person's notification preferences: how they want to hear of each kind of event (parcours.mail)."""

from django.db import transaction
from django.utils.translation import gettext as _

from parcours.mail import follow_preference
from parcours.models import Delivery, NotificationKind, NotificationPreference
from workflows.errors import DomainError


@transaction.atomic
def set_notification_preferences(*, actor, choices: dict) -> dict:
    """Record `choices` ({kind: delivery}) for the acting person; unknown kinds or deliveries are refused whole."""
    if actor is None or actor.is_system:
        raise DomainError("forbidden", _("Seule une personne connectée choisit ses notifications."))
    for kind, delivery in choices.items():
        if kind not in NotificationKind.values:
            raise DomainError("invalid_input", _("Type de notification inconnu."), field=str(kind)[:50])
        if delivery not in Delivery.values:
            raise DomainError(
                "invalid_input", _("Choix inconnu : tout de suite, résumé quotidien ou jamais."), field=kind
            )
    for kind, delivery in choices.items():
        NotificationPreference.objects.update_or_create(user=actor.user, kind=kind, defaults={"delivery": delivery})
        follow_preference(actor.user, kind, delivery)  # what waits in the outbox goes the new way, or not at all
    return choices

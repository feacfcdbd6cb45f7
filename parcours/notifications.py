"""The single publisher of notifications: called by services, delivered after the transaction commits.

Each journal event is pushed to the channel-layer groups of the organisations concerned
("organisation-<id>"); realtime consumers subscribe to those groups. A failed delivery is logged and
never undoes the committed action.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def organisation_group(organisation_id: int) -> str:
    return f"organisation-{organisation_id}"


def event_payload(event) -> dict:
    return {
        "type": "journal.event",
        "event_id": event.pk,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "action": event.action,
        "from_state": event.from_state,
        "to_state": event.to_state,
    }


def _send(groups, payload):
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, payload)
        except Exception:  # a notification must never break a committed action
            logger.exception("notification to %s failed", group)


def publish_on_commit(event, *, organisations) -> None:
    groups = sorted({organisation_group(o.pk) for o in organisations if o is not None})
    if not groups:
        return
    payload = event_payload(event)
    transaction.on_commit(lambda: _send(groups, payload))

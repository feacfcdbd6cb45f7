"""The audit journal: writing events into per-object hash chains, and verifying the chains."""

import datetime
import decimal
import hashlib
import json
from dataclasses import dataclass

from django.utils import timezone

from workflows.models import AccessChannel, JournalEvent, ParticipantAccess


def _jsonable(value):
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value


def clean_inputs(inputs: dict) -> dict:
    return {k: _jsonable(v) for k, v in sorted(inputs.items()) if k != "reason"}


def compute_hash(event: JournalEvent) -> str:
    occurred = event.occurred_at.astimezone(datetime.UTC).isoformat(timespec="microseconds")
    payload = {
        "occurred_at": occurred,
        "actor_user": event.actor_user_id,
        "actor_organisation": event.actor_organisation_id,
        "actor_role": event.actor_role,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "participant_id": event.participant_id,
        "action": event.action,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "reason": event.reason,
        "inputs": event.inputs,
        "sequence": event.sequence,
        "previous_hash": event.previous_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def record_event(
    *,
    actor,
    object_type: str,
    object_id: int,
    action: str,
    participant_id=None,
    from_state="",
    to_state="",
    reason="",
    inputs=None,
) -> JournalEvent:
    """Append one event to the chain of (object_type, object_id).

    Callers hold the row lock of the object (services use select_for_update), which serialises the
    events of one object; the unique (object, sequence) constraint makes a lost race fail loudly.
    """
    last = (
        JournalEvent.objects.filter(object_type=object_type, object_id=object_id)
        .order_by("-sequence")
        .values_list("sequence", "hash")
        .first()
    )
    sequence, previous_hash = (last[0] + 1, last[1]) if last else (1, "")
    event = JournalEvent(
        occurred_at=timezone.now(),
        actor_user=actor.user,
        actor_organisation=actor.organisation,
        actor_role=actor.role.value if actor.role else "system",
        object_type=object_type,
        object_id=object_id,
        participant_id=participant_id,
        action=action,
        from_state=from_state or "",
        to_state=to_state or "",
        reason=reason or "",
        inputs=clean_inputs(inputs or {}),
        sequence=sequence,
        previous_hash=previous_hash,
    )
    event.hash = compute_hash(event)
    event.save(force_insert=True)
    return event


def log_participant_access(*, actor, participant_id: int, channel=AccessChannel.PAGE, purpose="view"):
    if actor is None or actor.is_system:
        return None
    return ParticipantAccess.objects.create(
        user=actor.user,
        organisation=actor.organisation,
        role=actor.role.value if actor.role else "",
        participant_id=participant_id,
        channel=channel,
        purpose=purpose,
    )


@dataclass
class VerificationResult:
    events: int
    chains: int
    broken_event_id: int | None = None
    problem: str = ""

    @property
    def ok(self):
        return self.broken_event_id is None


def verify_chains(chunk_size=5000) -> VerificationResult:
    """Walk every chain in order; stop at the first event whose hash or link does not hold."""
    events = chains = 0
    current_object = None
    expected_previous, expected_sequence = "", 1
    queryset = JournalEvent.objects.order_by("object_type", "object_id", "sequence")
    for event in queryset.iterator(chunk_size=chunk_size):
        key = (event.object_type, event.object_id)
        if key != current_object:
            current_object, expected_previous, expected_sequence = key, "", 1
            chains += 1
        events += 1
        where = f"{event.object_type} #{event.object_id}, rang {event.sequence}"
        if event.sequence != expected_sequence:
            return VerificationResult(events, chains, event.pk, f"{where} : rang attendu {expected_sequence}")
        if event.previous_hash != expected_previous:
            return VerificationResult(events, chains, event.pk, f"{where} : lien vers l'événement précédent rompu")
        if compute_hash(event) != event.hash:
            return VerificationResult(events, chains, event.pk, f"{where} : contenu modifié (empreinte invalide)")
        expected_previous, expected_sequence = event.hash, event.sequence + 1
    return VerificationResult(events, chains)

"""The audit journal: writing events into per-object chains sealed with the journal key, sealing the whole journal
in checkpoints, and verifying both.

Three layers of evidence, each catching what the previous one cannot:
- each event's `hash` is an HMAC (workflows/keys.py) over its content and the previous event's hash: an event
  forged, edited or re-chained by someone without the key fails;
- a checkpoint seals the running digest of every event up to an id, signed, and is also written to a file kept
  elsewhere: events deleted, truncated or rewritten before it (even with the key) no longer match;
- the case data must agree with the journal (every stateful object has a chain ending in its current state): the
  case app checks that (parcours.audit), as it knows the objects.
"""

import datetime
import decimal
import hashlib
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from workflows import append_only, keys
from workflows.models import JournalCheckpoint, JournalEvent, JournalReason

GENESIS = "0" * 64
CHECKPOINT_FORMAT = "parcours-journal-checkpoint/1"
MAX_PROBLEMS = 50


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


def event_payload(event: JournalEvent) -> dict:
    occurred = event.occurred_at.astimezone(datetime.UTC).isoformat(timespec="microseconds")
    return {
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
        "reason_digest": event.reason_digest,
        "inputs": event.inputs,
        "sequence": event.sequence,
        "previous_hash": event.previous_hash,
        "key_id": event.key_id,
    }


def compute_hash(event: JournalEvent) -> str:
    return keys.seal(event.key_id, event_payload(event))


# Called with each event recorded, in the writer's transaction: derived data kept beside the case data (the hours
# counted per lot) learn here what changed. Registered by the application (parcours.apps); none may write events.
_recorded_listeners = []


def subscribe(listener):
    if listener not in _recorded_listeners:
        _recorded_listeners.append(listener)
    return listener


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
    key_id = keys.current_key_id()
    reason = reason or ""
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
        reason_digest=keys.seal_text(key_id, reason) if reason else "",
        inputs=clean_inputs(inputs or {}),
        sequence=sequence,
        previous_hash=previous_hash,
        key_id=key_id,
    )
    event.hash = compute_hash(event)
    event.save(force_insert=True)
    if reason:
        event.reason_record = JournalReason.objects.create(event=event, text=reason)
    for listener in _recorded_listeners:
        listener(event)
    return event


def erase_reasons(*, participant_id: int) -> int:
    """Erase the free-text reasons of a participant's events (anonymisation); their digests stay sealed."""
    return JournalReason.objects.filter(event__participant_id=participant_id, erased_at__isnull=True).update(
        text="", erased_at=timezone.now()
    )


# --- Verifying the chains ------------------------------------------------------------------------------------------
@dataclass
class VerificationResult:
    events: int = 0
    chains: int = 0
    checkpoints: int = 0
    problems: list = field(default_factory=list)  # (event id or None, French description)
    erased_reason_participants: set = field(default_factory=set)  # participants whose reasons were erased

    @property
    def ok(self):
        return not self.problems

    @property
    def broken_event_id(self):
        return next((event_id for event_id, _ in self.problems if event_id is not None), None)

    def problem(self, event_id, text):
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((event_id, text))

    def merge(self, other: "VerificationResult") -> "VerificationResult":
        self.events += other.events
        self.chains += other.chains
        self.checkpoints += other.checkpoints
        for problem in other.problems:
            self.problem(*problem)
        self.erased_reason_participants |= other.erased_reason_participants
        return self


# Read as plain rows (no model instances): the attributes `event_payload` reads, the stored hash and the reason.
_ROW_FIELDS = (
    "pk",
    "occurred_at",
    "actor_user_id",
    "actor_organisation_id",
    "actor_role",
    "object_type",
    "object_id",
    "participant_id",
    "action",
    "from_state",
    "to_state",
    "reason_digest",
    "inputs",
    "sequence",
    "previous_hash",
    "key_id",
    "hash",
    "reason_record__event_id",
    "reason_record__text",
    "reason_record__erased_at",
)


def verify_chains(result: VerificationResult | None = None, chunk_size=5000, *, part=0, parts=1) -> VerificationResult:
    """Walk every chain in order: ranks, links, keyed digests and reasons. With `parts` > 1, only the chains whose
    object id falls in partition `part` (object_id mod parts): partitions are independent, whole chains each."""
    result = result or VerificationResult()
    current_object = None
    expected_previous, expected_sequence = "", 1
    queryset = JournalEvent.objects.all()
    if parts > 1:
        queryset = queryset.alias(partition=F("object_id") % parts).filter(partition=part)
    rows = queryset.order_by("object_type", "object_id", "sequence").values_list(*_ROW_FIELDS, named=True)
    for event in rows.iterator(chunk_size=chunk_size):
        key = (event.object_type, event.object_id)
        if key != current_object:
            current_object, expected_previous, expected_sequence = key, "", 1
            result.chains += 1
        result.events += 1
        if event.sequence != expected_sequence:
            result.problem(
                event.pk, f"{_where(event)} : rang attendu {expected_sequence} (événement supprimé ou inséré)"
            )
        elif event.previous_hash != expected_previous:
            result.problem(event.pk, f"{_where(event)} : lien vers l'événement précédent rompu")
        else:
            try:
                sealed = keys.same(compute_hash(event), event.hash)
            except keys.UnknownKey:
                result.problem(event.pk, f"{_where(event)} : clé de scellement inconnue « {event.key_id} »")
            else:
                if not sealed:
                    result.problem(event.pk, f"{_where(event)} : contenu modifié ou forgé (empreinte invalide)")
                elif event.reason_digest or event.reason_record__event_id is not None:
                    _verify_reason(event, result)
        expected_previous, expected_sequence = event.hash, event.sequence + 1
    return result


def _where(event):
    return f"{event.object_type} #{event.object_id}, rang {event.sequence}"


def _verify_reason(event, result):
    has_record = event.reason_record__event_id is not None
    if not event.reason_digest:
        if has_record:
            result.problem(event.pk, f"{_where(event)} : motif ajouté après coup")
        return
    if not has_record:
        result.problem(event.pk, f"{_where(event)} : motif supprimé")
    elif event.reason_record__erased_at is not None:
        result.erased_reason_participants.add(event.participant_id)
    elif not keys.same(keys.seal_text(event.key_id, event.reason_record__text), event.reason_digest):
        result.problem(event.pk, f"{_where(event)} : motif modifié")


# --- Checkpoints: sealing the whole journal -------------------------------------------------------------------------
def advance(digest: str, event_id: int, event_hash: str) -> str:
    """One step of the running digest of the journal, in id order."""
    return hashlib.sha256(bytes.fromhex(digest) + event_id.to_bytes(8, "big") + event_hash.encode()).hexdigest()


def checkpoint_payload(*, created_at, last_event_id, event_count, digest, key_id) -> dict:
    return {
        "format": CHECKPOINT_FORMAT,
        "created_at": created_at.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
        "last_event_id": last_event_id,
        "event_count": event_count,
        "digest": digest,
        "key_id": key_id,
    }


def checkpoint_document(checkpoint: JournalCheckpoint) -> dict:
    """The signed document of a checkpoint, as written to its file."""
    payload = checkpoint_payload(
        created_at=checkpoint.created_at,
        last_event_id=checkpoint.last_event_id,
        event_count=checkpoint.event_count,
        digest=checkpoint.digest,
        key_id=checkpoint.key_id,
    )
    return {**payload, "signature": checkpoint.signature}


def signature_valid(document: dict) -> bool:
    payload = {k: v for k, v in document.items() if k != "signature"}
    try:
        return document.get("format") == CHECKPOINT_FORMAT and keys.same(
            keys.seal(str(document.get("key_id")), payload), str(document.get("signature"))
        )
    except keys.UnknownKey:
        return False


def _settled_head() -> int:
    """The highest event id below which no transaction can still commit an event (PostgreSQL waits for them)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # SHARE mode waits for the transactions writing events and holds new ones for this instant.
                cursor.execute(f"LOCK TABLE {append_only.EVENT_TABLE} IN SHARE MODE")
        return JournalEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def take_checkpoint(*, write_file=True, directory=None, force=False) -> JournalCheckpoint | None:
    """Seal the journal up to its current head; None when nothing new was written since the last checkpoint.

    Continues the digest of the last checkpoint (whose signature is checked first) so that a checkpoint costs the
    events written since, not the whole journal. The signed document is also written to `directory`.
    """
    head = _settled_head()
    last = JournalCheckpoint.objects.order_by("-last_event_id").first()
    if last is not None and not signature_valid(checkpoint_document(last)):
        raise ValueError(f"Le dernier point de contrôle (#{last.pk}) n'a pas une signature valide.")
    start_id, digest, count = (last.last_event_id, last.digest, last.event_count) if last else (0, GENESIS, 0)
    if head <= start_id and not force:
        return None
    rows = JournalEvent.objects.filter(pk__gt=start_id, pk__lte=head).order_by("pk").values_list("pk", "hash")
    for event_id, event_hash in rows.iterator(chunk_size=10000):
        digest = advance(digest, event_id, event_hash)
        count += 1
    key_id = keys.current_key_id()
    created_at = timezone.now()
    payload = checkpoint_payload(
        created_at=created_at, last_event_id=head, event_count=count, digest=digest, key_id=key_id
    )
    checkpoint = JournalCheckpoint.objects.create(
        created_at=created_at,
        last_event_id=head,
        event_count=count,
        digest=digest,
        key_id=key_id,
        signature=keys.seal(key_id, payload),
    )
    if write_file:
        write_checkpoint_file(checkpoint, directory)
    return checkpoint


def write_checkpoint_file(checkpoint, directory=None) -> Path:
    directory = Path(directory or settings.JOURNAL_CHECKPOINT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"journal-checkpoint-{checkpoint.last_event_id:012d}.json"
    path.write_text(json.dumps(checkpoint_document(checkpoint), indent=2, ensure_ascii=False) + "\n")
    return path


def read_checkpoint_file(path) -> dict:
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"Fichier de point de contrôle illisible : {exc}") from exc
    if not isinstance(document, dict):
        raise ValueError("Fichier de point de contrôle illisible : objet JSON attendu.")
    return document


def verify_checkpoints(result: VerificationResult, documents=(), chunk_size=10000) -> VerificationResult:
    """Recompute the running digest in id order and compare it with every checkpoint (rows and given files)."""
    seals = [("point de contrôle en base", checkpoint_document(c)) for c in JournalCheckpoint.objects.all()]
    seals += [("fichier de point de contrôle", d) for d in documents]
    pending = []
    for origin, document in seals:
        result.checkpoints += 1
        if not signature_valid(document):
            result.problem(None, f"{origin} du {document.get('created_at', '?')} : signature invalide")
            continue
        pending.append((int(document["last_event_id"]), origin, document))
    pending.sort(key=lambda item: item[0])
    if not pending:
        return result
    digest, count = GENESIS, 0
    rows = JournalEvent.objects.filter(pk__lte=pending[-1][0]).order_by("pk").values_list("pk", "hash")

    def settle(upto):
        while pending and pending[0][0] <= upto:
            last_event_id, origin, document = pending.pop(0)
            expected_count, expected_digest = int(document["event_count"]), document["digest"]
            if count != expected_count or digest != expected_digest:
                result.problem(
                    None,
                    f"{origin} du {document['created_at']} (jusqu'à l'événement n° {last_event_id}) : le journal ne "
                    f"correspond plus ({count} événements trouvés pour {expected_count} scellés) — événements "
                    "supprimés, tronqués ou réécrits",
                )

    for event_id, event_hash in rows.iterator(chunk_size=chunk_size):
        settle(event_id - 1)
        digest = advance(digest, event_id, event_hash)
        count += 1
    settle(pending[-1][0] if pending else 0)
    return result


def verify(documents=(), *, workers=1) -> VerificationResult:
    """Chains, reasons, checkpoints and the append-only triggers (the journal part of `verify_journal`).

    With `workers` > 1 (PostgreSQL), the chains are verified in that many processes, each its own partition of the
    chains, while the parent recomputes the checkpoints' running digest."""
    # Other processes see committed rows only: inside a transaction, the caller's snapshot is verified here.
    if workers > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        result = _verify_in_parallel(documents, workers)
    else:
        result = verify_chains()
        verify_checkpoints(result, documents)
    for problem in append_only.problems(connection):
        result.problem(None, problem)
    return result


def _chains_part(part, parts):
    connection.close()  # a forked process: its own connection, never the parent's socket
    return verify_chains(part=part, parts=parts)


def _verify_in_parallel(documents, workers):
    connections.close_all()  # the children must not share the parent's socket
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
        parts = [pool.submit(_chains_part, part, workers) for part in range(workers)]
        result = verify_checkpoints(VerificationResult(), documents)
        for part in parts:
            result.merge(part.result())
    result.problems.sort(key=lambda problem: (problem[0] is None, problem[0] or 0))
    return result

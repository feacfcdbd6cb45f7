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
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from roles.rows import insert_row, insert_rows, send
from roles.statements import Compiled
from workflows import append_only, keys
from workflows.models import JournalCheckpoint, JournalEvent, JournalReason

GENESIS = "0" * 64
CHECKPOINT_FORMAT = "parcours-journal-checkpoint/1"
CHECKPOINT_FIELDS = frozenset(
    {"format", "created_at", "last_event_id", "event_count", "digest", "key_id", "signature"}
)
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
    """What an event's hash seals, as a dict: its hash is the HMAC of this dict's canonical JSON (keys.canonical).
    `canonical_event` writes the same bytes directly; the tests hold the two equal."""
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


# The canonical JSON of `event_payload` (sorted keys, no spaces, UTF-8) written field by field: the verifier seals
# millions of rows and a template is three times cheaper than building and sorting a dict per row.
_CANONICAL = (
    '{"action":%s,"actor_organisation":%s,"actor_role":%s,"actor_user":%s,"from_state":%s,"inputs":%s,'
    '"key_id":%s,"object_id":%s,"object_type":%s,"occurred_at":%s,"participant_id":%s,"previous_hash":%s,'
    '"reason_digest":%s,"sequence":%s,"to_state":%s}'
)
_string = json.encoder.encode_basestring  # json.dumps' own string encoder with ensure_ascii=False
canonical_inputs = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


def _number(value) -> str:
    if value.__class__ is str:  # already JSON: read as text from a numeric column, or "null"
        return value
    return "null" if value is None else str(int(value))


def canonical_event(
    *,
    occurred_at: str,
    actor_user,
    actor_organisation,
    actor_role,
    object_type,
    object_id,
    participant_id,
    action,
    from_state,
    to_state,
    reason_digest,
    inputs: str,
    sequence,
    previous_hash,
    key_id,
) -> bytes:
    """The bytes an event's hash seals. `occurred_at` is the UTC ISO time with microseconds, numbers are ints, None
    or their JSON text (as read from a numeric column), `inputs` is `canonical_inputs` of the event's inputs."""
    return (
        _CANONICAL
        % (
            _string(action),
            _number(actor_organisation),
            _string(actor_role),
            _number(actor_user),
            _string(from_state),
            inputs,
            _string(key_id),
            _number(object_id),
            _string(object_type),
            _string(occurred_at),
            _number(participant_id),
            _string(previous_hash),
            _string(reason_digest),
            _number(sequence),
            _string(to_state),
        )
    ).encode()


def compute_hash(event: JournalEvent) -> str:
    return keys.seal_bytes(
        event.key_id,
        canonical_event(
            occurred_at=event.occurred_at.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
            actor_user=event.actor_user_id,
            actor_organisation=event.actor_organisation_id,
            actor_role=event.actor_role,
            object_type=event.object_type,
            object_id=event.object_id,
            participant_id=event.participant_id,
            action=event.action,
            from_state=event.from_state,
            to_state=event.to_state,
            reason_digest=event.reason_digest,
            inputs=canonical_inputs(event.inputs),
            sequence=event.sequence,
            previous_hash=event.previous_hash,
            key_id=event.key_id,
        ),
    )


# Called with each event about to be recorded (built, its id not yet known), in the writer's transaction: derived data
# kept beside the case data (the hours counted per lot) learn here what changed. A listener returns the writes this
# needs as pending writes (roles.rows.Pending, or None), sent with the event's row: in its statement on PostgreSQL.
# Registered by the application (parcours.apps); none may write events.
_recorded_listeners = []


def subscribe(listener):
    if listener not in _recorded_listeners:
        _recorded_listeners.append(listener)
    return listener


# Called with each event once its row is written (its id set), in the writer's transaction: what must point at the
# event (the teams it is shown to, parcours.notifications). Registered by the application; none may write events.
_written_listeners = []


def subscribe_written(listener):
    if listener not in _written_listeners:
        _written_listeners.append(listener)
    return listener


def _written(event) -> None:
    for listener in _written_listeners:
        listener(event)


# The last link of a chain, read before each event is appended: compiled once (workflows.compiled).
_chain_tail = Compiled(
    lambda object_type, object_id: (
        JournalEvent.objects.filter(object_type=object_type, object_id=object_id)
        .order_by("-sequence")
        .values_list("sequence", "hash")[:1]
    ),
    arguments=2,
)


# The tail of a chain that starts with the event: the object was created in this transaction (a fresh id). Were
# its id ever reused (a sequence reset), the unique (object, sequence) key would refuse the event.
NEW_CHAIN = (0, "")


def with_chain_tail(queryset, object_type: str):
    """`queryset` with the last link of each row's chain (`object_type`, the row's pk) read in the same statement:
    a transition's locked read (parcours.services.common.lock) carries it to `record_event`, one statement less."""
    last = JournalEvent.objects.filter(object_type=object_type, object_id=OuterRef("pk")).order_by("-sequence")
    return queryset.annotate(
        journal_tail_sequence=Subquery(last.values("sequence")[:1]),
        journal_tail_hash=Subquery(last.values("hash")[:1]),
    )


def chain_tail_of(obj):
    """(sequence, hash) of the last link of `obj`'s chain as read with it (`with_chain_tail`; (0, "") for none), or
    None when it was not. Taken once: a second event of the same chain reads its tail again."""
    if "journal_tail_sequence" not in obj.__dict__:
        return None
    sequence, last_hash = obj.__dict__.pop("journal_tail_sequence"), obj.__dict__.pop("journal_tail_hash", None)
    return (sequence, last_hash) if sequence is not None else NEW_CHAIN


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
    tail=None,
    along=None,
    lead=False,
) -> JournalEvent:
    """Append one event to the chain of (object_type, object_id).

    Callers hold the row lock of the object (services use select_for_update), which serialises the
    events of one object; the unique (object, sequence) constraint makes a lost race fail loudly. `tail`: the chain's
    last (sequence, hash), when the caller read it under that lock in this transaction (`chain_tail_of`); else it
    is read here; `NEW_CHAIN` for an object created in this transaction. `along`: pending writes (`roles.rows.Pending`:
    the object's update, a grant), sent with the event's row, as those of the listeners (`subscribe`).

    `lead=True`: the event's row (with what it carries) is not sent yet when there is no reason to write beside it:
    the next read of the work layer sends it in front of itself (`roles.rows.unsent`), in its round trip; the caller
    sends it (`roles.rows.send_unsent`, which `workflows.work` calls once its listeners are done, unless the
    transition's caller keeps it for its own next read: `engine.fire(..., keep_lead=True)`) before anything else is
    written, and in any case before it returns. Its id is set then.
    """
    if tail is None:
        send(along)  # what is read here is read after the writes handed over, as without them
        along = None
        tail = next(iter(_chain_tail(object_type, object_id)), None) or NEW_CHAIN
    reason = reason or ""
    event = _sealed_event(
        actor=actor,
        object_type=object_type,
        object_id=object_id,
        action=action,
        participant_id=participant_id,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        inputs=inputs,
        tail=tail,
    )
    carried = [along, *(listener(event) for listener in _recorded_listeners)]
    if lead and not reason:
        waiting = insert_row(event, along=carried, lead=True)
        if waiting is None:  # written at once
            _written(event)
        else:
            waiting.then.append(lambda: _written(event))
        return event
    insert_row(event, along=carried)
    _written(event)
    if reason:
        event.reason_record = insert_row(JournalReason(event=event, text=reason))
    return event


def record_new_chains(entries, *, actor, along=None) -> list:
    """The first events of objects created in this transaction (each a dict of `record_event`'s keywords but `actor`,
    `tail`, `reason` and `lead`), in one statement with `along` (one round trip on PostgreSQL, where `record_event`
    takes one per event): an intake's participant and pathway."""
    events = [_sealed_event(actor=actor, tail=NEW_CHAIN, reason="", **entry) for entry in entries]
    carried = [along, *(listener(event) for event in events for listener in _recorded_listeners)]
    written = insert_rows(events, along=carried)
    for event in events:
        _written(event)
    return written


def _sealed_event(
    *,
    actor,
    object_type: str,
    object_id: int,
    action: str,
    tail,
    reason: str,
    participant_id=None,
    from_state="",
    to_state="",
    inputs=None,
) -> JournalEvent:
    """A new event after `tail` (its chain's last (sequence, hash)), its hash computed, not written."""
    sequence, previous_hash = tail[0] + 1, tail[1]
    key_id = keys.current_key_id()
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
    problems: list = field(default_factory=list)  # (event id or None, French description): the first MAX_PROBLEMS
    problem_count: int = 0  # all of them
    erased_reason_participants: set = field(default_factory=set)  # participants whose reasons were erased

    @property
    def ok(self):
        return not self.problems

    @property
    def broken_event_id(self):
        return next((event_id for event_id, _ in self.problems if event_id is not None), None)

    def problem(self, event_id, text):
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((event_id, text))

    def merge(self, other: "VerificationResult") -> "VerificationResult":
        self.events += other.events
        self.chains += other.chains
        self.checkpoints += other.checkpoints
        self.problems.extend(other.problems[: max(MAX_PROBLEMS - len(self.problems), 0)])
        self.problem_count += other.problem_count
        self.erased_reason_participants |= other.erased_reason_participants
        return self


# --- Reading the journal fast ---------------------------------------------------------------------------------------
# Verification reads every event. On PostgreSQL the rows stream through COPY as text and are split here, which
# costs a fraction of the driver's per-column conversion; elsewhere (SQLite) through the ORM. Both sources yield the
# same tuples: (id, occurred_at as in the seal, actor user, actor organisation, role, object type, object id,
# participant, action, from, to, reason digest, canonical inputs, sequence, previous hash, key id, hash, has a
# reason row, reason text, reason erased).
_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_COPY_ESCAPE = re.compile(r"\\(.)")
# The seal's time format (datetime.isoformat with microseconds, in UTC), written by the database.
_OCCURRED_AT_SQL = "to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
# The verifying transaction's settings. The chains are read in the order of their unique index (object type, object
# id, sequence) rather than sorted: sorting a partition of the journal spilled hundreds of MB to disk and took twice
# as long as the index walk (2.1M events on this machine: 6.1 s against 3.2 s). A sort that is still planned (SQLite
# aside, no such index) gets memory. No parallel query: the partitions are verified by parallel processes already,
# more would only share the same cores. No JIT: compiling a streamed walk cost more than it saved.
VERIFY_SETTINGS = ("enable_sort = off", "work_mem = '256MB'", "max_parallel_workers_per_gather = 0", "jit = off")


def _copy_field(text):
    """One field of COPY's text format: a backslash-N is NULL, backslash escapes the rest (PostgreSQL docs, COPY, File
    Formats)."""
    if text == "\\N":
        return None
    return _COPY_ESCAPE.sub(lambda match: _COPY_ESCAPES.get(match[1], match[1]), text)


def copy_rows(query: str):
    """Stream the rows of `query` through COPY TO STDOUT, each a list of str (None for NULL). PostgreSQL only."""
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({query}) TO STDOUT") as copy:
        for data in copy:
            line = str(data, "utf-8")[:-1]
            if "\\" in line:  # NULLs and escaped characters only: rare
                yield [_copy_field(field) for field in line.split("\t")]
            else:
                yield line.split("\t")


def _chain_rows_postgresql(part, parts):
    events, reasons = JournalEvent._meta.db_table, JournalReason._meta.db_table
    partition = f"e.object_id % {int(parts)} = {int(part)}" if parts > 1 else "true"
    # Reasons are looked up only for the events that seal one (a few per cent): probing the reasons for every event
    # took a third of the statement. The reasons added to an event that seals none are found apart (normally none).
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.event_id FROM {reasons} r JOIN {events} e ON e.id = r.event_id "
            f"WHERE e.reason_digest = '' AND {partition}"
        )
        added = {str(event_id) for (event_id,) in cursor.fetchall()}
    query = (
        # No NULL in the output (their \\N would send every row down the unescaping path): the nullable numbers
        # as their JSON text, the missing reason as an empty text beside its flag.
        f"SELECT e.id, {_OCCURRED_AT_SQL}, coalesce(e.actor_user_id::text, 'null'), "
        "coalesce(e.actor_organisation_id::text, 'null'), e.actor_role, e.object_type, e.object_id, "
        "coalesce(e.participant_id::text, 'null'), e.action, e.from_state, e.to_state, e.reason_digest, e.inputs, "
        "e.sequence, e.previous_hash, e.key_id, e.hash, r.event_id IS NOT NULL, coalesce(r.text, ''), "
        "r.erased_at IS NOT NULL "
        f"FROM {events} e LEFT JOIN LATERAL (SELECT event_id, text, erased_at FROM {reasons} "
        "WHERE event_id = e.id AND e.reason_digest <> '' OFFSET 0) r ON true "  # OFFSET 0: kept apart, gated
        f"WHERE {partition} ORDER BY e.object_type, e.object_id, e.sequence"
    )
    recent = {}  # inputs repeat (the same fields, validity dates, months): their canonical text, re-encoded once
    for row in copy_rows(query):
        stored = row[12]
        if stored == "{}":
            row[12] = stored
        else:
            inputs = recent.get(stored)
            if inputs is None:
                if len(recent) > 10_000:
                    recent.clear()
                inputs = recent[stored] = canonical_inputs(json.loads(stored))
            row[12] = inputs
        row[13] = int(row[13])
        row[17] = row[17] == "t" or (row[0] in added if added else False)
        row[19] = row[19] == "t"
        yield row


def _chain_rows_orm(part, parts, chunk_size=5000):
    queryset = JournalEvent.objects.all()
    if parts > 1:
        queryset = queryset.alias(partition=F("object_id") % parts).filter(partition=part)
    rows = queryset.order_by("object_type", "object_id", "sequence").values_list(
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
    for row in rows.iterator(chunk_size=chunk_size):
        row = list(row)
        row[1] = row[1].astimezone(datetime.UTC).isoformat(timespec="microseconds")
        row[12] = canonical_inputs(row[12])
        row[17] = row[17] is not None
        row[19] = row[19] is not None
        yield row


def _chain_rows(part, parts):
    return _chain_rows_postgresql(part, parts) if connection.vendor == "postgresql" else _chain_rows_orm(part, parts)


def verify_chains(result: VerificationResult | None = None, *, part=0, parts=1) -> VerificationResult:
    """Walk every chain in order: ranks, links, keyed digests and reasons. With `parts` > 1, only the chains whose
    object id falls in partition `part` (object_id mod parts): partitions are independent, whole chains each."""
    result = result or VerificationResult()
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and own_transaction:
            with connection.cursor() as cursor:
                for setting in VERIFY_SETTINGS:
                    cursor.execute(f"SET LOCAL {setting}")
        _verify_chain_rows(_chain_rows(part, parts), result)
    return result


def _verify_chain_rows(rows, result):
    current_type = current_object = None
    expected_previous, expected_sequence = "", 1
    sealers, same = {}, keys.same
    for row in rows:
        (
            pk,
            occurred_at,
            actor_user,
            actor_organisation,
            actor_role,
            object_type,
            object_id,
            participant_id,
            action,
            from_state,
            to_state,
            reason_digest,
            inputs,
            sequence,
            previous_hash,
            key_id,
            event_hash,
            has_reason,
            reason_text,
            reason_erased,
        ) = row
        if object_id != current_object or object_type != current_type:
            current_object, current_type, expected_previous, expected_sequence = object_id, object_type, "", 1
            result.chains += 1
        result.events += 1
        if sequence != expected_sequence:
            where = _where(object_type, object_id, sequence)
            result.problem(int(pk), f"{where} : rang attendu {expected_sequence} (événement supprimé ou inséré)")
        elif previous_hash != expected_previous:
            where = _where(object_type, object_id, sequence)
            result.problem(int(pk), f"{where} : lien vers l'événement précédent rompu")
        else:
            canonical = canonical_event(
                occurred_at=occurred_at,
                actor_user=actor_user,
                actor_organisation=actor_organisation,
                actor_role=actor_role,
                object_type=object_type,
                object_id=object_id,
                participant_id=participant_id,
                action=action,
                from_state=from_state,
                to_state=to_state,
                reason_digest=reason_digest,
                inputs=inputs,
                sequence=sequence,
                previous_hash=previous_hash,
                key_id=key_id,
            )
            try:
                seal = sealers.get(key_id) or sealers.setdefault(key_id, keys.sealer(key_id))
                sealed = same(seal(canonical), event_hash)
            except keys.UnknownKey:
                where = _where(object_type, object_id, sequence)
                result.problem(int(pk), f"{where} : clé de scellement inconnue « {key_id} »")
            else:
                if not sealed:
                    where = _where(object_type, object_id, sequence)
                    result.problem(int(pk), f"{where} : contenu modifié ou forgé (empreinte invalide)")
                elif reason_digest or has_reason:
                    _verify_reason(row, result)
        expected_previous, expected_sequence = event_hash, sequence + 1
    return result


def _where(object_type, object_id, sequence):
    return f"{object_type} #{object_id}, rang {sequence}"


def _verify_reason(row, result):
    pk, participant_id, reason_digest, sequence, key_id = row[0], row[7], row[11], row[13], row[15]
    has_reason, reason_text, reason_erased = row[17], row[18], row[19]
    where = _where(row[5], row[6], sequence)
    if not reason_digest:
        if has_reason:
            result.problem(int(pk), f"{where} : motif ajouté après coup")
        return
    if not has_reason:
        result.problem(int(pk), f"{where} : motif supprimé")
    elif reason_erased:
        result.erased_reason_participants.add(None if participant_id in (None, "null") else int(participant_id))
    elif not keys.same(keys.seal_text(key_id, reason_text), reason_digest):
        result.problem(int(pk), f"{where} : motif modifié")


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
    if write_file:
        checkpoint_directory(directory)  # unwritable: refused before anything is sealed
    head = _settled_head()
    last = JournalCheckpoint.objects.order_by("-last_event_id").first()
    if last is not None and not signature_valid(checkpoint_document(last)):
        raise ValueError(f"Le dernier point de contrôle (#{last.pk}) n'a pas une signature valide.")
    start_id, digest, count = (last.last_event_id, last.digest, last.event_count) if last else (0, GENESIS, 0)
    if head <= start_id and last is not None:
        if not force:
            return None
        # Nothing new to seal: `force` writes the last checkpoint's file again (one lost, or kept elsewhere too).
        if write_file:
            write_checkpoint_file(last, directory)
        return last
    rows = JournalEvent.objects.filter(pk__gt=start_id, pk__lte=head).order_by("pk").values_list("pk", "hash")
    for event_id, event_hash in rows.iterator(chunk_size=10000):
        digest = advance(digest, event_id, event_hash)
        count += 1
    key_id = keys.current_key_id()
    created_at = timezone.now()
    payload = checkpoint_payload(
        created_at=created_at, last_event_id=head, event_count=count, digest=digest, key_id=key_id
    )
    # The row and its file together: a file that cannot be written leaves no checkpoint sealed in the database only.
    with transaction.atomic():
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


def checkpoint_directory(directory=None) -> Path:
    """The directory checkpoint files go to, created if missing; ValueError (in words) when it cannot hold them."""
    directory = Path(directory or settings.JOURNAL_CHECKPOINT_DIR)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(
            f"Répertoire des points de contrôle inutilisable ({directory}) : {exc.strerror or exc}."
        ) from exc
    if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(
            f"Répertoire des points de contrôle inutilisable ({directory}) : pas un répertoire accessible en écriture."
        )
    return directory


def write_checkpoint_file(checkpoint, directory=None) -> Path:
    directory = checkpoint_directory(directory)
    path = directory / f"journal-checkpoint-{checkpoint.last_event_id:012d}.json"
    try:
        path.write_text(json.dumps(checkpoint_document(checkpoint), indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise ValueError(f"Fichier de point de contrôle non écrit ({path}) : {exc.strerror or exc}.") from exc
    return path


def read_checkpoint_file(path) -> dict:
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"Fichier de point de contrôle illisible : {exc}") from exc
    if not isinstance(document, dict):
        raise ValueError("Fichier de point de contrôle illisible : objet JSON attendu.")
    missing = sorted(CHECKPOINT_FIELDS - document.keys())
    if missing or document.get("format") != CHECKPOINT_FORMAT:
        # Another JSON file given by mistake: said so, not reported as a forged checkpoint.
        raise ValueError(
            f"{path} n'est pas un point de contrôle du journal ({CHECKPOINT_FORMAT}"
            + (f" ; champs manquants : {', '.join(missing)}" if missing else "")
            + ")."
        )
    return document


def verify_checkpoints(result: VerificationResult, documents=(), chunk_size=10000) -> VerificationResult:
    """Recompute the running digest in id order and compare it with every checkpoint (rows and given files)."""
    seals = [("point de contrôle en base", checkpoint_document(c)) for c in JournalCheckpoint.objects.all()]
    seals += [("fichier de point de contrôle", d) for d in documents]
    pending = []
    for origin, document in seals:
        result.checkpoints += 1
        key_id = str(document.get("key_id"))
        if key_id not in getattr(settings, "JOURNAL_KEYS", {}):
            # A key dropped from PARCOURS_JOURNAL_KEYS: unverifiable, not forged (docs/audit.md, rotation).
            result.problem(
                None, f"{origin} du {document.get('created_at', '?')} : clé de scellement inconnue « {key_id} »"
            )
            continue
        if not signature_valid(document):
            result.problem(None, f"{origin} du {document.get('created_at', '?')} : signature invalide")
            continue
        pending.append((int(document["last_event_id"]), origin, document))
    pending.sort(key=lambda item: item[0])
    if not pending:
        return result
    head = pending[-1][0]
    # Two narrow columns: the driver's rows cost less than COPY's text here, fetched in chunks from the backend's
    # streaming cursor (a server-side cursor on PostgreSQL) without the ORM's per-row work (a fifth of the time).
    rows = _streamed(JournalEvent.objects.filter(pk__lte=head).order_by("pk").values_list("pk", "hash"), chunk_size)
    # The running digest as `advance` computes it, kept as bytes between steps (hex only where compared).
    state, count = bytes.fromhex(GENESIS), 0
    sha256 = hashlib.sha256

    def settle(upto):
        while pending and pending[0][0] <= upto:
            last_event_id, origin, document = pending.pop(0)
            expected_count, expected_digest = int(document["event_count"]), document["digest"]
            if count != expected_count or state.hex() != expected_digest:
                result.problem(
                    None,
                    f"{origin} du {document['created_at']} (jusqu'à l'événement n° {last_event_id}) : le journal ne "
                    f"correspond plus ({count} événements trouvés pour {expected_count} scellés) — événements "
                    "supprimés, tronqués ou réécrits",
                )
        return pending[0][0] if pending else None

    due = pending[0][0]
    for event_id, event_hash in rows:
        if event_id > due:
            due = settle(event_id - 1) or head
        state = sha256(state + event_id.to_bytes(8, "big") + event_hash.encode()).digest()
        count += 1
    settle(head)
    return result


def _streamed(queryset, chunk_size):
    """The rows of `queryset` as the driver returns them, `chunk_size` at a time (values_list of plain columns)."""
    sql, params = queryset.query.sql_with_params()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            yield from rows


def verify(documents=(), *, workers=1, alongside=None) -> VerificationResult:
    """Chains, reasons, checkpoints and the append-only triggers (the journal part of `verify_journal`).

    With `workers` > 1 (PostgreSQL), the chains are verified in that many processes, each its own partition of the
    chains, while the parent recomputes the checkpoints' running digest and runs `alongside(result)` (the caller's
    own checks, e.g. the case data against the journal)."""
    # Other processes see committed rows only: inside a transaction, the caller's snapshot is verified here.
    if workers > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        result = _verify_in_parallel(documents, workers, alongside)
    else:
        result = verify_chains()
        verify_checkpoints(result, documents)
        if alongside is not None:
            alongside(result)
    for problem in append_only.problems(connection):
        result.problem(None, problem)
    return result


def _chains_part(part, parts):
    connection.close()  # a forked process: its own connection, never the parent's socket
    return verify_chains(part=part, parts=parts)


def _verify_in_parallel(documents, workers, alongside):
    connections.close_all()  # the children must not share the parent's socket
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
        parts = [pool.submit(_chains_part, part, workers) for part in range(workers)]
        result = verify_checkpoints(VerificationResult(), documents)
        if alongside is not None:
            alongside(result)
        for part in parts:
            result.merge(part.result())
    result.problems.sort(key=lambda problem: (problem[0] is None, problem[0] or 0))
    return result

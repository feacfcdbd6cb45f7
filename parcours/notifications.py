"""The single publisher of notifications: called by services, delivered after the transaction commits.

Each journal event is pushed to the channel-layer groups of the teams that may view its object — the policy's
inverse (`roles.policy.audience`), the same rule as every derived view — one group per organisation and role
("organisation-<id>-<role>"); realtime consumers subscribe to their team's group. Payloads carry ids, codes,
states and French labels, never personal data. A failed delivery is logged and never undoes the committed action.

The same teams are written down in the event's transaction (`EventAudience`, one row per team): the notifications
page reads a team's latest events from them (parcours.selectors.notifications). On PostgreSQL the write is the
audience read itself, `INSERT … SELECT … RETURNING`, carried by the COMMIT of a transaction's top level
(roles.commit): no round trip of its own there; in a nested block (the timer worker's, inside viewflow's lock) it
is sent at once, and the websocket reads the audience again after the commit.
"""

import asyncio
import atexit
import contextlib
import contextvars
import logging
import os
import re
import threading

import redis
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import decode_hosts
from django.db import connection, transaction
from django.db.models import Max, Min

from parcours import mail
from parcours.models import EventAudience, Participant, Referral
from parcours.selectors.journal import EVENT_OBJECTS, PATHWAY_TIMERS, action_label, event_state_label
from parcours.selectors.journal import OBJECT_LABELS as EVENT_OBJECT_LABELS
from roles import policy
from roles.commit import Carried, carry, will_commit
from roles.statements import prepared
from workflows.models import JournalEvent

logger = logging.getLogger(__name__)

# Inside `muted()` (the demo seed writing a year of history) nothing is pushed and no e-mail is queued.
_muted = contextvars.ContextVar("notifications_muted", default=False)


@contextlib.contextmanager
def muted():
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def team_group(organisation_id: int, role) -> str:
    return f"organisation-{organisation_id}-{getattr(role, 'value', role)}"


def user_group(user_id: int) -> str:
    """Every live page of one user: closed when the user or a membership is deactivated (`end_live`)."""
    return f"user-{user_id}"


def session_group(session_key: str) -> str:
    """The live pages of one signed-in session: closed when it signs out."""
    return f"session-{session_key}"


def end_live(*, user_id=None, session_key=None) -> None:
    """Close the live pages of a session that signed out, or of a user who lost an access (a page's socket outlived
    its session: it kept receiving its former team's events and could ask for a replay). Best effort: a replay asks
    for the session and the membership again (parcours.consumers)."""
    layer = get_channel_layer()
    if layer is None:
        return
    groups = ([user_group(user_id)] if user_id is not None else []) + (
        [session_group(session_key)] if session_key else []
    )
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, {"type": "live.end"})
        except Exception:  # the channel layer down: the sign-out or the change goes on
            logger.warning("live pages of %s not told to close", group, exc_info=True)


def session_signed_out(sender, request=None, **kwargs):
    """user_logged_out: the session's live pages close (before the session is flushed: its key is still there)."""
    session = getattr(request, "session", None)
    end_live(session_key=getattr(session, "session_key", None))


def user_saved(sender, instance, created=False, **kwargs):
    """A user deactivated: every live page of theirs closes."""
    if not created and not instance.is_active:
        end_live(user_id=instance.pk)


def password_set(sender, user, **kwargs):
    """A new password (changed, reset, or set by an operator): every live page of the user closes once it is committed.
    Their other sessions are signed out by Django's session hash at their next request; a socket makes none, so it is
    told here (the one of the session that changed it closes too, its session key having been cycled: the page
    reloads, still signed in). The consumer checks the hash again before any replay."""
    user_id = user.pk
    transaction.on_commit(lambda: end_live(user_id=user_id))


def membership_changed(sender, instance, created=False, **kwargs):
    """A membership deactivated, changed or removed: the user's live pages close (their team may be another now)."""
    if not created:
        end_live(user_id=instance.user_id)


def event_payload(event) -> dict:
    return {
        "type": "journal.event",
        "event_id": event.pk,
        "participant_id": event.participant_id,
        # Who acted (a user id), so that a page can tell "you" from "someone else"; the consumer replaces it with
        # a yes/no for its viewer before anything reaches a browser.
        "actor_user_id": event.actor_user_id,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "action": event.action,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "object_label": str(EVENT_OBJECT_LABELS.get(event.object_type, event.object_type)),
        "action_label": action_label(event.object_type, event.action),
        "to_label": event_state_label(event.object_type, event.to_state),
    }


def _viewed_as(event) -> tuple | None:
    """(action, object) whose audience may view the event: its object's view action (derived-view rule)."""
    if event.object_type in EVENT_OBJECTS:
        model, action = EVENT_OBJECTS[event.object_type]
        return action, model(pk=event.object_id)
    if event.object_type == "timer":
        if event.action in PATHWAY_TIMERS and event.participant_id is not None:
            return "participant.view", Participant(pk=event.participant_id)
        referral_id = (event.inputs or {}).get("referral")
        if referral_id:
            return "referral.view", Referral(pk=referral_id)
    return None


def audience_of(event) -> set:
    """The (organisation id, role) teams that may view the event's object (derived-view rule)."""
    viewed = _viewed_as(event)
    return set() if viewed is None else policy.audience(*viewed)


def _audience_insert(event, viewed, *, again=False) -> tuple | None:
    """The INSERT … SELECT writing the event's audience (`policy.audience_statement` of what it is viewed as), each
    team once, and returning the teams: (sql, params, positions of the arguments); None when no team may view it.
    No `ON CONFLICT` for a new event (a speculative insert costs WAL records of its own); `again`: the event may
    have rows already, kept."""
    statement = policy.audience_statement(*viewed)
    if statement is None:
        return None
    sql, params, arguments = statement
    table = connection.ops.quote_name(EventAudience._meta.db_table)
    occurred_at = EventAudience._meta.get_field("occurred_at").get_db_prep_value(event.occurred_at, connection)
    # Typed on PostgreSQL: a DISTINCT over parameters of unknown type cannot be prepared (planned at each run, ~1 ms).
    typed = connection.vendor == "postgresql"
    moment, event_id = ("CAST(%s AS timestamptz)", "CAST(%s AS bigint)") if typed else ("%s", "%s")
    insert = (
        f'INSERT INTO {table} ("organisation_id", "role", "occurred_at", "event_id") '
        f'SELECT DISTINCT "t"."team_organisation", "t"."team_role", {moment}, {event_id} FROM ({sql}) "t" '
        'WHERE "t"."team_organisation" IS NOT NULL '
        f'{"ON CONFLICT DO NOTHING " if again else ""}RETURNING "organisation_id", "role"'
    )
    return insert, [occurred_at, event.pk, *params], [0, 1, *(position + 2 for position in arguments)]


def _record_audience(event) -> Carried | None:
    """Write the event's audience in its transaction. Its `rows` are the teams written, or None while the COMMIT
    that carries it has not run, or when it failed there (then read and written after the commit:
    `_unless_written`). None: no team may view such an event. Carried by the COMMIT where it can be (roles.commit),
    else sent now."""
    viewed = _viewed_as(event)
    if viewed is None:
        return None
    statement = _audience_insert(event, viewed)
    if statement is None:
        return None
    # Carried only by a COMMIT that ends this action alone: in a block nested in another (several actions in one
    # transaction, as the demo seed's) each event gets the teams of its own moment, and a transaction that never
    # commits (a test's) gets its rows all the same.
    carried = carry(*statement) if not connection.savepoint_ids and will_commit(connection) else None
    if carried is not None:
        return carried
    sql, params = prepared(*statement)
    written = Carried(sql, params, frozenset())
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        written.rows = cursor.fetchall()
    return written


_RECORDED = "_parcours_audience"  # on an event: its audience's write (`Carried`), for its publication to read


def event_written(event) -> None:
    """Write down the audience of every journal event once its row is written (workflows.journal calls it): carried
    by the COMMIT where it can be, the teams then those of the end of the transaction, as its publication's; else
    written now. Written now, failing, it fails the action, as its other writes; carried, a failure leaves the
    action committed and the rows are written just after the commit (none, should the process stop in between)."""
    with transaction.mark_for_rollback_on_error():
        recorded = _record_audience(event)
    if recorded is None or recorded.rows is not None:
        # Written now (a nested block): its rows are the teams of the event's moment, which the rest of the
        # transaction may still narrow (a refusal revokes the employer's grant after its event); the websocket reads
        # the audience after the commit instead.
        return
    event.__dict__[_RECORDED] = recorded  # carried: its rows, read by the COMMIT, are the websocket's teams
    transaction.on_commit(lambda: _unless_written(event, recorded))  # if what the commit carried failed


def _unless_written(event, recorded) -> None:
    if recorded.rows is not None:
        return
    try:
        _record_after_commit(event)
    except Exception:  # a notification must never break a committed action
        logger.exception("audience of event %s not written", event.pk)


def _record_after_commit(event) -> set:
    """The event's audience read and written after its commit (what the commit carried failed): its teams."""
    teams = audience_of(event)
    EventAudience.objects.bulk_create(
        [EventAudience(organisation_id=o, role=r.value, occurred_at=event.occurred_at, event=event) for o, r in teams],
        ignore_conflicts=True,
    )
    return teams


def _send(event, rows=None):
    """Deliver the event to its teams: the rows its audience's write returned, or read now (None)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        teams = audience_of(event) if rows is None else policy.teams_of(rows)
        groups = sorted({team_group(organisation_id, role) for organisation_id, role in teams})
    except Exception:  # a notification must never break a committed action
        logger.exception("audience of event %s failed", event.pk)
        return
    if groups:
        _deliver(layer, groups, event_payload(event))


def _deliver(layer, groups, payload):
    """Send `payload` to every group at once. The Redis pub/sub layer is sent to straight from the calling thread,
    every group's PUBLISH in one round trip (`_DirectPublish`), while nothing is pending before it; any other shared
    layer, and the Redis one when it failed to answer, goes through this process's publisher loop, whose connections
    stay open between sends (the caller waits for it only while the layer answers: `_Publisher`); the in-memory
    layer (one process: development, tests) keeps the caller's loop, where its consumers' queues live."""

    async def send_all():
        results = await asyncio.gather(*(layer.group_send(group, payload) for group in groups), return_exceptions=True)
        for group, result in zip(groups, results, strict=True):
            if isinstance(result, Exception):
                logger.error("notification to %s failed: %r", group, result)

    if isinstance(layer, InMemoryChannelLayer):
        try:
            async_to_sync(send_all)()
        except Exception:
            logger.exception("notification of event %s failed", payload.get("event_id"))
        return
    direct = _direct_publish(layer)
    if direct is not None and _publisher.reserve_direct():
        try:
            direct.publish(groups, payload)
            return
        except Exception as error:
            # Unanswered in time, or refused: the publisher loop takes it over and sends it once the layer answers,
            # behind which the next ones queue (their order kept). A PUBLISH that timed out may have reached Redis
            # all the same: delivery is at least once, and pages drop an event id they have seen.
            logger.warning("notification of event %s handed to the publisher: %r", payload.get("event_id"), error)
            try:
                _publisher.submit(send_all, label=payload.get("event_id"), wait=False)
            except Exception:
                logger.exception("notification of event %s failed", payload.get("event_id"))
            return
        finally:
            _publisher.release_direct()  # after the hand-over: the sends behind it see it pending
    try:
        _publisher.submit(send_all, label=payload.get("event_id"))
    except Exception:  # after the commit: the action stands, whatever befalls its notification
        logger.exception("notification of event %s failed", payload.get("event_id"))


class _DirectPublish:
    """The Redis pub/sub layer's group send, done by the calling thread: one pipeline of PUBLISH, one per group, to
    the channel the layer's subscribers listen on, with the layer's own serializer (and so its encryption keys).

    Through the publisher loop the same send cost ~0.5 ms of the action's time (a thread hand-over each way, an
    asyncio task per group) against ~0.05 ms here. Each socket operation gives up after PUBLISH_WAIT: a send on the
    open connection waits that long at most, the first one of a process (connect, then PUBLISH) twice that. No
    `CLIENT SETINFO` on connecting, which would be two more round trips. redis-py's connection pool is thread-safe
    and opens new connections in a forked child."""

    def __init__(self, serializer, address, prefix):
        self._serialize = serializer.serialize  # not the layer's method: the layer keeps this object (no cycle)
        self._prefix = prefix
        self._client = redis.Redis.from_url(
            address,
            socket_timeout=PUBLISH_WAIT,
            socket_connect_timeout=PUBLISH_WAIT,
            driver_info=None,
        )

    def channel(self, group: str) -> str:
        # channels_redis.pubsub.RedisPubSubLoopLayer._get_group_channel_name (pinned in tests/web/test_publisher.py)
        return f"{self._prefix}__group__{group}"

    def publish(self, groups, payload) -> None:
        message = self._serialize(payload)
        pipe = self._client.pipeline(transaction=False)
        for group in groups:
            pipe.publish(self.channel(group), message)
        pipe.execute()


_DIRECT = "_parcours_direct_publish"  # where a layer keeps its direct sender (None: it has none)


def _direct_publish(layer) -> _DirectPublish | None:
    """The direct sender of `layer`: a Redis pub/sub layer on a single host given by its URL; None otherwise (a
    sharded or otherwise configured layer keeps the publisher loop, which hashes groups to shards)."""
    if not isinstance(layer, RedisPubSubChannelLayer):
        return None
    # The instance's own dict: the layer answers a missing attribute through an event loop.
    state = vars(layer)
    if _DIRECT in state:
        return state[_DIRECT]
    sender = None
    try:
        config = dict(state.get("_kwargs", {}))
        hosts = decode_hosts(config.pop("hosts", None))
        prefix = config.pop("prefix", "asgi")
        if len(hosts) == 1 and set(hosts[0]) == {"address"} and not config and not state.get("_args"):
            sender = _DirectPublish(state["_serializer"], hosts[0]["address"], prefix)
    except Exception:  # a configuration the direct path cannot take: the publisher loop reports on its own
        logger.exception("notifications: the channel layer is sent to through the publisher loop only")
    state[_DIRECT] = sender
    return sender


PUBLISH_TIMEOUT = 5.0  # seconds one send may take before it is given up (logged)
PUBLISH_WAIT = 0.2  # seconds an action waits for its send (when none is pending before it) before it goes on
# Sends handed over and not done yet, beyond which new ones are dropped and logged: a layer down for long must not
# fill the memory of the process (each send waits PUBLISH_TIMEOUT at most).
MAX_PENDING = 10_000
EXIT_FLUSH_TIMEOUT = 5.0  # seconds a process leaving waits for the sends it handed over


class _Publisher:
    """One event loop per process, in a daemon thread, for the channel layer's connections.

    `async_to_sync` outside a server loop (the timer worker, management commands, a synchronous server) starts a
    loop per call, and the Redis layer opens new connections for each loop: ~10 ms per group. Restarted after a fork.

    A committed action waits for its notification only while the layer answers: `submit` hands the send over and
    waits for it PUBLISH_WAIT at most, and not at all behind a send still pending — a stalled Redis held every write
    PUBLISH_TIMEOUT (5 s); now the first write waits 0.2 s and the next ones none, until the layer answers again.
    Sends leave one after the other in the order they were handed over (by the after-commit hooks: a page sees one
    thread's events in the order they were committed); each is bounded by PUBLISH_TIMEOUT, and a process flushes
    what it handed over when it exits (`flush`, registered with atexit). (Not waiting at all was tried: the send's
    Python then ran beside the process's next transition, which gained nothing.)
    """

    def __init__(self):
        self._reset()

    def _reset(self):
        # Also in a forked child: the parent's lock may have been held by its loop thread, which the child lacks.
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._loop = None
        self._pid = None
        self._pending = 0
        self._direct = 0  # direct sends in flight (parcours.notifications._deliver)
        self._last = None  # the last send started on the loop: the next one waits for it (read on the loop only)

    def _running_loop(self):
        """The publisher's loop (the lock held)."""
        if self._loop is None or self._pid != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="parcours-publisher", daemon=True).start()
            self._loop, self._pid, self._pending, self._last = loop, os.getpid(), 0, None
        return self._loop

    def reserve_direct(self) -> bool:
        """Whether the caller may send directly (nothing pending in this process); if so, the sends of other threads
        go through the loop until `release_direct`, and do not wait for it: a stalled layer holds one action."""
        with self._lock:  # (a forked child starts from nothing: `_reset`)
            if self._pending or self._direct:
                return False
            self._direct += 1
            return True

    def release_direct(self) -> None:
        with self._lock:
            self._direct = max(self._direct - 1, 0)

    def submit(self, make_coroutine, *, label=None, wait=True) -> bool:
        """Hand `make_coroutine()` over to the publisher's loop; False when dropped (too many sends pending). With
        nothing pending before it, wait for it up to PUBLISH_WAIT (a layer that answers: the send is done when the
        action returns, and no send runs beside the process's next work); behind a pending one, or with `wait`
        false, return at once."""
        with self._lock:
            loop = self._running_loop()
            if self._pending >= MAX_PENDING:
                logger.error("notification of event %s dropped: %s sends pending", label, self._pending)
                return False
            idle = self._pending == 0 and self._direct == 0
            self._pending += 1
        sent = threading.Event()
        try:
            loop.call_soon_threadsafe(self._start, make_coroutine, label, sent)
        except BaseException:
            with self._lock:
                self._pending -= 1
                self._done.notify_all()
            raise
        if idle and wait:
            sent.wait(PUBLISH_WAIT)
        return True

    def _start(self, make_coroutine, label, sent):
        # Each send is a task of its own that waits for the one before: nothing stays pending once all are done (a
        # long-lived reader of a queue would be a pending task at every exit).
        self._last = asyncio.ensure_future(self._send_after(self._last, make_coroutine, label, sent))

    async def _send_after(self, previous, make_coroutine, label, sent):
        try:
            if previous is not None and not previous.done():
                await asyncio.wait({previous})
            await asyncio.wait_for(make_coroutine(), PUBLISH_TIMEOUT)
        except Exception:  # a notification must never break anything: logged, and the next one goes
            logger.exception("notification of event %s failed", label)
        finally:
            with self._lock:
                self._pending -= 1
                self._done.notify_all()
            sent.set()

    def flush(self, timeout=EXIT_FLUSH_TIMEOUT) -> bool:
        """Wait until every send handed over is done (at most `timeout` seconds); whether they all are."""
        with self._lock:
            if self._pid != os.getpid():
                return True
            return self._done.wait_for(lambda: self._pending == 0, timeout)


_publisher = _Publisher()
atexit.register(_publisher.flush)
os.register_at_fork(after_in_child=_publisher._reset)


def publish_on_commit(event, *, subject=None) -> None:
    """Deliver `event` to the teams that may view its object, once the transaction has committed (the teams its
    audience's write returned: `event_written`); the e-mails it calls for are written to the outbox in the
    transaction (parcours.mail: now, or by its COMMIT), and sent by the timer worker.
    `subject`: the event's object as the service holds it (locked, with its related rows), for the e-mails to read."""
    muted = _muted.get()
    if not muted and mail.calls_for_mail(event):
        try:
            mail.enqueue_for_event(event, subject)  # a failure undoes its own writes only (savepoint)
        except Exception:  # an e-mail must never stop the action it tells of…
            if transaction.get_connection().in_atomic_block and transaction.get_rollback():
                # …unless the action itself was lost with it (roles.statements.run_on_its_own): then it fails, loudly
                raise
            logger.exception("e-mail notifications of event %s failed", event.pk)
    recorded = event.__dict__.get(_RECORDED)
    if not muted:
        transaction.on_commit(lambda: _send(event, None if recorded is None else recorded.rows))


# --- The audience of events recorded without it (the journal before it was kept, a generated load) --------------
def _viewed_kinds() -> list:
    """(journal filter (sql, params), the view action, the model, the column of the event holding the viewed row's
    id) for every kind of event a team may view: `_viewed_as`, set-based."""
    kinds = [
        (('"e"."object_type" = %s', [object_type]), action, model, '"e"."object_id"')
        for object_type, (model, action) in EVENT_OBJECTS.items()
    ]
    pathway_timers = ", ".join(["%s"] * len(PATHWAY_TIMERS))
    kinds.append(
        (
            (f'"e"."object_type" = %s AND "e"."action" IN ({pathway_timers})', ["timer", *PATHWAY_TIMERS]),
            "participant.view",
            Participant,
            '"e"."participant_id"',
        )
    )
    kinds.append(
        (
            (f'"e"."object_type" = %s AND "e"."action" NOT IN ({pathway_timers})', ["timer", *PATHWAY_TIMERS]),
            "referral.view",
            Referral,
            """CAST(("e"."inputs" ->> 'referral') AS bigint)""",
        )
    )
    return kinds


def _with_column(sql, params, arguments, column) -> tuple:
    """`sql` with the parameters at positions `arguments` replaced by the SQL expression `column`."""
    replaced, kept, pieces, position, start = set(arguments), [], [], 0, 0
    for match in re.finditer(r"%[s%]", sql):
        if match.group() == "%%":
            continue
        pieces.append(sql[start : match.start()])
        pieces.append(column if position in replaced else "%s")
        if position not in replaced:
            kept.append(params[position])
        position, start = position + 1, match.end()
    pieces.append(sql[start:])
    return "".join(pieces), kept


def record_missing_audiences(*, chunk=1_000_000) -> int:
    """Write the audience of the journal's events as the policy sees them now, the teams an event already has kept:
    after a migration created the table, or `generate_load` wrote its journal. The number of rows written. On
    PostgreSQL one statement per kind of event and range of `chunk` event ids (the audience read joined to each
    event, `LATERAL`); elsewhere event by event. Run again, it adds only the teams an object gained since."""
    if connection.vendor != "postgresql":
        written = 0
        read = ("pk", "occurred_at", "object_type", "object_id", "participant_id", "action", "inputs")
        for event in JournalEvent.objects.select_related(None).only(*read).order_by("pk").iterator(chunk_size=2000):
            viewed = _viewed_as(event)
            statement = None if viewed is None else _audience_insert(event, viewed, again=True)
            if statement is not None:
                with connection.cursor() as cursor:
                    cursor.execute(*statement[:2])
                    written += len(cursor.fetchall())
        return written
    bounds = JournalEvent.objects.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return 0
    table = connection.ops.quote_name(EventAudience._meta.db_table)
    journal = connection.ops.quote_name(JournalEvent._meta.db_table)
    written = 0
    for (where, where_params), action, model, column in _viewed_kinds():
        template = policy._audience_template(model, action)
        if template is None:
            continue
        teams, params = _with_column(template.sql, template.params, template.arguments, column)
        sql = (
            f'INSERT INTO {table} ("organisation_id", "role", "occurred_at", "event_id") '
            f'SELECT "t"."team_organisation", "t"."team_role", "e"."occurred_at", "e"."id" FROM {journal} "e" '
            f'CROSS JOIN LATERAL (SELECT DISTINCT "u"."team_organisation", "u"."team_role" FROM ({teams}) "u") "t" '
            f'WHERE {where} AND "e"."id" BETWEEN %s AND %s '
            'AND "t"."team_organisation" IS NOT NULL ON CONFLICT DO NOTHING'
        )
        for low in range(bounds["low"], bounds["high"] + 1, chunk):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [*params, *where_params, low, low + chunk - 1])
                written += cursor.rowcount
    return written

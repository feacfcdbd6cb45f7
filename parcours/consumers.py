"""Live pages: a websocket joined to the group of the user's team (current organisation and role).

The publisher (parcours.notifications) sends each journal event after commit to the groups of the teams that may
view its object (the policy's inverse); payloads carry ids, codes, states and labels, never personal data. Before
an event reaches the browser, the author's user id is replaced by `mine` (whether this viewer did it).

Catching up: the page says when it was rendered (`since_time`, epoch seconds) and, after a lost connection, the last
event id it saw (`since`). The browser sends them in a `resume` message; the server replays, oldest first, what was
told to the viewer's team after that point (its events' audience) and the viewer may still see
(parcours.selectors.notifications.events_told_since: parcours.selectors.journal.visible_events — the same rule as
every derived view). A few ids before `since` are replayed too (a transaction that took an id earlier may
commit later); the page ignores ids it has seen. More than LIVE_REPLAY_LIMIT missed events: a `resync` message
tells the page to reload its live parts instead.
"""

import datetime
import json
import logging
from collections import OrderedDict
from importlib import import_module

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, get_user_model
from django.utils.crypto import constant_time_compare

from parcours.notifications import event_payload, session_group, team_group, user_group
from parcours.selectors.notifications import events_told_since
from roles.actor import Actor
from roles.middleware import SESSION_KEY, memberships_of

logger = logging.getLogger(__name__)

# Ids taken by transactions that commit out of order are close to each other: replay a few before `since`.
REPLAY_OVERLAP = 20
# A page sends `resume` messages of a few dozen bytes; anything larger is not one.
MAX_FRAME = 4096


def as_shown(event, mine: bool) -> dict:
    """An event as a viewer receives it: the author's id replaced by whether this viewer is the author."""
    shown = {k: v for k, v in event.items() if k not in ("type", "actor_user_id")}
    return {**shown, "type": "event", "mine": mine}


class _Frames:
    """The text frame of an event as a viewer sees it, encoded once per process for all the team's sockets (a team
    of a thousand open pages is a thousand sends of the same two texts: with or without `mine`). The last few
    events only: frames are sent as they arrive."""

    def __init__(self, size=64):
        self._texts = OrderedDict()
        self._size = size

    def text(self, event, mine: bool) -> str:
        key = (event.get("event_id"), mine)
        text = self._texts.get(key)
        if text is None:
            text = json.dumps(as_shown(event, mine))
            self._texts[key] = text
            if len(self._texts) > self._size:
                self._texts.popitem(last=False)
        return text


_frames = _Frames()


@database_sync_to_async
def current_actor(user, session):
    """The Actor of the membership the user currently acts for, or None."""
    memberships = list(memberships_of(user))
    chosen = session.get(SESSION_KEY) if session is not None else None
    membership = next((m for m in memberships if m.pk == chosen), memberships[0] if memberships else None)
    return Actor.from_membership(membership) if membership else None


def _as_int(value):
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63 else None


@database_sync_to_async
def still_signed_in(user, session) -> bool:
    """The session the socket opened with is still there (not signed out), the user still active, and the password
    the same as when the session signed in (Django's session hash, read again: a password changed or reset elsewhere
    signs this session out at its next request; a socket makes none)."""
    key = getattr(session, "session_key", None)
    if key is None or not session.exists(key):
        return False
    # get_user_model: the scope's user is channels' lazy object, not the model.
    current = get_user_model().objects.filter(pk=user.pk, is_active=True).first()
    if current is None:
        return False
    # Read afresh from the configured store (the scope's session is channels' lazy wrapper, read at connect).
    stored = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key).load().get(HASH_SESSION_KEY)
    if stored is None:  # a session without a hash (none signs in so): nothing to compare
        return True
    hashes = [current.get_session_auth_hash(), *current.get_session_auth_fallback_hash()]
    return any(constant_time_compare(stored, known) for known in hashes)


@database_sync_to_async
def missed_events(actor, *, since=None, since_time=None):
    """([payloads], complete) of the events told to `actor`'s team that it may still see, after `since` (an event
    id) or from `since_time` on."""
    after_id = None if since is None else max(since - REPLAY_OVERLAP, 0)
    limit = settings.PARCOURS["LIVE_REPLAY_LIMIT"]
    events, complete = events_told_since(actor, after_id=after_id, since_time=since_time, limit=limit)
    return [event_payload(e) for e in events], complete


class NotificationsConsumer(AsyncJsonWebsocketConsumer):
    group = None
    actor = None
    joined = ()

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.actor = await current_actor(user, self.scope.get("session"))
        if self.actor is None:
            await self.close(code=4403)
            return
        self.group = team_group(self.actor.organisation_id, self.actor.role)
        # Its team's events; and the end of its session or of the user's access or password (notifications.end_live).
        key = getattr(self.scope.get("session"), "session_key", None)
        self.joined = [self.group, user_group(user.pk)] + ([session_group(key)] if key else [])
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def live_end(self, message):
        """The session signed out, or the user lost an access: the page's live feed ends (it reloads to sign in)."""
        await self.close(code=4401)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        # Anything but a short JSON text is not a page's message: ignored, as an unknown one is (channels' own
        # decoding raised on it — a traceback in the logs for any frame a client chose to send).
        if text_data is None or len(text_data) > MAX_FRAME:
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):
            return
        await self.receive_json(content, **kwargs)

    def _mine(self, event) -> bool:
        return event.get("actor_user_id") == self.actor.user.pk

    async def receive_json(self, content, **kwargs):
        """The one message a page sends: `{"type": "resume", "since": <event id>}` or `{"since_time": <epoch s>}`.
        Anything else is ignored."""
        if not isinstance(content, dict) or content.get("type") != "resume" or self.actor is None:
            return
        since = _as_int(content.get("since"))
        since_time = content.get("since_time")
        if since is None:
            if not isinstance(since_time, int | float) or isinstance(since_time, bool):
                return
            try:
                since_time = datetime.datetime.fromtimestamp(since_time, datetime.UTC)
            except (OverflowError, OSError, ValueError):
                return
        # A replay reads the journal: asked only of a session still signed in and a member still in the team.
        user, session = self.scope.get("user"), self.scope.get("session")
        if not await still_signed_in(user, session) or await current_actor(user, session) != self.actor:
            await self.close(code=4401)
            return
        payloads, complete = await missed_events(self.actor, since=since, since_time=since_time)
        for payload in payloads:
            await self.send_json({**as_shown(payload, self._mine(payload)), "replayed": True})
        if not complete:
            await self.send_json({"type": "resync"})

    async def dispatch(self, message):
        # channels' dispatch closes stale database connections before every handler: a hop to the database thread
        # per message. A team's event is one message per open page (a thousand pages: a thousand hops queued behind
        # one thread) and its handler reads no database, so it is handled here directly; every other message
        # (connect, resume, disconnect: they read the database) goes through channels' dispatch.
        if message.get("type") == "journal.event":
            await self.journal_event(message)
        else:
            await super().dispatch(message)

    async def journal_event(self, event):
        await self.send(text_data=_frames.text(event, self._mine(event)))

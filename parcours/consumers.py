"""Realtime notifications: a websocket joined to the group of the user's team (current organisation and role).

The publisher (parcours.notifications) sends each journal event after commit to the groups of the teams that may
view its object (the policy's inverse); payloads carry ids, codes, states and labels only, never personal data."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from parcours.notifications import team_group
from roles.middleware import SESSION_KEY, memberships_of


@database_sync_to_async
def current_team(user, session):
    """(organisation id, role) of the membership the user currently acts for, or None."""
    memberships = list(memberships_of(user))
    chosen = session.get(SESSION_KEY) if session is not None else None
    membership = next((m for m in memberships if m.pk == chosen), memberships[0] if memberships else None)
    return (membership.organisation_id, membership.role) if membership else None


class NotificationsConsumer(AsyncJsonWebsocketConsumer):
    group = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        team = await current_team(user, self.scope.get("session"))
        if team is None:
            await self.close(code=4403)
            return
        self.group = team_group(*team)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        """The socket is one-way: anything sent by the browser is ignored."""

    async def journal_event(self, event):
        await self.send_json({k: v for k, v in event.items() if k != "type"})

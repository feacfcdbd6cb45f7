"""Notifications: the page lists others' actions on objects in scope; the websocket pushes them live."""

import html

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from parcours.consumers import NotificationsConsumer
from parcours.services import referrals, register


def test_page_lists_partner_actions_in_scope_only(site, client):
    participant = site.participant()
    referral = participant.pathways.get().referrals.get()
    referrals.referral_start_review(actor=site.facilitator, referral=referral)
    client.login(username="conseillere", password="demo")
    body = client.get(reverse("notifications")).content.decode()
    assert "Prendre en examen" in body and f'href="/positionnements/{referral.pk}/"' in body
    # The row names the young person for who may see the identity.
    assert f"{participant.first_name} {participant.last_name.upper()}" in body
    # Own actions are not notifications.
    assert "Positionnement envoyé" not in body
    client.logout()
    client.login(username="conseiller.b", password="demo")
    body = client.get(reverse("notifications")).content.decode()
    assert "Prendre en examen" not in body
    client.logout()
    # The employer learns nothing before the referral is forwarded to it.
    client.login(username="employeur", password="demo")
    body = client.get(reverse("notifications")).content.decode()
    assert f"/positionnements/{referral.pk}/" not in body and participant.last_name.upper() not in body


def test_offers_and_lots_are_named_and_linked(site, client):
    offer = register.offer_create(
        actor=site.facilitator,
        lot=site.lot,
        title="Coffreur·se bancheur·se",
        trade="Gros œuvre",
        contract_type="cdd",
        weekly_hours=35,
        location="Vénissieux",
    )
    register.offer_close(actor=site.facilitator, offer=offer)
    client.login(username="conseillere", password="demo")
    body = html.unescape(client.get(reverse("notifications")).content.decode())
    row = f'<a href="{reverse("adviser:offers")}">Offre</a> — Coffreur·se bancheur·se'
    assert body.count(row) == 2  # its creation and its closing


def test_page_query_count_is_fixed(site, client, django_assert_max_num_queries):
    for _ in range(3):
        referral = site.participant().pathways.get().referrals.get()
        referrals.referral_start_review(actor=site.facilitator, referral=referral)
    client.login(username="conseillere", password="demo")
    client.get(reverse("notifications"))
    with django_assert_max_num_queries(6):
        assert client.get(reverse("notifications")).status_code == 200


def test_anonymous_page_redirects(client, site):
    assert client.get(reverse("notifications")).status_code == 302


async def _receive_after(user, action):
    communicator = WebsocketCommunicator(NotificationsConsumer.as_asgi(), "/ws/notifications/")
    communicator.scope["user"] = user
    communicator.scope["session"] = {}
    connected, _ = await communicator.connect(timeout=10)  # a loaded CI machine may take more than 1 s
    assert connected
    from channels.db import database_sync_to_async

    await database_sync_to_async(action)()
    message = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    return message


@pytest.mark.django_db(transaction=True)
def test_websocket_pushes_committed_events_to_the_organisation(site):
    participant = site.participant()
    referral = participant.pathways.get().referrals.get()

    def review():
        referrals.referral_start_review(actor=site.facilitator, referral=referral)

    message = async_to_sync(_receive_after)(site.adviser.user, review)
    assert message["object_type"] == "referral" and message["object_id"] == referral.pk
    assert message["action"] == "start_review" and message["to_state"] == "under_review"
    assert set(message) == {
        "type",
        "mine",
        "participant_id",
        "event_id",
        "object_type",
        "object_id",
        "action",
        "from_state",
        "to_state",
        "object_label",
        "action_label",
        "to_label",
    }
    assert message["action_label"] == "Prendre en examen" and message["to_label"] == "En examen"
    assert message["type"] == "event" and message["mine"] is False and message["participant_id"] == participant.pk


def test_websocket_refuses_anonymous(site):
    from django.contrib.auth.models import AnonymousUser

    async def run():
        communicator = WebsocketCommunicator(NotificationsConsumer.as_asgi(), "/ws/notifications/")
        communicator.scope["user"] = AnonymousUser()
        connected, code = await communicator.connect(timeout=10)
        return connected, code

    connected, code = async_to_sync(run)()
    assert not connected and code == 4401


async def _receive_on_sockets(users, action):
    """Open one socket per user, run `action`, return what each received first (and the database hops taken by
    channels' dispatch meanwhile)."""
    from unittest import mock

    from channels.db import database_sync_to_async

    sockets = []
    for user in users:
        communicator = WebsocketCommunicator(NotificationsConsumer.as_asgi(), "/ws/notifications/")
        communicator.scope["user"] = user
        communicator.scope["session"] = {}
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        sockets.append(communicator)
    hops = mock.AsyncMock()
    with mock.patch("channels.consumer.aclose_old_connections", hops):
        await database_sync_to_async(action)()
        messages = [await s.receive_json_from(timeout=5) for s in sockets]
    for s in sockets:
        await s.disconnect()
    return messages, hops.await_count


@pytest.mark.django_db(transaction=True)
def test_a_teams_sockets_get_the_event_with_their_own_mine_and_without_a_database_hop(site):
    """The frame is encoded once per event and viewer kind (mine or not) for all the team's sockets; the author's
    says `mine`, a colleague's does not. Channels' dispatch would hop to the database thread before each frame
    (close_old_connections): a thousand open pages queued a thousand hops behind one thread (p50 3.3 s)."""
    from tests.factories import MembershipFactory

    colleague = MembershipFactory(organisation=site.facilitator.organisation, role=site.facilitator.role).user
    referral = site.participant().pathways.get().referrals.get()

    def review():
        referrals.referral_start_review(actor=site.facilitator, referral=referral)

    users = [site.facilitator.user, colleague, site.adviser.user]
    (author, other, adviser), hops = async_to_sync(_receive_on_sockets)(users, review)
    for message in (author, other, adviser):
        assert message["object_id"] == referral.pk and message["action"] == "start_review"
        assert message["type"] == "event" and "actor_user_id" not in message
    assert author["mine"] is True and other["mine"] is False and adviser["mine"] is False
    assert {k: v for k, v in author.items() if k != "mine"} == {k: v for k, v in other.items() if k != "mine"}
    assert hops == 0


@pytest.mark.django_db(transaction=True)
def test_a_replayed_event_is_shown_as_a_live_one_with_its_own_mine(site):
    """Resuming after a lost connection replays the events in scope the same way live frames show them: no author
    id, `mine` for the author only, marked `replayed`."""
    import time

    referral = site.participant().pathways.get().referrals.get()
    referrals.referral_start_review(actor=site.facilitator, referral=referral)

    async def resume(user):
        communicator = WebsocketCommunicator(NotificationsConsumer.as_asgi(), "/ws/notifications/")
        communicator.scope["user"] = user
        communicator.scope["session"] = {}
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        await communicator.send_json_to({"type": "resume", "since_time": time.time() - 3600})
        received = []
        while True:
            message = await communicator.receive_json_from(timeout=5)
            received.append(message)
            if message.get("action") == "start_review":
                break
        await communicator.disconnect()
        return received

    for user, mine in ((site.facilitator.user, True), (site.adviser.user, False)):
        received = async_to_sync(resume)(user)
        review = received[-1]
        assert review["object_id"] == referral.pk and review["replayed"] is True and review["type"] == "event"
        assert review["mine"] is mine and all("actor_user_id" not in m for m in received)


@pytest.mark.parametrize("before", ["²", "١٢", "99999999999999999999", "-3", "abc", ""])
def test_a_malformed_page_anchor_shows_the_first_page(site, client, before):
    """`?avant=` that is not an event id (a superscript digit passed `str.isdigit` and failed `int`: a 500)."""
    referral = site.participant().pathways.get().referrals.get()
    referrals.referral_start_review(actor=site.facilitator, referral=referral)
    client.login(username="conseillere", password="demo")
    response = client.get(reverse("notifications"), {"avant": before})
    assert response.status_code == 200 and "Prendre en examen" in response.content.decode()
    assert response.context["paged"] is False


@pytest.mark.parametrize("username", ["conseillere", "facilitateur", "employeur"])
def test_the_page_s_statements_do_not_grow_with_its_rows(site, client, username):
    """Pinned: the session's, the candidates and their check, what the rows show (names, health data, the referrals
    of placements): the same for one referral's events as for a page of several kinds."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements():
        client.get(reverse("notifications"))  # warm: the compiled check, the session
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("notifications"))
        return len(queries), len(response.context["events"])

    site.participant(hired=True)
    client.login(username=username, password="demo")
    few, rows_few = statements()
    for _ in range(4):
        site.participant(hired=True)
    many, rows_many = statements()
    assert rows_many > rows_few >= 1
    assert few == many == PINNED[username], (few, many)


PINNED = {"conseillere": 8, "facilitateur": 10, "employeur": 7}  # + the referrals named by a page's events

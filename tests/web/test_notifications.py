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
        communicator.scope["user"] = as_channels_gives_it(user)
        communicator.scope["session"] = await signed_in_session()
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


async def signed_in_session():
    """A session as the websocket's middleware finds it for a signed-in page (its row in the database)."""
    from channels.db import database_sync_to_async
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    await database_sync_to_async(session.create)()
    return session


def as_channels_gives_it(user):
    """The scope's user as channels' AuthMiddleware sets it: a lazy object, not the model (`type(user).objects`
    failed on it)."""
    from django.utils.functional import SimpleLazyObject

    return SimpleLazyObject(lambda: user)


async def _socket(user, session=None):
    communicator = WebsocketCommunicator(NotificationsConsumer.as_asgi(), "/ws/notifications/")
    communicator.scope["user"] = as_channels_gives_it(user)
    communicator.scope["session"] = session if session is not None else await signed_in_session()
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


@pytest.mark.django_db(transaction=True)
def test_a_live_page_ends_with_its_session_and_with_its_users_access(site):
    """A socket outlived its page's sign-out and its user's deactivation: it kept its former team's events and
    could ask for a day of them again."""
    from channels.db import database_sync_to_async
    from django.contrib.auth.signals import user_logged_out
    from django.test import RequestFactory

    from roles.models import Membership

    async def run():
        session = await signed_in_session()
        signed_out = await _socket(site.adviser.user, session)
        colleague = await _socket(site.adviser.user)  # the same user's other browser: not signed out

        def sign_out():
            request = RequestFactory().post("/deconnexion/")
            request.session = session
            user_logged_out.send(sender=type(site.adviser.user), request=request, user=site.adviser.user)

        await database_sync_to_async(sign_out)()
        assert (await signed_out.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4401}
        assert await colleague.receive_nothing(timeout=0.2)

        def deactivate():
            membership = Membership.objects.get(user=site.adviser.user, organisation=site.adviser.organisation)
            membership.is_active = False
            membership.save()

        await database_sync_to_async(deactivate)()
        assert (await colleague.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4401}

    async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_a_replay_is_refused_to_a_session_signed_out_meanwhile(site):
    from channels.db import database_sync_to_async

    async def run():
        session = await signed_in_session()
        socket = await _socket(site.adviser.user, session)
        await database_sync_to_async(session.delete)()  # signed out where the close could not be told
        await socket.send_json_to({"type": "resume", "since": 1})
        return await socket.receive_output(timeout=5)

    assert async_to_sync(run)() == {"type": "websocket.close", "code": 4401}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("frame", ["hello", "[" * 100_000, "x" * 10_000, None])
def test_a_frame_that_is_no_page_message_is_ignored_without_a_traceback(site, frame, caplog):
    async def run():
        socket = await _socket(site.adviser.user)
        if frame is None:
            await socket.send_to(bytes_data=b"\x00\x01")
        else:
            await socket.send_to(text_data=frame)
        quiet = await socket.receive_nothing(timeout=0.3)
        await socket.send_json_to({"type": "resume", "since": 1})  # still serving its page
        answered = await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()
        return quiet, answered

    quiet, _ = async_to_sync(run)()
    assert quiet and "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelname == "ERROR"]


@pytest.mark.django_db(transaction=True)
def test_a_hire_tells_its_consequences_live_too(site):
    """The pathway moving to « placé » and the new contract were on the notifications page and in a replay, never
    pushed: a team in their audience only (the adviser for the pathway) learned nothing live."""
    from channels.db import database_sync_to_async

    participant = site.participant()
    referral = participant.pathways.get().referrals.get()
    for step in (referrals.referral_start_review, referrals.referral_approve, referrals.referral_forward):
        step(actor=site.facilitator, referral=referral)
    referrals.referral_accept(actor=site.employer, referral=referral)

    async def run():
        socket = await _socket(site.adviser.user)

        def hire():
            referrals.referral_hire(
                actor=site.employer, referral=referral, contract_type="cdd", start_date=site.today, weekly_hours=35
            )

        await database_sync_to_async(hire)()
        received = []
        while not await socket.receive_nothing(timeout=0.5):
            received.append(await socket.receive_json_from(timeout=5))
        await socket.disconnect()
        return received

    told = {(m["object_type"], m["action"]) for m in async_to_sync(run)()}
    assert {("referral", "hire"), ("pathway", "place")} <= told


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


def test_a_page_says_when_it_was_rendered_to_the_microsecond(site, client):
    """In whole seconds, an event of the page's own second was replayed on connect and counted as new."""
    import re

    client.login(username="conseillere", password="demo")
    body = client.get(reverse("notifications")).content.decode()
    assert re.search(r'data-live-at="\d+\.\d{6}"', body)


def test_a_role_told_of_nothing_by_e_mail_is_not_told_its_choices_were_recorded(site, client):
    client.login(username="auditeur", password="demo")
    response = client.post(reverse("notification_preferences"), {}, follow=True)
    body = html.unescape(response.content.decode())
    assert "rien à enregistrer" in body and "sont enregistrées" not in body

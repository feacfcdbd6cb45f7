"""A new password closes the user's live pages (parcours.notifications.password_set, parcours/consumers.py). Before
this work a password changed in session A signed session B's HTTP requests out, but B's open websocket kept
receiving its team's events until the page sent a request."""

from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from django.core.cache import cache
from django.test import Client

from parcours.consumers import NotificationsConsumer
from parcours.services import referrals
from tests.web.test_notifications import as_channels_gives_it

NEW = "Riviere-Ardoise-Velo-97"
CLOSED = {"type": "websocket.close", "code": 4401}


@pytest.fixture(autouse=True)
def _clean_counters():
    cache.clear()
    yield
    cache.clear()


def _signed_in(username):
    """A browser signed in through the sign-in form, and its session as the websocket's middleware loads it."""
    browser = Client()
    assert browser.post("/connexion/", {"username": username, "password": "demo"}).status_code == 302
    return browser, SessionStore(session_key=browser.session.session_key)


async def _socket(user, session):
    communicator = WebsocketCommunicator(NotificationsConsumer.as_asgi(), "/ws/notifications/")
    communicator.scope["user"] = as_channels_gives_it(user)
    communicator.scope["session"] = session
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


@pytest.mark.django_db(transaction=True)
def test_a_password_changed_in_one_session_closes_the_sockets_of_the_others(site):
    adviser = site.adviser.user

    async def run():
        changer, changer_session = await database_sync_to_async(_signed_in)("conseillere")
        _, other_session = await database_sync_to_async(_signed_in)("conseillere")
        _, colleague_session = await database_sync_to_async(_signed_in)("facilitateur")
        other = await _socket(adviser, other_session)
        own = await _socket(adviser, changer_session)
        colleague = await _socket(site.facilitator.user, colleague_session)

        def change():
            response = changer.post(
                "/mot-de-passe/", {"old_password": "demo", "new_password1": NEW, "new_password2": NEW}
            )
            assert response.status_code == 302, response.content

        await database_sync_to_async(change)()
        assert await other.receive_output(timeout=5) == CLOSED
        # The changing session's own pages close too (its session key was cycled): they reload, still signed in.
        assert await own.receive_output(timeout=5) == CLOSED
        assert await colleague.receive_nothing(timeout=0.3)  # another user's page stays open

        def act():  # an event of the team after the change: the colleague gets it
            referral = site.participant().pathways.get().referrals.get()
            referrals.referral_start_review(actor=site.facilitator, referral=referral)

        await database_sync_to_async(act)()
        assert (await colleague.receive_json_from(timeout=5))["type"] == "event"
        await colleague.disconnect()
        return await database_sync_to_async(lambda: changer.get("/").status_code)()

    assert async_to_sync(run)() == 200  # the session that changed it is still signed in


@pytest.mark.django_db(transaction=True)
def test_a_password_reset_by_e_mail_closes_every_socket_of_the_user(site):
    adviser = site.adviser.user
    adviser.email = "conseillere@example.org"
    adviser.save()

    async def run():
        _, session = await database_sync_to_async(_signed_in)("conseillere")
        socket = await _socket(adviser, session)

        def reset():
            browser = Client()
            browser.post("/mot-de-passe/oublie/", {"email": "conseillere@example.org"})
            link = next(line for line in mail.outbox[-1].body.splitlines() if "/mot-de-passe/nouveau/" in line)
            opened = browser.get(link.strip().removeprefix(settings.PARCOURS_BASE_URL))
            browser.post(opened["Location"], {"new_password1": NEW, "new_password2": NEW})

        await database_sync_to_async(reset)()
        return await socket.receive_output(timeout=5)

    assert async_to_sync(run)() == CLOSED


@pytest.mark.django_db(transaction=True)
def test_a_replay_asks_for_the_password_the_session_signed_in_with(site):
    """The close is best effort (the channel layer may be down): a replay checks Django's session hash again, so a
    session whose password changed elsewhere gets nothing from the journal."""
    adviser = site.adviser.user

    async def run():
        _, session = await database_sync_to_async(_signed_in)("conseillere")
        socket = await _socket(adviser, session)
        await socket.send_json_to({"type": "resume", "since": 1})
        replayed = [await socket.receive_json_from(timeout=5)]  # signed in with this password: served
        while not await socket.receive_nothing(timeout=0.5):
            replayed.append(await socket.receive_json_from(timeout=5))
        still_served = any(m.get("replayed") for m in replayed)

        def change_unheard():
            with mock.patch("parcours.notifications.end_live"):
                adviser.set_password(NEW)
                adviser.save()

        await database_sync_to_async(change_unheard)()
        assert await socket.receive_nothing(timeout=0.3)  # the close was not told
        await socket.send_json_to({"type": "resume", "since": 1})
        return still_served, await socket.receive_output(timeout=5)

    still_served, answer = async_to_sync(run)()
    assert still_served and answer == CLOSED

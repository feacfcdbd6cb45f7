"""With REDIS_URL set (make test-postgres), notifications cross processes through the Redis channel layer."""

import os

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from parcours.notifications import publish_on_commit, team_group
from parcours.services import referrals
from roles.enums import Role

pytestmark = pytest.mark.redis


@pytest.fixture(autouse=True)
def _require_redis():
    if not os.environ.get("REDIS_URL"):
        pytest.fail("REDIS_URL is not set: run this test through scripts/with-redis.sh (make test-postgres).")


def test_settings_use_the_redis_pub_sub_layer():
    """Redis pub/sub: one PUBLISH per team and event, fanned out to the sockets by each worker process (the list
    layer pushed one message per socket through Redis: 1,000 open pages lost 80 of 20,000 frames and waited 1 s)."""
    assert get_channel_layer().__class__.__name__ == "RedisPubSubChannelLayer"


async def _receive_from_other_worker(organisation_id, action):
    import asyncio

    from channels.db import database_sync_to_async
    from channels_redis.pubsub import RedisPubSubChannelLayer

    # A second layer instance stands for another ASGI worker process.
    from django.conf import settings

    other_worker = RedisPubSubChannelLayer(**settings.CHANNEL_LAYERS["default"]["CONFIG"])
    channel = await other_worker.new_channel()
    await other_worker.group_add(team_group(organisation_id, Role.ADVISER), channel)
    await database_sync_to_async(action)()
    received = []
    try:
        while True:
            message = await asyncio.wait_for(other_worker.receive(channel), timeout=5)
            received.append(message)
            if message["object_type"] == "referral" and message["action"] == "start_review":
                return message, received
    finally:
        await other_worker.flush()


@pytest.mark.django_db(transaction=True)
def test_committed_event_reaches_a_subscriber_of_another_layer_instance(site):
    referral = site.participant().pathways.get().referrals.get()

    def review():
        referrals.referral_start_review(actor=site.facilitator, referral=referral)

    message, received = async_to_sync(_receive_from_other_worker)(site.ml.pk, review)
    assert message["object_id"] == referral.pk and message["to_state"] == "under_review"
    assert len(received) == 1  # nothing else happened to the Mission Locale's objects meanwhile


@pytest.mark.django_db(transaction=True)
def test_the_send_goes_straight_to_redis_from_the_acting_thread(site, monkeypatch):
    """One pipelined PUBLISH per event from the thread that committed (parcours.notifications._DirectPublish), on
    the channel and in the encoding the layer's subscribers read: the publisher loop is not started."""
    from parcours import notifications

    fresh = notifications._Publisher()
    monkeypatch.setattr(notifications, "_publisher", fresh)
    referral = site.participant().pathways.get().referrals.get()

    def review():
        referrals.referral_start_review(actor=site.facilitator, referral=referral)

    message, _ = async_to_sync(_receive_from_other_worker)(site.ml.pk, review)
    assert message["object_id"] == referral.pk
    assert fresh._loop is None


def test_publish_is_deferred_to_commit(django_capture_on_commit_callbacks, site):
    class Event:
        pk, object_type, object_id, action, from_state, to_state = 1, "referral", 1, "approve", "a", "b"

    with django_capture_on_commit_callbacks() as callbacks:
        publish_on_commit(Event())
    assert len(callbacks) == 1


@pytest.mark.django_db(transaction=True)
def test_a_stalled_redis_delays_the_first_write_a_moment_and_the_next_ones_nothing(site):
    """Redis stops answering (CLIENT PAUSE of its writes, PUBLISH among them, 2 s): the first action waits for its
    notification PUBLISH_WAIT (0.2 s), the next ones not at all (each waited up to 5 s); all are sent once Redis is
    back, and the process flushes them."""
    import time

    import redis

    from parcours import notifications

    first, second = (site.participant().pathways.get().referrals.get() for _ in range(2))
    assert notifications._publisher.flush(timeout=10)  # nothing of the set-up left pending
    redis.Redis.from_url(os.environ["REDIS_URL"]).client_pause(2000, all=False)
    started = time.monotonic()
    for referral in (first, second):
        referrals.referral_start_review(actor=site.facilitator, referral=referral)
    assert notifications.PUBLISH_WAIT <= time.monotonic() - started < 1.5  # the send was held: the first one waited
    assert notifications._publisher.flush(timeout=10)


def test_a_direct_send_reaches_the_subscribers_of_an_encrypted_layer(monkeypatch):
    """The direct send encodes with the layer's own serializer: with encryption keys, a subscriber decrypts it."""
    import asyncio

    from asgiref.sync import sync_to_async
    from channels_redis.pubsub import RedisPubSubChannelLayer
    from django.conf import settings

    from parcours import notifications

    fresh = notifications._Publisher()
    monkeypatch.setattr(notifications, "_publisher", fresh)
    config = dict(settings.CHANNEL_LAYERS["default"]["CONFIG"], symmetric_encryption_keys=["k" * 32])
    sender, receiver = RedisPubSubChannelLayer(**config), RedisPubSubChannelLayer(**config)
    group = team_group(9, Role.ADVISER)

    async def run():
        channel = await receiver.new_channel()
        await receiver.group_add(group, channel)
        try:
            await sync_to_async(notifications._deliver)(sender, [group], {"type": "journal.event", "event_id": 9})
            return await asyncio.wait_for(receiver.receive(channel), timeout=5)
        finally:
            await receiver.flush()

    assert async_to_sync(run)()["event_id"] == 9
    assert notifications._direct_publish(sender) is not None and fresh._loop is None

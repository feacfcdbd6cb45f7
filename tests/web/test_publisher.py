"""The publisher of a shared channel layer (Redis): the committed action waits for its notification only while the
layer answers; the sends leave in order, each bounded in time, a bounded number pending, and a leaving process
flushes them."""

import asyncio
import logging
import threading
import time

import pytest

from parcours import notifications


class SlowLayer:
    """A shared layer (not the in-memory one) whose sends wait for `gate` when told to, and record what they sent."""

    def __init__(self):
        self.sent = []
        self.gate = threading.Event()
        self.hold = set()  # event ids whose send waits for the gate
        self.hang = set()  # event ids whose send never ends

    async def group_send(self, group, payload):
        event_id = payload["event_id"]
        if event_id in self.hang:
            await asyncio.sleep(3600)
        if event_id in self.hold:
            await asyncio.to_thread(self.gate.wait, 10)
        self.sent.append((event_id, group))


@pytest.fixture
def publisher(monkeypatch):
    fresh = notifications._Publisher()
    monkeypatch.setattr(notifications, "_publisher", fresh)
    return fresh


def _deliver(layer, event_id, groups=("organisation-1-adviser",)):
    notifications._deliver(layer, list(groups), {"event_id": event_id})


def test_a_send_the_layer_answers_is_done_when_the_action_returns(publisher):
    layer = SlowLayer()
    _deliver(layer, 1, groups=("organisation-1-adviser", "organisation-2-facilitator"))
    assert sorted(layer.sent) == [(1, "organisation-1-adviser"), (1, "organisation-2-facilitator")]


def test_a_stalled_layer_holds_the_first_action_a_moment_and_the_next_ones_not_at_all(publisher, monkeypatch):
    layer = SlowLayer()
    layer.hold.update({1, 2})
    monkeypatch.setattr(notifications, "PUBLISH_WAIT", 0.1)
    started = time.monotonic()
    _deliver(layer, 1)
    assert 0.1 <= time.monotonic() - started < 5  # waited PUBLISH_WAIT, not the send (held for 10 s)
    assert layer.sent == []
    monkeypatch.setattr(notifications, "PUBLISH_WAIT", 30)  # a second action waiting for its send would stall here
    started = time.monotonic()
    _deliver(layer, 2)
    assert time.monotonic() - started < 10 and layer.sent == []
    layer.gate.set()
    assert publisher.flush(timeout=10)
    assert [event_id for event_id, _ in layer.sent] == [1, 2]


def test_sends_leave_in_the_order_they_were_handed_over(publisher):
    layer = SlowLayer()
    layer.hold.add(1)  # the first one is slow: the next ones wait for it
    for event_id in (1, 2, 3):
        _deliver(layer, event_id)
    layer.gate.set()
    assert publisher.flush(timeout=10)
    assert [event_id for event_id, _ in layer.sent] == [1, 2, 3]


def test_a_send_that_hangs_is_given_up_and_the_next_ones_go(publisher, monkeypatch, caplog):
    monkeypatch.setattr(notifications, "PUBLISH_TIMEOUT", 0.1)
    layer = SlowLayer()
    layer.hang.add(1)
    with caplog.at_level(logging.ERROR, logger="parcours.notifications"):
        _deliver(layer, 1)
        _deliver(layer, 2)
        assert publisher.flush(timeout=10)
    assert layer.sent == [(2, "organisation-1-adviser")]
    assert "notification of event 1 failed" in caplog.text


def test_beyond_the_pending_bound_a_send_is_dropped_and_logged(publisher, monkeypatch, caplog):
    monkeypatch.setattr(notifications, "MAX_PENDING", 2)
    layer = SlowLayer()
    layer.hold.update({1, 2})
    with caplog.at_level(logging.ERROR, logger="parcours.notifications"):
        _deliver(layer, 1)
        _deliver(layer, 2)
        _deliver(layer, 3)  # two pending: dropped
        assert not publisher.flush(timeout=0.05)  # held: a flush gives up at its timeout, and says so
        layer.gate.set()
        assert publisher.flush(timeout=10)
    assert [event_id for event_id, _ in layer.sent] == [1, 2]
    assert "notification of event 3 dropped" in caplog.text
    _deliver(layer, 4)  # room again
    assert publisher.flush(timeout=10)
    assert layer.sent[-1] == (4, "organisation-1-adviser")


def test_a_failed_send_to_one_group_is_logged_and_the_others_go(publisher, caplog):
    class HalfBroken(SlowLayer):
        async def group_send(self, group, payload):
            if group.endswith("facilitator"):
                raise ConnectionError("down")
            await super().group_send(group, payload)

    layer = HalfBroken()
    with caplog.at_level(logging.ERROR, logger="parcours.notifications"):
        _deliver(layer, 7, groups=("organisation-1-adviser", "organisation-2-facilitator"))
        assert publisher.flush(timeout=10)
    assert layer.sent == [(7, "organisation-1-adviser")]
    assert "notification to organisation-2-facilitator failed" in caplog.text


def test_a_process_that_sent_nothing_flushes_at_once(publisher):
    assert publisher.flush(timeout=0)


def test_a_publisher_that_cannot_take_the_send_logs_it_and_the_action_goes_on(publisher, caplog):
    layer = SlowLayer()
    _deliver(layer, 1)  # the loop runs
    loop = publisher._loop
    loop.call_soon_threadsafe(loop.stop)
    while loop.is_running():
        time.sleep(0.01)
    loop.close()  # gone: handing a send over raises
    with caplog.at_level(logging.ERROR, logger="parcours.notifications"):
        _deliver(layer, 2)  # no exception reaches the committed action
    assert "notification of event 2 failed" in caplog.text
    assert publisher._pending == 0 and publisher.flush(timeout=0)  # the count is given back


# --- The Redis pub/sub layer is sent to from the calling thread while nothing is pending (parcours.notifications) --
class Direct:
    """Stands for `_DirectPublish`: records what it published; fails for the event ids in `fail`."""

    def __init__(self):
        self.sent = []
        self.fail = set()

    def publish(self, groups, payload):
        if payload["event_id"] in self.fail:
            raise TimeoutError("Timeout reading from socket")
        self.sent.extend((payload["event_id"], group) for group in groups)


@pytest.fixture
def direct(monkeypatch):
    sender = Direct()
    monkeypatch.setattr(notifications, "_direct_publish", lambda layer: sender)
    return sender


def test_a_direct_send_does_not_go_through_the_publisher_loop(publisher, direct):
    layer = SlowLayer()
    _deliver(layer, 1, groups=("organisation-1-adviser", "organisation-2-facilitator"))
    assert direct.sent == [(1, "organisation-1-adviser"), (1, "organisation-2-facilitator")]
    assert layer.sent == [] and publisher._loop is None  # the loop was never started


def test_a_direct_send_that_fails_is_handed_to_the_publisher_and_the_action_does_not_wait_again(
    publisher, direct, monkeypatch, caplog
):
    layer = SlowLayer()
    layer.hold.add(1)
    direct.fail.add(1)
    monkeypatch.setattr(notifications, "PUBLISH_WAIT", 30)  # waiting for the held send would stall here
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="parcours.notifications"):
        _deliver(layer, 1)
    assert time.monotonic() - started < 10
    assert "notification of event 1 handed to the publisher" in caplog.text
    layer.gate.set()
    assert publisher.flush(timeout=10)
    assert layer.sent == [(1, "organisation-1-adviser")]  # sent once the layer answered


def test_behind_a_pending_send_the_next_ones_queue_in_order(publisher, direct):
    layer = SlowLayer()
    layer.hold.add(1)
    direct.fail.add(1)  # 1 goes to the publisher, where it is held
    _deliver(layer, 1)
    _deliver(layer, 2)  # pending before it: not sent directly, which would overtake 1
    _deliver(layer, 3)
    assert direct.sent == []
    layer.gate.set()
    assert publisher.flush(timeout=10)
    assert [event_id for event_id, _ in layer.sent] == [1, 2, 3]
    _deliver(layer, 4)  # nothing pending any more: direct again
    assert direct.sent == [(4, "organisation-1-adviser")]


def test_a_direct_send_in_flight_sends_the_other_threads_through_the_loop_without_waiting(
    publisher, direct, monkeypatch
):
    """Thread A's direct send is held (a stalled Redis): thread B's goes through the loop and returns at once."""
    gate = threading.Event()
    publishing = threading.Event()
    publish = direct.publish

    def held(groups, payload):
        publishing.set()
        gate.wait(10)
        publish(groups, payload)

    monkeypatch.setattr(direct, "publish", held)
    layer = SlowLayer()
    layer.hold.add(2)
    first = threading.Thread(target=_deliver, args=(layer, 1))
    first.start()
    assert publishing.wait(10)
    monkeypatch.setattr(notifications, "PUBLISH_WAIT", 30)  # waiting for its held send would stall here
    started = time.monotonic()
    _deliver(layer, 2)
    assert time.monotonic() - started < 10
    gate.set()
    layer.gate.set()
    first.join(10)
    assert publisher.flush(timeout=10)
    assert direct.sent == [(1, "organisation-1-adviser")] and layer.sent == [(2, "organisation-1-adviser")]


def test_only_a_single_host_redis_pub_sub_layer_is_sent_to_directly():
    from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer

    single = RedisPubSubChannelLayer(hosts=["redis://127.0.0.1:1/0"], prefix="p")
    sender = notifications._direct_publish(single)
    assert sender is not None and notifications._direct_publish(single) is sender  # one client per layer
    group = "organisation-1-adviser"
    assert sender.channel(group) == RedisPubSubLoopLayer(prefix="p")._get_group_channel_name(group)
    default = notifications._direct_publish(RedisPubSubChannelLayer(hosts=["redis://127.0.0.1:1/0"]))
    assert default.channel(group) == RedisPubSubLoopLayer()._get_group_channel_name(group)
    sharded = RedisPubSubChannelLayer(hosts=["redis://127.0.0.1:1/0", "redis://127.0.0.1:2/0"])
    configured = RedisPubSubChannelLayer(hosts=[{"address": "redis://127.0.0.1:1/0", "ssl_cert_reqs": None}])
    assert notifications._direct_publish(sharded) is None and notifications._direct_publish(configured) is None
    assert notifications._direct_publish(SlowLayer()) is None


@pytest.mark.parametrize("hosts", ["redis://127.0.0.1:1/0", ["http://127.0.0.1:1/0"]], ids=["a string", "a scheme"])
def test_a_layer_the_direct_path_cannot_take_goes_through_the_loop_and_raises_nothing(hosts, caplog):
    from channels_redis.pubsub import RedisPubSubChannelLayer

    layer = RedisPubSubChannelLayer(hosts=hosts)
    with caplog.at_level(logging.ERROR, logger="parcours.notifications"):
        assert notifications._direct_publish(layer) is None
        assert notifications._direct_publish(layer) is None  # said once
    assert caplog.text.count("sent to through the publisher loop only") == 1


def test_a_layer_no_longer_used_is_not_kept_by_its_direct_sender():
    import gc
    import weakref

    from channels_redis.pubsub import RedisPubSubChannelLayer

    layer = RedisPubSubChannelLayer(hosts=["redis://127.0.0.1:1/0"])
    assert notifications._direct_publish(layer) is not None
    gone = weakref.ref(layer)
    del layer
    gc.collect()
    assert gone() is None


def test_a_redis_that_refuses_is_handed_to_the_publisher_without_a_second_wait(publisher, caplog):
    """No Redis on the port: the direct send fails at once and the loop takes it over (and logs its own failure)."""
    from channels_redis.pubsub import RedisPubSubChannelLayer

    layer = RedisPubSubChannelLayer(hosts=["redis://127.0.0.1:1/0"])
    with caplog.at_level(logging.WARNING, logger="parcours.notifications"):
        started = time.monotonic()
        _deliver(layer, 5)
        assert time.monotonic() - started < notifications.PUBLISH_WAIT
        assert publisher.flush(timeout=10)
    assert "notification of event 5 handed to the publisher" in caplog.text
    assert "notification to organisation-1-adviser failed" in caplog.text

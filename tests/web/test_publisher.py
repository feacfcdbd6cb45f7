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

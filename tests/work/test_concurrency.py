"""Two timer workers running at once fire each timer exactly once (PostgreSQL: real row locks, two connections)."""

import datetime
import threading

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from parcours.models import Referral
from parcours.work.timers import fire_due
from workflows.models import JournalEvent
from workflows.states import ReferralState


@pytest.mark.postgres
def test_two_workers_fire_each_timer_exactly_once(committed_db, transactional_db, territories):
    referrals = [territories.referral() for _ in range(4)]
    barrier = threading.Barrier(2)
    fired, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            fired.append(fire_due())
        except Exception as exc:  # pragma: no cover - surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    with time_machine.travel(timezone.now() + datetime.timedelta(days=31), tick=True):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert not errors
    assert sum(fired) == 8, fired  # 4 reminders + 4 expiries, whoever fired them
    ids = [r.pk for r in referrals]
    assert set(Referral.objects.filter(pk__in=ids).values_list("state", flat=True)) == {ReferralState.EXPIRED}
    assert JournalEvent.objects.filter(object_type="referral", object_id__in=ids, action="expire").count() == 4
    timer_events = JournalEvent.objects.filter(object_type="timer")
    assert timer_events.count() == 8
    assert timer_events.values("object_id").distinct().count() == 8  # one event per timer
    assert fire_due() == 0

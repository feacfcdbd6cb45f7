"""Real row locks on PostgreSQL, two connections: two timer workers fire each timer exactly once; a transition
meeting a process row held elsewhere is refused as busy."""

import datetime
import threading
import time

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from parcours.models import Referral
from parcours.services import referrals
from parcours.services.referrals import referral_accept
from parcours.work import flows
from parcours.work.models import TaskKind, WorkProcess
from parcours.work.timers import fire_due
from tests.work.conftest import make_offer, open_task
from workflows.errors import WORK_BUSY, DomainError
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


@pytest.mark.postgres
def test_a_busy_process_refuses_the_transition_and_nothing_is_written(committed_db, transactional_db, territories):
    """Another connection (a timer worker, another request) holds the referral's process row: the employer's answer
    is refused as busy (409 in the API) after short retries, nothing is written, and the transaction stays usable.
    viewflow's own lock swallowed the lock error inside an unrolled savepoint: "current transaction is aborted",
    a 500 (found by make soak)."""
    t = territories.a
    referral = territories.forwarded()
    process_id = WorkProcess.objects.get(referral_id=referral.pk).pk
    locked, release, errors = threading.Event(), threading.Event(), []

    def holder():
        try:
            with transaction.atomic():
                assert WorkProcess.objects.select_for_update().filter(pk=process_id).exists()
                locked.set()
                release.wait(timeout=30)
        except Exception as exc:  # pragma: no cover - surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    events = JournalEvent.objects.count()
    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert locked.wait(timeout=10)
        with pytest.raises(DomainError) as refused:
            referral_accept(actor=t.employer, referral=referral)
        assert refused.value.code == WORK_BUSY.code
        assert Referral.objects.get(pk=referral.pk).state == ReferralState.FORWARDED
        assert JournalEvent.objects.count() == events
    finally:
        release.set()
        thread.join(timeout=30)
    assert not errors
    # Once the other transaction is over, the same answer goes through.
    referral_accept(actor=t.employer, referral=Referral.objects.get(pk=referral.pk))
    assert Referral.objects.get(pk=referral.pk).state == ReferralState.ACCEPTED


def _hold(process_id, locked, release, errors, for_seconds=None):
    """Another connection holding a process row, until `release` is set or for `for_seconds`."""
    try:
        with transaction.atomic():
            assert WorkProcess.objects.select_for_update().filter(pk=process_id).exists()
            locked.set()
            if for_seconds is None:
                release.wait(timeout=30)
            else:
                time.sleep(for_seconds)
    except Exception as exc:  # pragma: no cover - surfaced by the callers' assertions
        errors.append(exc)
    finally:
        connection.close()


def _act_and_hold(action, started, release, errors):
    """Another connection running `action` in a transaction it keeps open until `release` is set."""
    try:
        with transaction.atomic():
            action()
            started.set()
            release.wait(timeout=30)
    except Exception as exc:  # pragma: no cover - surfaced by the callers' assertions
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.postgres
def test_a_process_held_elsewhere_that_the_transition_settles_nothing_in_does_not_stop_it(
    committed_db, transactional_db, territories
):
    """The open tasks of a pathway are read with their processes' lock, which skips a row held elsewhere: a second
    referral's process, held by another connection, does not make the employer's answer to the first one busy."""
    t = territories.a
    first = territories.forwarded()
    other_offer = make_offer(t, title="Coffreur·se", trade="Maçonnerie", positions=2)
    second = referrals.referral_create(actor=t.adviser, pathway=first.pathway, offer=other_offer)
    held = WorkProcess.objects.get(referral_id=second.pk).pk
    locked, release, errors = threading.Event(), threading.Event(), []
    thread = threading.Thread(target=_hold, args=(held, locked, release, errors))
    thread.start()
    try:
        assert locked.wait(timeout=10)
        started = time.monotonic()
        referral_accept(actor=t.employer, referral=first)
        assert time.monotonic() - started < 0.3  # no wait for the row it does not need
    finally:
        release.set()
        thread.join(timeout=30)
    assert not errors
    assert Referral.objects.get(pk=first.pk).state == ReferralState.ACCEPTED
    assert open_task(TaskKind.CONFIRM_HIRE, referral=first).task.process_id != held


@pytest.mark.postgres
def test_a_process_released_while_the_transition_retries_lets_it_through(
    committed_db, transactional_db, territories, monkeypatch
):
    """The read's lock skips the held process; the settle then locks it with the retries (lock_processes), which
    get it once the other transaction is over."""
    t = territories.a
    referral = territories.forwarded()
    process_id = WorkProcess.objects.get(referral_id=referral.pk).pk
    locked, release, errors, asked = threading.Event(), threading.Event(), [], []
    original = flows.lock_processes

    def lock_processes(pks, **kwargs):
        asked.append(set(pks))
        release.set()  # the holder commits while the retries wait
        return original(pks, **kwargs)

    monkeypatch.setattr(flows, "lock_processes", lock_processes)
    thread = threading.Thread(target=_hold, args=(process_id, locked, release, errors))
    thread.start()
    try:
        assert locked.wait(timeout=10)
        referral_accept(actor=t.employer, referral=referral)
    finally:
        release.set()
        thread.join(timeout=30)
    assert not errors
    assert asked == [{process_id}]  # skipped by the read's lock, then locked with the retries
    assert Referral.objects.get(pk=referral.pk).state == ReferralState.ACCEPTED
    assert open_task(TaskKind.CONFIRM_HIRE, referral=referral).task.process_id == process_id


@pytest.mark.postgres
def test_a_transition_on_one_referral_does_not_hold_the_processes_of_another(
    committed_db, transactional_db, territories, monkeypatch
):
    """A forward of one referral, not yet committed, locks its own process, not that of another referral of the same
    pathway: the employer's answer to that other referral goes through at once — no retry on a process the forward
    took, no wait for its transaction (released after 3 s whatever happens here: a wait would last that long; the
    answer's own time on a loaded 2-core machine went past the 0.3 s this test once allowed)."""
    t = territories.a
    answered = territories.forwarded()
    other_offer = make_offer(t, title="Coffreur·se", trade="Maçonnerie", positions=2)
    forwarded_meanwhile = referrals.referral_create(actor=t.adviser, pathway=answered.pathway, offer=other_offer)
    referrals.referral_start_review(actor=t.facilitator, referral=forwarded_meanwhile)
    referrals.referral_approve(actor=t.facilitator, referral=forwarded_meanwhile)
    started, release, errors, retried = threading.Event(), threading.Event(), [], []
    original = flows.lock_processes

    def lock_processes(pks, **kwargs):
        retried.append(set(pks))
        return original(pks, **kwargs)

    def forward():
        referrals.referral_forward(actor=t.facilitator, referral=forwarded_meanwhile)

    thread = threading.Thread(target=_act_and_hold, args=(forward, started, release, errors))
    thread.start()
    timer = threading.Timer(3.0, release.set)
    try:
        assert started.wait(timeout=10)
        monkeypatch.setattr(flows, "lock_processes", lock_processes)  # the answer's retries, not the forward's
        timer.start()
        began = time.monotonic()
        referral_accept(actor=t.employer, referral=answered)
        assert time.monotonic() - began < 1.0, "the answer waited for the forward's transaction"
    finally:
        release.set()
        thread.join(timeout=30)
        timer.cancel()
    assert not errors
    assert retried == []  # its process was its own from the read on
    assert Referral.objects.get(pk=answered.pk).state == ReferralState.ACCEPTED
    assert Referral.objects.get(pk=forwarded_meanwhile.pk).state == ReferralState.FORWARDED


@pytest.mark.postgres
def test_a_change_of_the_pathway_does_not_hold_the_processes_of_its_open_referrals(
    committed_db, transactional_db, territories, monkeypatch
):
    """A follow-up recorded on the pathway (its change locks the pathway's processes with the read), not yet
    committed, leaves alone the process of a referral still open: the employer's answer to it locks that process with
    its read, without the retries (which would end "busy" while the follow-up's transaction lasts), and commits at
    once: its queue rows' foreign key check on the pathway (FOR KEY SHARE) passes the follow-up's row lock (FOR NO
    KEY UPDATE; FOR UPDATE held it up until the follow-up committed)."""
    from parcours.services import followups
    from workflows.vocabulary import FollowUpKind

    t = territories.a
    referral = territories.forwarded()
    started, release, errors, retried = threading.Event(), threading.Event(), [], []
    original = flows.lock_processes

    def lock_processes(pks, **kwargs):
        retried.append(set(pks))
        return original(pks, **kwargs)

    monkeypatch.setattr(flows, "lock_processes", lock_processes)

    def follow_up():
        followups.followup_record(
            actor=t.adviser, pathway=referral.pathway_id, kind=FollowUpKind.PHONE, done_on=timezone.localdate()
        )

    thread = threading.Thread(target=_act_and_hold, args=(follow_up, started, release, errors))
    thread.start()
    timer = threading.Timer(3.0, release.set)  # the follow-up's transaction ends then, whatever happens here
    try:
        assert started.wait(timeout=10)
        timer.start()
        began = time.monotonic()
        referral_accept(actor=t.employer, referral=referral)
        assert time.monotonic() - began < 1.0, "the answer waited for the follow-up's transaction"
    finally:
        release.set()
        thread.join(timeout=30)
        timer.cancel()
    assert not errors
    assert retried == []  # its process was its own from the read on
    assert Referral.objects.get(pk=referral.pk).state == ReferralState.ACCEPTED

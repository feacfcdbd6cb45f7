"""The reckoning of `make soak` (scripts/soak.py): what the clients were told, against what the journal holds.

Pure functions, no stack: these run in every suite, so that a soak reporting zeros cannot be a soak that counts
nothing.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("soak", Path(__file__).resolve().parents[2] / "scripts" / "soak.py")
soak = sys.modules.setdefault("soak", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(soak)

Attempt, Event, reckon = soak.Attempt, soak.Event, soak.reckon
OK, REFUSED, NO_ANSWER = soak.OK, soak.REFUSED, soak.NO_ANSWER


def referral_chain(referral_id, *steps, first_id=1):
    """Events of one referral: its creation, then (action, from, to) steps, numbered in order."""
    events = [Event(first_id, "referral", referral_id, 1, "create", "", "sent")]
    for offset, (action, source, target) in enumerate(steps, start=1):
        events.append(Event(first_id + offset, "referral", referral_id, offset + 1, action, source, target))
    return events


def test_every_acknowledged_transition_in_the_journal_is_clean():
    attempts = [
        Attempt("referral", 7, "create", OK, 201),
        Attempt("referral", 7, "start_review", OK, 200),
        Attempt("referral", 7, "start_review", REFUSED, 409),
        Attempt("referral", 7, "start_review", REFUSED, 409),
        Attempt("referral", 7, "approve", OK, 200),
    ]
    events = referral_chain(7, ("start_review", "sent", "under_review"), ("approve", "under_review", "approved"))
    figures = reckon(attempts, events)
    assert (figures.attempted, figures.succeeded, figures.refused_409) == (5, 3, 2)
    assert figures.lost == [] and figures.doubled == [] and figures.clean


def test_an_acknowledged_transition_missing_from_the_journal_is_lost():
    attempts = [Attempt("referral", 7, "start_review", OK, 200), Attempt("referral", 7, "approve", OK, 200)]
    figures = reckon(attempts, referral_chain(7, ("start_review", "sent", "under_review")))
    assert figures.lost == [("referral", 7, "approve")]
    assert not figures.clean


def test_two_clients_told_yes_for_one_event_is_a_loss():
    """Two 2xx for the same transition of the same object, one event: one of the two answers was a lie."""
    attempts = [Attempt("referral", 7, "approve", OK, 200)] * 2
    events = referral_chain(7, ("start_review", "sent", "under_review"), ("approve", "under_review", "approved"))
    assert reckon(attempts, events).lost == [("referral", 7, "approve")]


def test_two_events_for_one_acknowledged_transition_are_doubled():
    attempts = [Attempt("referral", 7, "start_review", OK, 200), Attempt("referral", 7, "start_review", REFUSED, 409)]
    events = referral_chain(
        7, ("start_review", "sent", "under_review"), ("start_review", "sent", "under_review"), first_id=10
    )
    figures = reckon(attempts, events)
    assert figures.doubled == [12]  # the later of the two
    assert figures.lost == [] and not figures.clean


def test_an_object_leaving_a_state_twice_is_doubled_even_when_no_client_asked():
    """A decline and an approve both from under_review (a timer or another path wrote the second)."""
    events = referral_chain(
        7,
        ("start_review", "sent", "under_review"),
        ("approve", "under_review", "approved"),
        ("decline", "under_review", "declined"),
        first_id=20,
    )
    figures = reckon([Attempt("referral", 7, "approve", OK, 200)], events)
    assert figures.doubled == [23]


def test_a_refused_attempt_that_wrote_is_doubled():
    figures = reckon(
        [Attempt("referral", 7, "start_review", REFUSED, 409)],
        referral_chain(7, ("start_review", "sent", "under_review")),
    )
    assert figures.doubled == [2]


def test_unanswered_attempts_are_checked_not_lost_nor_doubled():
    attempts = [
        Attempt("referral", 7, "start_review", NO_ANSWER),  # landed: the worker died after the commit
        Attempt("referral", 8, "start_review", NO_ANSWER, 502),  # nginx: the upstream died before the commit
        Attempt("referral", None, "create", NO_ANSWER),  # a creation: no object to look up
    ]
    events = referral_chain(7, ("start_review", "sent", "under_review")) + referral_chain(8, first_id=50)
    figures = reckon(attempts, events)
    assert (figures.no_answer, figures.no_answer_landed, figures.no_answer_not_landed) == (3, 1, 1)
    assert figures.no_answer_unknown == 1
    assert figures.lost == [] and figures.doubled == [] and figures.clean


def test_a_timer_with_two_firings_fired_twice():
    events = [
        Event(1, "timer", 100, 1, "remind", "", ""),
        Event(2, "timer", 101, 1, "remind", "", ""),
        Event(3, "timer", 101, 2, "remind", "", ""),
    ]
    figures = reckon([], events)
    assert (figures.timers_fired, figures.timers_fired_twice) == (3, 1)
    assert not figures.clean


def test_events_before_the_run_count_for_the_chain_only():
    """The seed had submitted this pathway's eligibility once (then it was reopened): not a double of the run's."""
    events = [
        Event(1, "pathway", 3, 1, "create", "", "intake"),
        Event(2, "pathway", 3, 2, "submit_eligibility", "intake", "eligibility_pending"),
        Event(3, "pathway", 3, 3, "reject_eligibility", "eligibility_pending", "not_eligible"),
        Event(4, "pathway", 3, 4, "reopen", "not_eligible", "intake"),
        Event(9, "pathway", 3, 5, "submit_eligibility", "intake", "eligibility_pending"),
    ]
    figures = reckon([Attempt("pathway", 3, "submit_eligibility", OK, 200)], events, since=4)
    assert figures.clean and figures.doubled == []
    # Counted from the start instead, the seed's event would make this one look doubled.
    assert reckon([Attempt("pathway", 3, "submit_eligibility", OK, 200)], events).doubled == [9]


@pytest.mark.parametrize(
    ("status", "content_type", "outcome"),
    [
        (200, "application/json", soak.OK),
        (201, "application/json", soak.OK),
        (409, "application/problem+json", soak.REFUSED),
        (400, "application/problem+json", soak.OTHER_4XX),
        (500, "application/problem+json", soak.SERVER_ERROR),
        (500, "text/html", soak.SERVER_ERROR),
        (502, "text/html", soak.NO_ANSWER),  # nginx: the upstream was killed
        (504, "text/html", soak.NO_ANSWER),
        (502, "application/problem+json", soak.SERVER_ERROR),  # the application itself said 502
        (None, "", soak.NO_ANSWER),  # connection reset
    ],
)
def test_classify(status, content_type, outcome):
    assert soak.classify(status, content_type) == outcome


def test_the_report_names_every_figure():
    figures = reckon([Attempt("referral", 7, "approve", OK, 200)], [])

    class Chaos:
        done, outage = True, 2.5

    text = soak.report(figures, seconds=15, clients=32, chaos=Chaos(), verified=True, verification="Journal intègre")
    for label in (
        "transitions attempted",
        "succeeded",
        "refused with 409",
        "lost                             1",
        "doubled",
        "5xx",
        "timers fired twice",
        "journal verified",
    ):
        assert label in text

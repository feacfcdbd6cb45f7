"""Which journal events may write e-mail outbox rows: the publisher opens its savepoint (an e-mail never stops the
action it tells of) only for those, decided from the event's type and action without a read."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from parcours import mail, notifications
from workflows.models import JournalEvent


def event(object_type, action, **inputs):
    return JournalEvent(object_type=object_type, object_id=1, action=action, inputs=inputs)


@pytest.mark.parametrize(
    ("object_type", "action", "inputs", "expected"),
    [
        ("referral", "forward", {}, True),
        ("referral", "hire", {}, True),
        ("referral", "refuse", {}, True),
        ("timer", "remind", {"referral": 7}, True),
        ("hoursstatement", "remind", {"lot": 1, "month": "2026-11-01"}, True),
        ("timer", "remind", {}, False),  # a reminder that is not about a referral
        ("timer", "expire", {"referral": 7}, False),
        ("referral", "start_review", {}, False),
        ("referral", "accept", {}, False),
        ("pathway", "submit_eligibility", {}, False),
        ("task", "assign", {}, False),
    ],
)
def test_only_the_events_that_tell_of_an_email_open_the_outbox(object_type, action, inputs, expected):
    assert mail.calls_for_mail(event(object_type, action, **inputs)) is expected


def test_an_event_without_email_costs_no_statement(db):
    # Once its audience's statement is compiled (a permission id read, once per process): no statement of the
    # outbox, and the audience is read with the commit on PostgreSQL (roles.commit), after it elsewhere.
    notifications.publish_on_commit(event("referral", "start_review"))
    with CaptureQueriesContext(connection) as captured:
        notifications.publish_on_commit(event("referral", "start_review"))
    assert captured.captured_queries == []

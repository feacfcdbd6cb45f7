"""Each journal event's audience (EventAudience, parcours.notifications): the teams that may view its object, written
beside the event; rebuilt from the policy for events without one (`record_missing_audiences`); read back by the
notifications page (parcours.selectors.notifications), each candidate checked again against the policy of the moment.

The tests run in transactions that really commit (a fresh world each): on PostgreSQL the audience is written by the
COMMIT that carries it (roles.commit), as in production; on SQLite it is written beside the event. Two tests call the
services inside a longer transaction: a test case's (never committed) and one of several actions (the demo seed's).
"""

import datetime
import decimal
import importlib
import io

import pytest
import time_machine
from django.apps import apps as django_apps
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Max
from django.db.models.signals import post_migrate
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from parcours import audience_fill, notifications
from parcours.models import EventAudience, ParticipantGroupObjectPermission, ReferralGroupObjectPermission
from parcours.notifications import audience_of, record_missing_audiences
from parcours.selectors.journal import visible_events
from parcours.selectors.notifications import CANDIDATES, PAGE_SIZE, events_told_since, notifications_for
from parcours.services import participants, pathways, placements, referrals
from parcours.work.timers import fire_due
from roles import commit, policy, statements
from roles.enums import Role, kinds_with
from roles.models import Organisation
from tests.factories import (
    CRITERION,
    World,
    backdate_placement,
    call_service,
    last_month,
    make_pathway,
    make_placement,
    make_referral,
    member,
    years_ago,
)
from workflows.models import JournalEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(transactional_db):
    """A fresh world whose services' transactions commit (on PostgreSQL: the audience carried by each COMMIT)."""
    return World.build()


def recorded(event) -> set:
    """The teams written down for `event`."""
    return set(EventAudience.objects.filter(event=event).values_list("organisation_id", "role"))


def teams_now(event) -> set:
    """The teams the policy gives `event` now (the policy's inverse)."""
    return {(organisation_id, role.value) for organisation_id, role in audience_of(event)}


def team(organisation, role) -> tuple:
    return (organisation.pk, Role(role).value)


class Journal:
    """The events written since the last look."""

    def __init__(self):
        self.last = JournalEvent.objects.aggregate(last=Max("pk"))["last"] or 0

    def new(self) -> list:
        events = list(JournalEvent.objects.filter(pk__gt=self.last).order_by("pk"))
        if events:
            self.last = events[-1].pk
        return events


def shown_ids(actor, **kwargs) -> list:
    return [event.pk for event in notifications_for(actor, **kwargs)]


def events_of(object_type, object_id, **filters) -> list:
    return list(JournalEvent.objects.filter(object_type=object_type, object_id=object_id, **filters).order_by("pk"))


# --- Written beside every event ------------------------------------------------------------------------------------
def test_every_event_of_a_story_is_written_with_the_teams_the_policy_gives_it(world):
    """Intake → eligibility → referral → forward → hire → hours → timers, through the services: after each call,
    every new event holds exactly the teams `audience_of` gives it (what the publication reads too)."""
    a = world.a
    adviser, facilitator, employer = a.adviser, a.facilitator, a.employer_actor
    journal = Journal()
    story = []

    def step(name, call):
        result = call()
        events = journal.new()
        assert events, f"{name}: no event written"
        for event in events:
            expected = teams_now(event)
            assert recorded(event) == expected, (name, event.object_type, event.action)
            story.append((name, event, expected))
        return result

    participant = step(
        "intake",
        lambda: participants.participant_create(
            actor=adviser,
            data={
                "first_name": "Inès",
                "last_name": "Belkacem",
                "birth_date": years_ago(19),
                "postcode": "93200",
                "commune": "Saint-Denis",
                "qualification_level": "infra_3",
            },
        ),
    )
    pathway = participant.pathways.get()
    phone = {"phone": "0611223344"}
    step("update", lambda: participants.participant_update(actor=adviser, participant=participant, changes=phone))
    step("submit", lambda: pathways.pathway_submit_eligibility(actor=adviser, pathway=pathway, criteria=[CRITERION]))
    step("validate", lambda: call_service("pathway.validate_eligibility", facilitator, pathway))
    referral = step(
        "refer", lambda: referrals.referral_create(actor=adviser, pathway=pathway, offer=a.offer, motivation="Motivée")
    )
    for name in ("start_review", "approve", "forward"):
        step(name, lambda name=name: call_service(f"referral.{name}", facilitator, referral))
    step("accept", lambda: call_service("referral.accept", employer, referral))
    placement = step("hire", lambda: call_service("referral.hire", employer, referral))
    step("start", lambda: call_service("placement.start", employer, placement))
    placement = backdate_placement(placement)
    line = step(
        "declare",
        lambda: placements.hours_declare(
            actor=employer, placement=placement, month=last_month(), hours=decimal.Decimal("70")
        ),
    )
    step("validate hours", lambda: call_service("hoursline.validate", facilitator, line))
    # A second referral left unanswered, and time passing: its reminder (a referral's timer) and the placement's
    # follow-up (a pathway's timer) fire, by the system.
    other = make_referral(world, "sent")
    journal.new()
    with time_machine.travel(timezone.now() + datetime.timedelta(days=45), tick=False):
        step("timers", fire_due)

    kinds = {(event.object_type, event.action) for _, event, _ in story}
    assert {("participant", "create"), ("pathway", "submit_eligibility"), ("referral", "forward")} <= kinds
    assert {("placement", "create"), ("hoursline", "create"), ("hoursline", "validate")} <= kinds
    timers = [event for _, event, _ in story if event.object_type == "timer"]
    assert any(event.action == "follow_up_due" and event.participant_id == participant.pk for event in timers)
    assert any(event.action == "remind" and event.inputs["referral"] == other.pk for event in timers)
    assert any(len(teams) > 1 for _, _, teams in story)
    assert all(teams for _, event, teams in story if event.object_type != "task"), "an event no team may view"
    by_step = {(name, event.object_type): teams for name, event, teams in story}
    # The file reaches the facilitators at its submission, the referral the employer at its forward.
    facilitators, employers = team(a.facilitation, Role.FACILITATOR), team(a.employer, Role.EMPLOYER)
    assert facilitators not in by_step["intake", "participant"] | by_step["update", "participant"]
    assert facilitators in by_step["submit", "pathway"]
    assert facilitators in teams_now(events_of("participant", participant.pk)[0])  # now shared
    assert employers not in by_step["approve", "referral"] and employers in by_step["forward", "referral"]
    other_side = {world.b.youth_agency.pk, world.b.facilitation.pk, world.b.employer.pk}
    assert not any(organisation in other_side for _, _, teams in story for organisation, _ in teams)
    # Teams that can have members only: the Mission Locale holds the file's grant too, but has no facilitator.
    shared = by_step["submit", "pathway"] | by_step["intake", "participant"]
    assert team(a.youth_agency, Role.FACILITATOR) not in shared
    kinds = dict(Organisation.objects.values_list("pk", "kind"))
    memberless = [(name, event.object_type, org, role) for name, event, teams in story for org, role in teams]
    assert [m for m in memberless if kinds[m[2]] not in kinds_with(m[3])] == []


@pytest.mark.django_db(transaction=False)  # the test case's transaction: never committed
def test_an_event_s_audience_is_there_inside_an_enclosing_transaction():
    """A service called inside a transaction that is never committed (a test case's, rolled back at its end) leaves
    its events' audiences in the database when it returns, as its other writes: not for a COMMIT that never comes
    (else every notifications test outside `transaction=True` reads an empty EventAudience on PostgreSQL)."""
    world = World.build()
    referral = make_referral(world, "forwarded")
    events = events_of("referral", referral.pk)
    assert [event.action for event in events] == ["create", "start_review", "approve", "forward"]
    for event in events:
        assert recorded(event), event.action
    assert team(world.a.employer, Role.EMPLOYER) in recorded(events[-1])


def test_in_a_transaction_of_several_actions_each_event_gets_the_audience_of_its_moment(world):
    """Several actions in one transaction (as the demo seed writes its year of history): each event is written with
    the teams of its own moment, not those of the end of the transaction — the referral's review is not the
    employer's, although the same transaction forwards it afterwards."""
    with transaction.atomic():
        referral = make_referral(world, "approved")
        call_service("referral.forward", world.a.facilitator, referral)
        events = events_of("referral", referral.pk)
        before_commit = [recorded(event) for event in events]
    employers = team(world.a.employer, Role.EMPLOYER)
    assert [event.action for event in events] == ["create", "start_review", "approve", "forward"]
    for event in events[:-1]:
        assert employers not in recorded(event), event.action
        assert recorded(event) | {employers} == teams_now(event)
    assert recorded(events[-1]) == teams_now(events[-1])
    assert before_commit == [recorded(event) for event in events]  # written before the COMMIT, as the events are


# --- Rebuilt for events without one --------------------------------------------------------------------------------
def test_missing_audiences_are_rebuilt_as_the_policy_sees_them_now_and_only_once(world):
    placement = backdate_placement(make_placement(world, "active"))
    placements.hours_declare(
        actor=world.a.employer_actor, placement=placement, month=last_month(), hours=decimal.Decimal("7")
    )
    make_referral(world, "sent", side="b")
    with time_machine.travel(timezone.now() + datetime.timedelta(days=45), tick=False):
        assert fire_due()  # the unanswered referral's reminder and expiry, the placement's follow-up
    forwarded = make_referral(world, "forwarded", side="b")
    make_referral(world, "declined")
    events = list(JournalEvent.objects.order_by("pk"))
    assert {event.object_type for event in events} >= {
        "operation",
        "contract",
        "lot",
        "offer",
        "participant",
        "pathway",
        "referral",
        "placement",
        "hoursline",
        "task",
        "timer",
    }
    assert {event.action for event in events if event.object_type == "timer"} >= {"follow_up_due", "remind"}
    EventAudience.objects.all().delete()
    expected = {event.pk: teams_now(event) for event in events}
    assert record_missing_audiences() == sum(len(teams) for teams in expected.values())
    assert {event.pk: recorded(event) for event in events} == expected
    # As the policy sees them now: the referral's events before its forward hold the employer too.
    review = events_of("referral", forwarded.pk, action="start_review")[0]
    assert team(world.b.employer, Role.EMPLOYER) in recorded(review)
    assert record_missing_audiences() == 0
    assert EventAudience.objects.count() == sum(len(teams) for teams in expected.values())


def test_recording_the_audiences_again_adds_only_the_teams_objects_gained(world):
    """Run again, the backfill keeps what each event has and adds the teams its object reached since (a referral's
    review, recorded before its forward, gets the employer): the policy as it is now, the same on both databases."""
    referral = make_referral(world, "forwarded")
    review = events_of("referral", referral.pk, action="start_review")[0]
    employers = team(world.a.employer, Role.EMPLOYER)
    assert employers in teams_now(review) and employers not in recorded(review)
    kept = recorded(review)
    assert record_missing_audiences() > 0
    assert recorded(review) == kept | {employers} == teams_now(review)
    assert record_missing_audiences() == 0


def test_the_rows_of_teams_that_cannot_have_members_are_deleted_by_the_migration(world):
    """Migration 0035 deletes what the audience gave before it left out teams whose organisation's kind has no such
    role (a Mission Locale's facilitators), and nothing else."""
    migration = importlib.import_module("parcours.migrations.0035_event_audience_members_only")
    pathway = make_pathway(world, "eligible")
    event = events_of("pathway", pathway.pk)[-1]
    kept = recorded(event)
    assert team(world.a.facilitation, Role.FACILITATOR) in kept
    memberless = [(world.a.youth_agency, Role.FACILITATOR), (world.a.employer, Role.AUDITOR)]
    for organisation, role in memberless:
        EventAudience.objects.create(organisation=organisation, role=role, occurred_at=event.occurred_at, event=event)
    assert recorded(event) == kept | {team(organisation, role) for organisation, role in memberless}
    total = EventAudience.objects.count()
    with connection.schema_editor() as editor:
        migration.forget_memberless_teams(django_apps, editor)
    assert recorded(event) == kept
    assert EventAudience.objects.count() == total - len(memberless)


def _marker_exists():
    return audience_fill.PENDING_TABLE in connection.introspection.table_names()


def _migration_0034():
    return importlib.import_module("parcours.migrations.0034_event_audience_backfill")


def test_migration_0034_leaves_the_fill_to_the_end_of_migrate_which_writes_it_once(world, monkeypatch):
    """0034 ran the application's code, whose SQL read columns of later migrations (0037's participant of a
    referral): an upgrade from before it stopped there, half migrated. It leaves a marker; at the end of `migrate`
    (post_migrate), with every migration applied, the audiences are written and the marker dropped."""
    make_referral(world, "forwarded")
    make_placement(world, "active")
    events = list(JournalEvent.objects.order_by("pk"))
    expected = {event.pk: teams_now(event) for event in events}
    EventAudience.objects.all().delete()  # as in a journal written before the audience table
    with connection.schema_editor() as editor:
        _migration_0034().leave_the_fill_to_the_end_of_migrate(django_apps, editor)
    assert _marker_exists()
    out = io.StringIO()
    _migrate_signal(post_migrate, stdout=out)
    assert {event.pk: recorded(event) for event in events} == expected
    assert not _marker_exists()
    assert f"{sum(len(teams) for teams in expected.values())} ligne(s) écrite(s)" in out.getvalue()
    # The next `migrate` (and every flush of the tests) finds no marker: nothing is read again.
    monkeypatch.setattr(notifications, "record_missing_audiences", lambda **kw: pytest.fail("filled again"))
    _migrate_signal(post_migrate)


def test_the_fill_waits_for_the_last_migration_and_goes_on_where_it_stopped(world, monkeypatch):
    """`migrate` to an earlier migration leaves it to do (the code's columns may be missing); a fill stopped midway
    keeps what it wrote and the marker, and the next `migrate` completes it."""
    referral = make_referral(world, "forwarded")
    events = list(JournalEvent.objects.order_by("pk"))
    expected = {event.pk: teams_now(event) for event in events}
    EventAudience.objects.exclude(event__object_type="referral").delete()
    with connection.schema_editor() as editor:
        _migration_0034().leave_the_fill_to_the_end_of_migrate(django_apps, editor)
    try:
        monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("a migration", False)])
        _migrate_signal(post_migrate)
        assert _marker_exists() and not EventAudience.objects.exclude(event__object_type="referral").exists()
        monkeypatch.undo()
        monkeypatch.setattr(notifications, "record_missing_audiences", _stopped_midway)
        with pytest.raises(ConnectionError):
            _migrate_signal(post_migrate)
        assert _marker_exists()
        monkeypatch.undo()
        _migrate_signal(post_migrate)
        assert {event.pk: recorded(event) for event in events} == expected
        assert team(world.a.employer, Role.EMPLOYER) in recorded(events_of("referral", referral.pk)[0])
        assert not _marker_exists()
    finally:
        with connection.schema_editor() as editor:
            _migration_0034().forget_the_fill(django_apps, editor)  # its reverse: the marker dropped if left


def _stopped_midway(**kwargs):
    raise ConnectionError("the database went away during the fill")


def _migrate_signal(signal, stdout=None):
    """As `migrate` sends it to the case app after its plan."""
    config = django_apps.get_app_config("parcours")
    signal.send(
        sender=config,
        app_config=config,
        verbosity=1,
        interactive=False,
        using="default",
        plan=[],
        apps=django_apps,
        stdout=stdout,
    )


# --- Read back by the notifications page ---------------------------------------------------------------------------
def test_a_facilitator_is_told_of_a_file_from_its_sharing_on(world):
    """The adviser's intake and edits before the submission are not the facilitator's notifications, although it may
    view them now (its timeline shows them); the submission and what follows are."""
    a = world.a
    pathway = make_pathway(world, "intake")
    participant = pathway.participant
    participants.participant_update(actor=a.adviser, participant=participant, changes={"phone": "0611223344"})
    journal = Journal()
    files = ("participant", "pathway")
    before = set(
        JournalEvent.objects.filter(participant_id=participant.pk, object_type__in=files).values_list("pk", flat=True)
    )
    call_service("pathway.submit_eligibility", a.adviser, pathway)
    participants.participant_update(actor=a.adviser, participant=participant, changes={"phone": "0655667788"})
    after = {event.pk for event in journal.new() if event.object_type in files}
    assert len(before) >= 3 and len(after) >= 2
    facilitator = a.facilitator
    # Every one of them is in the facilitator's view now: the earlier ones are left out by their audience.
    assert visible_events(facilitator, JournalEvent.objects.filter(pk__in=before | after)).count() == len(
        before | after
    )
    shown = set(shown_ids(facilitator, limit=500))
    assert after <= shown
    assert not before & shown
    # The other territory's facilitator is told of none of them.
    assert not (before | after) & set(shown_ids(world.b.facilitator, limit=500))


def test_an_employer_is_told_of_a_referral_from_its_forward_on(world):
    a = world.a
    colleague = member(a.employer, Role.EMPLOYER)  # told of what the employer's other member does
    referral = make_referral(world, "approved")
    earlier = {event.pk for event in events_of("referral", referral.pk)}
    assert len(earlier) == 3  # create, start_review, approve
    call_service("referral.forward", a.facilitator, referral)
    call_service("referral.accept", a.employer_actor, referral)
    [forward] = events_of("referral", referral.pk, action="forward")
    [accept] = events_of("referral", referral.pk, action="accept")
    assert policy.allows(colleague, "referral.view", referral)
    shown = shown_ids(colleague, limit=500)
    assert [pk for pk in shown if pk in {forward.pk, accept.pk}] == [accept.pk, forward.pk]  # newest first
    assert not earlier & set(shown)
    # Nor any event of the young person's file, which an employer never views.
    assert not JournalEvent.objects.filter(pk__in=shown, object_type__in=("participant", "pathway")).exists()


def test_an_object_out_of_sight_now_drops_its_events_but_keeps_their_audience(world):
    a = world.a
    colleague = member(a.employer, Role.EMPLOYER)
    employers = team(a.employer, Role.EMPLOYER)
    revoked = make_referral(world, "forwarded")
    cancelled = make_referral(world, "forwarded")
    kept = make_referral(world, "forwarded")
    forwards = {r.pk: events_of("referral", r.pk, action="forward")[0] for r in (revoked, cancelled, kept)}
    shown = set(shown_ids(colleague, limit=500))
    assert {event.pk for event in forwards.values()} <= shown
    # The employer's grant on one referral is deleted; the adviser cancels another (the service revokes it).
    deleted, _ = ReferralGroupObjectPermission.objects.filter(
        group_id=a.employer.group_id, content_object_id=revoked.pk
    ).delete()
    assert deleted == 1
    call_service("referral.cancel", a.adviser, cancelled)
    shown = set(shown_ids(colleague, limit=500))
    assert forwards[kept.pk].pk in shown
    for referral in (revoked, cancelled):
        assert not policy.allows(colleague, "referral.view", referral)
        assert not {event.pk for event in events_of("referral", referral.pk)} & shown
        assert employers in recorded(forwards[referral.pk])  # its audience stays as it was recorded


def test_the_page_never_shows_the_viewer_s_own_events(world):
    a = world.a
    colleague = member(a.youth_agency, Role.ADVISER)
    pathway = make_pathway(world, "intake")
    participants.participant_update(actor=a.adviser, participant=pathway.participant, changes={"phone": "0611223344"})
    referral = make_referral(world, "sent", pathway=make_pathway(world, "eligible"))
    referrals.referral_expire(referral=referral)  # by the system: no one's own event
    own = set(JournalEvent.objects.filter(actor_user=a.adviser.user).values_list("pk", flat=True))
    expired = events_of("referral", referral.pk, action="expire")[0]
    assert expired.actor_user_id is None
    mine = set(shown_ids(a.adviser, limit=500))
    theirs = set(shown_ids(colleague, limit=500))
    assert own and not own & mine
    assert own <= theirs  # the same events, for a colleague of the same team
    assert expired.pk in mine and expired.pk in theirs
    assert not any(event.actor_user_id == a.adviser.user.pk for event in notifications_for(a.adviser, limit=500))


def test_pages_walk_every_notification_once_newest_first_past_candidates_out_of_sight(world):
    """More candidates than a batch and a page; the newest batch mostly of a file the team may no longer view: the
    first page still fills (a second batch read), and pages chained by `before` show each event once."""
    a = world.a
    viewer = member(a.youth_agency, Role.ADVISER)
    shown_file = make_pathway(world, "intake").participant
    hidden_file = make_pathway(world, "intake").participant
    phones = iter(range(10**7, 10**8))

    def updates(participant, count):
        for _ in range(count):
            participants.participant_update(
                actor=a.adviser, participant=participant, changes={"phone": f"06{next(phones):08d}"}
            )

    updates(shown_file, 70)
    updates(hidden_file, CANDIDATES - 20)
    updates(shown_file, 20)
    # The Mission Locale loses sight of one file (its grants deleted): its events stay candidates, never shown.
    deleted, _ = ParticipantGroupObjectPermission.objects.filter(
        group_id=a.youth_agency.group_id, content_object_id=hidden_file.pk
    ).delete()
    assert deleted
    assert not policy.allows(viewer, "participant.view", hidden_file)
    adviser_team = team(a.youth_agency, Role.ADVISER)
    candidates = [
        event
        for event in JournalEvent.objects.exclude(actor_user=viewer.user).order_by("-occurred_at", "-pk")
        if adviser_team in recorded(event)
    ]
    assert len(candidates) > CANDIDATES + PAGE_SIZE

    def out_of_sight(event):  # the file's own events (its tasks are the organisation's, still in sight)
        return event.participant_id == hidden_file.pk and event.object_type in ("participant", "pathway")

    assert sum(map(out_of_sight, candidates[:CANDIDATES])) > CANDIDATES - PAGE_SIZE
    expected = [event.pk for event in candidates if not out_of_sight(event)]
    assert len(expected) > PAGE_SIZE + CANDIDATES // 2

    for limit in (PAGE_SIZE, 7):
        walked, before, pages = [], None, 0
        while True:
            page = shown_ids(viewer, limit=limit, before=before)
            if not page:
                break
            assert len(page) <= limit
            if len(walked) + limit <= len(expected):
                assert len(page) == limit, (limit, pages)  # a full page while more are left
            walked.extend(page)
            before, pages = page[-1], pages + 1
            assert pages < 100
        assert walked == expected, limit
    assert len(shown_ids(viewer)) == PAGE_SIZE


# --- Replayed to a page that lost its websocket (parcours.consumers) ----------------------------------------------
def test_the_replay_is_what_was_told_to_the_team_and_is_still_in_sight_oldest_first(world):
    """After an event id or from a moment on: the team's audience, own events included (the page marks them), the
    events of a file out of sight now left out, oldest first, past more candidates than a batch; `complete` false
    when more are left than the limit."""
    a = world.a
    viewer = member(a.youth_agency, Role.ADVISER)
    shown_file = make_pathway(world, "intake").participant
    hidden_file = make_pathway(world, "intake").participant
    start = timezone.now()
    since = JournalEvent.objects.aggregate(last=Max("pk"))["last"]
    phones = iter(range(10**7, 10**8))
    other_territory = make_pathway(world, "intake", side="b").participant  # never told to this team
    for participant in [hidden_file] * (CANDIDATES + 5) + [other_territory, shown_file] * 15:
        adviser = world.b.adviser if participant == other_territory else a.adviser
        phone = f"06{next(phones):08d}"
        participants.participant_update(actor=adviser, participant=participant, changes={"phone": phone})
    ParticipantGroupObjectPermission.objects.filter(
        group_id=a.youth_agency.group_id, content_object_id=hidden_file.pk
    ).delete()
    adviser_team = team(a.youth_agency, Role.ADVISER)
    told = [e for e in JournalEvent.objects.filter(pk__gt=since).order_by("pk") if adviser_team in recorded(e)]
    assert not any(e.participant_id == other_territory.pk for e in told)
    files = ("participant", "pathway")
    expected = [e.pk for e in told if e.participant_id != hidden_file.pk or e.object_type not in files]
    assert len(expected) >= 15 and len(told) - len(expected) > CANDIDATES  # a first batch all out of sight

    for after in ({"after_id": since}, {"since_time": start}):
        events, complete = events_told_since(viewer, limit=500, **after)
        assert [e.pk for e in events] == expected and complete, after
        events, complete = events_told_since(viewer, limit=7, **after)
        assert [e.pk for e in events] == expected[:7] and not complete, after
    assert events_told_since(viewer, after_id=expected[-1], limit=10) == ([], True)


# --- On PostgreSQL: carried by the COMMIT --------------------------------------------------------------------------
INSERT = f'INSERT INTO "{EventAudience._meta.db_table}"'


def sent_texts(call) -> tuple:
    """The texts sent while `call` runs, and the index of the one that commits its transaction."""
    with CaptureQueriesContext(connection) as captured:
        call()
    texts = [query["sql"] for query in captured.captured_queries]
    (committed,) = [i for i, text in enumerate(texts) if text == "COMMIT" or text.endswith("; COMMIT")]
    return texts, committed


@pytest.mark.postgres
def test_the_audience_of_a_transition_is_written_by_its_commit(world, settings):
    """No statement of its own: the INSERT … SELECT goes in the text of the COMMIT, and its rows are there after."""
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' own text
    referral = make_referral(world, "approved")
    texts, committed = sent_texts(lambda: call_service("referral.forward", world.a.facilitator, referral))
    assert texts[committed].startswith(f"SAVEPOINT {commit.SAVEPOINT}; ") and INSERT in texts[committed]
    assert not any(INSERT in text for i, text in enumerate(texts) if i != committed)
    forward = events_of("referral", referral.pk, action="forward")[0]
    assert recorded(forward) == teams_now(forward)
    assert team(world.a.employer, Role.EMPLOYER) in recorded(forward)


@pytest.mark.postgres
def test_above_read_committed_the_audience_is_written_beside_its_event(world, settings):
    from tests.test_commit import isolation

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    referral = make_referral(world, "approved")
    with isolation("REPEATABLE_READ"):
        texts, committed = sent_texts(lambda: call_service("referral.forward", world.a.facilitator, referral))
    written = [i for i, text in enumerate(texts) if text.startswith(INSERT)]
    assert len(written) == 1 and written[0] < committed and INSERT not in texts[committed]
    forward = events_of("referral", referral.pk, action="forward")[0]
    assert recorded(forward) == teams_now(forward)


@pytest.mark.postgres
def test_an_audience_the_commit_failed_to_write_is_written_after_it(world, settings, monkeypatch, caplog):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    referral = make_referral(world, "sent")
    written = notifications._audience_insert

    def failing(event, viewed):
        sql, params, arguments = written(event, viewed)
        return sql.replace(" RETURNING", " AND 1 / (%s - 1) = 1 RETURNING"), [*params, 1], arguments

    monkeypatch.setattr(notifications, "_audience_insert", failing)
    with caplog.at_level("WARNING", logger="roles.commit"):
        call_service("referral.start_review", world.a.facilitator, referral)
    assert "what a commit carried failed" in caplog.text and "division by zero" in caplog.text
    review = events_of("referral", referral.pk, action="start_review")[0]
    assert recorded(review) == teams_now(review) and len(recorded(review)) > 1


@pytest.mark.postgres
@pytest.mark.parametrize("object_type", ["referral", "participant", "timer"])
def test_the_audience_write_is_prepared(world, settings, object_type):
    """A parameter of unknown type under the DISTINCT made PostgreSQL refuse to prepare it: it was planned at each
    commit (~1 ms of a 2–3 ms transition)."""
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": True}
    referral = make_referral(world, "sent")
    with time_machine.travel(timezone.now() + datetime.timedelta(days=45)):
        fire_due()  # a referral's reminder: a timer event
    event = JournalEvent.objects.filter(object_type=object_type).latest("pk")
    assert referral.pk and event is not None
    statement = notifications._audience_insert(event, notifications._viewed_as(event))
    with transaction.atomic():
        for _ in range(statements.PREPARE_AT_RUN):
            sql, _params = statements.prepared(*statement)
        transaction.set_rollback(True)
    assert sql.startswith("EXECUTE parcours_"), sql


def test_an_event_written_in_a_nested_block_is_pushed_to_the_teams_left_at_its_commit(world, monkeypatch):
    """The timer worker fires inside viewflow's lock (a nested block): the expiry's audience is written at once,
    while the employer still holds its grant, which the expiry then revokes. The websocket reads the audience again
    after the commit: the employer is not told (its page would not show it either)."""
    referral = make_referral(world, "forwarded")
    sent = []
    monkeypatch.setattr(notifications, "get_channel_layer", lambda: object())
    monkeypatch.setattr(notifications, "_deliver", lambda layer, groups, payload: sent.append((payload, groups)))
    with time_machine.travel(timezone.now() + datetime.timedelta(days=120)):
        fire_due()
    referral.refresh_from_db()
    assert referral.state == "expired", referral.state
    [expiry] = events_of("referral", referral.pk, action="expire")
    employers = team(world.a.employer, Role.EMPLOYER)
    assert employers in recorded(expiry) and employers not in teams_now(expiry)  # written at its moment
    groups = [groups for payload, groups in sent if payload["event_id"] == expiry.pk]
    assert groups and notifications.team_group(*employers) not in groups[0]
    assert set(groups[0]) == {notifications.team_group(o, r) for o, r in teams_now(expiry)}


def test_a_page_reads_a_bounded_number_of_candidates_and_goes_on_from_the_last_one(world, monkeypatch):
    """A team's audience may hold many events now out of its sight (what an employer lost with its refusals): a
    page reads MAX_BATCHES batches at most, in a bounded number of statements; short of a full page it links to the
    next one from its last candidate, and the walk still shows every event once. The replay says it is incomplete."""
    from parcours.selectors import notifications as selector

    monkeypatch.setattr(selector, "MAX_BATCHES", 1)
    a = world.a
    viewer = member(a.youth_agency, Role.ADVISER)
    shown_file = make_pathway(world, "intake").participant
    hidden_file = make_pathway(world, "intake").participant
    since = JournalEvent.objects.aggregate(last=Max("pk"))["last"]
    phones = iter(range(10**7, 10**8))
    for participant in [shown_file] * 10 + [hidden_file] * (CANDIDATES + 5):
        phone = f"06{next(phones):08d}"
        participants.participant_update(actor=a.adviser, participant=participant, changes={"phone": phone})
    ParticipantGroupObjectPermission.objects.filter(
        group_id=a.youth_agency.group_id, content_object_id=hidden_file.pk
    ).delete()
    first = notifications_for(viewer)
    assert list(first) == [] and first.older is not None  # one batch, all out of sight: a link on, no event
    with CaptureQueriesContext(connection) as queries:
        notifications_for(viewer)
    assert len(queries) <= 3, [q["sql"][:80] for q in queries]  # the candidates, their check: no walk
    walked, page = [], first
    while page.older is not None:
        page = notifications_for(viewer, before=page.older)
        walked.extend(event.pk for event in page)
    adviser_team = team(a.youth_agency, Role.ADVISER)

    def in_sight(event):
        return event.participant_id != hidden_file.pk or event.object_type not in ("participant", "pathway")

    journal = JournalEvent.objects.exclude(actor_user=viewer.user).order_by("-occurred_at", "-pk")
    expected = [e.pk for e in journal if adviser_team in recorded(e) and in_sight(e)]
    assert walked == expected and len(walked) > 10
    events, complete = events_told_since(viewer, after_id=since, limit=50)
    assert not complete and all(e.participant_id != hidden_file.pk for e in events if e.object_type == "participant")

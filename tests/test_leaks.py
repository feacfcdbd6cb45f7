"""The generated leak test: every demo role × every channel that shows journal events × every event kind of the
demo → no event of an object the role cannot view, no health criterion outside the facilitator, no name of a young
person nor of a professional who acted for a buyer's auditor.

The demo is seeded once for the module (two Missions Locales, the facilitation organisation, two employers, two
buyers, a data-protection officer), then its timers fire and tasks are claimed so that timer and task events exist
too. The oracle is the object-level check of the policy (what answers 404 on the object itself); the channels are
the participant timeline page, the auditor's CSV and XLSX exports, every API `history` endpoint, the notifications
page, and the websocket audience of every event.
"""

import csv
import datetime
import io
import re
import sys
from collections import Counter, defaultdict

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from openpyxl import load_workbook
from viewflow.workflow.status import STATUS

from parcours.models import EligibilityCriterion, HoursLine, Participant, Pathway, Placement, Referral
from parcours.notifications import audience_of, event_payload
from parcours.selectors.journal import EVENT_OBJECTS, OBJECT_LABELS, PATHWAY_TIMERS, pseudonymised
from parcours.services.register import operation_create
from parcours.services.tasks import task_claim
from parcours.work.models import WorkTask
from parcours.work.timers import fire_due
from roles import policy
from roles.actor import Actor
from roles.enums import Role
from roles.middleware import memberships_of
from roles.models import Membership
from workflows.models import JournalEvent

DEMO_ROLES = [
    "conseillere",
    "conseiller.b",
    "facilitateur",
    "employeur",
    "employeur.b",
    "auditeur",
    "auditeur.b",
    "dpo",
]
HISTORIES = {  # API resource → (model, journal type)
    "pathways": (Pathway, "pathway"),
    "referrals": (Referral, "referral"),
    "placements": (Placement, "placement"),
    "hours-lines": (HoursLine, "hoursline"),
}
NAMED = ":nominatif"  # the same demo auditor, its membership given named access for the test
LABEL_TO_TYPE = {label: object_type for object_type, label in OBJECT_LABELS.items()}
CHECKED = defaultdict(set)  # event kind → channels where it was checked


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo data set, seeded once in a transaction rolled back at the end of the module."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            call_command("seed_demo", verbosity=0)
            fire_due()  # the demo's reminders, expiries and follow-ups: timer events
            for username in ("facilitateur", "conseillere", "employeur.b"):
                actor = actor_of(username)
                task = WorkTask.objects.filter(
                    organisation=actor.organisation, role=actor.role, status=STATUS.NEW
                ).first()
                if task is not None:
                    task_claim(actor=actor, task=task)  # task events
            # A colleague of the facilitator opens an operation: shown on the facilitator's notifications (an event
            # of one's own is not), the only page channel of an operation's events.
            facilitator = actor_of("facilitateur")
            colleague = get_user_model().objects.create_user("facilitateur.collegue", password="x")
            Membership.objects.create(user=colleague, organisation=facilitator.organisation, role=Role.FACILITATOR)
            operation_create(
                actor=actor_of("facilitateur.collegue"),
                name="Opération de la collègue",
                commune="Lyon",
                starts_on=datetime.date(2026, 1, 1),
                ends_on=datetime.date(2027, 12, 31),
            )
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")  # planner statistics of a real database, not of the tests before
            health = set(EligibilityCriterion.objects.filter(is_health_data=True).values_list("code", "label"))
            kinds = set(JournalEvent.objects.values_list("object_type", "action"))
            contacts = set(Participant.objects.values_list("email", "phone"))
        except BaseException:
            outer.__exit__(*sys.exc_info())
            raise
    try:
        yield {"health": health, "kinds": kinds, "contacts": contacts}
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def actor_of(username) -> Actor:
    return Actor.from_membership(memberships_of(get_user_model().objects.get(username=username)).first())


_VIEWS = {}


def subject_of(event):
    """What decides who may view an event: its object, or for a timer its referral or participant."""
    if event.object_type == "timer":
        if event.action in PATHWAY_TIMERS:
            return ("pathway timer", event.participant_id)
        return ("referral", (event.inputs or {}).get("referral"))
    return (event.object_type, event.object_id)


def may_view(actor, event) -> bool:
    """The oracle: may the actor view the event's object itself (what its detail page or API answers)?"""
    object_type, object_id = subject_of(event)
    key = (actor.user.pk, actor.organisation.pk, actor.named_access, object_type, object_id)
    if key not in _VIEWS:
        viewable = False
        # A follow-up timer is about the young person's pathway: who may view the file (not its own events).
        kinds = {**EVENT_OBJECTS, "pathway timer": (Participant, "participant.view")}
        if object_type in kinds:
            model, action = kinds[object_type]
            obj = model._default_manager.filter(pk=object_id).first()
            viewable = obj is not None and policy.allows(actor, action, obj)
        _VIEWS[key] = viewable
    return _VIEWS[key]


def check_events(actor, events, channel, demo):
    for event in events:
        assert may_view(actor, event), f"{channel}: {actor} sees {event} (event #{event.pk})"
        CHECKED[(event.object_type, event.action)].add(channel)


def check_body(actor, body, channel, demo, names=()):
    if actor.role == Role.AUDITOR:
        # No auditor, named access or not, receives a young person's e-mail, phone or sex (data minimisation).
        for email, phone in demo["contacts"]:
            assert not email or email not in body, f"{channel}: e-mail shown to {actor}"
            assert not phone or phone not in body, f"{channel}: phone shown to {actor}"
        assert ">Sexe<" not in body and not re.search(r'"sex": ?"[FM]"', body), f"{channel}: sex shown to {actor}"
    if actor.role != Role.FACILITATOR:
        for code, label in demo["health"]:
            # As a word: a random token of the page (CSRF, nonce) may contain the letters of a short code ("AAH").
            shown = re.search(rf"\b{re.escape(code)}\b", body) or label in body
            assert not shown, f"{channel}: health criterion shown to {actor}"
    if pseudonymised(actor):
        for first, last in names:
            for shown in (f"{first} {last}", f"{last.upper()} {first}", f"{first} {last.upper()}"):
                assert shown not in body, f"{channel}: name {shown} shown to {actor}"
        # Nor the professionals who acted: a buyer audits clauses, not people (their organisation and role stay).
        for user in staff_who_acted(actor):
            name = user.get_full_name()
            assert not name or name not in body, f"{channel}: {name} shown to {actor}"
            # A demo username is a plain word ("facilitateur"): looked for as the API's value.
            assert not re.search(rf'"username": ?"{re.escape(user.username)}"', body), f"{channel}: {user} to {actor}"


def staff_who_acted(viewer):
    """The demo's users who acted in the journal, the viewer excepted."""
    acted = JournalEvent.objects.values("actor_user")
    return list(get_user_model().objects.filter(pk__in=acted).exclude(pk=viewer.user.pk))


def client_for(username):
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def events_of_rows(rows, object_column):
    """(object_type, object_id) pairs from exported rows ("Positionnement #12")."""
    pairs = set()
    for row in rows:
        label, _, number = str(row[object_column]).rpartition(" #")
        pairs.add((LABEL_TO_TYPE[label], int(number)))
    return pairs


@pytest.mark.django_db
@pytest.mark.parametrize("username", [*DEMO_ROLES, f"auditeur{NAMED}"])
def test_no_channel_shows_an_event_of_an_object_out_of_reach(demo, username):
    username, named, _ = username.partition(NAMED)
    if named:
        Membership.objects.filter(user__username=username).update(named_access=True)
    actor = actor_of(username)
    assert actor.named_access == bool(named)
    client = client_for(username)
    names = list(Participant.objects.values_list("first_name", "last_name"))
    participants = list(Participant.objects.values_list("pk", flat=True))

    # The participant timeline page (and, for auditors, the CSV and XLSX exports of it).
    for pk in participants:
        response = client.get(f"/participants/{pk}/")
        readable = policy.allows(actor, "participant.view", Participant.objects.get(pk=pk))
        assert response.status_code == (200 if readable else 404), (username, pk)
        if not readable:
            continue
        check_events(actor, response.context["timeline"], "timeline", demo)
        check_body(actor, response.content.decode(), "timeline", demo, names)
        if actor.role == Role.AUDITOR:
            by_pair = {(e.object_type, e.object_id): e for e in JournalEvent.objects.filter(participant_id=pk)}
            exported = client.get(f"/audit/parcours/{pk}/export.csv")
            body = exported.content.decode("utf-8-sig")
            check_body(actor, body, "csv", demo, names)
            rows = list(csv.reader(io.StringIO(body), delimiter=";"))[1:]
            check_events(actor, [by_pair[p] for p in events_of_rows(rows, 4)], "csv", demo)
            book = load_workbook(io.BytesIO(client.get(f"/audit/parcours/{pk}/export.xlsx").content))
            rows = list(book["Historique"].iter_rows(min_row=2, values_only=True))
            check_events(actor, [by_pair[p] for p in events_of_rows(rows, 4)], "xlsx", demo)

    # Every API history endpoint, on every object the role may read.
    api_pairs = [("participants", Participant, "participant")] + [(r, m, t) for r, (m, t) in HISTORIES.items()]
    for resource, model, _ in api_pairs:
        action = "participant.view" if model in (Participant, Pathway) else EVENT_OBJECTS[_][1]
        for obj in model.objects.all():
            response = client.get(f"/api/v1/{resource}/{obj.pk}/history/", {"page_size": 200})
            readable = policy.may(actor, action) and policy.allows(actor, action, obj)
            if not readable:
                assert response.status_code in (403, 404), (username, resource, obj.pk)
                continue
            assert response.status_code == 200, (username, resource, obj.pk)
            ids = [e["id"] for e in response.json()["results"]]
            check_events(actor, JournalEvent.objects.filter(pk__in=ids), f"api:{resource}", demo)
            check_body(actor, response.content.decode(), f"api:{resource}", demo, names)

    # What the API and the pages give of the files themselves (contact details: check_body, for auditors).
    if actor.role == Role.AUDITOR:
        for url in ["/api/v1/participants/", "/api/v1/referrals/", "/api/v1/placements/"]:
            response = client.get(url, {"page_size": 200})
            assert response.status_code == 200, url
            check_body(actor, response.content.decode(), f"api:{url}", demo, names)
        for pk in participants:
            response = client.get(f"/api/v1/participants/{pk}/")
            if response.status_code == 200:
                check_body(actor, response.content.decode(), "api:participant", demo, names)
        for referral in policy.scope_queryset(actor, "referral.view", Referral.objects.all()):
            response = client.get(f"/positionnements/{referral.pk}/")
            assert response.status_code == 200, referral
            check_body(actor, response.content.decode(), "referral page", demo, names)

    # The notifications page, every page of it.
    url, seen = "/notifications/", 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        check_events(actor, response.context["events"], "notifications", demo)
        check_body(actor, response.content.decode(), "notifications", demo, names)
        seen += len(response.context["events"])
        url = f"/notifications/?avant={response.context['older']}" if response.context["older"] else ""
    # Every event on an object the viewer may view, whose audience held its team when it was recorded (an object
    # that became visible later brings only its later events: tests/test_event_audience.py).
    team = {(actor.organisation.pk, actor.role.value)}
    expected = JournalEvent.objects.exclude(actor_user=actor.user).prefetch_related("audience")
    held = {e.pk for e in expected if team & {(a.organisation_id, a.role) for a in e.audience.all()}}
    shown = [e for e in expected if e.pk in held and may_view(actor, e)]
    assert seen == len(shown), "notifications: an event is missing"


@pytest.mark.django_db
def test_the_websocket_audience_of_every_event_may_view_its_object(demo):
    teams = {}
    for username in DEMO_ROLES:
        actor = actor_of(username)
        teams[(actor.organisation.pk, actor.role)] = actor
    audiences = {}
    for event in JournalEvent.objects.all():
        subject = subject_of(event)
        if subject not in audiences:  # the audience depends on the object only
            audiences[subject] = audience_of(event)
        audience = audiences[subject]
        for team in audience:
            member = teams.get(team)
            if member is not None:
                assert may_view(member, event), f"websocket: {event} pushed to {member}"
        for team, member in teams.items():
            if team not in audience and member.role != Role.DPO and event.object_type in EVENT_OBJECTS:
                # Nobody who may view an object is forgotten either (teams, not named access, decide).
                assert not may_view(member, event) or event.object_type == "task", f"{event} not pushed to {member}"
        payload = event_payload(event)
        assert set(payload) <= {
            "type",
            "event_id",
            "participant_id",
            "actor_user_id",  # replaced by `mine` (yes/no) before it reaches a browser (consumers.as_shown)
            "object_type",
            "object_id",
            "action",
            "from_state",
            "to_state",
            "object_label",
            "action_label",
            "to_label",
        }
        CHECKED[(event.object_type, event.action)].add("websocket")


@pytest.mark.django_db
def test_every_event_kind_of_the_demo_went_through_the_channels(demo):
    """Run last in the module: every kind of event the demo holds was checked on at least one page channel and on
    the websocket, so a new kind of event cannot slip past this test unseen."""
    missing = [kind for kind in demo["kinds"] if not CHECKED.get(kind) - {"websocket"}]
    assert not missing, f"event kinds never shown on a checked channel: {sorted(missing)}"
    assert all("websocket" in CHECKED[kind] for kind in demo["kinds"])
    matrix = Counter(channel for channels in CHECKED.values() for channel in channels)
    assert {"timeline", "csv", "xlsx", "notifications", "websocket"} <= set(matrix)
    assert {c for c in matrix if c.startswith("api:")} == {f"api:{r}" for r in ["participants", *HISTORIES]}

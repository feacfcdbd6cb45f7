"""What each role reads of a young person's file through the API and the referral page, beyond the file itself:
eligibility criteria and derogation reasons (adviser and facilitator only, never a buyer's auditor), follow-up notes
and free text (not to a pseudonymised reader), the adviser's name; and the access log of each of those reads."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from parcours.models import ParticipantAccess
from parcours.work.models import WorkTask
from tests.factories import (
    CRITERION,
    call_service,
    make_hours_line,
    make_pathway,
    make_placement,
    make_referral,
    record_follow_up,
)
from workflows.models import JournalEvent

pytestmark = pytest.mark.django_db

HEALTH = "DISABLED_WORKER"  # RQTH: health data


def client_for(actor):
    client = Client()
    client.force_login(actor.user)
    return client


def get_json(actor, url):
    response = client_for(actor).get(url)
    assert response.status_code == 200, (actor.role, url, response.content[:300])
    return response.json()


@pytest.fixture
def referred(world):
    """A file with a health criterion beside another and a derogation reason, validated, referred to side a's lot
    (which gives its buyer's auditor the file, pseudonymised), with a follow-up note."""
    pathway = make_pathway(world, "intake")
    call_service(
        "pathway.submit_eligibility",
        world.a.adviser,
        pathway,
        criteria=[CRITERION, HEALTH],
        derogation_reason="Situation familiale particulière",
    )
    call_service("pathway.validate_eligibility", world.a.facilitator, pathway)
    referral = make_referral(world, "forwarded", pathway=pathway)
    record_follow_up(world, pathway, note="Se sent fragile depuis son déménagement")
    return pathway, referral


def test_criteria_and_derogation_reach_the_adviser_and_facilitator_never_the_buyer(world, referred):
    pathway, _ = referred
    url = f"/api/v1/participants/{pathway.participant_id}/"
    seen = {}
    for actor in (world.a.adviser, world.a.facilitator, world.a.auditor):
        [assessment] = get_json(actor, url)["assessments"]
        seen[actor.role] = ({c["code"] for c in assessment["criteria"]}, assessment["derogation_reason"])
        assert assessment["decision"]  # the decision reaches every reader of the file
    assert seen["adviser"] == ({CRITERION}, "Situation familiale particulière")
    assert seen["facilitator"] == ({CRITERION, HEALTH}, "Situation familiale particulière")
    assert seen["auditor"] == (set(), "")


def test_a_buyer_s_auditor_does_not_learn_whether_a_derogation_was_claimed(world, referred):
    pathway, _ = referred
    url = f"/api/v1/participants/{pathway.participant_id}/history/"
    for actor, shown in [(world.a.adviser, True), (world.a.facilitator, True), (world.a.auditor, False)]:
        [submitted] = [e for e in get_json(actor, url)["results"] if e["action"] == "submit_eligibility"]
        assert ("derogation" in submitted["inputs"]) is shown, actor.role


def test_no_reader_without_health_data_learns_how_many_criteria_were_declared(world, referred):
    pathway, _ = referred
    for actor, count in [(world.a.adviser, None), (world.a.auditor, None), (world.a.facilitator, 2)]:
        for url in (
            f"/api/v1/participants/{pathway.participant_id}/history/",
            f"/api/v1/pathways/{pathway.pk}/history/",
        ):
            events = get_json(actor, url)["results"]
            [submitted] = [e for e in events if e["action"] == "submit_eligibility"]
            assert submitted["inputs"].get("criteria_count") == count, (actor.role, url)


def test_follow_up_notes_and_the_adviser_s_name_are_withheld_from_a_pseudonymised_auditor(world, referred):
    pathway, _ = referred
    url = f"/api/v1/pathways/{pathway.pk}/follow-ups/"
    [mine] = get_json(world.a.adviser, url)["results"]
    assert mine["note"] == "Se sent fragile depuis son déménagement" and mine["recorded_by"]
    [theirs] = get_json(world.a.auditor, url)["results"]
    assert theirs["note"] is None and theirs["recorded_by"] is None and theirs["done_on"] == mine["done_on"]
    [listed] = [p for p in get_json(world.a.auditor, "/api/v1/pathways/")["results"] if p["id"] == pathway.pk]
    assert listed["referent_adviser"] is None and listed["participant"]["last_name"] is None
    [listed] = [p for p in get_json(world.a.adviser, "/api/v1/pathways/")["results"] if p["id"] == pathway.pk]
    assert listed["referent_adviser"] == world.a.adviser.user.username


def test_the_referral_page_keeps_free_text_from_a_pseudonymised_auditor(world):
    placement = make_placement(world, "active")
    line = make_hours_line(world, "rejected", placement=placement)
    referral = placement.referral
    pages = {}
    for actor in (world.a.facilitator, world.a.auditor):
        response = client_for(actor).get(f"/positionnements/{referral.pk}/")
        assert response.status_code == 200
        pages[actor.role] = response.content.decode()
    line.refresh_from_db()
    assert line.rejection_reason and referral.motivation
    assert referral.motivation in pages["facilitator"] and line.rejection_reason in pages["facilitator"]
    assert referral.motivation not in pages["auditor"] and line.rejection_reason not in pages["auditor"]


@pytest.mark.parametrize(
    "path",
    [
        "pathways/{pathway}/",
        "pathways/{pathway}/history/",
        "pathways/{pathway}/follow-ups/",
        "referrals/{referral}/",
        "referrals/{referral}/history/",
        "placements/{placement}/",
        "hours-lines/{line}/",
    ],
)
def test_each_read_of_an_object_showing_a_file_is_logged(world, path):
    line = make_hours_line(world, "declared")
    placement = line.placement
    ids = {"pathway": placement.pathway_id, "referral": placement.referral_id, "placement": placement.pk}
    url = "/api/v1/" + path.format(line=line.pk, **ids)
    participant_id = placement.pathway.participant_id
    actor = world.a.facilitator
    before = ParticipantAccess.objects.filter(participant_id=participant_id, user=actor.user).count()
    get_json(actor, url)
    rows = ParticipantAccess.objects.filter(participant_id=participant_id, user=actor.user)
    assert rows.count() == before + 1
    assert rows.order_by("-pk").first().channel == "api"
    # Out of scope: not found, and nothing logged.
    other = world.b.facilitator
    assert client_for(other).get(url).status_code == 404
    assert not ParticipantAccess.objects.filter(participant_id=participant_id, user=other.user).exists()


@pytest.mark.parametrize("page", ["referral", "follow-up form", "notice"])
def test_each_page_naming_the_young_person_logs_a_read_of_their_file(world, page):
    placement = make_placement(world, "active")
    referral = placement.referral
    participant_id = placement.pathway.participant_id
    actor = world.a.adviser
    url = {
        "referral": f"/positionnements/{referral.pk}/",
        "follow-up form": f"/conseil/parcours/{placement.pathway_id}/suivi/",
        "notice": f"/donnees-personnelles/participants/{participant_id}/notice/",
    }[page]
    rows = ParticipantAccess.objects.filter(participant_id=participant_id, user=actor.user)
    before = rows.count()
    assert client_for(actor).get(url).status_code == 200
    assert rows.count() == before + 1 and rows.order_by("-pk").first().channel == "page"
    # Another Mission Locale: not found, nothing logged.
    other = world.b.adviser
    assert client_for(other).get(url).status_code == 404
    assert not ParticipantAccess.objects.filter(participant_id=participant_id, user=other.user).exists()


def test_an_employer_reading_its_candidate_s_referral_is_logged(world):
    referral = make_referral(world, "forwarded")
    actor = world.a.employer_actor
    rows = ParticipantAccess.objects.filter(participant_id=referral.pathway.participant_id, user=actor.user)
    assert client_for(actor).get(f"/positionnements/{referral.pk}/").status_code == 200
    assert rows.count() == 1


@pytest.mark.parametrize("model", ["pathway", "referral", "placement", "hoursline"])
def test_the_administration_s_lists_naming_young_people_log_each_row_without_a_query_per_row(world, model):

    admin = get_user_model().objects.create_superuser("admin.listes", "admin@example.org", "x" * 16)
    client = Client()
    client.force_login(admin)
    url = f"/admin/parcours/{model}/"
    make_hours_line(world, "declared")
    with CaptureQueriesContext(connection) as few:
        response = client.get(url)
    listed = list(response.context["cl"].result_list)
    assert response.status_code == 200 and listed
    rows = ParticipantAccess.objects.filter(user=admin, channel="admin", purpose="list")
    assert rows.count() == len(listed)
    for _ in range(2):
        make_hours_line(world, "declared")
    with CaptureQueriesContext(connection) as more:
        response = client.get(url)
    assert len(response.context["cl"].result_list) > len(listed)
    assert len(more) == len(few)


def test_the_administration_s_list_of_files_logs_a_read_of_each_row(world):

    shown, hidden = make_pathway(world, "placed"), make_pathway(world, "referred")
    admin = get_user_model().objects.create_superuser("admin.liste", "admin@example.org", "x" * 16)
    client = Client()
    client.force_login(admin)
    response = client.get("/admin/parcours/participant/", {"current_state__exact": "placed"})
    assert response.status_code == 200
    listed = {row.pk for row in response.context["cl"].result_list}
    rows = ParticipantAccess.objects.filter(user=admin)
    assert set(rows.values_list("participant_id", flat=True)) == listed and shown.participant_id in listed
    assert set(rows.values_list("channel", "purpose")) == {("admin", "list")}
    assert not rows.filter(participant_id=hidden.participant_id).exists()


def test_the_administration_s_object_history_and_journal_event_pages_log_the_read(world):
    """A file's history names it (« Dossier de … »), a journal event's page shows its free-text reason beside the
    participant it concerns: each a read of that file. The journal's list (codes and numbers) is not."""

    pathway = make_pathway(world, "eligible")
    participant_id = pathway.participant_id
    admin = get_user_model().objects.create_superuser("admin.histoire", "admin@example.org", "x" * 16)
    client = Client()
    client.force_login(admin)
    rows = ParticipantAccess.objects.filter(user=admin, participant_id=participant_id, channel="admin")
    assert client.get(f"/admin/parcours/participant/{participant_id}/history/").status_code == 200
    assert rows.count() == 1
    event = JournalEvent.objects.filter(participant_id=participant_id).latest("pk")
    assert client.get(f"/admin/workflows/journalevent/{event.pk}/change/").status_code == 200
    assert rows.count() == 2
    assert client.get("/admin/workflows/journalevent/").status_code == 200
    assert rows.count() == 2 and not ParticipantAccess.objects.filter(user=admin, purpose="list").exists()
    # An event about no participant (an operation of the register) is no one's read.
    operation_event = JournalEvent.objects.filter(participant_id__isnull=True).first()
    assert client.get(f"/admin/workflows/journalevent/{operation_event.pk}/change/").status_code == 200
    assert ParticipantAccess.objects.filter(user=admin).count() == 2


@pytest.mark.parametrize("path", ["pathways", "referrals", "placements", "hours-lines"])
def test_each_row_of_an_api_list_naming_a_young_person_is_logged(world, path):
    line = make_hours_line(world, "declared")
    participant_id = line.placement.pathway.participant_id
    actor = world.a.facilitator
    body = get_json(actor, f"/api/v1/{path}/")
    assert body["results"]
    rows = ParticipantAccess.objects.filter(user=actor.user, purpose="list", channel="api")
    assert participant_id in set(rows.values_list("participant_id", flat=True))
    assert rows.count() == len(body["results"])


def test_the_action_pages_naming_the_young_person_log_a_read_of_their_file(world):
    """The eligibility submission, a transition's form, the hours declaration and a task's page each name the
    person: each render leaves one row (a form sent back with errors too)."""

    intake = make_pathway(world, "intake")
    placement = make_placement(world, "active")
    task = WorkTask.objects.filter(pathway=intake).first()
    pages = [
        (world.a.adviser, intake.participant_id, f"/conseil/parcours/{intake.pk}/eligibilite/"),
        (world.a.adviser, intake.participant_id, f"/actions/pathway/{intake.pk}/withdraw/"),
        (world.a.employer_actor, placement.pathway.participant_id, f"/employeur/salaries/{placement.pk}/heures/"),
        (world.a.adviser, intake.participant_id, f"/travail/taches/{task.pk}/"),
    ]
    for actor, participant_id, url in pages:
        rows = ParticipantAccess.objects.filter(participant_id=participant_id, user=actor.user, channel="page")
        before = rows.count()
        assert client_for(actor).get(url).status_code == 200, url
        assert rows.count() == before + 1, url
    # A form sent back with its errors names the person again.
    rows = ParticipantAccess.objects.filter(participant_id=intake.participant_id, user=world.a.adviser.user)
    before = rows.count()
    response = client_for(world.a.adviser).post(f"/actions/pathway/{intake.pk}/withdraw/", {})
    assert response.status_code == 400 and rows.count() == before + 1

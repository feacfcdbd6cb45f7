"""What the pages let a role do, the API does too: recording when the information notice was given (adviser), the
situation six months after an exit (adviser), reminding an employer whose monthly statement is missing
(facilitator). Each through its service: the same refusals, nothing written on a refusal."""

import datetime

from parcours.dates import previous_month
from parcours.models import Exit, HoursStatement, Participant
from parcours.services import pathways
from roles.enums import Role
from tests.api.conftest import assert_problem, client_for, today
from workflows.models import JournalEvent

DAY = datetime.timedelta(days=1)


def test_an_adviser_records_when_the_notice_was_given(story):
    a, b = story.a, story.b
    participant = a.participant
    url = f"/api/v1/participants/{participant.pk}/notice/"
    adviser = client_for(a.users[Role.ADVISER])
    response = adviser.post(url, {"given_on": today().isoformat()}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == participant.pk
    assert Participant.objects.get(pk=participant.pk).notice_given_on == today()
    assert JournalEvent.objects.filter(object_type="participant", object_id=participant.pk, action="notice_given")
    # Refusals: a date to come, a field the endpoint does not take; a facilitator; another Mission Locale.
    later = (today() + DAY).isoformat()
    assert_problem(adviser.post(url, {"given_on": later}, format="json"), 400, "date_in_future")
    assert_problem(adviser.post(url, {"given_on": "2026-01-01", "by": "x"}, format="json"), 400, "unknown_field")
    assert_problem(client_for(a.users[Role.FACILITATOR]).post(url, {"given_on": "2026-01-01"}, format="json"), 403)
    assert_problem(client_for(b.users[Role.ADVISER]).post(url, {"given_on": "2026-01-01"}, format="json"), 404)
    assert Participant.objects.get(pk=participant.pk).notice_given_on == today()


def test_an_adviser_records_the_situation_six_months_after_the_exit(story):
    a, b = story.a, story.b
    pathway = a.pathway
    url = f"/api/v1/pathways/{pathway.pk}/exit-outcome/"
    adviser = client_for(a.users[Role.ADVISER])
    body = {"observed_on": today().isoformat(), "situation": "cdi", "detail": "Toujours chez Bâtir Rhône"}
    assert_problem(adviser.post(url, body, format="json"), 409, "invalid_transition")  # no exit yet
    pathways.pathway_exit(actor=a.actor(Role.ADVISER), pathway=pathway, exited_on=today(), situation="cdd_short")
    assert_problem(adviser.post(url, body, format="json"), 400, "outcome_too_early")
    Exit.objects.filter(pathway=pathway).update(exited_on=today() - 200 * DAY)
    assert_problem(adviser.post(url, {**body, "situation": "astronaut"}, format="json"), 400)
    assert_problem(client_for(b.users[Role.ADVISER]).post(url, body, format="json"), 404)
    assert Exit.objects.get(pathway=pathway).outcome_observed_on is None
    response = adviser.post(url, body, format="json")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["outcome_situation"], answer["outcome_category"]) == ("cdi", "durable_employment")
    assert (
        answer["outcome_detail"] == "Toujours chez Bâtir Rhône"
        and answer["outcome_observed_on"] == body["observed_on"]
    )
    event = JournalEvent.objects.get(object_type="pathway", object_id=pathway.pk, action="record_exit_outcome")
    assert event.inputs["corrected"] is False


def test_a_facilitator_reminds_an_employer_whose_statement_is_missing(story):
    a, b = story.a, story.b
    month = previous_month(today())
    url = f"/api/v1/lots/{a.lot.pk}/statements/{month:%Y-%m}/remind/"
    facilitator = client_for(a.users[Role.FACILITATOR])
    response = facilitator.post(url, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["lot"] == a.lot.pk
    assert HoursStatement.objects.get(lot=a.lot, month=month).reminders == 1
    assert JournalEvent.objects.filter(object_type="hoursstatement", action="remind").count() == 1
    # Refusals: the employer, another facilitation organisation, the month not over, a month that is no month.
    assert_problem(client_for(a.users[Role.EMPLOYER]).post(url, format="json"), 403)
    assert_problem(client_for(b.users[Role.FACILITATOR]).post(url, format="json"), 404)
    current = f"/api/v1/lots/{a.lot.pk}/statements/{today():%Y-%m}/remind/"
    assert_problem(facilitator.post(current, format="json"), 400, "month_not_over")
    assert_problem(facilitator.post(f"/api/v1/lots/{a.lot.pk}/statements/mars/remind/", format="json"), 400)
    # A month past the last one an address may name says which that is (it said « à partir de 2000 » only).
    far = today().year + 11
    problem = assert_problem(facilitator.post(f"/api/v1/lots/{a.lot.pk}/statements/{far}-01/remind/"), 400)
    assert problem["detail"].endswith(f"de 2000-01 à {far - 1}-12.")
    assert_problem(facilitator.get(url), 405)
    assert_problem(facilitator.post(url, {"month": "2026-01"}, format="json"), 400, "unknown_field")
    assert HoursStatement.objects.get(lot=a.lot, month=month).reminders == 1

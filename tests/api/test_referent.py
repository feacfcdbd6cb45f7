"""`POST /api/v1/participants/{id}/referent/` (`{"adviser": <username>}`): the file's Mission Locale changes its
referent adviser to one of its active advisers; the answer is the file (as the notice's). Strict input, RFC 9457
problems, 403 for a role that may never do it, 404 outside scope, 409 on an anonymised file; a refused request writes
nothing, not even an access-log row."""

import pytest

from parcours.models import Participant, ParticipantAccess, Pathway
from parcours.services import pathways, referrals
from parcours.services.data_protection import participant_anonymise
from roles.enums import Role
from tests.api.conftest import advance, assert_problem, client_for
from tests.factories import MembershipFactory, UserFactory
from workflows.models import JournalEvent


def url(participant):
    return f"/api/v1/participants/{participant.pk}/referent/"


@pytest.fixture
def heir(story):
    """Another adviser of territory a's Mission Locale."""
    user = UserFactory(username="lina.relais", first_name="Lina", last_name="Relais")
    MembershipFactory(user=user, organisation=story.a.orgs["mission_locale"], role=Role.ADVISER)
    return user


def events(participant):
    return JournalEvent.objects.filter(object_type="participant", object_id=participant.pk, action="change_referent")


def test_an_adviser_changes_the_referent_and_gets_the_file(story, heir):
    participant = story.a.participant
    adviser = client_for(story.a.users[Role.ADVISER])
    response = adviser.post(url(participant), {"adviser": heir.username}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == participant.pk and body["referent_adviser"] == "lina.relais"
    assert response["ETag"] == f'"v{body["version"]}"'
    assert Participant.objects.get(pk=participant.pk).referent_adviser_id == heir.pk
    assert Pathway.objects.get(participant=participant).referent_adviser_id == heir.pk
    [event] = events(participant)
    assert event.inputs == {"from": story.a.users[Role.ADVISER].pk, "to": heir.pk}
    # Its history (API) names the action in French.
    history = adviser.get(f"/api/v1/participants/{participant.pk}/history/?page_size=200").json()["results"]
    assert "Changement de référent·e" in [row["action_label"] for row in history]
    # Already the referent: the file, nothing written.
    response = adviser.post(url(participant), {"adviser": heir.username}, format="json")
    assert response.status_code == 200 and events(participant).count() == 1


def test_bad_input_is_a_problem_and_writes_nothing(story, heir):
    participant = story.a.participant
    adviser = client_for(story.a.users[Role.ADVISER])
    before = (ParticipantAccess.objects.count(), JournalEvent.objects.count())
    refusals = [
        ({"adviser": story.b.users[Role.ADVISER].username}, "invalid_referent"),  # another Mission Locale's adviser
        ({"adviser": story.a.users[Role.FACILITATOR].username}, "invalid_referent"),
        ({"adviser": "personne.inconnue"}, "invalid_referent"),  # no one
        ({"adviser": heir.pk}, "invalid_input"),  # a username, not a user id (the API never discloses those)
        ({"adviser": 1.5}, "invalid_input"),
        ({"adviser": True}, "invalid_input"),
        ({"adviser": None}, "invalid_input"),
        ({"adviser": ""}, "invalid_input"),
        ({}, "invalid_input"),
        ({"adviser": heir.username, "reason": "x"}, "unknown_field"),
    ]
    for data, code in refusals:
        body = assert_problem(adviser.post(url(participant), data, format="json"), 400, code)
        assert body["errors"][0]["field"] in ("adviser", "reason"), body
    body = assert_problem(
        adviser.post(url(participant), {"adviser": story.b.users[Role.ADVISER].username}, format="json"), 400
    )
    assert body["detail"] == "Choisissez un·e conseiller·ère en poste dans la Mission Locale du dossier."
    assert_problem(adviser.post(url(participant), "[1]", content_type="application/json"), 400)
    assert (ParticipantAccess.objects.count(), JournalEvent.objects.count()) == before
    assert Participant.objects.get(pk=participant.pk).referent_adviser_id == story.a.users[Role.ADVISER].pk


def test_other_roles_and_mission_locales_are_refused(story, heir):
    participant = story.a.participant
    before = (ParticipantAccess.objects.count(), JournalEvent.objects.count())
    for user, status in [
        (story.a.users[Role.FACILITATOR], 403),
        (story.a.users[Role.EMPLOYER], 403),
        (story.a.users[Role.AUDITOR], 403),
        (story.b.users[Role.ADVISER], 404),
    ]:
        assert_problem(client_for(user).post(url(participant), {"adviser": heir.username}, format="json"), status)
    assert_problem(client_for(story.a.users[Role.ADVISER]).post("/api/v1/participants/987654321/referent/", {}), 404)
    assert (ParticipantAccess.objects.count(), JournalEvent.objects.count()) == before


def test_an_anonymised_file_is_a_conflict(api_world, heir):
    side = api_world.a
    objects = advance(side, "referred")
    referrals.referral_cancel(actor=side.actor(Role.ADVISER), referral=objects["referral"], reason="Abandon.")
    pathways.pathway_withdraw(actor=side.actor(Role.ADVISER), pathway=objects["pathway"], reason="Déménagement.")
    participant = participant_anonymise(participant=objects["participant"])
    response = client_for(side.users[Role.ADVISER]).post(url(participant), {"adviser": heir.username}, format="json")
    assert_problem(response, 409, "participant_anonymised")
    assert not events(participant).exists()


def test_the_schema_documents_the_endpoint(story):
    schema = client_for(story.a.users[Role.ADVISER]).get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/participants/{id}/referent/"]["post"]
    assert operation["summary"] == "Changer de référent·e"
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert schema["components"]["schemas"][request]["required"] == ["adviser"]
    assert {"200", "400", "403", "404", "409"} <= set(operation["responses"])

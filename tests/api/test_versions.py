"""The participant file's version: an ETag on every representation of it, If-Match on its edit. Two clients (or a
client and a page) editing the same file: the later edit, made from an older read, is refused with 412 and writes
nothing, instead of undoing the other's change."""

from parcours.models import Participant, ParticipantAccess
from parcours.services import participants
from roles.enums import Role
from tests.api.conftest import assert_problem, client_for
from workflows.models import JournalEvent


def _url(story):
    return f"/api/v1/participants/{story.a.participant.pk}/"


def test_the_file_carries_its_version_and_an_edit_bumps_it(story):
    adviser = client_for(story.a.users[Role.ADVISER])
    response = adviser.get(_url(story))
    assert response.status_code == 200
    assert response["ETag"] == '"v1"' and response.json()["version"] == 1
    response = adviser.patch(_url(story), {"commune": "Bron"}, format="json", HTTP_IF_MATCH='"v1"')
    assert response.status_code == 200, response.content
    assert response["ETag"] == '"v2"' and response.json()["version"] == 2
    # Nothing changed: the version stays (an edit that changes nothing is no edit).
    response = adviser.patch(_url(story), {"commune": "Bron"}, format="json", HTTP_IF_MATCH='"v2"')
    assert response["ETag"] == '"v2"'
    # No If-Match, or `*`: the edit applies to the current version, as before versions existed.
    assert adviser.patch(_url(story), {"commune": "Vaulx-en-Velin"}, format="json")["ETag"] == '"v3"'
    assert adviser.patch(_url(story), {"commune": "Décines"}, format="json", HTTP_IF_MATCH="*")["ETag"] == '"v4"'
    # One of several tags matching is enough.
    response = adviser.patch(_url(story), {"commune": "Meyzieu"}, format="json", HTTP_IF_MATCH='"v1", "v4"')
    assert response.status_code == 200 and response["ETag"] == '"v5"'


def test_an_edit_from_an_older_read_is_412_and_writes_nothing(story):
    adviser = client_for(story.a.users[Role.ADVISER])
    participant = story.a.participant
    etag = adviser.get(_url(story))["ETag"]
    # Meanwhile someone changes the phone number on the file's page (the same service).
    participants.participant_update(
        actor=story.a.actor(Role.ADVISER), participant=participant, changes={"phone": "0611223344", "commune": "Bron"}
    )
    events, reads = JournalEvent.objects.count(), ParticipantAccess.objects.count()
    response = adviser.patch(_url(story), {"phone": "0700000000"}, format="json", HTTP_IF_MATCH=etag)
    body = assert_problem(response, 412, "edit_conflict")
    assert body["version"] == 2 and body["changed_fields"] == ["phone", "commune"]
    assert "rien n'a été enregistré" in body["detail"] and "(Téléphone, Commune)" in body["detail"]
    assert body["title"] == "Version périmée"
    participant.refresh_from_db()
    assert (participant.phone, participant.version) == ("0611223344", 2)
    assert (JournalEvent.objects.count(), ParticipantAccess.objects.count()) == (events, reads)
    # Read at v2, edited since at v3: the refusal names what changed since v2 only.
    participants.participant_update(
        actor=story.a.actor(Role.ADVISER), participant=participant, changes={"email": "ines.nouvelle@example.org"}
    )
    response = adviser.patch(_url(story), {"phone": "0700000000"}, format="json", HTTP_IF_MATCH='"v2"')
    body = assert_problem(response, 412, "edit_conflict")
    assert body["version"] == 3 and body["changed_fields"] == ["email"]
    # A weak tag never matches (strong comparison), nor does an unreadable one.
    for header in ('W/"v3"', '"3"', "v3", '"v-3"', '"v99999999999"', "garbage"):
        response = adviser.patch(_url(story), {"phone": "0700000000"}, format="json", HTTP_IF_MATCH=header)
        assert_problem(response, 412, "edit_conflict")
    assert Participant.objects.get(pk=participant.pk).phone == "0611223344"
    # Read again: the current tag goes through.
    response = adviser.patch(_url(story), {"phone": "0700000000"}, format="json", HTTP_IF_MATCH='"v3"')
    assert response.status_code == 200 and response["ETag"] == '"v4"'


def test_bad_input_and_refusals_come_before_the_version(story):
    """A malformed body is 400 and a role that may not edit is 403, whatever the If-Match; the version is judged
    under the row lock, before the data's own rules (a precondition first: RFC 9110 §13.2.2)."""
    adviser = client_for(story.a.users[Role.ADVISER])
    response = adviser.patch(_url(story), {"unknown": 1}, format="json", HTTP_IF_MATCH='"v9"')
    assert_problem(response, 400)
    response = adviser.patch(_url(story), {"birth_date": "1900-01-01"}, format="json", HTTP_IF_MATCH='"v9"')
    assert_problem(response, 412, "edit_conflict")
    response = adviser.patch(_url(story), {"birth_date": "1900-01-01"}, format="json", HTTP_IF_MATCH='"v1"')
    assert_problem(response, 400)
    facilitator = client_for(story.a.users[Role.FACILITATOR])
    response = facilitator.patch(_url(story), {"commune": "Bron"}, format="json", HTTP_IF_MATCH='"v1"')
    assert response.status_code in (403, 404)
    assert Participant.objects.get(pk=story.a.participant.pk).version == 1


def test_an_auditor_reads_no_version(story):
    """The version counts the file's edits: an event of the file, which a buyer's auditor never sees."""
    auditor = client_for(story.a.users[Role.AUDITOR])
    response = auditor.get(_url(story))
    assert response.status_code == 200, response.content
    assert response.json()["version"] is None and "ETag" not in response


def test_the_conflict_names_its_fields_in_the_readers_language(story):
    adviser = client_for(story.a.users[Role.ADVISER], HTTP_ACCEPT_LANGUAGE="en")
    participants.participant_update(
        actor=story.a.actor(Role.ADVISER), participant=story.a.participant, changes={"phone": "0611223344"}
    )
    response = adviser.patch(_url(story), {"commune": "Bron"}, format="json", HTTP_IF_MATCH='"v1"')
    body = assert_problem(response, 412, "edit_conflict")
    assert body["changed_fields"] == ["phone"]

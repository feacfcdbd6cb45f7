"""The referent adviser's pages: « Changer de référent·e » on the file (advisers of its Mission Locale), and
« Transmettre les dossiers d'un·e collègue » (a leaver's open files to one adviser, confirmed first). French errors on
the field, never a 500; scope (404) and role (403) as the other adviser pages; each page naming the young person is
in the access log; the hand-over page's query count does not grow with the people or the files."""

import html

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from parcours.models import Participant, ParticipantAccess, Pathway
from parcours.services import participants, pathways, referrals
from parcours.services.data_protection import participant_anonymise
from roles.actor import Actor
from roles.enums import Role
from roles.models import Membership
from tests.factories import MembershipFactory, UserFactory
from workflows.models import JournalEvent

# session, user, memberships, then the people still referents of open files (with their count and membership) and
# the Mission Locale's active advisers
HAND_OVER_QUERIES = 5


def login(client, username):
    assert client.login(username=username, password="demo")
    return client


def colleague(site, first_name, last_name, organisation=None):
    user = UserFactory(
        username=f"{first_name.lower()}.{last_name.lower()}", first_name=first_name, last_name=last_name
    )
    membership = MembershipFactory(user=user, organisation=organisation or site.ml, role=Role.ADVISER)
    return Actor.from_membership(membership)


def page(response) -> str:
    return html.unescape(response.content.decode())


def referent_url(participant):
    return reverse("adviser:participant_referent", args=[participant.pk])


# --- One file -----------------------------------------------------------------------------------------------------
def test_an_adviser_changes_the_referent_from_the_file(site, client):
    participant = site.participant()
    other = colleague(site, "Aya", "Benali")
    colleague(site, "Hors", "Equipe", organisation=site.ml_b)
    login(client, "conseillere")
    file_page = page(client.get(reverse("participant_detail", args=[participant.pk])))
    assert "Changer de référent·e" in file_page and referent_url(participant) in file_page

    before = ParticipantAccess.objects.filter(participant_id=participant.pk).count()
    response = client.get(referent_url(participant))
    body = page(response)
    assert response.status_code == 200
    assert "Aya Benali" in body and "Conseillere (référent·e actuel·le)" in body
    assert "Hors Equipe" not in body and "Conseiller.B" not in body  # the file's Mission Locale only
    # The page names the young person: its read is logged.
    assert ParticipantAccess.objects.filter(participant_id=participant.pk).count() == before + 1

    response = client.post(referent_url(participant), {"adviser": str(other.user.pk)}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("participant_detail", args=[participant.pk])
    body = page(response)
    assert "Aya Benali est désormais référent·e de ce dossier." in body
    assert "Changement de référent·e" in body  # the history
    assert Participant.objects.get(pk=participant.pk).referent_adviser_id == other.user.pk
    assert Pathway.objects.get(participant=participant).referent_adviser_id == other.user.pk
    # The same again: nothing written, said so.
    response = client.post(referent_url(participant), {"adviser": str(other.user.pk)}, follow=True)
    assert "Aucun changement : Aya Benali est déjà référent·e de ce dossier." in page(response)
    assert JournalEvent.objects.filter(participant_id=participant.pk, action="change_referent").count() == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Ce champ est obligatoire."),
        ("abc", "Choisissez un·e conseiller·ère de la liste."),
        ("99999999", "Choisissez un·e conseiller·ère de la liste."),
        ("١", "Choisissez un·e conseiller·ère de la liste."),
        ("b-adviser", "Choisissez un·e conseiller·ère de la liste."),  # another Mission Locale's adviser
        ("left", "Choisissez un·e conseiller·ère de la liste."),  # a colleague who left
    ],
)
def test_a_bad_choice_is_a_french_error_on_the_field(site, client, value, message):
    participant = site.participant()
    gone = colleague(site, "Parti", "Ailleurs")
    Membership.objects.filter(user=gone.user).update(is_active=False)
    value = {"b-adviser": str(site.adviser_b.user.pk), "left": str(gone.user.pk)}.get(value, value)
    login(client, "conseillere")
    response = client.post(referent_url(participant), {"adviser": value})
    assert response.status_code == 400
    body = page(response)
    assert message in body and 'aria-invalid="true"' in body
    assert Participant.objects.get(pk=participant.pk).referent_adviser_id == site.adviser.user.pk
    assert not JournalEvent.objects.filter(action="change_referent").exists()


def test_the_page_is_the_followed_mission_locales_only(site, client):
    participant = site.participant()  # eligible: shared with the facilitator
    url = referent_url(participant)
    for username in ("facilitateur", "employeur", "auditeur", "conseiller.b"):
        login(client, username)
        assert client.get(url).status_code == 404, username
        assert client.post(url, {"adviser": str(site.adviser.user.pk)}).status_code == 404, username
        if username == "facilitateur":  # sees the file, without the button
            assert "Changer de référent·e" not in page(
                client.get(reverse("participant_detail", args=[participant.pk]))
            )
    assert not JournalEvent.objects.filter(action="change_referent").exists()
    client.logout()
    assert client.get(url).status_code == 302  # to the login


def test_an_anonymised_file_offers_no_change(site, client):
    participant = site.participant()
    pathway = participant.pathways.get()
    referral = pathway.referrals.get()
    referrals.referral_cancel(actor=site.adviser, referral=referral, reason="Plus intéressé·e.")
    pathways.pathway_withdraw(actor=site.adviser, pathway=pathway, reason="Déménagement.")
    participant_anonymise(participant=participant)
    login(client, "conseillere")
    assert "Changer de référent·e" not in page(client.get(reverse("participant_detail", args=[participant.pk])))
    response = client.post(referent_url(participant), {"adviser": str(site.adviser.user.pk)}, follow=True)
    assert "Ce dossier a été anonymisé" in page(response)
    assert not JournalEvent.objects.filter(action="change_referent").exists()


# --- A colleague's files ------------------------------------------------------------------------------------------
def test_a_leavers_files_are_handed_over_after_a_confirmation(site, client):
    leaver = colleague(site, "Paul", "Depart")
    heir = colleague(site, "Lina", "Relais")
    files = [site.participant(), site.participant()]
    for participant in files:
        participants.participant_change_referent(actor=site.adviser, participant=participant, adviser=leaver.user)
    Membership.objects.filter(user=leaver.user).update(is_active=False)
    mine = site.participant()
    login(client, "conseillere")
    url = reverse("adviser:hand_over")
    assert url in page(client.get(reverse("adviser:participants")))  # linked from the list of young people

    body = page(client.get(url))
    assert "Paul Depart — ne fait plus partie de l'équipe, 2 dossiers ouverts" in body
    assert "Conseillere — 1 dossier ouvert" in body
    choice = {"from_adviser": str(leaver.user.pk), "to_adviser": str(heir.user.pk)}
    response = client.post(url, choice)
    assert response.status_code == 200
    body = page(response)
    assert "2 dossiers ouverts de Paul Depart vont être transmis à Lina Relais." in body
    assert "Confirmer la transmission" in body
    assert Participant.objects.filter(referent_adviser=heir.user).count() == 0  # nothing yet

    response = client.post(url, {**choice, "confirmed": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("adviser:participants")
    assert "2 dossiers de Paul Depart sont transmis à Lina Relais." in page(response)
    assert set(
        Participant.objects.filter(pk__in=[p.pk for p in files]).values_list("referent_adviser", flat=True)
    ) == {heir.user.pk}
    assert Participant.objects.get(pk=mine.pk).referent_adviser_id == site.adviser.user.pk
    assert JournalEvent.objects.filter(action="change_referent", inputs__bulk=True).count() == 2
    # The leaver has no open file left: no longer offered.
    assert "Paul Depart" not in page(client.get(url))


@pytest.mark.parametrize(
    ("choice", "field_message"),
    [
        ({"from_adviser": "", "to_adviser": ""}, "Ce champ est obligatoire."),
        ({"from_adviser": "x", "to_adviser": "heir"}, "Choisissez une personne de la liste."),
        ({"from_adviser": "adviser", "to_adviser": "x"}, "Choisissez un·e conseiller·ère de la liste."),
        ({"from_adviser": "adviser", "to_adviser": "b"}, "Choisissez un·e conseiller·ère de la liste."),
        (
            {"from_adviser": "adviser", "to_adviser": "adviser"},
            "Choisissez une autre personne que celle dont les dossiers sont à transmettre.",
        ),
    ],
)
def test_a_bad_hand_over_is_a_french_error_and_moves_nothing(site, client, choice, field_message):
    site.participant()
    heir = colleague(site, "Lina", "Relais")
    ids = {"adviser": str(site.adviser.user.pk), "heir": str(heir.user.pk), "b": str(site.adviser_b.user.pk)}
    login(client, "conseillere")
    data = {name: ids.get(value, value) for name, value in choice.items()}
    for confirmed in ({}, {"confirmed": "on"}):
        response = client.post(reverse("adviser:hand_over"), {**data, **confirmed})
        assert response.status_code == 400
        assert field_message in page(response)
    assert not JournalEvent.objects.filter(action="change_referent").exists()


def test_the_hand_over_page_is_the_advisers(site, client):
    url = reverse("adviser:hand_over")
    for username in ("facilitateur", "employeur", "auditeur"):
        login(client, username)
        assert client.get(url).status_code == 403, username
        assert client.post(url, {"from_adviser": "1", "to_adviser": "1", "confirmed": "on"}).status_code == 403
    # Another Mission Locale's adviser sees its own people only.
    site.participant()
    login(client, "conseiller.b")
    body = page(client.get(url))
    assert "Conseillere" not in body and "Aucun dossier ouvert de la Mission Locale" in body


def test_the_hand_over_page_query_count_is_pinned(site, client):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("adviser:hand_over"))
        assert response.status_code == 200
        return len(ctx.captured_queries)

    site.participant()
    login(client, "conseillere")
    count()
    before = count()
    for index in range(3):
        leaver = colleague(site, "Parti", f"Numero{index}")
        for _ in range(2):
            participant = site.participant()
            participants.participant_change_referent(actor=site.adviser, participant=participant, adviser=leaver.user)
        Membership.objects.filter(user=leaver.user).update(is_active=False)
        colleague(site, "Reste", f"Numero{index}")
    assert count() == before == HAND_OVER_QUERIES

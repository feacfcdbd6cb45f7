"""Adviser pages: participant list, intake (with duplicates), edit, eligibility submission, offer search and
referral, follow-ups, the participant file's actions; scope, refusals and pinned query counts."""

import datetime
import html

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from parcours.models import (
    EligibilityAssessment,
    FollowUp,
    Participant,
    ParticipantAccess,
    ParticipantGroupObjectPermission,
    Referral,
)
from parcours.selectors import participant_search, participant_total
from parcours.services import participants, pathways
from roles import grants
from roles.actor import Actor
from roles.policy import allows
from tests.factories import MembershipFactory, UserFactory
from workflows.models import JournalEvent

# session, user, memberships, then count (of the grants, unfiltered) + the page's ids + its rows (the current
# pathway id comes from a subquery, its state from the participant row)
PARTICIPANT_LIST_QUERIES = 6
OFFER_LIST_QUERIES = 5


def login(client, username):
    assert client.login(username=username, password="demo")
    return client


def intake(site, *, adviser=None, **data):
    """A participant just registered (pathway in intake)."""
    site.counter += 1
    values = {
        "first_name": f"Nouveau{site.counter}",
        "last_name": f"Inscrit{site.counter}",
        "birth_date": datetime.date(2004, 3, 1) + datetime.timedelta(days=site.counter),
        "postcode": "59000",
        "commune": "Lille",
        "qualification_level": "infra_3",
        **data,
    }
    return participants.participant_create(actor=adviser or site.adviser, data=values)


def intake_post(**overrides):
    data = {
        "first_name": "Inès",
        "last_name": "Martin",
        "birth_date": "2005-06-15",
        "postcode": "59100",
        "commune": "Roubaix",
        "qualification_level": "level_3",
        "programme": "cej",
        "email": "ines@example.org",
        "phone": "0600000000",
        "imilo_reference": "IM-42",
        "is_qpv_resident": "on",
    }
    data.update(overrides)
    return data


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


# --- participant list -----------------------------------------------------------------------------------------
def test_participant_list_query_count_is_pinned(site, client):
    for _ in range(2):
        site.participant()
    intake(site, adviser=site.adviser_b)
    login(client, "conseillere")
    url = reverse("adviser:participants")
    client.get(url)
    before, _ = count_queries(client, url)
    for _ in range(4):
        site.participant()
    after, response = count_queries(client, url)
    assert before == after == PARTICIPANT_LIST_QUERIES
    assert response.content.decode().count('data-state="referred"') == 6


def test_participant_list_is_scoped_searchable_and_filtered(site, client):
    mine = site.participant()
    fresh = intake(site, imilo_reference="IMILO-77", programme="pacea")
    other = intake(site, adviser=site.adviser_b)
    login(client, "conseillere")
    url = reverse("adviser:participants")
    body = client.get(url).content.decode()
    assert mine.last_name.upper() in body and fresh.last_name.upper() in body
    assert other.last_name.upper() not in body
    assert "Inscrire un·e jeune" in body
    body = client.get(url, {"q": "imilo-77"}).content.decode()
    assert fresh.last_name.upper() in body and mine.last_name.upper() not in body
    body = client.get(url, {"q": mine.first_name.lower()}).content.decode()
    assert mine.last_name.upper() in body and fresh.last_name.upper() not in body
    body = client.get(url, {"state": "intake"}).content.decode()
    assert fresh.last_name.upper() in body and mine.last_name.upper() not in body
    body = client.get(url, {"programme": "pacea"}).content.decode()
    assert fresh.last_name.upper() in body and mine.last_name.upper() not in body
    # Unknown filter values are ignored, not a 500.
    assert client.get(url, {"state": "nope", "page": "x"}).status_code == 200


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("x" * 101, "Recherche : 100 caractères au plus."),
        ("'", "Saisissez au moins une lettre ou un chiffre."),
        (" -- ' ", "Saisissez au moins une lettre ou un chiffre."),
    ],
)
def test_a_search_that_cannot_be_run_says_why_and_lists_no_one(site, client, query, message):
    """A search too long, or of punctuation alone, was ignored: the list showed everyone, the box still showing the
    query. It is an error on the search field, the input kept, and no row is listed."""
    mine = site.participant()
    login(client, "conseillere")
    url = reverse("adviser:participants")
    response = client.get(url, {"q": query})
    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    assert message in body and 'id="id_q_error"' in body and 'aria-invalid="true"' in body
    assert f'value="{query}"' in body  # the input as typed
    assert mine.last_name.upper() not in body and response.context["page"].paginator.count == 0
    # The live search swaps the rows only: they say why they are empty.
    partial = client.get(url, {"q": query}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and message in partial and mine.last_name.upper() not in partial
    # The offers' search boxes answer the same.
    body = client.get(reverse("adviser:offers"), {"trade": query}).content.decode()
    assert message in body and "Maçon·ne" not in body


def test_a_search_in_letters_folding_cannot_read_finds_no_one(site):
    """Letters or digits of another script ("٣", "Ж") pass the search box, but folded names hold none: the search
    found every file (no word left to look for). It finds none."""
    site.participant()
    assert participant_search(site.adviser).exists()
    for query in ("٣", "Жанна"):
        assert not participant_search(site.adviser, query=query).exists(), query


def test_participant_list_htmx_partial_and_pagination(site, client):
    for _ in range(27):
        intake(site)
    login(client, "conseillere")
    url = reverse("adviser:participants")
    response = client.get(url, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body and "Page 1 sur 2" in body
    assert body.count('data-state="intake"') == 25
    body = client.get(url, {"page": 2}).content.decode()
    assert body.count('data-state="intake"') == 2 and "<html" in body


def test_participant_list_total_is_read_from_the_grants_and_equals_the_scoped_count(site):
    for _ in range(3):
        site.participant()  # referred to the buyer's contract: its auditors hold an audit grant too
    intake(site)
    intake(site, adviser=site.adviser_b)
    for actor in (site.adviser, site.adviser_b, site.facilitator, site.auditor):
        total = participant_total(actor)
        assert total is not None and total == participant_search(actor).count() > 0, actor
    assert participant_total(site.adviser) == 4 and participant_total(site.auditor) == 3
    # Roles whose scope is not one grant, and any filter, leave the count to the page.
    assert participant_total(site.employer) is None
    for filters in ({"query": "x"}, {"state": "intake"}, {"programme": "cej"}):
        assert participant_total(site.adviser, **filters) is None


def test_the_followed_scope_is_the_agency_s_grant_and_never_wider(site):
    """An adviser reaches the participants its Mission Locale holds the followed grant on; the scope also filters on
    the participant's agency (for the plan). The services give that grant to the agency alone, so the filter drops
    nothing; a grant given by hand to another Mission Locale does not widen its reach."""
    mine = site.participant()
    theirs = intake(site, adviser=site.adviser_b)
    followed = ParticipantGroupObjectPermission.objects.filter(permission__codename="change_participant")
    assert {(g.group_id, g.content_object.youth_agency.group_id) for g in followed} == {
        (site.ml.group_id, site.ml.group_id),
        (site.ml_b.group_id, site.ml_b.group_id),
    }
    assert list(participant_search(site.adviser_b)) == [theirs]
    grants.grant(organisation=site.ml_b, permission="parcours.change_participant", obj=mine)
    assert list(participant_search(site.adviser_b)) == [theirs]
    assert not allows(site.adviser_b, "participant.view", mine) and allows(site.adviser, "participant.view", mine)


def test_participant_search_ignores_accents_case_and_hyphens(site, client):
    ines = intake(site, first_name="Inès", last_name="Benali-Moreau", imilo_reference="ML-Ä7")
    other = intake(site, first_name="Agnès", last_name="Moreau")
    login(client, "conseillere")
    url = reverse("adviser:participants")
    for query, found in [
        ("ines", [ines]),
        ("INÈS", [ines]),
        ("benali moreau", [ines]),
        ("benali-moreau ines", [ines]),
        ("moreau", [ines, other]),
        ("agnes", [other]),
        ("ml-a7", [ines]),
        ("zoé", []),
    ]:
        body = client.get(url, {"q": query}).content.decode()
        for participant in (ines, other):
            link = reverse("participant_detail", args=[participant.pk])
            assert (link in body) == (participant in found), query


@pytest.mark.parametrize("username", ["facilitateur", "employeur", "auditeur"])
def test_adviser_pages_refuse_other_roles(site, client, username):
    login(client, username)
    for name in ["adviser:participants", "adviser:participant_create", "adviser:offers"]:
        assert client.get(reverse(name)).status_code == 403, name


def test_anonymous_is_sent_to_login(site, client):
    response = client.get(reverse("adviser:participants"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


# --- intake ---------------------------------------------------------------------------------------------------
def test_intake_creates_participant_and_pathway(site, client):
    login(client, "conseillere")
    body = client.get(reverse("adviser:participant_create")).content.decode()
    for name in participants.EDITABLE:
        assert f'name="{name}"' in body
    response = client.post(reverse("adviser:participant_create"), intake_post())
    participant = Participant.objects.get(last_name="Martin")
    assert response.status_code == 302 and response["Location"] == reverse("participant_detail", args=[participant.pk])
    assert participant.youth_agency == site.ml and participant.is_qpv_resident and participant.programme == "cej"
    assert participant.pathways.get().state == "intake"


def test_intake_bad_input_is_400_with_french_errors_and_kept_input(site, client):
    login(client, "conseillere")
    response = client.post(
        reverse("adviser:participant_create"), intake_post(first_name="", postcode="59", commune="Ville-Témoin")
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Ce champ est obligatoire." in body and "Code postal : 5 chiffres attendus." in body
    assert "Code postal : Code postal" not in body  # the summary does not name the field twice
    assert 'value="Ville-Témoin"' in body and 'aria-invalid="true"' in body
    assert not Participant.objects.exists()


def test_a_day_the_calendar_lacks_is_said_to_be_one(site, client):
    """31/02/2005 is well written: « format attendu » sent people looking for a typo; the API said it already."""
    login(client, "conseillere")
    for typed, said in (("31/02/2005", "31/02/2005"), ("2005-02-30", "30/02/2005")):
        response = client.post(reverse("adviser:participant_create"), intake_post(birth_date=typed))
        body = html.unescape(response.content.decode())
        assert response.status_code == 400
        assert f"Cette date n'existe pas : {said}." in body and "format attendu" not in body
    # A date box that could not read it sends nothing and says so (parcours.js): not « obligatoire ».
    response = client.post(
        reverse("adviser:participant_create"), {**intake_post(birth_date=""), "birth_date__bad": "1"}
    )
    body = html.unescape(response.content.decode())
    assert "Cette date n'existe pas : vérifiez le jour et le mois." in body and "Ce champ est obligatoire" not in body
    response = client.post(reverse("adviser:participant_create"), intake_post(birth_date="le 3 mars"))
    assert "Date invalide (format attendu : jj/mm/aaaa)." in html.unescape(response.content.decode())
    assert not Participant.objects.exists()


def test_intake_service_error_is_a_field_error(site, client):
    login(client, "conseillere")
    response = client.post(reverse("adviser:participant_create"), intake_post(birth_date="1980-01-01"))
    assert response.status_code == 400
    assert "Les Missions Locales accueillent les jeunes de 16 à 25 ans" in response.content.decode()
    assert not Participant.objects.exists()


def test_intake_duplicate_shows_matches_then_allows_override(site, client):
    existing = intake(site, first_name="Inès", last_name="Martin", birth_date=datetime.date(2005, 6, 15))
    intake(site, adviser=site.adviser_b, first_name="Inès", last_name="Martin", birth_date=datetime.date(2005, 6, 15))
    login(client, "conseillere")
    response = client.post(reverse("adviser:participant_create"), intake_post(imilo_reference=""))
    assert response.status_code == 400
    body = response.content.decode()
    assert "déjà suivi·e par votre Mission Locale" in body
    assert reverse("participant_detail", args=[existing.pk]) in body
    assert "Il s&#x27;agit bien d&#x27;une autre personne" in body or "Il s'agit bien d'une autre personne" in body
    assert body.count("MARTIN Inès") == 1  # the other agency's namesake is never shown
    assert Participant.objects.filter(youth_agency=site.ml).count() == 1
    response = client.post(
        reverse("adviser:participant_create"), intake_post(imilo_reference="", allow_duplicate="on")
    )
    assert response.status_code == 302
    assert Participant.objects.filter(youth_agency=site.ml, last_name="Martin").count() == 2


def test_intake_duplicate_imilo_reference_is_field_error(site, client):
    intake(site, imilo_reference="IM-42")
    login(client, "conseillere")
    response = client.post(reverse("adviser:participant_create"), intake_post())
    assert response.status_code == 400
    assert "Cet identifiant i-milo est déjà utilisé." in response.content.decode()


# --- edit -----------------------------------------------------------------------------------------------------
def test_an_edit_into_a_homonym_shows_the_match_then_allows_two_people(site, client):
    existing = intake(site, first_name="Inès", last_name="Martin", birth_date=datetime.date(2005, 6, 15))
    other = intake(site, first_name="Ines", last_name="Martan", birth_date=datetime.date(2005, 6, 15))
    login(client, "conseillere")
    url = reverse("adviser:participant_update", args=[other.pk])
    assert 'type="hidden" name="allow_duplicate"' in client.get(url).content.decode()  # nothing to confirm yet
    data = intake_post(first_name="Inès", last_name="Martin", imilo_reference="")
    data["birth_date"] = "2005-06-15"
    response = client.post(url, data)
    body = html.unescape(response.content.decode())
    assert response.status_code == 400 and "Doublon possible" in body
    assert reverse("participant_detail", args=[existing.pk]) in body and "Il s'agit bien d'une autre personne" in body
    assert Participant.objects.get(pk=other.pk).last_name == "Martan"
    assert client.post(url, {**data, "allow_duplicate": "on"}).status_code == 302
    other.refresh_from_db()
    assert (other.last_name, other.homonym_confirmed) == ("Martin", True)


def test_participant_update(site, client):
    participant = intake(site)
    login(client, "conseillere")
    url = reverse("adviser:participant_update", args=[participant.pk])
    body = client.get(url).content.decode()
    assert f'value="{participant.last_name}"' in body
    data = intake_post(first_name=participant.first_name, last_name=participant.last_name, commune="Tourcoing")
    data["birth_date"] = participant.birth_date.isoformat()
    assert client.post(url, data).status_code == 302
    participant.refresh_from_db()
    assert participant.commune == "Tourcoing"
    event = JournalEvent.objects.filter(object_type="participant", action="update").get()
    assert "commune" in event.inputs["fields"] and "Tourcoing" not in str(event.inputs)


def test_participant_update_bad_input_and_scope(site, client):
    participant = intake(site)
    login(client, "conseillere")
    url = reverse("adviser:participant_update", args=[participant.pk])
    response = client.post(url, intake_post(last_name="", email="pas-un-courriel"))
    assert response.status_code == 400
    assert "Adresse de courriel invalide." in response.content.decode()
    participant.refresh_from_db()
    assert participant.last_name.startswith("Inscrit")
    client.logout()
    for username in ["conseiller.b", "facilitateur", "employeur", "auditeur"]:
        login(client, username)
        assert client.get(url).status_code == 404, username
        client.logout()


def _edit_post(participant, **overrides):
    data = intake_post(
        first_name=participant.first_name,
        last_name=participant.last_name,
        birth_date=participant.birth_date.isoformat(),
        commune=participant.commune,
        postcode=participant.postcode,
        phone="",
        email="",
        imilo_reference="",
    )
    data.update(overrides)
    return data


def test_an_edit_from_an_older_version_writes_nothing_and_names_what_changed(site, client):
    """Two advisers of one Mission Locale open the same file: the second to save used to silently put back the
    phone number the first had just changed (the whole form is sent). Now nothing is written, the form says who
    changed what and shows the recorded value; saving again (on the current version) is choosing."""
    participant = intake(site)
    colleague = Actor.from_membership(
        MembershipFactory(
            user=UserFactory(first_name="Karim", last_name="Benali"), organisation=site.ml, role="adviser"
        )
    )
    login(client, "conseillere")
    url = reverse("adviser:participant_update", args=[participant.pk])
    assert 'name="version" value="1"' in client.get(url).content.decode()
    participants.participant_update(actor=colleague, participant=participant, changes={"phone": "0611223344"})

    response = client.post(url, _edit_post(participant, commune="Tourcoing", version="1"))
    body = html.unescape(response.content.decode())
    assert response.status_code == 409
    assert "Ce dossier a été modifié par Karim Benali le " in body and "(Téléphone) : rien n'a été enregistré" in body
    # The phone field now shows what is recorded (saving again keeps the colleague's change); what was typed there
    # is named beside it; the other fields keep what this adviser typed.
    assert "Modifié entre-temps : la donnée enregistrée est reprise ici. Votre saisie : « (vide) »." in body
    assert 'value="0611223344"' in body
    assert 'name="version" value="2"' in body and 'value="Tourcoing"' in body
    participant.refresh_from_db()
    assert (participant.commune, participant.phone, participant.version) == ("Lille", "0611223344", 2)
    assert JournalEvent.objects.filter(object_type="participant", action="update").count() == 1

    assert (
        client.post(url, _edit_post(participant, commune="Tourcoing", phone="0611223344", version="2")).status_code
        == 302
    )
    participant.refresh_from_db()
    assert (participant.commune, participant.phone, participant.version) == ("Tourcoing", "0611223344", 3)


def test_an_edit_names_every_change_since_and_an_unreadable_version_is_a_conflict(site, client):
    participant = intake(site)
    participants.participant_update(actor=site.adviser, participant=participant, changes={"commune": "Roubaix"})
    participants.participant_update(
        actor=site.adviser, participant=participant, changes={"is_qpv_resident": True, "programme": "cej"}
    )
    login(client, "conseillere")
    url = reverse("adviser:participant_update", args=[participant.pk])
    body = html.unescape(client.post(url, _edit_post(participant, version="1")).content.decode())
    assert "(Commune, Réside en QPV, Dispositif)" in body
    # The page was opened on « Lille »: the field now shows the recorded « Roubaix », the typed value beside it.
    assert 'name="commune" value="Roubaix"' in body and "Votre saisie : « Lille »." in body
    for forged in ("abc", "-1", "99999999999", "4"):  # unreadable (0: before every edit), or never reached
        response = client.post(url, _edit_post(participant, commune="Lens", version=forged))
        assert response.status_code == 409, forged
        assert "rien n'a été enregistré" in html.unescape(response.content.decode())
    assert "Ce dossier a été modifié depuis que vous l'avez ouvert" in html.unescape(response.content.decode())
    participant.refresh_from_db()
    assert (participant.commune, participant.version) == ("Roubaix", 3)
    # A form opened before versions existed sends none: the edit applies to the current data, as it used to.
    assert client.post(url, _edit_post(participant, commune="Lens")).status_code == 302
    participant.refresh_from_db()
    assert (participant.commune, participant.version) == ("Lens", 4)


# --- participant file -----------------------------------------------------------------------------------------
def test_participant_file_buttons_for_intake(site, client):
    participant = intake(site)
    pathway = participant.pathways.get()
    body = login(client, "conseillere").get(reverse("participant_detail", args=[participant.pk])).content.decode()
    assert reverse("adviser:submit_eligibility", args=[pathway.pk]) in body
    assert "Soumettre l&#x27;éligibilité" in body or "Soumettre l'éligibilité" in body
    assert reverse("transition", args=["pathway", pathway.pk, "submit_eligibility"]) not in body
    assert reverse("transition", args=["pathway", pathway.pk, "withdraw"]) in body
    assert "Positionner sur une offre" not in body
    assert "Enregistrer un suivi" in body
    assert reverse("adviser:participant_update", args=[participant.pk]) in body


def test_participant_file_of_hired_participant(site, client):
    participant = site.participant(hired=True)
    pathway = participant.pathways.get()
    body = login(client, "conseillere").get(reverse("participant_detail", args=[participant.pk])).content.decode()
    assert "Positionner sur une offre" in body and f"?pathway={pathway.pk}" in body
    assert "Enregistrer la sortie" in body and "Perdu de vue" in body
    # Planned follow-ups (+1, +3, +6 months) can be completed from the file.
    assert body.count("?planned=") == 3
    # The timeline speaks French: transition labels and state labels.
    assert "Confirmer l&#x27;embauche" in body or "Confirmer l'embauche" in body
    assert "Éligibilité à valider" in body and "Création" in body
    client.logout()
    # The auditor reads the file and its timeline, without the adviser's buttons.
    body = login(client, "auditeur").get(reverse("participant_detail", args=[participant.pk])).content.decode()
    assert "Enregistrer la sortie" not in body and "Positionner sur une offre" not in body
    assert "Valider l&#x27;éligibilité" in body or "Valider l'éligibilité" in body


def test_participant_file_shows_referral_cancel_button(site, client):
    participant = site.participant()
    referral = participant.pathways.get().referrals.get()
    body = login(client, "conseillere").get(reverse("participant_detail", args=[participant.pk])).content.decode()
    assert reverse("transition", args=["referral", referral.pk, "cancel"]) in body


def test_a_closing_page_names_the_referrals_it_will_cancel(site, client):
    """Closing a pathway cancels its open referrals: its page says which, before the click (it said the contracts
    that keep running, not the referrals it ends)."""
    participant = site.participant()
    pathway = participant.pathways.get()
    referral = pathway.referrals.get()
    login(client, "conseillere")
    body = html.unescape(client.get(reverse("transition", args=["pathway", pathway.pk, "withdraw"])).content.decode())
    assert "Positionnements en cours, annulés par cette action :" in body and referral.offer.title in body
    assert (
        client.post(
            reverse("transition", args=["pathway", pathway.pk, "withdraw"]), {"reason": "Déménagement"}
        ).status_code
        == 302
    )
    referral.refresh_from_db()
    assert referral.state == "cancelled"


def test_exit_through_generic_transition(site, client):
    participant = site.participant(hired=True)
    pathway = participant.pathways.get()
    login(client, "conseillere")
    url = reverse("transition", args=["pathway", pathway.pk, "exit"])
    # The form says which contract still runs: the exit does not end it.
    placement = pathway.placements.get()
    body = html.unescape(client.get(url).content.decode())
    assert "Contrats prévus ou en cours :" in body and f"{placement.employer} — {placement.lot}" in body
    assert "Cette action n'y met pas fin" in body
    response = client.post(url, {"exited_on": "", "situation": "cdi"})
    assert response.status_code == 400
    response = client.post(url, {"exited_on": site.today.isoformat(), "situation": "cdi"})
    assert response.status_code == 302
    pathway.refresh_from_db()
    assert pathway.state == "exited"
    # A stale click (already exited) gets a message, not a 500.
    response = client.post(url, {"exited_on": site.today.isoformat(), "situation": "cdi"}, follow=True)
    assert response.status_code == 200


# --- eligibility submission -----------------------------------------------------------------------------------
def test_submit_eligibility_page(site, client):
    participant = intake(site)
    pathway = participant.pathways.get()
    login(client, "conseillere")
    url = reverse("adviser:submit_eligibility", args=[pathway.pk])
    body = client.get(url).content.decode()
    assert 'value="YOUTH_ML_FOLLOWED"' in body and "donnée de santé" in body
    assert f'value="{site.fac.pk}"' in body
    response = client.post(
        url,
        {"criteria": ["YOUTH_ML_FOLLOWED", "RSA"], "derogation_reason": "", "facilitation_organisation": site.fac.pk},
    )
    assert response.status_code == 302
    pathway.refresh_from_db()
    assert pathway.state == "eligibility_pending" and pathway.facilitation_organisation == site.fac
    assessment = EligibilityAssessment.objects.get(pathway=pathway)
    assert sorted(assessment.assessed.values_list("criterion__code", flat=True)) == ["RSA", "YOUTH_ML_FOLLOWED"]
    # Once submitted, the page sends back to the file with a message.
    response = client.get(url, follow=True)
    assert "déjà été soumise" in response.content.decode()


def test_submit_eligibility_refusals(site, client):
    participant = intake(site)
    pathway = participant.pathways.get()
    login(client, "conseillere")
    url = reverse("adviser:submit_eligibility", args=[pathway.pk])
    response = client.post(url, {"criteria": [], "derogation_reason": ""})
    assert response.status_code == 400
    assert "Choisissez au moins un critère" in response.content.decode()
    response = client.post(url, {"criteria": ["NOPE"], "derogation_reason": "motif gardé"})
    assert response.status_code == 400 and "motif gardé" in response.content.decode()
    response = client.post(url, {"criteria": ["RSA"], "facilitation_organisation": site.emp.pk})
    assert response.status_code == 400
    assert (
        "n&#x27;est pas partenaire" in response.content.decode() or "n'est pas partenaire" in response.content.decode()
    )
    pathway.refresh_from_db()
    assert pathway.state == "intake" and not EligibilityAssessment.objects.exists()
    client.logout()
    login(client, "conseiller.b")
    assert client.get(url).status_code == 404
    client.logout()
    login(client, "facilitateur")
    assert client.get(url).status_code == 403


def test_submit_eligibility_with_derogation(site, client):
    pathway = intake(site).pathways.get()
    login(client, "conseillere")
    url = reverse("adviser:submit_eligibility", args=[pathway.pk])
    assert client.post(url, {"derogation_reason": "Situation particulière"}).status_code == 302
    assert EligibilityAssessment.objects.get(pathway=pathway).derogation_reason == "Situation particulière"


# --- offers and referrals -------------------------------------------------------------------------------------
def _more_offers(site, n):
    from parcours.services import register

    for i in range(n):
        register.offer_create(
            actor=site.facilitator,
            lot=site.lot,
            title=f"Coffreur·se {site.counter}-{i}",
            trade="Coffreur",
            contract_type="cdd",
            weekly_hours=35,
            location="Roubaix",
        )
    site.counter += 1


def test_offer_list_query_count_is_pinned(site, client):
    _more_offers(site, 1)
    pathway = site.participant().pathways.get()
    login(client, "conseillere")
    url = reverse("adviser:offers") + f"?pathway={pathway.pk}"
    client.get(url)
    before, _ = count_queries(client, url)
    _more_offers(site, 4)
    after, response = count_queries(client, url)
    assert before == after == OFFER_LIST_QUERIES + 2  # + the pathway to refer, and its read logged
    body = response.content.decode()
    assert body.count(">Positionner</button>") == 6
    # The motivation is a real text box with a visible label (it was squeezed to 42 px next to the button).
    assert body.count('<label class="form-label small mb-0" for="motivation-') == 6
    assert body.count('rows="3"></textarea>') == 6 and 'visually-hidden" for="motivation' not in body
    plain, _ = count_queries(client, reverse("adviser:offers"))
    assert plain == OFFER_LIST_QUERIES


def test_offer_search_filters(site, client):
    _more_offers(site, 1)
    login(client, "conseillere")
    url = reverse("adviser:offers")
    body = client.get(url, {"trade": "maçon"}).content.decode()
    assert "Maçon·ne" in body and "Coffreur·se" not in body
    body = client.get(url, {"place": "roubaix"}).content.decode()
    assert "Maçon·ne" not in body and "Coffreur·se" in body
    # Accents and case are not the typist's problem (QA: « venissieux » found nothing, « Vénissieux » eight).
    for typed in ("MACON", "maçon"):
        assert "Maçon·ne" in client.get(url, {"trade": typed}).content.decode()
    from parcours.models import JobOffer

    JobOffer.objects.filter(pk=site.offer.pk).update(location="Vénissieux")
    for typed in ("venissieux", "VÉNISSIEUX", "venis"):
        body = client.get(url, {"place": typed}).content.decode()
        assert "Maçon·ne" in body and "Coffreur·se" not in body, typed
    assert "Aucune offre" in client.get(url, {"place": "!!"}).content.decode()
    body = client.get(url, {"qpv": "yes"}).content.decode()
    assert "Maçon·ne" not in body and "Aucune offre" in body
    from parcours.services import register

    register.offer_close(actor=site.facilitator, offer=site.offer)
    assert "Maçon·ne" not in client.get(url).content.decode()
    assert "Maçon·ne" in client.get(url, {"status": "all"}).content.decode()


def test_offer_list_is_scoped_to_partner_lots(site, client):
    from roles.enums import OrganisationKind
    from roles.models import Organisation

    site.fac.partners.remove(site.ml_b)
    Organisation.objects.create(name="Autre PLIE", kind=OrganisationKind.FACILITATION).partners.add(site.ml_b)
    login(client, "conseiller.b")
    assert "Maçon·ne" not in client.get(reverse("adviser:offers")).content.decode()


def test_refer_from_offer_search(site, client):
    participant = site.participant()
    pathway = participant.pathways.get()
    _more_offers(site, 1)
    from parcours.models import JobOffer

    offer = JobOffer.objects.exclude(pk=site.offer.pk).get()
    login(client, "conseillere")
    url = reverse("adviser:referral_create", args=[offer.pk])
    response = client.post(url, {"pathway": pathway.pk, "motivation": "Motivé·e"})
    assert response.status_code == 302 and response["Location"] == reverse("participant_detail", args=[participant.pk])
    referral = Referral.objects.get(offer=offer)
    assert referral.motivation == "Motivé·e" and referral.state == "sent"
    # The same offer again: a form error, nothing written.
    response = client.post(url, {"pathway": pathway.pk, "motivation": "encore"})
    assert response.status_code == 400
    assert "déjà en cours" in response.content.decode() and "encore" in response.content.decode()
    assert Referral.objects.filter(offer=offer).count() == 1


def test_refer_refusals(site, client):
    pathway = intake(site).pathways.get()
    login(client, "conseillere")
    url = reverse("adviser:referral_create", args=[site.offer.pk])
    # Eligibility not validated yet: a French message, no referral.
    response = client.post(url, {"pathway": pathway.pk})
    assert response.status_code == 400 and "éligibilité doit d&#x27;abord être validée" in response.content.decode()
    eligible = site.participant().pathways.get()
    response = client.post(url, {"pathway": eligible.pk, "motivation": "x" * 2001})
    assert response.status_code == 400 and "2000 caractères" in response.content.decode()
    assert client.post(url, {"pathway": "abc"}).status_code == 404
    assert client.post(url, {"pathway": "0"}).status_code == 404
    assert client.post(url, {}).status_code == 404
    other = site.participant(adviser=site.adviser_b).pathways.get()
    assert client.post(url, {"pathway": other.pk}).status_code == 404
    assert client.get(reverse("adviser:offers"), {"pathway": other.pk}).status_code == 404
    assert client.post(reverse("adviser:referral_create", args=[999999]), {"pathway": eligible.pk}).status_code == 404
    assert Referral.objects.count() == 2  # the two made by site.participant()
    client.logout()
    login(client, "employeur")
    assert client.post(url, {"pathway": eligible.pk}).status_code == 403


def test_refer_get_shows_confirmation(site, client):
    pathway = site.participant().pathways.get()
    login(client, "conseillere")
    response = client.get(reverse("adviser:referral_create", args=[site.offer.pk]), {"pathway": pathway.pk})
    assert response.status_code == 200 and ">Positionner</button>" in response.content.decode()


# --- follow-ups -----------------------------------------------------------------------------------------------
def test_record_follow_up(site, client):
    pathway = site.participant().pathways.get()
    login(client, "conseillere")
    url = reverse("adviser:followup_record", args=[pathway.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"kind": "phone", "done_on": site.today.isoformat(), "note": "Appel fait"})
    assert response.status_code == 302
    follow_up = FollowUp.objects.get(pathway=pathway)
    assert follow_up.kind == "phone" and follow_up.recorded_by == site.adviser.user
    body = client.get(reverse("participant_detail", args=[pathway.participant_id])).content.decode()
    assert "Appel fait" in body and "Suivi enregistré" in body


def test_complete_planned_follow_up(site, client):
    pathway = site.participant(hired=True).pathways.get()
    planned = pathway.follow_ups.filter(done_on__isnull=True).order_by("due_on").first()
    login(client, "conseillere")
    url = reverse("adviser:followup_record", args=[pathway.pk])
    body = client.get(url, {"planned": planned.pk}).content.decode()
    assert f'<option value="{planned.pk}" selected>' in body
    response = client.post(
        url, {"planned_follow_up": planned.pk, "kind": "company_visit", "done_on": site.today.isoformat()}
    )
    assert response.status_code == 302
    planned.refresh_from_db()
    assert planned.done_on == site.today and planned.kind == "company_visit"
    # Completing it again: the choice is no longer offered.
    response = client.post(url, {"planned_follow_up": planned.pk, "kind": "phone", "done_on": site.today.isoformat()})
    assert response.status_code == 400


def test_follow_up_refusals(site, client):
    pathway = site.participant().pathways.get()
    login(client, "conseillere")
    url = reverse("adviser:followup_record", args=[pathway.pk])
    future = (site.today + datetime.timedelta(days=3)).isoformat()
    response = client.post(url, {"kind": "phone", "done_on": future, "note": "note gardée"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "ne peut pas être dans le futur" in body and "note gardée" in body
    response = client.post(url, {"kind": "", "done_on": "pas une date"})
    assert response.status_code == 400 and "Ce champ est obligatoire." in response.content.decode()
    assert not FollowUp.objects.exists()
    client.logout()
    for username, status in [("conseiller.b", 404), ("employeur", 404)]:
        login(client, username)
        assert client.get(url).status_code == status, username
        client.logout()
    # The facilitator the file was shared with may record one too.
    login(client, "facilitateur")
    assert client.get(url).status_code == 200


def test_follow_up_on_closed_pathway_is_a_message(site, client):
    pathway = site.participant().pathways.get()
    pathways.pathway_withdraw(actor=site.adviser, pathway=pathway, reason="Déménagement")
    login(client, "conseillere")
    url = reverse("adviser:followup_record", args=[pathway.pk])
    response = client.post(url, {"kind": "phone", "done_on": site.today.isoformat()}, follow=True)
    assert response.status_code == 200 and "Le parcours est clos" in response.content.decode()
    assert not FollowUp.objects.exists()


def test_pages_do_not_log_list_reads_but_file_is_logged(site, client):
    participant = site.participant()
    login(client, "conseillere")
    client.get(reverse("adviser:participants"))
    assert not ParticipantAccess.objects.exists()
    client.get(reverse("participant_detail", args=[participant.pk]))
    assert ParticipantAccess.objects.filter(participant_id=participant.pk, channel="page").count() == 1


def test_every_page_naming_the_young_person_logs_the_read_a_form_sent_back_included(site, client):
    """The offers searched for a young person (« Positionnement de … »), the referral form and the file's edit form
    name the person: each read is logged, the form sent back with its errors too (its title names them)."""
    participant = site.participant()
    pathway = participant.pathways.get()
    login(client, "conseillere")

    def reads():
        return ParticipantAccess.objects.filter(participant_id=participant.pk, user__username="conseillere").count()

    pages = [
        ("get", reverse("adviser:offers") + f"?pathway={pathway.pk}", {}, 200),
        ("get", reverse("adviser:referral_create", args=[site.offer.pk]) + f"?pathway={pathway.pk}", {}, 200),
        ("post", reverse("adviser:referral_create", args=[site.offer.pk]), {"pathway": pathway.pk}, 400),
        ("get", reverse("adviser:participant_update", args=[participant.pk]), {}, 200),
        ("post", reverse("adviser:participant_update", args=[participant.pk]), {"birth_date": "31/02/2005"}, 400),
    ]
    for method, url, data, status in pages:
        before = reads()
        response = getattr(client, method)(url, data)
        assert response.status_code == status, url
        assert participant.first_name in response.content.decode(), url
        assert reads() == before + 1, url
    # The offers without a young person to refer name no one: nothing logged.
    before = ParticipantAccess.objects.count()
    assert client.get(reverse("adviser:offers")).status_code == 200
    assert ParticipantAccess.objects.count() == before

"""An anonymised file (retention) is closed for good: every write on it is refused, with one message, on the services,
the pages and the API, and nothing offers one; what anonymisation keeps is shown as kept (the birth year). The file's
own events (its edits, the right of access, retention) are the following teams', not a buyer's auditor's; an
auditor with named access identifies the person, never through another system's identifier."""

import datetime

import pytest
from django.test import Client

from parcours.models import Exit, Participant, ParticipantAccess
from parcours.services import participants, pathways
from parcours.services.data_protection import participant_anonymise, participant_record_notice
from tests.factories import call_service, db_counts, make_pathway, make_referral, reload, today
from workflows import engine
from workflows.errors import DomainError
from workflows.models import JournalEvent
from workflows.vocabulary import ExitSituation

pytestmark = pytest.mark.django_db

REFUSAL = "Ce dossier a été anonymisé (durée de conservation écoulée)"


def client_for(actor):
    client = Client()
    client.force_login(actor.user)
    return client


@pytest.fixture
def anonymised(world):
    """A young person who left with a situation at six months noted in free text, then anonymised."""
    pathway = make_pathway(world, "in_follow_up")
    pathways.pathway_exit(
        actor=world.a.adviser, pathway=pathway, exited_on=today(), situation=ExitSituation.CDD_SHORT, detail="Intérim"
    )
    row = Exit.objects.get(pathway=pathway)
    due = row.outcome_due_on
    pathways.exit_record_outcome(
        actor=world.a.adviser,
        exit=row,
        observed_on=due,
        situation=ExitSituation.CDI,
        detail="CDI chez Menuiserie Lou Marchand, Saint-Priest",
        today=due,
    )
    participant_anonymise(participant=pathway.participant)
    return reload(pathway)


def test_anonymisation_erases_the_situation_at_six_months_too(anonymised):
    row = Exit.objects.get(pathway=anonymised)
    assert row.detail == "" and row.outcome_detail == ""
    assert row.outcome_situation == ExitSituation.CDI  # a code: kept for the statistics


def test_every_service_refuses_a_write_on_an_anonymised_file_and_writes_nothing(world, anonymised):
    participant, adviser = anonymised.participant, world.a.adviser
    before = db_counts()
    attempts = [
        lambda: participants.participant_update(
            actor=adviser, participant=participant, changes={"first_name": "Lou", "last_name": "Marchand"}
        ),
        lambda: participant_record_notice(actor=adviser, participant=participant, given_on=today()),
        lambda: call_service("pathway.reopen", adviser, anonymised, reason="La personne revient"),
        lambda: pathways.exit_record_outcome(
            actor=adviser,
            exit=Exit.objects.get(pathway=anonymised),
            observed_on=today(),
            situation=ExitSituation.CDI,
            detail="De retour",
            today=today() + datetime.timedelta(days=400),
        ),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError) as refused:
            attempt()
        assert refused.value.code == "participant_anonymised" and refused.value.status == 409
        assert refused.value.message.startswith(REFUSAL)
    assert db_counts() == before
    assert reload(participant).first_name == "Anonyme"


def test_an_open_file_is_still_reopened_and_edited(world):
    """The guard refuses the anonymised file only: the same writes on a file kept go through."""
    pathway = make_pathway(world, "in_follow_up")
    call_service("pathway.withdraw", world.a.adviser, pathway, reason="Déménagement")
    call_service("pathway.reopen", world.a.adviser, reload(pathway), reason="De retour")
    participants.participant_update(actor=world.a.adviser, participant=pathway.participant, changes={"phone": ""})
    assert reload(pathway).state in ("eligible", "intake")


def test_nothing_offers_a_write_on_an_anonymised_file(world, anonymised):
    participant, adviser = anonymised.participant, world.a.adviser
    assert "reopen" not in {spec.name for spec in engine.available_transitions(anonymised, adviser)}
    rows = engine.available_for_rows([Participant.objects.get(pk=participant.pk).pathways.get()], adviser)
    assert rows[anonymised.pk] == []
    page = client_for(adviser).get(f"/participants/{participant.pk}/")
    body = page.content.decode()
    assert page.status_code == 200 and REFUSAL not in body
    assert "Dossier anonymisé le" in body and "Année de naissance" in body and "Date de naissance" not in body
    assert "Modifier le dossier" not in body and "Rouvrir le parcours" not in body
    assert "/notice/" not in body  # no « notice remise » to record
    # The edit page, opened by its address: back to the file, which says why.
    edit = client_for(adviser).get(f"/conseil/jeunes/{participant.pk}/modifier/", follow=True)
    assert edit.redirect_chain[-1][0] == f"/participants/{participant.pk}/"
    assert REFUSAL in edit.content.decode()


def test_the_api_refuses_the_edit_with_a_problem_and_says_what_is_kept(world, anonymised):
    participant = anonymised.participant
    client = client_for(world.a.adviser)
    before = db_counts()
    response = client.patch(
        f"/api/v1/participants/{participant.pk}/",
        {"first_name": "Lou", "last_name": "Marchand", "email": "lou.marchand@example.org"},
        content_type="application/json",
    )
    assert response.status_code == 409 and response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "participant_anonymised" and response.json()["detail"].startswith(REFUSAL)
    assert db_counts() == before
    data = client.get(f"/api/v1/participants/{participant.pk}/").json()
    assert data["birth_date"] is None and data["birth_year"] == participant.birth_date.year
    assert data["anonymised_at"] is not None and data["first_name"] == "Anonyme"
    kept = client.get(f"/api/v1/participants/{make_pathway(world, 'intake').participant_id}/").json()
    assert kept["birth_date"] and kept["anonymised_at"] is None


def test_the_edit_page_and_the_list_of_readers_log_their_read(world):
    participant = make_pathway(world, "intake").participant
    reads = ParticipantAccess.objects.filter(participant=participant, user=world.a.adviser.user)
    client = client_for(world.a.adviser)
    assert client.get(f"/conseil/jeunes/{participant.pk}/modifier/").status_code == 200
    assert reads.count() == 1
    assert client.get(f"/donnees-personnelles/participants/{participant.pk}/consultations/").status_code == 200
    assert reads.count() == 2
    # Refused: no read, no row.
    assert client_for(world.b.adviser).get(f"/conseil/jeunes/{participant.pk}/modifier/").status_code == 404
    assert ParticipantAccess.objects.filter(participant=participant).count() == 2


def test_a_buyer_s_auditor_does_not_read_the_file_s_own_events(world):
    referral = make_referral(world, "approved")
    participant = referral.pathway.participant
    adviser = client_for(world.a.adviser)
    assert adviser.get(f"/donnees-personnelles/participants/{participant.pk}/droit-d-acces.json").status_code == 200
    participants.participant_update(actor=world.a.adviser, participant=participant, changes={"phone": "0612345678"})
    own = set(
        JournalEvent.objects.filter(object_type="participant", object_id=participant.pk).values_list("pk", flat=True)
    )
    assert len(own) >= 3  # intake, the right of access, the edit

    def shown(actor):
        client = client_for(actor)
        timeline = client.get(f"/participants/{participant.pk}/").context["timeline"]
        history = client.get(f"/api/v1/participants/{participant.pk}/history/").json()["results"]
        return {event.pk for event in timeline}, {event["id"] for event in history}

    for actor in (world.a.adviser, world.a.facilitator):
        page, api = shown(actor)
        assert own <= page and own <= api
    auditor = world.a.auditor
    page, api = shown(auditor)
    assert not own & page and not own & api
    assert JournalEvent.objects.filter(object_type="referral", object_id=referral.pk).first().pk in page
    exported = client_for(auditor).get(f"/audit/parcours/{participant.pk}/export.csv").content.decode("utf-8-sig")
    assert "Export des données" not in exported and "Modification du dossier" not in exported


def test_an_auditor_with_named_access_never_gets_the_imilo_identifier(world):
    participant = make_referral(world, "approved").pathway.participant
    Participant.objects.filter(pk=participant.pk).update(imilo_reference="69B2600014")
    membership = world.a.auditor.user.memberships.get()
    membership.named_access = True
    membership.save()
    client = client_for(world.a.auditor)
    data = client.get(f"/api/v1/participants/{participant.pk}/").json()
    assert data["first_name"] == participant.first_name and data["imilo_reference"] is None
    page = client.get(f"/participants/{participant.pk}/").content.decode()
    assert participant.first_name in page and "69B2600014" not in page
    assert client_for(world.a.adviser).get(f"/api/v1/participants/{participant.pk}/").json()["imilo_reference"] == (
        "69B2600014"
    )


def test_the_access_log_export_refuses_a_channel_it_does_not_know(world):
    participant = make_referral(world, "approved").pathway.participant
    client_for(world.a.facilitator).get(f"/participants/{participant.pk}/")
    dpo = client_for(world.a.dpo)
    exported = dpo.get("/donnees-personnelles/consultations/export.csv", {"channel": "zzz"})
    assert exported.status_code == 400 and "Canal" in exported.content.decode()
    assert participant.pseudonym not in exported.content.decode()
    # The page, which shows its form, still lists (an old link's channel is ignored there).
    assert dpo.get("/donnees-personnelles/consultations/", {"channel": "zzz"}).status_code == 200
    assert dpo.get("/donnees-personnelles/consultations/export.csv", {"channel": "api"}).status_code == 200


def _two_retention_passes(now):
    from parcours.services.data_protection import apply_retention

    announced = apply_retention(wet=True, now=now)
    return announced, apply_retention(wet=True, now=now + datetime.timedelta(days=31))


@pytest.mark.parametrize("what", ["running contract", "open referral", "hours to decide"])
def test_retention_keeps_a_file_where_something_still_waits(world, what):
    """A pathway left (withdrawn, exited) can leave a contract running, a referral open, hours undecided: their end,
    decision and reasons are still to be written — on a file retention must not have emptied."""
    from django.utils import timezone

    from tests.factories import make_hours_line, make_offer, make_placement

    if what == "running contract":
        pathway = reload(make_placement(world, "active").pathway)
        call_service("pathway.withdraw", world.a.adviser, pathway, reason="Déménagement")
    elif what == "open referral":
        pathway = make_pathway(world, "in_follow_up")
        referral = make_referral(world, "sent", pathway=pathway, offer=make_offer(world.a))
        pathways.pathway_exit(
            actor=world.a.adviser, pathway=reload(pathway), exited_on=today(), situation=ExitSituation.CDI
        )
        # An exit now cancels it; one recorded before that (an older release) left it open on the exited pathway.
        assert reload(referral).state == "cancelled"
        type(referral).objects.filter(pk=referral.pk).update(state="sent", decision_reason="")
    else:
        line = make_hours_line(world, "declared")
        pathway = reload(line.placement.pathway)
        call_service("placement.end", world.a.employer_actor, reload(line.placement), end_date=today())
        call_service("pathway.withdraw", world.a.adviser, reload(pathway), reason="Déménagement")
    later = timezone.now() + datetime.timedelta(days=800)
    announced, anonymised = _two_retention_passes(later)
    assert pathway.participant_id not in announced.notified and pathway.participant_id not in anonymised.anonymised
    assert reload(pathway.participant).anonymised_at is None
    # Announced before (an older release), it is kept and its notice withdrawn.
    Participant.objects.filter(pk=pathway.participant_id).update(retention_notice_at=later)
    kept, _ = _two_retention_passes(later + datetime.timedelta(days=1))
    assert pathway.participant_id in kept.cancelled and reload(pathway.participant).retention_notice_at is None


def test_anonymisation_erases_nothing_where_something_waits_again(world):
    """Asked directly (a pass that read the file before a reopening), it re-checks under the pathways' locks."""
    pathway = make_pathway(world, "eligible")
    assert participant_anonymise(participant=pathway.participant).anonymised_at is None
    assert reload(pathway.participant).first_name != "Anonyme"


def test_a_named_auditor_never_finds_a_file_by_its_imilo_identifier(world):
    participant = make_referral(world, "approved").pathway.participant
    row = Participant.objects.get(pk=participant.pk)
    row.imilo_reference = "69B2600014"
    row.save()
    membership = world.a.auditor.user.memberships.get()
    membership.named_access = True
    membership.save()
    client = client_for(world.a.auditor)

    def found(query):
        page = client.get("/audit/parcours/", {"q": query}).context["page"]
        return participant.pk in {pathway.participant_id for pathway in page}

    assert found(participant.last_name) and found(f"{participant.first_name} {participant.last_name}")
    assert not found("69B2600014") and not found("69b26")
    assert participant.pk in {  # the adviser still looks files up by it
        p.pk for p in client_for(world.a.adviser).get("/conseil/jeunes/", {"q": "69B2600014"}).context["page"]
    }


def test_no_form_is_shown_for_a_write_every_submission_of_which_would_be_refused(world, anonymised):
    client = client_for(world.a.adviser)
    file_url = f"/participants/{anonymised.participant_id}/"
    outcome = Exit.objects.get(pathway=anonymised)
    for url in (f"/conseil/sorties/{outcome.pk}/situation-a-6-mois/", f"/actions/pathway/{anonymised.pk}/reopen/"):
        response = client.get(url, follow=True)
        assert response.redirect_chain and response.redirect_chain[-1][0] == file_url, url
        assert REFUSAL in response.content.decode(), url
    # A transition whose state moved on: said, no form (a stale link).
    referral = make_referral(world, "approved")
    response = client_for(world.a.facilitator).get(f"/actions/referral/{referral.pk}/start_review/", follow=True)
    assert response.redirect_chain and response.redirect_chain[-1][0] == f"/positionnements/{referral.pk}/"
    assert "Action « Prendre en examen » impossible" in response.content.decode()


def test_an_anonymised_file_shows_its_birth_year_in_lists_and_in_its_copy(world, anonymised):
    participant = reload(anonymised.participant)
    client = client_for(world.a.adviser)
    rows = client.get("/conseil/jeunes/", {"q": participant.last_name}).content.decode()
    assert f"01/01/{participant.birth_date.year}" not in rows and str(participant.birth_date.year) in rows
    copy = client.get(f"/donnees-personnelles/participants/{participant.pk}/droit-d-acces.json").json()
    assert copy["identite"]["date_de_naissance"] == str(participant.birth_date.year)


def test_the_possible_duplicates_a_form_lists_are_logged_reads(world):
    existing = make_pathway(world, "intake").participant
    client = client_for(world.a.adviser)
    form = {
        "first_name": existing.first_name,
        "last_name": existing.last_name,
        "birth_date": existing.birth_date.isoformat(),
        "postcode": "69100",
        "commune": "Villeurbanne",
        "qualification_level": existing.qualification_level,
        "programme": existing.programme,
    }
    reads = ParticipantAccess.objects.filter(participant=existing, user=world.a.adviser.user)
    assert not reads.exists()
    response = client.post("/conseil/jeunes/inscrire/", form)
    assert response.status_code == 400 and existing.last_name.upper() in response.content.decode()
    assert reads.count() == 1

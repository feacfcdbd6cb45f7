"""Data-subject rights: the subject-access export (JSON, PDF), who consulted a file, the information notice, the
data-protection officer's access log, and retention (announce, anonymise, purge) — with the journal still
verifying afterwards."""

import csv
import datetime
import html
import io
import json
import zoneinfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from parcours.api.views import SUBJECT_ACCESS_SCHEMA
from parcours.audit import verify_journal
from parcours.models import (
    AssessedCriterion,
    EligibilityAssessment,
    Exit,
    FollowUp,
    HoursLine,
    Participant,
    ParticipantAccess,
    Pathway,
    Placement,
    Referral,
    exit_category_of,
)
from parcours.services.data_protection import apply_retention, participant_record_notice
from tests.factories import db_counts, make_hours_line, make_pathway, make_referral, record_follow_up, reload, today
from workflows.errors import DomainError
from workflows.models import JournalEvent
from workflows.vocabulary import AccessChannel, ExitSituation, Sex

pytestmark = pytest.mark.django_db

# The export's sections are the ones the API's schema documents (its 200 body: parcours.api.views).
SECTIONS = set(SUBJECT_ACCESS_SCHEMA["required"])


def client_for(actor):
    client = Client()
    client.force_login(actor.user)
    return client


# --- Subject access ------------------------------------------------------------------------------------------------
def test_subject_access_export_holds_every_section_and_is_logged_and_journaled(world):
    referral = make_referral(world, "hired")
    participant = referral.pathway.participant
    record_follow_up(world, referral.pathway, note="Bonne intégration")
    client_for(world.a.facilitator).get(f"/participants/{participant.pk}/")  # a read to be listed
    response = client_for(world.a.adviser).get(
        f"/donnees-personnelles/participants/{participant.pk}/droit-d-acces.json"
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    data = json.loads(response.content)
    assert set(data) == SECTIONS
    assert data["identite"]["nom"] == participant.last_name
    assert data["positionnements"][0]["numero"] == referral.pk
    assert data["mises_en_poste"] and any(f["note"] == "Bonne intégration" for f in data["suivis"])
    assert any(e["action"] == "Confirmer l'embauche" for e in data["historique"])
    assert any(c["role"] == "Facilitateur·rice" for c in data["consultations"])
    export = ParticipantAccess.objects.filter(participant=participant, purpose="subject_access").get()
    assert export.channel == AccessChannel.EXPORT
    assert JournalEvent.objects.filter(
        object_type="participant", object_id=participant.pk, action="subject_access_export"
    ).exists()


def test_subject_access_pdf_renders_every_section(world):
    from pypdf import PdfReader

    referral = make_referral(world, "hired")
    participant = referral.pathway.participant
    response = client_for(world.a.adviser).get(
        f"/donnees-personnelles/participants/{participant.pk}/droit-d-acces.pdf"
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) >= 1
    text = " ".join(page.extract_text() for page in reader.pages)
    for heading in [
        "Vos données dans Parcours",
        "Identité et situation",
        "Éligibilité",
        "Positionnements",
        "Mises en poste",
        "Suivis",
        "Historique des actions",
        "Qui a consulté ce dossier",
    ]:
        assert heading in text, heading
    assert participant.last_name in text


@pytest.fixture
def full_file(world):
    """A file holding a row of every model the subject-access document walks: eligibility with its criteria, a
    pathway, a referral, a placement with declared hours, a follow-up, an exit with its six-month situation, the sex
    and an announced anonymisation."""
    line = make_hours_line(world, "declared")
    pathway = line.placement.pathway
    participant = pathway.participant
    record_follow_up(world, pathway, note="Bonne intégration")
    Exit.objects.create(
        pathway=pathway,
        exited_on=today(),
        situation=ExitSituation.QUALIFYING_TRAINING,
        category=exit_category_of(ExitSituation.QUALIFYING_TRAINING),
        detail="",
        recorded_by=world.a.adviser.user,
        outcome_observed_on=today(),
        outcome_situation=ExitSituation.CDI,
        outcome_category=exit_category_of(ExitSituation.CDI),
        outcome_detail="Cuisinier en CDI",
        outcome_recorded_by=world.a.adviser.user,
    )
    Participant.objects.filter(pk=participant.pk).update(sex=Sex.FEMALE, retention_notice_at=timezone.now())
    return reload(participant)


def test_subject_access_exports_every_field_the_file_holds(world, full_file):
    """Each concrete field of the models holding the person's data is exported, or listed as technical with its
    reason: a field added later fails here until it is exported or listed."""
    from parcours.selectors.data_protection import (
        SUBJECT_ACCESS_FIELDS,
        SUBJECT_ACCESS_TECHNICAL_FIELDS,
        subject_access_data,
    )

    data = subject_access_data(full_file)
    sections = {
        Participant: [data["identite"]],
        EligibilityAssessment: data["eligibilite"],
        AssessedCriterion: [c for a in data["eligibilite"] for c in a["criteres"]],
        Pathway: data["parcours"],
        Referral: data["positionnements"],
        Placement: data["mises_en_poste"],
        HoursLine: data["heures"],
        FollowUp: data["suivis"],
        Exit: data["sorties"],
    }
    assert set(SUBJECT_ACCESS_FIELDS) == set(sections)
    for model, rows in sections.items():
        fields = {field.name for field in model._meta.concrete_fields}
        technical = set(SUBJECT_ACCESS_TECHNICAL_FIELDS.get(model, {}))
        exported = set(SUBJECT_ACCESS_FIELDS[model])
        assert not technical & exported, model
        assert fields - technical == exported, f"{model.__name__}: export or list {fields - technical - exported}"
        assert technical <= fields, f"{model.__name__}: no such field {technical - fields}"
        keys = {key for key, _ in SUBJECT_ACCESS_FIELDS[model].values()}
        assert rows, model
        for row in rows:
            assert keys <= set(row), (model, keys - set(row))
    identity = data["identite"]
    assert identity["sexe"] == "Femme"
    assert identity["anonymisation_annoncee_le"] == timezone.localdate().isoformat()
    [exit] = data["sorties"]
    assert exit["situation"] == "Formation qualifiante" and exit["categorie"] == "Sortie positive"
    assert exit["precision"] == "" and exit["situation_a_6_mois_constatee_le"] == today().isoformat()
    assert exit["situation_a_6_mois"] == "Emploi — CDI" and exit["precision_a_6_mois"] == "Cuisinier en CDI"
    assert exit["situation_a_6_mois_enregistree_par"]


def test_subject_access_names_objects_as_the_auditors_export_does(world, full_file):
    from parcours.selectors.data_protection import subject_access_data
    from parcours.selectors.journal import OBJECT_LABELS

    data = subject_access_data(full_file)
    labels = {str(label) for label in OBJECT_LABELS.values()}
    objects = {e["objet"].rpartition(" #")[0] for e in data["historique"]}
    assert objects and objects <= labels, objects - labels
    assert {"Dossier", "Parcours", "Relevé d'heures"} <= objects


def test_subject_access_pdf_prints_every_exported_value(world, full_file):
    from pypdf import PdfReader

    response = client_for(world.a.adviser).get(f"/donnees-personnelles/participants/{full_file.pk}/droit-d-acces.pdf")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    flat = " ".join(text.split())
    for value in ("Femme", "Formation qualifiante", "Emploi — CDI", "Cuisinier en CDI", "Anonymisation annoncée le"):
        assert value in flat, value
    assert "Dossier #" in flat and "pathway #" not in flat and "hoursline #" not in flat
    # A state change is drawn with characters the font has (it was "Accueil ? Éligibilité à valider").
    assert "Accueil -> " in flat
    assert "?" not in flat


def test_pdf_text_never_turns_what_the_app_writes_into_question_marks():
    """The embedded font lacks arrows, check marks, thin spaces…: each becomes a character it has, never "?"."""
    from django.apps import apps

    from parcours.documents import pdf
    from parcours.documents.subject_access import LABELS
    from parcours.selectors.journal import ACTION_LABELS, OBJECT_LABELS

    for text, expected in (
        ("Accueil → Éligibilité à valider", "Accueil -> Éligibilité à valider"),
        ("≥ 26 ans · 1 000 h…", "≥ 26 ans · 1 000 h…"),
        ("✓ validé ✗", "√ validé ×"),
        ("12\u202f%\u2009— CET", "12\u00a0% — CET"),
        ("Jean\u2011Pierre", "Jean-Pierre"),
        ("１２ h", "12 h"),
        ("Nguyễn Ǭ", "Nguyên O"),
    ):
        assert pdf.clean(text) == expected, text
    written = [*LABELS.values(), *OBJECT_LABELS.values(), *ACTION_LABELS.values()]
    for model in apps.get_models():
        for field in model._meta.get_fields():
            for _, label in getattr(field, "flatchoices", None) or ():
                written.append(label)
    for text in map(str, written):
        assert "?" not in pdf.clean(text) or "?" in text, text


@pytest.mark.parametrize("who", ["b.adviser", "a.facilitator", "a.employer_actor", "a.auditor", "a.dpo"])
def test_subject_access_is_only_for_the_following_mission_locale(world, who):
    participant = make_referral(world, "hired").pathway.participant
    side, role = who.split(".")
    client = client_for(getattr(world.side(side), role))
    before = {k: v for k, v in db_counts().items() if k != "sessions.Session"}
    for fmt in ("json", "pdf"):
        response = client.get(f"/donnees-personnelles/participants/{participant.pk}/droit-d-acces.{fmt}")
        assert response.status_code == 404
    api = client.get(f"/api/v1/participants/{participant.pk}/subject-access/")
    assert api.status_code in (403, 404)
    assert {k: v for k, v in db_counts().items() if k != "sessions.Session"} == before


def test_subject_access_through_the_api(world):
    participant = make_pathway(world, "eligible").participant
    response = client_for(world.a.adviser).get(f"/api/v1/participants/{participant.pk}/subject-access/")
    assert response.status_code == 200 and set(response.json()) == SECTIONS


# --- Who consulted this file --------------------------------------------------------------------------------------
def test_the_mission_locale_sees_who_consulted_the_file(world):
    participant = make_referral(world, "approved").pathway.participant
    client_for(world.a.facilitator).get(f"/participants/{participant.pk}/")
    client_for(world.a.auditor).get(f"/participants/{participant.pk}/")
    page = client_for(world.a.adviser).get(f"/participants/{participant.pk}/")
    body = page.content.decode()
    assert "Qui a consulté ce dossier" in body
    assert "Facilitateur·rice" in body and "Auditeur·rice" in body
    full = client_for(world.a.adviser).get(f"/donnees-personnelles/participants/{participant.pk}/consultations/")
    assert full.status_code == 200
    assert len(full.context["page"].object_list) == ParticipantAccess.objects.filter(participant=participant).count()
    for actor in (world.a.facilitator, world.a.auditor, world.b.adviser, world.a.employer_actor):
        url = f"/donnees-personnelles/participants/{participant.pk}/consultations/"
        assert client_for(actor).get(url).status_code == 404
        assert (
            "Qui a consulté ce dossier"
            not in client_for(actor).get(f"/participants/{participant.pk}/").content.decode()
        )


def test_the_data_protection_officer_reads_the_access_log_of_the_organisation(world):
    participant = make_referral(world, "approved").pathway.participant
    other = make_pathway(world, "intake", side="b").participant
    client_for(world.a.facilitator).get(f"/participants/{participant.pk}/")
    client_for(world.b.adviser).get(f"/participants/{other.pk}/")
    dpo = client_for(world.a.dpo)
    page = dpo.get("/donnees-personnelles/consultations/")
    assert page.status_code == 200
    rows = list(page.context["page"].object_list)
    assert rows and {r.participant_id for r in rows} == {participant.pk}
    assert participant.pseudonym in page.content.decode() and participant.last_name not in page.content.decode()
    assert dpo.get("/donnees-personnelles/consultations/", {"q": participant.pseudonym}).context[
        "page"
    ].paginator.count == len(rows)
    csv_body = dpo.get("/donnees-personnelles/consultations/export.csv").content.decode("utf-8-sig")
    assert participant.pseudonym in csv_body and "Facilitateur·rice" in csv_body
    home = dpo.get("/")
    assert home.status_code == 200 and participant.pseudonym in home.content.decode()
    assert client_for(world.a.adviser).get("/donnees-personnelles/consultations/").status_code == 403


def test_the_data_protection_officer_reads_the_access_log_through_the_api_too(world):
    """The page's rows, filters and refusals, as JSON (it was the one DPO page without an API)."""
    from rest_framework.test import APIClient

    participant = make_referral(world, "approved").pathway.participant
    other = make_pathway(world, "intake", side="b").participant
    client_for(world.a.facilitator).get(f"/participants/{participant.pk}/")
    client_for(world.b.adviser).get(f"/participants/{other.pk}/")

    def api(actor):
        client = APIClient()
        client.force_authenticate(actor.user)
        return client

    dpo = api(world.a.dpo)
    response = dpo.get("/api/v1/access-log/")
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert rows and {row["participant"] for row in rows} == {participant.pseudonym}
    assert participant.last_name not in response.content.decode()
    row = next(r for r in rows if r["user"] == world.a.facilitator.user.username)
    assert row["user_name"] == world.a.facilitator.user.get_full_name() and row["channel"] == "page"
    assert dpo.get("/api/v1/access-log/", {"q": participant.pseudonym}).json()["results"] == rows
    assert dpo.get("/api/v1/access-log/", {"channel": "api"}).json()["results"] == []
    assert dpo.get("/api/v1/access-log/", {"channel": ""}).json()["results"] == rows  # every channel, as the page

    # Its statements do not grow with the rows. Pinned: the actor's membership, the page's ids, its rows (PostgreSQL:
    # and the count that pages a short list among its own rows, parcours.api.pagination._among_few).
    def statements():
        with CaptureQueriesContext(connection) as queries:
            assert dpo.get("/api/v1/access-log/").status_code == 200
        return len(queries)

    few = statements()
    for _ in range(5):
        client_for(world.a.facilitator).get(f"/participants/{participant.pk}/")
    assert few == (4 if connection.vendor == "postgresql" else 3)
    assert statements() == few
    for bad in ({"since": "abc"}, {"since": "2026-12-31", "until": "2026-01-01"}, {"channel": "pigeon"}, {"q": "!!"}):
        refused = dpo.get("/api/v1/access-log/", bad)
        assert refused.status_code == 400 and refused["Content-Type"] == "application/problem+json", bad
    assert api(world.a.adviser).get("/api/v1/access-log/").status_code == 403


ACCESS_LOG = "/donnees-personnelles/consultations/"


def test_the_access_log_is_searched_by_the_reader_name_the_table_shows(world):
    """Searching "Hélène Perret", "Hélène" or "helene" found nothing (only the last name was searched, in one
    piece): each word is looked for in the name as the table writes it, first and last, accents and case
    ignored."""
    participant = make_referral(world, "approved").pathway.participant
    reader = world.a.facilitator.user
    reader.first_name, reader.last_name = "Hélène", "Perret"
    reader.save(update_fields=["first_name", "last_name"])
    client_for(world.a.facilitator).get(f"/participants/{participant.pk}/")
    client_for(world.a.adviser).get(f"/participants/{participant.pk}/")
    dpo = client_for(world.a.dpo)
    theirs = ParticipantAccess.objects.filter(user=reader).count()
    assert theirs and ParticipantAccess.objects.exclude(user=reader).exists()
    assert "Hélène Perret" in dpo.get(ACCESS_LOG).content.decode()  # as the table writes it
    for query in ("Hélène Perret", "Hélène", "helene", "PERRET", "perret hélène", "Hél"):
        assert dpo.get(ACCESS_LOG, {"q": query}).context["page"].paginator.count == theirs, query
    for query in ("Hélène Martin", "Pascale"):
        assert dpo.get(ACCESS_LOG, {"q": query}).context["page"].paginator.count == 0, query


@pytest.mark.parametrize(
    ("filters", "field", "message"),
    [
        ({"since": "abc", "until": "xyz"}, "since", "Date invalide (format attendu : jj/mm/aaaa)."),
        ({"since": "2026-01-01", "until": "xyz"}, "until", "Date invalide (format attendu : jj/mm/aaaa)."),
        ({"since": "2026-12-31", "until": "2026-01-01"}, "since", "La date de début suit la date de fin."),
        ({"q": "x" * 101}, "q", "Recherche : 100 caractères au plus."),
        ({"q": "'"}, "q", "Saisissez au moins une lettre ou un chiffre."),
    ],
)
def test_access_log_filters_that_cannot_be_applied_are_errors_never_everything(world, filters, field, message):
    """Unreadable dates were ignored (every row listed and exported), dates in the wrong order gave 0 rows with no
    word: the page says why on the field, keeps the input and lists nothing; the export answers 400 with the
    reason rather than exporting every row."""
    participant = make_referral(world, "approved").pathway.participant
    client_for(world.a.facilitator).get(f"/participants/{participant.pk}/")
    dpo = client_for(world.a.dpo)
    assert dpo.get(ACCESS_LOG).context["page"].paginator.count
    response = dpo.get(ACCESS_LOG, filters)
    assert response.status_code == 200 and response.context["page"].paginator.count == 0
    body = html.unescape(response.content.decode())
    assert f'id="id_{field}_error">{message}</div>' in body and 'aria-invalid="true"' in body
    for value in filters.values():
        assert f'value="{value}"' in body
    assert "consultations/export.csv" not in body  # no link to an export that would be refused
    exported = dpo.get(f"{ACCESS_LOG}export.csv", filters)
    assert exported.status_code == 400 and exported["Content-Type"].startswith("text/plain")
    assert message in exported.content.decode() and participant.pseudonym not in exported.content.decode()
    # Valid dates in order still filter.
    today_text = timezone.localdate().isoformat()
    assert dpo.get(ACCESS_LOG, {"since": today_text, "until": today_text}).context["page"].paginator.count
    assert dpo.get(f"{ACCESS_LOG}export.csv", {"since": today_text}).status_code == 200


def test_a_channel_the_list_does_not_offer_is_ignored_without_an_error_title_nor_a_refused_export(world):
    """`?channel=zzz` (an edited link) listed every row under « Erreur : » in the title, and its export link
    answered 400: the page lists as without it, says no error, and its export link leaves it out."""
    participant = make_referral(world, "approved").pathway.participant
    client_for(world.a.facilitator).get(f"/participants/{participant.pk}/")
    dpo = client_for(world.a.dpo)
    every = dpo.get(ACCESS_LOG).context["page"].paginator.count
    response = dpo.get(ACCESS_LOG, {"channel": "zzz", "since": "2020-01-01"})
    body = html.unescape(response.content.decode())
    assert response.status_code == 200 and response.context["page"].paginator.count == every
    assert "<title>Erreur" not in body and 'aria-invalid="true"' not in body
    assert 'consultations/export.csv?since=2020-01-01"' in body
    assert dpo.get(f"{ACCESS_LOG}export.csv", {"since": "2020-01-01"}).status_code == 200


def test_the_access_log_export_writes_paris_time_with_its_zone(world):
    participant = make_referral(world, "approved").pathway.participant
    client_for(world.a.facilitator).get(f"/participants/{participant.pk}/")
    exported = client_for(world.a.dpo).get(f"{ACCESS_LOG}export.csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(exported), delimiter=";"))
    assert rows[0][0] == "Date (heure de Paris)" and len(rows) > 1
    access = ParticipantAccess.objects.order_by("-accessed_at", "-pk").first()
    local = timezone.localtime(access.accessed_at)
    assert rows[1][0] == f"{local:%d/%m/%Y %H:%M:%S} {local:%Z}" and rows[1][0].endswith((" CET", " CEST"))


# --- Information notice ---------------------------------------------------------------------------------------
def test_the_adviser_prints_the_notice_and_records_when_it_was_given(world):
    participant = make_pathway(world, "intake").participant
    client = client_for(world.a.adviser)
    url = f"/donnees-personnelles/participants/{participant.pk}/notice/"
    page = client.get(url)
    assert page.status_code == 200 and "Vos droits" in page.content.decode()
    refused = client.post(url, {"given_on": (today() + datetime.timedelta(days=2)).isoformat()})
    assert refused.status_code == 400 and "futur" in refused.content.decode()
    assert reload(participant).notice_given_on is None
    assert client.post(url, {"given_on": "n'importe"}).status_code == 400
    assert client.post(url, {"given_on": today().isoformat()}).status_code == 302
    assert reload(participant).notice_given_on == today()
    event = JournalEvent.objects.get(object_type="participant", object_id=participant.pk, action="notice_given")
    assert event.inputs == {"given_on": today().isoformat()}
    for actor in (world.b.adviser, world.a.facilitator, world.a.auditor):
        assert client_for(actor).get(url).status_code == 404


def test_record_notice_service_refuses_bad_dates_and_other_roles(world):
    participant = make_pathway(world, "intake").participant
    with pytest.raises(DomainError) as refused:
        participant_record_notice(actor=world.a.adviser, participant=participant, given_on=datetime.date(1900, 1, 1))
    assert refused.value.code == "invalid_input"
    with pytest.raises(DomainError) as refused:
        participant_record_notice(actor=world.b.adviser, participant=participant, given_on=today())
    assert refused.value.code == "not_found"


def test_the_notices_window_counts_from_the_registration_day_in_paris(world):
    """A file opened at 00:20 in Paris is registered on that Paris day (the UTC date is the day before): the 31 days
    count from it, not from the UTC date (32 days were accepted between midnight and 01:00 or 02:00)."""
    participant = make_pathway(world, "intake").participant
    paris = datetime.datetime(2026, 12, 8, 0, 20, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    Participant.objects.filter(pk=participant.pk).update(created_at=paris)
    with pytest.raises(DomainError) as refused:
        participant_record_notice(actor=world.a.adviser, participant=participant, given_on=datetime.date(2026, 11, 6))
    assert refused.value.field == "given_on"
    assert (
        "au plus tôt 31 jours avant l'inscription (le 08/12/2026) : pas avant le 07/11/2026" in refused.value.message
    )
    assert reload(participant).notice_given_on is None
    participant_record_notice(actor=world.a.adviser, participant=participant, given_on=datetime.date(2026, 11, 7))
    assert reload(participant).notice_given_on == datetime.date(2026, 11, 7)


# --- Retention --------------------------------------------------------------------------------------------------
def _age_everything(days):
    """Move the whole history `days` into the past (the journal is append-only: its dates are read through the
    retention clock instead)."""
    return timezone.now() + datetime.timedelta(days=days)


@pytest.fixture
def inactive_and_active(world):
    inactive = make_pathway(world, "exited")
    inactive_participant = inactive.participant
    make_referral(world, "declined", pathway=make_pathway(world, "eligible"))  # kept: its pathway is open
    return inactive_participant


def test_dry_run_changes_nothing(world, inactive_and_active):
    before = db_counts()
    events = JournalEvent.objects.count()
    report = apply_retention(wet=False, now=_age_everything(800))
    assert report.notified == [inactive_and_active.pk]
    assert db_counts() == before and JournalEvent.objects.count() == events
    out = io.StringIO()
    call_command("apply_retention", stdout=out)
    assert "simulation" in out.getvalue()


def test_wet_run_announces_then_anonymises_exactly_the_inactive_files(world, inactive_and_active):
    participant = inactive_and_active
    pathway = participant.pathways.get()
    record_follow_up(world, make_pathway(world, "placed"), note="Note à garder")
    referral = make_referral(world, "declined", pathway=make_pathway(world, "eligible"))
    kept = Participant.objects.exclude(pk=participant.pk).count()
    later = _age_everything(800)
    report = apply_retention(wet=True, now=later)
    assert report.notified == [participant.pk] and not report.anonymised
    assert reload(participant).retention_notice_at == later
    assert JournalEvent.objects.filter(object_type="participant", object_id=participant.pk, action="retention_notice")
    # Too early: nothing more.
    assert not apply_retention(wet=True, now=later + datetime.timedelta(days=5)).anonymised
    # After the notice period: anonymised.
    report = apply_retention(wet=True, now=later + datetime.timedelta(days=31))
    assert report.anonymised == [participant.pk]
    anonymous = reload(participant)
    assert anonymous.anonymised_at is not None
    assert anonymous.first_name == "Anonyme" and anonymous.last_name == participant.pseudonym
    assert anonymous.email == anonymous.phone == anonymous.commune == anonymous.imilo_reference == ""
    assert anonymous.birth_date == participant.birth_date.replace(month=1, day=1)
    assert anonymous.postcode == participant.postcode[:2] + "000"
    assert anonymous.pathways.get().state == pathway.state  # pseudonymous statistics kept
    assert Participant.objects.exclude(pk=participant.pk).filter(anonymised_at__isnull=True).count() == kept
    assert reload(referral).decision_reason != "[effacé]"
    assert FollowUp.objects.filter(note="Note à garder").exists()
    result = verify_journal()
    assert result.ok, result.problems
    # A second run does nothing more.
    assert not apply_retention(wet=True, now=later + datetime.timedelta(days=60)).anonymised


def test_anonymisation_erases_free_texts_and_the_journal_still_verifies(world):
    referral = make_referral(world, "refused")
    pathway = referral.pathway
    from tests.factories import call_service

    call_service("pathway.withdraw", world.a.adviser, pathway, reason="Déménagement à Marseille")
    participant = pathway.participant
    from parcours.services.data_protection import participant_anonymise

    participant_anonymise(participant=participant)
    assert reload(referral).decision_reason == "[effacé]"
    reasons = [e.reason for e in JournalEvent.objects.filter(participant_id=participant.pk)]
    assert "Déménagement à Marseille" not in reasons and not any(reasons)
    assert JournalEvent.objects.filter(participant_id=participant.pk, action="withdraw").get().reason_erased
    result = verify_journal()
    assert result.ok, result.problems
    assert Referral.objects.filter(pk=referral.pk).exists()


def test_activity_after_the_notice_keeps_the_file(world, inactive_and_active):
    participant = inactive_and_active
    later = _age_everything(800)
    apply_retention(wet=True, now=later)
    # Someone acts on the file after the notice (here: the adviser records the notice given again).
    from unittest import mock

    with mock.patch("django.utils.timezone.now", return_value=later + datetime.timedelta(days=3)):
        participant_record_notice(actor=world.a.adviser, participant=participant, given_on=today())
    report = apply_retention(wet=True, now=later + datetime.timedelta(days=40))
    assert report.cancelled == [participant.pk] and not report.anonymised
    assert reload(participant).retention_notice_at is None and reload(participant).anonymised_at is None


def test_old_access_log_rows_are_purged(world):
    participant = make_pathway(world, "eligibility_pending").participant
    client_for(world.a.facilitator).get(f"/participants/{participant.pk}/")
    ParticipantAccess.objects.update(accessed_at=timezone.now() - datetime.timedelta(days=400))
    client_for(world.a.adviser).get(f"/participants/{participant.pk}/")
    report = apply_retention(wet=True)
    assert report.access_rows_purged == 1
    assert ParticipantAccess.objects.count() == 1


@pytest.mark.parametrize("query", ["²", "P-²", "٣", "99999999999999999999", "P-9223372036854775808", "0"])
def test_a_number_that_is_no_file_number_finds_nothing_and_never_fails(world, query):
    """`str.isdigit` took "²" (which `int` refuses) and a 20-digit number overflowed the database: both were a 500
    on the auditor's and the DPO's searches."""
    make_referral(world, "forwarded")
    for actor, url in (
        (world.a.auditor, "/audit/parcours/"),
        (world.a.dpo, "/donnees-personnelles/consultations/"),
        (world.a.dpo, "/donnees-personnelles/consultations/export.csv"),
    ):
        response = client_for(actor).get(url, {"q": query})
        assert response.status_code == 200, (actor.role, url)
    listed = client_for(world.a.auditor).get("/audit/parcours/", {"q": query}).context["page"]
    assert not list(listed)  # a pseudonymised search reads file numbers only: none here
    assert list(client_for(world.a.auditor).get("/audit/parcours/").context["page"])  # while the list has files

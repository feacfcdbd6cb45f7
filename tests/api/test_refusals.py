"""Refusals found by an exploratory test of the API: hostile text in offers, exits, derogations and referrals; reads
refused for a bad cursor that still wrote an access-log row; a lax `page_size`; `?format=xml` answered 404; DRF
messages left in English; every 401 coded "authentication_failed"."""

import datetime

import pytest
from django.utils import translation
from rest_framework import serializers

from parcours.api import inputs
from parcours.api import resources as r
from parcours.api.fields import StrictSerializer
from parcours.models import Exit, JobOffer, ParticipantAccess, Referral
from parcours.services import pathways
from roles.enums import Role
from tests.api.conftest import advance, assert_problem, client_for
from tests.api.test_errors import snapshot
from workflows.models import JournalEvent
from workflows.transitions import MACHINES

RLO, BEL, ZWSP = "\u202e", "\u0007", "\u200b"
OFFER = {"title": "Coffreur·se", "trade": "Maçonnerie", "contract_type": "cdd", "weekly_hours": 35, "location": "Lyon"}


def refused_with(response, field):
    body = assert_problem(response, 400, "invalid_input")
    assert [e["field"] for e in body["errors"]] == [field], body
    return body


# --- Hostile text: offers, exit detail, derogation reason, motivation, reasons -----------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", f"ab{RLO}cd"),
        ("title", f"a{BEL}b"),
        ("trade", ZWSP),
        ("location", f"Lyon{RLO}"),
        ("market_context", f"Chantier{BEL}"),
        ("market_context", ZWSP * 3),
        ("rome_code", "!!!!!"),
        ("rome_code", "F170"),
        ("rome_code", "F١٧٠٣"),
        ("rome_code", ZWSP),
    ],
)
def test_a_job_offer_with_hostile_text_or_a_bad_rome_code_is_refused(story, field, value):
    facilitator = client_for(story.a.users[Role.FACILITATOR])
    offers = JobOffer.objects.count()
    response = facilitator.post("/api/v1/job-offers/", {**OFFER, "lot": story.a.lot.pk, field: value}, format="json")
    refused_with(response, field)
    assert JobOffer.objects.count() == offers


def test_a_job_offer_keeps_a_valid_rome_code_upper_cased(story):
    facilitator = client_for(story.a.users[Role.FACILITATOR])
    body = {**OFFER, "lot": story.a.lot.pk, "rome_code": "f1703", "market_context": "Ligne 1\nLigne 2"}
    response = facilitator.post("/api/v1/job-offers/", body, format="json")
    assert response.status_code == 201, response.content
    offer = JobOffer.objects.get(pk=response.json()["id"])
    assert (offer.rome_code, offer.market_context) == ("F1703", "Ligne 1\nLigne 2")
    another = {**OFFER, "lot": story.a.lot.pk, "rome_code": "", "title": "Une autre offre"}
    empty = facilitator.post("/api/v1/job-offers/", another, format="json")
    assert empty.status_code == 201 and JobOffer.objects.get(pk=empty.json()["id"]).rome_code == ""


@pytest.mark.parametrize("detail", [f"ab{RLO}cd", f"CDI{BEL}", ZWSP])
def test_an_exit_detail_with_hostile_text_is_refused(story, detail):
    adviser = client_for(story.a.users[Role.ADVISER])
    pathway = story.a.pathway
    before = snapshot()
    url = f"/api/v1/pathways/{pathway.pk}/transitions/exit/"
    body = {"exited_on": datetime.date.today().isoformat(), "situation": "cdi", "detail": detail}
    refused_with(adviser.post(url, body, format="json"), "detail")
    assert snapshot() == before and not Exit.objects.filter(pathway=pathway).exists()


@pytest.mark.parametrize("reason", [f"ab{RLO}cd", f"a{BEL}b", ZWSP])
def test_a_derogation_reason_with_hostile_text_is_refused(story, reason):
    pathway = advance(story.a, "intake", last_name="Dérogation")["pathway"]
    before = snapshot()
    url = f"/api/v1/pathways/{pathway.pk}/transitions/submit_eligibility/"
    response = client_for(story.a.users[Role.ADVISER]).post(url, {"criteria": [], "derogation_reason": reason})
    refused_with(response, "derogation_reason")
    assert snapshot() == before


def test_a_derogation_reason_is_stored_stripped(story):
    pathway = advance(story.a, "intake", last_name="Dérogation")["pathway"]
    pathways.pathway_submit_eligibility(
        actor=story.a.actor(Role.ADVISER), pathway=pathway, criteria=[], derogation_reason="  Parcours ASE.\n"
    )
    assert pathway.assessments.get().derogation_reason == "Parcours ASE."


@pytest.mark.parametrize("motivation", [f"a{BEL}b", f"ab{RLO}cd", ZWSP])
def test_a_referral_motivation_with_hostile_text_is_refused(story, motivation):
    pathway = advance(story.a, "eligible", last_name="Motivée")["pathway"]
    before = Referral.objects.count()
    body = {"pathway": pathway.pk, "offer": story.a.offer2.pk, "motivation": motivation}
    refused_with(client_for(story.a.users[Role.ADVISER]).post("/api/v1/referrals/", body, format="json"), "motivation")
    assert Referral.objects.count() == before


INVISIBLE_REASONS = [ZWSP, ZWSP * 2 + "\u2060", "\ufeff \u3164", "\u00ad", "\u0301"]


def test_a_required_reason_made_of_invisible_characters_is_refused(story):
    """ "   " was refused (« ce champ est obligatoire »), "\u200b" was journaled as the reason."""
    cases = [
        (Role.ADVISER, "pathways", story.a.pathway, "withdraw", INVISIBLE_REASONS),
        (Role.ADVISER, "pathways", story.a.pathway, "mark_lost_contact", [ZWSP]),
        (Role.EMPLOYER, "referrals", story.a.referral2, "refuse", [ZWSP]),
        (Role.ADVISER, "referrals", story.a.referral2, "cancel", [ZWSP]),
        (Role.FACILITATOR, "hours-lines", story.a.hours_line, "reject", [ZWSP]),
    ]
    before, events = snapshot(), JournalEvent.objects.count()
    for role, resource, obj, transition, reasons in cases:
        client = client_for(story.a.users[role])
        # The transition is open to the caller (a visible reason would pass): only the reason is refused.
        available = client.get(f"/api/v1/{resource}/{obj.pk}/").json()["available_transitions"]
        assert transition in [t["name"] for t in available], (resource, transition)
        for reason in reasons:
            url = f"/api/v1/{resource}/{obj.pk}/transitions/{transition}/"
            body = refused_with(client.post(url, {"reason": reason}, format="json"), "reason")
            assert "visible" in body["detail"], body
    assert snapshot() == before and JournalEvent.objects.count() == events


# --- A refused read writes nothing ------------------------------------------------------------------------------
@pytest.mark.parametrize("query", ["cursor=garbage", "cursor=cD0xZTU%3D", "page_size=abc"])
def test_a_history_or_follow_up_read_refused_for_its_query_is_not_logged(story, query):
    """The read was logged before the query was checked (the lists checked it first)."""
    facilitator = client_for(story.a.users[Role.FACILITATOR])
    urls = [
        f"/api/v1/participants/{story.a.participant.pk}/history/",
        f"/api/v1/pathways/{story.a.pathway.pk}/history/",
        f"/api/v1/pathways/{story.a.pathway.pk}/follow-ups/",
        f"/api/v1/referrals/{story.a.referral.pk}/history/",
        f"/api/v1/placements/{story.a.placement.pk}/history/",
        f"/api/v1/hours-lines/{story.a.hours_line.pk}/history/",
    ]
    ParticipantAccess.objects.all().delete()
    for url in urls:
        code = "invalid_cursor" if query.startswith("cursor") else "invalid_input"
        assert_problem(facilitator.get(f"{url}?{query}"), 400, code)
    assert not ParticipantAccess.objects.exists()
    for url in urls:  # the same reads, well formed: logged
        assert facilitator.get(url).status_code == 200
    assert ParticipantAccess.objects.count() == len(urls)


# --- page_size, format -------------------------------------------------------------------------------------------
def test_a_bad_page_size_is_a_400_problem(story):
    """It fell back to 50 for "abc", "0" or "", and "١٢" was read as 12."""
    adviser = client_for(story.a.users[Role.ADVISER])
    for value in ("abc", "0", "-1", "1.5", "true", "NaN", "", " 12", "١٢", "１２", "201", "9" * 5000):
        for url in ("/api/v1/referrals/", f"/api/v1/pathways/{story.a.pathway.pk}/history/"):
            body = assert_problem(adviser.get(url, {"page_size": value}), 400, "invalid_input")
            assert body["errors"] == [{"field": "page_size", "code": "invalid_input", "detail": body["detail"]}]
            assert "1 à 200" in body["detail"]


def test_a_page_size_of_one_to_two_hundred_is_read(story):
    adviser = client_for(story.a.users[Role.ADVISER])
    assert len(adviser.get("/api/v1/referrals/", {"page_size": "1"}).json()["results"]) == 1
    assert adviser.get("/api/v1/referrals/", {"page_size": "0200"}).status_code == 200


def test_an_unknown_format_is_406_like_an_unknown_accept(story, anonymous):
    adviser = client_for(story.a.users[Role.ADVISER])
    for url in ("/api/v1/referrals/", f"/api/v1/referrals/{story.a.referral.pk}/"):
        body = assert_problem(adviser.get(url, {"format": "xml"}), 406, "not_acceptable")
        assert body == assert_problem(adviser.get(url, HTTP_ACCEPT="application/xml"), 406, "not_acceptable")
        assert adviser.get(url, {"format": "json"}).status_code == 200
    assert_problem(anonymous.get("/api/v1/referrals/", {"format": "api"}), 406, "not_acceptable")


# --- French messages ---------------------------------------------------------------------------------------------
def _fields(field, path):
    yield path, field
    if isinstance(field, serializers.BaseSerializer) and not isinstance(field, serializers.ListSerializer):
        for name, child in field.fields.items():
            yield from _fields(child, f"{path}.{name}")
    elif getattr(field, "child", None) is not None:
        yield from _fields(field.child, f"{path}[]")


def _input_serializers():
    for machine in MACHINES.values():
        for spec in machine.values():
            inputs.input_serializer(spec)  # derived on first use: now a subclass of StrictSerializer
    found, todo = set(), [StrictSerializer]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo += cls.__subclasses__()
    found |= {resource.filters for resource in vars(r).values() if isinstance(resource, r.Resource)}
    return sorted(found - {StrictSerializer}, key=lambda cls: cls.__name__)


def _drf_default(field, key):
    for klass in type(field).__mro__:
        if klass.__module__.startswith("rest_framework."):
            message = vars(klass).get("default_error_messages", {}).get(key)
            if message is not None:
                return message
    return None


def test_no_input_field_answers_with_drf_english_messages():
    english = []
    for cls in _input_serializers():
        for path, field in _fields(cls(), cls.__name__):
            for key, message in field.error_messages.items():
                default = _drf_default(field, key)
                if default is None:
                    continue
                with translation.override("en"):
                    in_english = str(default)
                with translation.override("fr"):
                    shown = str(message)
                if shown == in_english:
                    english.append(f"{path} {type(field).__name__}.{key}: {in_english}")
    assert not english, "\n".join(english)


def test_a_non_string_and_a_too_long_list_are_refused_in_french(story):
    adviser = client_for(story.a.users[Role.ADVISER])
    body = {"pathway": story.a.pathway.pk, "offer": story.a.offer.pk, "motivation": 5}
    detail = assert_problem(adviser.post("/api/v1/referrals/", body, format="json"), 400, "invalid_input")["detail"]
    assert detail.endswith("motivation » : Texte attendu (une chaîne JSON)."), detail
    employer = client_for(story.a.users[Role.EMPLOYER])
    rows = [{"placement": story.a.placement.pk, "hours": "1"}] * 2001
    response = employer.post(f"/api/v1/lots/{story.a.lot.pk}/statements/2026-01/", {"rows": rows}, format="json")
    assert assert_problem(response, 400, "invalid_input")["errors"][0]["detail"] == "2000 éléments au plus."


# --- Weekly hours: decimals (17,5 h part-time), declared once for an offer and a hire ------------------------------
@pytest.mark.parametrize("value", [17.555, "17.555", 48.5, 0, "dix", True, None, "1_7"])
def test_weekly_hours_out_of_range_or_with_three_decimals_are_refused(story, value):
    facilitator = client_for(story.a.users[Role.FACILITATOR])
    offers = JobOffer.objects.count()
    response = facilitator.post(
        "/api/v1/job-offers/", {**OFFER, "lot": story.a.lot.pk, "weekly_hours": value}, format="json"
    )
    refused_with(response, "weekly_hours")
    assert JobOffer.objects.count() == offers


def test_a_part_time_offer_and_hire_take_decimal_hours_and_give_them_back_as_text(story):
    facilitator = client_for(story.a.users[Role.FACILITATOR])
    for n, value in enumerate((24.5, "24.5")):
        body = {**OFFER, "lot": story.a.lot.pk, "weekly_hours": value, "title": f"Offre à temps partiel {n}"}
        response = facilitator.post("/api/v1/job-offers/", body, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["weekly_hours"] == "24.50"
    referral = advance(story.a, "forwarded")["referral"]
    employer = client_for(story.a.users[Role.EMPLOYER])
    assert employer.post(f"/api/v1/referrals/{referral.pk}/transitions/accept/").status_code == 200
    hire = f"/api/v1/referrals/{referral.pk}/transitions/hire/"
    body = {"contract_type": "cdd", "start_date": datetime.date.today().isoformat(), "weekly_hours": 17.555}
    refused_with(employer.post(hire, body, format="json"), "weekly_hours")
    response = employer.post(hire, {**body, "weekly_hours": 17.5}, format="json")
    assert response.status_code == 200, response.content
    placement = employer.get(f"/api/v1/placements/{response.json()['placement']}/").json()
    assert placement["weekly_hours"] == "17.50"


def test_a_lots_hours_are_for_those_who_follow_them_not_for_advisers(story):
    advance(story.a, "active")  # one line declared on the lot
    for role, shown in [(Role.FACILITATOR, True), (Role.EMPLOYER, True), (Role.ADVISER, False)]:
        lots = client_for(story.a.users[role]).get("/api/v1/lots/").json()["results"]
        (lot,) = [row for row in lots if row["id"] == story.a.lot.pk]
        assert (lot["realised_hours"] is not None) is shown, role

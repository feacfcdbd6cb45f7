"""Hostile input, on edit as on create: a clear refusal (DomainError → 400 in the API, a field error on the page) and
nothing written.

Before this work: a birth date edited to 2030 or 1900 was accepted (only creation checked the age), eligibility valid
until 9999-12-31 and proofs seen in 1900, follow-ups done in 1900, a postcode in Arabic-Indic digits (`\\d` matches
any Unicode digit), names made only of zero-width spaces or carrying a right-to-left override, a lot with 0 target
hours or executed from year 1 to 9999."""

import datetime
import decimal
import unicodedata

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from parcours.models import FollowUp, Participant
from parcours.services import followups, participants, pathways, referrals, register
from roles.enums import Role
from tests.factories import db_counts, make_lot, make_offer, reload, today, years_ago
from workflows import text
from workflows.errors import DomainError
from workflows.vocabulary import ContractType, ExitSituation, FollowUpKind, ProofKind, QualificationLevel

ARABIC_INDIC_POSTCODE = "٩٣٢٠٠"
ZERO_WIDTH = "\u200b\u200b"
RTL_OVERRIDE = "Marie\u202etxt.exe"


def intake(**overrides):
    data = {
        "first_name": "Inès",
        "last_name": "Benali",
        "birth_date": years_ago(20),
        "postcode": "93200",
        "commune": "Saint-Denis",
        "qualification_level": QualificationLevel.INFRA_3,
    }
    return {**data, **overrides}


def refused(call, field=None):
    counts = db_counts()
    with pytest.raises(DomainError) as error:
        call()
    assert error.value.status == 400, error.value.code
    assert error.value.message  # a French sentence for the page or the problem's detail
    if field is not None:
        assert error.value.field == field, (error.value.field, error.value.message)
    assert db_counts() == counts
    return error.value


# --- The text rules themselves (pure: many cases per second) ---------------------------------------------------
@given(st.text(max_size=40))
@example("\u200b")
@example("\u200d\u2060\ufeff")
@example(RTL_OVERRIDE)
@example("Zoé\x00")
@example("e\u0301lodie")
def test_a_name_is_nfc_with_a_letter_and_nothing_hidden_or_refused(value):
    try:
        cleaned = text.clean_name(value, field="first_name", label="Prénom")
    except DomainError as error:
        assert error.field == "first_name" and error.message.startswith("Prénom : ")
        return
    assert cleaned == unicodedata.normalize("NFC", cleaned) == cleaned.strip()
    assert any(unicodedata.category(c).startswith("L") for c in cleaned)
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in cleaned)


def test_a_decomposed_accent_is_stored_composed():
    assert text.clean_name("e\u0301lodie", field="f", label="Prénom") == "élodie"


@given(st.text(alphabet=st.characters(categories=["Nd"]), min_size=5, max_size=5))
@example(ARABIC_INDIC_POSTCODE)
@example("９３２００")  # full-width digits
def test_a_postcode_is_five_ascii_digits(value):
    if value.isascii():
        assert text.clean_postcode(value) == value
    else:
        with pytest.raises(DomainError):
            text.clean_postcode(value)


@pytest.mark.parametrize("phone", ["٠٦١٢٣٤٥٦٧٨", "06\u202e12345678", "appelez-moi", "12"])
def test_a_phone_number_is_made_of_ascii_digits(phone):
    with pytest.raises(DomainError):
        text.clean_phone(phone)


def test_a_usual_phone_number_passes():
    assert text.clean_phone("+33 6 12 34 56 78") == "+33 6 12 34 56 78"


# --- Participants: on creation and on edit ----------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("postcode", ARABIC_INDIC_POSTCODE),
        ("first_name", ZERO_WIDTH),
        ("last_name", RTL_OVERRIDE),
        ("commune", "Saint-Denis\x07"),
        ("birth_date", datetime.date(2030, 1, 1)),
        ("birth_date", datetime.date(1900, 1, 1)),
        ("phone", "٠٦١٢٣٤٥٦٧٨"),
    ],
)
def test_hostile_participant_data_is_refused_on_creation_and_on_edit(world, field, value):
    adviser = world.actor(Role.ADVISER)
    refused(lambda: participants.participant_create(actor=adviser, data=intake(**{field: value})), field)
    participant = participants.participant_create(actor=adviser, data=intake(last_name="Durand"))
    refused(lambda: participants.participant_update(actor=adviser, participant=participant, changes={field: value}))
    assert getattr(reload(participant), field) != value


@pytest.mark.django_db
def test_an_edit_that_keeps_the_birth_date_is_not_judged_on_age(world):
    """A young person registered at 25 is 27 two years later: correcting their phone number must still work."""
    adviser = world.actor(Role.ADVISER)
    participant = participants.participant_create(actor=adviser, data=intake(birth_date=years_ago(25)))
    Participant.objects.filter(pk=participant.pk).update(birth_date=years_ago(27))
    participants.participant_update(
        actor=adviser, participant=participant, changes={"birth_date": years_ago(27), "phone": "06 12 34 56 78"}
    )
    assert reload(participant).phone == "06 12 34 56 78"


@pytest.mark.django_db
def test_the_edit_page_shows_the_refusal_in_french(world):
    adviser = world.actor(Role.ADVISER)
    participant = participants.participant_create(actor=adviser, data=intake(last_name="Page"))
    client = Client()
    client.force_login(adviser.user)
    data = {**intake(last_name="Page"), "birth_date": "2030-01-01", "programme": "none"}
    response = client.post(f"/conseil/jeunes/{participant.pk}/modifier/", data)
    assert response.status_code == 400
    assert "Date de naissance : pas dans le futur." in response.content.decode()
    assert reload(participant).birth_date == years_ago(20)


@pytest.mark.django_db
def test_the_api_refuses_an_edit_with_a_problem(world):
    adviser = world.actor(Role.ADVISER)
    participant = participants.participant_create(actor=adviser, data=intake(last_name="Api"))
    client = Client()
    client.force_login(adviser.user)
    for body in ({"birth_date": "1900-01-01"}, {"postcode": ARABIC_INDIC_POSTCODE}, {"first_name": ZERO_WIDTH}):
        response = client.patch(f"/api/v1/participants/{participant.pk}/", body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
        assert response["Content-Type"].startswith("application/problem+json")
    assert reload(participant).first_name == "Inès"


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first_name=st.text(max_size=30),
    postcode=st.text(max_size=8),
    birth_date=st.dates(min_value=datetime.date(1, 1, 1), max_value=datetime.date(9999, 12, 31)),
)
def test_any_intake_is_stored_clean_or_refused_with_nothing_written(world, first_name, postcode, birth_date):
    adviser = world.actor(Role.ADVISER)
    counts = db_counts()
    data = intake(first_name=first_name, postcode=postcode, birth_date=birth_date, last_name="Hypothèse")
    try:
        participant = participants.participant_create(actor=adviser, data=data, allow_duplicate=True)
    except DomainError as error:
        assert error.status == 400 and error.field in ("first_name", "postcode", "birth_date")
        assert db_counts() == counts
        return
    participant = reload(participant)
    assert participant.first_name == unicodedata.normalize("NFC", participant.first_name)
    assert participant.postcode.isascii() and participant.postcode.isdigit() and len(participant.postcode) == 5
    assert 16 <= participant.age_on(today()) <= 25


# --- Eligibility, follow-ups, the register ------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("valid_until", "seen_on"),
    [(datetime.date(9999, 12, 31), None), (None, datetime.date(1900, 1, 1)), (None, today() + datetime.timedelta(1))],
)
def test_eligibility_valid_until_9999_or_proofs_seen_in_1900_are_refused(world, made, valid_until, seen_on):
    pathway = made("pathway", "eligibility_pending")
    proofs = None
    if seen_on is not None:
        code = pathway.pending_assessment().criteria.values_list("code", flat=True).first()
        proofs = {code: (ProofKind.values[0], seen_on)}
    refused(
        lambda: pathways.pathway_validate_eligibility(
            actor=world.actor(Role.FACILITATOR), pathway=pathway, valid_until=valid_until, proofs=proofs
        )
    )
    assert reload(pathway).state == "eligibility_pending"


@pytest.mark.django_db
@pytest.mark.parametrize("done_on", [datetime.date(1900, 1, 1), datetime.date(1, 1, 1)])
def test_a_follow_up_done_before_the_pathway_began_is_refused(world, made, done_on):
    pathway = made("pathway", "placed")
    before = FollowUp.objects.filter(pathway=pathway).count()
    refused(
        lambda: followups.followup_record(
            actor=world.actor(Role.ADVISER), pathway=pathway, kind=FollowUpKind.values[0], done_on=done_on
        ),
        "done_on",
    )
    assert FollowUp.objects.filter(pathway=pathway).count() == before


@pytest.mark.django_db
def test_a_follow_up_note_with_a_direction_override_is_refused(world, made):
    pathway = made("pathway", "placed")
    refused(
        lambda: followups.followup_record(
            actor=world.actor(Role.ADVISER),
            pathway=pathway,
            kind=FollowUpKind.values[0],
            done_on=today(),
            note="RAS\u202e",
        ),
        "note",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"target_hours": decimal.Decimal(0)}, "target_hours"),
        ({"target_hours": decimal.Decimal(-5)}, "target_hours"),
        (
            {"execution_starts_on": datetime.date(1, 1, 1), "execution_ends_on": datetime.date(9999, 12, 31)},
            "execution_starts_on",
        ),
        (
            {"execution_starts_on": today(), "execution_ends_on": today() + datetime.timedelta(days=366 * 11)},
            "execution_ends_on",
        ),
        (
            {"execution_starts_on": today(), "execution_ends_on": today() - datetime.timedelta(days=1)},
            "execution_ends_on",
        ),
    ],
)
def test_a_lot_with_no_target_hours_or_an_absurd_execution_window_is_refused(world, overrides, field):
    side = world.a
    lot = side.lot
    kwargs = {
        "actor": side.facilitator,
        "contract": lot.contract,
        "number": 9,
        "title": "Second œuvre",
        "trade": "Peinture",
        "amount_excl_tax": decimal.Decimal("100000"),
        "sizing_method": lot.sizing_method,
        "labour_share": lot.labour_share,
        "hourly_cost": lot.hourly_cost,
        "insertion_rate": lot.insertion_rate,
        "execution_starts_on": today(),
        "execution_ends_on": today() + datetime.timedelta(days=365),
        "fulfilment_modes": lot.fulfilment_modes,
        **overrides,
    }
    refused(lambda: register.lot_create(**kwargs), field)


@pytest.mark.django_db
def test_a_sensible_lot_is_still_accepted(world):
    assert make_lot(world.a).target_hours > 0


# --- Text with nothing visible; offers, referrals, exits, derogations, reasons --------------------------------------
@pytest.mark.parametrize(
    "value", ["\u200b", "\u200b\u200d\u2060", "\ufeff", "\u00ad", " \u3164 ", "\u2800", "\u0301", "\u200b\n\u200b"]
)
def test_a_text_with_nothing_visible_is_refused(value):
    """Spaces alone are stripped (a required input is then missing); "\\u200b" looked empty and was stored."""
    with pytest.raises(DomainError) as error:
        text.clean_text(value, field="reason", label="Motif", multiline=True)
    assert error.value.field == "reason" and "visible" in error.value.message


@pytest.mark.parametrize("value", ["Réponse\u200bnégative", "👍", "€", "5", "a\u0301"])
def test_a_text_with_something_visible_passes(value):
    assert text.clean_text(value, field="reason", label="Motif")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", RTL_OVERRIDE),
        ("title", "Coffreur\x07"),
        ("trade", ZERO_WIDTH),
        ("location", "Lyon\u2066"),
        ("market_context", "Chantier\x00"),
        ("rome_code", "!!!!!"),
        ("rome_code", "F١٧٠٣"),
        ("rome_code", "17031"),
    ],
)
def test_a_job_offer_with_hostile_text_is_refused(world, field, value):
    """Offer texts did not go through the text rules: an RLO in a title employers and advisers read was stored."""
    data = {"title": "Coffreur·se", "trade": "Maçonnerie", "location": "Lyon", "rome_code": "F1703", field: value}
    side = world.a
    refused(
        lambda: register.offer_create(
            actor=side.facilitator, lot=side.lot, contract_type=ContractType.CDD, weekly_hours=35, **data
        ),
        field,
    )


@pytest.mark.django_db
def test_a_referral_motivation_with_a_control_character_is_refused(world, made):
    pathway = made("pathway", "eligible")
    offer = make_offer(world.a)
    for motivation in ("a\x07b", RTL_OVERRIDE, ZERO_WIDTH):
        refused(
            lambda m=motivation: referrals.referral_create(
                actor=world.actor(Role.ADVISER), pathway=pathway, offer=offer, motivation=m
            ),
            "motivation",
        )


@pytest.mark.django_db
def test_an_exit_detail_or_a_derogation_reason_with_hostile_text_is_refused(world, made):
    """Inputs a service takes itself (not passed to the state machine) skipped the inputs' check."""
    adviser = world.actor(Role.ADVISER)
    placed = made("pathway", "placed")
    for detail in (RTL_OVERRIDE, "CDI\x07", ZERO_WIDTH):
        refused(
            lambda d=detail: pathways.pathway_exit(
                actor=adviser, pathway=placed, exited_on=today(), situation=ExitSituation.values[0], detail=d
            ),
            "detail",
        )
    intake_pathway = made("pathway", "intake")
    for reason in (RTL_OVERRIDE, "ASE\x07", ZERO_WIDTH):
        refused(
            lambda r=reason: pathways.pathway_submit_eligibility(
                actor=adviser, pathway=intake_pathway, criteria=[], derogation_reason=r
            ),
            "derogation_reason",
        )
    assert reload(placed).state == "placed" and reload(intake_pathway).state == "intake"


@pytest.mark.django_db
@pytest.mark.parametrize("reason", [ZERO_WIDTH, "\ufeff", "\u2060 \u200b"])
def test_a_required_reason_with_nothing_visible_is_refused(world, made, reason):
    pathway = made("pathway", "placed")
    refused(
        lambda: pathways.pathway_withdraw(actor=world.actor(Role.ADVISER), pathway=pathway, reason=reason), "reason"
    )
    assert reload(pathway).state == "placed"

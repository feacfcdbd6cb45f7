"""Bad input changes nothing: each refused call raises DomainError naming the offending field, and no row
is written or changed anywhere."""

import datetime
from decimal import Decimal

import pytest

from parcours.models import Participant, Placement
from parcours.services import followups, participants, pathways, placements, referrals, register
from tests.factories import (
    backdate_placement,
    call_service,
    db_counts,
    last_month,
    make,
    make_pathway,
    make_placement,
    reload,
    this_month,
    today,
    years_ago,
)
from workflows import engine
from workflows.errors import DomainError
from workflows.journal import verify
from workflows.models import JournalEvent

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def valid_participant(**changes):
    data = {
        "first_name": "Sofiane",
        "last_name": "Diallo",
        "birth_date": years_ago(20),
        "postcode": "93200",
        "commune": "Saint-Denis",
        "qualification_level": "infra_3",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def refused(call, *objects):
    states = [(o, reload(o).state) for o in objects]
    counts = db_counts()
    with pytest.raises(DomainError) as error:
        call()
    assert db_counts() == counts
    for obj, state in states:
        assert reload(obj).state == state
    return error.value


PARTICIPANT_CASES = [
    ("age 30", {"birth_date": years_ago(30)}, "age_out_of_range", "birth_date"),
    ("age 15", {"birth_date": years_ago(15)}, "age_out_of_range", "birth_date"),
    ("birth date as text", {"birth_date": "2005-01-01"}, "invalid_input", "birth_date"),
    ("postcode of 4 digits", {"postcode": "7500"}, "invalid_input", "postcode"),
    ("postcode with letters", {"postcode": "2A004"}, "invalid_input", "postcode"),
    ("unknown field", {"nir": "1850575123456"}, "unknown_input", "nir"),
    ("missing first name", {"first_name": None}, "missing_input", "first_name"),
    ("blank last name", {"last_name": "   "}, "missing_input", "last_name"),
    ("unknown qualification", {"qualification_level": "phd"}, "invalid_input", "qualification_level"),
    ("unknown programme", {"programme": "rsa"}, "invalid_input", "programme"),
    ("bad email", {"email": "pas-un-courriel"}, "invalid_input", "email"),
    ("name too long", {"last_name": "x" * 101}, "invalid_input", "last_name"),
]


@pytest.mark.parametrize(("changes", "code", "field"), [pytest.param(*c[1:], id=c[0]) for c in PARTICIPANT_CASES])
def test_participant_create_refuses_bad_input(world, changes, code, field):
    error = refused(lambda: participants.participant_create(actor=world.a.adviser, data=valid_participant(**changes)))
    assert (error.code, error.field) == (code, field)


def test_participant_create_refuses_duplicates(world):
    participants.participant_create(actor=world.a.adviser, data=valid_participant(imilo_reference="IM-1"))
    error = refused(lambda: participants.participant_create(actor=world.a.adviser, data=valid_participant()))
    assert error.code == "duplicate_participant"
    error = refused(
        lambda: participants.participant_create(
            actor=world.a.adviser, data=valid_participant(first_name="Other", imilo_reference="IM-1")
        )
    )
    assert (error.code, error.field) == ("duplicate_imilo_reference", "imilo_reference")
    # Another Mission Locale may follow a person with the same name (and never learns about the first).
    participants.participant_create(actor=world.b.adviser, data=valid_participant(imilo_reference="IM-1"))
    participants.participant_create(actor=world.a.adviser, data=valid_participant(), allow_duplicate=True)
    assert Participant.objects.filter(last_name="Diallo").count() == 3


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        pytest.param({"postcode": "123"}, "invalid_input", "postcode", id="postcode"),
        pytest.param({"nir": "1"}, "unknown_input", "nir", id="unknown field"),
        pytest.param({"youth_agency": 1}, "unknown_input", "youth_agency", id="not editable"),
        pytest.param({"first_name": ""}, "missing_input", "first_name", id="blank first name"),
        pytest.param({"birth_date": "hier"}, "invalid_input", "birth_date", id="birth date as text"),
    ],
)
def test_participant_update_refuses_bad_input(world, changes, code, field):
    participant = make_pathway(world, "intake").participant
    error = refused(
        lambda: participants.participant_update(actor=world.a.adviser, participant=participant, changes=changes)
    )
    assert (error.code, error.field) == (code, field)


HIRE_CASES = [
    ("weekly hours 0", {"weekly_hours": 0}, "invalid_input", "weekly_hours"),
    ("weekly hours as text", {"weekly_hours": "35"}, "invalid_input", "weekly_hours"),
    ("weekly hours as float", {"weekly_hours": 35.5}, "invalid_input", "weekly_hours"),
    ("weekly hours as bool", {"weekly_hours": True}, "invalid_input", "weekly_hours"),
    ("weekly hours with 3 decimals", {"weekly_hours": Decimal("17.555")}, "invalid_input", "weekly_hours"),
    ("weekly hours above 48", {"weekly_hours": Decimal("48.25")}, "invalid_input", "weekly_hours"),
    ("weekly hours under 1", {"weekly_hours": Decimal("0.75")}, "invalid_input", "weekly_hours"),
    ("weekly hours not a number", {"weekly_hours": Decimal("NaN")}, "invalid_input", "weekly_hours"),
    ("weekly hours infinite", {"weekly_hours": Decimal("Infinity")}, "invalid_input", "weekly_hours"),
    ("weekly hours of 100 digits", {"weekly_hours": Decimal("1E+100")}, "invalid_input", "weekly_hours"),
    ("missing weekly hours", {"weekly_hours": None}, "missing_input", "weekly_hours"),
    ("start date as text", {"start_date": "2025-09-01"}, "invalid_input", "start_date"),
    ("start date as datetime", {"start_date": datetime.datetime(2025, 9, 1, 8)}, "invalid_input", "start_date"),
    ("missing start date", {"start_date": None}, "missing_input", "start_date"),
    ("unknown contract type", {"contract_type": "freelance"}, "invalid_input", "contract_type"),
    ("missing contract type", {"contract_type": None}, "missing_input", "contract_type"),
    ("mode not in the clause", {"fulfilment_mode": "training"}, "invalid_input", "fulfilment_mode"),
    ("unknown mode", {"fulfilment_mode": "volunteering"}, "invalid_input", "fulfilment_mode"),
    ("end before start", {"planned_end_date": "yesterday"}, "invalid_input", "planned_end_date"),
]


@pytest.mark.parametrize(("changes", "code", "field"), [pytest.param(*c[1:], id=c[0]) for c in HIRE_CASES])
def test_hire_refuses_bad_input(world, changes, code, field):
    referral = make(world, "referral", "accepted")
    if changes.get("planned_end_date") == "yesterday":
        changes = {"planned_end_date": today() - DAY}
    error = refused(
        lambda: call_service("referral.hire", world.a.employer_actor, referral, **changes), referral, referral.pathway
    )
    assert (error.code, error.field) == (code, field)


HOURS_CASES = [
    ("zero hours", {"hours": 0}, "invalid_input", "hours"),
    ("negative hours", {"hours": -5}, "invalid_input", "hours"),
    ("hours as words", {"hours": "beaucoup"}, "invalid_input", "hours"),
    ("too many hours", {"hours": 221}, "invalid_input", "hours"),
    ("three decimals", {"hours": "10.125"}, "invalid_input", "hours"),
    ("not a number", {"hours": "NaN"}, "invalid_input", "hours"),
    ("month as text", {"month": "2025-01"}, "invalid_input", "month"),
    ("future month", {"month": "next"}, "date_in_future", "month"),
    ("month before the contract", {"month": "last"}, "outside_contract", "month"),
    ("adjustment of an open month", {"is_adjustment": True, "hours": -2}, "adjustment_without_locked_month", "month"),
]


@pytest.mark.parametrize(("changes", "code", "field"), [pytest.param(*c[1:], id=c[0]) for c in HOURS_CASES])
def test_hours_declare_refuses_bad_input(world, changes, code, field):
    placement = backdate_placement(make_placement(world, "active"))
    month = {"next": (this_month() + 32 * DAY).replace(day=1), "last": (last_month() - DAY).replace(day=1)}.get(
        changes.get("month"), changes.get("month")
    )
    data = {"month": last_month(), "hours": 35, **changes}
    if month is not None:
        data["month"] = month
    error = refused(
        lambda: placements.hours_declare(actor=world.a.employer_actor, placement=placement, **data), placement
    )
    assert (error.code, error.field) == (code, field)


def test_hours_declared_twice_for_a_month(world):
    line = make(world, "hoursline", "declared")
    error = refused(
        lambda: placements.hours_declare(
            actor=world.a.employer_actor, placement=line.placement, month=last_month(), hours=10
        ),
        line,
    )
    assert (error.code, error.field) == ("duplicate_hours_line", "month")


def test_hours_of_a_rejected_month_can_be_declared_again(world):
    line = make(world, "hoursline", "rejected")
    again = placements.hours_declare(
        actor=world.a.employer_actor, placement=line.placement, month=last_month(), hours=12
    )
    assert again.state == "declared" and again.pk != line.pk


@pytest.mark.parametrize(
    ("action", "source", "changes", "code", "field"),
    [
        pytest.param(
            "pathway.submit_eligibility",
            "intake",
            {"criteria": ["UNKNOWN"]},
            "invalid_input",
            "criteria",
            id="unknown criterion",
        ),
        pytest.param(
            "pathway.submit_eligibility",
            "intake",
            {"criteria": []},
            "missing_input",
            "criteria",
            id="no criterion nor derogation",
        ),
        pytest.param(
            "pathway.validate_eligibility",
            "eligibility_pending",
            {"valid_until": "demain"},
            "invalid_input",
            "valid_until",
            id="valid_until as text",
        ),
        pytest.param(
            "pathway.validate_eligibility",
            "eligibility_pending",
            {"valid_until": "today"},
            "invalid_input",
            "valid_until",
            id="valid_until not in the future",
        ),
        pytest.param(
            "pathway.validate_eligibility",
            "eligibility_pending",
            {"proofs": {"YOUTH_UNDER_26_LOW_QUALIFICATION": ("selfie", None)}},
            "invalid_input",
            "proofs",
            id="unknown proof kind",
        ),
        pytest.param(
            "pathway.validate_eligibility",
            "eligibility_pending",
            {"proofs": {"RSA": ("attestation", "today")}},
            "invalid_input",
            "proofs",
            id="proof of an undeclared criterion",
        ),
        pytest.param(
            "pathway.reject_eligibility",
            "eligibility_pending",
            {"reason": "  "},
            "missing_input",
            "reason",
            id="blank rejection reason",
        ),
        pytest.param(
            "pathway.exit",
            "in_follow_up",
            {"exited_on": "2025-01-01"},
            "invalid_input",
            "exited_on",
            id="exit date as text",
        ),
        pytest.param(
            "pathway.exit",
            "in_follow_up",
            {"situation": "holidays"},
            "invalid_input",
            "situation",
            id="unknown exit situation",
        ),
        pytest.param(
            "pathway.withdraw", "eligible", {"reason": ""}, "missing_input", "reason", id="withdraw without reason"
        ),
        pytest.param(
            "referral.decline",
            "under_review",
            {"reason": "   "},
            "missing_input",
            "reason",
            id="decline without reason",
        ),
        pytest.param(
            "referral.refuse", "forwarded", {"reason": None}, "missing_input", "reason", id="refuse without reason"
        ),
        pytest.param("referral.cancel", "sent", {"reason": ""}, "missing_input", "reason", id="cancel without reason"),
        pytest.param(
            "placement.end", "active", {"end_kind": "sacked"}, "invalid_input", "end_kind", id="unknown end kind"
        ),
        pytest.param(
            "placement.end", "active", {"end_date": None}, "missing_input", "end_date", id="missing end date"
        ),
        pytest.param(
            "hoursline.reject", "declared", {"reason": ""}, "missing_input", "reason", id="reject hours without reason"
        ),
    ],
)
def test_transition_refuses_bad_input(world, action, source, changes, code, field):
    machine = action.split(".")[0]
    obj = make(world, machine, source)
    changes = {k: (today() if v == "today" else v) for k, v in changes.items()}
    if "proofs" in changes:
        changes["proofs"] = {
            c: (kind, today() if seen == "today" else seen) for c, (kind, seen) in changes["proofs"].items()
        }
    spec = engine.spec_for(obj, action.split(".")[1])
    actor = world.actor(next(iter(spec.roles)))
    error = refused(lambda: call_service(action, actor, obj, **changes), obj)
    assert (error.code, error.field) == (code, field)


def test_engine_refuses_undeclared_inputs(world):
    referral = make(world, "referral", "under_review")
    error = refused(
        lambda: engine.fire(referral, "approve", actor=world.a.facilitator, inputs={"note": "x"}), referral
    )
    assert (error.code, error.field) == ("unknown_input", "note")
    error = refused(lambda: engine.fire(referral, "launch", actor=world.a.facilitator), referral)
    assert error.code == "unknown_transition"


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        pytest.param({"kind": "telepathy"}, "invalid_input", "kind", id="unknown kind"),
        pytest.param({"done_on": "tomorrow"}, "date_in_future", "done_on", id="tomorrow"),
        pytest.param({"done_on": "2025-01-01"}, "invalid_input", "done_on", id="date as text"),
        pytest.param({"note": "x" * 1001}, "invalid_input", "note", id="note too long"),
    ],
)
def test_followup_record_refuses_bad_input(world, changes, code, field):
    pathway = make_pathway(world, "in_follow_up")
    data = {"kind": "phone", "done_on": today(), **changes}
    if data["done_on"] == "tomorrow":
        data["done_on"] = today() + DAY
    error = refused(lambda: followups.followup_record(actor=world.a.adviser, pathway=pathway, **data), pathway)
    assert (error.code, error.field) == (code, field)


def test_referral_to_a_qpv_only_offer_needs_a_qpv_resident(world):
    from tests.factories import make_offer

    pathway = make_pathway(world, "eligible")
    offer = make_offer(world.a, is_qpv_mandatory=True)
    error = refused(lambda: referrals.referral_create(actor=world.a.adviser, pathway=pathway, offer=offer), pathway)
    assert error.code == "qpv_required"
    resident = make_pathway(world, "eligible", is_qpv_resident=True)
    referrals.referral_create(actor=world.a.adviser, pathway=resident, offer=offer)


def test_submit_to_a_facilitation_organisation_that_is_not_a_partner(world):
    pathway = make_pathway(world, "intake")
    error = refused(
        lambda: pathways.pathway_submit_eligibility(
            actor=world.a.adviser, pathway=pathway, criteria=["RSA"], facilitation_organisation=world.b.facilitation
        ),
        pathway,
    )
    assert (error.code, error.field) == ("invalid_input", "facilitation_organisation")


@pytest.mark.parametrize("given", ["abc", "", -5, 0, 2**70, float("inf"), float("nan"), [1], {"pk": 1}])
def test_submit_to_a_value_that_names_no_organisation(world, given):
    pathway = make_pathway(world, "intake")
    error = refused(
        lambda: pathways.pathway_submit_eligibility(
            actor=world.a.adviser, pathway=pathway, criteria=["RSA"], facilitation_organisation=given
        ),
        pathway,
    )
    assert (error.code, error.field) == ("invalid_input", "facilitation_organisation")


@pytest.mark.parametrize("given", [float("inf"), "abc", 2**70])
def test_submit_of_a_value_that_names_no_pathway_is_not_found(world, given):
    counts = db_counts()
    with pytest.raises(DomainError) as error:
        pathways.pathway_submit_eligibility(
            actor=world.a.adviser, pathway=given, criteria=["RSA"], facilitation_organisation=float("inf")
        )
    assert error.value.code == "not_found" and db_counts() == counts


def test_submit_to_an_organisation_that_is_no_facilitation_one(world):
    """The Mission Locale itself, or an employer, is no facilitation organisation, whatever its partners."""
    pathway = make_pathway(world, "intake")
    world.a.employer.partners.add(world.a.youth_agency)
    for organisation in (world.a.youth_agency, world.a.employer, world.a.employer.pk):
        error = refused(
            lambda organisation=organisation: pathways.pathway_submit_eligibility(
                actor=world.a.adviser, pathway=pathway, criteria=["RSA"], facilitation_organisation=organisation
            ),
            pathway,
        )
        assert (error.code, error.field) == ("invalid_input", "facilitation_organisation")


def test_submit_goes_to_the_partner_named_or_the_first_by_name(world):
    from tests.factories import OrganisationFactory

    second = OrganisationFactory(facilitation=True, name="AAA Plateforme")
    second.partners.add(world.a.youth_agency)
    named = make_pathway(world, "intake")
    pathways.pathway_submit_eligibility(
        actor=world.a.adviser, pathway=named, criteria=["RSA"], facilitation_organisation=str(world.a.facilitation.pk)
    )
    assert reload(named).facilitation_organisation == world.a.facilitation
    first = make_pathway(world, "intake")
    pathways.pathway_submit_eligibility(actor=world.a.adviser, pathway=first, criteria=["RSA"])
    assert reload(first).facilitation_organisation == second  # "AAA …" comes before "PLIE …"


def test_submit_without_a_partner_facilitation_organisation(world):
    pathway = make_pathway(world, "intake")
    world.a.youth_agency.partners.clear()
    error = refused(
        lambda: pathways.pathway_submit_eligibility(actor=world.a.adviser, pathway=pathway, criteria=["RSA"]),
        pathway,
    )
    assert error.code == "no_facilitation_partner"
    error = refused(
        lambda: pathways.pathway_submit_eligibility(
            actor=world.a.adviser, pathway=pathway, criteria=["RSA"], facilitation_organisation=world.a.facilitation
        ),
        pathway,
    )
    assert (error.code, error.field) == ("invalid_input", "facilitation_organisation")


@pytest.mark.parametrize(
    ("first_name", "last_name"),
    [("sofiane", "DIALLO"), ("Sofïane", "Diallo"), ("Diallo", "Sofiane"), ("Sofiane", "Di-allo")],
)
def test_participant_create_duplicate_on_normalised_identity(world, first_name, last_name):
    """Accents, case, hyphens and swapped first/last names do not make another person."""
    participants.participant_create(actor=world.a.adviser, data=valid_participant())
    counts = db_counts()
    error = refused(
        lambda: participants.participant_create(
            actor=world.a.adviser, data=valid_participant(first_name=first_name, last_name=last_name)
        )
    )
    assert error.code == "duplicate_participant" and "Doublon possible" in error.message
    assert db_counts() == counts
    found = participants.find_duplicates(
        actor=world.a.adviser, first_name=first_name, last_name=last_name, birth_date=years_ago(20)
    )
    assert [p.last_name for p in found] == ["Diallo"]
    # Confirmed as another person: registered, marked as a homonym (outside the database's unique identity).
    homonym = participants.participant_create(
        actor=world.a.adviser, data=valid_participant(first_name=first_name, last_name=last_name), allow_duplicate=True
    )
    assert homonym.homonym_confirmed and homonym.identity_key == found[0].identity_key


def test_participant_create_override_without_duplicate_is_not_a_homonym(world):
    participant = participants.participant_create(
        actor=world.a.adviser, data=valid_participant(), allow_duplicate=True
    )
    assert not participant.homonym_confirmed
    error = refused(lambda: participants.participant_create(actor=world.a.adviser, data=valid_participant()))
    assert error.code == "duplicate_participant"


def test_participant_update_refuses_to_become_a_duplicate(world):
    participants.participant_create(actor=world.a.adviser, data=valid_participant())
    other = participants.participant_create(actor=world.a.adviser, data=valid_participant(first_name="Moussa"))
    counts = db_counts()
    error = refused(
        lambda: participants.participant_update(
            actor=world.a.adviser, participant=other, changes={"first_name": "Sofiane"}
        )
    )
    assert error.code == "duplicate_participant"
    assert db_counts() == counts and reload(other).first_name == "Moussa"
    # Other changes to the same file are still accepted, and the derived columns follow the names.
    participants.participant_update(actor=world.a.adviser, participant=other, changes={"last_name": "Diallo-Kane"})
    other = reload(other)
    assert other.search_text == "diallo kane moussa" and other.identity_key.endswith("|diallokane|moussa")


def test_validate_eligibility_refuses_unseen_proofs_when_the_platform_requires_them(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "ELIGIBILITY_PROOF_REQUIRED": True}
    pathway = make_pathway(world, "eligibility_pending")
    error = refused(lambda: pathways.pathway_validate_eligibility(actor=world.a.facilitator, pathway=pathway), pathway)
    assert (error.code, error.field) == ("proof_missing", "proofs") and "Justificatif non vu pour" in error.message
    codes = pathway.pending_assessment().criteria.values_list("code", flat=True)
    proofs = {code: ("attestation", today()) for code in codes}
    pathways.pathway_validate_eligibility(actor=world.a.facilitator, pathway=pathway, proofs=proofs)
    assert reload(pathway).state == "eligible"


# --- Weekly hours: a decimal (part-time contracts of 17,5 h), declared once for offers and hires ----------------
@pytest.mark.parametrize(
    "weekly_hours",
    [
        pytest.param(Decimal("17.555"), id="3 decimals"),
        pytest.param(Decimal("48.01"), id="above 48"),
        pytest.param(0, id="zero"),
        pytest.param(17.5, id="float"),
        pytest.param("17.5", id="text"),
        pytest.param(None, id="missing"),
    ],
)
def test_offer_create_refuses_weekly_hours_a_hire_would_refuse(world, weekly_hours):
    side = world.a
    error = refused(
        lambda: register.offer_create(
            actor=side.facilitator,
            lot=side.lot,
            title="Coffreur",
            trade="Coffrage",
            contract_type="cdd",
            weekly_hours=weekly_hours,
            location="Lyon",
        )
    )
    assert (error.code, error.field) == ("invalid_input", "weekly_hours")
    assert "Durée hebdomadaire (heures)" in error.message


def test_a_part_time_offer_and_hire_keep_their_decimal_hours_and_the_journal_seals_them(world):
    side = world.a
    offer = register.offer_create(
        actor=side.facilitator,
        lot=side.lot,
        title="Agent d'entretien",
        trade="Propreté",
        contract_type="cdd",
        weekly_hours=Decimal("24.5"),
        location="Lyon",
    )
    assert reload(offer).weekly_hours == Decimal("24.50")
    referral = make(world, "referral", "accepted")
    call_service("referral.hire", world.a.employer_actor, referral, weekly_hours=Decimal("17.5"))
    placement = Placement.objects.get(referral=referral)
    assert placement.weekly_hours == Decimal("17.50")
    hire = JournalEvent.objects.get(object_type="referral", object_id=referral.pk, action="hire")
    assert hire.inputs["weekly_hours"] == "17.50"  # decimals are journaled as text, as every amount
    assert verify().ok
    call_service("referral.hire", world.a.employer_actor, make(world, "referral", "accepted"), weekly_hours=35)
    assert JournalEvent.objects.filter(action="hire").latest("id").inputs["weekly_hours"] == "35.00"

"""An age-bound criterion (« Jeune de moins de 26 ans … », its `max_age` in the catalogue) applies only to someone at
most that old on the day it is declared and on the day eligibility is validated; once validated, eligibility holds for
its validity period, after the person turns 26 too (it is assessed at entry into the scheme)."""

import datetime
import html

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from parcours.models import AssessedCriterion, EligibilityAssessment, EligibilityCriterion, Participant, Pathway
from parcours.services import participants, pathways
from tests.api.conftest import assert_problem, client_for
from tests.factories import call_service, make_pathway, make_placement, reload, today, years_ago
from workflows.errors import DomainError
from workflows.models import JournalEvent

YOUTH = "YOUTH_UNDER_26_LOW_QUALIFICATION"
YOUTH_LABEL = "Jeune de moins de 26 ans sans qualification (niveau 3 au plus)"
DAY = datetime.timedelta(days=1)


def _days_later(days):
    """`days` days from now, the clock stopped (time_machine)."""
    return time_machine.travel(timezone.now() + days * DAY, tick=False)


def _aged_26_today(world):
    """The QA's case: a file opened a month ago, when the person was 25, whose birth date the adviser then corrects
    (the age is checked on the registration day) to one that makes them 26 today."""
    pathway = make_pathway(world, "intake")
    Participant.objects.filter(pk=pathway.participant_id).update(created_at=timezone.now() - 30 * DAY)  # elapsed
    participants.participant_update(
        actor=world.a.adviser,
        participant=pathway.participant_id,
        changes={"birth_date": years_ago(26) - 3 * DAY},
    )
    return reload(pathway)


def _turning_26_tomorrow(world, state="intake"):
    return make_pathway(world, state, birth_date=years_ago(26, today() + DAY))


def _written(pathway):
    return (
        Pathway.objects.get(pk=pathway.pk).state,
        EligibilityAssessment.objects.filter(pathway=pathway).values_list("decision", flat=True).first(),
        EligibilityAssessment.objects.filter(pathway=pathway).count(),
        AssessedCriterion.objects.filter(assessment__pathway=pathway).count(),
        JournalEvent.objects.filter(object_type="pathway", object_id=pathway.pk).count(),
    )


def _message(pathway, label=YOUTH_LABEL, age=26):
    return (
        f"Le critère « {label} » ne s'applique pas : {pathway.participant} a {age} ans le "
        f"{timezone.localdate():%d/%m/%Y}."
    )


# --- The services -----------------------------------------------------------------------------------------------
def test_submitting_an_age_bound_criterion_for_someone_aged_26_is_refused(world):
    pathway = _aged_26_today(world)
    before = _written(pathway)
    with pytest.raises(DomainError) as refused:
        pathways.pathway_submit_eligibility(actor=world.a.adviser, pathway=pathway, criteria=[YOUTH, "RSA"])
    assert (refused.value.code, refused.value.field, refused.value.status) == (
        "criterion_age_not_met",
        "criteria",
        400,
    )
    assert refused.value.message == _message(pathway)
    assert _written(pathway) == before


def test_criteria_without_an_age_bound_and_a_derogation_still_apply_at_26(world):
    pathway = _aged_26_today(world)
    pathways.pathway_submit_eligibility(actor=world.a.adviser, pathway=pathway, criteria=["RSA", "QPV_RESIDENT"])
    assert reload(pathway).state == "eligibility_pending"
    call_service("pathway.validate_eligibility", world.a.facilitator, pathway)
    assert reload(pathway).state == "eligible"
    other = _aged_26_today(world)
    pathways.pathway_submit_eligibility(actor=world.a.adviser, pathway=other, derogation_reason="Situation motivée")
    call_service("pathway.validate_eligibility", world.a.facilitator, other)
    assert reload(other).state == "eligible"


def test_the_day_before_the_26th_birthday_the_criterion_applies(world):
    pathway = _turning_26_tomorrow(world)
    pathways.pathway_submit_eligibility(actor=world.a.adviser, pathway=pathway, criteria=[YOUTH])
    call_service("pathway.validate_eligibility", world.a.facilitator, pathway)
    assert reload(pathway).state == "eligible"


def test_validating_once_the_person_turned_26_is_refused(world):
    """Declared at 25, still waiting on the 26th birthday: the facilitator's decision is the day that counts."""
    pathway = _turning_26_tomorrow(world, "eligibility_pending")  # declared with the factories' YOUTH criterion
    before = _written(pathway)
    with _days_later(1):
        with pytest.raises(DomainError) as refused:
            call_service("pathway.validate_eligibility", world.a.facilitator, pathway)
        assert refused.value.message == _message(pathway)
    assert (refused.value.code, refused.value.field) == ("criterion_age_not_met", "criteria")
    assert _written(pathway) == before
    # Refused, it can still be rejected (and declared again with other criteria after a reopening).
    call_service("pathway.reject_eligibility", world.a.facilitator, pathway)
    assert reload(pathway).state == "ineligible"


def test_an_eligibility_validated_at_25_holds_after_the_26th_birthday(world):
    """Assessed at entry: validated the day before the birthday, the young person is referred, hired and starts a
    contract a month later, at 26, within the eligibility's validity."""
    pathway = _turning_26_tomorrow(world, "eligible")
    with _days_later(30):
        assert pathway.participant.age_on(timezone.localdate()) == 26
        placement = make_placement(world, "active", pathway=pathway)
        assert reload(placement).state == "active" and reload(pathway).state == "placed"


def test_the_age_bound_is_the_catalogue_s_and_the_strictest_is_named(world):
    """Declarative: a criterion given an age bound in the catalogue (the admin) is checked the same way."""
    EligibilityCriterion.objects.filter(code="YOUTH_ML_FOLLOWED").update(max_age=19)
    pathway = make_pathway(world, "intake", birth_date=years_ago(20))
    with pytest.raises(DomainError) as refused:
        pathways.pathway_submit_eligibility(
            actor=world.a.adviser, pathway=pathway, criteria=[YOUTH, "YOUTH_ML_FOLLOWED"]
        )
    label = EligibilityCriterion.objects.get(code="YOUTH_ML_FOLLOWED").label
    assert refused.value.message == _message(pathway, label, 20)
    pathways.pathway_submit_eligibility(actor=world.a.adviser, pathway=pathway, criteria=[YOUTH])
    assert reload(pathway).state == "eligibility_pending"


# --- The API ----------------------------------------------------------------------------------------------------
def test_the_api_answers_400_on_the_criteria_field_and_writes_nothing(world):
    adviser, facilitator = client_for(world.a.adviser.user), client_for(world.a.facilitator.user)
    pathway = _aged_26_today(world)
    before = _written(pathway)
    response = adviser.post(
        f"/api/v1/pathways/{pathway.pk}/transitions/submit_eligibility/", {"criteria": [YOUTH]}, format="json"
    )
    body = assert_problem(response, 400, "criterion_age_not_met")
    assert body["detail"] == _message(pathway)
    assert body["errors"] == [{"field": "criteria", "code": "criterion_age_not_met", "detail": _message(pathway)}]
    assert _written(pathway) == before

    pending = _turning_26_tomorrow(world, "eligibility_pending")
    before = _written(pending)
    with _days_later(1):
        response = facilitator.post(
            f"/api/v1/pathways/{pending.pk}/transitions/validate_eligibility/", {}, format="json"
        )
        body = assert_problem(response, 400, "criterion_age_not_met")
        assert body["errors"][0]["field"] == "criteria" and body["detail"] == _message(pending)
    assert _written(pending) == before


# --- The pages --------------------------------------------------------------------------------------------------
def test_the_adviser_s_submission_page_shows_the_refusal(world, client):
    pathway = _aged_26_today(world)
    before = _written(pathway)
    client.force_login(world.a.adviser.user)
    url = reverse("adviser:submit_eligibility", args=[pathway.pk])
    response = client.post(url, {"criteria": [YOUTH, "RSA"], "derogation_reason": ""})
    body = html.unescape(response.content.decode())
    assert response.status_code == 400 and _message(pathway) in body
    assert 'aria-invalid="true"' in body  # on the criteria field
    assert _written(pathway) == before


def test_the_facilitator_s_validation_page_shows_the_refusal(world, client):
    pathway = _turning_26_tomorrow(world, "eligibility_pending")
    before = _written(pathway)
    url = reverse("facilitator:validate_eligibility", args=[pathway.pk])
    with _days_later(1):
        client.force_login(world.a.facilitator.user)  # a session of that day
        response = client.post(url, {"confirm_unseen": "1"})
        body = html.unescape(response.content.decode())
        assert response.status_code == 400 and _message(pathway) in body
    assert _written(pathway) == before

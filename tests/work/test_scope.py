"""A task is offered to one role in one organisation: nobody else can see, claim, assign or complete it (404)."""

import pytest

from parcours.models import Referral
from parcours.selectors import tasks as selectors
from parcours.services import referrals
from parcours.services import tasks as services
from parcours.work.models import TaskKind
from tests.work.conftest import make_actor, open_task
from workflows.errors import DomainError
from workflows.states import ReferralState


@pytest.fixture
def tasks(territories):
    """One unclaimed task of each role: review (facilitator), answer (employer), submit eligibility (adviser: it
    went to the referent adviser's inbox, who puts it back in the queue)."""
    forwarded = territories.forwarded()
    referral = territories.referral()
    pathway = territories.register()
    adviser_task = open_task(TaskKind.SUBMIT_ELIGIBILITY, pathway=pathway)
    assert adviser_task.owner_id == pathway.referent_adviser_id == territories.a.adviser.user.pk
    services.task_unassign(actor=territories.a.adviser, task=adviser_task)
    return {
        "facilitator": open_task(TaskKind.REVIEW_REFERRAL, referral=referral),
        "employer": open_task(TaskKind.ANSWER_REFERRAL, referral=forwarded),
        "adviser": open_task(TaskKind.SUBMIT_ELIGIBILITY, pathway=pathway),
    }


def outsiders(territories, role):
    """Same role in the other territory's organisation, and other roles of the same organisation."""
    a, b = territories.a, territories.b
    same_org_other_roles = {
        "facilitator": [a.auditor],  # an auditor of the facilitation organisation itself
        "employer": [a.facilitator, a.adviser],
        "adviser": [a.facilitator, a.employer],
    }[role]
    return [getattr(b, role), *same_org_other_roles]


ROLES = ["facilitator", "employer", "adviser"]


@pytest.mark.parametrize("role", ROLES)
def test_insiders_see_and_may_claim(territories, tasks, client, role):
    task = tasks[role]
    for insider in (getattr(territories.a, role), getattr(territories.a, f"{role}2")):
        client.force_login(insider.user)
        assert client.get(f"/travail/taches/{task.pk}/").status_code == 200
        assert f"/travail/taches/{task.pk}/" in client.get("/travail/a-prendre/").content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_outsiders_can_neither_see_nor_claim_nor_complete(territories, tasks, client, role):
    task = tasks[role]
    colleague = getattr(territories.a, f"{role}2")
    for outsider in outsiders(territories, role):
        client.force_login(outsider.user)
        assert client.get(f"/travail/taches/{task.pk}/").status_code == 404
        for path in ("prendre", "liberer"):
            assert client.post(f"/travail/taches/{task.pk}/{path}/").status_code == 404
        for path in ("attribuer", "reattribuer"):
            response = client.post(f"/travail/taches/{task.pk}/{path}/", {"user": outsider.user.pk})
            assert response.status_code == 404
        response = client.post(f"/travail/taches/{task.pk}/", {"action": "accept"})
        assert response.status_code == 404
        for listing in ("/travail/", "/travail/a-prendre/", "/travail/terminees/"):
            assert f"/travail/taches/{task.pk}/" not in client.get(listing).content.decode()
        assert not selectors.tasks_for(outsider).filter(pk=task.pk).exists()
        for call, kwargs in (
            (services.task_claim, {}),
            (services.task_assign, {"user": colleague.user}),
            (services.task_unassign, {}),
            (services.task_reassign, {"user": colleague.user}),
        ):
            with pytest.raises(DomainError) as error:
                call(actor=outsider, task=task.pk, **kwargs)
            assert error.value.code == "not_found"
    assert open_task(task.kind, pk=task.pk).task.owner_id is None  # nothing happened


def test_an_outsider_cannot_complete_through_the_services_either(territories, tasks):
    """The engine refuses the transition itself: the task stays open."""
    referral = tasks["employer"].referral
    with pytest.raises(DomainError):
        referrals.referral_accept(actor=territories.b.employer, referral=referral)
    with pytest.raises(DomainError):
        referrals.referral_accept(actor=territories.a.facilitator, referral=referral)
    assert Referral.objects.get(pk=referral.pk).state == ReferralState.FORWARDED
    assert open_task(TaskKind.ANSWER_REFERRAL, pk=tasks["employer"].pk)


def test_a_task_claimed_by_a_colleague_shows_no_action(territories, tasks, client):
    task = tasks["employer"]
    services.task_claim(actor=territories.a.employer, task=task.pk)
    client.force_login(territories.a.employer2.user)
    page = client.get(f"/travail/taches/{task.pk}/").content.decode()
    assert "Retenir la candidature" not in page
    response = client.post(f"/travail/taches/{task.pk}/", {"action": "accept"})
    assert response.status_code == 302
    assert Referral.objects.get(pk=task.referral_id).state == ReferralState.FORWARDED


def test_membership_deactivated_loses_the_queue(territories, tasks):
    facilitator = make_actor(territories.a.facilitation, "facilitator")
    assert selectors.queue(facilitator).filter(pk=tasks["facilitator"].pk).exists()
    facilitator.user.memberships.update(is_active=False)
    assert not selectors.queue(facilitator).filter(pk=tasks["facilitator"].pk).exists()
    with pytest.raises(DomainError) as error:
        services.task_claim(actor=facilitator, task=tasks["facilitator"].pk)
    assert error.value.code == "not_found"


def test_unknown_task_is_not_found(territories, client):
    client.force_login(territories.a.adviser.user)
    assert client.get("/travail/taches/999999/").status_code == 404
    assert client.post("/travail/taches/999999/prendre/").status_code == 404


def test_an_employer_loses_the_tasks_of_a_candidate_it_no_longer_sees(territories, tasks, client):
    """A refusal takes the referral (and its candidate's name) out of the employer's sight: its task too, open or
    done, in the lists, the task page and the archive; the facilitator's tasks are not checked row by row."""
    task = tasks["employer"]
    employer = territories.a.employer
    services.task_claim(actor=employer, task=task.pk)
    client.force_login(employer.user)
    assert client.get(f"/travail/taches/{task.pk}/").status_code == 200
    referrals.referral_refuse(actor=employer, referral=task.referral_id, reason="Profil ne correspondant pas")
    assert Referral.objects.get(pk=task.referral_id).state == ReferralState.REFUSED
    assert not selectors.tasks_for(employer).filter(pk=task.pk).exists()
    assert client.get(f"/travail/taches/{task.pk}/").status_code == 404
    for listing in ("/travail/", "/travail/a-prendre/", "/travail/terminees/"):
        assert f"/travail/taches/{task.pk}/" not in client.get(listing).content.decode()
    # Still offered to the others' sight as before: the facilitator's review task of another referral.
    assert selectors.tasks_for(territories.a.facilitator).filter(pk=tasks["facilitator"].pk).exists()
    # One EXISTS (the membership) for the facilitator; the employer's tasks check their referral's grant too.
    assert str(selectors.tasks_for(territories.a.facilitator).query).count("EXISTS") == 1
    assert str(selectors.tasks_for(employer).query).count("EXISTS") > 1

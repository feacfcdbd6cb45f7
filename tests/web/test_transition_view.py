"""The generic transition page: form, service call, stale clicks, bad input, scope."""

import datetime
import html

import pytest
from django.urls import reverse

from parcours.models import Referral
from parcours.services import referrals
from workflows.models import JournalEvent


def url(machine, pk, name):
    return reverse("transition", args=[machine, pk, name])


@pytest.fixture
def referral(site):
    return site.participant().pathways.get().referrals.get()


def test_button_transition_runs_the_service(site, client, referral):
    client.login(username="facilitateur", password="demo")
    response = client.post(url("referral", referral.pk, "start_review"))
    assert response.status_code == 302 and response["Location"] == reverse("referral_detail", args=[referral.pk])
    referral.refresh_from_db()
    assert referral.state == "under_review"
    assert (
        JournalEvent.objects.filter(object_type="referral", object_id=referral.pk, action="start_review").count() == 1
    )


def test_stale_click_shows_message_and_fresh_state(site, client, referral):
    referrals.referral_start_review(actor=site.facilitator, referral=referral)
    client.login(username="facilitateur", password="demo")
    response = client.post(url("referral", referral.pk, "start_review"), follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "impossible" in body and "En examen" in body
    assert (
        JournalEvent.objects.filter(object_type="referral", object_id=referral.pk, action="start_review").count() == 1
    )


def test_reason_required_keeps_input_and_writes_nothing(site, client, referral):
    client.login(username="facilitateur", password="demo")
    response = client.post(url("referral", referral.pk, "decline"), {"reason": "   "})
    assert response.status_code == 400
    assert "obligatoire" in response.content.decode()
    referral.refresh_from_db()
    assert referral.state == "sent"


def test_hire_guard_error_lands_on_its_field(site, client, referral):
    f, e = site.facilitator, site.employer
    referrals.referral_start_review(actor=f, referral=referral)
    referrals.referral_approve(actor=f, referral=referral)
    referrals.referral_forward(actor=f, referral=referral)
    referrals.referral_accept(actor=e, referral=referral)
    client.login(username="employeur", password="demo")
    too_late = site.lot.execution_ends_on + datetime.timedelta(days=10)
    data = {
        "contract_type": "cdd",
        "start_date": too_late.isoformat(),
        "weekly_hours": "35",
        "fulfilment_mode": "direct_hire",
    }
    response = client.post(url("referral", referral.pk, "hire"), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "période d&#x27;exécution" in body and too_late.isoformat() in body  # kept input
    assert Referral.objects.get(pk=referral.pk).state == "accepted"
    response = client.post(url("referral", referral.pk, "hire"), {**data, "start_date": site.today.isoformat()})
    assert response.status_code == 302
    assert Referral.objects.get(pk=referral.pk).state == "hired"


def test_form_page_renders_inputs(site, client, referral):
    client.login(username="facilitateur", password="demo")
    body = client.get(url("referral", referral.pk, "decline")).content.decode()
    assert 'name="reason"' in body and "Ne pas valider" in body


@pytest.mark.parametrize("username", ["conseiller.b", "employeur", "employeur.b", "auditeur"])
def test_out_of_scope_or_wrong_role(site, client, referral, username):
    client.login(username=username, password="demo")
    response = client.post(url("referral", referral.pk, "start_review"))
    # Out of scope → 404; in scope but the role may not → 403 before the form is read; nothing changes.
    assert response.status_code in (403, 404)
    referral.refresh_from_db()
    assert referral.state == "sent"


def test_unknown_machine_or_transition_is_404(site, client, referral):
    client.login(username="facilitateur", password="demo")
    assert client.post(url("referral", referral.pk, "explode")).status_code == 404
    assert client.post(url("nothing", referral.pk, "approve")).status_code == 404
    assert client.post(url("referral", referral.pk, "expire")).status_code == 404  # system only
    assert client.post(url("referral", 999999, "approve")).status_code == 404


def test_next_must_stay_on_site(site, client, referral):
    client.login(username="facilitateur", password="demo")
    response = client.post(url("referral", referral.pk, "start_review"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("referral_detail", args=[referral.pk])


def test_a_form_whose_every_submission_would_be_refused_is_not_shown(site, client, referral):
    """A stale link (the state moved on): the refusal is said where the action was offered, no form to fill."""
    referrals.referral_start_review(actor=site.facilitator, referral=referral)
    client.login(username="facilitateur", password="demo")
    response = client.get(url("referral", referral.pk, "start_review"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("referral_detail", args=[referral.pk])
    assert "Action « Prendre en examen » impossible" in response.content.decode()


def test_a_post_on_an_object_out_of_reach_says_nothing_was_written(site, client, referral):
    """QA: the employer's refusal form posted after the adviser cancelled the referral answered a bare « Objet
    introuvable »: still a 404 (as for an object never in reach), which says what happened to the form."""
    client.login(username="conseiller.b", password="demo")
    response = client.post(url("referral", referral.pk, "cancel"), {"reason": "Déménagement"})
    body = html.unescape(response.content.decode())
    assert response.status_code == 404 and "« Annuler le positionnement » n'a pas été enregistré" in body
    referral.refresh_from_db()
    assert referral.state == "sent"


def test_a_required_choice_is_never_chosen_for_the_user(site, client):
    """QA: the exit form preselected « Emploi — CDI »: a hasty click recorded it."""
    pathway = site.participant(hired=True).pathways.get()
    client.login(username="conseillere", password="demo")
    body = client.get(url("pathway", pathway.pk, "exit")).content.decode()
    assert '<option value="" selected>— choisir —</option>' in body
    response = client.post(url("pathway", pathway.pk, "exit"), {"exited_on": site.today.isoformat()})
    assert response.status_code == 400 and "Ce champ est obligatoire" in response.content.decode()
    pathway.refresh_from_db()
    assert pathway.state != "exited"

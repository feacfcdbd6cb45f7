"""A transition form carries what it was opened on (the last event of its object's journal chain): sent after
someone else acted on the object, it writes nothing, says what happened since, and comes back current — instead of
acting on what its author never saw (a decision on another eligibility request than the one on screen, a start date
overwriting a correction the author never saw). A form sent again from there acts."""

import datetime
import html
import re

from django.urls import reverse

from parcours.models import Pathway, Placement
from parcours.services import followups, pathways, placements, referrals
from parcours.work.models import WorkTask
from tests.web.test_employer import forwarded
from tests.web.test_facilitator import pending_participant
from workflows.engine import chain_sequence
from workflows.models import JournalEvent


def text(response):
    return html.unescape(response.content.decode())


def seen_of(body, prefix=""):
    return re.search(rf'name="{prefix}seen" value="(\d+)"', body).group(1)


def planned_placement(site, start):
    _, referral = forwarded(site)
    referrals.referral_accept(actor=site.employer, referral=referral)
    return referrals.referral_hire(
        actor=site.employer, referral=referral, contract_type="cdd", start_date=start, weekly_hours=35
    )


def test_a_start_date_corrected_meanwhile_is_not_overwritten_unseen(site, client):
    later = site.today + datetime.timedelta(days=20)
    placement = planned_placement(site, later)
    url = reverse("transition", args=["placement", placement.pk, "change_start_date"])
    client.login(username="facilitateur", password="demo")
    form = client.get(url).content.decode()
    seen = seen_of(form)
    assert int(seen) == chain_sequence("placement", placement.pk) > 0
    # Meanwhile the employer corrects the date.
    corrected = site.today + datetime.timedelta(days=10)
    placements.placement_change_start_date(actor=site.employer, placement=placement, start_date=corrected)
    mine = (site.today + datetime.timedelta(days=12)).isoformat()
    response = client.post(url, {"start_date": mine, "reason": "Décalé", "seen": seen})
    body = text(response)
    assert response.status_code == 409
    assert "Ce dossier a changé depuis l'ouverture de cette page (« Corriger la date de début » le " in body
    assert "rien n'a été enregistré. Vérifiez-le, puis confirmez à nouveau." in body
    assert f'value="{mine}"' in body  # what was typed is kept
    assert Placement.objects.get(pk=placement.pk).start_date == corrected
    assert JournalEvent.objects.filter(object_id=placement.pk, action="change_start_date").count() == 1
    # The page came back current: confirming acts.
    response = client.post(url, {"start_date": mine, "reason": "Décalé", "seen": seen_of(body)})
    assert response.status_code == 302
    assert Placement.objects.get(pk=placement.pk).start_date.isoformat() == mine


def test_an_eligibility_decision_is_taken_on_the_request_shown(site, client):
    """Found from outside: the facilitator's page showed four declared criteria; meanwhile the adviser withdrew,
    reopened and resubmitted with a derogation and no criterion. The old page validated the new request."""
    pathway = pending_participant(site)
    url = reverse("facilitator:validate_eligibility", args=[pathway.pk])
    client.login(username="facilitateur", password="demo")
    seen = seen_of(client.get(url).content.decode())
    pathways.pathway_withdraw(actor=site.adviser, pathway=pathway, reason="Erreur de dossier")
    pathways.pathway_reopen(actor=site.adviser, pathway=pathway, reason="Nouvelle demande")
    pathways.pathway_submit_eligibility(
        actor=site.adviser, pathway=pathway, criteria=[], derogation_reason="Dérogation exceptionnelle motivée"
    )
    data = {"valid_until": (site.today + datetime.timedelta(days=365)).isoformat(), "confirm_unseen": "1"}
    response = client.post(url, {**data, "seen": seen})
    body = text(response)
    assert response.status_code == 409
    assert "(« Abandon » le " in body and "« Rouvrir" in body
    assert "Dérogation exceptionnelle motivée" in body  # the page now shows the request it would decide on
    assert Pathway.objects.get(pk=pathway.pk).state == "eligibility_pending"
    assert client.post(url, {**data, "seen": seen_of(body)}).status_code == 302
    assert Pathway.objects.get(pk=pathway.pk).state == "eligible"


def test_a_task_action_form_is_checked_too(site, client):
    _, referral = forwarded(site)
    referrals.referral_accept(actor=site.employer, referral=referral)
    task = WorkTask.objects.get(referral=referral, status__in=["NEW", "ASSIGNED"])
    client.login(username="employeur", password="demo")
    url = reverse("work:task", args=[task.pk])
    seen = seen_of(client.get(url).content.decode(), prefix="hire-")
    # A page one event behind (what a colleague's action in between leaves it): refused, then current.
    data = {
        "action": "hire",
        "hire-contract_type": "cdd",
        "hire-start_date": site.today.isoformat(),
        "hire-weekly_hours": "35",
        "hire-seen": str(int(seen) - 1),
    }
    response = client.post(url, data)
    assert response.status_code == 409
    assert "Ce dossier a changé depuis l'ouverture de cette page" in text(response)
    referral.refresh_from_db()
    assert referral.state == "accepted"
    assert client.post(url, {**data, "hire-seen": seen}).status_code == 302
    referral.refresh_from_db()
    assert referral.state == "hired"


def test_unreadable_or_missing_seen(site, client):
    later = site.today + datetime.timedelta(days=20)
    placement = planned_placement(site, later)
    url = reverse("transition", args=["placement", placement.pk, "change_start_date"])
    client.login(username="employeur", password="demo")
    one = (site.today + datetime.timedelta(days=5)).isoformat()
    for forged in ("abc", "-3", "9999999999", "999"):
        response = client.post(url, {"start_date": one, "seen": forged})
        assert response.status_code == 409, forged
        assert "rien n'a été enregistré" in text(response)
    assert Placement.objects.get(pk=placement.pk).start_date == later
    # A form from before this check sends none: it acts on the current object, as it did.
    assert client.post(url, {"start_date": one}).status_code == 302
    assert Placement.objects.get(pk=placement.pk).start_date.isoformat() == one


def test_a_follow_up_recorded_meanwhile_does_not_make_the_page_stale(site, client):
    """Found from outside: a follow-up recorded on the pathway made the facilitator's eligibility page stale (and
    named « Suivi enregistré » to a role that does not see follow-ups). A note beside the case moves nothing the page
    showed; a transition still does."""
    pathway = pending_participant(site)
    url = reverse("facilitator:validate_eligibility", args=[pathway.pk])
    client.login(username="facilitateur", password="demo")
    seen = seen_of(client.get(url).content.decode())
    followups.followup_record(actor=site.adviser, pathway=pathway, kind="phone", done_on=site.today)
    data = {"valid_until": (site.today + datetime.timedelta(days=365)).isoformat(), "confirm_unseen": "1"}
    assert client.post(url, {**data, "seen": seen}).status_code == 302
    assert Pathway.objects.get(pk=pathway.pk).state == "eligible"

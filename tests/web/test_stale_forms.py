"""A transition form carries what it was opened on (the last event of its object's journal chain): sent after
someone else acted on the object, it writes nothing, says what happened since, and comes back current — instead of
acting on what its author never saw (a decision on another eligibility request than the one on screen, a start date
overwriting a correction the author never saw). A form sent again from there acts."""

import datetime
import html
import re

from django.urls import reverse

from parcours.models import Pathway, Placement
from parcours.services import followups, pathways, placements, referrals, register
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


def listed_of(body):
    return re.search(r'name="listed" value="(\d+)"', body).group(1)


def second_offer(site, title="Coffreur·se"):
    return register.offer_create(
        actor=site.facilitator,
        lot=site.lot,
        title=title,
        trade="Coffreur",
        contract_type="cdd",
        weekly_hours=35,
        location="Lille",
        positions=2,
    )


def test_a_closing_page_does_not_cancel_a_referral_made_since_unseen(site, client):
    """The withdrawal page lists the open referrals it cancels; a colleague's referral made after it was drawn is
    not on it: sent as it was, nothing is written and the page comes back listing it; sent again, both go."""
    participant = site.participant()
    pathway = participant.pathways.get()
    first = pathway.referrals.get()
    url = reverse("transition", args=["pathway", pathway.pk, "withdraw"])
    client.login(username="conseillere", password="demo")
    body = text(client.get(url))
    assert int(listed_of(body)) == first.pk
    added = referrals.referral_create(actor=site.adviser, pathway=pathway, offer=second_offer(site))
    response = client.post(url, {"reason": "Déménagement", "seen": seen_of(body), "listed": listed_of(body)})
    again = text(response)
    assert response.status_code == 409
    assert "Ce dossier a changé depuis l'ouverture de cette page (« Positionner » le " in again
    assert "Coffreur·se" in again.split("annulés par cette action")[1].split("</ul>")[0]
    assert Pathway.objects.get(pk=pathway.pk).state == "referred"
    assert {r.state for r in pathway.referrals.all()} == {"sent"}
    assert int(listed_of(again)) == added.pk
    response = client.post(url, {"reason": "Déménagement", "seen": seen_of(again), "listed": listed_of(again)})
    assert response.status_code == 302
    assert Pathway.objects.get(pk=pathway.pk).state == "withdrawn"
    assert {r.state for r in pathway.referrals.all()} == {"cancelled"}


def closing_page(site, client, name):
    """A referred pathway's closing page as the adviser opened it: (pathway, its address, the page)."""
    pathway = site.participant().pathways.get()
    url = reverse("transition", args=["pathway", pathway.pk, name])
    client.login(username="conseillere", password="demo")
    return pathway, url, text(client.get(url))


def test_a_closing_page_refused_for_its_own_changes_names_them_first(site, client):
    pathway, url, body = closing_page(site, client, "mark_lost_contact")
    referrals.referral_create(actor=site.adviser, pathway=pathway, offer=second_offer(site))
    pathways.pathway_withdraw(actor=site.adviser, pathway=pathway, reason="Parti")
    pathways.pathway_reopen(actor=site.adviser, pathway=pathway, reason="Revenu")
    response = client.post(url, {"reason": "Injoignable", "seen": seen_of(body), "listed": listed_of(body)})
    again = text(response)
    assert response.status_code == 409
    assert "(« Abandon » le " in again and "« Rouvrir le parcours » le " in again
    assert Pathway.objects.get(pk=pathway.pk).state == "eligible"


def test_an_unreadable_listed_value_refuses_and_comes_back_current(site, client):
    pathway, url, body = closing_page(site, client, "withdraw")
    response = client.post(url, {"reason": "Parti", "seen": seen_of(body), "listed": "abc"})
    assert response.status_code == 409
    assert Pathway.objects.get(pk=pathway.pk).state == "referred"
    # A page that says what it saw but not what it listed (drawn by the release before) listed nothing: refused.
    again = text(client.post(url, {"reason": "Parti", "seen": seen_of(body)}))
    assert Pathway.objects.get(pk=pathway.pk).state == "referred"
    # Without either (a form from before both), the action is taken on what is there, as any other form's.
    response = client.post(url, {"reason": "Parti"})
    assert response.status_code == 302 and "listed" in again


def test_an_exit_cancels_the_pathways_open_referrals(site, client):
    """An exit closes the pathway as a withdrawal does: a second referral still open is cancelled (it stayed open on
    an exited pathway, and the exit page said it would go)."""
    participant = site.participant(hired=True)
    pathway = participant.pathways.get()
    added = referrals.referral_create(actor=site.adviser, pathway=pathway, offer=second_offer(site))
    url = reverse("transition", args=["pathway", pathway.pk, "exit"])
    client.login(username="conseillere", password="demo")
    body = text(client.get(url))
    assert "Coffreur·se" in body.split("annulés par cette action")[1].split("</ul>")[0]
    data = {
        "exited_on": site.today.isoformat(),
        "situation": "cdi",
        "seen": seen_of(body),
        "listed": listed_of(body),
    }
    assert client.post(url, data).status_code == 302
    added.refresh_from_db()
    assert added.state == "cancelled"
    assert Pathway.objects.get(pk=pathway.pk).state == "exited"
    event = JournalEvent.objects.get(object_type="referral", object_id=added.pk, action="cancel")
    assert event.actor_user_id == site.adviser.user.pk


def test_an_exit_through_the_service_cancels_open_referrals_too(site):
    participant = site.participant(hired=True)
    pathway = participant.pathways.get()
    added = referrals.referral_create(actor=site.adviser, pathway=pathway, offer=second_offer(site))
    pathways.pathway_exit(actor=site.adviser, pathway=pathway, exited_on=site.today, situation="cdi")
    added.refresh_from_db()
    assert added.state == "cancelled" and added.pathway.state == "exited"

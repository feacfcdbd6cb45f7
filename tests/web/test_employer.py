"""Employer pages: candidates forwarded to me, my placements and their hours, my offers, and the referral page.
Only hiring data are shown (never birth date, address or eligibility criteria); scope (other employer → 404,
other role → 403), stale clicks, bad input (400, French errors, kept input, nothing written), query counts."""

import datetime
import html
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from parcours.dates import month_label
from parcours.models import HoursLine, Placement
from parcours.services import placements, referrals
from tests.factories import backdate_placement, last_month
from workflows.models import JournalEvent

# session, user, memberships, then the page's own queries (fixed whatever the number of rows)
QUERIES = {
    "employer:candidates": 5 + 1,  # count + the page's ids + its rows
    "employer:placements": 6 + 1,  # count + the page's ids + its rows + hours lines
    "employer:offers": 5,  # count + page
}


def login(client, username):
    assert client.login(username=username, password="demo")
    return client


def text(response):
    return html.unescape(response.content.decode())


def forwarded(site):
    """A participant referred, approved and forwarded to the employer: a candidate waiting for an answer."""
    p = site.participant()
    referral = p.pathways.get().referrals.get()
    for step in (referrals.referral_start_review, referrals.referral_approve, referrals.referral_forward):
        step(actor=site.facilitator, referral=referral)
    return p, referral


def hired(site, *, start=True):
    p, referral = forwarded(site)
    referrals.referral_accept(actor=site.employer, referral=referral)
    placement = referrals.referral_hire(
        actor=site.employer, referral=referral, contract_type="cdd", start_date=site.today, weekly_hours=35
    )
    if start:
        placements.placement_start(actor=site.employer, placement=placement)
    return p, referral, placement


def _grow(site, name, n):
    for _ in range(n):
        if name == "employer:candidates":
            forwarded(site)
        elif name == "employer:placements":
            site.participant(hired=True)
        else:
            from parcours.services import register

            register.offer_create(
                actor=site.facilitator,
                lot=site.lot,
                title=f"Poste {site.counter}",
                trade="Maçon",
                contract_type="cdd",
                weekly_hours=35,
                location="Lille",
            )
            site.counter += 1


@pytest.mark.parametrize("name", list(QUERIES))
def test_pages_are_for_employers_only(site, client, name):
    for username in ["conseillere", "facilitateur", "auditeur"]:
        login(client, username)
        assert client.get(reverse(name)).status_code == 403
        client.logout()
    assert client.get(reverse(name)).status_code == 302


@pytest.mark.parametrize("name", list(QUERIES))
def test_list_query_count_is_pinned(site, client, name):
    _grow(site, name, 2)
    login(client, "employeur")
    client.get(reverse(name))
    with CaptureQueriesContext(connection) as before:
        assert client.get(reverse(name)).status_code == 200
    _grow(site, name, 4)
    with CaptureQueriesContext(connection) as after:
        response = client.get(reverse(name))
    assert response.status_code == 200
    assert len(before) == len(after) == QUERIES[name], (len(before), len(after))


# --- Candidates -------------------------------------------------------------------------------------------------
def test_candidates_show_only_hiring_data(site, client):
    p, _ = forwarded(site)
    not_forwarded = site.participant()
    response = login(client, "employeur").get(reverse("employer:candidates"))
    body = text(response)
    assert p.last_name.upper() in body and p.email in body and "Maçon·ne" in body
    assert not_forwarded.last_name.upper() not in body
    assert p.birth_date.strftime("%d/%m/%Y") not in body and "Jeune suivi·e par une Mission Locale" not in body
    assert "Retenir la candidature" in body and "Refuser la candidature" in body
    client.logout()
    body = text(login(client, "employeur.b").get(reverse("employer:candidates")))
    assert p.last_name.upper() not in body


def test_candidates_state_filter(site, client):
    waiting, _ = forwarded(site)
    done = site.participant(hired=True)
    login(client, "employeur")
    body = text(client.get(reverse("employer:candidates")))
    assert waiting.last_name.upper() in body and done.last_name.upper() not in body
    body = text(client.get(reverse("employer:candidates"), {"state": "hired"}))
    assert waiting.last_name.upper() not in body and done.last_name.upper() in body


def test_accept_then_hire_through_the_referral_page(site, client):
    p, referral = forwarded(site)
    login(client, "employeur")
    page = reverse("referral_detail", args=[referral.pk])
    assert "Retenir la candidature" in text(client.get(page))
    client.post(reverse("transition", args=["referral", referral.pk, "accept"]), {"next": page})
    body = text(client.get(page))
    assert "Confirmer l'embauche" in body and "Refuser la candidature" in body
    hire = reverse("transition", args=["referral", referral.pk, "hire"])
    assert client.get(hire).status_code == 200
    # Start outside the lot's execution window: French field error, kept input, nothing written.
    too_late = (site.lot.execution_ends_on + datetime.timedelta(days=10)).isoformat()
    data = {"contract_type": "cdd", "start_date": too_late, "weekly_hours": "35", "fulfilment_mode": "direct_hire"}
    response = client.post(hire, data)
    assert response.status_code == 400 and "période d'exécution du lot" in text(response)
    assert f'value="{too_late}"' in response.content.decode()
    assert not Placement.objects.filter(referral=referral).exists()
    data["start_date"] = site.today.isoformat()
    assert client.post(hire, {**data, "next": page}).status_code == 302
    placement = Placement.objects.get(referral=referral)
    assert placement.state == "planned" and placement.weekly_hours == 35
    body = text(client.get(page))
    assert "Mise en poste" in body and "Démarrer le contrat" in body and "Contrat non commencé" in body
    assert p.birth_date.strftime("%d/%m/%Y") not in body and "Ouvrir le dossier" not in body
    # Stale click: accepting again.
    response = client.post(
        reverse("transition", args=["referral", referral.pk, "accept"]), {"next": page}, follow=True
    )
    assert "Quelqu'un a peut-être agi avant vous" in text(response)


def test_refuse_needs_a_reason(site, client):
    _, referral = forwarded(site)
    login(client, "employeur")
    url = reverse("transition", args=["referral", referral.pk, "refuse"])
    response = client.post(url, {"reason": ""})
    assert response.status_code == 400 and "Ce champ est obligatoire" in text(response)
    referral.refresh_from_db()
    assert referral.state == "forwarded"
    assert client.post(url, {"reason": "Poste pourvu"}).status_code == 302
    referral.refresh_from_db()
    assert referral.state == "refused" and referral.decision_reason == "Poste pourvu"


def test_other_employer_gets_404(site, client):
    _, referral = forwarded(site)
    _, _, placement = hired(site)
    login(client, "employeur.b")
    assert client.get(reverse("referral_detail", args=[referral.pk])).status_code == 404
    assert client.post(reverse("transition", args=["referral", referral.pk, "accept"])).status_code == 404
    assert client.get(reverse("employer:declare_hours", args=[placement.pk])).status_code == 404
    assert client.post(reverse("employer:declare_hours", args=[placement.pk]), {}).status_code == 404
    assert client.post(reverse("transition", args=["placement", placement.pk, "end"])).status_code == 404
    referral.refresh_from_db()
    assert referral.state == "forwarded" and not HoursLine.objects.filter(placement=placement).exists()


# --- Placements -------------------------------------------------------------------------------------------------
def test_placements_start_and_end(site, client):
    p, referral, placement = hired(site, start=False)
    login(client, "employeur")
    body = text(client.get(reverse("employer:placements")))
    assert p.last_name.upper() in body and "Démarrer le contrat" in body
    assert p.birth_date.strftime("%d/%m/%Y") not in body
    next_url = reverse("employer:placements")
    client.post(reverse("transition", args=["placement", placement.pk, "start"]), {"next": next_url})
    placement.refresh_from_db()
    assert placement.state == "active"
    body = text(client.get(next_url))
    assert "Déclarer la fin du contrat" in body and "Déclarer les heures" in body
    end = reverse("transition", args=["placement", placement.pk, "end"])
    response = client.post(end, {"end_date": site.today.isoformat(), "end_kind": "early", "reason": ""})
    assert response.status_code == 400 and "Le motif est obligatoire pour une fin anticipée." in text(response)
    placement.refresh_from_db()
    assert placement.state == "active"
    response = client.post(end, {"end_date": site.today.isoformat(), "end_kind": "early", "reason": "Démission"})
    assert response.status_code == 302
    placement.refresh_from_db()
    assert (placement.state, placement.end_kind, placement.end_reason) == ("ended", "early", "Démission")


def test_placement_not_started(site, client):
    _, _, placement = hired(site, start=False)
    login(client, "employeur")
    url = reverse("transition", args=["placement", placement.pk, "cancel"])
    assert client.post(url, {"reason": ""}).status_code == 400
    assert client.post(url, {"reason": "Ne s'est pas présenté·e"}).status_code == 302
    placement.refresh_from_db()
    assert placement.state == "cancelled"


# --- Hours ---------------------------------------------------------------------------------------------------------
def test_declare_hours(site, client):
    _, referral, placement = hired(site)
    placement = backdate_placement(placement)
    login(client, "employeur")
    url = reverse("employer:declare_hours", args=[placement.pk])
    body = text(client.get(url))
    month = last_month().strftime("%Y-%m")
    assert 'type="month"' in body and "Déclarer les heures" in body and f'value="{month}"' in body
    response = client.post(url, {"month": month, "hours": "70,5"}, follow=True)
    # As every page says hours and months (it said « 70.50 h pour 11/2026 »).
    assert f"Heures déclarées : 70,5\u00a0h pour {month_label(last_month())}." in text(response)
    line = HoursLine.objects.get(placement=placement)
    assert (line.month, line.hours, line.state) == (last_month(), Decimal("70.5"), "declared")
    assert "70,5\u00a0h — Déclaré" in text(client.get(url))
    # The facilitator sees it on the referral page with its actions; the employer does not get them.
    assert "Valider les heures" not in text(client.get(reverse("referral_detail", args=[referral.pk])))
    client.logout()
    login(client, "facilitateur")
    assert "Valider les heures" in text(client.get(reverse("referral_detail", args=[referral.pk])))


def test_declare_hours_bad_input(site, client):
    _, _, placement = hired(site)
    placement = backdate_placement(placement)
    login(client, "employeur")
    url = reverse("employer:declare_hours", args=[placement.pk])
    response = client.post(url, {"month": "pas un mois", "hours": "abc"})
    body = text(response)
    assert response.status_code == 400 and "Mois invalide (format attendu : aaaa-mm)." in body
    assert "Saisissez un nombre." in body
    assert 'value="abc"' in body
    next_month = (site.today.replace(day=28) + datetime.timedelta(days=5)).strftime("%Y-%m")
    response = client.post(url, {"month": next_month, "hours": "10"})
    assert response.status_code == 400
    assert "On ne déclare pas les heures d'un mois à venir." in text(response) or "en dehors" in text(response)
    response = client.post(url, {"month": "0001-01", "hours": "10"})  # it said « Janvier 1 précède le début… »
    assert response.status_code == 400 and "Mois : date hors des limites" in text(response)
    month = last_month().strftime("%Y-%m")
    response = client.post(url, {"month": month, "hours": "-3"})
    assert response.status_code == 400 and "Heures" in text(response)
    assert not HoursLine.objects.filter(placement=placement).exists()
    client.post(url, {"month": month, "hours": "10"})
    response = client.post(url, {"month": month, "hours": "12"})
    assert response.status_code == 400 and "Les heures de ce mois ont déjà été déclarées." in text(response)
    assert 'value="12"' in response.content.decode()
    assert HoursLine.objects.filter(placement=placement).count() == 1


def test_declare_hours_on_a_planned_placement_is_stale(site, client):
    _, _, placement = hired(site, start=False)
    login(client, "employeur")
    response = client.post(
        reverse("employer:declare_hours", args=[placement.pk]),
        {"month": site.today.strftime("%Y-%m"), "hours": "10"},
        follow=True,
    )
    assert "Les heures se déclarent une fois le contrat démarré." in text(response)
    assert not HoursLine.objects.filter(placement=placement).exists()


def test_adjustment_of_a_locked_month(site, client):
    _, _, placement = hired(site)
    placement = backdate_placement(placement)
    line = placements.hours_declare(actor=site.employer, placement=placement, month=last_month(), hours=Decimal("20"))
    placements.hoursline_validate(actor=site.facilitator, hours_line=line)
    placements.hoursline_lock(actor=site.facilitator, hours_line=line)
    login(client, "employeur")
    url = reverse("employer:declare_hours", args=[placement.pk])
    month = last_month().strftime("%Y-%m")
    response = client.post(url, {"month": month, "hours": "-4"})
    assert response.status_code == 400
    response = client.post(url, {"month": month, "hours": "-4", "is_adjustment": "on"})
    assert response.status_code == 302
    assert HoursLine.objects.get(placement=placement, is_adjustment=True).hours == Decimal("-4")


# --- Offers and referral page ---------------------------------------------------------------------------------------
def test_offers_of_awarded_lots(site, client):
    body = text(login(client, "employeur").get(reverse("employer:offers")))
    assert "Maçon·ne" in body and "Gros œuvre" in body
    client.logout()
    assert "Maçon·ne" not in text(login(client, "employeur.b").get(reverse("employer:offers")))


def test_referral_page_for_employer_never_shows_criteria(site, client):
    p = site.participant(hired=True)
    referral = p.pathways.get().referrals.get()
    body = text(login(client, "employeur").get(reverse("referral_detail", args=[referral.pk])))
    assert p.email in body and "Mise en poste" in body and "Relevés d'heures" in body
    for secret in [
        p.birth_date.strftime("%d/%m/%Y"),
        "Jeune suivi·e par une Mission Locale",
        "59000",
        "Ouvrir le dossier",
    ]:
        assert secret not in body
    client.logout()
    body = text(login(client, "conseillere").get(reverse("referral_detail", args=[referral.pk])))
    assert "Ouvrir le dossier" in body


def test_menu_links_reach_the_employer_pages(site, client):
    body = login(client, "employeur").get(reverse("home")).content.decode()
    for name in QUERIES:
        assert f'href="{reverse(name)}"' in body


def test_adviser_motivation_is_not_shown_to_the_employer(site, client):
    _, referral = forwarded(site)
    type(referral).objects.filter(pk=referral.pk).update(motivation="Sort d'un hébergement d'urgence")
    url = reverse("referral_detail", args=[referral.pk])
    assert "hébergement d'urgence" not in text(login(client, "employeur").get(url))
    client.logout()
    assert "hébergement d'urgence" in text(login(client, "facilitateur").get(url))


def test_a_part_time_hire_typed_with_a_comma_is_kept_and_shown_in_french(site, client):
    _, referral = forwarded(site)
    referrals.referral_accept(actor=site.employer, referral=referral)
    login(client, "employeur")
    hire = reverse("transition", args=["referral", referral.pk, "hire"])
    data = {"contract_type": "cdd", "start_date": site.today.isoformat(), "fulfilment_mode": "direct_hire"}
    for typed, message in [
        ("17,555", "pas plus de 2 chiffres après la virgule"),
        ("48,5", "égale à 48"),
        ("dix", "nombre"),
        ("1_7", "nombre"),
    ]:
        response = client.post(hire, {**data, "weekly_hours": typed})
        assert response.status_code == 400 and message in text(response), typed
        assert not Placement.objects.filter(referral=referral).exists()
    page = reverse("referral_detail", args=[referral.pk])
    assert client.post(hire, {**data, "weekly_hours": "17,5", "next": page}).status_code == 302
    assert Placement.objects.get(referral=referral).weekly_hours == Decimal("17.50")
    assert "17,5 h/sem." in text(client.get(page))


def test_hire_form_is_prefilled_from_the_offer_and_titled_with_the_candidate(site, client):
    p, referral = forwarded(site)
    referrals.referral_accept(actor=site.employer, referral=referral)
    login(client, "employeur")
    body = client.get(reverse("transition", args=["referral", referral.pk, "hire"])).content.decode()
    assert f"Confirmer l&#x27;embauche — {p.first_name} {p.last_name.upper()}</h1>" in body
    assert "Positionnement #" not in body and f"« {referral.offer.title} »" in html.unescape(body)
    start = max(site.today, site.lot.execution_starts_on).isoformat()
    assert f'value="{start}"' in body and 'value="35"' in body  # the offer's 35.00 h, as typed
    assert f'value="{referral.offer.contract_type}" selected' in body


def test_future_start_is_explained_and_can_be_corrected(site, client):
    p, referral = forwarded(site)
    referrals.referral_accept(actor=site.employer, referral=referral)
    later = site.today + datetime.timedelta(days=20)
    placement = referrals.referral_hire(
        actor=site.employer, referral=referral, contract_type="cdd", start_date=later, weekly_hours=35
    )
    login(client, "employeur")
    page = reverse("referral_detail", args=[referral.pk])
    body = text(client.get(page))
    assert f"« Démarrer le contrat » sera possible à partir du {later:%d/%m/%Y}" in body
    assert "Corriger la date de début" in body
    url = reverse("transition", args=["placement", placement.pk, "change_start_date"])
    form = client.get(url).content.decode()
    assert f'value="{later.isoformat()}"' in form and f"{p.first_name} {p.last_name.upper()}" in form
    # Outside the lot's execution window: a field error, nothing written.
    too_late = site.lot.execution_ends_on + datetime.timedelta(days=1)
    response = client.post(url, {"start_date": too_late.isoformat()})
    assert response.status_code == 400 and "période d'exécution du lot" in text(response)
    assert Placement.objects.get(pk=placement.pk).start_date == later
    # After the planned end: a field error, not a 500 (the database's check would refuse the row).
    Placement.objects.filter(pk=placement.pk).update(planned_end_date=later + datetime.timedelta(days=5))
    after_end = later + datetime.timedelta(days=6)
    response = client.post(url, {"start_date": after_end.isoformat(), "reason": "Décalé"})
    assert response.status_code == 400 and "suit la fin prévue du contrat" in text(response)
    assert Placement.objects.get(pk=placement.pk).start_date == later
    # Corrected to today: journaled with the former date, and the contract can start.
    response = client.post(
        url, {"start_date": site.today.isoformat(), "reason": "Date saisie par erreur", "next": page}
    )
    assert response.status_code == 302
    placement.refresh_from_db()
    assert placement.start_date == site.today and placement.state == "planned"
    event = JournalEvent.objects.get(object_type="placement", object_id=placement.pk, action="change_start_date")
    assert (event.inputs["previous"], event.inputs["start_date"]) == (later.isoformat(), site.today.isoformat())
    body = text(client.get(page))
    assert "Démarrer le contrat" in body and "sera possible à partir du" not in body
    assert f"Début prévu : {later:%d/%m/%Y} → {site.today:%d/%m/%Y}" in text(
        login(client, "conseillere").get(reverse("participant_detail", args=[p.pk]))
    )
    # Another employer cannot.
    client.logout()
    login(client, "employeur.b")
    assert client.post(url, {"start_date": later.isoformat()}).status_code == 404


def test_candidates_filter_offers_only_the_states_an_employer_sees(site, client):
    forwarded(site)
    login(client, "employeur")
    body = client.get(reverse("employer:candidates")).content.decode()
    for shown in ("forwarded", "accepted", "hired"):
        assert f'value="{shown}"' in body
    for hidden in ("sent", "under_review", "approved", "declined", "refused", "cancelled", "expired"):
        assert f'value="{hidden}"' not in body
    # A state outside that list in the URL is ignored (the default filter applies).
    assert client.get(reverse("employer:candidates"), {"state": "sent"}).status_code == 200

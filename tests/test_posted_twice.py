"""A creation form posted twice (a double click, a second tab) creates once: the second is refused by name and
writes nothing — for the register's operations and job offers, as for participants and referrals."""

import datetime
import html
from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.test import APIClient

from parcours.models import FollowUp, JobOffer, Operation
from parcours.services import followups, register
from tests.factories import db_counts, make_offer, make_pathway, today
from workflows.errors import DomainError
from workflows.vocabulary import ContractType

pytestmark = pytest.mark.django_db


def test_the_same_offer_is_not_opened_twice_on_a_lot(world):
    data = {
        "title": "Manœuvre VRD",
        "trade": "Manœuvre VRD",
        "contract_type": ContractType.CDD,
        "weekly_hours": Decimal("17.5"),
        "location": "Vénissieux — chantier Jean-Moulin",
    }
    first = make_offer(world.a, **data)
    before = db_counts()
    for again in (data, {**data, "title": "MANŒUVRE VRD", "weekly_hours": Decimal("17.50")}):
        with pytest.raises(DomainError) as refused:
            make_offer(world.a, **again)
        assert refused.value.code == "duplicate_offer" and refused.value.field == "title"
        assert "clôturez l'offre ouverte pour la publier à nouveau" in refused.value.message
    assert db_counts() == before
    # Another job, or the same once the first is closed, is a new offer.
    make_offer(world.a, **{**data, "weekly_hours": 35})
    register.offer_close(actor=world.a.facilitator, offer=first)
    make_offer(world.a, **data)
    assert JobOffer.objects.filter(title="Manœuvre VRD").count() == 3


def test_the_offer_form_posted_twice_creates_one_offer(world):
    client = Client()
    client.force_login(world.a.facilitator.user)
    form = {
        "title": "Manœuvre VRD — QA",
        "trade": "Manœuvre VRD",
        "contract_type": "cdd",
        "weekly_hours": "17,5",
        "location": "Vénissieux",
        "positions": "1",
    }
    url = f"/facilitation/registre/lots/{world.a.lot.pk}/offres/"
    responses = [client.post(url, form) for _ in range(2)]
    assert responses[0].status_code == 302 and responses[1].status_code == 400
    assert "est déjà ouverte sur ce lot" in responses[1].content.decode()
    assert JobOffer.objects.filter(title="Manœuvre VRD — QA").count() == 1


def test_the_same_operation_is_not_opened_twice(world):
    data = {
        "name": "Quartier des Minguettes",
        "commune": "Vénissieux",
        "starts_on": today(),
        "ends_on": today() + datetime.timedelta(days=700),
    }
    register.operation_create(actor=world.a.facilitator, **data)
    with pytest.raises(DomainError) as refused:
        register.operation_create(actor=world.a.facilitator, **{**data, "name": "quartier des minguettes "})
    assert refused.value.code == "duplicate_operation" and refused.value.field == "name"
    register.operation_create(actor=world.b.facilitator, **data)  # another organisation's register
    register.operation_create(actor=world.a.facilitator, **{**data, "commune": "Lyon"})
    assert Operation.objects.filter(name="Quartier des Minguettes").count() == 3


def test_a_follow_up_sent_twice_is_recorded_once(world):
    """Found from outside: the follow-up form sent again (browser back, a second tab, a retried API call) recorded
    two identical contacts, which the journal keeps forever. The same type, day and note again is refused by name;
    another note, day or type is another contact."""
    pathway = make_pathway(world, "eligible")
    data = {"kind": "interview", "done_on": today(), "note": "Point sur le CV"}
    followups.followup_record(actor=world.a.adviser, pathway=pathway, **data)
    before = db_counts()
    with pytest.raises(DomainError) as refused:
        followups.followup_record(actor=world.a.adviser, pathway=pathway, **{**data, "note": " Point sur le CV "})
    assert refused.value.code == "duplicate_follow_up" and refused.value.field == "note"
    assert "Ce suivi est déjà enregistré (Entretien du " in refused.value.message
    assert db_counts() == before
    followups.followup_record(actor=world.a.adviser, pathway=pathway, **{**data, "note": "Second appel"})
    followups.followup_record(actor=world.a.adviser, pathway=pathway, **{**data, "kind": "phone"})
    assert FollowUp.objects.filter(pathway=pathway).count() == 3


def test_the_follow_up_page_posted_twice_records_once(world):
    pathway = make_pathway(world, "eligible")
    client = Client()
    client.force_login(world.a.adviser.user)
    url = f"/conseil/parcours/{pathway.pk}/suivi/"
    form = {"kind": "interview", "done_on": today().isoformat(), "note": ""}
    responses = [client.post(url, form) for _ in range(2)]
    assert responses[0].status_code == 302 and responses[1].status_code == 400
    assert "il a sans doute été envoyé deux fois" in html.unescape(responses[1].content.decode())
    assert FollowUp.objects.filter(pathway=pathway).count() == 1


def test_the_follow_up_api_sent_twice_records_once(world):
    pathway = make_pathway(world, "eligible")
    client = APIClient()
    client.force_authenticate(world.a.adviser.user)
    url = f"/api/v1/pathways/{pathway.pk}/follow-ups/"
    body = {"kind": "phone", "done_on": today().isoformat()}
    first, second = (client.post(url, body, format="json") for _ in range(2))
    assert first.status_code == 201 and second.status_code == 409, second.content
    assert second.json()["code"] == "duplicate_follow_up"
    assert FollowUp.objects.filter(pathway=pathway).count() == 1

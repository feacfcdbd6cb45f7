"""Facilitator pages: clause register, offers, referrals to review, eligibility validation, hours lines.
Scope (other organisation → 404, other role → 403), stale clicks, bad input (400, French errors, kept input,
nothing written) and query counts that do not grow with the rows."""

import datetime
import html
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from parcours.models import (
    AssessedCriterion,
    ContractLot,
    CountingRuleSet,
    HoursLine,
    JobOffer,
    Operation,
    ParticipantAccess,
    Pathway,
    PublicContract,
    Referral,
)
from parcours.services import participants, pathways, referrals, register
from roles.actor import Actor
from roles.enums import OrganisationKind, Role
from roles.models import Membership, Organisation

# session, user, memberships, then the page's own queries (fixed whatever the number of rows)
QUERIES = {
    "facilitator:referrals": 6,  # count + the page's ids + its rows
    "facilitator:eligibility": 6,  # count + the page's ids + its rows
    "facilitator:hours": 6,  # count + the page's ids + its rows
    "facilitator:register": 8,  # operations + contracts + lots, then their counted hours (summaries: lot_hours)
}


def login(client, username):
    assert client.login(username=username, password="demo")
    return client


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return len(ctx.captured_queries), response


def other_facilitator(site):
    """A second facilitation organisation (its own user `facilitateur.b`) running its own lot."""
    org = Organisation.objects.create(name="Structure porteuse B", kind=OrganisationKind.FACILITATION)
    org.partners.add(site.ml)
    user = User.objects.create_user("facilitateur.b", password="demo")
    actor = Actor.from_membership(Membership.objects.create(user=user, organisation=org, role=Role.FACILITATOR))
    op = register.operation_create(
        actor=actor, name="Gymnase", commune="Roubaix", starts_on=site.today, ends_on=site.today
    )
    contract = register.contract_create(
        actor=actor, operation=op, reference="B-1", title="Sols", buyer=site.buyer, legal_lever="L2112-2"
    )
    lot = register.lot_create(
        actor=actor,
        contract=contract,
        number=1,
        title="Sols sportifs",
        trade="Sols",
        amount_excl_tax=Decimal("100000"),
        sizing_method="fixed",
        fixed_hours=Decimal("100"),
        execution_starts_on=site.today,
        execution_ends_on=site.today + datetime.timedelta(100),
        fulfilment_modes=["direct_hire"],
        awardee=site.emp,
    )
    offer = register.offer_create(
        actor=actor, lot=lot, title="Solier", trade="Sols", contract_type="cdd", weekly_hours=35, location="Roubaix"
    )
    return actor, lot, offer


def pending_participant(site, *, criteria=("YOUTH_ML_FOLLOWED", "DISABLED_WORKER")):
    """A participant whose eligibility waits for the facilitator's validation."""
    site.counter += 1
    p = participants.participant_create(
        actor=site.adviser,
        data={
            "first_name": f"Attente{site.counter}",
            "last_name": f"Eligible{site.counter}",
            "birth_date": datetime.date(2004, 3, 1),
            "postcode": "59000",
            "commune": "Lille",
            "qualification_level": "level_3",
        },
    )
    pathway = p.pathways.get()
    pathways.pathway_submit_eligibility(actor=site.adviser, pathway=pathway, criteria=list(criteria))
    return pathway


def add_lot(site, number):
    """A lot on a new contract of a new operation (the register grows at every level)."""
    op = register.operation_create(
        actor=site.facilitator,
        name=f"Opération {number}",
        commune="Lille",
        starts_on=site.today,
        ends_on=site.today,
    )
    contract = register.contract_create(
        actor=site.facilitator,
        operation=op,
        reference=f"M-{number}",
        title="Peinture",
        buyer=site.buyer,
        legal_lever="L2112-2",
    )
    return register.lot_create(
        actor=site.facilitator,
        contract=contract,
        number=number,
        title=f"Lot {number}",
        trade="Peinture",
        amount_excl_tax=Decimal("10000"),
        sizing_method="fixed",
        fixed_hours=Decimal("50"),
        execution_starts_on=site.today,
        execution_ends_on=site.today + datetime.timedelta(30),
        fulfilment_modes=["direct_hire"],
        awardee=site.emp,
    )


# --- Menu pages: role and query counts ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(QUERIES))
def test_pages_are_for_facilitators_only(site, client, name):
    for username in ["conseillere", "employeur", "auditeur"]:
        login(client, username)
        assert client.get(reverse(name)).status_code == 403
        client.logout()
    client.get(reverse(name))
    assert client.get(reverse(name)).status_code == 302  # anonymous: login page


def _grow(site, name, n):
    for _ in range(n):
        if name == "facilitator:referrals":
            site.participant()
        elif name == "facilitator:eligibility":
            pending_participant(site)
        elif name == "facilitator:hours":
            _declared_line(site)
        else:
            site.counter += 1
            add_lot(site, 100 + site.counter)


@pytest.mark.parametrize("name", list(QUERIES))
def test_list_query_count_is_pinned(site, client, name):
    _grow(site, name, 2)
    login(client, "facilitateur")
    client.get(reverse(name))  # the first request stores the current organisation
    before, response = count_queries(client, reverse(name))
    _grow(site, name, 4)
    # New lots are counted once by the first read (or the worker) at a fixed cost: tests/test_lot_hours.py.
    client.get(reverse(name))
    after, response = count_queries(client, reverse(name))
    assert before == after == QUERIES[name], (before, after)


# --- Clause register -------------------------------------------------------------------------------------------
def test_register_shows_target_and_realised_hours(site, client):
    site.participant(hired=True)  # 70 validated hours on the lot
    body = login(client, "facilitateur").get(reverse("facilitator:register")).content.decode()
    assert "École" in body and "M-1" in body and "Gros œuvre" in body
    # French number typography: thousands grouped, a no-break space before the unit.
    assert "1\xa0000&nbsp;h" in body and "70\xa0h" in body
    assert 'role="progressbar"' in body and 'aria-valuenow="7"' in body


def test_register_hides_other_facilitation_organisations(site, client):
    other_facilitator(site)
    body = login(client, "facilitateur").get(reverse("facilitator:register")).content.decode()
    assert "Gymnase" not in body and "Sols sportifs" not in body


def test_operation_create(site, client):
    login(client, "facilitateur")
    assert client.get(reverse("facilitator:operation_create")).status_code == 200
    data = {"name": "Médiathèque", "commune": "Lille", "starts_on": "2026-01-01", "ends_on": "2026-12-31"}
    response = client.post(reverse("facilitator:operation_create"), data)
    assert response.status_code == 302
    assert Operation.objects.get(name="Médiathèque").facilitation_organisation == site.fac


def test_operation_create_bad_input_keeps_input(site, client):
    login(client, "facilitateur")
    data = {"name": "Médiathèque", "commune": "", "starts_on": "2026-12-31", "ends_on": "2026-01-01"}
    response = client.post(reverse("facilitator:operation_create"), data)
    body = response.content.decode()
    assert response.status_code == 400
    assert "Ce champ est obligatoire" in body and "La fin doit être postérieure au début." in body
    assert 'value="Médiathèque"' in body and 'aria-invalid="true"' in body
    assert not Operation.objects.filter(name="Médiathèque").exists()


def test_contract_create(site, client):
    login(client, "facilitateur")
    op = Operation.objects.get(name="École")
    data = {
        "operation": op.pk,
        "reference": "M-2",
        "title": "Voirie",
        "buyer": site.buyer.pk,
        "legal_lever": "L2112-2",
    }
    # A notification date out of any case's bounds is a slip: refused on its field, nothing written.
    response = client.post(reverse("facilitator:contract_create"), {**data, "notified_on": "9999-12-31"})
    assert response.status_code == 400
    (refused,) = response.context["form"].errors["notified_on"]
    assert refused.startswith("Date de notification : date hors des limites")
    assert not PublicContract.objects.filter(reference="M-2").exists()
    # The CCAP's penalty per missing hour, in French or English decimals; a negative one refused on its field.
    response = client.post(reverse("facilitator:contract_create"), {**data, "penalty_per_missing_hour": "-5"})
    assert response.status_code == 400 and response.context["form"].errors["penalty_per_missing_hour"]
    assert not PublicContract.objects.filter(reference="M-2").exists()
    assert "Pénalité par heure d&#x27;insertion manquante" in response.content.decode()
    # A text box with the decimal keypad: a number box read « 12,50 » by the browser's locale (1250 in English).
    (penalty_input,) = re.findall(r'<input[^>]*name="penalty_per_missing_hour"[^>]*>', response.content.decode())
    assert 'type="text"' in penalty_input and 'inputmode="decimal"' in penalty_input
    response = client.post(reverse("facilitator:contract_create"), {**data, "penalty_per_missing_hour": "12,50"})
    assert response.status_code == 302
    contract = PublicContract.objects.get(reference="M-2")
    assert contract.buyer == site.buyer and contract.penalty_per_missing_hour == Decimal("12.50")
    # Without one, the contract proposes no penalty (the bilans say « non prévue au marché »).
    client.post(reverse("facilitator:contract_create"), {**data, "reference": "M-3"})
    assert PublicContract.objects.get(reference="M-3").penalty_per_missing_hour is None


def test_contract_create_refuses_non_buyer_and_foreign_operation(site, client):
    _, foreign_lot, _ = other_facilitator(site)
    login(client, "facilitateur")
    op = Operation.objects.get(name="École")
    data = {"operation": op.pk, "reference": "M-2", "title": "Voirie", "buyer": site.emp.pk, "legal_lever": "L2112-2"}
    response = client.post(reverse("facilitator:contract_create"), data)
    assert response.status_code == 400 and "Sélectionnez un choix valide" in response.content.decode()
    data.update(buyer=site.buyer.pk, operation=foreign_lot.contract.operation_id)
    assert client.post(reverse("facilitator:contract_create"), data).status_code == 400
    # Duplicate reference in the operation: the service's error lands on the form, nothing written.
    data.update(operation=op.pk, reference="M-1")
    response = client.post(reverse("facilitator:contract_create"), data)
    assert response.status_code == 400
    assert PublicContract.objects.filter(reference__in=["M-1", "M-2"]).count() == 1


@pytest.mark.parametrize("typed", ["M-1", "m-1", "  M-1 ", "m-1\t"])
def test_contract_create_refuses_a_reference_of_the_operation_whatever_its_case(site, client, typed):
    """The reference on its field in French (it was Django's « Un objet Marché public avec ces champs Operation et
    Référence existe déjà. »), compared without regard to case or surrounding spaces."""
    login(client, "facilitateur")
    op = Operation.objects.get(name="École")
    data = {
        "operation": op.pk,
        "reference": typed,
        "title": "Voirie",
        "buyer": site.buyer.pk,
        "legal_lever": "L2112-2",
    }
    response = client.post(reverse("facilitator:contract_create"), data)
    body = html.unescape(response.content.decode())
    assert response.status_code == 400
    expected = f"La référence {typed.strip()} existe déjà dans cette opération."
    assert expected in body and "Un objet" not in body and "Operation" not in body
    assert response.context["form"].errors["reference"] == [expected]
    assert PublicContract.objects.filter(operation=op).count() == 1


def test_contract_create_stores_the_reference_normalised(site, client):
    login(client, "facilitateur")
    op = Operation.objects.get(name="École")
    data = {"operation": op.pk, "reference": " QA  3 ", "title": "Voirie", "buyer": site.buyer.pk}
    assert client.post(reverse("facilitator:contract_create"), data | {"legal_lever": "L2112-2"}).status_code == 302
    assert PublicContract.objects.filter(operation=op, reference="QA 3").exists()
    # The same reference in another operation is another contract.
    other = register.operation_create(
        actor=site.facilitator, name="Gymnase", commune="Lille", starts_on=site.today, ends_on=site.today
    )
    contract = register.contract_create(
        actor=site.facilitator,
        operation=other,
        reference="qa 3",
        title="Sols",
        buyer=site.buyer,
        legal_lever="L2112-2",
    )
    assert contract.reference == "qa 3"


def _lot_data(site, **kw):
    data = {
        "contract": PublicContract.objects.get(reference="M-1").pk,
        "number": "2",
        "title": "Second œuvre",
        "trade": "Plâtrerie",
        "amount_excl_tax": "200000",
        "sizing_method": "labour_share",
        "labour_share": "0,4",
        "hourly_cost": "40",
        "insertion_rate": "0.07",
        "execution_starts_on": site.today.isoformat(),
        "execution_ends_on": (site.today + datetime.timedelta(200)).isoformat(),
        "fulfilment_modes": ["direct_hire", "staff_provision_siae"],
        "awardee": site.emp.pk,
    }
    data.update(kw)
    return data


def test_lot_create_sizes_the_clause(site, client):
    login(client, "facilitateur")
    assert client.get(reverse("facilitator:lot_create")).status_code == 200
    response = client.post(reverse("facilitator:lot_create"), _lot_data(site))
    assert response.status_code == 302
    lot = ContractLot.objects.get(title="Second œuvre")
    # On to the new lot's page, where its offers are published (it went back to the register).
    assert response["Location"] == reverse("facilitator:lot_detail", args=[lot.pk])
    body = html.unescape(client.get(response["Location"]).content.decode())
    assert f"« {lot} » créé : publiez ses offres ci-dessous." in body and "Nouvelle offre" in body
    # The contract's penalty per missing hour, as the bilans will propose it.
    assert "Pénalité par heure manquante" in body and "non prévue au marché" in body
    PublicContract.objects.filter(pk=lot.contract_id).update(penalty_per_missing_hour=Decimal("40"))
    body = html.unescape(client.get(response["Location"]).content.decode())
    assert "40,00\xa0€ " in body and "(proposée par les bilans à la fin de l'exécution)" in body
    assert lot.target_hours == Decimal("140")  # 200000 × 0.4 / 40 × 0.07
    assert lot.fulfilment_modes == ["direct_hire", "staff_provision_siae"] and lot.awardee == site.emp


def test_lot_create_takes_the_counting_rules_chosen_among_those_offered(site, client):
    """The form offers the organisation's charters and the platform's defaults, not another organisation's."""
    _, foreign_lot, _ = other_facilitator(site)
    mine = CountingRuleSet.objects.create(
        name="Charte métropole", version=2, valid_from=site.today, facilitation_organisation=site.fac
    )
    foreign = CountingRuleSet.objects.create(
        name="Charte de B",
        version=1,
        valid_from=site.today,
        facilitation_organisation=foreign_lot.contract.operation.facilitation_organisation,
    )
    login(client, "facilitateur")
    body = html.unescape(client.get(reverse("facilitator:lot_create")).content.decode())
    assert "Charte métropole" in body and "Charte de B" not in body
    response = client.post(reverse("facilitator:lot_create"), _lot_data(site, counting_rules=foreign.pk))
    assert response.status_code == 400 and "counting_rules" in response.context["form"].errors
    assert not ContractLot.objects.filter(title="Second œuvre").exists()
    assert client.post(reverse("facilitator:lot_create"), _lot_data(site, counting_rules=mine.pk)).status_code == 302
    assert ContractLot.objects.get(title="Second œuvre").counting_rules == mine
    # Left empty: the organisation's newest version in force; one published for a later date is neither offered nor
    # the default before that day.
    CountingRuleSet.objects.create(
        name="Charte métropole 2",
        version=3,
        valid_from=site.today + datetime.timedelta(30),
        facilitation_organisation=site.fac,
    )
    assert "Charte métropole 2" not in html.unescape(client.get(reverse("facilitator:lot_create")).content.decode())
    client.post(reverse("facilitator:lot_create"), _lot_data(site, number="3", title="Peinture"))
    assert ContractLot.objects.get(title="Peinture").counting_rules == mine


def test_lot_create_bad_input(site, client):
    login(client, "facilitateur")
    response = client.post(
        reverse("facilitator:lot_create"),
        _lot_data(site, hourly_cost="", fulfilment_modes=[], awardee=site.buyer.pk),
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Ce champ est obligatoire pour cette méthode de calcul." in body
    assert "Sélectionnez un choix valide" in body
    assert 'value="Second œuvre"' in body
    # Same lot number as an existing lot: the service's refusal on the number, in French, nothing written (it was
    # Django's « Un objet Lot avec ces champs Contract et Numéro existe déjà. »).
    response = client.post(reverse("facilitator:lot_create"), _lot_data(site, number="1"))
    body = html.unescape(response.content.decode())
    assert response.status_code == 400 and "Ce marché a déjà un lot n° 1." in body
    assert response.context["form"].errors["number"] == ["Ce marché a déjà un lot n° 1."]
    assert "Un objet" not in body and "Contract" not in body
    assert not ContractLot.objects.filter(title="Second œuvre").exists()


def test_lot_detail_scope(site, client):
    _, foreign_lot, _ = other_facilitator(site)
    login(client, "facilitateur")
    body = client.get(reverse("facilitator:lot_detail", args=[site.lot.pk])).content.decode()
    assert "500\xa0000,00&nbsp;€" in body  # grouped thousands, decimal comma, € after a no-break space
    assert "Maçon·ne" in body and "Créer l'offre" in html.unescape(body)
    assert client.get(reverse("facilitator:lot_detail", args=[foreign_lot.pk])).status_code == 404
    assert client.get(reverse("facilitator:lot_detail", args=[999999])).status_code == 404


def test_offer_create_and_close(site, client):
    login(client, "facilitateur")
    data = {
        "title": "Coffreur·se",
        "trade": "Coffrage",
        "contract_type": "cdi",
        "weekly_hours": "35",
        "location": "Lille",
        "positions": "2",
    }
    response = client.post(reverse("facilitator:offer_create", args=[site.lot.pk]), {**data, "weekly_hours": "24,5"})
    assert response.status_code == 302
    offer = JobOffer.objects.get(title="Coffreur·se")
    assert offer.lot == site.lot and offer.positions == 2 and offer.is_open and offer.weekly_hours == Decimal("24.5")
    assert "24,5 h/sem." in html.unescape(
        client.get(reverse("facilitator:lot_detail", args=[site.lot.pk])).content.decode()
    )
    response = client.post(reverse("facilitator:offer_close", args=[offer.pk]), follow=True)
    assert "Offre « Coffreur·se » clôturée." in response.content.decode()
    offer.refresh_from_db()
    assert not offer.is_open
    # Stale click: closing again says so and shows the fresh state.
    response = client.post(reverse("facilitator:offer_close", args=[offer.pk]), follow=True)
    assert "Cette offre est déjà clôturée." in response.content.decode()


def test_offer_create_bad_input_and_scope(site, client):
    _, foreign_lot, foreign_offer = other_facilitator(site)
    login(client, "facilitateur")
    data = {
        "title": "Coffreur·se",
        "trade": "",
        "contract_type": "cdi",
        "weekly_hours": "60",
        "location": "Lille",
        "positions": "1",
    }
    response = client.post(reverse("facilitator:offer_create", args=[site.lot.pk]), data)
    body = response.content.decode()
    assert response.status_code == 400 and "Ce champ est obligatoire" in body
    assert "inférieure ou égale à 48" in body and 'value="Coffreur·se"' in body
    assert not JobOffer.objects.filter(title="Coffreur·se").exists()
    data["trade"], data["weekly_hours"] = "Coffrage", "35"
    assert client.post(reverse("facilitator:offer_create", args=[foreign_lot.pk]), data).status_code == 404
    assert client.post(reverse("facilitator:offer_close", args=[foreign_offer.pk])).status_code == 404
    assert client.get(reverse("facilitator:offer_close", args=[site.offer.pk])).status_code == 405
    foreign_offer.refresh_from_db()
    assert foreign_offer.is_open and not JobOffer.objects.filter(title="Coffreur·se").exists()


# --- Referrals ------------------------------------------------------------------------------------------------
def test_referrals_default_filter_and_state_filter(site, client):
    waiting = site.participant()
    hired = site.participant(hired=True)
    login(client, "facilitateur")
    body = client.get(reverse("facilitator:referrals")).content.decode()
    assert waiting.last_name.upper() in body and hired.last_name.upper() not in body
    body = client.get(reverse("facilitator:referrals"), {"state": "hired"}).content.decode()
    assert waiting.last_name.upper() not in body and hired.last_name.upper() in body
    body = client.get(reverse("facilitator:referrals"), {"state": "all"}).content.decode()
    assert waiting.last_name.upper() in body and hired.last_name.upper() in body


def test_referrals_hide_other_facilitation_lots(site, client):
    _, _, foreign_offer = other_facilitator(site)
    p = site.participant()
    pathway = p.pathways.get()
    referrals.referral_create(actor=site.adviser, pathway=pathway, offer=foreign_offer)
    login(client, "facilitateur")
    body = client.get(reverse("facilitator:referrals")).content.decode()
    assert body.count(p.last_name.upper()) == 1
    foreign = Referral.objects.get(offer=foreign_offer)
    assert client.get(reverse("referral_detail", args=[foreign.pk])).status_code == 404
    url = reverse("transition", args=["referral", foreign.pk, "start_review"])
    assert client.post(url).status_code == 404
    foreign.refresh_from_db()
    assert foreign.state == "sent"


def test_referrals_paginate(site, client, monkeypatch):
    for _ in range(3):
        site.participant()
    login(client, "facilitateur")
    monkeypatch.setattr("parcours.web.common.PAGE_SIZE", 2)
    body = client.get(reverse("facilitator:referrals")).content.decode()
    assert "Page 1 sur 2" in body
    body = client.get(reverse("facilitator:referrals"), {"page": 2}).content.decode()
    assert "Page 2 sur 2" in body


def test_referral_review_through_the_referral_page(site, client):
    p = site.participant()
    referral = p.pathways.get().referrals.get()
    login(client, "facilitateur")
    url = reverse("referral_detail", args=[referral.pk])
    body = client.get(url).content.decode()
    assert "Prendre en examen" in body and "Ouvrir le dossier" in body
    client.post(reverse("transition", args=["referral", referral.pk, "start_review"]), {"next": url})
    body = client.get(url).content.decode()
    assert "Valider le positionnement" in body and "Ne pas valider" in body
    client.post(reverse("transition", args=["referral", referral.pk, "approve"]), {"next": url})
    assert "Transmettre à l&#x27;employeur" in client.get(url).content.decode()
    client.post(reverse("transition", args=["referral", referral.pk, "forward"]), {"next": url})
    referral.refresh_from_db()
    assert referral.state == "forwarded"
    # Stale click: the same button again → a message and the fresh state, nothing changed.
    response = client.post(
        reverse("transition", args=["referral", referral.pk, "forward"]), {"next": url}, follow=True
    )
    body = response.content.decode()
    assert response.status_code == 200 and "Quelqu&#x27;un a peut-être agi avant vous" in body
    assert "Transmis à l&#x27;employeur" in body


def test_referral_decline_needs_a_reason(site, client):
    p = site.participant()
    referral = p.pathways.get().referrals.get()
    login(client, "facilitateur")
    url = reverse("transition", args=["referral", referral.pk, "decline"])
    response = client.post(url, {"reason": "  "})
    assert response.status_code == 400 and "Ce champ est obligatoire" in response.content.decode()
    referral.refresh_from_db()
    assert referral.state == "sent"
    assert client.post(url, {"reason": "Profil trop éloigné du poste"}).status_code == 302
    referral.refresh_from_db()
    assert referral.state == "declined" and referral.decision_reason == "Profil trop éloigné du poste"
    assert (
        "Profil trop éloigné du poste" in client.get(reverse("referral_detail", args=[referral.pk])).content.decode()
    )


# --- Eligibility ------------------------------------------------------------------------------------------------
def test_eligibility_list(site, client):
    pending = pending_participant(site)
    validated = site.participant()
    body = login(client, "facilitateur").get(reverse("facilitator:eligibility")).content.decode()
    assert pending.participant.last_name.upper() in body and validated.last_name.upper() not in body
    assert reverse("facilitator:validate_eligibility", args=[pending.pk]) in body


def test_eligibility_list_puts_the_longest_waiting_first(site, client):
    """A queue: the pathway pending the longest comes first, whatever the names (the page's « Depuis » column)."""
    first, second, third = (pending_participant(site) for _ in range(3))
    now = timezone.now()
    for pathway, days in ((first, 1), (second, 9), (third, 4)):  # `update`: the model's auto_now left untouched
        Pathway.objects.filter(pk=pathway.pk).update(updated_at=now - datetime.timedelta(days=days))
    body = login(client, "facilitateur").get(reverse("facilitator:eligibility")).content.decode()
    links = [reverse("facilitator:validate_eligibility", args=[p.pk]) for p in (second, third, first)]
    assert all(link in body for link in links)
    assert [body.index(link) for link in links] == sorted(body.index(link) for link in links)
    assert "attendent depuis le plus longtemps" in html.unescape(body)


def test_validation_page_shows_criteria_including_health_and_logs_the_read(site, client):
    pathway = pending_participant(site)
    login(client, "facilitateur")
    body = client.get(reverse("facilitator:validate_eligibility", args=[pathway.pk])).content.decode()
    assert "Jeune suivi·e par une Mission Locale" in body and "Travailleur·se handicapé·e (RQTH)" in body
    assert "donnée de santé" in body and "Valider l'éligibilité" in html.unescape(body)
    assert ParticipantAccess.objects.filter(participant_id=pathway.participant_id, user__username="facilitateur")


def test_validate_eligibility_with_proofs(site, client):
    pathway = pending_participant(site)
    login(client, "facilitateur")
    seen = site.today - datetime.timedelta(days=2)
    valid_until = site.today + datetime.timedelta(days=365)
    data = {
        "proof_kind_YOUTH_ML_FOLLOWED": "attestation",
        "seen_on_YOUTH_ML_FOLLOWED": seen.isoformat(),
        "valid_until": valid_until.isoformat(),
    }
    url = reverse("facilitator:validate_eligibility", args=[pathway.pk])
    # The health criterion has no proof seen: a warning to confirm first, nothing written.
    response = client.post(url, data)
    body = html.unescape(response.content.decode())
    assert response.status_code == 400 and "Certains critères n'ont pas de justificatif vu." in body
    assert "Sans justificatif : Travailleur·se handicapé·e (RQTH)." in body and 'name="confirm_unseen"' in body
    assert Pathway.objects.get(pk=pathway.pk).state == "eligibility_pending"
    assert 'id="confirm_unseen" checked' not in body
    # Confirmed, but the form sent back (an unreadable date): the confirmation stays ticked.
    response = client.post(url, {**data, "valid_until": "abc", "confirm_unseen": "1"})
    assert response.status_code == 400 and 'id="confirm_unseen" checked' in response.content.decode()
    # Confirmed, but refused for another reason (a validity already over): the confirmation stays ticked.
    past = (site.today - datetime.timedelta(days=1)).isoformat()
    response = client.post(url, {**data, "valid_until": past, "confirm_unseen": "1"})
    body = html.unescape(response.content.decode())
    assert response.status_code == 400 and 'id="confirm_unseen" checked' in body
    assert Pathway.objects.get(pk=pathway.pk).state == "eligibility_pending"
    response = client.post(url, {**data, "confirm_unseen": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("facilitator:eligibility")
    pathway.refresh_from_db()
    assert pathway.state == "eligible"
    row = AssessedCriterion.objects.get(assessment__pathway=pathway, criterion__code="YOUTH_ML_FOLLOWED")
    assert (row.proof_kind, row.proof_seen_on, row.proof_seen_by.username) == ("attestation", seen, "facilitateur")
    assert pathway.assessments.get().valid_until == valid_until
    # Stale: validating again → message, back to the fresh list.
    response = client.post(url, {**data, "confirm_unseen": "1"}, follow=True)
    assert "n&#x27;attend plus de validation" in response.content.decode()


def test_validate_eligibility_with_no_proof_seen_warns_then_refuses_by_setting(site, client, settings):
    pathway = pending_participant(site)
    login(client, "facilitateur")
    url = reverse("facilitator:validate_eligibility", args=[pathway.pk])
    body = html.unescape(client.post(url, {}).content.decode())
    assert "Aucun justificatif n'est marqué comme vu." in body
    settings.PARCOURS = {**settings.PARCOURS, "ELIGIBILITY_PROOF_REQUIRED": True}
    response = client.post(url, {"confirm_unseen": "1"})
    body = html.unescape(response.content.decode())
    assert response.status_code == 400 and "Justificatif non vu pour : " in body
    assert "exige un justificatif vu" in body
    assert Pathway.objects.get(pk=pathway.pk).state == "eligibility_pending"
    proofs = {
        "proof_kind_YOUTH_ML_FOLLOWED": "attestation",
        "seen_on_YOUTH_ML_FOLLOWED": site.today.isoformat(),
        "proof_kind_DISABLED_WORKER": "notification",
        "seen_on_DISABLED_WORKER": site.today.isoformat(),
    }
    assert client.post(url, proofs).status_code == 302
    assert Pathway.objects.get(pk=pathway.pk).state == "eligible"


def test_validate_eligibility_bad_input(site, client):
    pathway = pending_participant(site)
    login(client, "facilitateur")
    url = reverse("facilitator:validate_eligibility", args=[pathway.pk])
    tomorrow = (site.today + datetime.timedelta(days=1)).isoformat()
    response = client.post(url, {"proof_kind_YOUTH_ML_FOLLOWED": "attestation", "seen_on_DISABLED_WORKER": tomorrow})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Indiquez la date à laquelle le justificatif a été vu." in body and "Indiquez le justificatif vu." in body
    assert f'value="{tomorrow}"' in body
    # Future proof date or past validity: the service's French message, nothing written.
    response = client.post(
        url, {"proof_kind_DISABLED_WORKER": "notification", "seen_on_DISABLED_WORKER": tomorrow, "confirm_unseen": "1"}
    )
    assert (
        response.status_code == 400
        and "Un justificatif ne peut pas être vu dans le futur." in response.content.decode()
    )
    response = client.post(url, {"valid_until": site.today.isoformat(), "confirm_unseen": "1"})
    assert response.status_code == 400 and "La date de validité doit être dans le futur." in response.content.decode()
    pathway.refresh_from_db()
    assert pathway.state == "eligibility_pending"
    assert not AssessedCriterion.objects.filter(assessment__pathway=pathway, proof_seen_on__isnull=False).exists()


def test_reject_eligibility_through_the_transition_page(site, client):
    pathway = pending_participant(site)
    login(client, "facilitateur")
    body = client.get(reverse("facilitator:validate_eligibility", args=[pathway.pk])).content.decode()
    url = reverse("transition", args=["pathway", pathway.pk, "reject_eligibility"])
    assert url in body
    response = client.post(url, {"reason": "Aucun critère justifié", "next": reverse("facilitator:eligibility")})
    assert response.status_code == 302
    pathway.refresh_from_db()
    assert pathway.state == "ineligible"


def test_validation_page_scope(site, client):
    pathway = pending_participant(site)
    other_facilitator(site)
    login(client, "facilitateur.b")
    url = reverse("facilitator:validate_eligibility", args=[pathway.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {}).status_code == 404
    client.logout()
    login(client, "conseillere")
    assert client.get(url).status_code == 403
    client.logout()
    login(client, "facilitateur")
    assert client.get(reverse("facilitator:validate_eligibility", args=[999999])).status_code == 404
    assert Pathway.objects.get(pk=pathway.pk).state == "eligibility_pending"


# --- Hours ------------------------------------------------------------------------------------------------------
def _declared_line(site):
    p = site.participant(hired=True)
    line = HoursLine.objects.get(placement__pathway__participant=p)
    HoursLine.objects.filter(pk=line.pk).update(state="declared", validated_at=None)
    return p, line


def test_hours_list_and_validate(site, client):
    p, line = _declared_line(site)
    login(client, "facilitateur")
    body = client.get(reverse("facilitator:hours")).content.decode()
    assert p.last_name.upper() in body and "Valider les heures" in body and "Rejeter les heures" in body
    response = client.post(
        reverse("transition", args=["hoursline", line.pk, "validate"]), {"next": reverse("facilitator:hours")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("facilitator:hours")
    line.refresh_from_db()
    assert line.state == "validated"
    assert p.last_name.upper() not in client.get(reverse("facilitator:hours")).content.decode()
    body = client.get(reverse("facilitator:hours"), {"state": "validated"}).content.decode()
    assert "Clôturer le mois" in body
    client.post(reverse("transition", args=["hoursline", line.pk, "lock"]))
    line.refresh_from_db()
    assert line.state == "locked"
    # Stale: validating a locked line.
    response = client.post(reverse("transition", args=["hoursline", line.pk, "validate"]), follow=True)
    assert "Quelqu&#x27;un a peut-être agi avant vous" in response.content.decode()


def test_hours_reject_with_reason(site, client):
    _, line = _declared_line(site)
    login(client, "facilitateur")
    url = reverse("transition", args=["hoursline", line.pk, "reject"])
    assert client.post(url, {"reason": ""}).status_code == 400
    assert client.post(url, {"reason": "Heures supérieures au contrat"}).status_code == 302
    line.refresh_from_db()
    assert line.state == "rejected" and line.rejection_reason == "Heures supérieures au contrat"


def test_hours_of_other_facilitation_are_404(site, client):
    _, line = _declared_line(site)
    other_facilitator(site)
    login(client, "facilitateur.b")
    assert client.get(reverse("facilitator:hours")).status_code == 200
    assert client.post(reverse("transition", args=["hoursline", line.pk, "validate"])).status_code == 404
    line.refresh_from_db()
    assert line.state == "declared"


def test_menu_links_reach_the_facilitator_pages(site, client):
    body = login(client, "facilitateur").get(reverse("home")).content.decode()
    for name in QUERIES:
        assert f'href="{reverse(name)}"' in body


def test_referral_page_with_placement_and_hours(site, client):
    p = site.participant(hired=True)
    referral = p.pathways.get().referrals.get()
    login(client, "facilitateur")
    body = html.unescape(client.get(reverse("referral_detail", args=[referral.pk])).content.decode())
    assert "Embauché·e" in body and "Mise en poste" in body and "Relevés d'heures" in body
    assert "Déclarer la fin du contrat" in body and "Clôturer le mois" in body and "Ouvrir le dossier" in body
    client.logout()
    # The buyer's auditor reads the referral and its placement, without any action.
    body = html.unescape(
        login(client, "auditeur").get(reverse("referral_detail", args=[referral.pk])).content.decode()
    )
    assert "Mise en poste" in body and 'aria-label="Actions possibles"' not in body
    assert "Déclarer les heures" not in body


def test_every_web_route_to_validate_eligibility_goes_through_the_unseen_proofs_confirmation(site, client):
    """The participant page's button and the task page's action led to forms that validated at once, without the
    dedicated page's « Valider quand même, sans justificatif vu » confirmation. Every web route now goes to the
    dedicated page (parcours.web.common.DEDICATED_PAGES), with the way back; the generic transition page redirects
    there, writing nothing."""
    from urllib.parse import urlencode

    from parcours.work.models import TaskKind, WorkTask

    pathway = pending_participant(site)
    login(client, "facilitateur")
    page = reverse("facilitator:validate_eligibility", args=[pathway.pk])
    generic = reverse("transition", args=["pathway", pathway.pk, "validate_eligibility"])
    file_url = reverse("participant_detail", args=[pathway.participant_id])

    # The participant page's button.
    body = client.get(file_url).content.decode()
    assert f'href="{page}?next={file_url}"' in body and generic not in body
    # The generic transition page, GET or POST: to the dedicated page, the way back kept (if it is ours).
    assert client.get(generic, {"next": file_url})["Location"] == f"{page}?{urlencode({'next': file_url})}"
    for data, expected in (
        ({"valid_until": "", "next": file_url}, f"{page}?{urlencode({'next': file_url})}"),
        ({"confirm_unseen": "1"}, page),
        ({"next": "https://evil.example/"}, page),
    ):
        response = client.post(generic, data)
        assert response.status_code == 302 and response["Location"] == expected
    # The task page: its action is a link to the dedicated page; posting the action writes nothing either.
    work_task = WorkTask.objects.get(pathway=pathway, kind=TaskKind.REVIEW_ELIGIBILITY)
    task_url = reverse("work:task", args=[work_task.pk])
    from_task = f"{page}?{urlencode({'next': task_url})}"
    assert f'href="{from_task}"' in client.get(task_url).content.decode()
    response = client.post(task_url, {"action": "validate_eligibility", "validate_eligibility-valid_until": ""})
    assert response.status_code == 302 and response["Location"] == from_task
    assert Pathway.objects.get(pk=pathway.pk).state == "eligibility_pending"

    # The dedicated page asks for the confirmation, keeps the way back, and returns there once validated.
    response = client.get(from_task)
    assert f'name="next" value="{task_url}"' in response.content.decode()
    response = client.post(page, {"next": task_url})
    body = html.unescape(response.content.decode())
    assert response.status_code == 400 and "Valider quand même, sans justificatif vu pour ces critères" in body
    assert f'name="next" value="{task_url}"' in body and f'href="{task_url}"' in body  # « Retour »
    assert Pathway.objects.get(pk=pathway.pk).state == "eligibility_pending"
    response = client.post(page, {"next": task_url, "confirm_unseen": "1"})
    assert response.status_code == 302 and response["Location"] == task_url
    assert Pathway.objects.get(pk=pathway.pk).state == "eligible"

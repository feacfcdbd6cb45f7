"""Derived views of the journal (parcours.selectors.journal): each channel shows an event only to who may view
its object, health criteria only to the facilitator, free-text reasons only to who may see identities; buyers'
auditors read pseudonymised files. The generated matrix over the demo is in tests/test_leaks.py."""

import csv
import io

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from openpyxl import load_workbook

from parcours import selectors
from parcours.models import Participant, Referral
from parcours.notifications import audience_of
from parcours.selectors.journal import participant_timeline_events, present_events, visible_events, visible_inputs
from roles import policy
from roles.actor import Actor
from roles.enums import Role
from tests.factories import (
    OrganisationFactory,
    call_service,
    make_lot,
    make_offer,
    make_pathway,
    make_placement,
    make_referral,
    member,
)
from workflows.journal import record_event
from workflows.models import JournalEvent
from workflows.vocabulary import Sex

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_buyers(world):
    """A young person of side a referred first to a lot bought by side a's buyer (cancelled, with a reason), then
    to a lot of the same facilitation organisation bought by side b's buyer (refused by the employer)."""
    other_offer = make_offer(world.a, lot=make_lot(world.a, buyer=world.b.buyer))
    pathway = make_pathway(world, "eligible")
    first = make_referral(world, "cancelled", pathway=pathway)
    second = make_referral(world, "refused", pathway=pathway, offer=other_offer)
    return pathway.participant, first, second


def client_for(actor):
    client = Client()
    client.force_login(actor.user)
    return client


def objects_of(events):
    return {(e.object_type, e.object_id) for e in events}


def named(actor):
    return Actor(user=actor.user, organisation=actor.organisation, role=actor.role, named_access=True)


# --- One visibility rule, every channel ---------------------------------------------------------------------------
def test_each_buyer_sees_the_history_of_its_own_contracts_only(world, two_buyers):
    participant, first, second = two_buyers
    buyer_a, buyer_b = world.a.auditor, world.b.auditor
    seen_a = objects_of(selectors.participant_events(buyer_a, participant.pk))
    seen_b = objects_of(selectors.participant_events(buyer_b, participant.pk))
    assert ("referral", first.pk) in seen_a and ("referral", second.pk) not in seen_a
    assert ("referral", second.pk) in seen_b and ("referral", first.pk) not in seen_b
    # Both read the participant's file (referred to their contracts), hence the pathway's events.
    assert ("pathway", participant.pathways.get().pk) in seen_a & seen_b
    # The objects themselves are partitioned the same way.
    assert not policy.allows(buyer_a, "referral.view", second)
    assert not policy.allows(buyer_b, "referral.view", first)


def test_the_adviser_sees_every_event_of_the_file_and_the_employer_only_its_candidates(world, two_buyers):
    participant, first, second = two_buyers
    adviser_events = selectors.participant_events(world.a.adviser, participant.pk)
    assert adviser_events.count() == JournalEvent.objects.filter(participant_id=participant.pk).count()
    employer = world.a.employer_actor
    assert not visible_events(employer, JournalEvent.objects.filter(participant_id=participant.pk)).exists()


def _timeline_rows(events):
    return [
        (e.pk, e.object_type, e.object_id, e.timer_referral_id, e.actor_user_id, e.actor_organisation_id)
        for e in events
    ]


def test_the_compiled_timeline_is_the_querysets_timeline_for_every_viewer(world, two_buyers):
    """The page's and the exports' read (compiled once per role) keeps the rows of `participant_events` for each
    viewer: two buyers (one compiled read, their ids its arguments), named access or not, the other territory."""
    participant, first, second = two_buyers
    viewers = {
        "adviser": world.a.adviser,
        "facilitator": world.a.facilitator,
        "employer": world.a.employer_actor,
        "auditor a": world.a.auditor,
        "auditor a, named": named(world.a.auditor),
        "auditor b": world.b.auditor,
        "adviser b": world.b.adviser,
        "facilitator b": world.b.facilitator,
    }
    seen, counted = {}, {}
    for label, viewer in viewers.items():
        expected = _timeline_rows(selectors.participant_events(viewer, participant.pk))
        found = participant_timeline_events(viewer, participant.pk)
        assert _timeline_rows(found) == expected, label
        assert all(e.actor_user is None or e.actor_user.pk == e.actor_user_id for e in found)
        seen[label] = {(object_type, pk) for _, object_type, pk, *_ in expected}
        counted[label] = len(found)
    # The viewers differ: the comparison above holds each one to its own scope.
    assert ("referral", first.pk) in seen["auditor a"] and ("referral", second.pk) not in seen["auditor a"]
    assert ("referral", second.pk) in seen["auditor b"] and ("referral", first.pk) not in seen["auditor b"]
    assert seen["employer"] == set() and seen["adviser b"] == set()
    assert counted["adviser"] == JournalEvent.objects.filter(participant_id=participant.pk).count()
    assert participant_timeline_events(Actor.system(), participant.pk) == []
    assert participant_timeline_events(world.a.adviser, 10**9) == []


def test_the_compiled_timeline_binds_the_viewers_organisation_and_group_apart(world, two_buyers):
    """A buyer whose group's id is not its own id: its contracts' referrals are found through the organisation, the
    file through its group's grant — each argument in its place."""
    participant, first, second = two_buyers
    Group.objects.create(name="another group")  # the next organisation's group id is not its own id
    buyer = OrganisationFactory(buyer=True)
    assert buyer.group_id != buyer.pk
    auditor = member(buyer, Role.AUDITOR)
    offer = make_offer(world.a, lot=make_lot(world.a, buyer=buyer))
    third = make_referral(world, "forwarded", pathway=participant.pathways.get(), offer=offer)
    expected = _timeline_rows(selectors.participant_events(auditor, participant.pk))
    assert _timeline_rows(participant_timeline_events(auditor, participant.pk)) == expected
    seen = {(object_type, pk) for _, object_type, pk, *_ in expected}
    assert ("referral", third.pk) in seen and ("referral", first.pk) not in seen
    assert ("pathway", participant.pathways.get().pk) in seen  # the file, through the group's grant


def test_a_warm_timeline_read_builds_no_statement_with_the_orm(world, two_buyers, monkeypatch):
    from tests.test_compiled import _count_orm_compilations

    participant, _, _ = two_buyers
    expected = _timeline_rows(participant_timeline_events(world.a.auditor, participant.pk))
    built = _count_orm_compilations(monkeypatch)
    assert _timeline_rows(participant_timeline_events(world.a.auditor, participant.pk)) == expected
    assert built == []
    selectors.participant_events(world.a.auditor, participant.pk).count()  # the queryset itself: compiled
    assert built


def test_timeline_page_csv_xlsx_and_api_history_apply_the_rule(world, two_buyers):
    participant, first, second = two_buyers
    auditor = world.a.auditor
    client = client_for(auditor)
    page = client.get(f"/participants/{participant.pk}/")
    assert page.status_code == 200
    assert ("referral", second.pk) not in objects_of(page.context["timeline"])
    assert ("referral", first.pk) in objects_of(page.context["timeline"])

    exported = client.get(f"/audit/parcours/{participant.pk}/export.csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    objects = {row[4] for row in rows[1:]}
    assert f"Positionnement #{first.pk}" in objects and f"Positionnement #{second.pk}" not in objects

    workbook = load_workbook(io.BytesIO(client.get(f"/audit/parcours/{participant.pk}/export.xlsx").content))
    cells = {row[4] for row in workbook["Historique"].iter_rows(min_row=2, values_only=True)}
    assert cells == objects

    history = client.get(f"/api/v1/participants/{participant.pk}/history/").json()["results"]
    assert ("referral", second.pk) not in {(e["object_type"], e["object_id"]) for e in history}
    assert client.get(f"/api/v1/referrals/{second.pk}/history/").status_code == 404
    assert client.get(f"/api/v1/referrals/{first.pk}/history/").status_code == 200


def test_notifications_page_and_websocket_audience_apply_the_rule(world, two_buyers):
    participant, first, second = two_buyers
    notified = objects_of(selectors.notifications_for(world.a.auditor, limit=500))
    assert ("referral", second.pk) not in notified and ("referral", first.pk) in notified
    for event in JournalEvent.objects.filter(object_type="referral", object_id=second.pk):
        teams = audience_of(event)
        assert (world.b.buyer.pk, Role.AUDITOR) in teams
        assert (world.a.buyer.pk, Role.AUDITOR) not in teams
        assert (world.a.youth_agency.pk, Role.ADVISER) in teams
        assert not any(role == Role.EMPLOYER for _, role in teams)  # refused: the employer lost sight of it


def test_health_criteria_never_reach_the_journal_and_are_filtered_if_an_event_holds_them(world):
    pathway = make_pathway(world, "intake")
    call_service("pathway.submit_eligibility", world.a.adviser, pathway, criteria=["DISABLED_WORKER"])
    submitted = JournalEvent.objects.get(object_type="pathway", object_id=pathway.pk, action="submit_eligibility")
    assert "criteria" not in submitted.inputs and submitted.inputs["criteria_count"] == 1
    # An event written by an older version held criterion codes: the sensitivity rule still applies.
    legacy = record_event(
        actor=world.a.adviser,
        object_type="pathway",
        object_id=pathway.pk,
        participant_id=pathway.participant_id,
        action="submit_eligibility",
        inputs={"criteria": ["DISABLED_WORKER", "QPV_RESIDENT"]},
    )
    # Nor their number: beside the assessment's other criteria, it would tell a health criterion was declared.
    assert visible_inputs(legacy.inputs, health_visible=False) == {}
    without = visible_inputs(submitted.inputs, health_visible=False)
    assert without.keys() == submitted.inputs.keys() - {"criteria_count"}
    assert visible_inputs(submitted.inputs, health_visible=True) == submitted.inputs
    for actor, shows in [(world.a.adviser, False), (world.a.facilitator, True), (world.a.auditor, False)]:
        events = present_events(actor, JournalEvent.objects.filter(pk=legacy.pk))
        assert ("criteria" in events[0].shown_inputs) is shows, actor.role
    body = client_for(world.a.adviser).get(f"/api/v1/pathways/{pathway.pk}/history/").content.decode()
    assert "DISABLED_WORKER" not in body and "criteria_count" not in body and "submit_eligibility" in body
    body = client_for(world.a.facilitator).get(f"/api/v1/pathways/{pathway.pk}/history/").content.decode()
    assert "DISABLED_WORKER" in body and '"criteria_count": 1' in body.replace('":1', '": 1')


def test_reasons_are_withheld_from_a_pseudonymised_auditor(world, two_buyers):
    participant, first, _ = two_buyers
    cancel = JournalEvent.objects.get(object_type="referral", object_id=first.pk, action="cancel")
    assert cancel.reason
    auditor = world.a.auditor
    [shown] = present_events(auditor, JournalEvent.objects.filter(pk=cancel.pk))
    assert shown.reason_withheld and shown.shown_reason == ""
    [shown] = present_events(named(auditor), JournalEvent.objects.filter(pk=cancel.pk))
    assert not shown.reason_withheld and shown.shown_reason == cancel.reason
    [shown] = present_events(world.a.adviser, JournalEvent.objects.filter(pk=cancel.pk))
    assert shown.shown_reason == cancel.reason
    body = client_for(auditor).get(f"/api/v1/referrals/{first.pk}/history/").json()["results"]
    cancelled = next(e for e in body if e["action"] == "cancel")
    assert cancelled["reason"] == "" and cancelled["reason_withheld"] is True


def test_the_professionals_who_acted_are_not_named_to_a_pseudonymised_auditor(world, two_buyers):
    """A pseudonymised file names no adviser (the API's referent_adviser is null): nor does its history, on any
    channel. The organisation and the role that acted stay; an auditor with named access and the adviser see names."""
    participant, first, _ = two_buyers
    for actor, name in ((world.a.adviser, ("Ysolde", "Quenardel")), (world.a.facilitator, ("Aurèle", "Vantadour"))):
        actor.user.first_name, actor.user.last_name = name
        actor.user.save(update_fields=["first_name", "last_name"])
    secrets = ("Ysolde", "Quenardel", "Aurèle", "Vantadour")  # usernames: the API's are null (below)
    cancel = JournalEvent.objects.get(object_type="referral", object_id=first.pk, action="cancel")
    assert cancel.actor_user_id == world.a.adviser.user.pk
    auditor = world.a.auditor

    [shown] = present_events(auditor, JournalEvent.objects.filter(pk=cancel.pk))
    assert shown.actor_name == "" and shown.role_label == "Conseiller·ère" and shown.actor_organisation
    [shown] = present_events(named(auditor), JournalEvent.objects.filter(pk=cancel.pk))
    assert shown.actor_name == "Ysolde Quenardel"
    [shown] = present_events(world.a.adviser, JournalEvent.objects.filter(pk=cancel.pk))
    assert shown.actor_name == "Ysolde Quenardel"

    client = client_for(auditor)
    page = client.get(f"/participants/{participant.pk}/").content.decode()
    assert "nom non communiqué" in page and f"Conseiller·ère ({world.a.youth_agency})" in page
    exported = client.get(f"/audit/parcours/{participant.pk}/export.csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(exported), delimiter=";"))
    cancelled = next(row for row in rows if row[4:6] == [f"Positionnement #{first.pk}", "Annuler le positionnement"])
    assert cancelled[1:4] == ["nom non communiqué", str(world.a.youth_agency), "Conseiller·ère"]
    workbook = load_workbook(io.BytesIO(client.get(f"/audit/parcours/{participant.pk}/export.xlsx").content))
    cells = [str(cell) for row in workbook["Historique"].iter_rows(values_only=True) for cell in row]
    history = client.get(f"/api/v1/participants/{participant.pk}/history/").json()["results"]
    assert history and all(e["actor"]["username"] is None for e in history)
    assert {e["actor"]["role"] for e in history} >= {"adviser"}
    notifications = client.get("/notifications/").content.decode()
    assert "nom non communiqué" in notifications
    for secret in secrets:
        for body in (page, exported, notifications, str(history), " ".join(cells)):
            assert secret not in body, secret

    # With named access, and for the adviser, the same channels name who acted.
    membership = auditor.user.memberships.get()
    membership.named_access = True
    membership.save()
    assert "Ysolde Quenardel" in client.get(f"/participants/{participant.pk}/").content.decode()
    history = client.get(f"/api/v1/referrals/{first.pk}/history/").json()["results"]
    assert world.a.adviser.user.username in {e["actor"]["username"] for e in history}
    assert "Ysolde Quenardel" in client_for(world.a.adviser).get(f"/participants/{participant.pk}/").content.decode()


# --- Buyers audit clauses, not people ----------------------------------------------------------------------------
def test_a_buyers_auditor_reads_a_pseudonymised_file(world, two_buyers):
    participant, first, _ = two_buyers
    client = client_for(world.a.auditor)
    page = client.get(f"/participants/{participant.pk}/")
    body = page.content.decode()
    assert page.templates[0].name == "participant_pseudonymised.html"
    assert participant.pseudonym in body
    for secret in (participant.first_name, participant.last_name, participant.phone, participant.commune):
        if secret:
            assert secret not in body
    assert participant.age_band in body
    referral_page = client.get(f"/positionnements/{first.pk}/").content.decode()
    assert participant.last_name not in referral_page and participant.pseudonym in referral_page
    assert first.decision_reason not in referral_page

    api = client.get(f"/api/v1/participants/{participant.pk}/").json()
    assert api["pseudonym"] == participant.pseudonym
    assert api["first_name"] is None and api["birth_date"] is None and api["phone"] is None
    assert api["birth_year"] == participant.birth_date.year
    # As the page: nor the programme (CEJ, PACEA: also an eligibility criterion), nor the file's own events.
    Participant.objects.filter(pk=participant.pk).update(programme="pacea", notice_given_on=participant.created_at)
    api = client.get(f"/api/v1/participants/{participant.pk}/").json()
    assert api["programme"] is None and api["notice_given_on"] is None and api["updated_at"] is None
    assert api["created_at"] is None and api["anonymised_at"] is None
    refused = client.get("/api/v1/participants/", {"created_after": "2020-01-01"})
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_input"
    assert "Filtre non proposé à votre rôle" in refused.json()["detail"]
    unknown = client.get("/api/v1/participants/", {"q": "x"}).json()["detail"]  # the accepted ones, as offered
    assert "Paramètres acceptés" in unknown and "state" in unknown and "created_after" not in unknown
    assert api["qualification_level"] == participant.qualification_level and api["is_qpv_resident"] is not None
    listed = next(r for r in client.get("/api/v1/participants/").json()["results"] if r["id"] == participant.pk)
    assert listed["programme"] is None and listed["notice_given_on"] is None
    adviser_view = client_for(world.a.adviser).get(f"/api/v1/participants/{participant.pk}/").json()
    assert adviser_view["programme"] == "pacea" and adviser_view["notice_given_on"] and adviser_view["updated_at"]
    listed = client.get("/api/v1/referrals/").json()["results"]
    assert listed and all(r["participant"]["last_name"] is None for r in listed)
    assert all(r["decision_reason"] is None and r["motivation"] is None for r in listed)


def test_name_search_is_not_an_oracle_for_a_pseudonymised_auditor(world, two_buyers):
    participant, _, _ = two_buyers
    auditor = world.a.auditor
    assert not selectors.pathway_search(auditor, query=participant.last_name).exists()
    assert selectors.pathway_search(auditor, query=participant.pseudonym).exists()
    assert selectors.pathway_search(auditor, query=str(participant.pk)).exists()
    assert selectors.pathway_search(world.a.adviser, query=participant.last_name).exists()


def test_named_access_is_an_explicit_permission_of_auditors(world, two_buyers):
    participant, _, _ = two_buyers
    auditor = world.a.auditor
    assert not policy.allows(auditor, "participant.view_identity", participant)
    assert policy.allows(named(auditor), "participant.view_identity", participant)
    membership = auditor.user.memberships.get()
    membership.named_access = True
    membership.save()
    page = client_for(auditor).get(f"/participants/{participant.pk}/")
    assert page.templates[0].name == "participant_detail.html"
    assert participant.last_name.upper() in page.content.decode()


def test_named_access_identifies_but_never_gives_contact_details_nor_sex(world, two_buyers):
    """Data minimisation: an auditor with named access sees the name and birth date (to identify the person for a
    control), never the e-mail, the phone, the address nor the sex — on no channel. The adviser still does."""
    participant, first, _ = two_buyers
    Participant.objects.filter(pk=participant.pk).update(
        email="lina.contact@example.org", phone="06 98 76 54 32", sex=Sex.FEMALE, commune="Vénissieux-Secret"
    )
    auditor = world.a.auditor
    assert not policy.allows(named(auditor), "participant.view_contact", participant)
    assert policy.allows(world.a.adviser, "participant.view_contact", participant)
    membership = auditor.user.memberships.get()
    membership.named_access = True
    membership.save()
    client = client_for(auditor)
    secrets = ("lina.contact@example.org", "06 98 76 54 32", "Vénissieux-Secret")

    page = client.get(f"/participants/{participant.pk}/").content.decode()
    assert participant.last_name.upper() in page and participant.birth_date.strftime("%d/%m/%Y") in page
    assert ">Sexe<" not in page and "Femme" not in page
    referral_page = client.get(f"/positionnements/{first.pk}/").content.decode()
    api_detail = client.get(f"/api/v1/participants/{participant.pk}/").json()
    assert api_detail["last_name"] == participant.last_name and api_detail["birth_date"]
    for name in ("email", "phone", "sex", "postcode", "commune", "notice_given_on", "updated_at", "programme"):
        assert api_detail[name] is None, name
    assert ">Dispositif<" not in page  # CEJ, PACEA: also a criterion
    api_list = client.get("/api/v1/participants/").json()["results"]
    listed = next(row for row in api_list if row["id"] == participant.pk)
    assert listed["email"] is None and listed["phone"] is None and listed["sex"] is None
    referrals = client.get("/api/v1/referrals/").json()["results"]
    assert referrals and all(r["participant"]["email"] is None for r in referrals)
    assert all(r["participant"]["phone"] is None for r in referrals)
    referral = client.get(f"/api/v1/referrals/{first.pk}/").json()
    assert referral["participant"]["last_name"] == participant.last_name
    bodies = [page, referral_page, str(api_detail), str(api_list), str(referrals), str(referral)]
    bodies.append(client.get(f"/audit/parcours/{participant.pk}/export.csv").content.decode("utf-8-sig"))
    bodies.append(client.get(f"/api/v1/participants/{participant.pk}/history/").content.decode())
    bodies.append(client.get("/notifications/").content.decode())
    for body in bodies:
        for secret in secrets:
            assert secret not in body, secret

    adviser = client_for(world.a.adviser)
    assert "lina.contact@example.org" in adviser.get(f"/participants/{participant.pk}/").content.decode()
    assert adviser.get(f"/api/v1/participants/{participant.pk}/").json()["sex"] == Sex.FEMALE


def test_named_access_is_refused_outside_auditors(world):
    membership = world.a.adviser.user.memberships.get()
    membership.named_access = True
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        membership.save()


def test_other_buyer_files_stay_out_of_reach(world, two_buyers):
    participant, first, second = two_buyers
    outsider = make_pathway(world, "eligible").participant  # referred nowhere
    client = client_for(world.a.auditor)
    assert client.get(f"/participants/{outsider.pk}/").status_code == 404
    assert client.get(f"/positionnements/{second.pk}/").status_code == 404
    assert Participant.objects.filter(pk=participant.pk).exists()
    assert Referral.objects.filter(pk=second.pk).exists()


def test_a_pathway_s_events_name_only_the_referrals_the_viewer_may_view(world, two_buyers):
    """The pathway's moves to "referred" and back name their referral: each buyer sees the ids of its own
    contract's referral only; the adviser who made both sees both."""
    participant, first, second = two_buyers
    named = {}
    for actor in (world.a.auditor, world.b.auditor, world.a.adviser):
        events = selectors.present_events(actor, selectors.participant_events(actor, participant.pk))
        moves = [e for e in events if e.object_type == "pathway" and e.action in ("refer", "return_to_eligible")]
        assert len(moves) == 4, actor.role  # the pathway's moves stay visible to every reader of the file
        named[actor] = {e.shown_inputs.get("referral") for e in moves} - {None}
    assert named[world.a.auditor] == {first.pk}
    assert named[world.b.auditor] == {second.pk}
    assert named[world.a.adviser] == {first.pk, second.pk}
    body = client_for(world.b.auditor).get(f"/api/v1/participants/{participant.pk}/history/").content.decode()
    assert f'"referral": {first.pk}' not in body.replace('":', '": ').replace(":  ", ": ")


def test_a_pathway_s_events_name_only_the_placements_the_viewer_may_view(world):
    """A hire moves the pathway to "placed", naming the placement: not to the buyer of another contract, who still
    reads the pathway's file through its own referral."""
    other_offer = make_offer(world.a, lot=make_lot(world.a, buyer=world.b.buyer))
    pathway = make_pathway(world, "eligible")
    make_referral(world, "refused", pathway=pathway, offer=other_offer)  # gives buyer b the file
    placement = make_placement(world, "planned", pathway=pathway)  # on side a's contract
    for actor, sees in [(world.a.auditor, True), (world.b.auditor, False), (world.a.adviser, True)]:
        events = selectors.present_events(actor, selectors.participant_events(actor, pathway.participant_id))
        [placed] = [e for e in events if e.object_type == "pathway" and e.action == "place"]
        assert (placed.shown_inputs.get("placement") == placement.pk) is sees, actor.role
        assert "placement" in placed.inputs
        # Nor the employer who hired, which the event's acting organisation named (its role stays).
        assert (placed.actor_organisation_shown == placement.employer) is sees, actor.role
        assert placed.role_label
    history = client_for(world.b.auditor).get(f"/api/v1/participants/{pathway.participant_id}/history/").json()
    [placed] = [e for e in history["results"] if e["object_type"] == "pathway" and e["action"] == "place"]
    assert placed["actor"]["organisation"] is None and placed["actor"]["role"] == "employer"

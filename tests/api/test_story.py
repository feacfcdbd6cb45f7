"""The whole pathway story through the API, with the demo roles and their tokens."""

import datetime

from django.utils import timezone
from rest_framework.test import APIClient

from parcours.models import Participant, ParticipantAccess, Placement
from tests.api.conftest import CRITERION, HEALTH_CRITERION, PASSWORD
from tests.factories import backdate_placement, last_month
from workflows.models import JournalEvent
from workflows.vocabulary import AccessChannel


def login(username):
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def names(body):
    return [t["name"] for t in body["available_transitions"]]


def ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.content)
    return response.json()


def test_whole_pathway_story_through_the_api(api_world):
    today = timezone.localdate()
    a = api_world.a
    conseillere, facilitateur = login("conseillere"), login("facilitateur")
    employeur, auditeur = login("employeur"), login("auditeur")

    # Intake by the adviser: the participant and an open pathway.
    birth = today.replace(year=today.year - 19, day=1).isoformat()
    file = ok(
        conseillere.post(
            "/api/v1/participants/",
            {
                "first_name": "Yanis",
                "last_name": "Benali",
                "birth_date": birth,
                "email": "yanis@example.org",
                "phone": "0611223344",
                "postcode": "69120",
                "commune": "Vaulx-en-Velin",
                "is_qpv_resident": True,
                "qualification_level": "infra_3",
                "programme": "cej",
            },
        ),
        201,
    )
    assert file["youth_agency"]["id"] == a.orgs["mission_locale"].pk
    pathway_id = file["pathways"][0]["id"]
    pathway = ok(conseillere.get(f"/api/v1/pathways/{pathway_id}/"))
    assert pathway["state"] == "intake"
    assert "submit_eligibility" in names(pathway)
    # What to send is read on the pathway's address: the criteria of the catalogue, the partner facilitations.
    (submit,) = [t for t in pathway["available_transitions"] if t["name"] == "submit_eligibility"]
    inputs = {i["name"]: i for i in submit["inputs"]}
    offered = {o["value"]: o["label"] for o in inputs["criteria"]["options"]}
    assert CRITERION in offered and "(donnée de santé)" in offered[HEALTH_CRITERION]
    assert [o["value"] for o in inputs["facilitation_organisation"]["options"]] == [a.orgs["facilitation"].pk]
    listed = ok(conseillere.get("/api/v1/pathways/", {"state": "intake"}))["results"]
    assert all("options" not in i for p in listed for t in p["available_transitions"] for i in t["inputs"])

    # Eligibility: declared by the adviser, validated by the facilitator (who alone sees health criteria).
    pathway = ok(
        conseillere.post(
            f"/api/v1/pathways/{pathway_id}/transitions/submit_eligibility/",
            {"criteria": [CRITERION, HEALTH_CRITERION]},
        )
    )
    assert pathway["state"] == "eligibility_pending" and names(pathway) == ["withdraw"]
    pending = ok(facilitateur.get("/api/v1/pathways/", {"state": "eligibility_pending"}))
    assert [p["id"] for p in pending["results"]] == [pathway_id]
    assert set(names(pending["results"][0])) == {"validate_eligibility", "reject_eligibility"}
    participant_id = file["id"]
    seen_by_facilitator = ok(facilitateur.get(f"/api/v1/participants/{participant_id}/"))
    assert seen_by_facilitator["health_data_visible"] is True
    assert {c["code"] for c in seen_by_facilitator["assessments"][0]["criteria"]} == {CRITERION, HEALTH_CRITERION}
    seen_by_adviser = ok(conseillere.get(f"/api/v1/participants/{participant_id}/"))
    assert seen_by_adviser["health_data_visible"] is False
    assert {c["code"] for c in seen_by_adviser["assessments"][0]["criteria"]} == {CRITERION}
    pathway = ok(
        facilitateur.post(
            f"/api/v1/pathways/{pathway_id}/transitions/validate_eligibility/",
            {"proofs": [{"criterion": CRITERION, "proof_kind": "attestation", "seen_on": today.isoformat()}]},
        )
    )
    assert pathway["state"] == "eligible"

    # Referral by the adviser to an open offer of a partner facilitation organisation.
    offers = ok(conseillere.get("/api/v1/job-offers/", {"is_open": "true"}))
    offer_id = a.offer.pk
    assert offer_id in [o["id"] for o in offers["results"]]
    referral = ok(
        conseillere.post("/api/v1/referrals/", {"pathway": pathway_id, "offer": offer_id, "motivation": "Motivé."}),
        201,
    )
    referral_id = referral["id"]
    assert referral["state"] == "sent" and names(referral) == ["cancel"] and referral["motivation"] == "Motivé."
    assert ok(conseillere.get(f"/api/v1/pathways/{pathway_id}/"))["state"] == "referred"

    # The facilitator reviews, approves and forwards to the awardee.
    for name, state in [("start_review", "under_review"), ("approve", "approved"), ("forward", "forwarded")]:
        referral = ok(facilitateur.post(f"/api/v1/referrals/{referral_id}/transitions/{name}/", {}))
        assert referral["state"] == state

    # The employer sees only what hiring needs, accepts and hires.
    inbox = ok(employeur.get("/api/v1/referrals/", {"state": "forwarded"}))
    candidate = next(r for r in inbox["results"] if r["id"] == referral_id)
    assert candidate["participant"] == {
        "pseudonym": f"P-{participant_id:06d}",
        "first_name": "Yanis",
        "last_name": "Benali",
        "email": "yanis@example.org",
        "phone": "0611223344",
    }
    assert candidate["motivation"] is None  # the adviser's note stays with those who may read the file
    assert set(names(candidate)) == {"accept", "refuse"}
    assert employeur.get("/api/v1/participants/").status_code == 403
    assert employeur.get(f"/api/v1/participants/{participant_id}/").status_code == 403
    ok(employeur.post(f"/api/v1/referrals/{referral_id}/transitions/accept/"))
    referral = ok(
        employeur.post(
            f"/api/v1/referrals/{referral_id}/transitions/hire/",
            {"contract_type": "cdd", "start_date": today.isoformat(), "weekly_hours": 35},
        )
    )
    assert referral["state"] == "hired"
    placement_id = referral["placement"]
    assert ok(conseillere.get(f"/api/v1/pathways/{pathway_id}/"))["state"] == "placed"

    # The contract starts, the employer declares the month's hours, the facilitator validates and locks them.
    placement = ok(employeur.post(f"/api/v1/placements/{placement_id}/transitions/start/"))
    assert placement["state"] == "active" and set(names(placement)) == {"end"}
    backdate_placement(Placement.objects.get(pk=placement_id))  # time passes: last month is over
    month = last_month()
    line = ok(
        employeur.post(
            "/api/v1/hours-lines/", {"placement": placement_id, "month": month.isoformat(), "hours": "80.5"}
        ),
        201,
    )
    assert line["state"] == "declared" and line["hours"] == "80.50" and line["month"] == month.isoformat()
    line = ok(facilitateur.post(f"/api/v1/hours-lines/{line['id']}/transitions/validate/"))
    line = ok(facilitateur.post(f"/api/v1/hours-lines/{line['id']}/transitions/lock/"))
    assert line["state"] == "locked" and line["available_transitions"] == []
    lot = ok(facilitateur.get(f"/api/v1/lots/{a.lot.pk}/"))
    assert lot["realised_hours"] == "80.50" and lot["target_hours"] == "1400.00"

    # End of contract, a follow-up, then the exit recorded by the adviser.
    placement = ok(
        employeur.post(
            f"/api/v1/placements/{placement_id}/transitions/end/",
            {"end_date": today.isoformat(), "end_kind": "normal"},
        )
    )
    assert placement["state"] == "ended"
    pathway = ok(conseillere.get(f"/api/v1/pathways/{pathway_id}/"))
    assert pathway["state"] == "in_follow_up" and "exit" in names(pathway)
    follow_up = ok(
        conseillere.post(
            f"/api/v1/pathways/{pathway_id}/follow-ups/",
            {"kind": "phone", "done_on": today.isoformat(), "note": "En poste, satisfait."},
        ),
        201,
    )
    assert follow_up["recorded_by"] == "conseillere"
    assert len(ok(conseillere.get(f"/api/v1/pathways/{pathway_id}/follow-ups/"))["results"]) == 4  # 3 planned + 1
    pathway = ok(
        conseillere.post(
            f"/api/v1/pathways/{pathway_id}/transitions/exit/",
            {"exited_on": today.isoformat(), "situation": "cdi"},
        )
    )
    assert pathway["state"] == "exited" and pathway["exited_on"] == today.isoformat()
    assert names(pathway) == ["reopen"]

    # The auditor (the buyer) reads the pathway history, and may not act.
    history = ok(auditeur.get(f"/api/v1/pathways/{pathway_id}/history/"))["results"]
    assert [(e["action"], e["to_state"]) for e in history] == [
        ("create", "intake"),
        ("submit_eligibility", "eligibility_pending"),
        ("validate_eligibility", "eligible"),
        ("refer", "referred"),
        ("place", "placed"),
        ("start_follow_up", "in_follow_up"),
        ("record_follow_up", "in_follow_up"),
        ("exit", "exited"),
    ]
    assert history[-1]["actor"] == {
        "username": None,  # a pseudonymised reader: the organisation and role that acted, not the professional
        "role": "adviser",
        "organisation": a.orgs["mission_locale"].pk,
    }
    assert [e["sequence"] for e in history] == list(range(1, len(history) + 1))
    referral_history = ok(auditeur.get(f"/api/v1/referrals/{referral_id}/history/"))["results"]
    assert [e["action"] for e in referral_history] == [
        "create",
        "start_review",
        "approve",
        "forward",
        "accept",
        "hire",
    ]
    assert referral_history[-1]["inputs"]["weekly_hours"] == "35.00"  # a decimal, as text (every amount)
    reopen = auditeur.post(f"/api/v1/pathways/{pathway_id}/transitions/reopen/", {"reason": "Erreur"})
    assert reopen.status_code == 403 and reopen.json()["code"] == "forbidden"

    # Every API read of the participant file is in the access log, channel "api".
    reads = ParticipantAccess.objects.filter(participant_id=participant_id, channel=AccessChannel.API)
    assert {(r.user.username, r.purpose) for r in reads} >= {("facilitateur", "view"), ("conseillere", "view")}
    assert Participant.objects.filter(pk=participant_id).exists()
    assert JournalEvent.objects.filter(participant_id=participant_id).count() >= 20
    assert today - datetime.timedelta(days=1) < today

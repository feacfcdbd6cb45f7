"""Who granted what to whom, and when: each membership created, changed or deleted and each account's rights changed
in the admin is a sealed journal event (ids and codes, never names), which the organisation's data-protection
officer reads on « Comptes et droits » — and no one else."""

import html

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from roles.enums import Role
from roles.models import Membership
from tests.work.conftest import make_actor
from tests.work.test_admin_leavers import change_membership, membership, posted
from workflows.journal import verify_chains
from workflows.models import JournalEvent

URL = "/donnees-personnelles/comptes/"


def events(object_type):
    return list(
        JournalEvent.objects.filter(object_type=object_type)
        .order_by("pk")
        .values_list("action", "actor_user__username", "inputs")
    )


def page(user):
    client = Client()
    client.force_login(user)
    return client.get(URL)


def test_membership_changes_are_journaled_with_what_they_were(admin_client, territories):
    a, b = territories.a, territories.b
    adviser = membership(a.adviser)
    change_membership(admin_client, adviser, is_active=None)  # switched off
    change_membership(admin_client, adviser)  # saved as shown: nothing to journal
    [(action, actor, inputs)] = events("membership")
    assert (action, actor) == ("membership_changed", "admin")
    assert inputs["previous"] == {"is_active": True} and inputs["is_active"] is False
    assert (inputs["user"], inputs["organisation"], inputs["role"]) == (
        a.adviser.user.pk,
        a.youth_agency.pk,
        "adviser",
    )
    change_membership(admin_client, adviser, organisation=b.youth_agency.pk, is_active="on")
    moved = events("membership")[-1][2]
    assert moved["organisation"] == b.youth_agency.pk
    assert moved["previous"] == {"organisation": a.youth_agency.pk, "is_active": False}
    response = admin_client.post(f"/admin/roles/membership/{adviser.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert events("membership")[-1][0] == "membership_deleted"
    assert verify_chains().ok


def test_an_organisations_members_edited_inline_are_journaled(admin_client, territories):
    a = territories.a
    url = f"/admin/roles/organisation/{a.youth_agency.pk}/change/"
    context = admin_client.get(url).context
    data = posted(context)
    [row] = [f for f in context["inline_admin_formsets"][0].formset.forms if f.instance.user_id == a.adviser2.user.pk]
    data[row.add_prefix("DELETE")] = "on"
    assert admin_client.post(url, data).status_code == 302
    [(action, actor, inputs)] = events("membership")
    assert (action, actor, inputs["user"]) == ("membership_deleted", "admin", a.adviser2.user.pk)


def test_account_rights_are_journaled_not_its_name(admin_client, territories):
    user = territories.a.adviser.user
    url = f"/admin/auth/user/{user.pk}/change/"
    data = posted(admin_client.get(url).context)
    assert admin_client.post(url, data | {"first_name": "Renommée"}).status_code == 302
    assert events("account") == []  # a name is not a right
    supervise = Permission.objects.get(codename="supervise_worktask")
    assert admin_client.post(url, data | {"user_permissions": [str(supervise.pk)]}).status_code == 302
    [(action, actor, inputs)] = events("account")
    assert (action, actor) == ("account_changed", "admin")
    assert inputs["permissions"] == ["parcours.supervise_worktask"] and inputs["previous"] == {"permissions": []}
    assert "Renommée" not in str(inputs) and user.username not in str(inputs)
    response = admin_client.post(
        "/admin/auth/user/", {"action": "deactivate", "_selected_action": [user.pk]}, follow=True
    )
    assert response.status_code == 200
    assert events("account")[-1][2]["previous"] == {"is_active": True}


def test_the_data_protection_officer_reads_their_organisations_rights_log(admin_client, territories):
    a, b = territories.a, territories.b
    dpo = make_actor(a.youth_agency, Role.DPO)
    other_dpo = make_actor(b.youth_agency, Role.DPO)
    Membership.objects.filter(user=dpo.user).update(named_access=False)
    change_membership(admin_client, membership(a.adviser), is_active=None)
    change_membership(admin_client, membership(territories.b.adviser), is_active=None)
    response = page(dpo.user)
    body = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert "Appartenance modifiée" in body and "actif·ve : oui → non" in body
    assert a.adviser.user.get_full_name() or a.adviser.user.username in body
    assert body.count("Appartenance modifiée") == 1  # not the other Mission Locale's
    # A move out of the organisation is still its own story: both see it.
    change_membership(admin_client, membership(a.adviser2), organisation=b.youth_agency.pk)
    assert f"organisation : {a.youth_agency.name} → {b.youth_agency.name}" in html.unescape(
        page(dpo.user).content.decode()
    )
    assert f"organisation : {a.youth_agency.name} → {b.youth_agency.name}" in html.unescape(
        page(other_dpo.user).content.decode()
    )
    for actor in (a.adviser, a.facilitator, a.employer, a.auditor):
        assert page(actor.user).status_code == 403


@pytest.mark.parametrize("extra", [0, 6])
def test_the_rights_log_costs_the_same_whatever_its_rows(admin_client, territories, extra):
    a = territories.a
    dpo = make_actor(a.youth_agency, Role.DPO)
    adviser = membership(a.adviser)
    for index in range(1 + extra):
        change_membership(admin_client, adviser, **({"is_active": None} if index % 2 == 0 else {"is_active": "on"}))
    client = Client()
    client.force_login(dpo.user)
    client.get(URL)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL).status_code == 200
    # session, user, memberships, then the count, the page's events (with their actors), its people, its organisations
    assert len(queries) == 7, [q["sql"] for q in queries]


def test_the_admin_refuses_a_siret_that_is_not_14_digits(admin_client, territories):
    organisation = territories.a.employer_org
    url = f"/admin/roles/organisation/{organisation.pk}/change/"
    data = posted(admin_client.get(url).context)
    for bad in ("abc", "1234", "4189653210002X", "418 965 321 0002"):
        response = admin_client.post(url, data | {"siret": bad})
        assert response.status_code == 200, bad
        assert "Le SIRET compte 14 chiffres, sans espace." in html.unescape(response.content.decode()), bad
    assert admin_client.post(url, data | {"siret": "418 965 321\u00a000027"}).status_code == 302
    organisation.refresh_from_db()
    assert organisation.siret == "41896532100027"


def test_an_address_belongs_to_one_account(admin_client, territories):
    """Two accounts with one address would both receive the other's password reset."""
    a = territories.a
    a.adviser.user.email = "claire@example.org"
    a.adviser.user.save(update_fields=["email"])
    url = f"/admin/auth/user/{a.adviser2.user.pk}/change/"
    data = posted(admin_client.get(url).context)
    response = admin_client.post(url, data | {"email": "Claire@Example.org"})
    assert response.status_code == 200
    assert "Cette adresse de courriel est déjà celle d'un autre compte." in html.unescape(response.content.decode())
    assert admin_client.post(url, data | {"email": "karim@example.org"}).status_code == 302
    response = admin_client.post(
        "/admin/auth/user/add/",
        {"username": "nouvelle", "email": "claire@example.org", "usable_password": "false"},
    )
    assert response.status_code == 200 and "déjà celle d'un autre compte" in html.unescape(response.content.decode())
    response = admin_client.post(
        "/admin/auth/user/add/",
        {"username": "nouvelle", "email": "nouvelle@example.org", "usable_password": "false"},
    )
    assert response.status_code == 302
    assert events("account")[-1][0] == "account_created"


def test_a_deleted_membership_keeps_its_history_on_the_dpos_page(admin_client, territories):
    """Found from outside: once a member's membership was deleted, their account's earlier events left the DPO's
    page (it read the current members only)."""
    a = territories.a
    dpo = make_actor(a.youth_agency, Role.DPO)
    user = a.adviser2.user
    url = f"/admin/auth/user/{user.pk}/change/"
    data = posted(admin_client.get(url).context)
    data.pop("is_active")
    assert admin_client.post(url, data).status_code == 302  # account switched off
    member = membership(a.adviser2)
    assert admin_client.post(f"/admin/roles/membership/{member.pk}/delete/", {"post": "yes"}).status_code == 302
    body = html.unescape(page(dpo.user).content.decode())
    assert "Compte modifié" in body and "actif·ve : oui → non" in body and "Appartenance supprimée" in body
    # Another Mission Locale's DPO sees none of it.
    other = make_actor(territories.b.youth_agency, Role.DPO)
    body = html.unescape(page(other.user).content.decode())
    assert "Compte modifié" not in body and "Appartenance supprimée" not in body


def test_a_leavers_account_changes_after_they_left_are_their_new_organisations(admin_client, territories):
    """Found from outside: A's officer kept reading the account changes of someone who had moved to B (switched off
    there, made staff…) — B's business, not A's. A keeps the move and what happened before it."""
    a, b = territories.a, territories.b
    dpo = make_actor(a.youth_agency, Role.DPO)
    other = make_actor(b.youth_agency, Role.DPO)
    user = a.adviser2.user
    url = f"/admin/auth/user/{user.pk}/change/"
    data = posted(admin_client.get(url).context)
    data["is_staff"] = "on"
    assert admin_client.post(url, data).status_code == 302  # while in A: A's history
    change_membership(admin_client, membership(a.adviser2), organisation=b.youth_agency.pk)
    data = posted(admin_client.get(url).context)
    data.pop("is_active")
    assert admin_client.post(url, data).status_code == 302  # switched off once in B
    mine = html.unescape(page(dpo.user).content.decode())
    assert "accès à l'administration : non → oui" in mine
    assert f"organisation : {a.youth_agency.name} → {b.youth_agency.name}" in mine
    assert "actif·ve : oui → non" not in mine
    theirs = html.unescape(page(other.user).content.decode())
    assert "actif·ve : oui → non" in theirs

"""The admin's forms, posted as an administrator posts them: a membership moved, its role changed, switched off or
deleted (on its own page or among the organisation's members), an account's « Actif » unticked or the bulk action:
the leaver's open tasks go back to the team's queue, journaled with the administrator as actor; an account switched
off loses its sessions and API token, and switching it back on does not bring them back. DRF's token admin is gone."""

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.models import Session
from django.forms import MultiWidget
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from viewflow.workflow.status import STATUS

from parcours.services import tasks as services
from parcours.work.models import TaskKind, WorkTask
from roles.models import Membership
from tests.work.conftest import open_task
from workflows.models import JournalEvent


def posted(context) -> dict:
    """What an admin change page posts back untouched: its form, its inlines' management forms and rows."""
    forms = [context["adminform"].form]
    for inline in context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for name, field in form.fields.items():
            value = form[name].value()
            if value is None or value is False or field.disabled:
                continue
            if isinstance(field.widget, MultiWidget):  # a date and a time
                for index, part in enumerate(field.widget.decompress(value)):
                    data[f"{form.add_prefix(name)}_{index}"] = "" if part is None else str(part)
            elif isinstance(value, list | tuple):
                data[form.add_prefix(name)] = [str(v) for v in value]
            else:
                data[form.add_prefix(name)] = "on" if value is True else value
    return data


def held(work_task):
    task = WorkTask.objects.select_related("task").get(pk=work_task.pk).task
    return task.status, task.owner_id


def claimed(territories, actor):
    task = open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral())
    services.task_claim(actor=actor, task=task)
    return task


def membership(actor):
    return Membership.objects.get(user=actor.user, organisation=actor.organisation)


def release_actor(task):
    return list(
        JournalEvent.objects.filter(object_type="task", object_id=task.pk, action="release_on_leave").values_list(
            "actor_user__username", flat=True
        )
    )


def change_membership(admin_client, member, **changes):
    url = f"/admin/roles/membership/{member.pk}/change/"
    data = posted(admin_client.get(url).context) | changes
    for name in [name for name, value in changes.items() if value is None]:
        data.pop(name)
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    return response


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"organisation": "b"}, id="moved"),
        pytest.param({"role": "auditor"}, id="role-changed"),
        pytest.param({"is_active": None}, id="switched-off"),
    ],
)
def test_a_membership_changed_in_the_admin_gives_the_task_back(admin_client, territories, changes):
    a, b = territories.a, territories.b
    task = claimed(territories, a.facilitator)
    if changes.get("organisation") == "b":
        changes = {"organisation": b.facilitation.pk}
    change_membership(admin_client, membership(a.facilitator), **changes)
    assert held(task) == (STATUS.NEW, None)
    assert release_actor(task) == ["admin"]
    # The colleague finds it in « À prendre » and may take it.
    colleague = Client()
    colleague.force_login(a.facilitator2.user)
    assert f"/travail/taches/{task.pk}/" in colleague.get("/travail/a-prendre/").content.decode()


def test_an_unrelated_edit_in_the_admin_releases_nothing(admin_client, territories):
    a = territories.a
    task = claimed(territories, a.facilitator)
    theirs = claimed(territories, a.facilitator2)
    change_membership(admin_client, membership(a.facilitator))  # saved as shown
    change_membership(admin_client, membership(a.auditor), role="facilitator")  # someone else's change
    assert held(task) == (STATUS.ASSIGNED, a.facilitator.user.pk)
    assert held(theirs) == (STATUS.ASSIGNED, a.facilitator2.user.pk)
    assert not JournalEvent.objects.filter(action="release_on_leave").exists()


def test_a_membership_deleted_in_the_admin_gives_the_task_back(admin_client, territories):
    a = territories.a
    task = claimed(territories, a.facilitator)
    member = membership(a.facilitator)
    response = admin_client.post(f"/admin/roles/membership/{member.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert held(task) == (STATUS.NEW, None)
    assert release_actor(task) == ["admin"]


@pytest.mark.parametrize("how", ["switched-off", "deleted"])
def test_a_member_changed_among_the_organisations_members_gives_the_task_back(admin_client, territories, how):
    a = territories.a
    task = claimed(territories, a.facilitator)
    theirs = claimed(territories, a.facilitator2)
    url = f"/admin/roles/organisation/{a.facilitation.pk}/change/"
    context = admin_client.get(url).context
    data = posted(context)
    [row] = [
        form
        for form in context["inline_admin_formsets"][0].formset.forms
        if form.instance.user_id == a.facilitator.user.pk
    ]
    if how == "deleted":
        data[row.add_prefix("DELETE")] = "on"
    else:
        data.pop(row.add_prefix("is_active"))
    response = admin_client.post(url, data)
    assert response.status_code == 302
    assert held(task) == (STATUS.NEW, None)
    assert held(theirs) == (STATUS.ASSIGNED, a.facilitator2.user.pk)  # the colleague keeps theirs
    assert release_actor(task) == ["admin"] and release_actor(theirs) == []


def test_an_account_switched_off_in_the_admin_stays_signed_out_when_switched_back_on(admin_client, territories):
    a = territories.a
    user = a.facilitator.user
    task = claimed(territories, a.facilitator)
    browser = Client()
    browser.force_login(user)
    assert browser.get("/travail/").status_code == 200
    token = Token.objects.create(user=user).key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/organisations/").status_code == 200
    other = Client()
    other.force_login(a.facilitator2.user)  # someone else's session stays

    url = f"/admin/auth/user/{user.pk}/change/"
    data = posted(admin_client.get(url).context)
    data.pop("is_active")
    response = admin_client.post(url, data)
    assert response.status_code == 302

    assert held(task) == (STATUS.NEW, None)
    assert release_actor(task) == ["admin"]
    assert not Token.objects.filter(user=user).exists()
    sessions = [s.get_decoded().get(SESSION_KEY) for s in Session.objects.all()]
    assert str(user.pk) not in sessions and str(a.facilitator2.user.pk) in sessions
    # Switched back on: the old cookie and the old token are dead.
    get_user_model().objects.filter(pk=user.pk).update(is_active=True)
    assert browser.get("/travail/").status_code == 302
    assert api.get("/api/v1/organisations/").status_code == 401
    assert other.get("/travail/").status_code == 200


def test_an_unrelated_edit_of_an_account_keeps_its_sessions_and_tasks(admin_client, territories):
    a = territories.a
    user = a.facilitator.user
    task = claimed(territories, a.facilitator)
    browser = Client()
    browser.force_login(user)
    Token.objects.create(user=user)
    url = f"/admin/auth/user/{user.pk}/change/"
    response = admin_client.post(url, posted(admin_client.get(url).context) | {"first_name": "Renommée"})
    assert response.status_code == 302
    assert get_user_model().objects.get(pk=user.pk).first_name == "Renommée"
    assert held(task) == (STATUS.ASSIGNED, user.pk)
    assert Token.objects.filter(user=user).exists()
    assert browser.get("/travail/").status_code == 200


def test_the_bulk_action_switches_accounts_off(admin_client, territories):
    a = territories.a
    mine = claimed(territories, a.facilitator)
    theirs = claimed(territories, a.facilitator2)
    Token.objects.create(user=a.facilitator.user)
    response = admin_client.post(
        "/admin/auth/user/",
        {"action": "deactivate", "_selected_action": [a.facilitator.user.pk]},
        follow=True,
    )
    assert "Comptes désactivés : 1" in response.content.decode()
    assert not get_user_model().objects.get(pk=a.facilitator.user.pk).is_active
    assert not Token.objects.filter(user=a.facilitator.user).exists()
    assert held(mine) == (STATUS.NEW, None)
    assert held(theirs) == (STATUS.ASSIGNED, a.facilitator2.user.pk)


def test_the_token_admin_is_gone(admin_client, db):
    user = get_user_model().objects.create_user("integration")
    Token.objects.create(user=user)
    assert admin_client.get("/admin/authtoken/tokenproxy/").status_code == 404
    assert admin_client.get("/admin/authtoken/tokenproxy/add/").status_code == 404
    assert "tokenproxy" not in admin_client.get("/admin/").content.decode()

"""Claim, assign to a colleague, unassign, reassign, bulk assign: each journaled, the journal stays complete."""

import html

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from viewflow.workflow.status import STATUS

from parcours.services import referrals
from parcours.services import tasks as services
from parcours.work.models import TaskKind, WorkTask
from tests.work.conftest import make_actor, open_task
from workflows.errors import DomainError
from workflows.journal import verify_chains
from workflows.models import JournalEvent


def supervise(actor):
    actor.user.user_permissions.add(Permission.objects.get(codename="supervise_worktask"))
    actor.user.__dict__.pop("_perm_cache", None)
    actor.user.__dict__.pop("_user_perm_cache", None)


def chain(work_task):
    return list(
        JournalEvent.objects.filter(object_type="task", object_id=work_task.pk)
        .order_by("sequence")
        .values_list("sequence", "action", "actor_user_id", "from_state", "to_state", "inputs")
    )


def owner(work_task):
    return WorkTask.objects.select_related("task").get(pk=work_task.pk).task.owner_id


def test_reassignment_keeps_the_journal_complete(territories):
    a = territories.a
    referral = territories.referral()
    task = open_task(TaskKind.REVIEW_REFERRAL, referral=referral)
    f1, f2 = a.facilitator, a.facilitator2

    services.task_claim(actor=f1, task=task)
    assert owner(task) == f1.user.pk
    services.task_reassign(actor=f1, task=task, user=f2.user)
    assert owner(task) == f2.user.pk
    services.task_unassign(actor=f2, task=task)
    assert owner(task) is None
    services.task_assign(actor=f2, task=task, user=f1.user)
    assert owner(task) == f1.user.pk
    boss = make_actor(a.facilitation, "facilitator")
    supervise(boss)
    assert services.task_bulk_assign(actor=boss, tasks=[task.pk], user=f2.user) == 1
    assert owner(task) == f2.user.pk

    # The assignee acts: the task is done by them, its closing event is the fsm event.
    for step in ("start_review", "approve", "forward"):
        getattr(referrals, f"referral_{step}")(actor=f2, referral=referral)
    task = WorkTask.objects.select_related("task", "closing_event").get(pk=task.pk)
    assert task.task.status == STATUS.DONE and task.done_by == f2.user
    assert (task.closing_event.object_type, task.closing_event.action) == ("referral", "forward")

    u1, u2, ub = f1.user.pk, f2.user.pk, boss.user.pk
    assert chain(task) == [
        (1, "claim", u1, "new", "assigned", {"kind": "review_referral", "to": u1}),
        (2, "reassign", u1, "assigned", "assigned", {"kind": "review_referral", "from": u1, "to": u2}),
        (3, "unassign", u2, "assigned", "new", {"kind": "review_referral", "from": u2}),
        (4, "assign", u2, "new", "assigned", {"kind": "review_referral", "to": u1}),
        (5, "reassign", ub, "assigned", "assigned", {"kind": "review_referral", "from": u1, "to": u2, "bulk": True}),
    ]
    events = JournalEvent.objects.filter(object_type="task", object_id=task.pk)
    assert {e.actor_role for e in events} == {"facilitator"}
    assert {e.participant_id for e in events} == {referral.pathway.participant_id}
    assert verify_chains().ok


def test_assignment_rules(territories):
    a, b = territories.a, territories.b
    task = open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral())

    def refused(code, call):
        with pytest.raises(DomainError) as error:
            call()
        assert error.value.code == code, error.value
        return error.value

    # Only colleagues holding the task's role in its organisation may receive it.
    for stranger in (b.facilitator, a.adviser, a.auditor):
        assert (
            refused(
                "invalid_input", lambda s=stranger: services.task_assign(actor=a.facilitator, task=task, user=s.user)
            ).field
            == "user"
        )
    services.task_claim(actor=a.facilitator, task=task)
    # A claimed task cannot be claimed or assigned again; a colleague cannot release or hand it over.
    refused("invalid_transition", lambda: services.task_claim(actor=a.facilitator2, task=task))
    refused(
        "invalid_transition", lambda: services.task_assign(actor=a.facilitator2, task=task, user=a.facilitator2.user)
    )
    # Held by another: said on the page (a click older than a reassignment), not refused as a matter of role.
    refused("invalid_transition", lambda: services.task_unassign(actor=a.facilitator2, task=task))
    refused(
        "invalid_transition", lambda: services.task_reassign(actor=a.facilitator2, task=task, user=a.facilitator2.user)
    )
    refused("invalid_input", lambda: services.task_reassign(actor=a.facilitator, task=task, user=a.facilitator.user))
    # Bulk assignment is for supervisors.
    refused(
        "forbidden", lambda: services.task_bulk_assign(actor=a.facilitator, tasks=[task.pk], user=a.facilitator2.user)
    )
    # Refused actions wrote nothing.
    assert [row[1] for row in chain(task)] == ["claim"]
    # A finished task is no longer assignable.
    referrals.referral_cancel(actor=a.adviser, referral=task.referral_id, reason="Autre emploi")
    refused("invalid_transition", lambda: services.task_unassign(actor=a.facilitator, task=task))


def test_bulk_assign_is_all_or_nothing_and_scoped(territories):
    a, b = territories.a, territories.b
    tasks = [open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral()) for _ in range(3)]
    foreign = open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral(territories.b))
    boss = make_actor(a.facilitation, "facilitator")
    supervise(boss)
    with pytest.raises(DomainError) as error:
        services.task_bulk_assign(actor=boss, tasks=[t.pk for t in tasks] + [foreign.pk], user=a.facilitator.user)
    assert error.value.code == "not_found"
    assert all(owner(t) is None for t in tasks) and owner(foreign) is None
    touched = [t.pk for t in [*tasks, foreign]]
    assert not JournalEvent.objects.filter(object_type="task", object_id__in=touched).exists()
    assert services.task_bulk_assign(actor=boss, tasks=[t.pk for t in tasks], user=a.facilitator.user) == 3
    assert all(owner(t) == a.facilitator.user.pk for t in tasks)
    # Supervisors of another organisation cannot touch them.
    other_boss = b.facilitator
    supervise(other_boss)
    with pytest.raises(DomainError):
        services.task_bulk_assign(actor=other_boss, tasks=[tasks[0].pk], user=b.facilitator.user)


def test_pages_claim_unassign_and_bulk(territories, client):
    a = territories.a
    tasks = [open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral()) for _ in range(2)]
    client.force_login(a.facilitator.user)
    assert client.post(f"/travail/taches/{tasks[0].pk}/prendre/").status_code == 302
    inbox = client.get("/travail/").content.decode()
    assert f"/travail/taches/{tasks[0].pk}/" in inbox and f"/travail/taches/{tasks[1].pk}/" not in inbox
    assert client.post(f"/travail/taches/{tasks[0].pk}/liberer/").status_code == 302
    assert owner(tasks[0]) is None
    # The team tab and bulk assignment are for supervisors only.
    assert client.get("/travail/equipe/").status_code == 404
    client.post("/travail/repartir/", {"tasks": [t.pk for t in tasks], "user": a.facilitator2.user.pk})
    assert owner(tasks[0]) is None
    supervise(a.facilitator)
    client.force_login(a.facilitator.user)
    assert 'name="tasks"' in client.get("/travail/a-prendre/").content.decode()
    assert client.get("/travail/equipe/").status_code == 200
    response = client.post("/travail/repartir/", {"tasks": [t.pk for t in tasks], "user": a.facilitator2.user.pk})
    assert response.status_code == 302
    assert all(owner(t) == a.facilitator2.user.pk for t in tasks)
    # A click on a page older than that reassignment (a colleague who held it): the page says so (before: a 403).
    client.force_login(make_actor(a.facilitation, "facilitator").user)
    response = client.post(f"/travail/taches/{tasks[0].pk}/liberer/", follow=True)
    assert response.status_code == 200 and "entre les mains d'une autre personne" in html.unescape(
        response.content.decode()
    )


def test_ids_and_people_of_another_script_are_not_read_as_numbers(territories, client):
    """`"²".isdigit()` is true and `int("²")` fails (a 500 before); `get(pk="١")` reads user 1."""
    a = territories.a
    task = open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral())
    boss = make_actor(a.facilitation, "facilitator")
    supervise(boss)
    with pytest.raises(DomainError) as error:
        services.task_bulk_assign(actor=boss, tasks=["²", "٣", "99999999999999999999"], user=a.facilitator.user)
    assert error.value.code == "invalid_input"
    # All or nothing: one that is not a task refuses the set (before, it dropped out and the rest was assigned).
    with pytest.raises(DomainError) as error:
        services.task_bulk_assign(actor=boss, tasks=[task.pk, "zzz"], user=a.facilitator.user)
    assert error.value.code == "invalid_input" and owner(task) is None
    with pytest.raises(DomainError) as error:
        services.task_bulk_assign(actor=boss, tasks=[task.pk], user="١")
    assert error.value.code == "invalid_input" and owner(task) is None
    assert services.task_bulk_assign(actor=boss, tasks=[str(task.pk)], user=str(a.facilitator.user.pk)) == 1


@pytest.mark.parametrize("term", ["²", "٣", "99999999999999999999", "12"])
def test_the_admin_finds_processes_and_tasks_by_number_only(territories, client, term):

    client.force_login(get_user_model().objects.create_superuser("admin.num", "admin@example.org", "x" * 16))
    for url in ("/admin/viewflow/process/", "/admin/viewflow/task/"):
        assert client.get(url, {"q": term}).status_code == 200, (url, term)


GENERIC_REFUSAL = "Choisissez une personne de l'équipe à qui la tâche est proposée."


def test_a_refused_assignment_names_nobody_and_cannot_tell_a_user_from_an_unknown_id(territories, client):
    """An employer is a member of its team: it may give an unclaimed task of the team to a colleague. Anyone else
    (an adviser or the DPO of another organisation, the admin, an id that is nobody) is refused with one message
    naming nobody: before, « Claire Dumont n'a pas ce rôle dans l'organisation de la tâche. » against « Personne
    inconnue. » told who every id was."""

    a, b = territories.a, territories.b
    task = open_task(TaskKind.ANSWER_REFERRAL, referral=territories.forwarded())
    admin = get_user_model().objects.create_superuser("admin.x", "admin@example.org", "x" * 16, first_name="Ada")
    strangers = [b.employer.user, a.adviser.user, a.facilitator.user, a.auditor.user, admin]
    names = [user.get_full_name() or user.username for user in strangers]
    inactive = make_actor(a.employer_org, "employer")
    inactive.user.memberships.update(is_active=False)
    for user in [*strangers, inactive.user, 99999999, "abc", "١", "99999999999999999999"]:
        for call in (services.task_assign, services.task_bulk_assign):
            kwargs = {"task": task} if call is services.task_assign else {"tasks": [task.pk]}
            actor = a.employer
            if call is services.task_bulk_assign:
                actor = make_actor(a.employer_org, "employer")
                supervise(actor)
            with pytest.raises(DomainError) as error:
                call(actor=actor, user=user, **kwargs)
            assert (error.value.code, error.value.field, error.value.message) == (
                "invalid_input",
                "user",
                GENERIC_REFUSAL,
            )
    services.task_claim(actor=a.employer, task=task)
    for user in [*strangers, 99999999]:
        with pytest.raises(DomainError) as error:
            services.task_reassign(actor=a.employer, task=task, user=user)
        assert error.value.message == GENERIC_REFUSAL
    services.task_unassign(actor=a.employer, task=task)

    # The page says the same, naming nobody; nothing was written.
    client.force_login(a.employer.user)
    for user in [*strangers, 99999999]:
        response = client.post(
            f"/travail/taches/{task.pk}/attribuer/", {"user": user if isinstance(user, int) else user.pk}, follow=True
        )
        body = response.content.decode()
        assert GENERIC_REFUSAL.replace("'", "&#x27;") in body
        assert not [name for name in names if name in body]
    assert owner(task) is None and [row[1] for row in chain(task)] == ["claim", "unassign"]
    # A colleague receives it.
    services.task_assign(actor=a.employer, task=task, user=a.employer2.user.pk)
    assert owner(task) == a.employer2.user.pk


def test_outside_the_task_s_team_an_assignment_is_not_found_before_the_person_is_read(territories, client):
    """Authorisation before validation: someone who is not in the task's team gets « Tâche introuvable. » (404)
    whoever they name, so they cannot probe the users either."""
    a, b = territories.a, territories.b
    task = open_task(TaskKind.ANSWER_REFERRAL, referral=territories.forwarded())
    for actor in (b.employer, a.facilitator, a.adviser):
        for user in (a.employer2.user.pk, a.adviser.user.pk, 99999999, "abc"):
            for call in (services.task_assign, services.task_reassign):
                with pytest.raises(DomainError) as error:
                    call(actor=actor, task=task, user=user)
                assert error.value.code == "not_found"
        client.force_login(actor.user)
        assert client.post(f"/travail/taches/{task.pk}/attribuer/", {"user": a.adviser.user.pk}).status_code == 404
    assert owner(task) is None and chain(task) == []


def test_a_task_about_a_referral_the_employer_no_longer_sees_is_not_found(territories):
    """An employer's refusal takes the candidate out of its sight: the task about it is no longer among its team's
    (the pages' selector), so claiming or assigning it is « not found », as for any task out of scope — not a
    refusal that would say the task exists and is closed."""
    a = territories.a
    referral = territories.forwarded()
    task = open_task(TaskKind.ANSWER_REFERRAL, referral=referral)
    referrals.referral_refuse(actor=a.employer, referral=referral, reason="Profil ne correspondant pas")
    colleague = make_actor(a.employer_org, "employer")
    for call, kwargs in (
        (services.task_claim, {}),
        (services.task_assign, {"user": colleague.user}),
        (services.task_unassign, {}),
    ):
        with pytest.raises(DomainError) as refused:
            call(actor=a.employer, task=task, **kwargs)
        assert refused.value.code == "not_found", call.__name__


def test_a_supervisor_holds_the_permission_itself_or_through_a_group_and_is_active(territories):
    """`is_supervisor` answers as `has_perm` would, in one query: the permission given to the user or to one of their
    groups, an active user; a superuser is one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from parcours.selectors import tasks as selectors

    actor = territories.a.facilitator
    assert not selectors.is_supervisor(actor) and not actor.user.has_perm("parcours.supervise_worktask")
    group = Group.objects.create(name="Responsables d'équipe")
    group.permissions.add(Permission.objects.get(codename="supervise_worktask"))
    actor.user.groups.add(group)
    with CaptureQueriesContext(connection) as queries:
        assert selectors.is_supervisor(actor)
    assert len(queries) == 1
    actor.user.is_active = False
    assert not selectors.is_supervisor(actor)
    actor.user.is_active = True
    actor.user.groups.clear()
    supervise(actor)
    assert selectors.is_supervisor(actor)
    other = territories.a.facilitator2
    other.user.is_superuser = True
    assert selectors.is_supervisor(other)


def test_bulk_assign_does_not_take_a_task_claimed_since_the_list_was_shown(territories, client):
    """Found from outside: a supervisor's « Répartir » moved a task a colleague had just claimed, without a word. The
    list sends each row's holder as it showed it; a task claimed (or released) since refuses the set."""
    a = territories.a
    tasks = [open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral()) for _ in range(2)]
    supervise(a.facilitator)
    client.force_login(a.facilitator.user)
    page = client.get("/travail/a-prendre/").content.decode()
    assert f'name="held-{tasks[0].pk}" value=""' in page
    services.task_claim(actor=a.facilitator2, task=tasks[0])  # a colleague takes it meanwhile
    data = {"tasks": [t.pk for t in tasks], "user": a.facilitator.user.pk, **{f"held-{t.pk}": "" for t in tasks}}
    response = client.post("/travail/repartir/", data, follow=True)
    body = html.unescape(response.content.decode())
    assert f"La tâche n° {tasks[0].pk} (" in body and "depuis l'affichage de la liste : rien n'a été attribué" in body
    assert (owner(tasks[0]), owner(tasks[1])) == (a.facilitator2.user.pk, None)
    # The list as it is now: the colleague's hold is seen, and handing it over is a choice.
    data[f"held-{tasks[0].pk}"] = str(a.facilitator2.user.pk)
    assert client.post("/travail/repartir/", data).status_code == 302
    assert (owner(tasks[0]), owner(tasks[1])) == (a.facilitator.user.pk, a.facilitator.user.pk)
    # Released meanwhile: said too; unreadable held- fields are ignored (the set is judged as before).
    services.task_unassign(actor=a.facilitator, task=tasks[0])
    with pytest.raises(DomainError) as refused:
        services.task_bulk_assign(
            actor=a.facilitator, tasks=[tasks[0].pk], user=a.facilitator2.user, seen_holders={tasks[0].pk: 1}
        )
    assert refused.value.code == "stale_selection" and "remise dans la file" in refused.value.message
    client.post("/travail/repartir/", {"tasks": [tasks[0].pk], "user": a.facilitator2.user.pk, "held-x": "y"})
    assert owner(tasks[0]) == a.facilitator2.user.pk


def test_a_second_claim_of_ones_own_task_says_so(territories):
    """Found from outside: a replayed claim told its author « Cette tâche est déjà prise par » their own name."""
    a = territories.a
    task = open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral())
    services.task_claim(actor=a.facilitator, task=task)
    with pytest.raises(DomainError) as mine:
        services.task_claim(actor=a.facilitator, task=task)
    assert mine.value.message == "Vous avez déjà pris cette tâche."
    with pytest.raises(DomainError) as theirs:
        services.task_claim(actor=a.facilitator2, task=task)
    assert theirs.value.message.startswith("Cette tâche est déjà prise par ")

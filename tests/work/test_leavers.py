"""A person who leaves a team gives their open tasks back to its queue (parcours.services.tasks.tasks_release_on_leave,
called by parcours.services.accounts). Before this, a facilitator moved to another organisation, or switched off,
kept the referrals they had claimed: colleagues saw « 0 à prendre », the task page said only the holder could treat
it, and the reminders went to the departed holder alone. The admin's forms are checked in test_admin_leavers.py."""

import datetime

import time_machine
from django.utils import timezone
from viewflow.workflow.status import STATUS

from parcours.models import MailNotification, NotificationKind
from parcours.selectors import tasks as selectors
from parcours.services import accounts, referrals
from parcours.services import tasks as services
from parcours.work.models import TaskKind, WorkTask
from parcours.work.timers import fire_due
from roles.actor import Actor
from roles.models import Membership
from tests.work.conftest import open_task
from workflows.journal import verify_chains
from workflows.models import JournalEvent

DAY = datetime.timedelta(days=1)


def held(work_task):
    row = WorkTask.objects.select_related("task").get(pk=work_task.pk)
    assert row.owner_id == row.task.owner_id and row.status == row.task.status  # the projection follows
    return row.task.status, row.task.owner_id


def released_events(work_task):
    return list(
        JournalEvent.objects.filter(object_type="task", object_id=work_task.pk, action="release_on_leave").values_list(
            "actor_user_id", "actor_role", "from_state", "to_state", "inputs"
        )
    )


def membership(actor):
    return Membership.objects.get(user=actor.user, organisation=actor.organisation)


def claimed_review(territories, actor=None):
    actor = actor or territories.a.facilitator
    task = open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral())
    services.task_claim(actor=actor, task=task)
    assert held(task) == (STATUS.ASSIGNED, actor.user.pk)
    return task


def test_a_facilitator_moved_to_another_organisation_gives_the_task_back_to_the_team(territories):
    a, b = territories.a, territories.b
    task = claimed_review(territories)
    assert not selectors.queue(a.facilitator2).filter(pk=task.pk).exists()  # « 0 à prendre » for the colleague
    moved = membership(a.facilitator)
    moved.organisation = b.facilitation
    moved.save()

    assert accounts.access_changed(actor=Actor.system(), users=[a.facilitator.user]) == 1
    assert held(task) == (STATUS.NEW, None)
    assert selectors.queue(a.facilitator2).filter(pk=task.pk).exists()
    services.task_claim(actor=a.facilitator2, task=task)  # a colleague may take it now
    assert released_events(task) == [
        (None, "system", "assigned", "new", {"kind": "review_referral", "from": a.facilitator.user.pk})
    ]
    assert verify_chains().ok


def test_a_role_changed_membership_switched_off_or_deleted_each_release(territories):
    a = territories.a
    admin = Actor(user=a.facilitator2.user, organisation=None, role=None)  # as the admin's actor without membership

    def left(change):
        task = claimed_review(territories)
        change(membership(a.facilitator))
        assert accounts.access_changed(actor=admin, users=[a.facilitator.user.pk]) == 1
        assert held(task) == (STATUS.NEW, None)
        [(actor_user, role, *_)] = released_events(task)
        assert (actor_user, role) == (a.facilitator2.user.pk, "system")
        Membership.objects.filter(user=a.facilitator.user).delete()
        Membership.objects.create(user=a.facilitator.user, organisation=a.facilitation, role="facilitator")

    def auditor(m):
        m.role = "auditor"
        m.save()

    def switched_off(m):
        m.is_active = False
        m.save()

    for change in (auditor, switched_off, Membership.delete):
        left(change)


def test_an_account_switched_off_releases_every_team_and_ends_its_access(territories):
    a = territories.a
    review = claimed_review(territories)
    # The referent adviser receives the young person's tasks as they open (the referent rule).
    pathway = territories.register()
    submit = open_task(TaskKind.SUBMIT_ELIGIBILITY, pathway=pathway)
    assert held(submit) == (STATUS.ASSIGNED, a.adviser.user.pk)

    assert accounts.account_deactivate(actor=Actor.system(), user=a.facilitator.user) == 1
    assert held(review) == (STATUS.NEW, None)
    assert accounts.account_deactivate(actor=Actor.system(), user=a.adviser.user) == 1
    assert held(submit) == (STATUS.NEW, None)
    assert selectors.queue(a.adviser2).filter(pk=submit.pk).exists()
    assert accounts.account_deactivate(actor=Actor.system(), user=a.adviser.user) == 0  # twice: nothing more


def test_an_edit_that_takes_no_role_releases_nothing_and_others_keep_theirs(territories):
    a, b = territories.a, territories.b
    mine = claimed_review(territories)
    theirs = claimed_review(territories, a.facilitator2)
    kept = membership(a.facilitator)
    kept.save()  # saved as it was
    assert accounts.access_changed(actor=Actor.system(), users=[a.facilitator.user, a.facilitator2.user]) == 0
    assert held(mine) == (STATUS.ASSIGNED, a.facilitator.user.pk)
    # facilitator leaves: their colleague's task and another territory's stay where they are.
    b_task = open_task(TaskKind.REVIEW_REFERRAL, referral=territories.referral(b))
    services.task_claim(actor=b.facilitator, task=b_task)
    kept.is_active = False
    kept.save()
    assert accounts.access_changed(actor=Actor.system(), users=[a.facilitator.user]) == 1
    assert held(mine) == (STATUS.NEW, None)
    assert held(theirs) == (STATUS.ASSIGNED, a.facilitator2.user.pk)
    assert held(b_task) == (STATUS.ASSIGNED, b.facilitator.user.pk)
    assert not JournalEvent.objects.filter(object_id__in=[theirs.pk, b_task.pk], action="release_on_leave").exists()


def test_a_finished_task_stays_finished(territories):
    a = territories.a
    task = claimed_review(territories)
    referrals.referral_cancel(actor=a.adviser, referral=task.referral_id, reason="Autre emploi")
    membership(a.facilitator).delete()
    assert accounts.access_changed(actor=Actor.system(), users=[a.facilitator.user]) == 0
    assert held(task)[0] != STATUS.NEW and not released_events(task)


def test_before_an_account_is_deleted_every_task_it_holds_goes_back(territories):
    a = territories.a
    task = claimed_review(territories)
    # Still a member: an ordinary change releases nothing, a deletion to come releases all.
    assert services.tasks_release_on_leave(actor=Actor.system(), users=[a.facilitator.user]) == 0
    assert accounts.account_before_delete(actor=Actor.system(), users=[a.facilitator.user]) == 1
    assert held(task) == (STATUS.NEW, None)


def test_the_reminder_then_goes_to_the_whole_team(territories):
    a = territories.a
    a.facilitation.referral_reminder_days, a.facilitation.referral_expiry_days = 3, 10
    a.facilitation.save()
    sent = timezone.now()
    with time_machine.travel(sent, tick=False):
        task = claimed_review(territories)
        membership(a.facilitator).delete()
        accounts.access_changed(actor=Actor.system(), users=[a.facilitator.user])
    with time_machine.travel(sent + 3 * DAY, tick=False):
        assert fire_due() == 1
    rows = MailNotification.objects.filter(kind=NotificationKind.REFERRAL_WAITING, referral_id=task.referral_id)
    assert set(rows.values_list("user_id", flat=True)) == {a.facilitator2.user.pk}  # the team, not the leaver

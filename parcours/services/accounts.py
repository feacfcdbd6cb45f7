"""What a change of memberships or accounts does beyond the rows the admin writes: a person who leaves a team (their
membership moved to another organisation or role, switched off or deleted) or whose account is switched off keeps
neither the open tasks of that team nor, when switched off, their sessions and API token.

The admin's save paths call these after their own writes, in the same transaction (parcours.admin): a rule of the
business, so a service, not a signal. `actor`: the admin's actor (the journal names who released the tasks)."""

from django.contrib.auth import get_user_model
from django.db import transaction

from parcours.services.tasks import tasks_release_on_leave
from roles.accounts import end_access


@transaction.atomic
def access_changed(*, actor, users) -> int:
    """After the memberships or the accounts of `users` changed: each one's open tasks of a team they no longer belong
    to back in that team's queue (journaled), and an account that is off signed out everywhere with its API token
    revoked. Returns how many tasks went back; an edit that took no role from anyone releases nothing."""
    user_ids = {getattr(user, "pk", user) for user in users if user is not None}
    released = tasks_release_on_leave(actor=actor, users=user_ids)
    for user in get_user_model().objects.filter(pk__in=user_ids, is_active=False).order_by("pk"):
        end_access(user)
    return released


@transaction.atomic
def account_deactivate(*, actor, user) -> int:
    """Switch an account off: signed out everywhere, API token revoked, its tasks back in their teams' queues."""
    user = get_user_model().objects.select_for_update().get(pk=getattr(user, "pk", user))
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    return access_changed(actor=actor, users=[user])


@transaction.atomic
def account_before_delete(*, actor, users) -> int:
    """Before accounts are deleted: every task they hold back in its team's queue (viewflow deletes a task with its
    owner), and their sessions ended. Returns how many tasks went back."""
    users = list(users)
    released = tasks_release_on_leave(actor=actor, users=users, everything=True)
    for user in users:
        end_access(user)
    return released

"""What a change of memberships or accounts does beyond the rows the admin writes: a person who leaves a team (their
membership moved to another organisation or role, switched off or deleted) or whose account is switched off keeps
neither the open tasks of that team nor, when switched off, their sessions and API token.

The admin's save paths call these after their own writes, in the same transaction (parcours.admin): a rule of the
business, so a service, not a signal. `actor`: the admin's actor (the journal names who released the tasks).

Who granted what to whom, and when, is journaled too: each membership created, changed or deleted (organisation,
role, active, named access: ids and codes, never names), each account created, changed or deleted (active, staff,
superuser, the permissions and groups it holds), on chains of their own ("membership", "account"), sealed like the
rest; the data-protection officer reads those of their organisation (parcours.selectors.data_protection)."""

import functools

from django.contrib.auth import get_user_model
from django.db import transaction

from parcours.notifications import end_live
from parcours.services.tasks import tasks_release_on_leave
from roles.accounts import end_access, end_sessions
from roles.models import Membership
from roles.tokens import revoke_tokens
from workflows.journal import record_event


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
        before = account_state(user)
        user.is_active = False
        user.save(update_fields=["is_active"])
        record_account_change(actor=actor, user_id=user.pk, before=before, after=account_state(user))
    return access_changed(actor=actor, users=[user])


# --- The journal of memberships and accounts ----------------------------------------------------------------------
MEMBERSHIP_FIELDS = ("organisation", "role", "is_active", "named_access")


def membership_states(**filters) -> dict:
    """{membership id: its journaled state} of the memberships `filters` select (read before and after a change)."""
    rows = Membership.objects.filter(**filters).values(
        "pk", "user_id", "organisation_id", "role", "is_active", "named_access"
    )
    return {
        row["pk"]: {
            "user": row["user_id"],
            "organisation": row["organisation_id"],
            "role": row["role"],
            "is_active": row["is_active"],
            "named_access": row["named_access"],
        }
        for row in rows
    }


def record_membership_changes(*, actor, before: dict, after: dict) -> int:
    """Journal what changed between two `membership_states` readings: a membership created (absent before),
    changed (its previous values named) or deleted (absent after). Returns how many events were written."""
    written = 0
    for pk in sorted(set(before) | set(after)):
        old, new = before.get(pk), after.get(pk)
        if old == new:
            continue
        if old is None:
            action, state, previous = "membership_created", new, {}
        elif new is None:
            action, state, previous = "membership_deleted", old, {}
        else:
            action, state = "membership_changed", new
            previous = {name: old[name] for name in MEMBERSHIP_FIELDS if old[name] != new[name]}
        record_event(
            actor=actor, object_type="membership", object_id=pk, action=action, inputs={**state, "previous": previous}
        )
        written += 1
    return written


def account_state(user) -> dict:
    """What an account's journal records of it: whether it may sign in and reach the admin, and the permissions and
    groups given to it directly (its memberships have their own chain). Never its name, e-mail or password."""
    return {
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "permissions": sorted(
            f"{app}.{codename}"
            for app, codename in user.user_permissions.values_list("content_type__app_label", "codename")
        ),
        "groups": sorted(user.groups.values_list("name", flat=True)),
    }


def record_account_change(*, actor, user_id: int, before: dict | None, after: dict | None):
    """Journal an account created (`before` None), changed (its previous values named) or deleted (`after` None);
    nothing when nothing the journal records changed."""
    if before == after:
        return None
    if before is None:
        action, state, previous = "account_created", after, {}
    elif after is None:
        action, state, previous = "account_deleted", before, {}
    else:
        action, state = "account_changed", after
        previous = {name: value for name, value in before.items() if after.get(name) != value}
    return record_event(
        actor=actor, object_type="account", object_id=user_id, action=action, inputs={**state, "previous": previous}
    )


@transaction.atomic
def account_before_delete(*, actor, users) -> int:
    """Before accounts are deleted: every task they hold back in its team's queue (viewflow deletes a task with its
    owner), and their sessions ended. Returns how many tasks went back."""
    users = list(users)
    released = tasks_release_on_leave(actor=actor, users=users, everything=True)
    for user in users:
        end_access(user)
    return released


# --- A person's own account: « Sécurité du compte » ----------------------------------------------------------------
def account_sign_out_elsewhere(*, user, keep: str) -> int:
    """Sign `user` out of every other session (a computer left signed in, a lost phone), the asking one (`keep`)
    kept, and close those sessions' live pages. Returns how many sessions ended."""
    ended = end_sessions(user, keep=keep)
    for key in ended:  # their open pages' sockets close too, once this is committed
        transaction.on_commit(functools.partial(end_live, session_key=key))
    return len(ended)


def account_revoke_token(*, user) -> int:
    """Revoke the user's own API token (a script's key that leaked): the next request with it is refused (401)."""
    return revoke_tokens(user)

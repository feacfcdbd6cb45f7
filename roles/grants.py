"""Per-object access grants (django-guardian), given to organisation groups.

Grants are side effects of services (a participant registered, a referral forwarded or refused, a hire
confirmed); nothing else calls these functions.
"""

from guardian.shortcuts import assign_perm, remove_perm


def grant(*, organisation, permission: str, obj) -> None:
    assign_perm(permission, organisation.group, obj)


def revoke(*, organisation, permission: str, obj) -> None:
    remove_perm(permission, organisation.group, obj)


def share_participant(*, organisation, participant, manage: bool = False) -> None:
    """Let an organisation read (and, for the following Mission Locale, manage) a participant file."""
    grant(organisation=organisation, permission="parcours.view_participant", obj=participant)
    if manage:
        grant(organisation=organisation, permission="parcours.change_participant", obj=participant)

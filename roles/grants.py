"""Per-object access grants (django-guardian's direct grant tables), given to organisation groups.

Grants are side effects of services (a participant registered, a referral forwarded or refused, a hire
confirmed); nothing else calls these functions. They write guardian's rows directly, one statement each: guardian's
shortcuts read the group, the content type and the permission, then look for the row before inserting it
(seven statements for one grant inside a transition).
"""

from guardian.utils import get_group_obj_perms_model

from roles.policy import permission_id
from roles.rows import insert_rows


def _grant_row(permission: str, obj):
    """(direct grant model, permission id) of `permission` ("app_label.codename") on `obj`."""
    grant_model = get_group_obj_perms_model(obj)
    if grant_model.objects.is_generic():
        raise TypeError(f"{obj._meta.label} has no direct grant table (see roles/models.py and parcours/models.py).")
    app_label, codename = permission.split(".", 1)
    if app_label != obj._meta.app_label:
        raise ValueError(f"{permission} is not a permission of {obj._meta.label}.")
    found = permission_id(app_label, obj._meta.model_name, codename)
    if found < 0:
        raise ValueError(f"Unknown permission {permission} on {obj._meta.label}.")
    return grant_model, found


def grant(*, organisation, permission: str, obj, send_with_next=False):
    """Give `organisation`'s group `permission` on `obj`. `send_with_next=True`: the statement is returned to go with
    the next insert (`roles.rows.insert_rows(..., along=)`, one round trip on PostgreSQL), or None when it was sent."""
    return _give([(organisation, permission, obj)], send_with_next=send_with_next)


def _give(grants, *, send_with_next=False):
    """[(organisation, permission, obj)]: one statement per grant table."""
    rows = {}
    for organisation, permission, obj in grants:
        grant_model, found = _grant_row(permission, obj)
        rows.setdefault(grant_model, []).append(
            grant_model(permission_id=found, group_id=organisation.group_id, content_object_id=obj.pk)
        )
    waiting = []
    for objs in rows.values():  # granted already: the unique constraint (its conflict ignored)
        waiting.append(insert_rows(objs, ignore_conflicts=True, send_with_next=send_with_next))
    return tuple(waiting) if send_with_next else None


def revoke(*, organisation, permission: str, obj) -> None:
    grant_model, found = _grant_row(permission, obj)
    grant_model.objects.filter(permission_id=found, group_id=organisation.group_id, content_object_id=obj.pk).delete()


def share_participant(*, organisation, participant, manage: bool = False, send_with_next=False):
    """Let an organisation read (and, for the following Mission Locale, manage) a participant file.
    `send_with_next`: as for `grant`."""
    return _give(
        [(organisation, "parcours.view_participant", participant)]
        + ([(organisation, "parcours.change_participant", participant)] if manage else []),
        send_with_next=send_with_next,
    )


def open_to_referral(*, facilitation, buyer, participant, send_with_next=False):
    """A referral shares the participant file with the lot's facilitators (to read) and opens it to the public
    buyer's auditors (for good: the history of the contract keeps the referral), in one statement.
    `send_with_next`: as for `grant`."""
    return _give(
        [
            (facilitation, "parcours.view_participant", participant),
            (buyer, "parcours.audit_participant", participant),
        ],
        send_with_next=send_with_next,
    )

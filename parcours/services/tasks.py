"""Assignment services of the work layer: claim, assign to a colleague, unassign, reassign, bulk assign, file, and
the release of a leaver's tasks.

Each one opens a transaction, takes the flow lock of the task's process (viewflow's lock: SELECT ... FOR UPDATE on
the process row) then the task row, checks, runs the viewflow activation transition, writes one journal event on
the task's own chain (object_type "task") and notifies the organisation on commit. A task not offered to the
actor's organisation and role is "not found" (404), never "forbidden".

Completing a task is not here: tasks are completed by the services of the engine core (parcours.services.*),
the listener settles them. The only exception is filing an expired-referral reminder (`task_file`), which no fsm
transition answers.
"""

from contextlib import contextmanager

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.exceptions import FlowLockFailed
from viewflow.workflow.status import STATUS

from parcours.notifications import publish_on_commit
from parcours.selectors.tasks import is_supervisor, tasks_for
from parcours.text import plain_id
from parcours.work.models import OPEN_TASK_STATUSES, OPEN_TASKS_Q, TaskKind, WorkTask
from roles.models import Membership
from workflows.errors import WORK_BUSY, DomainError
from workflows.journal import record_event

NOT_FOUND = "Tâche introuvable."
MAX_BULK = 500


def _not_found():
    return DomainError("not_found", NOT_FOUND)


def _in_scope(actor, work_task) -> bool:
    """The task is among those the actor's pages list (its team's, the actor an active member, and for an employer
    about a referral it may still view): one query, the selector's own filter."""
    if actor is None or actor.is_system:
        return False
    return tasks_for(actor).filter(pk=work_task.pk).exists()


@contextmanager
def _locked(actor, task):
    """Yield (activation, work_task) under the process lock, the task row locked, scope checked (404)."""
    pk = getattr(task, "pk", task)
    try:
        work_task = WorkTask.objects.select_related("task").get(pk=pk)
    except (WorkTask.DoesNotExist, ValueError, TypeError):
        raise _not_found() from None
    if not _in_scope(actor, work_task):
        raise _not_found()
    try:
        with work_task.task.activation() as activation:
            work_task = (
                WorkTask.objects.select_for_update(of=("self",)).select_related("pathway", "organisation").get(pk=pk)
            )
            work_task.task = activation.task
            yield activation, work_task
    except FlowLockFailed:
        raise WORK_BUSY from None


def _colleague(user, work_task):
    """The person a task is given to: an active member holding the task's role in the task's organisation.

    Anyone else — unknown, in another organisation, with another role, inactive — is refused with one message
    that names nobody: a refusal must not tell whether an id is a user, nor whose name it carries."""
    if user is None or user == "":
        raise DomainError("missing_input", _("Choisissez une personne."), field="user")
    pk = plain_id(getattr(user, "pk", user))  # "١" would be read as user 1; past a bigint the database refuses it
    membership = (
        Membership.objects.filter(
            user_id=pk, organisation_id=work_task.organisation_id, role=work_task.role, is_active=True
        )
        .select_related("user")
        .first()
        if pk is not None
        else None
    )
    if membership is None:
        raise DomainError(
            "invalid_input", _("Choisissez une personne de l'équipe à qui la tâche est proposée."), field="user"
        )
    return membership.user


def _require_open(task):
    if task.status not in OPEN_TASK_STATUSES:
        raise DomainError("invalid_transition", _("Cette tâche est terminée."))


def _status(task):
    return str(task.status).lower()


def _journal(actor, work_task, action, from_state, **inputs):
    event = record_event(
        actor=actor,
        object_type="task",
        object_id=work_task.pk,
        participant_id=work_task.pathway.participant_id,
        action=action,
        from_state=from_state,
        to_state=_status(work_task.task),
        reason=inputs.pop("reason", ""),
        inputs={"kind": work_task.kind, **inputs},
    )
    publish_on_commit(event)
    return event


def _holder(task):
    owner = task.owner
    return owner.get_full_name() or owner.username if owner is not None else "quelqu'un"


def _assign(activation, user):
    activation.task.assigned = timezone.now()
    activation.assign(user)


@transaction.atomic
def task_claim(*, actor, task) -> WorkTask:
    """Take an unclaimed task of my queue."""
    with _locked(actor, task) as (activation, work_task):
        _require_open(activation.task)
        if activation.task.status != STATUS.NEW:
            if activation.task.owner_id == actor.user.pk:  # a second click (a replay, another tab): said as such
                raise DomainError("invalid_transition", _("Vous avez déjà pris cette tâche."))
            raise DomainError(
                "invalid_transition",
                _("Cette tâche est déjà prise par %(holder)s.") % {"holder": _holder(activation.task)},
            )
        _assign(activation, actor.user)
        _journal(actor, work_task, "claim", "new", to=actor.user.pk)
        return work_task


@transaction.atomic
def task_assign(*, actor, task, user) -> WorkTask:
    """Give an unclaimed task to a colleague holding the same role in the same organisation."""
    with _locked(actor, task) as (activation, work_task):  # scope and state first, then the input
        _require_open(activation.task)
        if activation.task.status != STATUS.NEW:
            raise DomainError(
                "invalid_transition",
                _("Cette tâche est déjà prise par %(holder)s : réattribuez-la plutôt.")
                % {"holder": _holder(activation.task)},
            )
        user = _colleague(user, work_task)
        _assign(activation, user)
        _journal(actor, work_task, "assign", "new", to=user.pk)
        return work_task


def _may_release(actor, task) -> bool:
    return task.owner_id == actor.user.pk or is_supervisor(actor)


@transaction.atomic
def task_unassign(*, actor, task) -> WorkTask:
    """Put a claimed task back in the queue (its holder, or a supervisor)."""
    with _locked(actor, task) as (activation, work_task):
        _require_open(activation.task)
        if activation.task.status != STATUS.ASSIGNED:
            raise DomainError("invalid_transition", _("Cette tâche n'est attribuée à personne."))
        if not _may_release(actor, activation.task):
            # Held by someone else: a state of the task (often a click on a page older than a reassignment), said on
            # the page like a claim that came second — not a refusal of the member's role.
            raise DomainError(
                "invalid_transition",
                _(
                    "Cette tâche est entre les mains d'une autre personne (elle a pu être réattribuée entre-temps) : "
                    "seule la personne qui l'a, ou un·e responsable, peut la remettre dans la file."
                ),
            )
        previous = activation.task.owner_id
        activation.task.assigned = None
        activation.unassign()
        _journal(actor, work_task, "unassign", "assigned", **{"from": previous})
        return work_task


@transaction.atomic
def task_reassign(*, actor, task, user) -> WorkTask:
    """Hand a claimed task over to a colleague (its holder, or a supervisor)."""
    with _locked(actor, task) as (activation, work_task):  # scope, state and right first, then the input
        _require_open(activation.task)
        if activation.task.status != STATUS.ASSIGNED:
            raise DomainError("invalid_transition", _("Cette tâche n'est attribuée à personne : attribuez-la."))
        if not _may_release(actor, activation.task):
            raise DomainError(
                "invalid_transition",
                _(
                    "Cette tâche est entre les mains d'une autre personne (elle a pu être réattribuée entre-temps) : "
                    "seule la personne qui l'a, ou un·e responsable, peut la réattribuer."
                ),
            )
        user = _colleague(user, work_task)
        previous = activation.task.owner_id
        if previous == user.pk:
            raise DomainError("invalid_input", _("La tâche est déjà attribuée à cette personne."), field="user")
        activation.task.assigned = timezone.now()
        activation.reassign(user=user)
        _journal(actor, work_task, "reassign", "assigned", to=user.pk, **{"from": previous})
        return work_task


@transaction.atomic
def task_bulk_assign(*, actor, tasks, user, seen_holders: dict | None = None) -> int:
    """A supervisor distributes open tasks of their organisation to one colleague; all or nothing. `seen_holders`:
    {task id: holder's user id, or None} as the list showed them — a task claimed, released or handed over since
    refuses the set, rather than being taken from whoever just took it without a word."""
    if actor is None or actor.is_system or not is_supervisor(actor):
        raise DomainError("forbidden", _("Seul·e un·e responsable d'équipe peut répartir des tâches en masse."))
    read = [plain_id(getattr(t, "pk", t)) for t in tasks]
    if None in read:  # all or nothing: a task that is not one refuses the set, never drops out of it unsaid
        raise DomainError(
            "invalid_input", _("Tâche inconnue dans la sélection : rien n'a été attribué."), field="tasks"
        )
    ids = sorted(set(read))
    if not ids:
        raise DomainError("missing_input", _("Choisissez au moins une tâche."), field="tasks")
    if len(ids) > MAX_BULK:
        raise DomainError(
            "invalid_input", _("%(max_bulk)s tâches au plus à la fois.") % {"max_bulk": MAX_BULK}, field="tasks"
        )
    changed = 0
    for pk in ids:  # one process lock at a time, in id order (no lock-order inversion between two supervisors)
        with _locked(actor, pk) as (activation, work_task):
            _require_open(activation.task)
            assignee = _colleague(user, work_task)
            if seen_holders is not None and pk in seen_holders and activation.task.owner_id != seen_holders[pk]:
                holder = activation.task.owner
                raise DomainError(
                    "stale_selection",
                    (
                        _(
                            "La tâche n° %(pk)s (%(kind)s) a été prise par %(holder)s depuis l'affichage de la "
                            "liste : rien n'a été attribué. Voyez la liste à jour, puis choisissez à nouveau."
                        )
                        if holder is not None
                        else _(
                            "La tâche n° %(pk)s (%(kind)s) a été remise dans la file depuis l'affichage de la liste : "
                            "rien n'a été attribué. Voyez la liste à jour, puis choisissez à nouveau."
                        )
                    )
                    % {
                        "pk": pk,
                        "kind": work_task.get_kind_display(),
                        "holder": holder.get_full_name() or holder.get_username() if holder is not None else "",
                    },
                    field="tasks",
                )
            if activation.task.status == STATUS.NEW:
                _assign(activation, assignee)
                _journal(actor, work_task, "assign", "new", to=assignee.pk, bulk=True)
                changed += 1
            elif activation.task.owner_id != assignee.pk:
                previous = activation.task.owner_id
                activation.task.assigned = timezone.now()
                activation.reassign(user=assignee)
                _journal(actor, work_task, "reassign", "assigned", to=assignee.pk, bulk=True, **{"from": previous})
                changed += 1
    return changed


FILEABLE_KINDS = {TaskKind.REFERRAL_EXPIRED}


@transaction.atomic
def task_file(*, actor, task, reason: str = "") -> WorkTask:
    """File ("classer") an expired-referral task without referring again: the only task no transition answers."""
    with _locked(actor, task) as (activation, work_task):
        _require_open(activation.task)
        if work_task.kind not in FILEABLE_KINDS:
            raise DomainError(
                "invalid_transition", _("Cette tâche se termine par l'action attendue, pas en la classant.")
            )
        if activation.task.status == STATUS.ASSIGNED and activation.task.owner_id != actor.user.pk:
            raise DomainError(
                "invalid_transition",
                _("Cette tâche est attribuée à %(holder)s.") % {"holder": _holder(activation.task)},
            )
        from_state = _status(activation.task)
        activation.settle(user=actor.user)
        event = _journal(actor, work_task, "file", from_state, reason=(reason or "").strip())
        WorkTask.objects.filter(pk=work_task.pk).update(outcome="task.file", done_by=actor.user, closing_event=event)
        activation.activate_next()
        return work_task


RELEASE_ON_LEAVE = "release_on_leave"


@transaction.atomic
def tasks_release_on_leave(*, actor, users, everything: bool = False) -> int:
    """Put back in their team's queue the open tasks these users hold where they no longer hold the task's role: their
    membership of the task's organisation moved to another organisation or role, switched off or deleted, or their
    account switched off. `everything`: all the tasks they hold (an account about to be deleted: viewflow would delete
    the tasks with their owner). Returns how many tasks went back.

    Called by whoever changed the memberships or the account (the admin), as `actor` — the admin's actor, or the
    system. Each release takes the task's process lock, checks the task is still held by the same person, unassigns
    it and journals `release_on_leave` {from} on the task's chain, like an unassign: the team sees it in « À prendre »
    and a referral's reminder goes to the whole team (parcours.mail: a task without holder). Nothing else is read or
    written for the users whose tasks are all still theirs."""
    user_ids = sorted({getattr(user, "pk", user) for user in users if user is not None})
    if not user_ids:
        return 0
    held = WorkTask.objects.filter(OPEN_TASKS_Q, owner_id__in=user_ids)
    if not everything:
        backed = Membership.objects.filter(
            user_id=OuterRef("owner_id"),
            organisation_id=OuterRef("organisation_id"),
            role=OuterRef("role"),
            is_active=True,
            user__is_active=True,
        )
        held = held.exclude(Exists(backed))
    released = 0
    for pk, owner_id in held.order_by("pk").values_list("pk", "owner_id"):  # one process lock at a time, in id order
        work_task = WorkTask.objects.select_related("task").get(pk=pk)
        try:
            with work_task.task.activation() as activation:
                task = activation.task
                if task.status != STATUS.ASSIGNED or task.owner_id != owner_id:
                    continue  # done, released or handed over meanwhile
                work_task = WorkTask.objects.select_for_update(of=("self",)).select_related("pathway").get(pk=pk)
                work_task.task = task
                task.assigned = None
                activation.unassign()
                _journal(actor, work_task, RELEASE_ON_LEAVE, "assigned", **{"from": owner_id})
                released += 1
        except FlowLockFailed:
            raise WORK_BUSY from None
    return released

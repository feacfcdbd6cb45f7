"""Reads of the work layer: inbox, queue, late tasks and archive of the acting user, counts per kind, one task.

A task is offered to one role in one organisation. Scoping is a filter on (organisation, role) plus an EXISTS
subquery on the user's active memberships — never the per-object permission lists of viewflow's `user_queue`,
never a Python list of ids — so a page costs a fixed number of queries whatever the number of tasks.
"""

from django.contrib.auth.models import Permission
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.status import STATUS

from parcours.models import Referral
from parcours.work.models import OPEN_TASK_STATUSES, WorkTask
from roles import policy
from roles.models import Membership
from roles.policy import Scope
from workflows.errors import DomainError


def member_of_task_q(user):
    """The tasks whose (organisation, role) the user holds through an active membership."""
    return Exists(
        Membership.objects.filter(
            user=user, is_active=True, organisation_id=OuterRef("organisation_id"), role=OuterRef("role")
        )
    )


def _rows():
    return WorkTask.objects.select_related(
        "task", "task__owner", "pathway__participant", "referral__offer", "follow_up", "organisation"
    )


# What a list of tasks shows of each (work/list.html: kind, young person, object, due date, owner, end and outcome):
# its rows read these columns only, not the process data, the owner's password hash nor the offer's description.
LISTED_FIELDS = (
    "kind",
    "status",
    "due_at",
    "outcome",
    "task__owner__username",
    "task__owner__first_name",
    "task__owner__last_name",
    "task__finished",
    "pathway__participant__first_name",
    "pathway__participant__last_name",
    "referral__offer__title",
    "follow_up__due_on",
)


def listed(queryset):
    """The rows of a task list (`LISTED_FIELDS`): a page of 50 reads a tenth of the columns of `_rows()`."""
    return (
        queryset.select_related(None)
        .select_related("task__owner", "pathway__participant", "referral__offer", "follow_up")
        .only(*LISTED_FIELDS)
    )


def _referral_in_sight_q(actor):
    """For a role whose sight of a referral can be taken back (an employer's, by a refusal, an expiry or a
    withdrawal: `Scope.FORWARDED_TO_EMPLOYER`), the tasks about a referral it may still view, checked row by row
    (`EXISTS` on its grant); every other role's tasks are about referrals of its own organisation's reach."""
    if policy.roles_for("referral.view").get(actor.role) is not Scope.FORWARDED_TO_EMPLOYER:
        return Q()
    referral = policy.scope_queryset(actor, "referral.view", Referral.objects.filter(pk=OuterRef("referral_id")))
    return Q(referral__isnull=True) | Q(Exists(referral))


def tasks_for(actor):
    """Every task offered to the actor's current organisation and role (open or not), but those about a referral
    the actor no longer sees (with its candidate's name)."""
    if actor is None or actor.is_system or actor.organisation is None:
        return WorkTask.objects.none()
    return (
        _rows()
        .filter(organisation_id=actor.organisation_id, role=actor.role)
        .filter(member_of_task_q(actor.user))
        .filter(_referral_in_sight_q(actor))
    )


def overdue_first(queryset, now=None):
    """Overdue tasks first, then by due date, undated last; `overdue` (0: late) marks them for display. Ordering by
    the due date alone gives exactly that order (a late task is due before any task that is not), and it is the
    order of the index of open tasks, so a page of them is read from the index without sorting the team's tasks."""
    now = now or timezone.now()
    return queryset.annotate(
        overdue=Case(When(due_at__lt=now, then=Value(0)), default=Value(1), output_field=IntegerField())
    ).order_by(F("due_at").asc(nulls_last=True), "task_id")


def inbox(actor):
    """My tasks: assigned to me, open; overdue first."""
    if actor is None or actor.is_system:
        return WorkTask.objects.none()
    return overdue_first(tasks_for(actor).filter(status=STATUS.ASSIGNED, owner=actor.user))


def queue(actor):
    """My organisation's unclaimed tasks that my role may take; overdue first."""
    return overdue_first(tasks_for(actor).filter(status=STATUS.NEW))


def team(actor):
    """Open tasks of my organisation and role, claimed or not (for supervisors)."""
    return overdue_first(tasks_for(actor).filter(status__in=OPEN_TASK_STATUSES))


def next_on_the_same_case(actor, work_task):
    """The open task the actor may take next on the same referral (or pathway): mine or unclaimed in my team (the
    hire to confirm after a candidate retained): its id, or None."""
    same = Q(referral_id=work_task.referral_id) if work_task.referral_id else Q(pathway_id=work_task.pathway_id)
    return (
        tasks_for(actor)
        .filter(same & _for_me_q(actor))
        .exclude(pk=work_task.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )


def _for_me_q(actor):
    """Open tasks I may act on: mine, or unclaimed in my team (the home's « À faire »)."""
    return Q(status=STATUS.ASSIGNED, owner=actor.user) | Q(status=STATUS.NEW)


def late(actor, now=None):
    """My late tasks: mine or unclaimed in my team, past their due moment; the most overdue first. What the home's
    « en retard » counts, so a colleague's claimed task is in neither (a supervisor sees it in the team's list)."""
    if actor is None or actor.is_system:
        return WorkTask.objects.none()
    now = now or timezone.now()
    return overdue_first(tasks_for(actor).filter(_for_me_q(actor), due_at__lt=now), now)


def work_summary(actor, *, next_count=5):
    """What a home page shows first: how many open tasks wait for me, for my team (unclaimed), and, of those, are
    late (the rows of `late`) — one aggregate query — and my next actions (mine or unclaimed, late first) — one
    query."""
    if actor is None or actor.is_system or actor.organisation is None:
        return None
    now = timezone.now()
    open_tasks = tasks_for(actor).filter(status__in=OPEN_TASK_STATUSES)
    mine = Q(status=STATUS.ASSIGNED, owner=actor.user)
    counts = open_tasks.aggregate(
        mine=Count("pk", filter=mine),
        team=Count("pk", filter=Q(status=STATUS.NEW)),
        late=Count("pk", filter=_for_me_q(actor) & Q(due_at__lt=now)),
    )
    # The first few ids are chosen on the task rows alone, then only those rows are joined to what the list shows:
    # sorting after the joins joined every open task of the team (2,836 at 100,000 pathways: 45 ms). Two statements:
    # as a subquery (`pk__in`), PostgreSQL planned the joins first again, and worse (1.2 s).
    first = overdue_first(open_tasks.filter(_for_me_q(actor)), now).values_list("pk", flat=True)
    ids = list(first[:next_count])
    upcoming = list(overdue_first(_rows().filter(pk__in=ids), now)) if ids else []
    return {**counts, "next": upcoming}


def archive(actor):
    """What I finished, in this organisation; latest first."""
    if actor is None or actor.is_system or actor.organisation is None:
        return WorkTask.objects.none()
    return (
        _rows()
        .filter(done_by=actor.user, organisation_id=actor.organisation_id)
        .filter(_referral_in_sight_q(actor))
        .order_by(F("task__finished").desc(nulls_last=True), "-task_id")
    )


def counts_by_kind(queryset):
    """{kind: n} in one GROUP BY query."""
    return dict(queryset.order_by().values_list("kind").annotate(n=Count("pk")))


def task_for(actor, task_id):
    """One task the actor may see (offered to their organisation and role); else 'not found'."""
    try:
        task_id = int(task_id)
    except (TypeError, ValueError):
        raise DomainError("not_found", _("Tâche introuvable.")) from None
    work_task = tasks_for(actor).filter(pk=task_id).first()
    if work_task is None:
        raise DomainError("not_found", _("Tâche introuvable."))
    return work_task


def colleagues(work_task):
    """Active members holding the task's role in the task's organisation (who it may be assigned to)."""
    return (
        Membership.objects.filter(organisation_id=work_task.organisation_id, role=work_task.role, is_active=True)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__username")
    )


def is_supervisor(actor) -> bool:
    """The supervisors' permission (`parcours.supervise_worktask`, given to a user or a group in the admin), as
    `has_perm` answers it, in one query: `has_perm` read every permission of the user and of their groups (two) for
    the one every task page asks."""
    if actor is None or actor.is_system or not actor.user.is_active:
        return False
    if actor.user.is_superuser:
        return True
    return (
        Permission.objects.filter(content_type__app_label="parcours", codename="supervise_worktask")
        .filter(Q(user=actor.user) | Q(group__user=actor.user))
        .exists()
    )


def colleagues_of(actor):
    """Active members holding the actor's role in the actor's organisation (bulk assignment targets)."""
    if actor is None or actor.is_system or actor.organisation is None:
        return Membership.objects.none()
    return (
        Membership.objects.filter(organisation_id=actor.organisation_id, role=actor.role, is_active=True)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__username")
    )

"""Pages of the work layer: my tasks, my organisation's queue, my late tasks, my archive, one task, the flow diagrams.

Views parse, call a selector or a service, render. Tasks outside the user's organisation and role are 404.
"""

import contextlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST
from viewflow.workflow.status import STATUS

from parcours.access_log import log_participant_access
from parcours.selectors import tasks as selectors
from parcours.services import tasks as services
from parcours.web.common import apply_domain_error, paginate, safe_next
from parcours.web.tasks import available_actions, days_late, outcome_label
from parcours.work.diagrams import flow_rows, flow_svg
from parcours.work.flows import FLOWS
from parcours.work.models import OPEN_TASK_STATUSES, TaskKind, WorkTask
from roles import policy
from workflows.errors import DomainError

PAGE_SIZE = 50
TABS = [
    ("inbox", gettext_lazy("Mes tâches")),
    ("queue", gettext_lazy("À prendre")),
    ("late", pgettext_lazy("tâche", "En retard")),
    ("team", gettext_lazy("Équipe")),
    ("archive", gettext_lazy("Terminées")),
]


def _actor(request):
    return getattr(request, "actor", None)


def _labelled_counts(counts):
    return [(TaskKind(kind).label, n) for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _task_list(request, tab):
    actor = _actor(request)
    supervisor = selectors.is_supervisor(actor)
    if tab == "team" and not supervisor:
        raise Http404("Page introuvable.")
    querysets = {
        "inbox": selectors.inbox,
        "queue": selectors.queue,
        "late": selectors.late,
        "team": selectors.team,
        "archive": selectors.archive,
    }
    tasks = querysets[tab](actor)
    inbox_counts = selectors.counts_by_kind(selectors.inbox(actor))
    queue_counts = selectors.counts_by_kind(selectors.queue(actor))
    # The tab's counts by kind are its list's; their sum is the pager's total (no second GROUP BY, no COUNT).
    kind_counts = {"inbox": inbox_counts, "queue": queue_counts}.get(tab)
    if kind_counts is None:
        kind_counts = selectors.counts_by_kind(tasks)
    page = paginate(request, selectors.listed(tasks), PAGE_SIZE, ids_first=True, count=sum(kind_counts.values()))
    rows = list(page.object_list)
    for work_task in rows:
        work_task.late_days = days_late(work_task) if tab != "archive" else 0
        work_task.outcome_label = outcome_label(work_task.outcome) if tab == "archive" else ""
    context = {
        "tab": tab,
        "tabs": [(key, label) for key, label in TABS if key != "team" or supervisor],
        "page": page,
        "rows": rows,
        "supervisor": supervisor,
        "kind_counts": _labelled_counts(kind_counts),
        "totals": {"inbox": sum(inbox_counts.values()), "queue": sum(queue_counts.values())},
        "colleagues": selectors.colleagues_of(actor) if supervisor and tab in ("queue", "team") else [],
    }
    return render(request, "work/list.html", context)


@login_required
def counts(request):
    """The menu's badge (live pages): how many tasks are mine and how many my team may take."""
    actor = _actor(request)
    if actor is None:
        return JsonResponse({"inbox": 0, "queue": 0})
    return JsonResponse({"inbox": selectors.inbox(actor).count(), "queue": selectors.queue(actor).count()})


@login_required
def inbox(request):
    return _task_list(request, "inbox")


@login_required
def queue(request):
    return _task_list(request, "queue")


@login_required
def late(request):
    return _task_list(request, "late")


@login_required
def team(request):
    return _task_list(request, "team")


@login_required
def archive(request):
    return _task_list(request, "archive")


def _get_task(request, pk):
    try:
        return selectors.task_for(_actor(request), pk)
    except DomainError:
        raise Http404("Tâche introuvable.") from None


def _may_act(actor, work_task):
    task = work_task.task
    return task.status == STATUS.NEW or (task.status == STATUS.ASSIGNED and task.owner_id == actor.user.pk)


@login_required
def task_detail(request, pk):
    actor = _actor(request)
    work_task = _get_task(request, pk)
    actions = available_actions(actor, work_task) if work_task.is_open and _may_act(actor, work_task) else []
    forms = {action.name: action.make_form(work_task=work_task, actor=actor) for action in actions}
    status = 200
    if request.method == "POST":
        chosen = next((a for a in actions if a.name == request.POST.get("action")), None)
        if chosen is None:
            messages.error(request, gettext("Cette action n'est pas (ou plus) possible sur cette tâche."))
            return redirect("work:task", pk=work_task.pk)
        if chosen.page_url(work_task):  # taken on its own page (e.g. the proofs seen, confirmed): nothing written
            return redirect(chosen.page_url(work_task))
        form = chosen.make_form(request.POST, work_task=work_task, actor=actor)
        forms[chosen.name] = form
        if form is None or form.is_valid():
            expectation = getattr(form, "expectation", None)  # a transition form: as of what the page showed
            try:
                with expectation() if expectation else contextlib.nullcontext():
                    chosen.run(actor, work_task, form)
            except DomainError as error:
                status = error.status if error.status != 404 else 400
                if form is not None:
                    apply_domain_error(form, error)
                else:
                    messages.error(request, error.message)
            else:
                young = work_task.pathway.participant
                done = gettext("Action « %(action)s » enregistrée pour %(first_name)s %(last_name)s.") % {
                    "action": chosen.label,
                    "first_name": young.first_name,
                    "last_name": young.last_name,
                }
                messages.success(request, done)
                still_open = WorkTask.objects.filter(pk=work_task.pk, status__in=OPEN_TASK_STATUSES).exists()
                if still_open:
                    return redirect("work:task", pk=work_task.pk)
                # The next step of the same case, when it is the actor's team's (confirm the hire of the candidate
                # just retained): there, rather than an inbox where it is not (it waits in « À prendre »).
                following = selectors.next_on_the_same_case(actor, work_task)
                return redirect("work:task", pk=following) if following else redirect("work:inbox")
        else:
            status = 400
    context = {
        "work_task": work_task,
        "task": work_task.task,
        "actions": [(action, forms[action.name], action.page_url(work_task)) for action in actions],
        "may_act": _may_act(actor, work_task),
        "late_days": days_late(work_task) if work_task.is_open else 0,
        "outcome": outcome_label(work_task.outcome) if not work_task.is_open else "",
        "colleagues": selectors.colleagues(work_task).exclude(user=work_task.task.owner_id),
        "supervisor": selectors.is_supervisor(actor),
        "is_mine": work_task.task.owner_id == actor.user.pk,
        "can_open_file": policy.allows(actor, "participant.view", work_task.pathway.participant),
        "can_open_referral": work_task.referral_id is not None
        and policy.allows(actor, "referral.view", work_task.referral),
    }
    log_participant_access(actor=actor, participant_id=work_task.pathway.participant_id)  # the task names the person
    return render(request, "work/task.html", context, status=status)


def _back(request, default):
    return redirect(safe_next(request, default))


def _refuse(error):
    """Outside the caller's scope: 404; not theirs to do: 403; anything else is a message on the page."""
    if error.code == "not_found":
        raise Http404(error.message) from None
    if error.code == "forbidden":
        raise PermissionDenied(error.message) from None


def _assignment(request, pk, call, success):
    actor = _actor(request)
    try:
        call(actor)
    except DomainError as error:
        _refuse(error)
        messages.error(request, error.message)
    else:
        messages.success(request, success)
    return _back(request, reverse("work:task", args=[pk]))


@login_required
@require_POST
def task_claim(request, pk):
    return _assignment(
        request,
        pk,
        lambda actor: services.task_claim(actor=actor, task=pk),
        gettext("Tâche prise : elle est dans vos tâches."),
    )


@login_required
@require_POST
def task_assign(request, pk):
    return _assignment(
        request,
        pk,
        lambda actor: services.task_assign(actor=actor, task=pk, user=request.POST.get("user")),
        gettext("Tâche attribuée."),
    )


@login_required
@require_POST
def task_unassign(request, pk):
    return _assignment(
        request, pk, lambda actor: services.task_unassign(actor=actor, task=pk), gettext("Tâche remise dans la file.")
    )


@login_required
@require_POST
def task_reassign(request, pk):
    return _assignment(
        request,
        pk,
        lambda actor: services.task_reassign(actor=actor, task=pk, user=request.POST.get("user")),
        gettext("Tâche réattribuée."),
    )


def _seen_holders(data) -> dict:
    """{task id: holder id or None} as the list showed them (its `held-<id>` fields); unreadable ones are left out."""
    seen = {}
    for key, value in data.items():
        pk = key.removeprefix("held-")
        if key.startswith("held-") and pk.isascii() and pk.isdigit() and len(pk) <= 18:
            value = value.strip()
            if value == "" or (value.isascii() and value.isdigit() and len(value) <= 18):
                seen[int(pk)] = int(value) if value else None
    return seen


@login_required
@require_POST
def bulk_assign(request):
    actor = _actor(request)
    try:
        n = services.task_bulk_assign(
            actor=actor,
            tasks=request.POST.getlist("tasks"),
            user=request.POST.get("user"),
            seen_holders=_seen_holders(request.POST),
        )
    except DomainError as error:
        _refuse(error)
        messages.error(request, error.message)
    else:
        messages.success(request, gettext("%(n)s tâche(s) attribuée(s).") % {"n": n})
    return _back(request, reverse("work:queue"))


@login_required
def flows(request):
    diagrams = [
        {"title": f.process_title, "description": f.process_description, "svg": flow_svg(f), "rows": flow_rows(f)}
        for f in FLOWS
    ]
    return render(request, "work/flows.html", {"diagrams": diagrams})


app_name = "work"
urlpatterns = [
    path("", inbox, name="inbox"),
    path("a-prendre/", queue, name="queue"),
    path("compteurs/", counts, name="counts"),
    path("en-retard/", late, name="late"),
    path("equipe/", team, name="team"),
    path("terminees/", archive, name="archive"),
    path("repartir/", bulk_assign, name="bulk_assign"),
    path("circuits/", flows, name="flows"),
    path("taches/<id:pk>/", task_detail, name="task"),
    path("taches/<id:pk>/prendre/", task_claim, name="claim"),
    path("taches/<id:pk>/attribuer/", task_assign, name="assign"),
    path("taches/<id:pk>/liberer/", task_unassign, name="unassign"),
    path("taches/<id:pk>/reattribuer/", task_reassign, name="reassign"),
]

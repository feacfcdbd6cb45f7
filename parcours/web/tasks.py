"""What a user can do from a task: the transitions the task waits for (their forms derived from the declarations,
run through the one dispatch table), and the few actions that are not transitions (record a follow-up, refer again
after an expiry, file the task). A task is completed by the service that fires what it waits for; the listener
then settles it.
"""

import datetime
from dataclasses import dataclass

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy

from parcours import selectors
from parcours.services.followups import followup_record
from parcours.services.referrals import referral_create
from parcours.services.registry import run_transition
from parcours.services.tasks import task_file
from parcours.web.common import has_dedicated_page, transition_url
from parcours.web.forms import BootstrapFormMixin, FollowUpForm, transition_form_class
from parcours.work.models import TaskKind
from workflows.engine import available_transitions
from workflows.transitions import MACHINES


class ReferAgainForm(BootstrapFormMixin, forms.Form):
    offer = forms.TypedChoiceField(label=gettext_lazy("Nouvelle offre"), coerce=int)
    motivation = forms.CharField(
        label=gettext_lazy("Motivation (facultatif)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=2000,
    )

    def __init__(self, *args, actor=None, **kwargs):
        super().__init__(*args, **kwargs)
        offers = selectors.offers_for(actor).filter(is_open=True)[:200] if actor is not None else []
        self.fields["offer"].choices = [(o.pk, f"{o.title} — {o.location} ({o.lot})") for o in offers]


class FileForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Note (facultatif)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        required=False,
    )


@dataclass(frozen=True)
class TaskAction:
    """One action of a task: a declared transition (`machine.name`) or a named action of the work layer."""

    name: str
    transition: str = ""
    text: str = ""  # the label of an action that is not a transition
    danger: bool = False

    @property
    def spec(self):
        if not self.transition:
            return None
        machine, name = self.transition.split(".")
        return MACHINES[machine][name]

    @property
    def label(self):
        return self.spec.label if self.spec is not None else self.text

    def subject(self, work_task):
        machine = self.transition.split(".")[0]
        return work_task.referral if machine == "referral" else work_task.pathway

    def page_url(self, work_task) -> str:
        """The transition's own page, when it has one (parcours.web.common.DEDICATED_PAGES), with the way back to
        the task: the task page links there rather than firing it with a form of its own."""
        spec = self.spec
        if spec is None or not has_dedicated_page(spec.machine, spec.name):
            return ""
        back = reverse("work:task", args=[work_task.pk])
        return transition_url(spec.machine, self.subject(work_task).pk, spec.name, next_url=back)

    def make_form(self, data=None, *, work_task, actor):
        prefix = self.name
        if self.spec is not None:
            if not self.spec.inputs or self.page_url(work_task):
                return None
            return transition_form_class(self.spec)(data, obj=self.subject(work_task), actor=actor, prefix=prefix)
        if self.name == "record_follow_up":
            form = FollowUpForm(data, planned=selectors.planned_follow_ups(pathway=work_task.pathway), prefix=prefix)
            del form.fields["planned_follow_up"]  # the task's own planned follow-up (see run)
            return form
        if self.name == "refer_again":
            return ReferAgainForm(data, actor=actor, prefix=prefix)
        return FileForm(data, prefix=prefix)

    def run(self, actor, work_task, form):
        if self.spec is not None:
            inputs = form.to_service_kwargs() if form is not None else {}
            spec, subject = self.spec, self.subject(work_task)
            return run_transition(machine=spec.machine, name=spec.name, obj=subject.pk, actor=actor, **inputs)
        data = dict(form.cleaned_data)
        if self.name == "record_follow_up":
            data["planned_follow_up"] = work_task.follow_up_id
            return followup_record(actor=actor, pathway=work_task.pathway_id, **data)
        if self.name == "refer_again":
            return referral_create(actor=actor, pathway=work_task.pathway_id, **data)
        return task_file(actor=actor, task=work_task.pk, reason=data.get("reason", ""))


ACTIONS = {
    TaskKind.SUBMIT_ELIGIBILITY: [TaskAction("submit_eligibility", "pathway.submit_eligibility")],
    TaskKind.REVIEW_ELIGIBILITY: [
        TaskAction("validate_eligibility", "pathway.validate_eligibility"),
        TaskAction("reject_eligibility", "pathway.reject_eligibility", danger=True),
    ],
    TaskKind.REVIEW_REFERRAL: [
        TaskAction("start_review", "referral.start_review"),
        TaskAction("approve", "referral.approve"),
        TaskAction("forward", "referral.forward"),
        TaskAction("decline", "referral.decline", danger=True),
    ],
    TaskKind.ANSWER_REFERRAL: [
        TaskAction("accept", "referral.accept"),
        TaskAction("refuse", "referral.refuse", danger=True),
    ],
    TaskKind.CONFIRM_HIRE: [
        TaskAction("hire", "referral.hire"),
        TaskAction("refuse", "referral.refuse", danger=True),
    ],
    TaskKind.FOLLOW_UP: [TaskAction("record_follow_up", text=gettext_lazy("Enregistrer le suivi"))],
    TaskKind.RECORD_EXIT: [TaskAction("exit", "pathway.exit")],
    TaskKind.REFERRAL_EXPIRED: [
        TaskAction("refer_again", text=gettext_lazy("Positionner sur une autre offre")),
        TaskAction("file", text=gettext_lazy("Classer sans nouveau positionnement"), danger=True),
    ],
}


def available_actions(actor, work_task):
    """The actions of this task the actor may take now (transitions filtered by the engine's own checks)."""
    fireable = {}
    result = []
    for action in ACTIONS.get(work_task.kind, []):
        if action.spec is not None:
            machine = action.spec.machine
            if machine not in fireable:
                subject = action.subject(work_task)
                fireable[machine] = {s.name for s in available_transitions(subject, actor)} if subject else set()
            if action.spec.name not in fireable[machine]:
                continue
        result.append(action)
    return result


OUTCOME_LABELS = {
    "task.file": gettext_lazy("Classée"),
    "referral.create": gettext_lazy("Nouveau positionnement"),
    "pathway.record_follow_up": gettext_lazy("Suivi enregistré"),
}


def outcome_label(outcome: str) -> str:
    """'referral.forward' → the transition's French label."""
    if outcome in OUTCOME_LABELS:
        return OUTCOME_LABELS[outcome]
    machine, _, name = outcome.partition(".")
    spec = MACHINES.get(machine, {}).get(name)
    return spec.label if spec is not None else outcome or "—"


def days_late(work_task, now=None) -> int:
    if work_task.due_at is None:
        return 0
    delta = (now or timezone.now()) - work_task.due_at
    return max(delta // datetime.timedelta(days=1), 0)

"""What a user can do from a task: the small forms of each kind of task, each calling one engine service.

A task is completed only by the service that fires the transition it waits for (the listener then settles it);
these actions are thin: parse a form, call the service, let DomainError come back to the page in French.
"""

import datetime
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils import timezone

from parcours.enums import ContractType, ExitCategory, FollowUpKind, FulfilmentMode
from workflows.models import TaskKind

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Motif", widget=forms.Textarea(attrs={"rows": 2}), max_length=1000)


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(
        label="Note (facultatif)", widget=forms.Textarea(attrs={"rows": 2}), max_length=1000, required=False
    )


class HireForm(forms.Form):
    contract_type = forms.ChoiceField(label="Type de contrat", choices=ContractType.choices)
    start_date = forms.DateField(label="Date de début", widget=DATE)
    weekly_hours = forms.IntegerField(label="Durée hebdomadaire (heures)", min_value=1, max_value=48)
    fulfilment_mode = forms.ChoiceField(label="Modalité", choices=FulfilmentMode.choices)
    planned_end_date = forms.DateField(label="Date de fin prévue (facultatif)", widget=DATE, required=False)

    def __init__(self, *args, work_task=None, **kwargs):
        super().__init__(*args, **kwargs)
        if work_task is not None and work_task.referral_id:
            offer = work_task.referral.offer
            self.fields["contract_type"].initial = offer.contract_type
            self.fields["weekly_hours"].initial = offer.weekly_hours
            modes = offer.lot.fulfilment_modes or []
            if modes:
                self.fields["fulfilment_mode"].choices = [c for c in FulfilmentMode.choices if c[0] in modes]


class FollowUpForm(forms.Form):
    kind = forms.ChoiceField(label="Type de suivi", choices=FollowUpKind.choices, initial=FollowUpKind.CHECK)
    done_on = forms.DateField(label="Réalisé le", widget=DATE, initial=timezone.localdate)
    note = forms.CharField(
        label="Note factuelle (facultatif)", widget=forms.Textarea(attrs={"rows": 3}), max_length=1000, required=False
    )


class ExitForm(forms.Form):
    exited_on = forms.DateField(label="Date de sortie", widget=DATE, initial=timezone.localdate)
    category = forms.ChoiceField(label="Catégorie de sortie", choices=ExitCategory.choices)
    detail = forms.CharField(label="Précision (facultatif)", max_length=200, required=False)


class ValidateEligibilityForm(forms.Form):
    valid_until = forms.DateField(
        label="Valide jusqu'au (facultatif : durée réglementaire par défaut)", widget=DATE, required=False
    )


class SubmitEligibilityForm(forms.Form):
    criteria = forms.MultipleChoiceField(
        label="Critères d'éligibilité", widget=forms.CheckboxSelectMultiple, required=False
    )
    derogation_reason = forms.CharField(
        label="Dérogation motivée (si aucun critère)",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=2000,
    )
    facilitation_organisation = forms.ChoiceField(label="Structure porteuse")

    def __init__(self, *args, work_task=None, **kwargs):
        from parcours.models import EligibilityCriterion
        from roles.enums import OrganisationKind
        from roles.models import Organisation

        super().__init__(*args, **kwargs)
        self.fields["criteria"].choices = list(
            EligibilityCriterion.objects.filter(is_active=True)
            .order_by("position", "code")
            .values_list("code", "label")
        )
        partners = Organisation.objects.none()
        if work_task is not None:
            partners = Organisation.objects.filter(
                partners=work_task.organisation_id, kind=OrganisationKind.FACILITATION
            ).order_by("name")
        self.fields["facilitation_organisation"].choices = [(o.pk, o.name) for o in partners]


class ReferForm(forms.Form):
    offer = forms.ChoiceField(label="Nouvelle offre")
    motivation = forms.CharField(
        label="Motivation (facultatif)", widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )

    def __init__(self, *args, work_task=None, actor=None, **kwargs):
        from parcours.selectors import offers_for

        super().__init__(*args, **kwargs)
        offers = offers_for(actor).filter(is_open=True)[:200] if actor is not None else []
        self.fields["offer"].choices = [(o.pk, f"{o.title} — {o.location} ({o.lot})") for o in offers]


@dataclass(frozen=True)
class TaskAction:
    name: str
    label: str
    form_class: Any = None
    transition: str = ""  # machine.name: offered only if the engine says the actor may fire it now
    danger: bool = False

    def make_form(self, data=None, *, work_task, actor):
        if self.form_class is None:
            return None
        kwargs = {"prefix": self.name}
        if self.form_class in (HireForm, SubmitEligibilityForm):
            kwargs["work_task"] = work_task
        if self.form_class is ReferForm:
            kwargs.update(work_task=work_task, actor=actor)
        return self.form_class(data, **kwargs)


def _referral_service(name):
    def run(actor, work_task, data):
        from parcours.services.referrals import REFERRAL_SERVICES

        return REFERRAL_SERVICES[name](actor=actor, referral=work_task.referral_id, **data)

    return run


def _run_submit(actor, work_task, data):
    from parcours.services.pathways import pathway_submit_eligibility

    return pathway_submit_eligibility(
        actor=actor,
        pathway=work_task.pathway_id,
        criteria=data["criteria"],
        derogation_reason=data["derogation_reason"],
        facilitation_organisation=int(data["facilitation_organisation"]),
    )


def _run_validate(actor, work_task, data):
    from parcours.services.pathways import pathway_validate_eligibility

    return pathway_validate_eligibility(actor=actor, pathway=work_task.pathway_id, valid_until=data["valid_until"])


def _run_reject(actor, work_task, data):
    from parcours.services.pathways import pathway_reject_eligibility

    return pathway_reject_eligibility(actor=actor, pathway=work_task.pathway_id, reason=data["reason"])


def _run_follow_up(actor, work_task, data):
    from parcours.services.followups import followup_record

    return followup_record(
        actor=actor,
        pathway=work_task.pathway_id,
        kind=data["kind"],
        done_on=data["done_on"],
        note=data["note"],
        planned_follow_up=work_task.follow_up_id,
    )


def _run_exit(actor, work_task, data):
    from parcours.services.pathways import pathway_exit

    return pathway_exit(
        actor=actor,
        pathway=work_task.pathway_id,
        exited_on=data["exited_on"],
        category=data["category"],
        detail=data["detail"],
    )


def _run_refer(actor, work_task, data):
    from parcours.services.referrals import referral_create

    return referral_create(
        actor=actor, pathway=work_task.pathway_id, offer=int(data["offer"]), motivation=data["motivation"]
    )


def _run_file(actor, work_task, data):
    from workflows.services import task_file

    return task_file(actor=actor, task=work_task.pk, reason=data.get("reason", ""))


RUNNERS = {
    "start_review": _referral_service("start_review"),
    "approve": _referral_service("approve"),
    "forward": _referral_service("forward"),
    "decline": _referral_service("decline"),
    "accept": _referral_service("accept"),
    "refuse": _referral_service("refuse"),
    "hire": _referral_service("hire"),
    "submit_eligibility": _run_submit,
    "validate_eligibility": _run_validate,
    "reject_eligibility": _run_reject,
    "record_follow_up": _run_follow_up,
    "exit": _run_exit,
    "refer_again": _run_refer,
    "file": _run_file,
}

ACTIONS = {
    TaskKind.SUBMIT_ELIGIBILITY: [
        TaskAction(
            "submit_eligibility", "Transmettre le dossier", SubmitEligibilityForm, "pathway.submit_eligibility"
        ),
    ],
    TaskKind.REVIEW_ELIGIBILITY: [
        TaskAction(
            "validate_eligibility", "Valider l'éligibilité", ValidateEligibilityForm, "pathway.validate_eligibility"
        ),
        TaskAction("reject_eligibility", "Refuser l'éligibilité", ReasonForm, "pathway.reject_eligibility", True),
    ],
    TaskKind.REVIEW_REFERRAL: [
        TaskAction("start_review", "Prendre en examen", None, "referral.start_review"),
        TaskAction("approve", "Valider le positionnement", None, "referral.approve"),
        TaskAction("forward", "Transmettre à l'employeur", None, "referral.forward"),
        TaskAction("decline", "Ne pas valider", ReasonForm, "referral.decline", True),
    ],
    TaskKind.ANSWER_REFERRAL: [
        TaskAction("accept", "Retenir la candidature", None, "referral.accept"),
        TaskAction("refuse", "Refuser la candidature", ReasonForm, "referral.refuse", True),
    ],
    TaskKind.CONFIRM_HIRE: [
        TaskAction("hire", "Confirmer l'embauche", HireForm, "referral.hire"),
        TaskAction("refuse", "Refuser la candidature", ReasonForm, "referral.refuse", True),
    ],
    TaskKind.FOLLOW_UP: [TaskAction("record_follow_up", "Enregistrer le suivi", FollowUpForm)],
    TaskKind.RECORD_EXIT: [TaskAction("exit", "Enregistrer la sortie", ExitForm, "pathway.exit")],
    TaskKind.REFERRAL_EXPIRED: [
        TaskAction("refer_again", "Positionner sur une autre offre", ReferForm),
        TaskAction("file", "Classer sans nouveau positionnement", OptionalReasonForm, danger=True),
    ],
}


def _subject(work_task, machine):
    return work_task.referral if machine == "referral" else work_task.pathway


def available_actions(actor, work_task):
    """The actions of this task the actor may take now (transitions filtered by the engine's own checks)."""
    from workflows.engine import available_transitions

    fireable = {}
    result = []
    for action in ACTIONS.get(work_task.kind, []):
        if action.transition:
            machine, name = action.transition.split(".")
            if machine not in fireable:
                subject = _subject(work_task, machine)
                fireable[machine] = {s.name for s in available_transitions(subject, actor)} if subject else set()
            if name not in fireable[machine]:
                continue
        result.append(action)
    return result


def run_action(action, actor, work_task, cleaned_data):
    return RUNNERS[action.name](actor, work_task, dict(cleaned_data or {}))


OUTCOME_LABELS = {
    "task.file": "Classée",
    "referral.create": "Nouveau positionnement",
    "pathway.record_follow_up": "Suivi enregistré",
}


def outcome_label(outcome: str) -> str:
    """'referral.forward' → the transition's French label."""
    from workflows.transitions import MACHINES

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

"""Shared page helpers: the current actor, running a service with French messages, transition forms and
the generic transition view. Views parse input and call services; no business rule lives here."""

import functools

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from parcours import selectors
from parcours.enums import ContractType, ExitCategory, FulfilmentMode, PlacementEndKind
from parcours.services.registry import TRANSITION_SERVICES, run_transition
from workflows.engine import available_transitions, spec_for
from workflows.errors import DomainError

# Codes meaning "the object moved under you": the page shows the message and the fresh state.
STALE_CODES = {"invalid_transition", "concurrent_change", "forbidden"}


def actor_required(view):
    """Login required, and a current organisation; the actor is passed to the view."""

    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        actor = getattr(request, "actor", None)
        if actor is None:
            raise PermissionDenied("Votre compte n'est rattaché à aucune organisation active.")
        return view(request, *args, actor=actor, **kwargs)

    return wrapper


def safe_next(request, default):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def apply_domain_error(form, error):
    """Put a DomainError on its field (kept input) or as a form error."""
    if error.field and error.field in form.fields:
        form.add_error(error.field, error.message)
        attrs = form.fields[error.field].widget.attrs
        attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
        attrs["aria-invalid"] = "true"
    else:
        form.add_error(None, error.message)


# --- Transition forms (one per set of inputs) ---------------------------------------------------------------
class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class BootstrapFormMixin:
    """Bootstrap classes and aria-invalid on every widget (all the app's forms use it)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            if css:
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()
            if self.is_bound and name in self.errors:
                widget.attrs["class"] += " is-invalid"
                widget.attrs["aria-invalid"] = "true"
                widget.attrs["aria-describedby"] = f"id_{name}_error"

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                if "is-invalid" not in attrs.get("class", ""):
                    attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
                attrs["aria-invalid"] = "true"


class TransitionForm(BootstrapFormMixin, forms.Form):
    """A form whose cleaned data are the service's keyword arguments."""

    def to_service_kwargs(self):
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class EmptyForm(TransitionForm):
    pass


class ReasonForm(TransitionForm):
    reason = forms.CharField(label="Motif", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class ValidateEligibilityForm(TransitionForm):
    valid_until = forms.DateField(label="Valide jusqu'au (laisser vide : 24 mois)", required=False, widget=DateInput())


class ExitForm(TransitionForm):
    exited_on = forms.DateField(label="Date de sortie", widget=DateInput())
    category = forms.ChoiceField(label="Catégorie de sortie", choices=ExitCategory.choices)
    detail = forms.CharField(label="Précision (type de contrat, employeur…)", max_length=200, required=False)


class HireForm(TransitionForm):
    contract_type = forms.ChoiceField(label="Type de contrat", choices=ContractType.choices)
    start_date = forms.DateField(label="Date de début", widget=DateInput())
    planned_end_date = forms.DateField(label="Date de fin prévue", required=False, widget=DateInput())
    weekly_hours = forms.IntegerField(label="Heures par semaine", min_value=1, max_value=48)
    fulfilment_mode = forms.ChoiceField(
        label="Modalité", choices=FulfilmentMode.choices, initial=FulfilmentMode.DIRECT_HIRE
    )


class PlacementEndForm(TransitionForm):
    end_date = forms.DateField(label="Date de fin", widget=DateInput())
    end_kind = forms.ChoiceField(label="Type de fin", choices=PlacementEndKind.choices)
    reason = forms.CharField(
        label="Motif (obligatoire pour une fin anticipée)",
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def to_service_kwargs(self):
        data = super().to_service_kwargs()
        data.setdefault("reason", "")
        return data


# Transitions with their own page (submit_eligibility: the criteria form) register their form here too.
TRANSITION_FORMS = {
    ("pathway", "validate_eligibility"): ValidateEligibilityForm,
    ("pathway", "exit"): ExitForm,
    ("referral", "hire"): HireForm,
    ("placement", "end"): PlacementEndForm,
}


def form_class_for(machine, name):
    if (machine, name) in TRANSITION_FORMS:
        return TRANSITION_FORMS[(machine, name)]
    spec = spec_for_machine(machine, name)
    return ReasonForm if any(i.name == "reason" and i.required for i in spec.inputs) else EmptyForm


def spec_for_machine(machine, name):
    from workflows.transitions import MACHINES

    table = MACHINES.get(machine, {})
    if name not in table:
        raise Http404("Action inconnue.")
    return table[name]


def object_url(obj):
    """The page showing an object's state and actions."""
    machine = obj.MACHINE
    if machine == "pathway":
        return reverse("participant_detail", args=[obj.participant_id])
    if machine == "referral":
        return reverse("referral_detail", args=[obj.pk])
    if machine == "placement":
        return reverse("referral_detail", args=[obj.referral_id])
    return reverse("referral_detail", args=[obj.placement.referral_id])


def actions_for(obj, actor):
    """Buttons for the transitions the actor may fire now: (spec, needs_form) pairs."""
    return [
        (spec, form_class_for(obj.MACHINE, spec.name) is not EmptyForm) for spec in available_transitions(obj, actor)
    ]


@actor_required
def transition(request, machine, pk, name, *, actor):
    """GET: the transition's form. POST: run it through its service; stale clicks get the fresh state."""
    if machine not in TRANSITION_SERVICES or name not in TRANSITION_SERVICES[machine]:
        raise Http404("Action inconnue.")
    obj = selectors.stateful_object_for(actor=actor, machine=machine, pk=pk)
    if obj is None:
        raise Http404("Objet introuvable.")
    spec = spec_for(obj, name)
    form_class = form_class_for(machine, name)
    back = safe_next(request, object_url(obj))
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                run_transition(machine=machine, name=name, obj=obj.pk, actor=actor, **form.to_service_kwargs())
            except DomainError as error:
                if error.code == "not_found":
                    raise Http404(error.message) from None
                if error.code in STALE_CODES:
                    messages.error(request, error.message)
                    return redirect(back)
                apply_domain_error(form, error)
            else:
                messages.success(request, f"« {spec.label} » : c'est fait.")
                return redirect(back)
        status = 400
    else:
        form = form_class()
        status = 200
    return render(
        request,
        "transition_form.html",
        {"form": form, "spec": spec, "obj": obj, "back": back, "machine": machine},
        status=status,
    )

"""Forms of the pages: Bootstrap styling and French errors for every form, and the transition forms *derived* from
the declared inputs (workflows.transitions) — the same form on a page, in a list row and on a task."""

import functools
import re

from django import forms
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, ngettext

from parcours.selectors.core import newest_referral_id
from parcours.selectors.inputs import PROOF_CHOICES, input_initial, input_options
from parcours.selectors.journal import action_label
from workflows import engine
from workflows.errors import StaleForm
from workflows.inputs import CHOICE, CHOICES, DATE, DECIMAL, ID_CHOICE, LONGTEXT, PROOFS, TEXT
from workflows.vocabulary import FollowUpKind

REQUIRED_MESSAGE = {"required": gettext_lazy("Ce champ est obligatoire.")}


class SearchField(forms.CharField):
    """A list's search box: optional, 100 characters at most, and at least one letter or digit when filled (a box of
    punctuation alone searched no word, and the list showed everyone). Its errors make the list show no rows
    (parcours.web.common.filters_of)."""

    default_error_messages = {
        "max_length": gettext_lazy("Recherche : 100 caractères au plus."),
        "no_word": gettext_lazy("Saisissez au moins une lettre ou un chiffre."),
    }

    def __init__(self, *, max_length=100, required=False, **kwargs):
        super().__init__(max_length=max_length, required=required, **kwargs)

    def validate(self, value):
        super().validate(value)
        if value and not any(char.isalnum() for char in value):
            raise forms.ValidationError(self.error_messages["no_word"], code="no_word")


# What a date box sends for a day it could not read (31/02/2005 typed: the browser's `validity.badInput`) — it sends
# an empty value, so parcours.js adds `<name>__bad` to the form: the page says the date does not exist instead of
# « Ce champ est obligatoire » (or, on an optional date, nothing at all, the date dropped).
BAD_DATE = object()


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)

    def value_from_datadict(self, data, files, name):
        if data.get(f"{name}__bad"):
            return BAD_DATE
        return super().value_from_datadict(data, files, name)

    def format_value(self, value):
        return None if value is BAD_DATE else super().format_value(value)


DATE_INVALID = gettext_lazy("Date invalide (format attendu : jj/mm/aaaa).")


# A date written as one (jj/mm/aaaa, or aaaa-mm-jj as a browser's date box sends it) whose day the calendar lacks.
DATE_SHAPED = re.compile(r"\s*([0-9]{1,2}/[0-9]{1,2}/[0-9]{4}|[0-9]{4}-[0-9]{2}-[0-9]{2})\s*")


class DateField(forms.DateField):
    """Every date of the pages: one message for a date that is none (three forms said it three ways), another for a
    day the calendar lacks (31/02/2005 is well written: saying the format was wrong sent people looking for a typo),
    as the API says it."""

    default_error_messages = {
        "invalid": DATE_INVALID,
        "impossible": gettext_lazy("Cette date n'existe pas : %(value)s."),
        "unreadable": gettext_lazy("Cette date n'existe pas : vérifiez le jour et le mois."),
    }

    def to_python(self, value):
        if value is BAD_DATE:
            raise forms.ValidationError(self.error_messages["unreadable"], code="impossible")
        try:
            return super().to_python(value)
        except forms.ValidationError:
            if isinstance(value, str) and DATE_SHAPED.fullmatch(value):
                typed = value.strip()
                if "-" in typed:  # as the page shows dates: 2005-02-31 (a date box's) said 31/02/2005
                    typed = "/".join(reversed(typed.split("-")))
                raise forms.ValidationError(
                    self.error_messages["impossible"], code="impossible", params={"value": typed}
                ) from None
            raise


def _ascii_number(field, value):
    """Digits of another script ("٣", "１") and Python's digit separator ("1_0") are refused: `int` and `Decimal` read
    them (1_0 as 10), a typist never means them."""
    if isinstance(value, str) and (not value.isascii() or "_" in value):
        raise forms.ValidationError(field.error_messages["invalid"], code="invalid")
    return value


class FrenchDecimalField(forms.DecimalField):
    """Accepts "12,5" as well as "12.5"; ASCII digits only. A text box with the decimal keypad, as the monthly
    statement's: a browser's number box (`type="number"`) reads a comma by its own locale — « 12,50 » typed in an
    English one reached the server as 1250 (the penalty per missing hour ×100, a correction of −3,5 h as −35 h)."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})

    def to_python(self, value):
        if isinstance(value, str):
            # Spaces between thousands as the pages print them (« 1 234,5 »: no-break or narrow no-break).
            value = value.replace(",", ".").replace(" ", "").replace("\u00a0", "").replace("\u202f", "").strip()
            if "e" in value.lower():
                raise forms.ValidationError(
                    self.error_messages["invalid"], code="invalid"
                )  # « 1e3 »: 1000 for Decimal
        return super().to_python(_ascii_number(self, value))


class IntegerField(forms.IntegerField):
    """Django's integer field, ASCII digits only."""

    def to_python(self, value):
        return super().to_python(_ascii_number(self, value))


class ModelChoiceField(forms.ModelChoiceField):
    """Django's model choice, its key in ASCII digits only (`get(pk="١")` finds row 1)."""

    def to_python(self, value):
        if isinstance(value, str) and (not value.isascii() or "_" in value):
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class BootstrapFormMixin:
    """Bootstrap classes and aria-invalid on every widget (all the app's forms use it)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.style_fields()

    def style_fields(self):
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
                # A group: its class would land on the wrapper <div> (drawn as a 1em box); includes/form_fields.html
                # renders it as a fieldset whose every input is a .form-check-input.
                continue
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            classes = widget.attrs.get("class", "").split()
            if css not in classes:
                widget.attrs["class"] = " ".join([*classes, css])
            # Never validate here (choices may still be set after __init__): full_clean marks the errors. Django's
            # BoundField ties each field to its help text and error (aria-describedby="<id>_helptext <id>_error",
            # prefix included): none is set here, which would replace those.
            if self._errors is not None and name in self._errors:
                widget.attrs["class"] += " is-invalid"
                widget.attrs["aria-invalid"] = "true"

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields and not isinstance(
                self.fields[name].widget, forms.CheckboxSelectMultiple | forms.RadioSelect
            ):
                attrs = self.fields[name].widget.attrs
                if "is-invalid" not in attrs.get("class", ""):
                    attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
                attrs["aria-invalid"] = "true"


# --- Transition forms, derived from the declarations ----------------------------------------------------------
class _OfferedChoice:
    """Choices computed for the object (a catalogue, partners, a lot's modes) are offered here but judged by the
    service, which says precisely what is wrong ("n'est pas partenaire de votre Mission Locale")."""

    def valid_value(self, value):
        return True


class OfferedChoiceField(_OfferedChoice, forms.ChoiceField):
    pass


class OfferedIdChoiceField(_OfferedChoice, forms.TypedChoiceField):
    pass


class OfferedMultipleChoiceField(_OfferedChoice, forms.MultipleChoiceField):
    pass


def input_field(declared):
    common = {"label": declared.label, "required": declared.required, "help_text": declared.help_text}
    if declared.type == TEXT:
        return forms.CharField(max_length=declared.max_length, **common)
    if declared.type == LONGTEXT:
        return forms.CharField(max_length=declared.max_length, widget=forms.Textarea(attrs={"rows": 3}), **common)
    if declared.type == DATE:
        return DateField(widget=DateInput(), **common)
    if declared.type == DECIMAL:
        return FrenchDecimalField(
            min_value=declared.min_value,
            max_value=declared.max_value,
            decimal_places=declared.decimal_places,
            **common,
        )
    if declared.type == CHOICE:
        return (OfferedChoiceField if declared.options else forms.ChoiceField)(**common)
    if declared.type == ID_CHOICE:
        field = OfferedIdChoiceField if declared.options else forms.TypedChoiceField
        return field(coerce=int, empty_value=None, **common)
    if declared.type == CHOICES:
        field = OfferedMultipleChoiceField if declared.options else forms.MultipleChoiceField
        return field(widget=forms.CheckboxSelectMultiple, **common)
    return None  # PROOFS: one pair of fields per declared criterion, added for the object (TransitionForm)


class TransitionForm(BootstrapFormMixin, forms.Form):
    """The inputs of one transition for one object: choices and initial values come from the object. The form also
    carries what it was opened on (`seen`: the last event of the object's journal chain), so that the action is
    refused if the object changed meanwhile (engine.seen_as) rather than taken on what its author never saw."""

    spec = None
    seen = forms.CharField(widget=forms.HiddenInput, required=False)
    # A transition that also ends rows listed on its page (a closing pathway's referrals): the newest id listed.
    listed = forms.CharField(widget=forms.HiddenInput, required=False)
    stale = None  # the StaleForm the form came back with (its page answers 409)

    def __init__(self, data=None, *, obj=None, actor=None, prefix=None):
        self.obj, self.actor = obj, actor
        forms.Form.__init__(self, data, prefix=prefix)
        if data is None and obj is not None:
            # Several forms of one object on a page (a task's actions) read it once.
            if "_chain_sequence" not in obj.__dict__:
                obj.__dict__["_chain_sequence"] = engine.chain_sequence(self.spec.machine, obj.pk)
            self.fields["seen"].initial = obj.__dict__["_chain_sequence"]
            if self.spec.cancels_referrals:
                self.fields["listed"].initial = newest_referral_id(obj)
        for declared in self.spec.inputs:
            if declared.type == PROOFS:
                self._add_proof_fields(declared)
                continue
            field = self.fields[declared.name]
            initial = input_initial(declared, obj=obj, actor=actor)
            if declared.type in (CHOICE, ID_CHOICE, CHOICES):
                choices = input_options(declared, obj=obj, actor=actor)
                if declared.type != CHOICES and declared.default is None:
                    if not declared.required:
                        choices = [("", "—"), *choices]
                    elif initial is None and len(choices) > 1:
                        # Nothing chosen for the user: a hasty click must not record the first option (an exit
                        # « Emploi — CDI »); left empty, the field says it is required.
                        choices = [("", gettext("— choisir —")), *choices]
                field.choices = choices
            if initial is not None:
                field.initial = initial
        self.style_fields()

    def _add_proof_fields(self, declared):
        self.proof_rows = []
        for code, label in input_options(declared, obj=self.obj, actor=self.actor):
            kind, seen = f"proof_kind_{code}", f"seen_on_{code}"
            self.fields[kind] = forms.ChoiceField(
                label=gettext("Justificatif vu — %(criterion)s") % {"criterion": label},
                choices=[("", gettext("— non vu —")), *PROOF_CHOICES],
                required=False,
            )
            self.fields[seen] = DateField(
                label=gettext("Vu le — %(criterion)s") % {"criterion": label}, required=False, widget=DateInput()
            )
            self.proof_rows.append((code, label, kind, seen))

    def proof_fields(self):
        """(code, label, proof kind field, seen-on field) per declared criterion, for the templates."""
        for code, label, kind, seen in getattr(self, "proof_rows", []):
            yield code, label, self[kind], self[seen]

    def clean(self):
        data = super().clean()
        for _, _, kind, seen in getattr(self, "proof_rows", []):
            if data.get(kind) and not data.get(seen) and seen not in self.errors:
                self.add_error(seen, gettext("Indiquez la date à laquelle le justificatif a été vu."))
            if data.get(seen) and not data.get(kind) and kind not in self.errors:
                self.add_error(kind, gettext("Indiquez le justificatif vu."))
        return data

    def clean_seen(self):
        # A hidden field's error would show nowhere: an unreadable value is a page that saw nothing (-1: never
        # current, the action is refused as stale and the page comes back current); none is a form from before.
        return _hidden_number(self.cleaned_data["seen"])

    def clean_listed(self):
        if not self.spec.cancels_referrals:
            return None
        listed = _hidden_number(self.cleaned_data["listed"])
        if listed is None and (self.data.get(self.add_prefix("seen")) or "").strip():
            # A page that says what it saw but not which referrals it listed (drawn by the release before, or sent
            # by a client that drops the field) has listed none: it comes back listing them, instead of cancelling
            # unsaid a referral added since.
            return -1
        return listed

    def refusal_status(self) -> int:
        """The page's status once the form came back refused: 409 when the object moved on, else 400."""
        return 409 if self.stale is not None else 400

    def expectation(self):
        """The context the service runs in: as of the object's state this form showed."""
        return engine.seen_as(
            self.spec.machine, self.obj.pk, self.cleaned_data.get("seen"), listed=self.cleaned_data.get("listed")
        )

    def refused(self, error) -> bool:
        """The object changed since the page was opened: the page comes back with what was typed, what happened
        since, and the current view (confirming again acts on it)."""
        if not isinstance(error, StaleForm):
            return False
        self.stale = error
        self.data = self.data.copy()
        self.data[self.add_prefix("seen")] = str(error.current)
        if self.spec.cancels_referrals:  # the page comes back listing the referrals open now
            self.data[self.add_prefix("listed")] = str(newest_referral_id(self.obj))
        self.add_error(None, stale_message(error))
        return True

    def to_service_kwargs(self):
        """The service's keyword arguments: the declared inputs given (optional ones left out when empty)."""
        kwargs = {}
        for declared in self.spec.inputs:
            if declared.type == PROOFS:
                proofs = {
                    code: (self.cleaned_data[kind], self.cleaned_data[seen])
                    for code, _, kind, seen in getattr(self, "proof_rows", [])
                    if self.cleaned_data.get(kind) and self.cleaned_data.get(seen)
                }
                if proofs:
                    kwargs[declared.name] = proofs
                continue
            value = self.cleaned_data.get(declared.name)
            if value is None or (value == "" and not declared.required):
                continue
            kwargs[declared.name] = value
        return kwargs


def _hidden_number(value) -> int | None:
    value = value.strip()
    if not value:
        return None
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else -1


SHOWN_EVENTS = 5  # the latest ones; more is the history's page


def stale_message(error) -> str:
    """« Ce dossier a changé depuis l'ouverture de cette page (« Retirer » le 07/12/2026 à 14:03 ; …) : … »"""
    shown = [
        gettext("« %(action)s » le %(day)s à %(time)s")
        % {
            "action": action_label(error.machine, action),
            "day": f"{timezone.localtime(at):%d/%m/%Y}",
            "time": f"{timezone.localtime(at):%H:%M}",
        }
        for action, at in error.events[-SHOWN_EVENTS:]
    ]
    if not shown:
        return error.message
    more = len(error.events) - len(shown)
    if more:
        shown.insert(0, ngettext("%(n)s action plus ancienne", "%(n)s actions plus anciennes", more) % {"n": more})
    return gettext(
        "Ce dossier a changé depuis l'ouverture de cette page (%(events)s) : rien n'a été enregistré. Vérifiez-le, "
        "puis confirmez à nouveau."
    ) % {"events": " ; ".join(shown)}


@functools.cache
def transition_form_class(spec) -> type[TransitionForm]:
    """The form class of a declared transition (one per declaration, built once)."""
    fields = {i.name: f for i in spec.inputs if (f := input_field(i)) is not None}
    name = "".join(part.title() for part in f"{spec.machine}_{spec.name}".split("_")) + "Form"
    return type(name, (TransitionForm,), {"spec": spec, **fields, "__module__": __name__})


# --- Forms shared by the pages and the task pages ------------------------------------------------------------
class _FollowUpFields(forms.Form):
    planned_follow_up = ModelChoiceField(
        label=gettext_lazy("Suivi prévu réalisé"),
        queryset=None,
        required=False,
        empty_label=gettext_lazy("— aucun (nouveau contact) —"),
        error_messages={"invalid_choice": gettext_lazy("Suivi prévu introuvable ou déjà réalisé.")},
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Type de suivi"),
        choices=[("", "—")] + list(FollowUpKind.choices),
        error_messages=REQUIRED_MESSAGE,
    )
    done_on = DateField(
        label=gettext_lazy("Date"),
        widget=DateInput(),
        initial=timezone.localdate,
        error_messages=REQUIRED_MESSAGE,
    )
    note = forms.CharField(
        label=gettext_lazy("Note factuelle (facultatif)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"max_length": gettext_lazy("Note : 1000 caractères au plus.")},
    )

    def __init__(self, *args, planned, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["planned_follow_up"]
        field.queryset = planned
        field.label_from_instance = lambda f: (
            gettext("%(kind)s prévu le %(due_on)s") % {"kind": f.get_kind_display(), "due_on": f"{f.due_on:%d/%m/%Y}"}
            if f.due_on
            else f.get_kind_display()
        )


class FollowUpForm(BootstrapFormMixin, _FollowUpFields):
    """A contact done, optionally completing a planned follow-up of the pathway (page and task)."""

    def to_service_kwargs(self):
        return dict(self.cleaned_data)

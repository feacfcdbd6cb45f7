"""Template helpers that apply a read rule the view already decided (never a rule of their own)."""

from django import template
from django.forms import BaseForm, BaseFormSet, CheckboxInput, Select
from django.utils import formats, translation
from django.utils.html import format_html
from django.utils.translation import gettext

from parcours import text
from parcours.counting import hours_text, plain

register = template.Library()


@register.simple_tag(takes_context=True)
def participant_name(context, participant, order="last_first"):
    """The young person's name, or their pseudonym for a viewer who reads files without identity (a buyer's
    auditor without named access: `identity_hidden`, set by parcours.web.context_processors)."""
    if participant is None:
        return ""
    if context.get("identity_hidden"):
        return format_html('<span class="font-monospace">{}</span>', participant.pseudonym)
    if order == "first_last":
        return format_html("{} {}", participant.first_name, participant.last_name.upper())
    return format_html("{} {}", participant.last_name.upper(), participant.first_name)


@register.filter
def of_name(value):
    """ "de Noémie", "d’Enzo": French elision before a vowel (parcours.text.of_name)."""
    return text.of_name(value)


@register.filter
def quantity(value):
    """17.50 → "17,5", 35.00 → "35" (in English "17.5"): a decimal without its trailing zeros, in the page's
    language (weekly hours; `floatformat` would print "17,50")."""
    return "" if value in (None, "") else formats.number_format(plain(value))


@register.filter(expects_localtime=True)
def day(value):
    """A date, or a moment's day in Paris, as « 07/12/2026 »: what `date:"d/m/Y"` prints, without going through the
    format machinery of the `date` filter (~40 µs a value: a list of 50 rows spent 2 ms on its due dates alone)."""
    if not value or not hasattr(value, "year"):
        return ""
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


@register.filter
def hours(value):
    """4476.20 → "4 476,2 h": hours as every page and report shows them (parcours.counting.hours_text)."""
    return hours_text(value)


# --- Form rendering (accessibility: errors announced, fields tied to their texts) --------------------------------
_GROUPED_WIDGETS = ("checkboxselectmultiple", "radioselect")


def _has_errors(value, depth=0):
    """A bound form (or formset) validated with errors, found in a context value: a form, or a list / tuple holding
    some (the task page's actions are (action, form, page) tuples). Querysets and other iterables are never walked."""
    if isinstance(value, BaseForm):  # validated by its view (never validated here: no side effect)
        return value.is_bound and bool(value._errors)
    if isinstance(value, BaseFormSet):
        return value.is_bound and value._errors is not None and bool(value.total_error_count())
    if depth < 2 and isinstance(value, list | tuple):
        return any(_has_errors(item, depth + 1) for item in value)
    return False


@register.simple_tag(takes_context=True)
def error_title_prefix(context):
    """« Erreur : » before the page title when the page shows a form sent with errors, the rows refused by a bulk
    action (`errors` of includes/row_errors.html), an error message, or a page that is an error answer in itself
    (`error_page`, set by its view: the lockout page): the title is the first thing a screen reader reads."""
    values = context.flatten()
    row_errors = values.get("errors")
    refused = any(getattr(m, "level_tag", "") == "error" for m in values.get("messages") or ())
    if (
        refused
        or values.get("error_page") is True
        or (isinstance(row_errors, list | tuple) and row_errors)
        or any(_has_errors(v) for v in values.values())
    ):
        return gettext("Erreur :") + " "
    return ""


@register.filter
def error_count(form):
    """How many errors a form shows (its summary's heading)."""
    return sum(len(errors) for errors in form.errors.values())


@register.filter
def field_anchor(bound_field):
    """The id an error summary links to: the field's input, or the first box of a group of checkboxes / radios."""
    if bound_field.widget_type in _GROUPED_WIDGETS:
        return f"{bound_field.auto_id}_0"
    return bound_field.id_for_label


@register.filter
def has_required(form):
    """Whether a form marks a field required (with `*`): its note says once what the star means."""
    return any(field.field.required and field.widget_type != "checkbox" for field in form.visible_fields())


@register.filter
def bootstrap_widget(bound_field):
    """A field's widget with its Bootstrap class (forms not styled by BootstrapFormMixin too: the login and password
    forms), `is-invalid` when in error, and `aria-required` on a required select with no empty choice (Django leaves
    `required` off it: HTML wants an empty first option for that). A form in error drops its autofocus: the focus
    goes to its error summary."""
    widget = bound_field.field.widget
    classes = widget.attrs.get("class", "").split()
    if not classes:
        if isinstance(widget, CheckboxInput):
            classes = ["form-check-input"]
        elif isinstance(widget, Select):
            classes = ["form-select"]
        else:
            classes = ["form-control"]
    attrs = {}
    if bound_field.errors and "is-invalid" not in classes:
        classes.append("is-invalid")
    attrs["class"] = " ".join(classes)
    if bound_field.field.required and not widget.use_required_attribute(bound_field.initial):
        if isinstance(widget, Select) and not widget.allow_multiple_selected:
            attrs["aria-required"] = "true"
    if bound_field.form.errors and widget.attrs.get("autofocus"):
        attrs["autofocus"] = False
    return bound_field.as_widget(attrs=attrs)


@register.filter
def labelled(error, label):
    """« Code postal : 5 chiffres attendus. » for the error summary: the field's label before its error, unless the
    error already begins with it (the services' messages name their field: « Code postal : Code postal : … »)."""
    error, label = str(error), str(label)
    named = error.startswith(label) and error[len(label) :].lstrip(" \u00a0\u202f").startswith(":")
    if named:
        return error
    language = str(translation.get_language() or "fr")
    return f"{label} : {error}" if language.startswith("fr") else f"{label}: {error}"  # French spaces its colon

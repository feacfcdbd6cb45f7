"""What a transition takes: its inputs, declared once with their type, limits and French label.

The page forms (parcours.web.forms), the task forms, the API input serializers (parcours.api.inputs), the API's
`available_transitions` and the docs are derived from these declarations; `check` validates values against them
for every caller, with the same French messages. Choices that depend on the object or the actor (the criteria
catalogue, a Mission Locale's partners, the modes of a lot) are named by `options` and supplied by the case app.
"""

import datetime
import decimal
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflows import text
from workflows.errors import DomainError

TEXT = "text"  # one line
LONGTEXT = "longtext"  # a paragraph (reasons)
DATE = "date"
DECIMAL = "decimal"  # a quantity with at most `decimal_places` decimals (hours: 17,5 h a week)
CHOICE = "choice"  # one code among `choices` (an enum) or `options`
ID_CHOICE = "id_choice"  # one id among `options`
CHOICES = "choices"  # several codes among `options`
PROOFS = "proofs"  # per declared criterion: the proof seen and the day (criterion code → (kind, date))
TYPES = {TEXT, LONGTEXT, DATE, DECIMAL, CHOICE, ID_CHOICE, CHOICES, PROOFS}


@dataclass(frozen=True)
class Input:
    name: str
    label: str = field(compare=False)  # translated where shown (gettext_lazy); `name` is the code
    type: str = TEXT
    required: bool = True
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None
    decimal_places: int = 2  # DECIMAL: how many decimals a value may have
    max_items: int | None = None
    choices: object = None  # a TextChoices enum (workflows.vocabulary)
    options: str = ""  # a named source of choices for one object and actor (parcours.selectors.inputs)
    initial: str = ""  # a named source of the initial value on forms ("today", "offer_weekly_hours", …)
    default: object = None  # the value used when an optional input is not given
    machine: bool = True  # passed to the fsm method and journaled (False: used by the service only)
    help_text: str = field(default="", compare=False)

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"{self.name}: unknown input type {self.type!r}")


def reason(label=None, *, required=True, help_text=""):
    return Input(
        "reason", label or gettext_lazy("Motif"), LONGTEXT, required=required, max_length=2000, help_text=help_text
    )


# Every date of a pathway (proofs, hires, exits, validity) falls in this window: 1900 or 9999 is a typing slip or
# a probe, never a fact. Services add the rules of each date (not in the future, not before the pathway…).
EARLIEST_DATE = datetime.date(2000, 1, 1)
LATEST_YEARS_AHEAD = 10


def check_plausible_date(value: datetime.date, *, field: str, label: str) -> datetime.date:
    latest = datetime.date(timezone.localdate().year + LATEST_YEARS_AHEAD, 12, 31)
    if not EARLIEST_DATE <= value <= latest:
        raise DomainError(
            "invalid_input",
            _("%(label)s : date hors des limites (%(earliest_date)s – %(latest)s).")
            % {
                "label": label,
                "earliest_date": format(EARLIEST_DATE, "%d/%m/%Y"),
                "latest": format(latest, "%d/%m/%Y"),
            },
            field=field,
        )
    return value


def _missing(value):
    return (
        value is None
        or (isinstance(value, str | list | dict | tuple) and not value)
        or (isinstance(value, str) and not value.strip())
    )


def _invalid(declared, message):
    return DomainError(
        "invalid_input",
        _("%(label)s : %(message)s") % {"label": declared.label, "message": message},
        field=declared.name,
    )


def check_value(declared: Input, value):
    """Validate one value against its declaration; return it normalised (stripped text)."""
    if declared.type in (TEXT, LONGTEXT):
        if not isinstance(value, str):
            raise _invalid(declared, _("texte attendu."))
        value = text.clean_text(value, field=declared.name, label=declared.label, multiline=declared.type == LONGTEXT)
        if declared.max_length is not None and len(value) > declared.max_length:
            raise _invalid(declared, _("%(max_length)s caractères au plus.") % {"max_length": declared.max_length})
    elif declared.type == DATE:
        if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
            raise _invalid(declared, _("date invalide."))
        check_plausible_date(value, field=declared.name, label=declared.label)
    elif declared.type == ID_CHOICE:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(declared, _("nombre entier attendu."))
        if value < 1 or (declared.max_value is not None and value > declared.max_value):
            raise _invalid(
                declared,
                _("doit être entre %(low)s et %(max_value)s.") % {"low": 1, "max_value": declared.max_value},
            )
    elif declared.type == DECIMAL:
        value = _decimal(declared, value)
    elif declared.type == CHOICE:
        if declared.choices is not None and value not in declared.choices.values:
            raise _invalid(declared, _("valeur inconnue « %(value)s ».") % {"value": value})
        if not isinstance(value, str):
            raise _invalid(declared, _("code attendu."))
    elif declared.type == CHOICES:
        if not isinstance(value, list | tuple | set) or not all(isinstance(v, str) for v in value):
            raise _invalid(declared, _("liste de codes attendue."))
        value = sorted(set(value))
        if declared.max_items is not None and len(value) > declared.max_items:
            raise _invalid(declared, _("%(max_items)s au plus.") % {"max_items": declared.max_items})
    elif declared.type == PROOFS:
        if not isinstance(value, dict):
            raise _invalid(declared, _("justificatifs attendus par critère."))
    return value


def _decimal(declared, value) -> decimal.Decimal:
    # A float is refused: 17.1 is not exactly 17.1 in binary, and the journal seals what was given.
    if (
        isinstance(value, bool)
        or not isinstance(value, int | decimal.Decimal)
        or not decimal.Decimal(value).is_finite()
    ):
        raise _invalid(declared, _("nombre attendu."))
    value = decimal.Decimal(value)
    if (declared.min_value is not None and value < declared.min_value) or (
        declared.max_value is not None and value > declared.max_value
    ):
        raise _invalid(
            declared,
            _("doit être entre %(low)s et %(max_value)s.")
            % {"low": declared.min_value, "max_value": declared.max_value},
        )
    step = decimal.Decimal(1).scaleb(-declared.decimal_places)
    try:
        exact = value == value.quantize(step, rounding=decimal.ROUND_DOWN)
    except decimal.InvalidOperation:  # more digits than the context holds: no bounds were declared
        exact = False
    if not exact:
        raise _invalid(declared, _("%(places)s décimales au plus.") % {"places": declared.decimal_places})
    return value.quantize(step)


def check(inputs, values: dict, *, machine_only=False) -> dict:
    """Validate `values` against the declared `inputs`: unknown names, missing required ones, types and limits.
    Returns the normalised values, optional inputs not given taking their declared default."""
    declared = {i.name: i for i in inputs if i.machine or not machine_only}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise DomainError(
            "unknown_input", _("Donnée inattendue : %(unknown)s.") % {"unknown": ", ".join(unknown)}, field=unknown[0]
        )
    clean = {}
    for name, spec in declared.items():
        value = values.get(name)
        if _missing(value):
            if spec.required:
                raise DomainError(
                    "missing_input", _("%(label)s : ce champ est obligatoire.") % {"label": spec.label}, field=name
                )
            if name in values or spec.default is not None:
                empty = "" if spec.type in (TEXT, LONGTEXT) else [] if spec.type == CHOICES else None
                clean[name] = spec.default if spec.default is not None else empty
            continue
        clean[name] = check_value(spec, value)
    return clean

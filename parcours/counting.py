"""Counting insertion hours: what the validated hours of a placement are worth for the clause, under a versioned
set of counting rules (parcours.models.CountingRuleSet). Pure functions over plain facts: no query, no clock.

The rules, from the facilitators' practice (domain reference §A.4–A.5):

- only the hours of a participant whose eligibility was validated on or before the contract start count (a charter
  may accept a validation a few days late: `eligibility_grace_days`);
- per fulfilment mode: whether its hours count, with which coefficient, and up to which cap per placement (training
  hours are usually capped);
- only the months of the lot's execution window count, unless the charter says otherwise;
- long contracts (CDI, apprenticeship, professionalisation, or a CDD / interim planned for at least
  `long_contract_min_months`) may be valorised: a coefficient on their hours, and/or a flat bonus credited in the
  month the contract started, once hours of the contract are validated (in that month or a later one: a contract
  begun on the 29th may have none in its first month).

Every figure carries the label of the rule version that produced it, and the reasons for what did not count.
"""

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.utils import formats

from parcours.dates import add_months, last_day_of_month, working_days
from workflows.vocabulary import ContractType

ZERO = Decimal("0")
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
ALWAYS_LONG = frozenset({ContractType.CDI, ContractType.APPRENTICESHIP, ContractType.PROFESSIONALISATION})

# Why hours did not count (or counted differently), in French for the pages and the reports.
REASONS = {
    "eligibility_late": "Éligibilité validée après le début du contrat : heures non comptées",
    "eligibility_missing": "Aucune éligibilité validée valable au début du contrat : heures non comptées",
    "mode_not_counted": "Modalité non comptée par la charte",
    "outside_window": "Mois hors de la période d'exécution du lot : heures non comptées",
    "cap_reached": "Plafond de la modalité atteint : heures comptées en partie",
    "factor": "Coefficient de la modalité appliqué",
    "long_contract_factor": "Contrat long : coefficient de valorisation appliqué",
    "long_contract_bonus": "Contrat long : bonification forfaitaire",
}


@dataclass(frozen=True)
class ModeRule:
    counts: bool = True
    factor: Decimal = Decimal("1")
    cap: Decimal | None = None


@dataclass(frozen=True)
class Rules:
    """One version of the counting rules (built from a CountingRuleSet and its mode rules)."""

    id: int | None
    label: str
    modes: dict = field(default_factory=dict)
    eligibility_grace_days: int = 0
    count_outside_execution_window: bool = False
    long_contract_min_months: int = 6
    long_contract_bonus_hours: Decimal = ZERO
    long_contract_factor: Decimal = Decimal("1")

    @classmethod
    def of(cls, rule_set, mode_rules=None) -> "Rules":
        rows = rule_set.mode_rules.all() if mode_rules is None else mode_rules
        return cls(
            id=rule_set.pk,
            label=str(rule_set),
            modes={r.mode: ModeRule(counts=r.counts, factor=r.factor, cap=r.cap_hours_per_placement) for r in rows},
            eligibility_grace_days=rule_set.eligibility_grace_days,
            count_outside_execution_window=rule_set.count_outside_execution_window,
            long_contract_min_months=rule_set.long_contract_min_months,
            long_contract_bonus_hours=rule_set.long_contract_bonus_hours,
            long_contract_factor=rule_set.long_contract_factor,
        )

    def mode(self, mode) -> ModeRule:
        return self.modes.get(str(mode), ModeRule(counts=False))


@dataclass(frozen=True)
class PlacementFacts:
    """What counting needs to know of a placement."""

    placement_id: int
    mode: str
    contract_type: str
    start_date: datetime.date
    planned_end_date: datetime.date | None
    # The first validation of an eligibility still valid on the start date (None: none at all).
    eligibility_decided_on: datetime.date | None
    window: tuple  # the lot's execution window (first day, last day)


@dataclass
class MonthFigure:
    placement_id: int
    month: datetime.date
    declared: Decimal  # validated hours (regular and adjustment lines) of the month
    counted: Decimal  # what counts for the clause, bonus included
    bonus: Decimal
    rules: str  # the label of the rule version
    reasons: tuple = ()

    @property
    def reason_labels(self) -> list:
        return [REASONS[r] for r in self.reasons]


def plain(value: Decimal) -> Decimal:
    """17.50 → 17.5, 40.00 → 40 (not 4E+1, as `normalize` gives): a quantity without its trailing zeros."""
    value = Decimal(value)
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def hours_text(value) -> str:
    """4476.20 → "4 476,2 h" (in English "4,476.2 h"): hours as the pages show them, in the page's language."""
    if value in (None, ""):
        return ""
    return f"{formats.number_format(plain(value), force_grouping=True)}\u00a0h"


def percent(part, whole) -> Decimal:
    """`part` of `whole` as a percentage to a tenth, a half rounded up (485 h of 1,000 h: 48.5; 12.25 %: 12.3): the
    one realised figure of pages, API and bilans (Python's `round` took 48.5 to 48 and 13.5 to 14). 0 without a
    whole; no trailing zero (100, not 100.0). `whole` is 1 for a share (a float: the execution time elapsed)."""
    if not whole:
        return ZERO
    return plain((Decimal(str(part)) * 100 / Decimal(str(whole))).quantize(TENTH, rounding=ROUND_HALF_UP))


def percent_label(value) -> str:
    """48.5 → "48,5 %", 100 → "100 %": a percentage as the documents write it (French, no-break space)."""
    return f"{plain(value)}".replace(".", ",") + "\u00a0%"


def hours_label(value) -> str:
    """170.5 → "170,5 h", 22175 → "22 175 h" (French decimal comma, grouped thousands, no-break space): the
    documents' (clause reports, PDFs), which are French whatever the reader's language; pages and messages say
    hours with `hours_text`."""
    text = format(Decimal(value).quantize(CENT), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    whole, _, decimals = text.partition(".")
    sign, digits = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
    grouped = f"{int(digits):,}".replace(",", "\u202f")  # 22 175 (narrow no-break space between thousands)
    return f"{sign}{grouped}{',' + decimals if decimals else ''}\u00a0h"


@dataclass(frozen=True)
class MonthCapacity:
    """What a contract allows in a month: weekly hours × working days inside the contract (up to today), with the
    tolerance for overtime, never above the configured maximum."""

    days: int
    weekly_hours: Decimal
    tolerance_percent: int
    maximum: Decimal

    @property
    def explanation(self) -> str:
        plural = "s" if self.days > 1 else ""
        return (
            f"{hours_label(self.weekly_hours)}/semaine × {self.days} jour{plural} ouvré{plural} du contrat dans le "
            f"mois, tolérance {self.tolerance_percent}\u00a0%"
        )


def month_capacity(*, weekly_hours, start, end, month, today, tolerance_percent: int, max_hours) -> MonthCapacity:
    first = max(month, start)
    last = min(last_day_of_month(month), today)
    if end is not None:
        last = min(last, end)
    days = working_days(first, last)
    capacity = Decimal(weekly_hours) / 5 * days * (100 + tolerance_percent) / 100
    maximum = min(Decimal(max_hours), capacity).quantize(CENT, rounding="ROUND_DOWN")
    return MonthCapacity(days=days, weekly_hours=weekly_hours, tolerance_percent=tolerance_percent, maximum=maximum)


def is_long_contract(facts: PlacementFacts, rules: Rules) -> bool:
    if facts.contract_type in ALWAYS_LONG:
        return True
    if facts.planned_end_date is None:
        return False
    threshold = add_months(facts.start_date, rules.long_contract_min_months) - datetime.timedelta(days=1)
    return facts.planned_end_date >= threshold


def eligibility_at_start(facts: PlacementFacts, rules: Rules) -> str | None:
    """None when the eligibility counts, else the reason code."""
    if facts.eligibility_decided_on is None:
        return "eligibility_missing"
    if facts.eligibility_decided_on > facts.start_date + datetime.timedelta(days=rules.eligibility_grace_days):
        return "eligibility_late"
    return None


def month_in_window(month: datetime.date, window) -> bool:
    first, last = window
    return first.replace(day=1) <= month <= last


def _q(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def count_placement(facts: PlacementFacts, rules: Rules, monthly: dict) -> list[MonthFigure]:
    """The counted figure of each month of a placement. `monthly`: {first day of month: validated hours}."""
    figures = []
    refused = eligibility_at_start(facts, rules)
    mode = rules.mode(facts.mode)
    long = is_long_contract(facts, rules)
    start_month = facts.start_date.replace(day=1)
    remaining = mode.cap
    if long and rules.long_contract_bonus_hours and monthly and start_month not in monthly:
        monthly = {start_month: ZERO, **monthly}  # the bonus's month, without hours of its own
    for month in sorted(monthly):
        declared = Decimal(monthly[month])
        reasons = []
        counted = bonus = ZERO
        if refused:
            reasons.append(refused)
        elif not mode.counts:
            reasons.append("mode_not_counted")
        elif not rules.count_outside_execution_window and not month_in_window(month, facts.window):
            reasons.append("outside_window")
        else:
            counted = declared * mode.factor
            if mode.factor != 1:
                reasons.append("factor")
            if long and rules.long_contract_factor != 1:
                counted *= rules.long_contract_factor
                reasons.append("long_contract_factor")
            if remaining is not None and counted > 0:
                if counted > remaining:
                    counted = max(remaining, ZERO)
                    reasons.append("cap_reached")
                remaining -= counted
            if long and rules.long_contract_bonus_hours and month == start_month:
                bonus = rules.long_contract_bonus_hours
                reasons.append("long_contract_bonus")
        figures.append(
            MonthFigure(
                placement_id=facts.placement_id,
                month=month,
                declared=_q(declared),
                counted=_q(counted + bonus),
                bonus=_q(bonus),
                rules=rules.label,
                reasons=tuple(reasons),
            )
        )
    return figures

"""Selectors of the monthly statements (relevés mensuels): the rows of a lot's month for the employer who declares
it and for the facilitator who validates and closes it. One row per placement whose contract runs that month, with
its lines of the month — a fixed number of queries whatever the number of placements."""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from parcours.dates import last_day_of_month, month_label, previous_month
from parcours.models import HoursLine, HoursStatement, Placement
from parcours.selectors.core import lots_for, placements_for
from parcours.text import of_name
from roles.policy import allows, scope_queryset
from workflows.errors import DomainError
from workflows.states import HoursLineState, PlacementState

DECLARABLE_STATES = (PlacementState.ACTIVE, PlacementState.ENDED)
COUNTED_STATES = (HoursLineState.VALIDATED, HoursLineState.LOCKED)


def waits_for_its_statement(*, contracts_ran: bool, submitted: bool, has_lines: bool) -> bool:
    """A lot's month whose contracts ran and of which nothing was declared: it is not closed until its statement
    is (« Aucune heure ce mois-ci » if there were none). The close's rule and its page's button ask this."""
    return contracts_ran and not submitted and not has_lines


def outside_execution(lot, month, message: str) -> DomainError:
    """A month outside the lot's execution, refused with `message` (what there is nothing to do: declare, remind,
    close), given the month and the execution's dates."""
    return DomainError(
        "outside_execution_window",
        message
        % {
            "month": month_label(month).capitalize(),
            "starts": format(lot.execution_starts_on, "%d/%m/%Y"),
            "ends": format(lot.execution_ends_on, "%d/%m/%Y"),
        },
        field="month",
    )


def reminder_refusal(
    *, lot, month, today, contracts_ran: bool, submitted: bool, closed: bool, reminded_at=None
) -> DomainError | None:
    """Why the awardee may not be reminded of its statement of `month` (None: it may). A reminder asks for what the
    employer can declare: a month over, in the lot's execution, when its contracts ran, not declared nor closed, and
    not already reminded today (`reminded_at`: the last reminder). The reminder's service raises it; the month page
    shows its button only when there is none."""
    if month >= today.replace(day=1):
        return DomainError("month_not_over", _("On ne relance que pour un mois terminé."), field="month")
    if not lot.month_in_execution_window(month):
        return outside_execution(
            lot,
            month,
            _("%(month)s est hors de la période d'exécution du lot (%(starts)s – %(ends)s) : rien à relancer."),
        )
    if lot.awardee_id is None:
        return DomainError("no_awardee", _("Le lot n'a pas d'attributaire à relancer."))
    if submitted:
        return DomainError(
            "statement_submitted",
            _("Le relevé %(of_month)s a déjà été déclaré.") % {"of_month": of_name(month_label(month))},
        )
    if closed:
        return DomainError(
            "month_closed",
            _("%(month)s est clôturé : il n'y a plus de relevé à relancer.")
            % {"month": month_label(month).capitalize()},
        )
    if not contracts_ran:
        return DomainError(
            "no_contract_ran",
            _("Aucun contrat du lot ne courait en %(month)s : il n'y a pas de relevé à relancer.")
            % {"month": month_label(month)},
            field="month",
        )
    reminded = reminded_at and timezone.localtime(reminded_at)
    if reminded and reminded.date() == today:
        # One reminder a day at most: a second click (or a script's retry) mailed the employer's team again.
        return DomainError(
            "already_reminded",
            _("Le relevé %(of_month)s a déjà été relancé aujourd'hui à %(time)s : une relance par jour au plus.")
            % {"of_month": of_name(month_label(month)), "time": reminded.strftime("%H:%M")},
        )
    return None


def declarable_placements(queryset, month: datetime.date):
    """Placements (of a scoped queryset) whose contract runs during `month`."""
    return queryset.filter(running_in(month))


def running_in(month: datetime.date) -> Q:
    return Q(state__in=DECLARABLE_STATES, started_on__lte=last_day_of_month(month)) & (
        Q(ended_on__isnull=True) | Q(ended_on__gte=month)
    )


def month_capacity(placement, month: datetime.date, today: datetime.date | None = None):
    """What the placement's contract allows in `month` (`Placement.month_capacity`)."""
    return placement.month_capacity(month, today=today)


def default_month(today: datetime.date | None = None) -> datetime.date:
    """Hours are declared for the month that ended."""
    return previous_month(today or timezone.localdate())


@dataclass
class StatementRow:
    placement: Placement
    lines: list = field(default_factory=list)
    capacity: object = None
    runs: bool = True  # its contract ran that month (else: here for lines of a month after it ended)

    @property
    def name(self) -> str:
        participant = self.placement.pathway.participant
        return f"{participant.last_name.upper()} {participant.first_name}"

    @property
    def regular(self):
        return next((line for line in self.lines if not line.is_adjustment and line.state != "rejected"), None)

    @property
    def rejected(self):
        return [line for line in self.lines if line.state == HoursLineState.REJECTED]

    @property
    def adjustments(self):
        return [line for line in self.lines if line.is_adjustment and line.state != HoursLineState.REJECTED]

    @property
    def total(self) -> Decimal:
        return sum((line.hours for line in self.lines if line.state != HoursLineState.REJECTED), Decimal("0"))

    @property
    def pending(self):
        return [line for line in self.lines if line.state == HoursLineState.DECLARED]

    @property
    def declared(self) -> bool:
        return self.regular is not None


def statement_lots(actor):
    """The lots whose statements the actor declares (employer) or closes (facilitator)."""
    return lots_for(actor).filter(awardee__isnull=False)


def statement_lot(*, actor, pk):
    return statement_lots(actor).filter(pk=pk).first()


def statement_of(*, actor, lot, month):
    """The statement row of a lot's month (None until declared, reminded or closed)."""
    return scope_queryset(actor, "statement.view", HoursStatement.objects.filter(lot=lot, month=month)).first()


def statement_rows(*, actor, lot, month) -> list[StatementRow]:
    """One row per placement of the lot running in `month` (or having lines that month), with its lines of the month.
    Two queries whatever the number of placements."""
    lines = scope_queryset(actor, "hoursline.view", HoursLine.objects.filter(month=month)).order_by("pk")
    has_lines = Exists(HoursLine.objects.filter(placement=OuterRef("pk"), month=month))
    placements = (
        placements_for(actor)
        .filter(lot=lot)
        .filter(running_in(month) | Q(has_lines))
        # Whether its contract ran that month (a row may be here for its lines only): the reminder's and the
        # close's « contracts ran », as their services ask it (declarable_placements).
        .annotate(runs=ExpressionWrapper(running_in(month), output_field=BooleanField()))
        .select_related("referral__offer", "lot", "pathway__participant")
        .prefetch_related(Prefetch("hours_lines", queryset=lines, to_attr="month_lines"))
        .order_by("pathway__participant__last_name", "pathway__participant__first_name", "pk")
    )
    today = timezone.localdate()
    return [
        StatementRow(placement=p, lines=list(p.month_lines), capacity=month_capacity(p, month, today), runs=p.runs)
        for p in placements
    ]


def statement_lot_summaries(actor, month):
    """The actor's lots with an awardee, each with `month_statement` (the statement row of `month`, or None),
    `has_running` (placements running that month, inside the lot's execution) and `outside_execution`: two queries
    whatever the number of lots."""
    statements = HoursStatement.objects.filter(month=month)
    running = Placement.objects.filter(lot=OuterRef("pk")).filter(running_in(month))
    lots = list(
        statement_lots(actor)
        .select_related("contract__operation", "awardee")
        .annotate(has_running=Exists(running))
        .prefetch_related(Prefetch("statements", queryset=statements, to_attr="month_statements"))
        .order_by("contract__operation__name", "contract__reference", "number", "pk")
    )
    for lot in lots:
        lot.month_statement = lot.month_statements[0] if lot.month_statements else None
        # A month outside the lot's execution is neither declared nor closed (both refused): nothing waits for it.
        lot.outside_execution = not lot.month_in_execution_window(month)
        lot.has_running = lot.has_running and not lot.outside_execution
    return lots


def may_close(actor, lot) -> bool:
    return allows(actor, "statement.close", lot)


def may_submit(actor, lot) -> bool:
    return allows(actor, "statement.submit", lot)


__all__ = [
    "COUNTED_STATES",
    "default_month",
    "month_capacity",
    "statement_lot_summaries",
    "StatementRow",
    "declarable_placements",
    "waits_for_its_statement",
    "reminder_refusal",
    "outside_execution",
    "statement_lots",
    "statement_lot",
    "statement_of",
    "statement_rows",
    "may_close",
    "may_submit",
]

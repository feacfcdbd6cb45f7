"""Clause figures for the dashboards and the clause reports (bilans): planned vs realised hours per lot, per month,
per fulfilment mode, per employer and per public; lots at risk first; participants as pseudonyms.

Read through the policy: the lots are those of `report.view` (facilitators: their lots; buyers' auditors: their
contracts), and every figure is derived from those lots only. A fixed number of queries whatever the number of lots,
placements and lines. Counted hours come from parcours.counting under each lot's counting rules; every figure names
the rule versions that produced it. Health data (RQTH, AAH) appear only for the facilitators."""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Prefetch, Sum
from django.utils import timezone

from parcours import counting
from parcours.models import AssessedCriterion, ContractLot, CountingModeRule, Exit, HoursLine, Pathway, Placement
from parcours.selectors.core import pathways_for, placements_for, referrals_for
from parcours.selectors.journal import state_figures
from roles.enums import Role
from roles.policy import scope_queryset
from workflows.states import HoursLineState, PathwayState, PlacementState
from workflows.vocabulary import AssessmentDecision, ExitCategory, ExitSituation, FulfilmentMode, Sex

ZERO = Decimal("0")
COUNTED_STATES = (HoursLineState.VALIDATED, HoursLineState.LOCKED)

# The publics a clause report counts (a participant may belong to several), from the eligibility criteria.
PUBLICS = [
    ("youth", "Jeunes de moins de 26 ans", {"YOUTH_UNDER_26_LOW_QUALIFICATION", "YOUTH_ML_FOLLOWED"}, False),
    ("qpv", "Résident·es des quartiers prioritaires (QPV)", {"QPV_RESIDENT"}, False),
    (
        "long_term",
        "Demandeur·ses d'emploi de longue durée",
        {"LONG_TERM_UNEMPLOYED", "VERY_LONG_TERM_UNEMPLOYED"},
        False,
    ),
    ("minima", "Allocataires de minima sociaux (RSA, ASS)", {"RSA", "ASS"}, False),
    ("disability", "Travailleur·ses handicapé·es (RQTH, AAH)", {"DISABLED_WORKER", "AAH"}, True),
    ("women", "Femmes", set(), False),
]


def shows_health(actor) -> bool:
    return actor is not None and actor.role == Role.FACILITATOR


@dataclass
class ParticipantRow:
    pseudonym: str
    publics: list
    contract_type: str
    mode: str
    start_date: datetime.date
    end_date: datetime.date | None
    declared: Decimal
    counted: Decimal
    exit_label: str = ""
    reasons: list = field(default_factory=list)
    started: bool = True  # False: hired, the contract not begun (its start_date is the planned one)
    placement_id: int | None = None  # the contract (a person may have two starting the same day)

    NOT_STARTED = "Contrat pas encore commencé (embauche confirmée, début prévu)"

    @property
    def remarks(self) -> list:
        """The counting remarks, after saying a hire not begun is one (its 0 h is no shortfall of the person)."""
        return ([] if self.started else [self.NOT_STARTED]) + list(self.reasons)


@dataclass
class LotFigures:
    lot: ContractLot
    target: Decimal
    declared: Decimal = ZERO  # validated and locked hours
    counted: Decimal = ZERO  # what counts for the clause under the lot's rules
    rules: str = ""
    by_month: dict = field(default_factory=lambda: defaultdict(lambda: ZERO))
    by_mode: dict = field(default_factory=lambda: defaultdict(lambda: ZERO))
    by_public: dict = field(default_factory=lambda: defaultdict(lambda: ZERO))
    # The participants of each public, by id: a person is counted once in a report over several lots, whatever the
    # number of their contracts (a count per lot added up counted twice who worked on two lots); a person whose only
    # contract is still to begin is not one yet.
    people_by_public: dict = field(default_factory=lambda: defaultdict(set))
    participants: list = field(default_factory=list)
    elapsed_share: float = 0.0
    ended: bool = False  # the lot's execution is over (its last day passed): a shortfall is final, a penalty due

    @property
    def participants_by_public(self) -> dict:
        return count_people(self.people_by_public)

    @property
    def realised_share(self) -> float:
        return float(self.counted / self.target) if self.target else 0.0

    @property
    def realised_percent(self) -> Decimal:
        return counting.percent(self.counted, self.target)

    @property
    def elapsed_percent(self) -> Decimal:
        return counting.percent(self.elapsed_share, 1)

    @property
    def shortfall(self) -> Decimal:
        return max(self.target - self.counted, ZERO)

    @property
    def proposed_penalty(self) -> Decimal | None:
        """Shortfall × the contract's rate, once the execution is over: before, the hours may still come (a lot at
        a tenth of its time proposed its whole target's penalty)."""
        rate = self.lot.contract.penalty_per_missing_hour
        return None if rate is None or not self.ended else (self.shortfall * rate).quantize(Decimal("0.01"))

    @property
    def penalty_note(self) -> str:
        """Why no penalty is proposed (empty when one is)."""
        if self.lot.contract.penalty_per_missing_hour is None:
            return "non prévue au marché"
        if not self.ended:
            return f"à la fin de l'exécution du lot, le {self.lot.execution_ends_on:%d/%m/%Y}"
        return ""

    @property
    def at_risk(self) -> bool:
        """Behind schedule: the share of hours realised lags the share of execution time elapsed."""
        margin = settings.PARCOURS["AT_RISK_MARGIN_PERCENT"] / 100
        return self.realised_share + margin < self.elapsed_share


@dataclass
class Figures:
    lots: list
    show_health: bool
    publics: list
    # Each participant row's publics (a bilan's « Publics » column): a woman, a criterion met — a person's sex and
    # eligibility, which only facilitators see (a buyer's auditor gets the counts by public, never who is in one).
    person_publics: bool = False

    def total(self, name) -> Decimal:
        return sum((getattr(lot, name) for lot in self.lots), ZERO)

    def merged(self, name) -> dict:
        merged = defaultdict(lambda: ZERO)
        for lot in self.lots:
            for key, value in getattr(lot, name).items():
                merged[key] += value
        return dict(merged)

    @property
    def at_risk(self):
        return [lot for lot in self.lots if lot.at_risk]

    @property
    def rules(self) -> list:
        return sorted({lot.rules for lot in self.lots})

    # Grouped by id, shown by name: two operations named alike (a programme on two communes), two lots « Lot 1 —
    # Gros œuvre » of two contracts, two employers of one name were one row of the charts, their hours and targets
    # mixed. A name shared is told apart by what the bilans show beside it, then by its number.
    def by_employer(self) -> dict:
        merged, shown = defaultdict(lambda: ZERO), {}
        for lot in self.lots:
            merged[lot.lot.awardee_id] += lot.counted
            shown[lot.lot.awardee_id] = (lot.lot.awardee_id, str(lot.lot.awardee or "Sans attributaire"), "")
        names = unique_labels(shown.values())
        return {names[pk]: counted for pk, counted in merged.items()}

    def by_operation(self) -> dict:
        merged, shown = {}, {}
        for lot in self.lots:
            operation = lot.lot.contract.operation
            target, counted = merged.get(operation.pk, (ZERO, ZERO))
            merged[operation.pk] = (target + lot.target, counted + lot.counted)
            shown[operation.pk] = (operation.pk, operation.name, operation.commune)
        names = unique_labels(shown.values())
        return {names[pk]: figures for pk, figures in merged.items()}

    def by_contract(self) -> dict:
        """{contract label: (target, counted)}: the planned and realised hours of each contract (its lots in the
        viewer's reach), contracts in the order of their references."""
        merged, shown = {}, {}
        for lot in sorted(self.lots, key=lambda f: (f.lot.contract.reference, f.lot.contract_id)):
            contract = lot.lot.contract
            target, counted = merged.get(contract.pk, (ZERO, ZERO))
            merged[contract.pk] = (target + lot.target, counted + lot.counted)
            shown[contract.pk] = (contract.pk, f"{contract.reference} — {contract.title}", str(contract.buyer or ""))
        names = unique_labels(shown.values())
        return {names[pk]: figures for pk, figures in merged.items()}

    def lot_labels(self) -> dict:
        """{lot id: its label on the charts}: « Lot 1 — Gros œuvre », with its contract's reference if another lot in
        reach has the same label."""
        return unique_labels((f.lot.pk, str(f.lot), f.lot.contract.reference) for f in self.lots)

    def participants_by_public(self) -> dict:
        return count_people(*(lot.people_by_public for lot in self.lots))


def unique_labels(rows) -> dict:
    """{key: label} of (key, label, qualifier) rows: a label several keys share gets its qualifier (« (Saint-Fons) »),
    then its key (« n° 12 ») if still shared."""
    rows = list(rows)
    counts = defaultdict(int)
    for _key, label, _qualifier in rows:
        counts[label] += 1
    labels = {
        key: f"{label} ({qualifier})" if counts[label] > 1 and qualifier else label for key, label, qualifier in rows
    }
    again = defaultdict(int)
    for label in labels.values():
        again[label] += 1
    return {key: f"{label} (n° {key})" if again[label] > 1 else label for key, label in labels.items()}


def count_people(*people_by_public) -> dict:
    """{public: how many distinct participants} of one or several lots' `people_by_public`."""
    merged = defaultdict(set)
    for people in people_by_public:
        for key, ids in people.items():
            merged[key] |= ids
    return {key: len(ids) for key, ids in merged.items()}


def report_lots(actor):
    return scope_queryset(
        actor,
        "report.view",
        ContractLot.objects.select_related("contract__operation", "contract__buyer", "awardee", "counting_rules"),
    ).order_by("contract__operation__name", "contract__reference", "number", "pk")


def execution_over(lot, today) -> bool:
    return today > lot.execution_ends_on


def elapsed_share(lot, today) -> float:
    total = (lot.execution_ends_on - lot.execution_starts_on).days
    if total <= 0:
        return 1.0 if today >= lot.execution_ends_on else 0.0
    done = (min(max(today, lot.execution_starts_on), lot.execution_ends_on) - lot.execution_starts_on).days
    return done / total


def clause_figures(*, actor, lots=None, today=None, detail=True, health=None) -> Figures:
    """The figures of the actor's lots (or of `lots`, a queryset from report_lots), counted now. Six queries; without
    `detail`, no participant rows and no exits (five). `health` overrides whether the health publics are counted
    (by default: for facilitators only). Pages wanting only totals and breakdowns read selectors.lot_hours."""
    today = today or timezone.localdate()
    lot_list = list(
        (lots if lots is not None else report_lots(actor)).prefetch_related(
            Prefetch("counting_rules__mode_rules", queryset=CountingModeRule.objects.all())
        )
    )
    show_health = shows_health(actor) if health is None else health
    publics = [(key, label, codes) for key, label, codes, health in PUBLICS if show_health or not health]
    person_publics = shows_health(actor)
    lot_ids = [lot.pk for lot in lot_list]
    placements = list(
        Placement.objects.filter(lot_id__in=lot_ids)
        .exclude(state=PlacementState.CANCELLED)
        .select_related("pathway__participant")
        .order_by("lot_id", "start_date", "pk")
    )
    monthly = defaultdict(dict)
    for placement_id, month, hours in (
        HoursLine.objects.filter(placement__lot_id__in=lot_ids, state__in=COUNTED_STATES)
        .values_list("placement_id", "month")
        .annotate(total=Sum("hours"))
        .values_list("placement_id", "month", "total")
    ):
        monthly[placement_id][month] = hours
    participant_ids = {p.pathway.participant_id for p in placements}
    codes, decided = defaultdict(set), defaultdict(list)
    for participant_id, code, decided_at, valid_until in AssessedCriterion.objects.filter(
        assessment__participant_id__in=participant_ids, assessment__decision=AssessmentDecision.ACCEPTED
    ).values_list(
        "assessment__participant_id", "criterion__code", "assessment__decided_at", "assessment__valid_until"
    ):
        codes[participant_id].add(code)
        decided[participant_id].append((timezone.localdate(decided_at), valid_until))
    exits = {}
    for pathway_id, category, situation in (
        ()
        if not detail
        else Exit.objects.filter(pathway_id__in={p.pathway_id for p in placements})
        .order_by("exited_on", "pk")
        .values_list("pathway_id", "category", "situation")
    ):
        family = ExitCategory(category).label.lower()
        exits[pathway_id] = f"{ExitSituation(situation).label} ({family})" if situation else family.capitalize()
    by_lot = {}
    for lot in lot_list:
        figures = LotFigures(
            lot=lot, target=lot.target_hours, elapsed_share=elapsed_share(lot, today), ended=execution_over(lot, today)
        )
        figures.rules_obj = counting.Rules.of(lot.counting_rules, lot.counting_rules.mode_rules.all())
        figures.rules = figures.rules_obj.label
        by_lot[lot.pk] = figures
    for placement in placements:
        figures = by_lot[placement.lot_id]
        participant = placement.pathway.participant
        start = placement.started_on or placement.start_date
        valid = [d for d, until in decided[participant.pk] if until is None or until >= start]
        facts = counting.PlacementFacts(
            placement_id=placement.pk,
            mode=placement.fulfilment_mode,
            contract_type=placement.contract_type,
            start_date=start,
            planned_end_date=placement.planned_end_date,
            eligibility_decided_on=min(valid) if valid else None,
            window=(figures.lot.execution_starts_on, figures.lot.execution_ends_on),  # the lot already read
        )
        month_figures = counting.count_placement(facts, figures.rules_obj, monthly.get(placement.pk, {}))
        declared = sum((f.declared for f in month_figures), ZERO)
        counted = sum((f.counted for f in month_figures), ZERO)
        figures.declared += declared
        figures.counted += counted
        for f in month_figures:
            figures.by_month[f.month] += f.counted
        figures.by_mode[placement.fulfilment_mode] += counted
        member_of = [
            key
            for key, _, wanted in publics
            if (key == "women" and participant.sex == Sex.FEMALE)
            or (key == "qpv" and participant.is_qpv_resident)
            or (wanted & codes[participant.pk])
        ]
        for key in member_of:
            figures.by_public[key] += counted
            if placement.started_on is not None:  # a person counts once they worked on the clause, as in the year's
                figures.people_by_public[key].add(participant.pk)  # consolidation: not on a hire still to begin
        if not detail:
            continue
        figures.participants.append(
            ParticipantRow(
                pseudonym=participant.pseudonym,
                publics=[label for key, label, _ in publics if key in member_of] if person_publics else [],
                contract_type=placement.get_contract_type_display(),
                mode=placement.get_fulfilment_mode_display(),
                start_date=start,
                end_date=placement.ended_on,
                declared=declared,
                counted=counted,
                exit_label=exits.get(placement.pathway_id, ""),
                reasons=sorted({label for f in month_figures for label in f.reason_labels}),
                started=placement.started_on is not None,
                placement_id=placement.pk,
            )
        )
    ordered = sorted(by_lot.values(), key=lambda f: (not f.at_risk, f.realised_share - f.elapsed_share))
    return Figures(
        lots=ordered,
        show_health=show_health,
        publics=[(key, label) for key, label, _ in publics],
        person_publics=person_publics,
    )


def mode_label(mode) -> str:
    try:
        return FulfilmentMode(mode).label
    except ValueError:
        return str(mode)


# --- Yearly consolidation of a facilitation organisation -----------------------------------------------------------
@dataclass
class Consolidation:
    year: int
    organisation: object
    summary: list  # (label, value)
    buyers: list  # (kind, contracts, lots, hours)
    operations: list  # (name, commune, ANRU, contracts, lots, target, hours of the year)
    publics: list  # (public, participants)
    contract_types: list  # (type, placements started in the year)
    exits: list  # (family, exits in the year)


def consolidation(*, actor, year: int, today=None) -> Consolidation:
    """The figures a network (AVE, a regional consolidation) asks a facilitation organisation for one year: hours
    counted in the year's months, participants whose contract ran during the year by public, contracts started and
    exits recorded in the year. The facilitator's own lots only (`report.consolidate`)."""
    from_day, to_day = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    lots = report_lots(actor).filter(contract__operation__facilitation_organisation=actor.organisation)
    figures = clause_figures(actor=actor, lots=lots, today=today)
    hours_of = {f.lot.pk: sum((v for m, v in f.by_month.items() if m.year == year), ZERO) for f in figures.lots}
    buyers, operations = defaultdict(lambda: [set(), 0, ZERO]), {}
    for f in figures.lots:
        lot, contract, operation = f.lot, f.lot.contract, f.lot.contract.operation
        kind = contract.buyer.get_authority_kind_display() or "Non renseigné"
        row = buyers[kind]
        row[0].add(contract.pk)
        row[1] += 1
        row[2] += hours_of[lot.pk]
        anru = "oui" if operation.is_anru else "non"
        current = operations.setdefault(operation.pk, [operation.name, operation.commune, anru, set(), 0, ZERO, ZERO])
        current[3].add(contract.pk)
        current[4] += 1
        current[5] += f.target
        current[6] += hours_of[lot.pk]
    everyone = [p for f in figures.lots for p in f.participants]
    # Contracts begun only: a hire planned for later is neither « en contrat » nor « commencé » in the year.
    ran = [p for p in everyone if p.started and p.start_date <= to_day and (p.end_date or to_day) >= from_day]
    by_public = defaultdict(set)
    for p in ran:
        for label in p.publics:
            by_public[label].add(p.pseudonym)
    started = defaultdict(int)
    for p in (p for p in everyone if p.started and from_day <= p.start_date <= to_day):
        started[p.contract_type] += 1
    exits = defaultdict(int)
    # Each exit once (the join to the placements repeats it), counted per family: a DISTINCT over the families
    # (and the model's ordering, `exited_on`) made two exits of one family on one day one.
    for category, count in (
        Exit.objects.filter(pathway__placements__lot__in=[f.lot.pk for f in figures.lots], exited_on__year=year)
        .order_by()
        .values_list("category")
        .annotate(count=Count("pk", distinct=True))
    ):
        exits[ExitCategory(category).label] += count
    contracts = {f.lot.contract_id for f in figures.lots}
    total = sum(hours_of.values(), ZERO)
    return Consolidation(
        year=year,
        organisation=actor.organisation,
        summary=[
            ("Année", year),
            ("Structure porteuse", str(actor.organisation)),
            ("Opérations", len(operations)),
            ("Marchés", len(contracts)),
            ("Lots", len(figures.lots)),
            ("Heures d'insertion comptées dans l'année", total),
            ("Participant·es en contrat dans l'année", len({p.pseudonym for p in ran})),
            ("Règles de comptage", " ; ".join(figures.rules)),
        ],
        buyers=sorted((kind, len(c), n, h) for kind, (c, n, h) in buyers.items()),
        operations=[(n, c, a, len(k), lots_n, t, h) for n, c, a, k, lots_n, t, h in operations.values()],
        publics=[(label, len(by_public.get(label, ()))) for _, label in figures.publics],
        contract_types=sorted(started.items()),
        exits=[(c.label, exits.get(c.label, 0)) for c in ExitCategory],
    )


__all__ = [
    "ESF_HEADER",
    "PUBLICS",
    "clause_figures",
    "committee_pack",
    "consolidation",
    "esf_rows",
    "group_figures",
    "count_pathway_figures",
    "report_lots",
    "mode_label",
]


# --- Pathways: funnel, time in each state, exits -------------------------------------------------------------------
@dataclass
class PathwayFigures:
    funnel: list  # (state label, pathways that reached it)
    durations: list  # (state label, stays, median days, p90 days)
    exits: list  # (family, at the exit, at six months)
    as_of: datetime.datetime  # when they were counted (the dashboard keeps them a while: selectors.kept_figures)

    @classmethod
    def from_counts(cls, counts: dict, as_of) -> "PathwayFigures":
        """Labelled in the reader's language from `count_pathway_figures`'s JSON-ready counts."""
        reached, stays, exits = counts["reached"], counts["stays"], counts["exits"]
        return cls(
            funnel=[(state.label, reached.get(state.value, 0)) for state in PathwayState],
            durations=[
                (state.label, stays[state.value][0], round(stays[state.value][1], 1), round(stays[state.value][2], 1))
                for state in PathwayState
                if state.value in stays
            ],
            exits=[(c.label, *exits.get(c.value, (0, 0))) for c in ExitCategory],
            as_of=as_of,
        )


def count_pathway_figures(*, actor) -> dict:
    """From the journal of the pathways the actor may see: how many reached each state, how long completed stays
    in each state lasted (median, 90th percentile, in days), and exits by family at the exit and six months later,
    as JSON-ready counts keyed by state and family (PathwayFigures.from_counts labels them). Two queries whatever
    the number of pathways, aggregated by the database; still a read of every state change of those pathways, which
    the dashboard keeps rather than repeats (selectors.kept_figures)."""
    ids = pathways_for(actor).order_by().values("pk")
    reached, stays = state_figures("pathway", ids)
    exits = defaultdict(lambda: [0, 0])
    for category, outcome in Exit.objects.filter(pathway__in=ids).values_list("category", "outcome_category"):
        exits[category][0] += 1
        if outcome:
            exits[outcome][1] += 1
    return {"reached": reached, "stays": {state: list(v) for state, v in stays.items()}, "exits": dict(exits)}


# --- ESF / IEJ participant indicators ------------------------------------------------------------------------------
ESF_HEADER = [
    "Pseudonyme",
    "Sexe",
    "Tranche d'âge à l'entrée",
    "Niveau de qualification",
    "Résident·e QPV",
    "Situation à l'entrée (critères d'éligibilité)",
    "Entrée le",
    "Sortie le",
    "Situation à la sortie",
    "Famille de sortie",
    "Situation à 6 mois",
    "Famille à 6 mois",
]


def _age_band(participant, day) -> str:
    age = participant.age_on(day)
    if age < 18:
        return "16-17 ans"
    if age < 22:
        return "18-21 ans"
    if age <= 25:
        return "22-25 ans"
    return "26 ans et plus"


ESF_CHUNK = 1000  # pathways read at once by the ESF export: memory bounded whatever the organisation's size


def esf_rows(*, actor, chunk=ESF_CHUNK):
    """One row per pathway the facilitator follows (pseudonyms, no names): the participant indicators of an ESF /
    IEJ operation — sex, age band, qualification, QPV, situation at entry, at exit and six months later. Health
    criteria are left out of the situation at entry. Read `chunk` pathways at a time (the export streams its rows as
    they come): one query for the ids, then three per chunk."""
    ids = list(pathways_for(actor).order_by("started_on", "pk").values_list("pk", flat=True))
    for offset in range(0, len(ids), chunk):
        part = ids[offset : offset + chunk]
        found = Pathway.objects.filter(pk__in=part).select_related("participant").prefetch_related("exits")
        by_pk = {pathway.pk: pathway for pathway in found}
        pathways = [by_pk[pk] for pk in part if pk in by_pk]
        criteria = defaultdict(set)
        for participant_id, label in AssessedCriterion.objects.filter(
            assessment__participant_id__in={p.participant_id for p in pathways},
            assessment__decision=AssessmentDecision.ACCEPTED,
            criterion__is_health_data=False,
        ).values_list("assessment__participant_id", "criterion__label"):
            criteria[participant_id].add(label)
        for pathway in pathways:
            yield _esf_row(pathway, criteria[pathway.participant_id])


def _esf_row(pathway, criteria) -> list:
    participant = pathway.participant
    exit = max(pathway.exits.all(), key=lambda row: (row.exited_on, row.pk), default=None)
    return [
        participant.pseudonym,
        participant.get_sex_display() if participant.sex else "Non renseigné",
        _age_band(participant, pathway.started_on),
        participant.get_qualification_level_display(),
        "oui" if participant.is_qpv_resident else "non",
        " ; ".join(sorted(criteria)),
        pathway.started_on,
        exit.exited_on if exit else None,
        exit.get_situation_display() if exit and exit.situation else "",
        exit.get_category_display() if exit else "",
        exit.get_outcome_situation_display() if exit and exit.outcome_situation else "",
        exit.get_outcome_category_display() if exit and exit.outcome_category else "",
    ]


# --- A clause report over several lots (a contract, an operation) ----------------------------------------------------
@dataclass
class GroupFigures:
    """The lots of a contract or of an operation, added up (the same attributes as LotFigures)."""

    kind: str  # "contract" or "operation"
    subject: object
    lots: list

    def _sum(self, name):
        return sum((getattr(f, name) for f in self.lots), ZERO)

    def _merge(self, name):
        merged = defaultdict(lambda: ZERO)
        for f in self.lots:
            for key, value in getattr(f, name).items():
                merged[key] += value
        return merged

    @property
    def target(self):
        return self._sum("target")

    @property
    def declared(self):
        return self._sum("declared")

    @property
    def counted(self):
        return self._sum("counted")

    @property
    def by_month(self):
        return self._merge("by_month")

    @property
    def by_mode(self):
        return self._merge("by_mode")

    @property
    def by_public(self):
        return self._merge("by_public")

    @property
    def participants_by_public(self):
        return count_people(*(f.people_by_public for f in self.lots))

    @property
    def participants(self):
        return [p for f in self.lots for p in f.participants]

    @property
    def rules(self):
        return " ; ".join(sorted({f.rules for f in self.lots}))

    @property
    def realised_share(self) -> float:
        return float(self.counted / self.target) if self.target else 0.0

    @property
    def realised_percent(self) -> Decimal:
        return counting.percent(self.counted, self.target)

    @property
    def elapsed_share(self) -> float:
        """Weighted by the lots' targets."""
        total = self.target
        return float(sum(Decimal(f.elapsed_share) * f.target for f in self.lots) / total) if total else 0.0

    @property
    def elapsed_percent(self) -> Decimal:
        return counting.percent(self.elapsed_share, 1)

    @property
    def shortfall(self):
        return self._sum("shortfall")

    @property
    def ended(self) -> bool:
        return all(f.ended for f in self.lots)

    @property
    def proposed_penalty(self):
        """The lots' penalties added up, those of lots whose execution is over."""
        penalties = [f.proposed_penalty for f in self.lots if f.proposed_penalty is not None]
        return sum(penalties, ZERO) if penalties else None

    @property
    def penalty_note(self) -> str:
        """Why a penalty is not proposed, or is only in part (empty when every lot's is in it)."""
        with_rate = [f for f in self.lots if f.lot.contract.penalty_per_missing_hour is not None]
        if not with_rate:
            return "non prévue au marché"
        waiting = [f for f in with_rate if not f.ended]
        partial = len(with_rate) < len(self.lots)  # lots of a contract without a rate propose none
        if waiting and self.proposed_penalty is None:
            return "à la fin de l'exécution des lots" + (" dont le marché en prévoit une" if partial else "")
        if waiting:
            return "celle des lots finis ; les autres à la fin de leur exécution"
        return "celle des lots dont le marché en prévoit une" if partial else ""


def group_figures(*, actor, kind: str, pk: int):
    """(GroupFigures, Figures) of a contract's or an operation's lots in the actor's reach; None when there is none."""
    field_name = {"contract": "contract_id", "operation": "contract__operation_id"}[kind]
    figures = clause_figures(actor=actor, lots=report_lots(actor).filter(**{field_name: pk}))
    if not figures.lots:
        return None, figures
    lots = sorted(figures.lots, key=lambda f: (f.lot.contract.reference, f.lot.number))
    subject = lots[0].lot.contract if kind == "contract" else lots[0].lot.contract.operation
    return GroupFigures(kind=kind, subject=subject, lots=lots), figures


# --- The insertion committee pack of an operation (commission d'insertion) -------------------------------------------
@dataclass
class CommitteePack:
    operation: object
    offers: list  # (offer, {state label: count}, candidates [(name, state label, updated)])
    placements: list  # (name, offer title, employer, contract, start, state, counted hours)
    hires: int  # the placements but those cancelled before they started (listed, « Non commencée »)
    hours: GroupFigures
    participant_ids: list


def committee_pack(*, actor, operation_pk):
    """What an insertion committee reviews for one operation: per offer, the candidates and the decisions; the
    placements; the hours to date. Names: facilitators only (the caller logs the read). None outside the reach."""
    report, _ = group_figures(actor=actor, kind="operation", pk=operation_pk)
    if report is None:
        return None
    referrals = list(
        referrals_for(actor)
        .filter(offer__lot__contract__operation_id=operation_pk)
        .select_related("offer")
        .order_by("offer__title", "offer_id", "pathway__participant__last_name", "pk")
    )
    offers = {}
    for referral in referrals:
        offer, counts, candidates = offers.setdefault(referral.offer_id, (referral.offer, defaultdict(int), []))
        label = referral.get_state_display()
        counts[label] += 1
        participant = referral.pathway.participant
        candidates.append((f"{participant.last_name.upper()} {participant.first_name}", label, referral.updated_at))
    counted = {p.placement_id: p.counted for f in report.lots for p in f.participants}
    rows = list(
        placements_for(actor)
        .filter(lot__contract__operation_id=operation_pk)
        .select_related("referral__offer")
        .order_by("start_date", "pk")
    )
    placements = [
        (
            f"{p.pathway.participant.last_name.upper()} {p.pathway.participant.first_name}",
            p.referral.offer.title,
            str(p.employer),
            p.get_contract_type_display(),
            p.started_on or p.start_date,
            p.get_state_display(),
            counted.get(p.pk, ZERO),
        )
        for p in rows
    ]
    ids = sorted({r.pathway.participant_id for r in referrals})
    return CommitteePack(
        operation=report.subject,
        offers=[(offer, dict(counts), candidates) for offer, counts, candidates in offers.values()],
        placements=placements,
        hires=sum(p.state != PlacementState.CANCELLED for p in rows),
        hours=report,
        participant_ids=ids,
    )

"""Counting rules on worked examples, the dashboard figures checked against independent SQL aggregates over the same
rows, the clause report read back (XLSX with openpyxl, PDF with pypdf), query counts independent of the number of
lots, and who sees what (buyers: their contracts only, pseudonymised, no health public)."""

import datetime
import io
import statistics
from decimal import Decimal
from types import SimpleNamespace

import openpyxl
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from parcours import counting
from parcours.documents import clause_report
from parcours.models import ContractLot, HoursLine, LotHoursSummary, Placement, PublicContract
from parcours.selectors import lot_hours, reports
from parcours.selectors.core import pathways_for
from parcours.services import pathways, placements, statements
from parcours.services.statements import StatementRow
from tests.factories import make_lot, make_offer, make_pathway, make_placement
from workflows.models import JournalEvent
from workflows.states import PathwayState
from workflows.vocabulary import ContractType, FulfilmentMode

D = datetime.date


def at(day, hour=10):
    return time_machine.travel(timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour))), tick=False)


# --- Counting rules, pure ---------------------------------------------------------------------------------------
RULES = counting.Rules(
    id=1,
    label="Charte test v1",
    modes={
        "direct_hire": counting.ModeRule(),
        "training": counting.ModeRule(cap=Decimal("300")),
        "subcontract_inclusive": counting.ModeRule(factor=Decimal("1.5")),
        "staff_provision_temp_agency": counting.ModeRule(counts=False),
    },
    long_contract_bonus_hours=Decimal("70"),
)


START, END, DECIDED = D(2026, 3, 2), D(2026, 5, 31), D(2026, 3, 1)


def facts(mode="direct_hire", contract=ContractType.CDD, start=START, end=END, decided=DECIDED):
    return counting.PlacementFacts(
        placement_id=1,
        mode=mode,
        contract_type=contract,
        start_date=start,
        planned_end_date=end,
        eligibility_decided_on=decided,
        window=(D(2026, 1, 1), D(2026, 4, 30)),
    )


def counted(figures):
    return [(f.month.month, f.counted, f.reasons) for f in figures]


def test_each_mode_counts_as_its_rule_says():
    months = {D(2026, 3, 1): Decimal("150"), D(2026, 4, 1): Decimal("160")}
    assert counted(counting.count_placement(facts(), RULES, months)) == [(3, 150, ()), (4, 160, ())]
    # Training: capped at 300 h per placement.
    assert counted(counting.count_placement(facts("training"), RULES, months)) == [
        (3, 150, ()),
        (4, 150, ("cap_reached",)),
    ]
    # Subcontracting to an SIAE with a coefficient of 1.5 in this (fictional) charter.
    assert [f.counted for f in counting.count_placement(facts("subcontract_inclusive"), RULES, months)] == [225, 240]
    # A mode the charter does not count.
    temp = counting.count_placement(facts("staff_provision_temp_agency"), RULES, months)
    assert [f.counted for f in temp] == [0, 0] and temp[0].reasons == ("mode_not_counted",)


def test_late_eligibility_window_and_long_contracts():
    months = {D(2026, 3, 1): Decimal("150"), D(2026, 5, 1): Decimal("100")}
    late = counting.count_placement(facts(decided=D(2026, 3, 3)), RULES, months)
    assert [f.counted for f in late] == [0, 0] and late[0].reasons == ("eligibility_late",)
    assert "Éligibilité validée après le début du contrat" in late[0].reason_labels[0]
    # May is outside the lot's execution window (ends 30 April).
    assert counted(counting.count_placement(facts(), RULES, months)) == [(3, 150, ()), (5, 0, ("outside_window",))]
    # A CDI is a long contract: the charter's flat bonus is credited in its first month.
    cdi = counting.count_placement(facts(contract=ContractType.CDI, end=None), RULES, {D(2026, 3, 1): Decimal("150")})
    assert cdi[0].counted == 220 and cdi[0].bonus == 70 and cdi[0].rules == "Charte test v1"
    # Begun on the 30th, no hours validated in March: the bonus is still March's, once April's hours are.
    late_start = facts(contract=ContractType.CDI, start=D(2026, 3, 30), end=None, decided=D(2026, 3, 1))
    assert counting.count_placement(late_start, RULES, {}) == []
    assert counted(counting.count_placement(late_start, RULES, {D(2026, 4, 1): Decimal("140")})) == [
        (3, 70, ("long_contract_bonus",)),
        (4, 140, ()),
    ]
    # A CDD of three months is not long: no month is added.
    assert counted(counting.count_placement(facts(start=D(2026, 3, 30)), RULES, {D(2026, 4, 1): Decimal("140")})) == [
        (4, 140, ())
    ]
    # The same with a grace period of 5 days for a late eligibility.
    lenient = counting.Rules(id=2, label="v2", modes=RULES.modes, eligibility_grace_days=5)
    assert counting.count_placement(facts(decided=D(2026, 3, 3)), lenient, months)[0].counted == 150


# --- Figures from the database ------------------------------------------------------------------------------------
def declare_and_validate(world, lot, month, rows):
    """The employer declares the month of `rows` ((placement, hours)) in one statement on the 3rd of the next month;
    the facilitator validates the declared lines in bulk."""
    with at(month.replace(month=month.month + 1, day=3)):
        statements.statement_submit(
            actor=world.a.employer_actor,
            lot=lot,
            month=month,
            rows=[StatementRow(placement=p.pk, hours=h) for p, h in rows],
        )
        lines = HoursLine.objects.filter(placement__lot=lot, month=month, state="declared").values_list("pk", flat=1)
        statements.hours_lines_decide(
            actor=world.a.facilitator, lot=lot, month=month, lines=list(lines), decision="validate"
        )


@pytest.fixture
def clause(world):
    """A lot executed through 2026 with three placements and their March hours validated:
    a woman living in a QPV (direct hire, 150 h), a training placement (350 h over two months, capped at 300),
    and a placement whose contract started before the eligibility was validated (100 h, not counted)."""
    with at(D(2026, 1, 5)):
        lot = make_lot(
            world.a,
            starts_on=D(2026, 1, 1),
            ends_on=D(2026, 12, 31),
            fulfilment_modes=[FulfilmentMode.DIRECT_HIRE, FulfilmentMode.TRAINING],
        )
        offer = make_offer(world.a, lot=lot, positions=10)
    with at(D(2026, 2, 2)):
        woman = make_pathway(world, "eligible", sex="F", is_qpv_resident=True, postcode="93200")
        a = make_placement(world, "active", offer=offer, pathway=woman, start_date=D(2026, 2, 2))
        b = make_placement(
            world, "active", offer=offer, start_date=D(2026, 2, 2), fulfilment_mode=FulfilmentMode.TRAINING
        )
        c = make_placement(world, "active", offer=offer, start_date=D(2026, 2, 2))
    # c's contract is recorded as started in January, before its eligibility was validated (2 February).
    Placement.objects.filter(pk=c.pk).update(start_date=D(2026, 1, 26), started_on=D(2026, 1, 26))
    for month, rows in (
        (D(2026, 2, 1), [(b, "150")]),
        (D(2026, 3, 1), [(a, "150"), (b, "150"), (c, "100")]),
        (D(2026, 4, 1), [(b, "50")]),
    ):
        declare_and_validate(world, lot, month, rows)
    return lot, (a, b, c)


def lot_figures(actor, lot):
    return reports.clause_figures(actor=actor, lots=reports.report_lots(actor).filter(pk=lot.pk))


def sql_total(lot_id, states=("validated", "locked")):
    """The independent aggregate: raw SQL over the same rows."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(h.hours), 0) FROM parcours_hoursline h JOIN parcours_placement p "
            "ON p.id = h.placement_id WHERE p.lot_id = %s AND h.state IN (%s, %s)",
            [lot_id, *states],
        )
        return Decimal(str(cursor.fetchone()[0]))


def test_the_figures_equal_the_sql_aggregates_and_the_worked_example(world, clause):
    lot, (a, b, c) = clause
    figures = reports.clause_figures(
        actor=world.a.facilitator, lots=reports.report_lots(world.a.facilitator).filter(pk=lot.pk)
    )
    (f,) = figures.lots
    assert f.declared == sql_total(lot.pk) == Decimal("600")
    # 150 (a) + 300 (b, training capped) + 0 (c, eligibility late) = 450.
    assert f.counted == Decimal("450")
    assert f.by_month == {D(2026, 2, 1): 150, D(2026, 3, 1): 300, D(2026, 4, 1): 0}
    assert f.by_mode == {FulfilmentMode.DIRECT_HIRE: 150, FulfilmentMode.TRAINING: 300}
    assert f.by_public["women"] == 150 and f.participants_by_public["women"] == 1
    assert f.by_public["qpv"] == 150
    assert f.rules == str(lot.counting_rules)
    reasons = {p.pseudonym: p.reasons for p in f.participants}
    assert any("Éligibilité validée après" in r for r in reasons[c.pathway.participant.pseudonym])
    assert f.shortfall == f.target - Decimal("450")


def test_the_clause_report_reads_back(world, clause):
    lot, _ = clause
    figures = reports.clause_figures(
        actor=world.a.facilitator, lots=reports.report_lots(world.a.facilitator).filter(pk=lot.pk)
    )
    book = openpyxl.load_workbook(io.BytesIO(clause_report.clause_report_xlsx(figures.lots[0], figures)))
    assert book.sheetnames == ["Synthèse", "Par mois", "Par modalité", "Par public", "Participant·es"]
    summary = {row[0]: row[1] for row in book["Synthèse"].iter_rows(min_row=2, values_only=True)}
    assert summary["Heures comptées pour la clause"] == 450  # a number a buyer can add up (« 450 h » was text)
    assert sum(row[1] for row in book["Par mois"].iter_rows(min_row=2, values_only=True)) == 450
    participants = list(book["Participant·es"].iter_rows(min_row=2, values_only=True))
    assert len(participants) == 3 and all(row[0].startswith("P-") for row in participants)
    buffer = io.BytesIO()
    clause_report.clause_report_pdf(figures.lots[0], figures, buffer)
    reader = PdfReader(io.BytesIO(buffer.getvalue()))
    assert len(reader.pages) >= 1
    first = reader.pages[0].extract_text()
    assert "Bilan de la clause sociale d'insertion" in first and "450" in first
    text = "".join(page.extract_text() for page in reader.pages)
    assert "Signature" in text
    assert lot.awardee.name in text


def test_query_count_does_not_depend_on_the_number_of_lots(world, clause):
    fac = world.a.facilitator

    def count():
        with CaptureQueriesContext(connection) as queries:
            reports.clause_figures(actor=fac)
        return len(queries)

    before = count()
    with at(D(2026, 1, 5)):
        for _ in range(3):
            make_lot(world.a, starts_on=D(2026, 1, 1), ends_on=D(2026, 12, 31))
    # Six, as clause_figures says: none per placement either (the clause's three placements read their lot once).
    assert count() == before == 6


def test_buyers_see_their_contracts_pseudonymised_without_health_publics(world, clause, client):
    lot, _ = clause
    auditor = world.a.auditor
    figures = reports.clause_figures(actor=auditor)
    assert lot.pk in {f.lot.pk for f in figures.lots}
    assert "disability" not in dict(figures.publics)
    assert lot.pk not in {f.lot.pk for f in reports.clause_figures(actor=world.b.auditor).lots}
    assert "disability" in dict(reports.clause_figures(actor=world.a.facilitator).publics)


def test_the_yearly_consolidation_matches_the_lot_figures(world, clause):
    lot, _ = clause
    fac = world.a.facilitator
    data = reports.consolidation(actor=fac, year=2026)
    summary = dict(data.summary)
    figures = reports.clause_figures(actor=fac, lots=reports.report_lots(fac))
    year_total = sum(v for f in figures.lots for m, v in f.by_month.items() if m.year == 2026)
    assert summary["Heures d'insertion comptées dans l'année"] == year_total
    assert summary["Lots"] == len(figures.lots)
    assert dict(data.publics)["Femmes"] >= 1
    book = openpyxl.load_workbook(io.BytesIO(clause_report.consolidation_xlsx(data)))
    assert book.sheetnames[0] == "Synthèse" and "Sorties" in book.sheetnames
    # Another facilitation organisation's consolidation does not include this lot.
    assert dict(reports.consolidation(actor=world.b.facilitator, year=2026).summary)["Lots"] == len(
        reports.clause_figures(actor=world.b.facilitator).lots
    )


def test_a_person_with_contracts_on_two_lots_is_counted_once_in_a_report_over_both(world, clause):
    lot, (woman, _, _) = clause
    fac = world.a.facilitator
    with at(D(2026, 1, 5)):
        second = make_lot(world.a, starts_on=D(2026, 1, 1), ends_on=D(2026, 12, 31))
        offer = make_offer(world.a, lot=second)
    with at(D(2026, 5, 4)):
        make_placement(world, "active", offer=offer, pathway=woman.pathway, start_date=D(2026, 5, 4))
    both = reports.report_lots(fac).filter(pk__in=[lot.pk, second.pk])
    figures = reports.clause_figures(actor=fac, lots=both)
    assert [f.participants_by_public["women"] for f in figures.lots] == [1, 1]  # one in each lot…
    assert figures.participants_by_public()["women"] == 1  # …one person in both (was 2: counts added up)
    assert figures.participants_by_public()["qpv"] == 1
    # The dashboard reads the kept summaries: the same, once they are counted and once read back.
    assert lot_hours.summary_figures(actor=fac, lots=both).participants_by_public()["women"] == 1
    assert lot_hours.summary_figures(actor=fac, lots=both).participants_by_public()["women"] == 1
    # A summary kept by a worker of the previous release (counts per lot, no ids) is counted again, not read as 0.
    LotHoursSummary.objects.filter(lot=lot).update(breakdown={"participants_by_public": {"women": 1}})
    assert lot_hours.summary_figures(actor=fac, lots=both).participants_by_public()["women"] == 1
    assert "people_by_public" in LotHoursSummary.objects.get(lot=lot).breakdown
    # A report over several lots (an operation, a contract) counts people as well.
    group = reports.GroupFigures(kind="operation", subject=None, lots=figures.lots)
    assert group.participants_by_public["women"] == 1


def test_a_hire_still_to_begin_is_no_participant_of_its_publics_until_it_starts(world, clause):
    """As the yearly consolidation counts them: a person counts in a public once their contract began."""
    lot, _ = clause
    fac = world.a.facilitator
    offer = lot.offers.first()
    with at(D(2026, 5, 4)):
        woman = make_pathway(world, "eligible", sex="F")
        planned = make_placement(world, "planned", offer=offer, pathway=woman, start_date=D(2026, 5, 11))
    lots = reports.report_lots(fac).filter(pk=lot.pk)
    (f,) = reports.clause_figures(actor=fac, lots=lots).lots
    assert f.participants_by_public["women"] == 1  # the woman of the fixture, who worked; not the hire to begin
    assert lot_hours.summary_figures(actor=fac, lots=lots).participants_by_public()["women"] == 1
    # The bilans list her, saying why she has no hours: the contract is still to begin.
    (row,) = [p for p in f.participants if p.placement_id == planned.pk]
    assert row.remarks[0] == reports.ParticipantRow.NOT_STARTED and row.counted == 0
    full = reports.clause_figures(actor=fac, lots=lots)
    book = openpyxl.load_workbook(io.BytesIO(clause_report.clause_report_xlsx(full.lots[0], full)))
    rows = list(book["Participant·es"].iter_rows(min_row=2, values_only=True))
    assert sum(reports.ParticipantRow.NOT_STARTED in (row[-1] or "") for row in rows) == 1
    buffer = io.BytesIO()
    clause_report.clause_report_pdf(full.lots[0], full, buffer)
    assert "prévu le\n11/05/2026" in "".join(page.extract_text() for page in PdfReader(buffer).pages)  # wrapped
    with at(D(2026, 5, 11)):
        placements.placement_start(actor=world.a.employer_actor, placement=planned)
    (f,) = reports.clause_figures(actor=fac, lots=lots).lots
    assert f.participants_by_public["women"] == 2
    # The start's journal event made the kept summary stale: the dashboard counts her too.
    assert lot_hours.summary_figures(actor=fac, lots=lots).participants_by_public()["women"] == 2


def test_the_committee_pack_gives_each_contract_its_own_hours(world, clause):
    """Two contracts of one person beginning the same day (two part-time jobs): the pack matched hours to contracts
    by (pseudonym, start date), and gave both the hours of one."""
    lot, (woman, _, _) = clause
    with at(D(2026, 2, 2)):
        second = make_placement(
            world, "active", offer=make_offer(world.a, lot=lot), pathway=woman.pathway, start_date=D(2026, 2, 2)
        )
    declare_and_validate(world, lot, D(2026, 5, 1), [(second, "10")])
    pack = reports.committee_pack(actor=world.a.facilitator, operation_pk=lot.contract.operation_id)
    name = woman.pathway.participant.last_name.upper()
    hours = [row[-1] for row in pack.placements if row[4] == D(2026, 2, 2) and name in row[0]]
    assert sorted(hours) == [Decimal("10"), Decimal("150")]


def test_the_consolidation_counts_only_the_contracts_begun(world, clause):
    lot, started = clause
    fac = world.a.facilitator
    with at(D(2026, 5, 4)):
        planned = make_placement(world, "planned", offer=started[0].referral.offer, start_date=D(2026, 6, 1))
    assert planned.started_on is None
    data = reports.consolidation(actor=fac, year=2026)
    # a, b and c began in 2026; the hire planned for June has not begun: neither « commencé » nor « en contrat ».
    assert sum(n for _, n in data.contract_types) == 3
    assert dict(data.summary)["Participant·es en contrat dans l'année"] == 3


def test_the_consolidation_counts_each_exit_of_a_family_on_the_same_day(world, clause):
    """Two exits of one family on one day are two exits (a DISTINCT over the families, with the model's ordering on
    the exit date, made them one)."""
    _, placed = clause
    with at(D(2026, 9, 3)):
        for placement, situation in zip(placed, ("cdi", "cdi", "cdd_short"), strict=True):
            pathways.pathway_exit(
                actor=world.a.adviser, pathway=placement.pathway_id, exited_on=D(2026, 9, 3), situation=situation
            )
    exits = dict(reports.consolidation(actor=world.a.facilitator, year=2026).exits)
    assert exits == {"Emploi durable": 2, "Emploi de transition": 1, "Sortie positive": 0, "Autre sortie": 0}


def test_the_pathway_funnel_durations_and_exits_come_from_the_journal(world, clause):
    fac = world.a.facilitator
    exited = make_pathway(world, "exited")
    figures = reports.PathwayFigures.from_counts(reports.count_pathway_figures(actor=fac), timezone.now())
    funnel = dict(figures.funnel)
    visible = list(pathways_for(fac).values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(DISTINCT object_id) FROM workflows_journalevent WHERE object_type = 'pathway' "
            f"AND to_state = 'placed' AND object_id IN ({','.join(['%s'] * len(visible))})",
            visible,
        )
        placed = cursor.fetchone()[0]
    assert funnel["En poste"] == placed >= 3
    assert funnel["Sorti·e"] >= 1
    assert exited.pk in visible
    stays = {label: n for label, n, _, _ in figures.durations}
    assert stays["Éligible"] >= placed  # every placed pathway left "eligible" (then "referred")
    assert dict((label, at_exit) for label, at_exit, _ in figures.exits)["Emploi durable"] >= 1


def test_contract_and_operation_reports_add_up_their_lots(world, clause):
    lot, _ = clause
    fac = world.a.facilitator
    with at(D(2026, 1, 5)):
        second = make_lot(world.a, starts_on=D(2026, 1, 1), ends_on=D(2026, 12, 31))
    report, figures = reports.group_figures(actor=fac, kind="operation", pk=lot.contract.operation_id)
    assert [f.lot.pk for f in report.lots] == [lot.pk]  # each make_lot has its own operation
    assert report.counted == Decimal("450") and report.declared == sql_total(lot.pk)
    contract_report, _ = reports.group_figures(actor=fac, kind="contract", pk=second.contract_id)
    assert contract_report.target == second.target_hours and contract_report.counted == 0
    assert reports.group_figures(actor=world.b.facilitator, kind="contract", pk=lot.contract_id)[0] is None
    book = openpyxl.load_workbook(io.BytesIO(clause_report.clause_report_xlsx(report, figures)))
    summary = {row[0]: row[1:] for row in book["Synthèse"].iter_rows(min_row=2, values_only=True)}
    assert summary["Heures comptées pour la clause"] == (450, "h") and "Lots" in summary  # a number, not « 450 h »
    assert summary["Taux de réalisation"][1] == "%" and isinstance(summary["Taux de réalisation"][0], float | int)
    buffer = io.BytesIO()
    clause_report.clause_report_pdf(report, figures, buffer)
    assert "opération" in PdfReader(io.BytesIO(buffer.getvalue())).pages[0].extract_text().lower()


def test_planned_and_realised_hours_by_contract_equal_the_sql_aggregates(world, clause):
    """The per-contract chart: each contract's target is the SQL sum of its lots' targets, its realised hours are
    its lots' counted hours (the worked example: 450 h counted of the 600 h validated on the contract)."""
    lot, _ = clause
    fac = world.a.facilitator
    with at(D(2026, 1, 5)):
        second = make_lot(world.a, starts_on=D(2026, 1, 1), ends_on=D(2026, 12, 31))
    figures = reports.clause_figures(actor=fac)
    by_contract = figures.by_contract()
    lot_ids = [f.lot.pk for f in figures.lots]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.reference, c.title, SUM(l.target_hours), "
            "(SELECT COALESCE(SUM(h.hours), 0) FROM parcours_hoursline h JOIN parcours_placement p "
            " ON p.id = h.placement_id JOIN parcours_contractlot l2 ON l2.id = p.lot_id "
            " WHERE l2.contract_id = c.id AND h.state IN ('validated', 'locked')) "
            "FROM parcours_contractlot l JOIN parcours_publiccontract c ON c.id = l.contract_id "
            f"WHERE l.id IN ({', '.join(['%s'] * len(lot_ids))}) GROUP BY c.id, c.reference, c.title "
            "ORDER BY c.reference",
            lot_ids,
        )
        rows = cursor.fetchall()
    assert list(by_contract) == [f"{reference} — {title}" for reference, title, _, _ in rows]
    sql = {f"{reference} — {title}": (Decimal(str(t)), Decimal(str(v))) for reference, title, t, v in rows}
    for name, (target, counted) in by_contract.items():
        assert target == sql[name][0]
        assert counted <= sql[name][1]  # counted under the rules, never more than validated here (no valorisation)
    first = f"{lot.contract.reference} — {lot.contract.title}"
    assert by_contract[first] == (lot.target_hours, Decimal("450")) and sql[first][1] == Decimal("600")
    assert by_contract[f"{second.contract.reference} — {second.contract.title}"] == (second.target_hours, 0)
    assert sum(counted for _, counted in by_contract.values()) == figures.total("counted")


def test_the_same_lot_shows_the_same_counted_hours_everywhere(world, clause, client):
    """Home, register, lot page, dashboard and clause report: the hours the lot's counting rules count (450 h of the
    600 h validated in the worked example), with the rule version that counted them."""
    lot, _ = clause
    fac = world.a.facilitator
    client.force_login(fac.user)
    rules = str(lot.counting_rules)
    assert sql_total(lot.pk) == Decimal("600")

    home = client.get(reverse("home"))
    (row,) = [shown for shown in home.context["lots"]["rows"] if shown.pk == lot.pk]
    assert row.counted_hours == Decimal("450") and row.counting_rules_label == rules
    body = home.content.decode()
    assert "450\xa0h" in body and rules in body and "600\xa0h" not in body

    register_page = client.get(reverse("facilitator:register"))
    body = register_page.content.decode()
    assert "450\xa0h" in body and rules in body and 'aria-valuenow="' in body

    detail = client.get(reverse("facilitator:lot_detail", args=[lot.pk])).content.decode()
    assert "450\xa0h" in detail and rules in detail

    dashboard = client.get(reverse("reports:dashboard"))
    (figures,) = [f for f in dashboard.context["lots"] if f.lot.pk == lot.pk]
    assert figures.counted == row.counted_hours and figures.rules == rules
    assert figures.realised_pct == row.counted_pct

    book = openpyxl.load_workbook(io.BytesIO(client.get(reverse("reports:lot_report_xlsx", args=[lot.pk])).content))
    summary = {r[0]: r[1] for r in book["Synthèse"].iter_rows(min_row=2, values_only=True)}
    assert summary["Heures comptées pour la clause"] == 450

    # The API: the validated hours (`realised_hours`) and the same counted figure, on the lot and in the list.
    lot_body = client.get(f"/api/v1/lots/{lot.pk}/").json()
    assert (lot_body["realised_hours"], lot_body["counted_hours"]) == ("600.00", "450.00")
    assert Decimal(str(lot_body["counted_pct"])) == row.counted_pct and lot_body["counting_rules_label"] == rules
    listed = {r["id"]: r for r in client.get("/api/v1/lots/?page_size=200").json()["results"]}
    assert listed[lot.pk]["counted_hours"] == "450.00"
    # An employer follows its lots' hours (validated) but not the clause's count; an adviser neither.
    client.force_login(world.a.employer_actor.user)
    employer_body = client.get(f"/api/v1/lots/{lot.pk}/").json()
    assert (employer_body["realised_hours"], employer_body["counted_hours"]) == ("600.00", None)


def test_the_realised_rate_is_one_figure_to_a_tenth_half_up_everywhere(world, clause, client):
    """450 h counted of a 4,000 h target: 11.25 %, shown 11.3 % (a half rounded up; Python's `round` gave 11 on
    the pages and 11.2 to a tenth) on the register, the lot page, the dashboard, the API and the bilans."""
    lot, _ = clause
    ContractLot.objects.filter(pk=lot.pk).update(target_hours=4000)  # the rate is read against the lot's target
    client.force_login(world.a.facilitator.user)
    assert "11,3 %" in client.get(reverse("facilitator:register")).content.decode()
    assert 'aria-valuenow="11.3"' in client.get(reverse("facilitator:lot_detail", args=[lot.pk])).content.decode()
    dashboard = client.get(reverse("reports:dashboard"))
    (figures,) = [f for f in dashboard.context["lots"] if f.lot.pk == lot.pk]
    assert figures.realised_pct == Decimal("11.3") and "11,3 %" in dashboard.content.decode()
    assert client.get(f"/api/v1/lots/{lot.pk}/").json()["counted_pct"] == 11.3
    book = openpyxl.load_workbook(io.BytesIO(client.get(reverse("reports:lot_report_xlsx", args=[lot.pk])).content))
    summary = {r[0]: r[1] for r in book["Synthèse"].iter_rows(min_row=2, values_only=True)}
    assert summary["Taux de réalisation"] == 11.3
    pdf = PdfReader(io.BytesIO(client.get(reverse("reports:lot_report_pdf", args=[lot.pk])).content))
    text = "".join(page.extract_text() for page in pdf.pages).replace("\xa0", " ")
    assert "Taux de réalisation\n11,3 %" in text
    assert [counting.percent(*case) for case in ((485, 1000), (135, 1000), (1000, 1000), (0, 0))] == [
        Decimal("48.5"),
        Decimal("13.5"),
        100,
        0,
    ]


def test_the_bilan_proposes_the_contracts_penalty_on_the_shortfall_once_the_execution_is_over(world, clause, client):
    """Shortfall × the contract's penalty per missing hour, in euros, once the lot's execution is over (it ends on
    31/12/2026); before, the hours still to realise and when the penalty will be proposed (a lot at a tenth of its
    time proposed its whole target's penalty); « non prévue au marché » without a rate."""
    lot, _ = clause
    label = "Pénalité proposée (heures manquantes × taux du marché)"

    def bilan(day):
        with at(day):
            client.force_login(world.a.facilitator.user)  # a session of that day (one of today's expired)
            response = client.get(reverse("reports:lot_report_xlsx", args=[lot.pk]))
        rows = openpyxl.load_workbook(io.BytesIO(response.content))["Synthèse"].iter_rows(min_row=2, values_only=True)
        return {r[0]: r[1:] for r in rows}

    shortfall = lot.target_hours - 450
    assert bilan(D(2027, 1, 4))[label][0] == "non prévue au marché"
    PublicContract.objects.filter(pk=lot.contract_id).update(penalty_per_missing_hour=Decimal("40"))
    running = bilan(D(2026, 12, 30))
    assert running["Heures restant à réaliser"][0] == shortfall and "Heures manquantes" not in running
    assert running[label] == ("à la fin de l'exécution du lot, le 31/12/2026", None)  # no unit
    over = bilan(D(2027, 1, 4))
    assert over["Heures manquantes"][0] == shortfall
    assert over[label] == (shortfall * 40, "€")
    with at(D(2027, 1, 4)):
        client.force_login(world.a.facilitator.user)
        pdf = PdfReader(io.BytesIO(client.get(reverse("reports:lot_report_pdf", args=[lot.pk])).content))
    text = "".join(page.extract_text() for page in pdf.pages).replace("\xa0", " ").replace("\u202f", " ")
    assert f"{int(shortfall * 40):,}".replace(",", " ") + ",00 €" in text


def test_a_contracts_or_operations_bilan_says_which_lots_penalties_it_adds_up():
    """Lots with and without a rate, ended or not: the note says what the sum holds (it promised a penalty at the end
    of every lot, those of a contract without a rate included)."""

    def lot(rate, ended, counted=0):
        contract = SimpleNamespace(penalty_per_missing_hour=None if rate is None else Decimal(rate))
        subject = SimpleNamespace(contract=contract, execution_ends_on=D(2026, 6, 30))
        return reports.LotFigures(lot=subject, target=Decimal(100), counted=Decimal(counted), ended=ended)

    def group(*lots):
        figures = reports.GroupFigures(kind="operation", subject=None, lots=list(lots))
        return figures.proposed_penalty, figures.penalty_note

    assert group(lot(None, True), lot(None, False)) == (None, "non prévue au marché")
    assert group(lot("10", False), lot(None, True)) == (
        None,
        "à la fin de l'exécution des lots dont le marché en prévoit une",
    )
    assert group(lot("10", False), lot("10", False)) == (None, "à la fin de l'exécution des lots")
    assert group(lot("10", True), lot("10", False)) == (
        Decimal("1000.00"),
        "celle des lots finis ; les autres à la fin de leur exécution",
    )
    assert group(lot("10", True, 40), lot(None, True)) == (
        Decimal("600.00"),
        "celle des lots dont le marché en prévoit une",
    )
    assert group(lot("10", True), lot("5", True, 100)) == (Decimal("1000.00"), "")


def test_the_esf_export_reads_its_pathways_a_chunk_at_a_time(world, clause):
    """Streamed rows, memory bounded: the same rows whatever the chunk size, three queries per chunk."""
    fac = world.a.facilitator
    whole = list(reports.esf_rows(actor=fac))
    assert len(whole) >= 3
    with CaptureQueriesContext(connection) as queries:
        by_two = list(reports.esf_rows(actor=fac, chunk=2))
    assert by_two == whole
    assert len(queries) == 1 + 3 * -(-len(whole) // 2)


def test_the_funnel_and_stays_aggregated_by_the_database_equal_a_count_of_the_events(world, clause):
    """Funnel and time in each state, computed by the database (window and percentile functions on PostgreSQL),
    against the same figures counted here over the raw events: a stay ends when the next change enters another
    state; the median and the 90th percentile interpolate between ranks."""
    make_pathway(world, "exited")
    fac = world.a.facilitator
    visible = set(pathways_for(fac).values_list("pk", flat=True))
    events = (
        JournalEvent.objects.filter(object_type="pathway", object_id__in=visible)
        .exclude(to_state="")
        .order_by("object_id", "occurred_at", "pk")
        .values_list("object_id", "to_state", "occurred_at")
    )
    reached, stays, previous = {}, {}, None
    for object_id, state, when in events:
        reached.setdefault(state, set()).add(object_id)
        if previous is not None and previous[0] == object_id and previous[1] != state:
            stays.setdefault(previous[1], []).append((when - previous[2]).total_seconds() / 86400)
        previous = (object_id, state, when)
    figures = reports.PathwayFigures.from_counts(reports.count_pathway_figures(actor=fac), timezone.now())
    assert dict(figures.funnel) == {s.label: len(reached.get(s.value, ())) for s in PathwayState}
    expected = {}
    for state in PathwayState:
        values = sorted(stays.get(state.value, []))
        if values:
            p90 = statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]
            expected[state.label] = (len(values), round(statistics.median(values), 1), round(p90, 1))
    got = {label: (n, p50, p90) for label, n, p50, p90 in figures.durations}
    assert got.keys() == expected.keys() and len(expected) >= 3
    for label, (n, p50, p90) in got.items():
        assert n == expected[label][0]
        assert (p50, p90) == pytest.approx(expected[label][1:], abs=0.11), label


def test_operations_and_lots_named_alike_stay_apart_on_the_charts(world, clause):
    """Found from outside: two operations of one name (a programme on two communes) were one row of the dashboard,
    and two lots « Lot 1 — Gros œuvre » of two contracts took each other's target on the lots chart."""
    lot, _ = clause
    with at(D(2026, 1, 5)):
        second = make_lot(world.a, starts_on=D(2026, 1, 1), ends_on=D(2026, 12, 31))
    type(second.contract.operation).objects.filter(pk=second.contract.operation_id).update(
        name=lot.contract.operation.name, commune="Saint-Fons"
    )
    figures = reports.clause_figures(actor=world.a.facilitator)
    operations = figures.by_operation()
    name = lot.contract.operation.name
    assert operations[f"{name} (Saint-Denis)"] == (lot.target_hours, Decimal("450"))
    assert operations[f"{name} (Saint-Fons)"] == (second.target_hours, 0)
    labels = figures.lot_labels()
    assert labels[lot.pk] == f"{lot} ({lot.contract.reference})"
    assert labels[second.pk] == f"{second} ({second.contract.reference})"
    # Alone, a name is shown as it is.
    assert reports.unique_labels([(1, "Lot 1 — Gros œuvre", "2025-001")]) == {1: "Lot 1 — Gros œuvre"}
    assert reports.unique_labels([(1, "A", ""), (2, "A", "")]) == {1: "A (n° 1)", 2: "A (n° 2)"}

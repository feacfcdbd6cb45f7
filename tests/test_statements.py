"""Monthly statements, the facilitator's month and the hours checks, on worked examples written from the domain
reference (§A.4–A.6): a month straddling the contract start, the current month, adjustments after the close,
uploaded timesheets with bad rows (nothing written, every bad row named), reminders, offers closing themselves."""

import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from django.utils import timezone

from parcours.models import HoursLine, HoursStatement, JobOffer
from parcours.services import placements, referrals, statements
from parcours.services.statements import StatementRow
from roles.actor import Actor
from tests.factories import db_counts, make_lot, make_offer, make_pathway, make_placement, make_referral, reload
from workflows.errors import DomainError, RowsRefused
from workflows.models import JournalEvent
from workflows.states import HoursLineState, PlacementState
from workflows.vocabulary import StatementSource

D = datetime.date


def at(day: datetime.date, hour=10):
    moment = timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def lot_2026(world):
    """A lot executed through 2026, awarded to side a's employer."""
    with at(D(2026, 1, 5)):
        lot = make_lot(world.a, starts_on=D(2026, 1, 1), ends_on=D(2026, 12, 31))
        offer = make_offer(world.a, lot=lot, positions=20)
    return lot, offer


def hire_on(world, offer, day, weekly_hours=35):
    """A participant validated eligible and hired on `day`, the contract started that day."""
    with at(day):
        return make_placement(world, "active", offer=offer, start_date=day, weekly_hours=weekly_hours)


def submit(world, lot, month, rows, today):
    return statements.statement_submit(actor=world.a.employer_actor, lot=lot, month=month, rows=rows, today=today)


def lines_of(lot):
    return HoursLine.objects.filter(placement__lot=lot)


# --- The checks, on worked examples -----------------------------------------------------------------------------
def test_a_full_month_allows_weekly_hours_times_working_days_plus_tolerance(world, lot_2026):
    lot, offer = lot_2026
    # Hired Monday 2 March 2026: 22 working days in March (2–6, 9–13, 16–20, 23–27, 30–31) × 7 h = 154 h, +10 %.
    placement = hire_on(world, offer, D(2026, 3, 2))
    april = D(2026, 4, 3)
    with at(april):
        with pytest.raises(RowsRefused) as refused:
            submit(world, lot, D(2026, 3, 1), [StatementRow(placement=placement.pk, hours="169,41", row=1)], april)
        assert "169,4\u00a0h" in refused.value.errors[0]["message"]
        assert "22 jours ouvrés" in refused.value.errors[0]["message"]
        submit(world, lot, D(2026, 3, 1), [StatementRow(placement=placement.pk, hours="169,4", row=1)], april)
    assert lines_of(lot).get().hours == Decimal("169.40")


def test_a_part_time_contract_of_17_5_hours_allows_its_share_of_the_month(world, lot_2026):
    lot, offer = lot_2026
    # Hired Monday 2 March 2026 for 17,5 h a week: 22 working days × 3,5 h = 77 h, +10 % = 84,7 h.
    placement = hire_on(world, offer, D(2026, 3, 2), weekly_hours=Decimal("17.5"))
    april = D(2026, 4, 3)
    with at(april):
        with pytest.raises(RowsRefused) as refused:
            submit(world, lot, D(2026, 3, 1), [StatementRow(placement=placement.pk, hours="84,71", row=1)], april)
        message = refused.value.errors[0]["message"]
        assert "84,7\u00a0h" in message and "17,5\u00a0h/semaine × 22 jours ouvrés" in message
        submit(world, lot, D(2026, 3, 1), [StatementRow(placement=placement.pk, hours="84,7", row=1)], april)
    assert lines_of(lot).get().hours == Decimal("84.70")


def test_a_month_straddling_the_contract_start_counts_only_the_days_of_the_contract(world, lot_2026):
    lot, offer = lot_2026
    # Hired Wednesday 18 March 2026: 10 working days (18–20, 23–27, 30–31) × 7 h = 70 h, +10 % = 77 h.
    placement = hire_on(world, offer, D(2026, 3, 18))
    with at(D(2026, 4, 2)):
        with pytest.raises(RowsRefused):
            submit(world, lot, D(2026, 3, 1), [StatementRow(placement=placement.pk, hours="77.01")], D(2026, 4, 2))
        submit(world, lot, D(2026, 3, 1), [StatementRow(placement=placement.pk, hours="77")], D(2026, 4, 2))
        # February precedes the contract.
        with pytest.raises(RowsRefused) as refused:
            submit(world, lot, D(2026, 2, 1), [StatementRow(placement=placement.pk, hours="7")], D(2026, 4, 2))
        assert "précède le début du contrat (18/03/2026)" in refused.value.errors[0]["message"]


def test_hours_of_the_current_month_stop_at_today_and_future_months_are_refused(world, lot_2026):
    """The issue's example: 140 h for December accepted on 2 December for a contract started that day."""
    lot, offer = lot_2026
    placement = hire_on(world, offer, D(2026, 12, 2))  # a Wednesday: one working day so far, 7 h + 10 %
    with at(D(2026, 12, 2), hour=18):
        with pytest.raises(DomainError) as refused:
            placements.hours_declare(
                actor=world.a.employer_actor, placement=placement, month=D(2026, 12, 1), hours=140
            )
        assert refused.value.code == "hours_above_contract"
        assert "7,7\u00a0h" in refused.value.message
        with pytest.raises(DomainError) as future:
            placements.hours_declare(actor=world.a.employer_actor, placement=placement, month=D(2027, 1, 1), hours=1)
        assert future.value.code == "date_in_future"
    assert not lines_of(lot).exists()


def test_adjustments_after_the_close_stay_within_the_month(world, lot_2026):
    """The issue's example: three adjustment lines of 220 h accepted for one placement and month."""
    lot, offer = lot_2026
    placement = hire_on(world, offer, D(2026, 3, 2))  # March allows 169,4 h
    with at(D(2026, 4, 3)):
        submit(world, lot, D(2026, 3, 1), [StatementRow(placement=placement.pk, hours="150")], D(2026, 4, 3))
        line = lines_of(lot).get()
        statements.hours_lines_decide(
            actor=world.a.facilitator, lot=lot, month=D(2026, 3, 1), lines=[line.pk], decision="validate"
        )
        statements.statement_close_month(actor=world.a.facilitator, lot=lot, month=D(2026, 3, 1))
        assert reload(line).state == HoursLineState.LOCKED
        # A regular line is refused on a closed month; an adjustment of 220 h goes above what the contract allows.
        for hours, adjustment in (("10", False), ("220", True)):
            with pytest.raises(RowsRefused):
                submit(
                    world,
                    lot,
                    D(2026, 3, 1),
                    [StatementRow(placement=placement.pk, hours=hours, is_adjustment=adjustment)],
                    D(2026, 4, 3),
                )
        placements.hours_declare(
            actor=world.a.employer_actor, placement=placement, month=D(2026, 3, 1), hours=10, is_adjustment=True
        )
        # The same adjustment again while the first awaits its decision: sent twice, refused by name.
        with pytest.raises(DomainError) as twice:
            placements.hours_declare(
                actor=world.a.employer_actor, placement=placement, month=D(2026, 3, 1), hours=10, is_adjustment=True
            )
        assert twice.value.code == "duplicate_adjustment" and twice.value.field == "hours"
        assert "Une régularisation de 10\u00a0h pour mars 2026 attend déjà la validation" in twice.value.message
        with pytest.raises(DomainError) as third:
            placements.hours_declare(
                actor=world.a.employer_actor, placement=placement, month=D(2026, 3, 1), hours=11, is_adjustment=True
            )
        assert third.value.code == "hours_above_contract"
        assert "dont 160\u00a0h déjà déclarées" in third.value.message
        # A negative adjustment may not bring the month below zero.
        with pytest.raises(DomainError) as negative:
            placements.hours_declare(
                actor=world.a.employer_actor, placement=placement, month=D(2026, 3, 1), hours=-161, is_adjustment=True
            )
        assert negative.value.code == "hours_total_negative"
    assert sorted(lines_of(lot).values_list("hours", flat=True)) == [Decimal("10"), Decimal("150")]


# --- All or nothing ---------------------------------------------------------------------------------------------
def test_a_statement_with_bad_rows_writes_nothing_and_names_every_bad_row(world, lot_2026):
    lot, offer = lot_2026
    good = hire_on(world, offer, D(2026, 3, 2))
    late = hire_on(world, offer, D(2026, 3, 18))
    other_lot_placement = make_placement(world, "active", side="b")
    events = JournalEvent.objects.count()
    with at(D(2026, 4, 3)):
        with pytest.raises(RowsRefused) as refused:
            submit(
                world,
                lot,
                D(2026, 3, 1),
                [
                    StatementRow(placement=good.pk, hours="100", row=1),
                    StatementRow(placement=late.pk, hours="90", row=2),  # above 77 h
                    StatementRow(placement=other_lot_placement.pk, hours="10", row=3),  # not on this lot
                    StatementRow(placement=good.pk, hours="abc", row=4, is_adjustment=True),
                ],
                D(2026, 4, 3),
            )
    errors = {error["row"]: error for error in refused.value.errors}
    assert sorted(errors) == [2, 3, 4]
    assert errors[2]["field"] == "hours" and "77\u00a0h" in errors[2]["message"]
    assert errors[3]["field"] == "placement"
    assert errors[4]["message"] == "Heures : nombre invalide."
    assert not lines_of(lot).exists()
    assert not HoursStatement.objects.filter(lot=lot).exists()
    assert JournalEvent.objects.count() == events


def test_a_good_statement_writes_one_line_per_row_and_the_statement(world, lot_2026):
    lot, offer = lot_2026
    first, second = hire_on(world, offer, D(2026, 3, 2)), hire_on(world, offer, D(2026, 3, 2))
    absent = hire_on(world, offer, D(2026, 3, 2))
    with at(D(2026, 4, 3)):
        statement = submit(
            world,
            lot,
            D(2026, 3, 1),
            [
                StatementRow(placement=first.pk, hours="151,67"),
                StatementRow(placement=second.pk, hours="120"),
                StatementRow(placement=absent.pk, hours=""),  # nothing this month (sick leave…)
            ],
            D(2026, 4, 3),
        )
    assert statement.submitted_at is not None and statement.submissions == 1
    assert dict(lines_of(lot).values_list("placement_id", "hours")) == {
        first.pk: Decimal("151.67"),
        second.pk: Decimal("120"),
    }
    event = JournalEvent.objects.filter(object_type="hoursstatement", object_id=statement.pk).get()
    assert event.action == "submit" and event.inputs["lines"] == 2


def test_only_the_awardee_submits(world, lot_2026):
    lot, offer = lot_2026
    placement = hire_on(world, offer, D(2026, 3, 2))
    with at(D(2026, 4, 3)):
        for actor in (world.b.employer_actor, world.a.facilitator, world.a.adviser):
            with pytest.raises(DomainError):
                statements.statement_submit(
                    actor=actor, lot=lot, month=D(2026, 3, 1), rows=[StatementRow(placement=placement.pk, hours=7)]
                )
    assert not lines_of(lot).exists()


# --- Uploaded timesheets ----------------------------------------------------------------------------------------
def xlsx(rows) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_an_uploaded_csv_with_bad_rows_writes_nothing_and_names_every_line(world, lot_2026):
    lot, offer = lot_2026
    placement = hire_on(world, offer, D(2026, 3, 2))
    content = (
        "Référence;Nom;Heures;Régularisation\n"
        f"{placement.pk};DUPONT Léa;100;non\n"
        "abc;X;10;\n"
        f"{placement.pk};DUPONT Léa;5;peut-être\n"
    ).encode("cp1252")
    with at(D(2026, 4, 3)):
        with pytest.raises(RowsRefused) as refused:
            statements.statement_upload(
                actor=world.a.employer_actor, lot=lot, month=D(2026, 3, 1), name="mars.csv", content=content
            )
    assert [(e["row"], e["field"]) for e in refused.value.errors] == [(3, "placement"), (4, "is_adjustment")]
    assert not lines_of(lot).exists()
    # Unreadable lines and lines the checks refuse are named together, in the file's order.
    content = (f"Référence;Nom;Heures\nabc;X;10\n{placement.pk};DUPONT Léa;xyz\n999999;Z;5\n").encode()
    with at(D(2026, 4, 3)):
        with pytest.raises(RowsRefused) as refused:
            statements.statement_upload(
                actor=world.a.employer_actor, lot=lot, month=D(2026, 3, 1), name="mars.csv", content=content
            )
    assert [(e["row"], e["field"]) for e in refused.value.errors] == [(2, "placement"), (3, "hours"), (4, "placement")]
    assert "3 lignes à corriger" in refused.value.message and not lines_of(lot).exists()


def test_an_uploaded_xlsx_declares_the_month(world, lot_2026):
    lot, offer = lot_2026
    first, second = hire_on(world, offer, D(2026, 3, 2)), hire_on(world, offer, D(2026, 3, 18))
    content = xlsx([["Référence", "Nom", "Heures"], [first.pk, "A", 140.5], [second.pk, "B", "70,25"]])
    with at(D(2026, 4, 3)):
        statement = statements.statement_upload(
            actor=world.a.employer_actor, lot=lot, month=D(2026, 3, 1), name="mars.xlsx", content=content
        )
        assert statement.source == "upload"
        # Declared twice: every row is refused, with its line number, and nothing more is written.
        with pytest.raises(RowsRefused) as again:
            statements.statement_upload(
                actor=world.a.employer_actor, lot=lot, month=D(2026, 3, 1), name="mars.xlsx", content=content
            )
    assert [e["row"] for e in again.value.errors] == [2, 3]
    assert sorted(lines_of(lot).values_list("hours", flat=True)) == [Decimal("70.25"), Decimal("140.50")]


def test_an_uploaded_xlsx_formula_nobody_computed_is_named_not_dropped(world, lot_2026):
    lot, offer = lot_2026
    first, second = hire_on(world, offer, D(2026, 3, 2)), hire_on(world, offer, D(2026, 3, 2))
    # A workbook written by a script: its formula has no value until a spreadsheet program computes it. Read as an
    # empty cell, the line was skipped and « Relevé enregistré » shown with the other employee's hours only.
    content = xlsx([["Référence", "Nom", "Heures"], [first.pk, "A", "=5*7"], [second.pk, "B", 35]])
    with at(D(2026, 4, 3)):
        with pytest.raises(RowsRefused) as refused:
            statements.statement_upload(
                actor=world.a.employer_actor, lot=lot, month=D(2026, 3, 1), name="mars.xlsx", content=content
            )
    assert [(e["row"], e["field"]) for e in refused.value.errors] == [(2, "hours")]
    assert "Formule sans valeur calculée" in refused.value.errors[0]["message"]
    assert not lines_of(lot).exists() and not HoursStatement.objects.filter(lot=lot).exists()
    # A row of formulas alone reads as nothing (a template's `=SI(B5="";"";…)` computed to "" is stored as no
    # value): empty, skipped, as a blank line.
    content = xlsx([["Référence", "Nom", "Heures"], ["=D9", "=E9", "=F9"], [second.pk, "B", 35]])
    with at(D(2026, 4, 3)):
        statements.statement_upload(
            actor=world.a.employer_actor, lot=lot, month=D(2026, 3, 1), name="mars.xlsx", content=content
        )
    assert [(line.placement_id, line.hours) for line in lines_of(lot)] == [(second.pk, Decimal("35.00"))]


def test_a_csv_whose_first_line_is_blank_takes_its_separator_from_the_header(world, lot_2026):
    lot, offer = lot_2026
    placement = hire_on(world, offer, D(2026, 3, 2))
    content = f'\nRéférence,Nom,Heures\n{placement.pk},A,"70,5"\n'.encode()
    with at(D(2026, 4, 3)):
        statements.statement_upload(
            actor=world.a.employer_actor, lot=lot, month=D(2026, 3, 1), name="mars.csv", content=content
        )
    assert lines_of(lot).get().hours == Decimal("70.50")


@pytest.mark.parametrize("hours", ["1_0", "٣", "1_000"])
def test_hours_with_a_digit_separator_or_foreign_digits_are_refused(world, lot_2026, hours):
    lot, offer = lot_2026
    placement = hire_on(world, offer, D(2026, 3, 2))
    with at(D(2026, 4, 3)):
        with pytest.raises(RowsRefused) as refused:
            submit(
                world, lot, D(2026, 3, 1), [StatementRow(placement=placement.pk, hours=hours, row=1)], D(2026, 4, 3)
            )
    assert "nombre invalide" in refused.value.errors[0]["message"] and not lines_of(lot).exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("heures.pdf", b"%PDF-1.4", "Format non pris en charge"),
        ("heures.xlsx", b"not a zip", "Fichier illisible"),
        ("heures.csv", b"", "Le fichier est vide."),
        ("heures.csv", b"Nom;Total\nA;3\n", "Colonnes « Référence » et « Heures » introuvables"),
        # Neither UTF-8 nor Windows-1252 (0x81 has no character in either): it was a 500.
        ("heures.csv", "Référence;Heures\n10;7\n".encode("cp1252") + b"\x81\n", "UTF-8 ou Windows-1252"),
        # A cell over the CSV reader's limit (131,072 characters), under the size limit: it was a 500.
        ("heures.csv", b'R\xc3\xa9f\xc3\xa9rence;Heures\n10;"' + b"x" * 200_000 + b'"\n', "Fichier illisible"),
    ],
)
def test_an_unreadable_file_is_refused_with_a_precise_message(world, lot_2026, name, content, message):
    lot, _ = lot_2026
    with pytest.raises(DomainError) as refused:
        statements.statement_upload(
            actor=world.a.employer_actor, lot=lot, month=D(2026, 3, 1), name=name, content=content
        )
    assert message in refused.value.message and refused.value.field == "file"


# --- The facilitator's month --------------------------------------------------------------------------------------
def test_bulk_decisions_are_all_or_nothing_and_the_close_waits_for_them(world, lot_2026):
    lot, offer = lot_2026
    first, second = hire_on(world, offer, D(2026, 3, 2)), hire_on(world, offer, D(2026, 3, 2))
    fac, march = world.a.facilitator, D(2026, 3, 1)
    with at(D(2026, 4, 3)):
        submit(
            world,
            lot,
            march,
            [StatementRow(placement=first.pk, hours="100"), StatementRow(placement=second.pk, hours="90")],
            D(2026, 4, 3),
        )
        one, two = lines_of(lot).order_by("pk")
        with pytest.raises(RowsRefused) as pending:
            statements.statement_close_month(actor=fac, lot=lot, month=march)
        assert len(pending.value.errors) == 2
        with pytest.raises(DomainError) as no_reason:
            statements.hours_lines_decide(actor=fac, lot=lot, month=march, lines=[two.pk], decision="reject")
        assert no_reason.value.field == "reason"
        statements.hours_lines_decide(
            actor=fac, lot=lot, month=march, lines=[two.pk], decision="reject", reason="Feuille non signée"
        )
        # A set containing a line already decided is refused as a whole: the first line stays declared.
        with pytest.raises(RowsRefused) as mixed:
            statements.hours_lines_decide(actor=fac, lot=lot, month=march, lines=[one.pk, two.pk], decision="validate")
        assert [e["row"] for e in mixed.value.errors] == [two.pk]
        assert reload(one).state == HoursLineState.DECLARED
        statements.hours_lines_decide(actor=fac, lot=lot, month=march, lines=[one.pk], decision="validate")
        statement = statements.statement_close_month(actor=fac, lot=lot, month=march)
        assert statement.closed_at is not None
        assert reload(one).state == HoursLineState.LOCKED and reload(two).state == HoursLineState.REJECTED
        # Other organisations cannot decide or close.
        with pytest.raises(DomainError):
            statements.statement_close_month(actor=world.b.facilitator, lot=lot, month=march)
        # The current month cannot be closed.
        with pytest.raises(DomainError) as early:
            statements.statement_close_month(actor=fac, lot=lot, month=D(2026, 4, 1))
        assert early.value.code == "month_not_over"


def test_an_empty_statement_is_refused_unless_no_hours_is_said_on_purpose(world, lot_2026):
    lot, offer = lot_2026
    placement = hire_on(world, offer, D(2026, 3, 2))
    march, april = D(2026, 3, 1), D(2026, 4, 3)
    with at(april):
        for rows in (
            [],
            [StatementRow(placement=placement.pk, hours="")],
            [StatementRow(placement=placement.pk, hours="0")],
        ):
            with pytest.raises(DomainError) as empty:
                submit(world, lot, march, rows, april)
            assert empty.value.code == "statement_empty" and "Aucune heure ce mois-ci" in empty.value.message
        assert not HoursStatement.objects.filter(lot=lot, month=march).exists()
        # Hours and « no hours » together contradict each other: refused, nothing written.
        with pytest.raises(DomainError) as both:
            statements.statement_submit(
                actor=world.a.employer_actor,
                lot=lot,
                month=march,
                rows=[StatementRow(placement=placement.pk, hours="7")],
                no_hours=True,
                today=april,
            )
        assert both.value.field == "no_hours" and not lines_of(lot).exists()
        statement = statements.statement_submit(
            actor=world.a.employer_actor, lot=lot, month=march, rows=[], no_hours=True, today=april
        )
        # Not for a month outside the lot's execution.
        with pytest.raises(DomainError) as outside:
            statements.statement_submit(
                actor=world.a.employer_actor, lot=lot, month=D(2025, 12, 1), rows=[], no_hours=True, today=april
            )
        assert outside.value.code == "outside_execution_window" and outside.value.field == "month"
    assert statement.submitted_at is not None and not lines_of(lot).exists()
    assert HoursStatement.objects.filter(lot=lot).count() == 1
    event = JournalEvent.objects.filter(object_type="hoursstatement", action="submit").latest("pk")
    assert event.inputs["lines"] == 0


def test_no_hours_is_refused_on_a_month_whose_hours_were_declared(world, lot_2026):
    """A second tab, a colleague: « Aucune heure ce mois-ci » posted after the month's hours were declared (QA: the
    statement counted one more submission under « Relevé enregistré »)."""
    lot, offer = lot_2026
    placement = hire_on(world, offer, D(2026, 3, 2))
    march, april = D(2026, 3, 1), D(2026, 4, 3)
    with at(april):
        submit(world, lot, march, [StatementRow(placement=placement.pk, hours="20")], april)
        before = HoursStatement.objects.get(lot=lot, month=march).submissions
        with pytest.raises(DomainError) as refused:
            statements.statement_submit(
                actor=world.a.employer_actor, lot=lot, month=march, rows=[], no_hours=True, today=april
            )
    assert refused.value.code == "already_declared" and refused.value.field == "no_hours"
    assert refused.value.message.startswith("Les heures de ce mois ont déjà été déclarées")
    assert HoursStatement.objects.get(lot=lot, month=march).submissions == before and lines_of(lot).count() == 1


def test_a_statement_keeps_the_date_it_was_declared_when_hours_are_added_later(world, lot_2026):
    """A correction sent weeks later rewrote « déclaré le » (and who, and how): the month looked declared late."""
    lot, offer = lot_2026
    placement, forgotten = hire_on(world, offer, D(2026, 3, 2)), hire_on(world, offer, D(2026, 3, 9))
    march = D(2026, 3, 1)
    with at(D(2026, 4, 3)):
        submit(world, lot, march, [StatementRow(placement=placement.pk, hours="20")], D(2026, 4, 3))
    first = HoursStatement.objects.get(lot=lot, month=march)
    with at(D(2026, 4, 22)):
        statements.statement_submit(
            actor=world.a.employer_actor,
            lot=lot,
            month=march,
            rows=[StatementRow(placement=forgotten.pk, hours="7")],
            today=D(2026, 4, 22),
            source=StatementSource.API,
        )
    later = HoursStatement.objects.get(lot=lot, month=march)
    assert (later.submitted_at, later.source, later.submissions) == (first.submitted_at, first.source, 2)
    assert timezone.localdate(later.submitted_at) == D(2026, 4, 3)
    sent = JournalEvent.objects.filter(object_type="hoursstatement", object_id=later.pk, action="submit")
    assert sent.count() == 2  # each sending journaled


def test_a_month_nobody_declared_is_neither_closed_at_0_h_nor_reminded_once_closed(world, lot_2026):
    lot, offer = lot_2026
    hire_on(world, offer, D(2026, 3, 2))
    fac, march = world.a.facilitator, D(2026, 3, 1)
    with at(D(2026, 4, 15)):
        with pytest.raises(DomainError) as missing:
            statements.statement_close_month(actor=fac, lot=lot, month=march)
        assert missing.value.code == "statement_missing" and "relancez-le" in missing.value.message
        assert not HoursStatement.objects.filter(lot=lot, month=march, closed_at__isnull=False).exists()
        statements.statement_remind(actor=fac, lot=lot, month=march)
        # Declared « no hours », the month closes.
        statements.statement_submit(
            actor=world.a.employer_actor, lot=lot, month=march, rows=[], no_hours=True, today=D(2026, 4, 15)
        )
        statements.statement_close_month(actor=fac, lot=lot, month=march)
        # A month with no contract running closes without a statement; closed, it is not reminded any more.
        february = D(2026, 2, 1)
        statements.statement_close_month(actor=fac, lot=lot, month=february)
        with pytest.raises(DomainError) as closed:
            statements.statement_remind(actor=fac, lot=lot, month=february)
        assert closed.value.code == "month_closed"


def test_a_month_the_employer_cannot_declare_is_neither_reminded_nor_closed(world, lot_2026):
    lot, offer = lot_2026
    placement = hire_on(world, offer, D(2026, 3, 2))
    fac, employer = world.a.facilitator, world.a.employer_actor
    with at(D(2026, 4, 15)):
        before = db_counts()
        # Before the lot's execution: the employer could not declare it, a reminder would ask the impossible.
        for call in (statements.statement_remind, statements.statement_close_month):
            with pytest.raises(DomainError) as outside:
                call(actor=fac, lot=lot, month=D(2025, 12, 1))
            assert outside.value.code == "outside_execution_window" and "01/01/2026" in outside.value.message
        # February: no contract of the lot ran, there is no statement to ask for.
        with pytest.raises(DomainError) as nothing:
            statements.statement_remind(actor=fac, lot=lot, month=D(2026, 2, 1))
        assert nothing.value.code == "no_contract_ran" and "février 2026" in nothing.value.message
        assert db_counts() == before
        # Closed, March takes adjustments only: « no hours » is refused, as an adjustment of 0 h (said as such).
        submit(world, lot, D(2026, 3, 1), [StatementRow(placement=placement.pk, hours="7")], D(2026, 4, 15))
        statements.hours_lines_decide(
            actor=fac,
            lot=lot,
            month=D(2026, 3, 1),
            lines=list(lines_of(lot).values_list("pk", flat=True)),
            decision="validate",
        )
        statements.statement_close_month(actor=fac, lot=lot, month=D(2026, 3, 1))
        before = db_counts()
        with pytest.raises(DomainError) as closed:
            statements.statement_submit(
                actor=employer, lot=lot, month=D(2026, 3, 1), rows=[], no_hours=True, today=D(2026, 4, 15)
            )
        assert closed.value.code == "month_closed" and closed.value.field == "no_hours"
        with pytest.raises(RowsRefused) as zero:
            submit(
                world,
                lot,
                D(2026, 3, 1),
                [StatementRow(placement=placement.pk, hours="0", is_adjustment=True)],
                D(2026, 4, 15),
            )
        assert "non nul" in zero.value.errors[0]["message"]
        assert db_counts() == before


# --- Reminders ----------------------------------------------------------------------------------------------------
def test_missing_statements_are_reminded_once_after_the_reminder_day(world, lot_2026):
    lot, offer = lot_2026
    hire_on(world, offer, D(2026, 3, 2))
    organisation = world.a.facilitator.organisation
    organisation.hours_statement_reminder_day = 10
    organisation.save(update_fields=["hours_statement_reminder_day"])
    ours = lambda pairs: [pair for pair in pairs if pair[0].pk == lot.pk]  # noqa: E731
    with at(D(2026, 4, 9)):
        assert ours(statements.missing_statements()) == []
    with at(D(2026, 4, 10)):
        assert [month for _, month in ours(statements.missing_statements())] == [D(2026, 3, 1)]
        statements.remind_missing_statements()
        statement = HoursStatement.objects.get(lot=lot, month=D(2026, 3, 1))
        assert statement.reminders == 1
        statements.remind_missing_statements()  # a second worker, or the next hour: not twice
        assert reload(statement).reminders == 1
        event = JournalEvent.objects.filter(object_type="hoursstatement", action="remind").latest("pk")
        assert event.object_id == statement.pk and event.actor_role == "system"
        # The facilitator may still remind by hand, once a day at most.
        with pytest.raises(DomainError) as refused:
            statements.statement_remind(actor=world.a.facilitator, lot=lot, month=D(2026, 3, 1))
        assert refused.value.code == "already_reminded" and "aujourd'hui" in refused.value.message
        assert reload(statement).reminders == 1
    with at(D(2026, 4, 11)):
        statements.statement_remind(actor=world.a.facilitator, lot=lot, month=D(2026, 3, 1))
        assert reload(statement).reminders == 2
        with pytest.raises(DomainError):
            statements.statement_remind(actor=world.a.employer_actor, lot=lot, month=D(2026, 3, 1))
        with pytest.raises(DomainError) as refused:  # twice the same day: refused, nothing written
            statements.statement_remind(actor=world.a.facilitator, lot=lot, month=D(2026, 3, 1))
        assert refused.value.code == "already_reminded"
        assert reload(statement).reminders == 2


def test_a_declared_statement_is_not_reminded(world, lot_2026):
    lot, offer = lot_2026
    placement = hire_on(world, offer, D(2026, 3, 2))
    with at(D(2026, 4, 3)):
        submit(world, lot, D(2026, 3, 1), [StatementRow(placement=placement.pk, hours="7")], D(2026, 4, 3))
    with at(D(2026, 4, 15)):
        assert [p for p in statements.missing_statements() if p[0].pk == lot.pk] == []
        with pytest.raises(DomainError) as refused:
            statements.statement_remind(actor=Actor.system(), lot=lot, month=D(2026, 3, 1))
        assert refused.value.code == "statement_submitted"


def test_a_month_the_worker_missed_is_reminded_later_once(world, lot_2026):
    """QA: with the worker down from the 10th to the end of April, March was never reminded (only the previous
    month was looked at)."""
    lot, offer = lot_2026
    hire_on(world, offer, D(2026, 3, 2))
    ours = lambda pairs: [month for found, month in pairs if found.pk == lot.pk]  # noqa: E731
    with at(D(2026, 5, 3)):  # before May's reminder day: April is not due yet, March still is
        assert ours(statements.missing_statements()) == [D(2026, 3, 1)]
        assert statements.remind_missing_statements() >= 1
        assert HoursStatement.objects.get(lot=lot, month=D(2026, 3, 1)).reminders == 1
        assert ours(statements.missing_statements()) == []
    with at(D(2026, 5, 10)):
        assert ours(statements.missing_statements()) == [D(2026, 4, 1)]  # March is not reminded twice
        statements.remind_missing_statements()
        statements.remind_missing_statements()
    reminded = HoursStatement.objects.filter(lot=lot).order_by("month").values_list("month", "reminders")
    assert list(reminded) == [(D(2026, 3, 1), 1), (D(2026, 4, 1), 1)]
    assert JournalEvent.objects.filter(object_type="hoursstatement", action="remind").count() == 2


def test_missed_reminders_look_back_three_months_within_the_lot_execution(world, lot_2026):
    lot, offer = lot_2026
    hire_on(world, offer, D(2026, 3, 2))
    ours = lambda pairs: [month for found, month in pairs if found.pk == lot.pk]  # noqa: E731
    with at(D(2026, 8, 20)):  # March and April are past the look-back: the facilitator reminds them by hand
        assert ours(statements.missing_statements()) == [D(2026, 5, 1), D(2026, 6, 1), D(2026, 7, 1)]
    with at(D(2027, 2, 15)):  # January 2027 is after the lot's execution (it ended on 31/12/2026)
        assert ours(statements.missing_statements()) == [D(2026, 11, 1), D(2026, 12, 1)]


# --- Offers close themselves ---------------------------------------------------------------------------------------
def test_an_offer_closes_itself_when_its_positions_are_filled(world):
    offer = make_offer(world.a, positions=2)
    make_placement(world, "planned", offer=offer)
    assert JobOffer.objects.get(pk=offer.pk).is_open
    waiting = make_referral(world, "accepted", offer=offer)
    second = make_placement(world, "planned", offer=offer)
    offer.refresh_from_db()
    assert not offer.is_open and offer.closed_at is not None
    event = JournalEvent.objects.filter(object_type="offer", object_id=offer.pk, action="close").get()
    assert event.inputs == {"automatic": True, "positions": 2, "filled": 2}
    # The referral still waiting stays as it is (the facilitator decides); no new referral on a closed offer.
    assert reload(waiting).state == "accepted"
    with pytest.raises(DomainError) as closed:
        referrals.referral_create(actor=world.a.adviser, pathway=make_pathway(world, "eligible"), offer=offer)
    assert closed.value.code == "offer_closed"
    assert reload(second).state == PlacementState.PLANNED


def test_a_cancelled_contract_leaves_its_position_open(world):
    offer = make_offer(world.a, positions=2)
    make_placement(world, "cancelled", offer=offer)
    make_placement(world, "planned", offer=offer)
    assert JobOffer.objects.get(pk=offer.pk).is_open  # one position filled: the cancelled contract does not count
    make_placement(world, "planned", offer=offer)
    assert not JobOffer.objects.get(pk=offer.pk).is_open
    event = JournalEvent.objects.filter(object_type="offer", object_id=offer.pk, action="close").get()
    assert event.inputs == {"automatic": True, "positions": 2, "filled": 2}

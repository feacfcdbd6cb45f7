"""The hours counted per lot kept as a summary (parcours.selectors.lot_hours): the summary always says what counting
now would say, after each kind of change made through the services; a recount racing a writer is not kept; reads
cost a fixed number of queries, cold or warm; the worker recounts what went stale."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from parcours import counting, worker
from parcours.models import ContractLot, HoursLine, LotHoursSummary
from parcours.selectors import lot_hours, reports
from roles.rows import send
from tests import test_reports
from tests.factories import make_lot
from tests.test_reports import D, at, declare_and_validate
from workflows.models import JournalEvent

clause = test_reports.clause  # the worked example: 450 h counted of the 600 h validated

pytestmark = pytest.mark.django_db


def counted_now(actor, lot):
    (figures,) = reports.clause_figures(actor=actor, lots=reports.report_lots(actor).filter(pk=lot.pk)).lots
    return figures.counted


def shown(actor, lot):
    (row,) = lot_hours.with_counted_hours(actor, [ContractLot.objects.get(pk=lot.pk)])
    return row.counted_hours


def summary(lot):
    return LotHoursSummary.objects.get(lot=lot)


def test_a_read_counts_once_then_reads_the_summary(world, clause):
    lot, _ = clause
    fac = world.a.facilitator
    assert not LotHoursSummary.objects.filter(lot=lot).exists()
    assert shown(fac, lot) == Decimal("450") == counted_now(fac, lot)
    row = summary(lot)
    assert row.fresh and row.counted == Decimal("450") and row.declared == Decimal("600")
    assert row.rules_label == str(lot.counting_rules)
    lot = ContractLot.objects.get(pk=lot.pk)
    with CaptureQueriesContext(connection) as queries:
        (row,) = lot_hours.with_counted_hours(fac, [lot])
    assert row.counted_hours == Decimal("450") and row.counted_pct == counting.percent(450, lot.target_hours)
    assert len(queries) == 2  # the lots the actor reaches, their summaries


def test_hours_validated_through_the_services_are_counted_on_the_next_read(world, clause):
    lot, (a, b, c) = clause
    fac = world.a.facilitator
    assert shown(fac, lot) == Decimal("450")
    declare_and_validate(world, lot, D(2026, 5, 1), [(a, "20")])
    assert not summary(lot).fresh  # the validation's journal events made it stale in the same transaction
    assert shown(fac, lot) == counted_now(fac, lot) == Decimal("470")
    assert summary(lot).fresh and summary(lot).counted == Decimal("470")


def test_each_kind_of_event_stales_the_lots_it_can_move(world, clause):
    """Placement, hours line, statement and lot events stale their lot; an eligibility decision or a participant
    event stales the lots of the participant's placements (not its creation: no placement yet); a referral or a task
    event stales nothing."""
    lot, (a, b, c) = clause
    other = make_lot(world.a, starts_on=D(2026, 1, 1), ends_on=D(2026, 12, 31))
    fac = world.a.facilitator
    events = {
        kind: JournalEvent.objects.filter(object_type=kind).order_by("-id").first()
        for kind in ("placement", "hoursline", "hoursstatement", "referral")
    }
    line = HoursLine.objects.filter(placement=a).first()

    def stales(event, **changes):
        for target in (lot, other):
            shown(fac, target)
        for name, value in changes.items():
            setattr(event, name, value)
        send(lot_hours.event_recorded(event))  # the write the journal sends with the event's row
        return {target.pk for target in (lot, other) if not summary(target).fresh}

    assert stales(events["placement"], object_id=a.pk) == {lot.pk}
    assert stales(events["hoursline"], object_id=line.pk) == {lot.pk}
    statement = JournalEvent.objects.filter(object_type="hoursstatement").first()
    assert stales(statement) == {lot.pk}
    assert stales(events["placement"], object_type="lot", object_id=other.pk) == {other.pk}
    participant = a.pathway.participant_id
    assert stales(
        events["placement"], object_type="pathway", action="validate_eligibility", participant_id=participant
    ) == {lot.pk}
    assert stales(events["placement"], object_type="pathway", action="exit", participant_id=participant) == set()
    assert stales(events["placement"], object_type="participant", action="merge", participant_id=participant) == {
        lot.pk
    }
    assert stales(events["placement"], object_type="participant", action="create", participant_id=participant) == set()
    assert stales(events["referral"]) == set()


def test_a_validated_hours_line_stales_its_lot_in_the_statement_of_its_journal_event(world, clause, settings):
    """The lot's mark goes with the event's row: in its INSERT statement on PostgreSQL (a data-modifying WITH), just
    before it elsewhere; either way the line's lot is stale once the line is validated, and another lot is not."""
    from parcours.services import hours
    from tests.factories import make
    from workflows.states import HoursLineState

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    line = make(world, "hoursline", "declared")
    lot = line.placement.lot
    other = make_lot(world.a, starts_on=D(2026, 1, 1), ends_on=D(2026, 12, 31))
    fac = world.a.facilitator
    for target in (lot, other):
        shown(fac, target)
    with CaptureQueriesContext(connection) as queries:
        hours.hoursline_validate(actor=fac, hours_line=line)
    assert HoursLine.objects.get(pk=line.pk).state == HoursLineState.VALIDATED
    assert not summary(lot).fresh and summary(other).fresh
    texts = [q["sql"] for q in queries]
    alone = [t for t in texts if t.startswith('UPDATE "parcours_lothourssummary"')]
    carried = [t for t in texts if t.startswith("WITH") and '"parcours_lothourssummary"' in t]
    if connection.vendor == "postgresql":
        assert not alone and len(carried) == 1 and 'INSERT INTO "workflows_journalevent"' in carried[0], texts
    else:
        assert len(alone) == 1 and not carried, texts


def test_a_recount_racing_a_writer_is_not_kept(world, clause):
    """The reader claims the row, a writer commits hours meanwhile (the row goes stale), the reader's count, taken
    before the writer's hours, is not kept; the next read counts them."""
    lot, (a, b, c) = clause
    fac = world.a.facilitator
    lot_hours._claim([lot.pk], "reader")
    early = lot_hours._count([lot.pk])
    declare_and_validate(world, lot, D(2026, 5, 1), [(a, "20")])
    lot_hours._keep(early, "reader")
    assert not summary(lot).fresh and summary(lot).counted is None
    assert shown(fac, lot) == Decimal("470")


def test_of_two_readers_the_last_claim_is_kept(world, clause):
    lot, _ = clause
    lot_hours._claim([lot.pk], "first")
    lot_hours._claim([lot.pk], "second")
    lot_hours._keep({lot.pk: lot_hours.Counted(Decimal("1"), Decimal("1"), "first", {})}, "first")
    assert summary(lot).counted is None  # the first reader's claim was taken over
    lot_hours._keep({lot.pk: lot_hours.Counted(Decimal("450"), Decimal("600"), "second", {})}, "second")
    assert summary(lot).counted == Decimal("450")


def test_a_cold_read_costs_the_same_for_one_or_many_stale_lots(world, clause):
    lot, _ = clause
    fac = world.a.facilitator

    def cold_read():
        LotHoursSummary.objects.all().delete()
        lots = list(reports.report_lots(fac))
        with CaptureQueriesContext(connection) as queries:
            lot_hours.with_counted_hours(fac, lots)
        return len(queries), len(lots)

    before, few = cold_read()
    with at(D(2026, 1, 5)):
        for _ in range(3):
            make_lot(world.a, starts_on=D(2026, 1, 1), ends_on=D(2026, 12, 31))
    after, many = cold_read()
    assert many == few + 3 and before == after


def test_lots_out_of_reach_get_nothing(world, clause):
    lot, _ = clause
    outsider = world.b.facilitator
    (row,) = lot_hours.with_counted_hours(outsider, [ContractLot.objects.get(pk=lot.pk)])
    assert row.counted_hours is None and row.counted_pct is None and row.counting_rules_label == ""
    assert not LotHoursSummary.objects.filter(lot=lot).exists()  # nothing counted for a viewer who may not see it


def test_the_worker_recounts_stale_and_never_counted_lots(world, clause):
    lot, (a, b, c) = clause
    fac = world.a.facilitator
    periodic = [job for job in worker.jobs() if job.name == "lot_hours"]
    report = worker.sweep(periodic, now=datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC))
    assert report["lot_hours"] >= 1 and summary(lot).fresh and summary(lot).counted == Decimal("450")
    declare_and_validate(world, lot, D(2026, 5, 1), [(a, "20")])
    assert lot_hours.refresh_stale() == 1  # only the lot that changed
    assert summary(lot).counted == Decimal("470")
    lot = ContractLot.objects.get(pk=lot.pk)
    with CaptureQueriesContext(connection) as queries:
        (row,) = lot_hours.with_counted_hours(fac, [lot])
    assert row.counted_hours == Decimal("470") and len(queries) == 2
    assert lot_hours.refresh_stale() == 0


@pytest.mark.parametrize("role", ["facilitator", "auditor"])
def test_the_dashboard_from_summaries_says_what_a_count_says(world, clause, role):
    """Totals, months, modes, publics (health ones for facilitators only), participants by public, at-risk order:
    the same from the summaries as from counting every placement, before and after a change; out of scope: none."""
    lot, (a, b, c) = clause
    actor = getattr(world.a, role)

    def same():
        counted, kept = reports.clause_figures(actor=actor), lot_hours.summary_figures(actor=actor)
        assert [f.lot.pk for f in kept.lots] == [f.lot.pk for f in counted.lots] and lot.pk in {
            f.lot.pk for f in kept.lots
        }
        assert kept.publics == counted.publics and kept.show_health == counted.show_health
        for mine, theirs in zip(kept.lots, counted.lots, strict=True):
            for name in ("counted", "declared", "rules", "target", "elapsed_share", "at_risk"):
                assert getattr(mine, name) == getattr(theirs, name), name
            for name in ("by_month", "by_mode", "by_public", "participants_by_public"):
                assert dict(getattr(mine, name)) == dict(getattr(theirs, name)), name
        return kept

    kept = same()
    assert ("disability" in dict(kept.publics)) is (role == "facilitator")
    assert kept.merged("by_public")["women"] == Decimal("150")
    declare_and_validate(world, lot, D(2026, 5, 1), [(a, "20")])
    assert same().total("counted") == Decimal("470")
    assert lot.pk not in {f.lot.pk for f in lot_hours.summary_figures(actor=getattr(world.b, role)).lots}


def test_the_recount_command_recounts_every_lot_after_an_import(world, clause):
    """Data loaded outside the services leaves the summaries behind: `recount_lot_hours --all` catches up."""
    lot, (a, b, c) = clause
    fac = world.a.facilitator
    assert shown(fac, lot) == Decimal("450")
    HoursLine.objects.filter(placement=a).update(hours=Decimal("140"))  # an import: no journal event
    assert shown(fac, lot) == Decimal("450")
    out = StringIO()
    call_command("recount_lot_hours", "--all", stdout=out)
    assert "recompté" in out.getvalue()
    assert shown(fac, lot) == counted_now(fac, lot) == Decimal("440")


def test_the_recount_command_refuses_a_batch_below_one(world):
    with pytest.raises(CommandError, match="--batch"):
        call_command("recount_lot_hours", "--batch", "0", stdout=StringIO())

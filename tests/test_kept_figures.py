"""The dashboard's pathway figures kept per team (parcours.selectors.kept_figures): counted once, served from one
row while young, recounted when old by the reader or the worker, never served to another team."""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from parcours import worker
from parcours.models import PathwayFiguresSnapshot
from parcours.selectors import kept_figures, reports
from roles.enums import Role
from roles.models import Membership
from tests.factories import make_pathway, member

MIN = datetime.timedelta(minutes=1)


def counted(actor):
    """The figures counted now from the journal, as the dashboard would show them."""
    return reports.PathwayFigures.from_counts(reports.count_pathway_figures(actor=actor), timezone.now())


def same(a, b):
    return (a.funnel, a.durations, a.exits) == (b.funnel, b.durations, b.exits)


def exited_count(figures):
    return dict(figures.funnel)["Sorti·e"]


def test_the_first_read_counts_and_keeps_then_readers_get_the_kept_row_in_one_query(world):
    fac = world.a.facilitator
    t0 = timezone.now()
    first = kept_figures.pathway_figures(actor=fac, now=t0)
    assert same(first, counted(fac)) and first.as_of == t0
    row = PathwayFiguresSnapshot.objects.get(organisation=fac.organisation, role=Role.FACILITATOR)
    assert row.computed_at == row.read_at == t0

    make_pathway(world, "exited")  # a new exit: the kept figures do not move until they age out
    assert exited_count(counted(fac)) == exited_count(first) + 1
    with CaptureQueriesContext(connection) as queries:
        kept = kept_figures.pathway_figures(actor=fac, now=t0 + 14 * MIN)
    assert len(queries) == 1
    assert same(kept, first) and kept.as_of == t0

    # Another member of the same team reads the same row: the scope is the team's.
    colleague = member(fac.organisation, Role.FACILITATOR)
    with CaptureQueriesContext(connection) as queries:
        assert same(kept_figures.pathway_figures(actor=colleague, now=t0 + 14 * MIN), first)
    assert len(queries) == 1

    # Once older than PATHWAY_FIGURES_MINUTES (15 by default), the reader counts again and keeps.
    later = kept_figures.pathway_figures(actor=fac, now=t0 + 16 * MIN)
    assert exited_count(later) == exited_count(first) + 1 and later.as_of == t0 + 16 * MIN
    assert PathwayFiguresSnapshot.objects.get(pk=row.pk).computed_at == t0 + 16 * MIN


def test_each_team_gets_its_own_figures(world):
    """A kept row never serves another organisation or another role: each reads its own scope."""
    make_pathway(world, "exited")
    make_pathway(world, "exited")  # one more exit on side a than on side b
    make_pathway(world, "exited", side="b")
    readers = [world.a.facilitator, world.b.facilitator, world.a.auditor, world.b.auditor]
    for actor in readers:
        kept_figures.pathway_figures(actor=actor)
    assert PathwayFiguresSnapshot.objects.count() == 4
    for actor in readers:
        assert same(kept_figures.pathway_figures(actor=actor), counted(actor))
    a, b = (kept_figures.pathway_figures(actor=s.facilitator) for s in (world.a, world.b))
    assert exited_count(a) == exited_count(b) + 1  # two territories, two sets of pathways


def test_a_refused_keeping_still_shows_the_counts(world, caplog):
    from unittest import mock

    from django.db import DatabaseError

    fac = world.a.facilitator
    with mock.patch.object(PathwayFiguresSnapshot.objects, "bulk_create", side_effect=DatabaseError("lock timeout")):
        shown = kept_figures.pathway_figures(actor=fac)
    assert same(shown, counted(fac)) and not PathwayFiguresSnapshot.objects.exists()
    assert "could not keep" in caplog.text
    assert same(kept_figures.pathway_figures(actor=fac), shown) and PathwayFiguresSnapshot.objects.count() == 1


def test_the_lifetime_is_a_setting(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PATHWAY_FIGURES_MINUTES": 60}
    fac = world.a.facilitator
    t0 = timezone.now()
    first = kept_figures.pathway_figures(actor=fac, now=t0)
    make_pathway(world, "exited")
    assert same(kept_figures.pathway_figures(actor=fac, now=t0 + 59 * MIN), first)
    assert exited_count(kept_figures.pathway_figures(actor=fac, now=t0 + 61 * MIN)) == exited_count(first) + 1


def test_the_worker_recounts_the_figures_in_use_and_drops_the_unread(world):
    fac = world.a.facilitator
    t0 = timezone.now()
    first = kept_figures.pathway_figures(actor=fac, now=t0)
    make_pathway(world, "exited")
    assert kept_figures.refresh_old(now=t0 + 9 * MIN) == 0  # younger than two thirds of its lifetime
    assert kept_figures.refresh_old(now=t0 + 11 * MIN) == 1
    row = PathwayFiguresSnapshot.objects.get()
    assert row.computed_at == t0 + 11 * MIN and row.read_at == t0  # the worker's recount is no reading
    with CaptureQueriesContext(connection) as queries:
        fresh = kept_figures.pathway_figures(actor=fac, now=t0 + 20 * MIN)
    assert len(queries) == 1 and fresh.as_of == t0 + 11 * MIN
    assert exited_count(fresh) == exited_count(first) + 1

    # A reading more than an hour after the last marked one is marked (one UPDATE), then not again for an hour.
    assert kept_figures.refresh_old(now=t0 + 70 * MIN) == 1
    with CaptureQueriesContext(connection) as queries:
        kept_figures.pathway_figures(actor=fac, now=t0 + 71 * MIN)
        kept_figures.pathway_figures(actor=fac, now=t0 + 72 * MIN)
    assert len(queries) == 3
    assert PathwayFiguresSnapshot.objects.get().read_at == t0 + 71 * MIN

    # Nobody read it for a week: dropped, not recounted.
    assert kept_figures.refresh_old(now=t0 + 71 * MIN + datetime.timedelta(days=7, seconds=1)) == 0
    assert not PathwayFiguresSnapshot.objects.exists()


def test_the_worker_recounts_within_a_time_budget_oldest_first(world):
    """At least one team per turn; past the budget, the others wait for the next turn (the worker's timers do not
    wait behind the recounts of large teams)."""
    t0 = timezone.now()
    readers = [world.a.facilitator, world.b.facilitator, world.a.auditor]
    for minutes, actor in enumerate(readers):
        kept_figures.pathway_figures(actor=actor, now=t0 + minutes * MIN)
    assert kept_figures.refresh_old(budget_seconds=0, now=t0 + 20 * MIN) == 1
    recounted = PathwayFiguresSnapshot.objects.filter(computed_at=t0 + 20 * MIN)
    assert [row.organisation_id for row in recounted] == [world.a.facilitator.organisation_id]  # the oldest
    assert kept_figures.refresh_old(now=t0 + 20 * MIN) == 2


def test_the_worker_drops_the_figures_of_a_team_without_active_members(world):
    fac = world.a.facilitator
    t0 = timezone.now()
    kept_figures.pathway_figures(actor=fac, now=t0)
    Membership.objects.filter(organisation=fac.organisation, role=Role.FACILITATOR).update(is_active=False)
    assert kept_figures.refresh_old(now=t0 + 11 * MIN) == 0
    assert not PathwayFiguresSnapshot.objects.exists()


def test_the_worker_runs_the_recount_job():
    job = {j.name: j for j in worker.jobs()}["pathway_figures"]
    assert job.run is kept_figures.refresh_old and job.every == MIN


@pytest.mark.parametrize("side", ["a", "b"])
def test_the_dashboard_shows_its_teams_figures_and_when_they_were_counted(world, side):
    fac = world.side(side).facilitator
    client = Client()
    client.force_login(fac.user)
    response = client.get(reverse("reports:dashboard"))
    assert response.status_code == 200
    shown = response.context["pathways"]
    assert same(shown, counted(fac))
    local = timezone.localtime(shown.as_of)
    body = response.content.decode()
    assert f"Chiffres des parcours calculés le {local:%d/%m/%Y} à {local:%H:%M}" in body
    assert "recalculés toutes les 15 minutes" in body
    # A second view reads the kept row: the page's statements do not include the journal's aggregate.
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("reports:dashboard")).status_code == 200
    assert not any("percentile" in q["sql"] or "julianday" in q["sql"] for q in queries.captured_queries)

"""The pathways' tally (parcours.selectors.tally): on PostgreSQL a home's pathways by state are summed from the rows
the triggers add, and always equal counting the pathways the actor reads — after the services' transitions, a state
written directly, a pathway added and deleted, grants given and taken back, a fold and a rebuild. Elsewhere the
pathways are counted."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from parcours import worker
from parcours.models import ParticipantGroupObjectPermission, Pathway, PathwayTally
from parcours.selectors import count_by_state, pathways_for, tally
from tests.factories import make_pathway

pytestmark = pytest.mark.django_db

STATES = ("intake", "eligibility_pending", "eligible", "referred", "placed", "exited")


def _actors(world):
    return [world.actor(role, side) for side in ("a", "b") for role in ("adviser", "facilitator", "auditor")]


def _assert_tally_equals_the_count(world):
    for actor in _actors(world):
        expected = count_by_state(pathways_for(actor))
        assert tally.pathway_counts_for(actor) == expected, actor


def _build(world):
    made = [make_pathway(world, state) for state in STATES]
    made += [make_pathway(world, state, side="b") for state in STATES[:4]]
    return made


@pytest.mark.postgres
def test_the_tally_follows_transitions_new_pathways_grants_and_deletions(world):
    made = _build(world)
    _assert_tally_equals_the_count(world)
    adviser = world.a.adviser
    assert sum(tally.pathway_counts_for(adviser).values()) >= len(STATES)
    with CaptureQueriesContext(connection) as queries:
        tally.pathway_counts_for(adviser)
    assert len(queries) == 1 and "parcours_pathwaytally" in queries[0]["sql"]
    assert 'parcours_pathway"' not in queries[0]["sql"].replace("parcours_pathwaytally", "")

    # A state written outside the services, a second pathway for a participant, then deleted.
    Pathway.objects.filter(pk=made[1].pk).update(state="eligible")
    again = made[5]  # exited: its participant may start another pathway
    sibling = Pathway.objects.create(
        participant=again.participant, referent_adviser=again.referent_adviser, started_on=again.started_on
    )
    _assert_tally_equals_the_count(world)
    sibling.delete()  # (a pathway with a work process is protected; this one has none yet)
    _assert_tally_equals_the_count(world)

    # A grant taken back and given again; all the grants on a participant taken back at once.
    change = Permission.objects.get(codename="change_participant")
    grant = ParticipantGroupObjectPermission.objects.filter(
        content_object=made[3].participant, permission=change
    ).first()
    assert grant is not None
    grant.delete()
    _assert_tally_equals_the_count(world)
    ParticipantGroupObjectPermission.objects.create(
        content_object=made[3].participant, permission=change, group_id=grant.group_id
    )
    _assert_tally_equals_the_count(world)
    ParticipantGroupObjectPermission.objects.filter(content_object=made[4].participant).delete()  # every team's
    _assert_tally_equals_the_count(world)


@pytest.mark.postgres
def test_a_fold_leaves_one_row_per_team_and_state_and_the_same_figures(world):
    _build(world)
    before = {id(actor): tally.pathway_counts_for(actor) for actor in _actors(world)}
    rows = PathwayTally.objects.count()
    job = {j.name: j for j in worker.jobs()}["pathway_tally"]
    left = job.run()
    keys = PathwayTally.objects.values_list("group_id", "permission_id", "state")
    assert left == PathwayTally.objects.count() == len(set(keys)) < rows
    assert not PathwayTally.objects.filter(n=0).exists()
    assert {id(actor): tally.pathway_counts_for(actor) for actor in _actors(world)} == before
    _assert_tally_equals_the_count(world)
    assert tally.fold() == left  # folding a folded tally changes nothing


@pytest.mark.postgres
def test_a_rebuild_gives_the_tally_the_triggers_keep(world):
    _build(world)
    tally.fold()
    kept = set(PathwayTally.objects.values_list("group_id", "permission_id", "state", "n"))
    PathwayTally.objects.all().delete()
    emptied = any(tally.pathway_counts_for(actor) != count_by_state(pathways_for(actor)) for actor in _actors(world))
    assert emptied  # the figures come from the tally, not from a count
    tally.rebuild()
    assert set(PathwayTally.objects.values_list("group_id", "permission_id", "state", "n")) == kept
    _assert_tally_equals_the_count(world)


def test_without_the_triggers_the_pathways_are_counted(world, monkeypatch):
    """SQLite (the demo, the quick tests) has no triggers: the same figures, counted from the pathways."""
    _build(world)
    monkeypatch.setattr(tally, "kept", lambda: False)
    adviser = world.a.adviser
    with CaptureQueriesContext(connection) as queries:
        counts = tally.pathway_counts_for(adviser)
    assert counts == count_by_state(pathways_for(adviser)) and sum(counts.values()) >= len(STATES)
    assert len(queries) == 1 and "parcours_pathwaytally" not in queries[0]["sql"]
    assert tally.fold() == 0
    # An employer reaches no pathway through a participant grant: counted (nothing), whatever the database.
    monkeypatch.undo()
    employer = world.a.employer_actor
    assert tally.pathway_counts_for(employer) == count_by_state(pathways_for(employer)) == {}


@pytest.mark.postgres
def test_the_command_finds_a_tally_gone_wrong_and_rebuilds_it(world):
    from io import StringIO

    from django.core.management import CommandError, call_command

    _build(world)
    out = StringIO()
    call_command("recount_pathway_tally", stdout=out)
    assert "conforme" in out.getvalue() and tally.differences() == []
    row = PathwayTally.objects.order_by("pk").first()
    PathwayTally.objects.create(group_id=row.group_id, permission_id=row.permission_id, state=row.state, n=2)
    with pytest.raises(CommandError, match="1 écart"):
        call_command("recount_pathway_tally", stdout=(out := StringIO()))
    assert f"groupe {row.group_id}, permission {row.permission_id}, {row.state}" in out.getvalue()
    call_command("recount_pathway_tally", "--rebuild", stdout=StringIO())
    assert tally.differences() == []
    _assert_tally_equals_the_count(world)

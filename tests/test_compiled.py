"""Reads compiled once (workflows.compiled): the same rows as the queryset, one statement, no compiling at the second
call, and a refusal of querysets whose SQL would freeze a value that is not an argument."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from parcours.work.flows import open_tasks_of_pathway
from parcours.work.models import OPEN_TASK_STATUSES, WorkTask
from roles.policy import forget_permission_ids
from roles.statements import Compiled
from tests.factories import make_pathway, make_referral
from workflows.models import JournalEvent

pytestmark = pytest.mark.django_db


def _open_tasks_queryset(pathway_id):
    return (
        WorkTask.objects.filter(pathway_id=pathway_id, status__in=OPEN_TASK_STATUSES)
        .select_related("task", "pathway", "referral", "follow_up__placement")
        .order_by("task_id")
    )


def _seen(work_task):
    return (
        work_task.pk,
        work_task.kind,
        work_task.task.flow_task.name,
        work_task.task.status,
        work_task.pathway.state,
        work_task.referral.state if work_task.referral_id else None,
    )


def test_the_open_tasks_of_a_pathway_are_the_querysets_rows_with_their_related_rows(world):
    pathways = [make_pathway(world, "eligibility_pending"), make_referral(world, "under_review").pathway]
    for pathway in pathways:
        expected = [_seen(w) for w in _open_tasks_queryset(pathway.pk)]
        assert expected, "each pathway has an open task"
        with CaptureQueriesContext(connection) as queries:
            found = open_tasks_of_pathway(pathway.pk)
            seen = [_seen(w) for w in found]  # the related rows come with the row: no further statement
        assert seen == expected
        assert len(queries) == 1
    assert open_tasks_of_pathway(10**9) == []


def test_a_compiled_read_builds_its_queryset_once_per_database_and_kind_of_arguments(world):
    built = []

    def build(object_type, object_id):
        built.append((object_type, object_id))
        return (
            JournalEvent.objects.filter(object_type=object_type, object_id=object_id)
            .order_by("-sequence")
            .values_list("sequence", "action")
        )

    chain = Compiled(build, arguments=2)
    referral = make_referral(world, "approved")
    expected = list(build("referral", referral.pk))
    built.clear()
    assert chain("referral", referral.pk) == expected
    assert chain("pathway", referral.pathway_id) == list(
        JournalEvent.objects.filter(object_type="pathway", object_id=referral.pathway_id)
        .order_by("-sequence")
        .values_list("sequence", "action")
    )
    assert chain("referral", 10**9) == []
    assert len(built) == 2  # compiled once: built with two sets of markers, then never again
    with pytest.raises(TypeError):
        chain("referral")


def test_a_value_computed_while_building_is_refused_not_frozen(db):
    moving = Compiled(lambda pathway_id: WorkTask.objects.filter(pathway_id=pathway_id, due_at__lt=timezone.now()))
    with pytest.raises(ValueError, match="depends on more than its arguments"):
        moving(1)


def test_an_argument_written_into_the_sql_text_is_refused(db):
    folded = Compiled(lambda pathway_id: WorkTask.objects.extra(where=[f"pathway_id = {int(pathway_id)}"]))
    with pytest.raises(ValueError, match="depends on more than its arguments"):
        folded(1)


def test_an_argument_the_shape_does_not_use_changes_nothing(world):
    pathway = make_pathway(world, "eligibility_pending")
    unused = Compiled(lambda pathway_id, organisation: _open_tasks_queryset(pathway_id), arguments=2)
    assert [_seen(w) for w in unused(pathway.pk, 1)] == [_seen(w) for w in _open_tasks_queryset(pathway.pk)]


def test_reads_are_compiled_again_once_permissions_are_created_again(world):
    built = []

    def build(pathway_id):
        built.append(pathway_id)
        return _open_tasks_queryset(pathway_id)

    read = Compiled(build)
    pathway = make_pathway(world, "eligibility_pending")
    read(pathway.pk)
    read(pathway.pk)
    assert len(built) == 2  # two sets of sentinels, once
    forget_permission_ids()  # post_migrate: the permission ids held in compiled scope checks may have changed
    assert [_seen(w) for w in read(pathway.pk)] == [_seen(w) for w in _open_tasks_queryset(pathway.pk)]
    assert len(built) == 4

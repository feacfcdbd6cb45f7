"""Row writes without the ORM's per-call statement building (roles.rows): the same rows as `save()` and
`bulk_create()`, one statement, prepared on PostgreSQL from its second run, and the ORM itself wherever it would do
more than the statement (its own `save()`, save signals, inherited tables, deferred fields)."""

import datetime

import pytest
from django.db import DatabaseError, connection, models, transaction
from django.db.models import signals
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from parcours.models import Participant, ParticipantGroupObjectPermission, Referral
from parcours.work.models import WorkProcess
from roles.policy import permission_id
from roles.rows import Lead, insert_row, insert_rows, save_row
from roles.statements import Compiled
from tests.factories import make_referral
from workflows.models import JournalEvent, JournalReason

pytestmark = pytest.mark.django_db


def _columns(obj):
    """Every column of `obj`'s row as the database holds it."""
    model = type(obj)
    return model._base_manager.filter(pk=obj.pk).values(*(f.attname for f in model._meta.concrete_fields)).get()


def _event(**changes):
    fields = {
        "actor_role": "system",
        "object_type": "test",
        "object_id": 1,
        "action": "created",
        "inputs": {"kind": "test", "hours": "7.50", "list": [1, 2]},
        "sequence": 1,
        "previous_hash": "",
        "key_id": "k",
        "hash": "h1",
    }
    return JournalEvent(**{**fields, **changes})


def test_save_row_writes_the_row_save_would_write_in_one_statement(world):
    referral = make_referral(world, "sent")
    twin = Referral.objects.get(pk=referral.pk)
    referral.motivation = "Première"
    referral.created_at = timezone.now().replace(microsecond=0) - datetime.timedelta(days=3)
    before = _columns(referral)["updated_at"]
    with CaptureQueriesContext(connection) as queries:
        save_row(referral)
    assert len(queries) == 1 and queries[0]["sql"].startswith(("UPDATE", "EXECUTE"))
    saved = _columns(referral)
    assert saved["motivation"] == "Première" and saved["created_at"] == referral.created_at
    assert saved["updated_at"] > before and saved["updated_at"] == referral.updated_at  # auto_now, as save()
    twin.motivation, twin.created_at = referral.motivation, referral.created_at
    twin.save()
    again = _columns(twin)
    assert {k: v for k, v in again.items() if k != "updated_at"} == {
        k: v for k, v in saved.items() if k != "updated_at"
    }


def test_save_row_of_a_row_gone_raises_and_writes_nothing(world):
    referral = make_referral(world, "sent")
    ghost = Referral.objects.get(pk=referral.pk)
    ghost.pk = ghost.id = referral.pk + 10_000
    with pytest.raises(DatabaseError, match="gone"):
        with transaction.atomic():
            save_row(ghost)
    assert not Referral.objects.filter(pk=ghost.pk).exists()


def test_save_row_leaves_to_the_orm_a_model_with_its_own_save_or_listened_to(world):
    from unittest import mock

    referral = make_referral(world, "sent")
    with mock.patch.object(Referral, "save", autospec=True, side_effect=models.Model.save) as own_save:
        save_row(referral)  # a model with its own save(): that save() runs
    own_save.assert_called_once()

    participant = Participant.objects.get(pk=referral.pathway.participant_id)
    participant.last_name = "Nouveau"
    save_row(participant)  # Participant.save folds the search text: the ORM's save ran
    assert Participant.objects.get(pk=participant.pk).search_text.startswith("nouveau ")

    heard = []

    def listener(sender, instance, **kwargs):
        heard.append(instance.pk)

    signals.post_save.connect(listener, sender=Referral)
    try:
        save_row(referral)
    finally:
        signals.post_save.disconnect(listener, sender=Referral)
    assert heard == [referral.pk]


def test_save_row_of_a_row_read_in_part_saves_only_what_was_read(world):
    referral = make_referral(world, "sent")
    partial = Referral.objects.only("id", "state", "created_at").get(pk=referral.pk)
    Referral.objects.filter(pk=referral.pk).update(motivation="En base")  # written since the partial read
    partial.created_at = datetime.datetime(2026, 1, 5, 8, 0, tzinfo=datetime.UTC)
    with CaptureQueriesContext(connection) as queries:
        save_row(partial)  # save() of deferred fields writes the loaded ones only: the ORM's save
    assert len(queries) == 1  # no deferred field read (and written back)
    saved = _columns(referral)
    assert saved["motivation"] == "En base" and saved["created_at"] == partial.created_at


def test_save_row_refuses_an_unsaved_related_row_as_save_does(world):
    from django.contrib.auth import get_user_model

    referral = make_referral(world, "sent")
    referral.sent_by = get_user_model()(username="pas-enregistre")
    with pytest.raises(ValueError, match="unsaved related object"):
        save_row(referral)


def test_a_failed_row_write_marks_the_transaction_for_rollback():
    insert_row(_event(hash="taken"))
    with transaction.atomic():
        with pytest.raises(Exception, match="(?i)unique"):
            insert_row(_event(object_id=99, hash="taken"))
        # As after a failed save(): the block can only roll back, nothing half-written commits.
        assert transaction.get_connection().needs_rollback


def test_an_expression_as_a_value_goes_to_the_orm(world):
    from django.db.models import F, Value
    from django.db.models.functions import Concat

    referral = make_referral(world, "sent")
    Referral.objects.filter(pk=referral.pk).update(motivation="Motivé")
    referral.motivation = Concat(F("motivation"), Value(" !"))
    save_row(referral)
    assert _columns(referral)["motivation"] == "Motivé !"


def test_insert_rows_writes_what_bulk_create_writes_with_their_ids_in_order():
    mine = [_event(object_id=n, hash=f"mine-{n}") for n in (1, 2, 3)]
    theirs = [_event(object_type="other", object_id=n, hash=f"theirs-{n}") for n in (1, 2, 3)]
    for event in mine + theirs:
        event.occurred_at = datetime.datetime(2026, 12, 1, 9, 30, tzinfo=datetime.UTC)
    with CaptureQueriesContext(connection) as queries:
        insert_rows(mine)
    assert len(queries) == 1
    JournalEvent.objects.bulk_create(theirs)
    assert [e.hash for e in JournalEvent.objects.filter(pk__in=[e.pk for e in mine]).order_by("pk")] == [
        "mine-1",
        "mine-2",
        "mine-3",
    ]
    for ours, orm in zip(mine, theirs, strict=True):
        assert not ours._state.adding and ours._state.db == "default"
        a, b = _columns(ours), _columns(orm)
        assert {k: v for k, v in a.items() if k not in ("id", "hash", "object_type")} == {
            k: v for k, v in b.items() if k not in ("id", "hash", "object_type")
        }
        assert a["inputs"] == {"kind": "test", "hours": "7.50", "list": [1, 2]}


def test_insert_row_sets_the_id_and_a_related_row_follows():
    event = insert_row(_event(hash="with-reason"))
    reason = insert_row(JournalReason(event=event, text="Parce que"))
    assert event.pk and JournalReason.objects.get(event_id=event.pk).text == "Parce que" and reason.pk == event.pk


def test_insert_rows_ignoring_conflicts_inserts_the_new_rows_only(world):
    referral = make_referral(world, "sent")
    participant_id = referral.pathway.participant_id
    view = permission_id("parcours", "participant", "view_participant")
    change = permission_id("parcours", "participant", "change_participant")
    group = world.b.facilitator.organisation.group_id

    def rows():
        return [
            ParticipantGroupObjectPermission(permission_id=view, group_id=group, content_object_id=participant_id),
            ParticipantGroupObjectPermission(permission_id=change, group_id=group, content_object_id=participant_id),
        ]

    insert_rows(rows()[:1], ignore_conflicts=True)
    insert_rows(rows(), ignore_conflicts=True)  # the first one given already: no error, the second one added
    given = ParticipantGroupObjectPermission.objects.filter(group_id=group, content_object_id=participant_id)
    assert sorted(given.values_list("permission_id", flat=True)) == sorted([view, change])


def test_insert_rows_of_a_duplicate_fails_as_bulk_create_does_and_writes_nothing():
    insert_row(_event(hash="unique-one"))
    with pytest.raises(Exception) as failed:
        with transaction.atomic():
            insert_rows([_event(object_id=7, hash="fresh"), _event(object_id=8, hash="unique-one")])
    assert "unique" in str(failed.value).lower()
    assert not JournalEvent.objects.filter(hash="fresh").exists()


def test_insert_rows_leaves_an_inherited_model_to_the_orm(world):
    process = WorkProcess(pathway_id=make_referral(world, "sent").pathway_id)
    with pytest.raises(ValueError, match="multi-table inherited"):  # bulk_create's own refusal: the ORM's path
        insert_rows([process])


@pytest.mark.postgres
def test_the_row_writes_are_prepared_from_their_second_run_on_postgresql(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": True}
    referral = make_referral(world, "sent")
    with CaptureQueriesContext(connection) as queries:
        for n in range(3):
            insert_row(_event(object_id=n, hash=f"prepared-{n}"))
            save_row(referral)
    executed = [q["sql"] for q in queries]
    assert executed[0].startswith(("INSERT", "EXECUTE")) and executed[1].startswith(("UPDATE", "EXECUTE"))
    assert len(executed) == 6 and all(sql.startswith("EXECUTE parcours_") for sql in executed[2:])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, statement FROM pg_prepared_statements WHERE name = ANY(%s)",
            [[sql.split()[1].split("(")[0] for sql in executed[2:4]]],
        )
        texts = sorted(text.split(" AS ", 1)[1] for _, text in cursor.fetchall())  # "PREPARE name AS …"
    assert texts[0].startswith('INSERT INTO "workflows_journalevent"') and '"hash") VALUES ($1, ' in texts[0]
    assert texts[1].startswith('UPDATE "parcours_referral" SET "state" = $1, ')
    assert JournalEvent.objects.filter(hash__startswith="prepared-").count() == 3


def test_a_transition_writes_its_rows_without_the_orm_building_them(world):
    """engine.fire, record_event and the work layer go through roles.rows: no Model.save_base() nor bulk_create()
    runs in a referral's transition."""
    from unittest import mock

    from django.db.models import Model, QuerySet

    from tests.factories import call_service

    referral = make_referral(world, "sent")
    refused = AssertionError("the ORM built a write")
    with (
        mock.patch.object(Model, "save_base", side_effect=refused),
        mock.patch.object(QuerySet, "bulk_create", side_effect=refused),
    ):
        call_service("referral.start_review", world.a.facilitator, referral)
        call_service("referral.approve", world.a.facilitator, referral)
    assert Referral.objects.get(pk=referral.pk).state == "approved"
    assert JournalEvent.objects.filter(object_type="referral", object_id=referral.pk, action="approve").exists()


@pytest.mark.postgres
def test_prepared_inserts_of_several_rows_set_each_row_its_id_and_ignored_conflicts_none(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": True}
    for run in range(3):  # prepared from the second run
        rows = [_event(object_type=f"run-{run}", object_id=n, hash=f"several-{run}-{n}") for n in (1, 2, 3)]
        with CaptureQueriesContext(connection) as queries:
            insert_rows(rows)
        assert run == 0 or queries[-1]["sql"].startswith("EXECUTE parcours_")  # (run 0: maybe run before)
        assert [JournalEvent.objects.get(pk=row.pk).hash for row in rows] == [row.hash for row in rows]
    referral = make_referral(world, "sent")
    view = permission_id("parcours", "participant", "view_participant")
    group = world.b.facilitator.organisation.group_id
    for run in range(3):
        grant = ParticipantGroupObjectPermission(
            permission_id=view, group_id=group, content_object_id=referral.pathway.participant_id
        )
        with CaptureQueriesContext(connection) as queries:
            insert_rows([grant], ignore_conflicts=True)
        assert run == 0 or queries[-1]["sql"].startswith("EXECUTE parcours_")
        assert grant.pk is None and grant._state.adding  # as bulk_create: no id nor state for a row maybe not inserted
    assert ParticipantGroupObjectPermission.objects.filter(group_id=group, permission_id=view).count() == 1


def test_more_rows_than_kept_shapes_go_through_bulk_create(monkeypatch):
    from unittest import mock

    rows = [_event(object_type="many", object_id=n, hash=f"many-{n}") for n in range(12)]
    from django.db.models import QuerySet

    with mock.patch.object(QuerySet, "bulk_create", autospec=True) as bulk:
        bulk.side_effect = lambda queryset, objs, **kwargs: objs
        insert_rows(rows)
    bulk.assert_called_once()


def test_an_update_sent_with_the_next_insert_writes_both_in_one_statement_on_postgresql(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statement's text
    referral = make_referral(world, "sent")
    referral.motivation = "Avec l'événement"
    with CaptureQueriesContext(connection) as queries:
        pending = save_row(referral, send_with_next=True)
    assert len(queries) == 0 and pending is not None  # built, not sent
    event = _event(object_id=referral.pk, hash="along-1")
    with CaptureQueriesContext(connection) as queries:
        insert_row(event, along=pending)
    assert _columns(referral)["motivation"] == "Avec l'événement"
    assert JournalEvent.objects.get(pk=event.pk).hash == "along-1"
    if connection.vendor == "postgresql":
        assert len(queries) == 1 and queries[0]["sql"].startswith('WITH "along_0" AS (UPDATE "parcours_referral" ')
    else:  # the update first, then the insert
        assert [q["sql"].split()[0] for q in queries] == ["UPDATE", "INSERT"]


def test_an_update_sent_with_an_insert_of_a_row_gone_raises_and_writes_neither(world):
    referral = make_referral(world, "sent")
    ghost = Referral.objects.get(pk=referral.pk)
    ghost.pk = ghost.id = referral.pk + 10_000
    with transaction.atomic():
        with pytest.raises(DatabaseError, match="gone"):
            insert_row(_event(hash="along-gone"), along=save_row(ghost, send_with_next=True))
        # On PostgreSQL the event's row was written in the same statement: the block can only roll back, even for a
        # caller that caught the error.
        assert transaction.get_connection().needs_rollback
    assert not JournalEvent.objects.filter(hash="along-gone").exists()


def test_an_update_sent_with_an_insert_the_orm_makes_goes_first(world):
    referral = make_referral(world, "sent")
    referral.motivation = "Avant"
    pending = save_row(referral, send_with_next=True)
    events = [_event(object_type="many", object_id=n, hash=f"along-many-{n}") for n in range(12)]  # > MAX_ROWS
    with CaptureQueriesContext(connection) as queries:
        insert_rows(events, along=pending)
    assert queries[0]["sql"].startswith(("UPDATE", "EXECUTE")) and "INSERT" in queries[-1]["sql"]
    assert _columns(referral)["motivation"] == "Avant"
    assert JournalEvent.objects.filter(hash__startswith="along-many-").count() == 12


def test_an_update_sent_with_an_insert_ignoring_conflicts_goes_first(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text
    referral = make_referral(world, "sent")
    referral.motivation = "Avant le droit"
    view = permission_id("parcours", "participant", "view_participant")
    grant = ParticipantGroupObjectPermission(
        permission_id=view,
        group_id=world.b.facilitator.organisation.group_id,
        content_object_id=referral.pathway.participant_id,
    )
    with CaptureQueriesContext(connection) as queries:
        insert_rows([grant], ignore_conflicts=True, along=save_row(referral, send_with_next=True))
    assert len(queries) == 2 and "WITH" not in queries[1]["sql"]
    assert _columns(referral)["motivation"] == "Avant le droit"


def test_a_transition_sends_its_row_with_its_journal_event(world, settings):
    from tests.factories import call_service

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    referral = make_referral(world, "sent")
    with CaptureQueriesContext(connection) as queries:
        call_service("referral.start_review", world.a.facilitator, referral)
    writes = [q["sql"] for q in queries if q["sql"].startswith(("UPDATE", "INSERT", "WITH"))]
    if connection.vendor == "postgresql":
        assert (
            writes[0].startswith('WITH "along_0" AS (UPDATE "parcours_referral"')
            and 'INSERT INTO "workflows_journalevent"' in writes[0]
        )
    assert Referral.objects.get(pk=referral.pk).state == "under_review"
    assert JournalEvent.objects.filter(object_type="referral", object_id=referral.pk, action="start_review").exists()


def _grant_row(world, referral, organisation="b"):
    return ParticipantGroupObjectPermission(
        permission_id=permission_id("parcours", "participant", "view_participant"),
        group_id=getattr(world, organisation).facilitator.organisation.group_id,
        content_object_id=referral.pathway.participant_id,
    )


def test_new_rows_whose_ids_nobody_reads_go_with_the_next_insert(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    referral = make_referral(world, "sent")
    referral.motivation = "Trois en un"
    grant = _grant_row(world, referral)
    with CaptureQueriesContext(connection) as queries:
        saved = save_row(referral, send_with_next=True)
        waiting = insert_rows([grant], ignore_conflicts=True, send_with_next=True, along=saved)
        event = insert_row(_event(object_id=referral.pk, hash="along-three"), along=waiting)
    assert _columns(referral)["motivation"] == "Trois en un"
    assert ParticipantGroupObjectPermission.objects.filter(
        group_id=grant.group_id, content_object_id=grant.content_object_id
    ).exists()
    assert JournalEvent.objects.get(pk=event.pk).hash == "along-three"
    if connection.vendor == "postgresql":  # one statement: the update and the grant as WITHs of the event's INSERT
        assert isinstance(waiting, tuple) and len(waiting) == 2 and grant.pk is None
        assert len(queries) == 1, [q["sql"] for q in queries]
        sql = queries[0]["sql"]
        assert sql.startswith('WITH "along_0" AS (UPDATE "parcours_referral"') and sql.count("WITH") == 1
        assert '"along_1" AS (INSERT INTO "parcours_participantgroupobjectpermission"' in sql
    else:  # on SQLite they wait too, then go one by one, in order, just before the carrier's statement
        assert isinstance(waiting, tuple) and len(waiting) == 2 and grant.pk is None
        assert [q["sql"].split()[0] for q in queries] == ["UPDATE", "INSERT", "INSERT"]


def test_an_update_carried_by_an_insert_that_returns_nothing_is_sent_first_and_checked(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    referral = make_referral(world, "sent")
    ghost = Referral.objects.get(pk=referral.pk)
    ghost.pk = ghost.id = referral.pk + 10_000
    grant = _grant_row(world, referral)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        with pytest.raises(DatabaseError, match="gone"):
            insert_rows([grant], ignore_conflicts=True, along=save_row(ghost, send_with_next=True))
        assert transaction.get_connection().needs_rollback
    # The update alone first (its count cannot come back beside an insert that returns nothing), refused there.
    assert [q["sql"].split()[0] for q in queries] == ["UPDATE"]


def test_a_forward_opens_its_tasks_with_their_links_and_queue_row_in_one_statement(world, settings):
    from parcours.work.models import WorkTask
    from tests.factories import call_service

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    referral = make_referral(world, "approved")
    with CaptureQueriesContext(connection) as queries:
        call_service("referral.forward", world.a.facilitator, referral)
    queued = [q["sql"] for q in queries if 'INSERT INTO "workflows_worktask"' in q["sql"]]
    assert len(queued) == 1
    if connection.vendor == "postgresql":  # the review's close, the new tasks, their links and the queue row
        assert queued[0].startswith('WITH "close_0_done" AS (UPDATE "viewflow_task"')
        assert '"new" AS (INSERT INTO "viewflow_task"' in queued[0]
        assert 'INSERT INTO "viewflow_task_previous"' in queued[0]
    else:
        assert queued[0].startswith('INSERT INTO "workflows_worktask"')
    opened = WorkTask.objects.get(referral=referral, status__in=("NEW", "ASSIGNED"))
    assert opened.task.previous.exists()  # linked to the task it follows


def _tasks_and_children(process, before):
    """Three new tasks of `process`; links: the 2nd and 3rd follow the 1st, the 1st follows `before` (saved
    earlier); a queue row for the 2nd."""
    from viewflow.workflow.models import Task
    from viewflow.workflow.token import Token

    from parcours.work.flows import PlacementFlow
    from parcours.work.models import WorkTask

    previous = Task.previous.through
    node = PlacementFlow.start
    tasks = [  # told apart by their token: each id must land on its own row
        Task(process=process, flow_task=node, flow_task_type=node.task_type, status="DONE", token=Token(t), data={})
        for t in ("start", "start/1_1", "start/1_2")
    ]
    links = [
        (previous(), {"from_task_id": tasks[0], "to_task_id": before}),
        (previous(), {"from_task_id": tasks[1], "to_task_id": tasks[0]}),
        (previous(), {"from_task_id": tasks[2], "to_task_id": tasks[0]}),
    ]
    queued = WorkTask(
        kind="review",
        role="facilitator",
        organisation_id=process.pathway.facilitation_organisation_id,
        pathway_id=process.pathway_id,
        referral_id=process.referral_id,
    )
    return tasks, [*links, (queued, {"task_id": tasks[1]})]


def test_new_rows_and_the_rows_that_point_at_them_are_written_in_one_statement(world, settings):
    from viewflow.workflow.models import Task

    from parcours.work.models import WorkTask
    from roles.rows import insert_rows_with_children

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    referral = make_referral(world, "sent")
    process = WorkProcess.objects.get(referral=referral)  # started with the referral
    before = Task.objects.filter(process=process).earliest("pk")
    tasks, children = _tasks_and_children(process, before)
    with CaptureQueriesContext(connection) as queries:
        insert_rows_with_children(tasks, children)
    assert len(queries) == (1 if connection.vendor == "postgresql" else 3)
    # Each task has its id, in the order of the rows; the links and the queue row name the right tasks.
    tokens = dict(Task.objects.filter(pk__in=[t.pk for t in tasks]).values_list("pk", "token"))
    assert [str(tokens[t.pk]) for t in tasks] == ["start", "start/1_1", "start/1_2"] and before.pk < tasks[0].pk
    saved = {
        t.pk: set(t.previous.values_list("pk", flat=True)) for t in Task.objects.filter(pk__in=[t.pk for t in tasks])
    }
    assert saved == {tasks[0].pk: {before.pk}, tasks[1].pk: {tasks[0].pk}, tasks[2].pk: {tasks[0].pk}}
    queued = WorkTask.objects.get(task_id=tasks[1].pk)
    assert queued.task_id == tasks[1].pk == children[-1][0].task_id and queued.kind == "review"
    assert [link.from_task_id for link, _ in children[:3]] == [t.pk for t in tasks]


def test_rows_pointing_at_new_rows_that_fail_write_nothing(world, settings):
    from django.db import IntegrityError
    from viewflow.workflow.models import Task

    from parcours.work.models import WorkTask
    from roles.rows import insert_rows_with_children

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    referral = make_referral(world, "sent")
    process = WorkProcess.objects.get(referral=referral)  # started with the referral
    before = Task.objects.filter(process=process).earliest("pk")
    existing = Task.objects.filter(process=process).count(), WorkTask.objects.filter(task__process=process).count()
    tasks, children = _tasks_and_children(process, before)
    children[-1][0].kind = None  # NOT NULL broken by the queue row: the tasks and links go with it
    with CaptureQueriesContext(connection) as queries, pytest.raises(IntegrityError), transaction.atomic():
        insert_rows_with_children(tasks, children)
    if connection.vendor == "postgresql":  # one statement: nothing of it written (not only rolled back)
        assert len([q for q in queries if "INSERT" in q["sql"]]) == 1
    assert (Task.objects.filter(process=process).count(), WorkTask.objects.filter(task__process=process).count()) == (
        existing
    )


def test_a_write_handed_on_twice_is_sent_once(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    referral = make_referral(world, "sent")
    referral.motivation = "Une fois"
    saved = save_row(referral, send_with_next=True)
    waiting = insert_rows([_grant_row(world, referral)], ignore_conflicts=True, send_with_next=True, along=saved)
    with CaptureQueriesContext(connection) as queries:
        insert_row(_event(object_id=referral.pk, hash="once"), along=[saved, waiting])  # no "row gone": sent once
    assert _columns(referral)["motivation"] == "Une fois"
    assert sum(q["sql"].count('UPDATE "parcours_referral"') for q in queries) == 1


def test_an_inherited_model_new_row_goes_with_its_parent_row(world, settings):
    """A WorkProcess is viewflow's process row and its own: one statement on PostgreSQL (a process start), the
    parent's row then the child's own elsewhere; the child reads as one the ORM created."""
    from viewflow.workflow.models import Process

    from parcours.work.flows import PlacementFlow
    from roles.rows import insert_rows_with_children

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    referral = make_referral(world, "sent")
    WorkProcess.objects.filter(referral=referral).update(referral=None)  # one process per referral
    process = WorkProcess(flow_class=PlacementFlow, pathway_id=referral.pathway_id, referral_id=referral.pk)
    row = Process(**{f.attname: getattr(process, f.attname) for f in Process._meta.concrete_fields})
    with CaptureQueriesContext(connection) as queries:
        insert_rows_with_children([row], [(process, {"process_ptr_id": row})])
    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)
    saved = WorkProcess.objects.get(pk=row.pk)
    assert process.pk == row.pk and (saved.flow_class, saved.referral_id) == (PlacementFlow, referral.pk)
    assert saved.status == "NEW" and saved.created is not None


# --- A write led by the next read (roles.rows.Lead) ----------------------------------------------------------------
_BY_HASH = Compiled(lambda digest: JournalEvent.objects.filter(hash=digest).order_by("pk"))


def test_a_write_led_by_the_next_read_goes_in_its_round_trip_and_the_read_sees_it(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text
    referral = make_referral(world, "sent")
    referral.motivation = "Menée par la lecture"
    event = _event(object_id=referral.pk, hash="lead-1")
    with CaptureQueriesContext(connection) as queries:
        lead = insert_row(event, along=save_row(referral, send_with_next=True), lead=True)
    assert len(queries) == 0 and isinstance(lead, Lead) and event.pk is None  # built, not sent
    with CaptureQueriesContext(connection) as queries:
        rows = _BY_HASH("lead-1", leads=[lead])
    assert [row.pk for row in rows] == [event.pk] and event.pk is not None and lead.sent
    assert _columns(referral)["motivation"] == "Menée par la lecture"
    texts = [q["sql"] for q in queries]
    if connection.vendor == "postgresql":  # the update, the insert and the read: one text, one round trip
        assert len(texts) == 1 and texts[0].startswith('WITH "along_0" AS (UPDATE "parcours_referral"')
        assert 'INSERT INTO "workflows_journalevent"' in texts[0] and '; SELECT "workflows_journalevent"' in texts[0]
    else:  # each on its own (no WITH here), in that order, just before the read
        assert [t.split()[0] for t in texts] == ["UPDATE", "INSERT", "SELECT"]
    with CaptureQueriesContext(connection) as queries:
        lead.send()  # already sent: nothing more
        assert [row.pk for row in _BY_HASH("lead-1", leads=[lead])] == [event.pk]
    assert len(queries) == 1 and JournalEvent.objects.filter(hash="lead-1").count() == 1


def test_a_lead_no_read_carried_is_sent_on_its_own(world):
    event = _event(hash="lead-alone")
    lead = insert_row(event, lead=True)
    assert not JournalEvent.objects.filter(hash="lead-alone").exists()
    with CaptureQueriesContext(connection) as queries:
        lead.send()
    assert len(queries) == 1 and JournalEvent.objects.get(hash="lead-alone").pk == event.pk


def test_a_lead_whose_carried_update_lost_its_row_fails_the_read_and_writes_nothing(world):
    referral = make_referral(world, "sent")
    ghost = Referral.objects.get(pk=referral.pk)
    ghost.pk = ghost.id = referral.pk + 10_000
    with transaction.atomic():
        lead = insert_row(_event(hash="lead-gone"), along=save_row(ghost, send_with_next=True), lead=True)
        with pytest.raises(DatabaseError, match="gone"):
            _BY_HASH("lead-gone", leads=[lead])
        # On PostgreSQL the event's row went with the update: the block can only roll back, even for a caller that
        # caught the error.
        assert transaction.get_connection().needs_rollback
    assert not JournalEvent.objects.filter(hash="lead-gone").exists()


def test_a_lead_of_a_model_the_orm_saves_is_written_at_once(world, monkeypatch):
    monkeypatch.setattr(JournalEvent, "save", lambda self, *a, **k: models.Model.save(self, *a, **k))
    event = _event(hash="lead-orm")
    assert insert_row(event, lead=True) is None and JournalEvent.objects.get(hash="lead-orm").pk == event.pk


def test_a_transition_whose_tasks_are_read_sends_its_event_with_that_read(world, settings):
    from tests.factories import call_service

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    referral = make_referral(world, "forwarded")
    with CaptureQueriesContext(connection) as queries:
        call_service("referral.accept", world.a.employer_actor, referral)
    assert JournalEvent.objects.filter(object_type="referral", object_id=referral.pk, action="accept").count() == 1
    texts = [q["sql"] for q in queries]
    inserts = [t for t in texts if 'INSERT INTO "workflows_journalevent"' in t]
    assert len(inserts) == 1
    if connection.vendor == "postgresql":  # the event, the processes' lock and the open tasks: one round trip
        assert '"workflows_worktask"' in inserts[0] and "SKIP LOCKED" in inserts[0]
        assert inserts[0].index('INSERT INTO "workflows_journalevent"') < inserts[0].index("SKIP LOCKED")
    else:  # just before the read of the open tasks (but for the event's audience, written once its id is known)
        after = next(t for t in texts[texts.index(inserts[0]) + 1 :] if '"parcours_eventaudience"' not in t)
        assert after.startswith("SELECT") and '"workflows_worktask"' in after


@pytest.mark.postgres
def test_a_lead_and_the_read_that_carries_it_are_prepared_and_still_leave_together(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": True}
    for number in range(3):  # prepared from the second run on (roles.statements.PREPARE_AT_RUN)
        event = _event(object_type="prepared", object_id=number, hash=f"lead-prepared-{number}")
        lead = insert_row(event, lead=True)
        with CaptureQueriesContext(connection) as queries:
            rows = _BY_HASH(f"lead-prepared-{number}", leads=[lead])
        assert [row.pk for row in rows] == [event.pk] and event.pk is not None
    assert len(queries) == 1 and queries[0]["sql"].count("EXECUTE parcours_") == 2, queries[0]["sql"]


@pytest.mark.parametrize("step", ["referral_create", "followup_record"])
def test_a_referral_s_creation_and_a_follow_up_send_their_event_with_the_read_of_the_open_tasks(world, settings, step):
    from parcours.services import referrals
    from tests.factories import make_pathway, record_follow_up

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    if step == "referral_create":
        pathway = make_pathway(world, "eligible")
        call = lambda: referrals.referral_create(actor=world.a.adviser, pathway=pathway, offer=world.a.offer)  # noqa: E731
        action = "create"
    else:
        pathway = make_referral(world, "hired").pathway
        call = lambda: record_follow_up(world, pathway)  # noqa: E731
        action = "record_follow_up"
    with CaptureQueriesContext(connection) as queries:
        call()
    texts = [q["sql"] for q in queries if 'INSERT INTO "workflows_journalevent"' in q["sql"]]
    event = JournalEvent.objects.filter(action=action).latest("pk")
    assert event.participant_id == pathway.participant_id
    if connection.vendor == "postgresql":  # the event first, then the processes' lock and the open tasks
        carrying = [t for t in texts if '"workflows_worktask"' in t]
        assert len(carrying) == 1 and carrying[0].index("workflows_journalevent") < carrying[0].index("SKIP LOCKED")

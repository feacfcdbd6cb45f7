"""The database holds every index and constraint the models declare, by name: a migration altering a field must not
drop one of them on the way (Django's AlterField of a foreign key's index dropped every index on that column alone,
the partial unique `pathway_one_open_per_participant` with it: migrations 0031 and 0032)."""

import pytest
from django.apps import apps
from django.db import connection

APPS = ("parcours", "roles", "workflows")


def _declared():
    for label in APPS:
        for model in apps.get_app_config(label).get_models():
            if model._meta.managed and not model._meta.proxy:
                for item in [*model._meta.indexes, *model._meta.constraints]:
                    yield model._meta.db_table, item.name


def test_every_declared_index_and_constraint_is_in_the_database(db):
    declared = list(_declared())
    assert ("parcours_pathway", "pathway_one_open_per_participant") in declared
    missing = []
    with connection.cursor() as cursor:
        for table in {table for table, _ in declared}:
            present = connection.introspection.get_constraints(cursor, table)
            missing += [(t, name) for t, name in declared if t == table and name not in present]
    assert missing == []


def test_the_foreign_keys_answered_by_a_composite_index_have_none_of_their_own(db):
    with connection.cursor() as cursor:
        for table, column in (
            ("parcours_participant", "youth_agency_id"),
            ("parcours_pathway", "participant_id"),
            ("parcours_participantaccess", "participant_id"),
            ("workflows_worktask", "done_by_id"),
        ):
            indexes = connection.introspection.get_constraints(cursor, table).values()
            alone = [c for c in indexes if c["index"] and not c["unique"] and c["columns"] == [column]]
            assert alone == [], (table, column)


@pytest.mark.postgres
def test_postgresql_estimates_a_participants_events_as_a_share_of_the_journal(db):
    # From its sample PostgreSQL guessed 20 times too few participants and read a file's timeline by hashing every
    # participant the viewer sees (workflows migration 0007).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attoptions FROM pg_attribute WHERE attrelid = 'workflows_journalevent'::regclass "
            "AND attname = 'participant_id'"
        )
        assert cursor.fetchone()[0] == ["n_distinct=-0.05"]


@pytest.mark.postgres
def test_postgresql_counts_the_grants_of_every_organisation(db):
    # The default statistics counted the 100 largest organisations' grants; a small Mission Locale then got a large
    # one's plan, walking every recent referral (parcours migration 0036).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attrelid::regclass::text, attstattarget FROM pg_attribute WHERE attname = 'group_id' "
            "AND attrelid::regclass::text LIKE 'parcours_%%groupobjectpermission' ORDER BY 1"
        )
        assert cursor.fetchall() == [
            ("parcours_participantgroupobjectpermission", 10_000),
            ("parcours_placementgroupobjectpermission", 10_000),
            ("parcours_referralgroupobjectpermission", 10_000),
        ]

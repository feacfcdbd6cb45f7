"""Pathways by state per holder of a participant grant (parcours.models.PathwayTally), kept by PostgreSQL triggers.

A pathway inserted, deleted, or changing state or participant adds -1 for its old state and +1 for its new one, for
each grant on its participant; a grant given or taken back adds the participant's pathways by state, signed. Rows
are only ever inserted (summed on read, folded by the worker): concurrent transitions never wait on a shared
counter row. The backfill counts the pathways already there; it can run again (it replaces the rows)."""

from django.db import migrations, models

TRIGGERS = """
CREATE OR REPLACE FUNCTION parcours_tally_pathway() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO parcours_pathwaytally (group_id, permission_id, state, n)
        SELECT g.group_id, g.permission_id, OLD.state, -1
        FROM parcours_participantgroupobjectpermission g WHERE g.content_object_id = OLD.participant_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO parcours_pathwaytally (group_id, permission_id, state, n)
        SELECT g.group_id, g.permission_id, NEW.state, 1
        FROM parcours_participantgroupobjectpermission g WHERE g.content_object_id = NEW.participant_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER parcours_tally_pathway_insert_delete
    AFTER INSERT OR DELETE ON parcours_pathway
    FOR EACH ROW EXECUTE FUNCTION parcours_tally_pathway();
CREATE TRIGGER parcours_tally_pathway_update
    AFTER UPDATE OF state, participant_id ON parcours_pathway
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.participant_id IS DISTINCT FROM NEW.participant_id)
    EXECUTE FUNCTION parcours_tally_pathway();

CREATE OR REPLACE FUNCTION parcours_tally_grant() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO parcours_pathwaytally (group_id, permission_id, state, n)
        SELECT OLD.group_id, OLD.permission_id, p.state, -count(*)
        FROM parcours_pathway p WHERE p.participant_id = OLD.content_object_id GROUP BY p.state;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO parcours_pathwaytally (group_id, permission_id, state, n)
        SELECT NEW.group_id, NEW.permission_id, p.state, count(*)
        FROM parcours_pathway p WHERE p.participant_id = NEW.content_object_id GROUP BY p.state;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER parcours_tally_grant_insert_delete
    AFTER INSERT OR DELETE ON parcours_participantgroupobjectpermission
    FOR EACH ROW EXECUTE FUNCTION parcours_tally_grant();
CREATE TRIGGER parcours_tally_grant_update
    AFTER UPDATE OF group_id, permission_id, content_object_id ON parcours_participantgroupobjectpermission
    FOR EACH ROW EXECUTE FUNCTION parcours_tally_grant();
"""
DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS parcours_tally_grant_update ON parcours_participantgroupobjectpermission;
DROP TRIGGER IF EXISTS parcours_tally_grant_insert_delete ON parcours_participantgroupobjectpermission;
DROP TRIGGER IF EXISTS parcours_tally_pathway_update ON parcours_pathway;
DROP TRIGGER IF EXISTS parcours_tally_pathway_insert_delete ON parcours_pathway;
DROP FUNCTION IF EXISTS parcours_tally_grant();
DROP FUNCTION IF EXISTS parcours_tally_pathway();
"""
# The same statement as parcours.selectors.tally.REBUILD (a migration keeps its own copy).
BACKFILL = """
DELETE FROM parcours_pathwaytally;
INSERT INTO parcours_pathwaytally (group_id, permission_id, state, n)
SELECT g.group_id, g.permission_id, p.state, count(*)
FROM parcours_participantgroupobjectpermission g JOIN parcours_pathway p ON p.participant_id = g.content_object_id
GROUP BY g.group_id, g.permission_id, p.state;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGERS, params=None)
        schema_editor.execute(BACKFILL, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGERS, params=None)


class Migration(migrations.Migration):
    dependencies = [("parcours", "0019_referral_offer_state_idx")]

    operations = [
        migrations.CreateModel(
            name="PathwayTally",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("group_id", models.IntegerField()),
                ("permission_id", models.IntegerField()),
                ("state", models.CharField(max_length=50)),
                ("n", models.IntegerField()),
            ],
            options={
                "verbose_name": "décompte des parcours",
                "indexes": [
                    models.Index(fields=["group_id", "permission_id", "state"], name="pathway_tally_holder_idx")
                ],
            },
        ),
        migrations.RunPython(forward, backward),
    ]

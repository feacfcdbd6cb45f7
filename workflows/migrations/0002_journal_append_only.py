"""On PostgreSQL, the journal refuses UPDATE, DELETE and TRUNCATE at the database level."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION workflows_journal_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'workflows_journalevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER workflows_journal_no_update_delete
    BEFORE UPDATE OR DELETE ON workflows_journalevent
    FOR EACH ROW EXECUTE FUNCTION workflows_journal_append_only();
CREATE TRIGGER workflows_journal_no_truncate
    BEFORE TRUNCATE ON workflows_journalevent
    FOR EACH STATEMENT EXECUTE FUNCTION workflows_journal_append_only();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS workflows_journal_no_truncate ON workflows_journalevent;
DROP TRIGGER IF EXISTS workflows_journal_no_update_delete ON workflows_journalevent;
DROP FUNCTION IF EXISTS workflows_journal_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("workflows", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]

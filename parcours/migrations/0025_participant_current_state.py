"""The participant's current pathway state, kept by triggers on the pathway table (parcours.selectors.current_state).

A pathway inserted, deleted, or changing state, start date or participant sets its participant's current_state to the
state of its latest started pathway ("" when it has none). PostgreSQL runs one function per row, installed here;
SQLite has a trigger per operation, installed after each `migrate` (see SQLITE below). The backfill sets every
participant from its pathways, before the index is built."""

from django.conf import settings
from django.db import migrations, models

# The same expression as parcours.selectors.current_state.LATEST (a migration keeps its own copy).
LATEST = """coalesce((
        SELECT w.state FROM parcours_pathway w WHERE w.participant_id = parcours_participant.id
        ORDER BY w.started_on DESC, w.id DESC LIMIT 1
    ), '')"""

POSTGRESQL = [
    f"""
CREATE OR REPLACE FUNCTION parcours_current_state() RETURNS trigger AS $$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        ids := ARRAY[NEW.participant_id];
    ELSIF TG_OP = 'DELETE' THEN
        ids := ARRAY[OLD.participant_id];
    ELSE
        ids := ARRAY[OLD.participant_id, NEW.participant_id];
    END IF;
    -- Locked first, in id order: the UPDATE below then reads the pathways committed meanwhile by another
    -- transaction writing a pathway of the same participant (it waited on this lock), not its own older snapshot.
    PERFORM 1 FROM parcours_participant WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    UPDATE parcours_participant SET current_state = {LATEST}
    WHERE id = ANY(ids) AND current_state IS DISTINCT FROM {LATEST};
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER parcours_current_state_insert_delete
    AFTER INSERT OR DELETE ON parcours_pathway
    FOR EACH ROW EXECUTE FUNCTION parcours_current_state()
""",
    """
CREATE TRIGGER parcours_current_state_update
    AFTER UPDATE OF state, started_on, participant_id ON parcours_pathway
    FOR EACH ROW WHEN (
        OLD.state IS DISTINCT FROM NEW.state OR OLD.started_on IS DISTINCT FROM NEW.started_on
        OR OLD.participant_id IS DISTINCT FROM NEW.participant_id
    )
    EXECUTE FUNCTION parcours_current_state()
""",
    """
UPDATE parcours_participant p SET current_state = c.state
FROM (
    SELECT DISTINCT ON (participant_id) participant_id, state FROM parcours_pathway
    ORDER BY participant_id, started_on DESC, id DESC
) c
WHERE c.participant_id = p.id AND p.current_state IS DISTINCT FROM c.state
""",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS parcours_current_state_update ON parcours_pathway",
    "DROP TRIGGER IF EXISTS parcours_current_state_insert_delete ON parcours_pathway",
    "DROP FUNCTION IF EXISTS parcours_current_state()",
]
# SQLite's triggers are installed after each `migrate` (parcours.selectors.current_state.install_sqlite_triggers):
# installed here, they would make a later migration rebuilding the participant table fail.
SQLITE = [f"UPDATE parcours_participant SET current_state = {LATEST}"]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS parcours_current_state_insert",
    "DROP TRIGGER IF EXISTS parcours_current_state_update",
    "DROP TRIGGER IF EXISTS parcours_current_state_delete",
]


def forward(apps, schema_editor):
    for statement in {"postgresql": POSTGRESQL, "sqlite": SQLITE}.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    for statement in {"postgresql": POSTGRESQL_DROP, "sqlite": SQLITE_DROP}.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("parcours", "0024_pathway_facilitation_state_idx"),
        ("roles", "0003_organisation_statements_and_buyer_kind"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="participant",
            name="current_state",
            field=models.CharField(
                blank=True,
                choices=[
                    ("intake", "Accueil"),
                    ("eligibility_pending", "Éligibilité à valider"),
                    ("eligible", "Éligible"),
                    ("ineligible", "Non éligible"),
                    ("referred", "Positionné·e"),
                    ("placed", "En poste"),
                    ("in_follow_up", "En suivi"),
                    ("exited", "Sorti·e"),
                    ("withdrawn", "Abandon"),
                    ("lost_contact", "Perdu de vue"),
                ],
                db_default="",
                default="",
                editable=False,
                max_length=50,
                verbose_name="état du parcours en cours",
            ),
        ),
        migrations.RunPython(forward, backward),
        migrations.AddIndex(
            model_name="participant",
            index=models.Index(
                fields=["youth_agency", "current_state", "last_name", "first_name", "id"],
                include=["search_text"],
                name="participant_agency_state_idx",
            ),
        ),
    ]

"""The current-state trigger (migration 0025) keeps its statements' plans: it names each participant by a scalar id.

With `WHERE id = ANY(ids)`, PostgreSQL found a plan for any number of ids dearer than one made for the array at
hand, and planned the trigger's lock and UPDATE again at every pathway written: ~0.16 ms of the server's time in each
pathway transition (pg_stat_statements: 40 plans in 40 calls). A scalar id is planned once per session. The same
rule as before: the participants are locked in id order, each before it is read and set."""

from django.db import migrations

# The same expression as parcours.selectors.current_state.LATEST (a migration keeps its own copy).
LATEST = """coalesce((
        SELECT w.state FROM parcours_pathway w WHERE w.participant_id = parcours_participant.id
        ORDER BY w.started_on DESC, w.id DESC LIMIT 1
    ), '')"""

# The function as migration 0025 wrote it, put back when this one is reversed.
BEFORE = f"""
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
"""

FUNCTION = f"""
CREATE OR REPLACE FUNCTION parcours_current_state() RETURNS trigger AS $$
DECLARE
    first_id bigint;
    second_id bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        first_id := NEW.participant_id;
    ELSIF TG_OP = 'DELETE' THEN
        first_id := OLD.participant_id;
    ELSE
        first_id := least(OLD.participant_id, NEW.participant_id);
        second_id := nullif(greatest(OLD.participant_id, NEW.participant_id), first_id);
    END IF;
    -- Each locked before it is read: the UPDATE then reads the pathways committed meanwhile by another transaction
    -- writing a pathway of the same participant (it waited on this lock), not its own older snapshot. In id order.
    PERFORM 1 FROM parcours_participant WHERE id = first_id FOR NO KEY UPDATE;
    UPDATE parcours_participant SET current_state = {LATEST}
    WHERE id = first_id AND current_state IS DISTINCT FROM {LATEST};
    IF second_id IS NOT NULL THEN
        PERFORM 1 FROM parcours_participant WHERE id = second_id FOR NO KEY UPDATE;
        UPDATE parcours_participant SET current_state = {LATEST}
        WHERE id = second_id AND current_state IS DISTINCT FROM {LATEST};
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BEFORE, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("parcours", "0028_hoursline_lot_of_its_placement"),
    ]

    operations = [migrations.RunPython(forward, backward)]

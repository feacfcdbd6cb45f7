"""PostgreSQL's estimate of the journal's distinct participants, from its 30,000-row sample, was 20 times too low
(48,000 for 1,000,000 at 21 M events): it expected ~450 events per participant file instead of ~20, and read the
file's timeline by hashing every participant the viewer may see (15,000 for one Mission Locale, 7 ms) instead of
checking its ~20 events one by one. A participant has about one event in twenty (the generated national data set:
1,000,000 participants for 21.4 M events, 100,000 for 2.14 M): the estimate is set as that share of the rows, which
ANALYZE keeps as the table grows."""

from django.db import migrations

SHARE = -0.05  # negative: a share of the rows (PostgreSQL's n_distinct), not a count


def set_distinct(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE workflows_journalevent ALTER COLUMN participant_id SET (n_distinct = {SHARE})"
    )
    schema_editor.execute("ANALYZE workflows_journalevent (participant_id)")


def reset_distinct(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE workflows_journalevent ALTER COLUMN participant_id RESET (n_distinct)")


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0006_journal_indexes_once"),
    ]

    operations = [migrations.RunPython(set_distinct, reset_distinct)]

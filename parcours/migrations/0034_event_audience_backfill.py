"""The audience of the events already in the journal, as the policy sees them now, is written at the end of `migrate`
(parcours.audience_fill, on `post_migrate`): this migration leaves the marker table saying it is to do.

Until December 2026 it wrote them here, running the application's code (parcours.notifications.
record_missing_audiences) against a database still missing the columns of later migrations that code reads (0037's
participant of a referral): every upgrade from before 0034 stopped here, half migrated. An installation that applied
the earlier version has its audiences already: it never runs this one."""

from django.db import migrations

PENDING_TABLE = '"parcours_audience_fill_pending"'  # parcours.audience_fill.PENDING_TABLE


def leave_the_fill_to_the_end_of_migrate(apps, schema_editor):
    schema_editor.execute(f'CREATE TABLE IF NOT EXISTS {PENDING_TABLE} ("id" integer PRIMARY KEY)')


def forget_the_fill(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {PENDING_TABLE}")


class Migration(migrations.Migration):
    dependencies = [("parcours", "0033_event_audience")]

    operations = [migrations.RunPython(leave_the_fill_to_the_end_of_migrate, forget_the_fill)]

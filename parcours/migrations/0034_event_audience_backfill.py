"""The audience of the events already in the journal, as the policy sees them now
(parcours.notifications.record_missing_audiences: set-based on PostgreSQL, about 20 minutes for 21 million events
on a 2-core machine). Not atomic: each range of events is committed as it is done, and a run stopped midway goes on
where it stopped when it is run again (what an event has is kept). It runs the application's code of the version
that added it: the policy's paths and the journal's columns it reads are those of that version."""

from django.db import migrations


def record_audiences(apps, schema_editor):
    from parcours.notifications import record_missing_audiences

    record_missing_audiences()


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("parcours", "0033_event_audience")]

    operations = [migrations.RunPython(record_audiences, migrations.RunPython.noop)]

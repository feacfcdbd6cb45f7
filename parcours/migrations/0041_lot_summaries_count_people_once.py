"""The lots' kept summaries hold the participants of each public by id (`people_by_public`) instead of a count per
lot, which a dashboard over several lots added up (a person with contracts on two lots counted twice). The summaries
kept before hold counts only: marked stale, they are counted again on their next read or by the worker."""

from django.db import migrations


def mark_stale(apps, schema_editor):
    apps.get_model("parcours", "LotHoursSummary").objects.update(fresh=False)


class Migration(migrations.Migration):
    dependencies = [("parcours", "0040_weekly_hours_decimal")]

    operations = [migrations.RunPython(mark_stale, migrations.RunPython.noop)]

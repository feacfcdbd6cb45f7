"""A lot's participants by public count the people whose contract began (as the yearly consolidation does), no
longer a hire still to begin. The summaries kept before counted those: marked stale, they are counted again on their
next read or by the worker."""

from django.db import migrations


def mark_stale(apps, schema_editor):
    apps.get_model("parcours", "LotHoursSummary").objects.update(fresh=False)


class Migration(migrations.Migration):
    dependencies = [("parcours", "0042_pathway_reopened_on")]

    operations = [migrations.RunPython(mark_stale, migrations.RunPython.noop)]

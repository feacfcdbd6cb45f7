"""A long contract's flat bonus is credited in the month it started even when that month has no validated hours of
its own (a contract begun on the 29th), once hours of a later month are. The summaries kept before left it out:
marked stale, they are counted again on their next read or by the worker."""

from django.db import migrations


def mark_stale(apps, schema_editor):
    apps.get_model("parcours", "LotHoursSummary").objects.update(fresh=False)


class Migration(migrations.Migration):
    dependencies = [("parcours", "0043_lot_summaries_people_started")]

    operations = [migrations.RunPython(mark_stale, migrations.RunPython.noop)]

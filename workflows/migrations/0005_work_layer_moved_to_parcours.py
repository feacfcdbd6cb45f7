"""The work layer's models now belong to the case app (parcours 0006): removed from this app's state only, the
tables stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0004_sealed_journal"),
        ("parcours", "0006_work_layer_in_the_case_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="WorkTask"),
                migrations.DeleteModel(name="WorkProcess"),
            ],
            database_operations=[],
        ),
    ]

import json
from pathlib import Path

from django.db import migrations, models

DATA = Path(__file__).resolve().parent.parent / "data" / "eligibility_criteria.json"


def age_bounds(apps, schema_editor):
    """The catalogue's age bounds (« Jeune de moins de 26 ans » : 25), from its data file."""
    Criterion = apps.get_model("parcours", "EligibilityCriterion")
    for row in json.loads(DATA.read_text(encoding="utf-8")):
        if row.get("max_age") is not None:
            Criterion.objects.filter(code=row["code"]).update(max_age=row["max_age"])


class Migration(migrations.Migration):
    dependencies = [("parcours", "0045_participant_version")]

    operations = [
        migrations.AddField(
            model_name="eligibilitycriterion",
            name="max_age",
            field=models.PositiveSmallIntegerField(
                blank=True,
                help_text=(
                    "Âge au plus (inclus) le jour de la déclaration et de la validation ; vide : sans condition d'âge."
                ),
                null=True,
                verbose_name="âge maximum",
            ),
        ),
        migrations.RunPython(age_bounds, migrations.RunPython.noop),
    ]

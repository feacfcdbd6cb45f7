import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "eligibility_criteria.json"


def load(apps, schema_editor):
    Criterion = apps.get_model("parcours", "EligibilityCriterion")
    for position, row in enumerate(json.loads(DATA.read_text(encoding="utf-8")), start=1):
        Criterion.objects.update_or_create(code=row["code"], defaults={**row, "position": position})


class Migration(migrations.Migration):
    dependencies = [("parcours", "0002_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]

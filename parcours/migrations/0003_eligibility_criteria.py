import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "eligibility_criteria.json"


def load(apps, schema_editor):
    Criterion = apps.get_model("parcours", "EligibilityCriterion")
    # The catalogue's columns as of the model given (the historical one here lacks those added later, max_age).
    known = {field.name for field in Criterion._meta.get_fields()}
    for position, row in enumerate(json.loads(DATA.read_text(encoding="utf-8")), start=1):
        defaults = {name: value for name, value in row.items() if name in known}
        Criterion.objects.update_or_create(code=row["code"], defaults={**defaults, "position": position})


class Migration(migrations.Migration):
    dependencies = [("parcours", "0002_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]

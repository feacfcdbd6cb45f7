import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "counting_rules.json"


def load_default_rules(apps, schema_editor):
    """The platform's default counting rules, given to every lot that exists."""
    RuleSet = apps.get_model("parcours", "CountingRuleSet")
    ModeRule = apps.get_model("parcours", "CountingModeRule")
    Lot = apps.get_model("parcours", "ContractLot")
    data = json.loads(DATA.read_text(encoding="utf-8"))
    modes = data.pop("modes")
    rule_set, created = RuleSet.objects.get_or_create(name=data["name"], version=data["version"], defaults=data)
    if created:
        for row in modes:
            ModeRule.objects.create(rule_set=rule_set, **row)
    Lot.objects.filter(counting_rules__isnull=True).update(counting_rules=rule_set)


class Migration(migrations.Migration):
    dependencies = [("parcours", "0009_hours_statements_counting_rules_exits")]
    operations = [migrations.RunPython(load_default_rules, migrations.RunPython.noop)]

"""The first version of migration 0031 (commit 2db0cdf) dropped, on PostgreSQL, the partial unique index that keeps
one open pathway per participant (`pathway_one_open_per_participant`): Django's AlterField of the pathway's
participant dropped every index on that column alone. Made again where it is missing; nothing done elsewhere."""

from django.db import migrations

NAME = "pathway_one_open_per_participant"


def ensure(apps, schema_editor):
    pathway = apps.get_model("parcours", "Pathway")
    with schema_editor.connection.cursor() as cursor:
        present = schema_editor.connection.introspection.get_constraints(cursor, pathway._meta.db_table)
    if NAME not in present:
        [constraint] = [c for c in pathway._meta.constraints if c.name == NAME]
        schema_editor.add_constraint(pathway, constraint)


class Migration(migrations.Migration):
    dependencies = [("parcours", "0031_redundant_foreign_key_indexes")]

    operations = [migrations.RunPython(ensure, migrations.RunPython.noop)]

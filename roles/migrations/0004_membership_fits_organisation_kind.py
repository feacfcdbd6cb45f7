"""A membership's role must exist in its organisation's kind: on PostgreSQL, triggers refuse the rest
(roles.membership_kinds). The pairs are frozen here: a change of roles.enums.ROLES_BY_ORGANISATION_KIND needs a
migration (tests/test_membership_kinds.py compares them). Memberships already out of the table stop the migration,
named, for an administrator to mend first. SQLite's triggers are installed after `migrate` (roles.apps)."""

from django.db import migrations

from roles.membership_kinds import POSTGRESQL_DROP, foreign_memberships_sql, postgresql_install

PAIRS = [
    "authority:auditor",
    "authority:dpo",
    "employer:dpo",
    "employer:employer",
    "facilitation:auditor",
    "facilitation:dpo",
    "facilitation:facilitator",
    "mission_locale:adviser",
    "mission_locale:dpo",
    "platform:admin",
    "platform:auditor",
    "platform:dpo",
]


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(foreign_memberships_sql(PAIRS))
        foreign = cursor.fetchall()
    if foreign:
        listed = "; ".join(f"membership {pk} ({role} in a {kind} organisation)" for pk, kind, role in foreign[:20])
        raise RuntimeError(
            f"{len(foreign)} membership(s) have a role that does not exist in their organisation's kind: {listed}. "
            "Change their role or organisation (admin: Appartenances), then run migrate again."
        )
    for statement in postgresql_install(PAIRS):
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in POSTGRESQL_DROP:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("roles", "0003_organisation_statements_and_buyer_kind")]

    operations = [migrations.RunPython(install, drop)]

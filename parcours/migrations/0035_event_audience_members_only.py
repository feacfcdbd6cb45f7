"""The audience rows of teams that cannot have members: a role in an organisation of a kind that has no such role
(roles.enums.ROLES_BY_ORGANISATION_KIND), the policy's audience giving them no longer (roles.policy
`_scope_organisations`). A participant's file is shared with its Mission Locale, which has no facilitator: every
participant and pathway event had a (Mission Locale, facilitator) row, about 8 % of the table.

The table at this version, frozen: a later change of which kind has which role does not change what this deletes.
One statement per role, on the table's key (organisation, role, …): about a minute for 6 million rows of 74 million
on a 2-core machine."""

from django.db import migrations

KINDS_WITH = {
    "adviser": ["mission_locale"],
    "facilitator": ["facilitation"],
    "employer": ["employer"],
    "auditor": ["authority", "facilitation", "platform"],
    "admin": ["platform"],
    "dpo": ["authority", "employer", "facilitation", "mission_locale", "platform"],
}


def forget_memberless_teams(apps, schema_editor):
    table = schema_editor.quote_name(apps.get_model("parcours", "EventAudience")._meta.db_table)
    organisations = schema_editor.quote_name(apps.get_model("roles", "Organisation")._meta.db_table)
    with schema_editor.connection.cursor() as cursor:
        for role, kinds in KINDS_WITH.items():
            marks = ", ".join(["%s"] * len(kinds))
            cursor.execute(
                f'DELETE FROM {table} WHERE "role" = %s AND "organisation_id" IN '
                f'(SELECT "id" FROM {organisations} WHERE "kind" NOT IN ({marks}))',
                [role, *kinds],
            )


class Migration(migrations.Migration):
    dependencies = [
        ("parcours", "0034_event_audience_backfill"),
        ("roles", "0003_organisation_statements_and_buyer_kind"),
    ]

    operations = [migrations.RunPython(forget_memberless_teams, migrations.RunPython.noop)]

"""The buyers' auditors reach a participant through an "audit" grant (given when a referral reaches one of the buyer's
contracts) instead of through every referral: grant it for the referrals already made."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

BATCH = 5000


def grant_buyers_their_reach(apps, schema_editor):
    config = apps.get_app_config("parcours")
    previous = getattr(config, "models_module", None)
    config.models_module = previous or True  # create_permissions skips an app it thinks has no models
    create_permissions(config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    config.models_module = previous
    Permission = apps.get_model("auth", "Permission")
    Referral = apps.get_model("parcours", "Referral")
    Grant = apps.get_model("parcours", "ParticipantGroupObjectPermission")
    permission = Permission.objects.get(content_type__app_label="parcours", codename="audit_participant")
    reached = (
        Referral.objects.order_by()
        .values_list("pathway__participant_id", "offer__lot__contract__buyer__group_id")
        .distinct()
    )
    batch = []
    for participant_id, group_id in reached.iterator(chunk_size=BATCH):
        batch.append(Grant(permission_id=permission.pk, group_id=group_id, content_object_id=participant_id))
        if len(batch) == BATCH:
            Grant.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    Grant.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("parcours", "0017_worktask_open_due_idx"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="participant",
            options={
                "ordering": ["last_name", "first_name"],
                "permissions": [("audit_participant", "Auditer le parcours (contrats de l'acheteur)")],
                "verbose_name": "participant·e",
            },
        ),
        migrations.RunPython(grant_buyers_their_reach, migrations.RunPython.noop),
    ]

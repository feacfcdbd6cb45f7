"""The access log moves from workflows to parcours (it is about participant files: a foreign key, scoped by the
policy for the data-protection officer); participants get the information notice and retention dates."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def copy_access_log(apps, schema_editor):
    old = apps.get_model("workflows", "ParticipantAccess")
    new = apps.get_model("parcours", "ParticipantAccess")
    existing = set(apps.get_model("parcours", "Participant").objects.values_list("pk", flat=True))
    batch = []
    for row in old.objects.order_by("pk").iterator(chunk_size=5000):
        if row.participant_id not in existing:
            continue
        batch.append(
            new(
                accessed_at=row.accessed_at,
                user_id=row.user_id,
                organisation_id=row.organisation_id,
                role=row.role,
                participant_id=row.participant_id,
                channel=row.channel,
                purpose=row.purpose,
            )
        )
        if len(batch) >= 5000:
            new.objects.bulk_create(batch)
            batch = []
    new.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("parcours", "0004_pathway_withdrawn_at_intake"),
        ("roles", "0002_membership_named_access_dpo"),
        ("workflows", "0003_work_layer"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="participant",
            name="notice_given_on",
            field=models.DateField(blank=True, null=True, verbose_name="notice d'information remise le"),
        ),
        migrations.AddField(
            model_name="participant",
            name="retention_notice_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="anonymisation annoncée le"),
        ),
        migrations.AddField(
            model_name="participant",
            name="anonymised_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="anonymisé le"),
        ),
        migrations.CreateModel(
            name="ParticipantAccess",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "accessed_at",
                    models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name="date"),
                ),
                ("role", models.CharField(blank=True, max_length=20, verbose_name="rôle")),
                (
                    "channel",
                    models.CharField(
                        choices=[("page", "Page"), ("api", "API"), ("export", "Export"), ("admin", "Administration")],
                        max_length=10,
                        verbose_name="canal",
                    ),
                ),
                ("purpose", models.CharField(default="view", max_length=50, verbose_name="objet")),
                (
                    "organisation",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="roles.organisation",
                    ),
                ),
                (
                    "participant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="accesses",
                        to="parcours.participant",
                        verbose_name="participant·e",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="utilisateur",
                    ),
                ),
            ],
            options={
                "verbose_name": "consultation de dossier",
                "verbose_name_plural": "consultations de dossiers",
                "ordering": ["-accessed_at", "-id"],
                "indexes": [
                    models.Index(fields=["participant", "-accessed_at"], name="access_participant_idx"),
                ],
            },
        ),
        migrations.RunPython(copy_access_log, migrations.RunPython.noop),
    ]

"""The journal becomes keyed and erasable where it must be:

- each event is sealed with an HMAC under a journal key kept outside the database (`key_id` names the key);
- free-text reasons move beside the events (JournalReason, erasable at anonymisation), the event sealing a keyed
  digest of the text;
- checkpoints seal the whole journal;
- append-only triggers on PostgreSQL and SQLite (events, checkpoints; reasons may only be erased);
- the access log moved to parcours (0005).

Existing events are resealed once, chain by chain, with the current key (the migration runs as the role that owns
the tables, with the application's key: the same trust as writing the events in the first place).
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

OLD_TRIGGERS = """
DROP TRIGGER IF EXISTS workflows_journal_no_update_delete ON workflows_journalevent;
DROP TRIGGER IF EXISTS workflows_journal_no_truncate ON workflows_journalevent;
"""


def reseal(apps, schema_editor):
    from workflows import keys
    from workflows.journal import event_payload

    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(OLD_TRIGGERS, params=None)
    event_model = apps.get_model("workflows", "JournalEvent")
    reason_model = apps.get_model("workflows", "JournalReason")
    if not event_model.objects.exists():
        return
    key_id = keys.current_key_id()
    chain, previous = None, ""
    for event in event_model.objects.order_by("object_type", "object_id", "sequence").iterator(chunk_size=5000):
        if (event.object_type, event.object_id) != chain:
            chain, previous = (event.object_type, event.object_id), ""
        event.key_id = key_id
        event.reason_digest = keys.seal_text(key_id, event.reason) if event.reason else ""
        if event.reason:
            reason_model.objects.create(event_id=event.pk, text=event.reason)
        event.previous_hash = previous
        event.hash = keys.seal(key_id, event_payload(event))
        event_model.objects.filter(pk=event.pk).update(
            key_id=event.key_id,
            reason_digest=event.reason_digest,
            previous_hash=event.previous_hash,
            hash=event.hash,
        )
        previous = event.hash


def install_triggers(apps, schema_editor):
    from workflows import append_only

    append_only.install(schema_editor.connection)


def remove_triggers(apps, schema_editor):
    from workflows import append_only

    append_only.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0003_work_layer"),
        ("parcours", "0005_participant_access_notice_retention"),
    ]

    operations = [
        migrations.AddField(
            model_name="journalevent",
            name="reason_digest",
            field=models.CharField(blank=True, max_length=64, verbose_name="empreinte du motif"),
        ),
        migrations.AddField(
            model_name="journalevent",
            name="key_id",
            field=models.CharField(default="", max_length=40, verbose_name="clé de scellement"),
            preserve_default=False,
        ),
        migrations.CreateModel(
            name="JournalReason",
            fields=[
                (
                    "event",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.RESTRICT,
                        primary_key=True,
                        related_name="reason_record",
                        serialize=False,
                        to="workflows.journalevent",
                        verbose_name="événement",
                    ),
                ),
                ("text", models.TextField(blank=True, verbose_name="motif")),
                ("erased_at", models.DateTimeField(blank=True, null=True, verbose_name="effacé le")),
            ],
            options={
                "verbose_name": "motif d'un événement",
                "verbose_name_plural": "motifs des événements",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("erased_at__isnull", True), ("text", ""), _connector="OR"),
                        name="journal_reason_erased_empty",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="JournalCheckpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="date")),
                ("last_event_id", models.BigIntegerField(verbose_name="dernier événement")),
                ("event_count", models.BigIntegerField(verbose_name="nombre d'événements")),
                ("digest", models.CharField(max_length=64, verbose_name="empreinte globale")),
                ("key_id", models.CharField(max_length=40, verbose_name="clé de signature")),
                ("signature", models.CharField(max_length=64, unique=True, verbose_name="signature")),
            ],
            options={
                "verbose_name": "point de contrôle du journal",
                "verbose_name_plural": "points de contrôle du journal",
                "ordering": ["-last_event_id"],
                "constraints": [
                    models.UniqueConstraint(fields=("last_event_id",), name="journal_checkpoint_unique_head")
                ],
            },
        ),
        migrations.AlterField(
            model_name="worktask",
            name="role",
            field=models.CharField(
                choices=[
                    ("adviser", "Conseiller·ère"),
                    ("facilitator", "Facilitateur·rice"),
                    ("employer", "Employeur"),
                    ("auditor", "Auditeur·rice"),
                    ("dpo", "Délégué·e à la protection des données"),
                    ("admin", "Administrateur·rice"),
                ],
                max_length=20,
                verbose_name="rôle",
            ),
        ),
        migrations.RunPython(reseal, migrations.RunPython.noop),
        migrations.RemoveField(model_name="journalevent", name="reason"),
        migrations.DeleteModel(name="ParticipantAccess"),
        migrations.RunPython(install_triggers, remove_triggers),
    ]

"""The work layer (viewflow processes and task routing) moves from the workflows app to the case app, where its
flows are (parcours/work/): the models change app, the tables keep their names, the stored flow references
("workflows/flows.IntakeFlow…") follow the code, and the content types (hence the supervise_worktask permission)
follow the models."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

OLD, NEW = "workflows/flows.", "parcours/work.flows."


def _rename_references(schema_editor, old, new):
    # Raw SQL: viewflow's reference fields turn the stored text into the imported class, which the old text
    # no longer names.
    for table, column in (("viewflow_process", "flow_class"), ("viewflow_task", "flow_task")):
        schema_editor.execute(
            f"UPDATE {table} SET {column} = REPLACE({column}, %s, %s) WHERE {column} LIKE %s",
            [old, new, old + "%"],
        )


def follow_the_code(apps, schema_editor):
    _rename_references(schema_editor, OLD, NEW)
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in ("workprocess", "worktask"):
        if not content_type.objects.filter(app_label="parcours", model=model).exists():
            content_type.objects.filter(app_label="workflows", model=model).update(app_label="parcours")


def back_to_workflows(apps, schema_editor):
    _rename_references(schema_editor, NEW, OLD)
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="parcours", model__in=["workprocess", "worktask"]).update(
        app_label="workflows"
    )


ROLES = [
    ("adviser", "Conseiller·ère"),
    ("facilitator", "Facilitateur·rice"),
    ("employer", "Employeur"),
    ("auditor", "Auditeur·rice"),
    ("dpo", "Délégué·e à la protection des données"),
    ("admin", "Administrateur·rice"),
]
KINDS = [
    ("submit_eligibility", "Constituer le dossier d'éligibilité"),
    ("review_eligibility", "Valider l'éligibilité"),
    ("review_referral", "Examiner le positionnement"),
    ("answer_referral", "Répondre à la candidature"),
    ("confirm_hire", "Confirmer l'embauche"),
    ("follow_up", "Faire le point de suivi"),
    ("record_exit", "Enregistrer la sortie"),
    ("referral_expired", "Rebondir après un positionnement expiré"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("parcours", "0005_participant_access_notice_retention"),
        ("roles", "0002_membership_named_access_dpo"),
        ("viewflow", "0015_task_scheduled"),
        ("workflows", "0004_sealed_journal"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="WorkProcess",
                    fields=[
                        (
                            "process_ptr",
                            models.OneToOneField(
                                auto_created=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                parent_link=True,
                                primary_key=True,
                                serialize=False,
                                to="viewflow.process",
                            ),
                        ),
                        (
                            "pathway",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="work_processes",
                                to="parcours.pathway",
                                verbose_name="parcours",
                            ),
                        ),
                        (
                            "referral",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="work_process",
                                to="parcours.referral",
                                verbose_name="positionnement",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "processus",
                        "verbose_name_plural": "processus",
                        "db_table": "workflows_workprocess",
                    },
                    bases=("viewflow.process",),
                ),
                migrations.CreateModel(
                    name="WorkTask",
                    fields=[
                        (
                            "task",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                primary_key=True,
                                related_name="work",
                                serialize=False,
                                to="viewflow.task",
                                verbose_name="tâche viewflow",
                            ),
                        ),
                        ("kind", models.CharField(choices=KINDS, max_length=30, verbose_name="type")),
                        ("role", models.CharField(choices=ROLES, max_length=20, verbose_name="rôle")),
                        ("due_at", models.DateTimeField(blank=True, null=True, verbose_name="échéance")),
                        ("outcome", models.CharField(blank=True, max_length=50, verbose_name="issue")),
                        (
                            "closing_event",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.RESTRICT,
                                related_name="+",
                                to="workflows.journalevent",
                                verbose_name="événement de clôture",
                            ),
                        ),
                        (
                            "done_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.RESTRICT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="réalisée par",
                            ),
                        ),
                        (
                            "follow_up",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="work_tasks",
                                to="parcours.followup",
                                verbose_name="suivi prévu",
                            ),
                        ),
                        (
                            "organisation",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="work_tasks",
                                to="roles.organisation",
                                verbose_name="organisation",
                            ),
                        ),
                        (
                            "pathway",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="work_tasks",
                                to="parcours.pathway",
                                verbose_name="parcours",
                            ),
                        ),
                        (
                            "referral",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="work_tasks",
                                to="parcours.referral",
                                verbose_name="positionnement",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "tâche",
                        "ordering": ["due_at", "task_id"],
                        "permissions": [("supervise_worktask", "Répartir les tâches de son organisation")],
                        "db_table": "workflows_worktask",
                        "indexes": [
                            models.Index(fields=["organisation", "role", "kind"], name="worktask_queue_idx"),
                            models.Index(fields=["done_by", "organisation"], name="worktask_archive_idx"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(follow_the_code, back_to_workflows),
    ]

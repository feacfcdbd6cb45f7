"""What forms and the admin say, nothing in the database: the constraints a form can hit refuse with a French
message (not their name), the fields they name have French names, and the plurals read as French. Every operation
is a no-op in SQL (AlterConstraint, verbose names)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("parcours", "0037_participant_copied"),
        ("roles", "0004_membership_fits_organisation_kind"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="assessedcriterion",
            options={"verbose_name": "critère retenu", "verbose_name_plural": "critères retenus"},
        ),
        migrations.AlterModelOptions(
            name="eligibilityassessment",
            options={
                "ordering": ["-submitted_at"],
                "verbose_name": "évaluation d'éligibilité",
                "verbose_name_plural": "évaluations d'éligibilité",
            },
        ),
        migrations.AlterModelOptions(
            name="lothourssummary",
            options={"verbose_name": "heures comptées d'un lot", "verbose_name_plural": "heures comptées des lots"},
        ),
        migrations.AlterModelOptions(
            name="pathwayfiguressnapshot",
            options={
                "verbose_name": "chiffres des parcours d'une équipe",
                "verbose_name_plural": "chiffres des parcours des équipes",
            },
        ),
        migrations.AlterModelOptions(
            name="pathwaytally",
            options={"verbose_name": "décompte des parcours", "verbose_name_plural": "décomptes des parcours"},
        ),
        migrations.AlterModelOptions(
            name="workerheartbeat",
            options={"verbose_name": "battement d'un worker", "verbose_name_plural": "battements des workers"},
        ),
        migrations.AlterField(
            model_name="contractlot",
            name="contract",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lots",
                to="parcours.publiccontract",
                verbose_name="marché",
            ),
        ),
        migrations.AlterField(
            model_name="publiccontract",
            name="operation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="contracts",
                to="parcours.operation",
                verbose_name="opération",
            ),
        ),
        migrations.AlterField(
            model_name="workerheartbeat",
            name="beat_at",
            field=models.DateTimeField(db_index=True, verbose_name="dernier battement"),
        ),
        migrations.AlterField(
            model_name="workerheartbeat",
            name="name",
            field=models.CharField(max_length=200, unique=True, verbose_name="nom"),
        ),
        migrations.AlterField(
            model_name="workerheartbeat",
            name="started_at",
            field=models.DateTimeField(verbose_name="démarré le"),
        ),
        migrations.AlterField(
            model_name="workerheartbeat",
            name="sweeps",
            field=models.PositiveIntegerField(default=0, verbose_name="passages"),
        ),
        migrations.AlterConstraint(
            model_name="contractlot",
            name="lot_unique_number",
            constraint=models.UniqueConstraint(
                fields=("contract", "number"),
                name="lot_unique_number",
                violation_error_message="Ce marché a déjà un lot portant ce numéro.",
            ),
        ),
        migrations.AlterConstraint(
            model_name="contractlot",
            name="lot_execution_window",
            constraint=models.CheckConstraint(
                condition=models.Q(("execution_ends_on__gte", models.F("execution_starts_on"))),
                name="lot_execution_window",
                violation_error_message="La fin d'exécution ne peut pas précéder son début.",
            ),
        ),
        migrations.AlterConstraint(
            model_name="contractlot",
            name="lot_target_hours_positive",
            constraint=models.CheckConstraint(
                condition=models.Q(("target_hours__gte", 0)),
                name="lot_target_hours_positive",
                violation_error_message="Les heures d'insertion prévues ne peuvent pas être négatives.",
            ),
        ),
        migrations.AlterConstraint(
            model_name="joboffer",
            name="offer_closed_coherence",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("closed_at__isnull", True), ("is_open", True)),
                    models.Q(("closed_at__isnull", False), ("is_open", False)),
                    _connector="OR",
                ),
                name="offer_closed_coherence",
                violation_error_message="Une offre clôturée a une date de clôture, une offre ouverte n'en a pas.",
            ),
        ),
        migrations.AlterConstraint(
            model_name="joboffer",
            name="offer_positions_positive",
            constraint=models.CheckConstraint(
                condition=models.Q(("positions__gte", 1)),
                name="offer_positions_positive",
                violation_error_message="Une offre compte au moins un poste.",
            ),
        ),
        migrations.AlterConstraint(
            model_name="operation",
            name="operation_dates",
            constraint=models.CheckConstraint(
                condition=models.Q(("ends_on__gte", models.F("starts_on"))),
                name="operation_dates",
                violation_error_message="La fin de l'opération ne peut pas précéder son début.",
            ),
        ),
        migrations.AlterConstraint(
            model_name="publiccontract",
            name="contract_unique_reference",
            constraint=models.UniqueConstraint(
                fields=("operation", "reference"),
                name="contract_unique_reference",
                violation_error_message="Cette référence existe déjà dans cette opération.",
            ),
        ),
        migrations.AlterConstraint(
            model_name="publiccontract",
            name="contract_penalty_positive",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("penalty_per_missing_hour__isnull", True), ("penalty_per_missing_hour__gte", 0), _connector="OR"
                ),
                name="contract_penalty_positive",
                violation_error_message="La pénalité par heure manquante ne peut pas être négative.",
            ),
        ),
    ]

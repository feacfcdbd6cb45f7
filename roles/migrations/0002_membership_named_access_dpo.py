from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("roles", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="named_access",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Auditeur·rice d'un acheteur : voir l'identité des jeunes (sinon un pseudonyme), quand une charte "
                    "le prévoit. Chaque consultation reste journalisée."
                ),
                verbose_name="accès nominatif",
            ),
        ),
        migrations.AlterField(
            model_name="membership",
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
        migrations.RemoveConstraint(model_name="membership", name="membership_role_valid"),
        migrations.AddConstraint(
            model_name="membership",
            constraint=models.CheckConstraint(
                condition=models.Q(("role__in", ["adviser", "facilitator", "employer", "auditor", "dpo", "admin"])),
                name="membership_role_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="membership",
            constraint=models.CheckConstraint(
                condition=models.Q(("named_access", False), ("role", "auditor"), _connector="OR"),
                name="membership_named_access_auditor_only",
            ),
        ),
    ]

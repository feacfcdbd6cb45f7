"""What the admin's forms say, nothing in the database: an organisation's and a membership's constraints refuse with
a French message (not their name), and a membership's user and organisation have French names. Every operation is a
no-op in SQL (AlterConstraint, verbose names)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("roles", "0004_membership_fits_organisation_kind"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="membership",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, verbose_name="créée le"),
        ),
        migrations.AlterField(
            model_name="membership",
            name="organisation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="memberships",
                to="roles.organisation",
                verbose_name="organisation",
            ),
        ),
        migrations.AlterField(
            model_name="membership",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="memberships",
                to=settings.AUTH_USER_MODEL,
                verbose_name="utilisateur",
            ),
        ),
        migrations.AlterConstraint(
            model_name="membership",
            name="membership_unique_user_organisation",
            constraint=models.UniqueConstraint(
                fields=("user", "organisation"),
                name="membership_unique_user_organisation",
                violation_error_message="Cet utilisateur est déjà membre de cette organisation.",
            ),
        ),
        migrations.AlterConstraint(
            model_name="membership",
            name="membership_role_valid",
            constraint=models.CheckConstraint(
                condition=models.Q(("role__in", ["adviser", "facilitator", "employer", "auditor", "dpo", "admin"])),
                name="membership_role_valid",
                violation_error_message="Rôle inconnu.",
            ),
        ),
        migrations.AlterConstraint(
            model_name="membership",
            name="membership_named_access_auditor_only",
            constraint=models.CheckConstraint(
                condition=models.Q(("named_access", False), ("role", "auditor"), _connector="OR"),
                name="membership_named_access_auditor_only",
                violation_error_message="L'accès nominatif est réservé aux auditeur·rices.",
            ),
        ),
        migrations.AlterConstraint(
            model_name="organisation",
            name="organisation_kind_valid",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("kind__in", ["mission_locale", "facilitation", "employer", "authority", "platform"])
                ),
                name="organisation_kind_valid",
                violation_error_message="Type d'organisation inconnu.",
            ),
        ),
        migrations.AlterConstraint(
            model_name="organisation",
            name="organisation_reminder_before_expiry",
            constraint=models.CheckConstraint(
                condition=models.Q(("referral_reminder_days__lt", models.F("referral_expiry_days"))),
                name="organisation_reminder_before_expiry",
                violation_error_message="La relance des positionnements doit venir avant leur expiration.",
            ),
        ),
        migrations.AlterConstraint(
            model_name="organisation",
            name="organisation_statement_reminder_day_range",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("hours_statement_reminder_day__gte", 1), ("hours_statement_reminder_day__lte", 28)
                ),
                name="organisation_statement_reminder_day_range",
                violation_error_message="Le jour de relance des relevés d'heures est compris entre 1 et 28.",
            ),
        ),
        migrations.AlterConstraint(
            model_name="organisation",
            name="organisation_authority_kind_buyers_only",
            constraint=models.CheckConstraint(
                condition=models.Q(("authority_kind", ""), ("kind", "authority"), _connector="OR"),
                name="organisation_authority_kind_buyers_only",
                violation_error_message="Seul un acheteur public a un type d'acheteur.",
            ),
        ),
    ]

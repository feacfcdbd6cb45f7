from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from roles.choices import ChoiceLabels
from roles.enums import ROLES_BY_ORGANISATION_KIND, AuthorityKind, OrganisationKind, Role


class Organisation(ChoiceLabels, models.Model):
    name = models.CharField("nom", max_length=200, unique=True)
    kind = models.CharField("type", max_length=30, choices=OrganisationKind.choices)
    siret = models.CharField(
        "SIRET",
        max_length=14,
        blank=True,
        validators=[RegexValidator(r"^[0-9]{14}$", "Le SIRET compte 14 chiffres, sans espace.")],
    )
    territory = models.CharField("territoire", max_length=200, blank=True)
    # Object grants (django-guardian) are given to this group, never to individual users, so that a user
    # acting for another organisation never inherits them.
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="organisation", editable=False)
    partners = models.ManyToManyField(
        "self",
        symmetrical=True,
        blank=True,
        verbose_name="partenaires",
        help_text="Missions Locales et structures porteuses qui travaillent ensemble.",
    )
    # Referral timers (work layer), per facilitation organisation.
    referral_reminder_days = models.PositiveSmallIntegerField("relance des positionnements (jours)", default=7)
    referral_expiry_days = models.PositiveSmallIntegerField("expiration des positionnements (jours)", default=30)
    # Monthly hours statements (facilitation organisations): from this day of the following month, an employer
    # whose statement is missing is reminded (parcours.services.statements.remind_missing_statements).
    hours_statement_reminder_day = models.PositiveSmallIntegerField(
        "relance des relevés d'heures (jour du mois suivant)",
        default=10,
        db_default=10,
        help_text="À partir de ce jour du mois, l'employeur dont le relevé du mois précédent manque est relancé.",
    )
    # Public buyers: their kind, as the yearly consolidations of the networks count them.
    authority_kind = models.CharField(
        "type d'acheteur", max_length=20, choices=AuthorityKind.choices, blank=True, default="", db_default=""
    )

    class Meta:
        verbose_name = "organisation"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=OrganisationKind.values),
                name="organisation_kind_valid",
                violation_error_message="Type d'organisation inconnu.",
            ),
            models.CheckConstraint(
                condition=models.Q(referral_reminder_days__lt=models.F("referral_expiry_days")),
                name="organisation_reminder_before_expiry",
                violation_error_message="La relance des positionnements doit venir avant leur expiration.",
            ),
            models.CheckConstraint(
                condition=models.Q(hours_statement_reminder_day__gte=1, hours_statement_reminder_day__lte=28),
                name="organisation_statement_reminder_day_range",
                violation_error_message="Le jour de relance des relevés d'heures est compris entre 1 et 28.",
            ),
            models.CheckConstraint(
                condition=models.Q(authority_kind="") | models.Q(kind=OrganisationKind.AUTHORITY),
                name="organisation_authority_kind_buyers_only",
                violation_error_message="Seul un acheteur public a un type d'acheteur.",
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if self.group_id is None:
            self.group = Group.objects.create(name=f"organisation:{self.name}"[:150])
        super().save(*args, **kwargs)

    def clean(self):
        # The database refuses the same (roles.membership_kinds); this says it in the admin's form.
        if self.pk is None:
            return
        allowed = ROLES_BY_ORGANISATION_KIND.get(self.kind, set())
        foreign = set(self.memberships.exclude(role__in=allowed).values_list("role", flat=True))
        if foreign:
            labels = ", ".join(sorted(str(Role(role).label) for role in foreign))
            raise ValidationError(
                {
                    "kind": f"Des membres ont un rôle qui n'existe pas dans ce type d'organisation ({labels}) : "
                    "changez d'abord leur rôle."
                }
            )


class Membership(ChoiceLabels, models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name="utilisateur"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships", verbose_name="organisation"
    )
    role = models.CharField("rôle", max_length=20, choices=Role.choices)
    is_active = models.BooleanField("active", default=True)
    named_access = models.BooleanField(
        "accès nominatif",
        default=False,
        help_text=(
            "Auditeur·rice d'un acheteur : voir l'identité des jeunes (sinon un pseudonyme), quand une charte "
            "le prévoit. Chaque consultation reste journalisée."
        ),
    )
    created_at = models.DateTimeField("créée le", auto_now_add=True)

    class Meta:
        verbose_name = "appartenance"
        ordering = ["organisation__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation"],
                name="membership_unique_user_organisation",
                violation_error_message="Cet utilisateur est déjà membre de cette organisation.",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values),
                name="membership_role_valid",
                violation_error_message="Rôle inconnu.",
            ),
            models.CheckConstraint(
                condition=models.Q(named_access=False) | models.Q(role=Role.AUDITOR),
                name="membership_named_access_auditor_only",
                violation_error_message="L'accès nominatif est réservé aux auditeur·rices.",
            ),
        ]

    def __str__(self):
        return f"{self.user} — {self.get_role_display()} — {self.organisation}"

    def clean(self):
        try:
            organisation = self.organisation  # an inline's is its unsaved organisation
        except Organisation.DoesNotExist:
            return  # none chosen: the form reports the missing field itself
        allowed = ROLES_BY_ORGANISATION_KIND.get(organisation.kind, set())
        if self.role not in allowed:
            raise ValidationError({"role": "Ce rôle n'existe pas dans ce type d'organisation."})

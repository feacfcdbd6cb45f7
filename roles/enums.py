from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADVISER = "adviser", _("Conseiller·ère")
    FACILITATOR = "facilitator", _("Facilitateur·rice")
    EMPLOYER = "employer", _("Employeur")
    AUDITOR = "auditor", _("Auditeur·rice")
    DPO = "dpo", _("Délégué·e à la protection des données")
    ADMIN = "admin", _("Administrateur·rice")


class OrganisationKind(models.TextChoices):
    MISSION_LOCALE = "mission_locale", _("Mission Locale")
    FACILITATION = "facilitation", _("Structure porteuse de la clause (PLIE, MDE, collectivité)")
    EMPLOYER = "employer", _("Employeur")
    AUTHORITY = "authority", _("Acheteur public")
    PLATFORM = "platform", _("Plateforme")


class AuthorityKind(models.TextChoices):
    """Kinds of public buyers, as the networks' yearly consolidations count them."""

    STATE = "state", _("État et établissements publics de l'État")
    REGION = "region", _("Région")
    DEPARTMENT = "department", _("Département")
    MUNICIPALITY = "municipality", _("Commune")
    INTERMUNICIPAL = "intermunicipal", _("Intercommunalité (EPCI, métropole)")
    SOCIAL_LANDLORD = "social_landlord", _("Bailleur social")
    HOSPITAL = "hospital", _("Établissement de santé")
    PUBLIC_COMPANY = "public_company", _("Entreprise publique (SNCF, RATP…)")
    OTHER = "other", _("Autre acheteur")


# Which roles make sense in which kind of organisation; memberships outside this table are refused.
ROLES_BY_ORGANISATION_KIND = {
    OrganisationKind.MISSION_LOCALE: {Role.ADVISER, Role.DPO},
    OrganisationKind.FACILITATION: {Role.FACILITATOR, Role.AUDITOR, Role.DPO},
    OrganisationKind.EMPLOYER: {Role.EMPLOYER, Role.DPO},
    OrganisationKind.AUTHORITY: {Role.AUDITOR, Role.DPO},
    OrganisationKind.PLATFORM: {Role.ADMIN, Role.AUDITOR, Role.DPO},
}


def kinds_with(role) -> list[str]:
    """The kinds of organisation in which `role` has members (ROLES_BY_ORGANISATION_KIND), sorted."""
    return sorted(kind.value for kind, roles in ROLES_BY_ORGANISATION_KIND.items() if role in roles)

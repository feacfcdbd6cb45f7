from django.db import models


class Role(models.TextChoices):
    ADVISER = "adviser", "Conseiller·ère"
    FACILITATOR = "facilitator", "Facilitateur·rice"
    EMPLOYER = "employer", "Employeur"
    AUDITOR = "auditor", "Auditeur·rice"
    DPO = "dpo", "Délégué·e à la protection des données"
    ADMIN = "admin", "Administrateur·rice"


class OrganisationKind(models.TextChoices):
    MISSION_LOCALE = "mission_locale", "Mission Locale"
    FACILITATION = "facilitation", "Structure porteuse de la clause (PLIE, MDE, collectivité)"
    EMPLOYER = "employer", "Employeur"
    AUTHORITY = "authority", "Acheteur public"
    PLATFORM = "platform", "Plateforme"


class AuthorityKind(models.TextChoices):
    """Kinds of public buyers, as the networks' yearly consolidations count them."""

    STATE = "state", "État et établissements publics de l'État"
    REGION = "region", "Région"
    DEPARTMENT = "department", "Département"
    MUNICIPALITY = "municipality", "Commune"
    INTERMUNICIPAL = "intermunicipal", "Intercommunalité (EPCI, métropole)"
    SOCIAL_LANDLORD = "social_landlord", "Bailleur social"
    HOSPITAL = "hospital", "Établissement de santé"
    PUBLIC_COMPANY = "public_company", "Entreprise publique (SNCF, RATP…)"
    OTHER = "other", "Autre acheteur"


# Which roles make sense in which kind of organisation; memberships outside this table are refused.
ROLES_BY_ORGANISATION_KIND = {
    OrganisationKind.MISSION_LOCALE: {Role.ADVISER, Role.DPO},
    OrganisationKind.FACILITATION: {Role.FACILITATOR, Role.AUDITOR, Role.DPO},
    OrganisationKind.EMPLOYER: {Role.EMPLOYER, Role.DPO},
    OrganisationKind.AUTHORITY: {Role.AUDITOR, Role.DPO},
    OrganisationKind.PLATFORM: {Role.ADMIN, Role.AUDITOR, Role.DPO},
}

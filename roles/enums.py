from django.db import models


class Role(models.TextChoices):
    ADVISER = "adviser", "Conseiller·ère"
    FACILITATOR = "facilitator", "Facilitateur·rice"
    EMPLOYER = "employer", "Employeur"
    AUDITOR = "auditor", "Auditeur·rice"
    ADMIN = "admin", "Administrateur·rice"


class OrganisationKind(models.TextChoices):
    MISSION_LOCALE = "mission_locale", "Mission Locale"
    FACILITATION = "facilitation", "Structure porteuse de la clause (PLIE, MDE, collectivité)"
    EMPLOYER = "employer", "Employeur"
    AUTHORITY = "authority", "Acheteur public"
    PLATFORM = "platform", "Plateforme"


# Which roles make sense in which kind of organisation; memberships outside this table are refused.
ROLES_BY_ORGANISATION_KIND = {
    OrganisationKind.MISSION_LOCALE: {Role.ADVISER},
    OrganisationKind.FACILITATION: {Role.FACILITATOR, Role.AUDITOR},
    OrganisationKind.EMPLOYER: {Role.EMPLOYER},
    OrganisationKind.AUTHORITY: {Role.AUDITOR},
    OrganisationKind.PLATFORM: {Role.ADMIN, Role.AUDITOR},
}

"""The words of the domain (Django TextChoices): the values stored in the case data and offered by the transition
inputs, with their French labels. States are in workflows/states.py. Below everything: imports only Django."""

from django.db import models


class Programme(models.TextChoices):
    CEJ = "cej", "Contrat d'engagement jeune (CEJ)"
    PACEA = "pacea", "PACEA"
    PLIE = "plie", "PLIE"
    NONE = "none", "Aucun"


class QualificationLevel(models.TextChoices):
    INFRA_3 = "infra_3", "Sans diplôme (infra niveau 3)"
    LEVEL_3 = "level_3", "CAP / BEP (niveau 3)"
    LEVEL_4 = "level_4", "Baccalauréat (niveau 4)"
    LEVEL_5_PLUS = "level_5_plus", "Bac+2 et plus (niveau 5+)"


class LegalLever(models.TextChoices):
    EXECUTION_CONDITION = "L2112-2", "Condition d'exécution (L2112-2)"
    RESERVED_DISABILITY = "L2113-12", "Marché réservé EA/ESAT (L2113-12)"
    RESERVED_SIAE = "L2113-13", "Marché réservé SIAE (L2113-13)"
    AWARD_CRITERION = "R2152-7", "Critère d'attribution (R2152-7)"
    INSERTION_CONTRACT = "R2123-1", "Marché d'insertion (R2123-1)"


class SizingMethod(models.TextChoices):
    LABOUR_SHARE = "labour_share", "Part de main-d'œuvre"
    PER_AMOUNT = "per_amount", "Heures par montant"
    FIXED = "fixed", "Forfait"


class FulfilmentMode(models.TextChoices):
    DIRECT_HIRE = "direct_hire", "Embauche directe"
    STAFF_PROVISION_SIAE = "staff_provision_siae", "Mise à disposition (ETTI / AI)"
    STAFF_PROVISION_GEIQ = "staff_provision_geiq", "Mise à disposition (GEIQ)"
    STAFF_PROVISION_TEMP_AGENCY = "staff_provision_temp_agency", "Mise à disposition (ETT)"
    SUBCONTRACT_INCLUSIVE = "subcontract_inclusive", "Sous-traitance / co-traitance inclusive"
    TRAINING = "training", "Action de formation"


class ContractType(models.TextChoices):
    CDI = "cdi", "CDI"
    CDD = "cdd", "CDD"
    INTERIM = "interim", "Intérim"
    PROFESSIONALISATION = "professionalisation", "Contrat de professionnalisation"
    APPRENTICESHIP = "apprenticeship", "Apprentissage"


class PlacementEndKind(models.TextChoices):
    NORMAL = "normal", "Fin normale"
    EARLY = "early", "Fin anticipée"


class ExitCategory(models.TextChoices):
    """The four families of exits (DGEFP/IAE taxonomy) that exit rates are computed on."""

    DURABLE_EMPLOYMENT = "durable_employment", "Emploi durable"
    TRANSITIONAL_EMPLOYMENT = "transitional_employment", "Emploi de transition"
    POSITIVE_EXIT = "positive_exit", "Sortie positive"
    OTHER_EXIT = "other_exit", "Autre sortie"


class ExitSituation(models.TextChoices):
    """The situations a Mission Locale records at an exit (and six months later); each belongs to one family."""

    CDI = "cdi", "Emploi — CDI"
    CDD_LONG = "cdd_long", "Emploi — CDD ou intérim de 6 mois et plus"
    CDD_SHORT = "cdd_short", "Emploi — CDD ou intérim de moins de 6 mois"
    SUBSIDISED_CONTRACT = "subsidised_contract", "Emploi — contrat aidé (PEC)"
    BUSINESS_CREATION = "business_creation", "Création d'entreprise"
    CIVIL_SERVICE = "civil_service", "Entrée dans la fonction publique"
    APPRENTICESHIP = "apprenticeship", "Contrat d'apprentissage"
    PROFESSIONALISATION = "professionalisation", "Contrat de professionnalisation"
    QUALIFYING_TRAINING = "qualifying_training", "Formation qualifiante"
    PRE_QUALIFYING_TRAINING = "pre_qualifying_training", "Formation pré-qualifiante ou préparatoire"
    INCLUSIVE_EMPLOYER = "inclusive_employer", "Embauche en SIAE ou en GEIQ"
    CIVIC_SERVICE = "civic_service", "Service civique"
    BACK_TO_SCHOOL = "back_to_school", "Retour en formation initiale"
    JOBSEEKER = "jobseeker", "Demandeur·se d'emploi"
    INACTIVE = "inactive", "Inactivité (santé, maternité, autre)"
    MOVED = "moved", "Déménagement"
    NO_NEWS = "no_news", "Sans nouvelles"


# Each Mission Locale situation counts in one family of exits (durable employment = contract of 6 months or more).
EXIT_SITUATION_CATEGORY = {
    ExitSituation.CDI: ExitCategory.DURABLE_EMPLOYMENT,
    ExitSituation.CDD_LONG: ExitCategory.DURABLE_EMPLOYMENT,
    ExitSituation.BUSINESS_CREATION: ExitCategory.DURABLE_EMPLOYMENT,
    ExitSituation.CIVIL_SERVICE: ExitCategory.DURABLE_EMPLOYMENT,
    ExitSituation.CDD_SHORT: ExitCategory.TRANSITIONAL_EMPLOYMENT,
    ExitSituation.SUBSIDISED_CONTRACT: ExitCategory.TRANSITIONAL_EMPLOYMENT,
    ExitSituation.APPRENTICESHIP: ExitCategory.POSITIVE_EXIT,
    ExitSituation.PROFESSIONALISATION: ExitCategory.POSITIVE_EXIT,
    ExitSituation.QUALIFYING_TRAINING: ExitCategory.POSITIVE_EXIT,
    ExitSituation.PRE_QUALIFYING_TRAINING: ExitCategory.POSITIVE_EXIT,
    ExitSituation.INCLUSIVE_EMPLOYER: ExitCategory.POSITIVE_EXIT,
    ExitSituation.CIVIC_SERVICE: ExitCategory.POSITIVE_EXIT,
    ExitSituation.BACK_TO_SCHOOL: ExitCategory.POSITIVE_EXIT,
    ExitSituation.JOBSEEKER: ExitCategory.OTHER_EXIT,
    ExitSituation.INACTIVE: ExitCategory.OTHER_EXIT,
    ExitSituation.MOVED: ExitCategory.OTHER_EXIT,
    ExitSituation.NO_NEWS: ExitCategory.OTHER_EXIT,
}


class Sex(models.TextChoices):
    """Optional, declared by the young person; only used for the share of women (clause and ESF indicators)."""

    FEMALE = "F", "Femme"
    MALE = "M", "Homme"
    NOT_STATED = "", "Non renseigné"


class StatementSource(models.TextChoices):
    PAGE = "page", "Saisie dans la page"
    UPLOAD = "upload", "Fichier déposé"
    API = "api", "API"


class AssessmentDecision(models.TextChoices):
    PENDING = "pending", "À valider"
    ACCEPTED = "accepted", "Validée"
    REJECTED = "rejected", "Refusée"


class FollowUpKind(models.TextChoices):
    INTERVIEW = "interview", "Entretien"
    PHONE = "phone", "Appel"
    COMPANY_VISIT = "company_visit", "Visite en entreprise"
    CHECK = "check", "Point d'étape"


class ProofKind(models.TextChoices):
    ATTESTATION = "attestation", "Attestation"
    IDENTITY = "identity", "Pièce d'identité"
    DIPLOMA = "diploma", "Diplôme / déclaration sur l'honneur"
    ADDRESS = "address", "Justificatif de domicile"
    NOTIFICATION = "notification", "Notification de droits"
    OTHER = "other", "Autre"


class AccessChannel(models.TextChoices):
    PAGE = "page", "Page"
    API = "api", "API"
    EXPORT = "export", "Export"
    ADMIN = "admin", "Administration"

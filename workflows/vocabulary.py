"""The words of the domain (Django TextChoices): the values stored in the case data and offered by the transition
inputs, with their French labels. States are in workflows/states.py. Below everything: imports only Django."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Programme(models.TextChoices):
    CEJ = "cej", _("Contrat d'engagement jeune (CEJ)")
    PACEA = "pacea", _("PACEA")
    PLIE = "plie", _("PLIE")
    NONE = "none", _("Aucun")


class QualificationLevel(models.TextChoices):
    INFRA_3 = "infra_3", _("Sans diplôme (infra niveau 3)")
    LEVEL_3 = "level_3", _("CAP / BEP (niveau 3)")
    LEVEL_4 = "level_4", _("Baccalauréat (niveau 4)")
    LEVEL_5_PLUS = "level_5_plus", _("Bac+2 et plus (niveau 5+)")


class LegalLever(models.TextChoices):
    EXECUTION_CONDITION = "L2112-2", _("Condition d'exécution (L2112-2)")
    RESERVED_DISABILITY = "L2113-12", _("Marché réservé EA/ESAT (L2113-12)")
    RESERVED_SIAE = "L2113-13", _("Marché réservé SIAE (L2113-13)")
    AWARD_CRITERION = "R2152-7", _("Critère d'attribution (R2152-7)")
    INSERTION_CONTRACT = "R2123-1", _("Marché d'insertion (R2123-1)")


class SizingMethod(models.TextChoices):
    LABOUR_SHARE = "labour_share", _("Part de main-d'œuvre")
    PER_AMOUNT = "per_amount", _("Heures par montant")
    FIXED = "fixed", _("Forfait")


class FulfilmentMode(models.TextChoices):
    DIRECT_HIRE = "direct_hire", _("Embauche directe")
    STAFF_PROVISION_SIAE = "staff_provision_siae", _("Mise à disposition (ETTI / AI)")
    STAFF_PROVISION_GEIQ = "staff_provision_geiq", _("Mise à disposition (GEIQ)")
    STAFF_PROVISION_TEMP_AGENCY = "staff_provision_temp_agency", _("Mise à disposition (ETT)")
    SUBCONTRACT_INCLUSIVE = "subcontract_inclusive", _("Sous-traitance / co-traitance inclusive")
    TRAINING = "training", _("Action de formation")


class ContractType(models.TextChoices):
    CDI = "cdi", _("CDI")
    CDD = "cdd", _("CDD")
    INTERIM = "interim", _("Intérim")
    PROFESSIONALISATION = "professionalisation", _("Contrat de professionnalisation")
    APPRENTICESHIP = "apprenticeship", _("Apprentissage")


class PlacementEndKind(models.TextChoices):
    NORMAL = "normal", _("Fin normale")
    EARLY = "early", _("Fin anticipée")


class ExitCategory(models.TextChoices):
    """The four families of exits (DGEFP/IAE taxonomy) that exit rates are computed on."""

    DURABLE_EMPLOYMENT = "durable_employment", _("Emploi durable")
    TRANSITIONAL_EMPLOYMENT = "transitional_employment", _("Emploi de transition")
    POSITIVE_EXIT = "positive_exit", _("Sortie positive")
    OTHER_EXIT = "other_exit", _("Autre sortie")


class ExitSituation(models.TextChoices):
    """The situations a Mission Locale records at an exit (and six months later); each belongs to one family."""

    CDI = "cdi", _("Emploi — CDI")
    CDD_LONG = "cdd_long", _("Emploi — CDD ou intérim de 6 mois et plus")
    CDD_SHORT = "cdd_short", _("Emploi — CDD ou intérim de moins de 6 mois")
    SUBSIDISED_CONTRACT = "subsidised_contract", _("Emploi — contrat aidé (PEC)")
    BUSINESS_CREATION = "business_creation", _("Création d'entreprise")
    CIVIL_SERVICE = "civil_service", _("Entrée dans la fonction publique")
    APPRENTICESHIP = "apprenticeship", _("Contrat d'apprentissage")
    PROFESSIONALISATION = "professionalisation", _("Contrat de professionnalisation")
    QUALIFYING_TRAINING = "qualifying_training", _("Formation qualifiante")
    PRE_QUALIFYING_TRAINING = "pre_qualifying_training", _("Formation pré-qualifiante ou préparatoire")
    INCLUSIVE_EMPLOYER = "inclusive_employer", _("Embauche en SIAE ou en GEIQ")
    CIVIC_SERVICE = "civic_service", _("Service civique")
    BACK_TO_SCHOOL = "back_to_school", _("Retour en formation initiale")
    JOBSEEKER = "jobseeker", _("Demandeur·se d'emploi")
    INACTIVE = "inactive", _("Inactivité (santé, maternité, autre)")
    MOVED = "moved", _("Déménagement")
    NO_NEWS = "no_news", _("Sans nouvelles")


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

    FEMALE = "F", _("Femme")
    MALE = "M", _("Homme")
    NOT_STATED = "", _("Non renseigné")


class StatementSource(models.TextChoices):
    PAGE = "page", _("Saisie dans la page")
    UPLOAD = "upload", _("Fichier déposé")
    API = "api", _("API")


class AssessmentDecision(models.TextChoices):
    PENDING = "pending", _("À valider")
    ACCEPTED = "accepted", _("Validée")
    REJECTED = "rejected", _("Refusée")


class FollowUpKind(models.TextChoices):
    INTERVIEW = "interview", _("Entretien")
    PHONE = "phone", _("Appel")
    COMPANY_VISIT = "company_visit", _("Visite en entreprise")
    CHECK = "check", _("Point d'étape")


class ProofKind(models.TextChoices):
    ATTESTATION = "attestation", _("Attestation")
    IDENTITY = "identity", _("Pièce d'identité")
    DIPLOMA = "diploma", _("Diplôme / déclaration sur l'honneur")
    ADDRESS = "address", _("Justificatif de domicile")
    NOTIFICATION = "notification", _("Notification de droits")
    OTHER = "other", _("Autre")


class AccessChannel(models.TextChoices):
    PAGE = "page", _("Page")
    API = "api", _("API")
    EXPORT = "export", _("Export")
    ADMIN = "admin", _("Administration")

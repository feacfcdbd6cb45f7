from django.db import models


class PathwayState(models.TextChoices):
    INTAKE = "intake", "Accueil"
    ELIGIBILITY_PENDING = "eligibility_pending", "Éligibilité à valider"
    ELIGIBLE = "eligible", "Éligible"
    INELIGIBLE = "ineligible", "Non éligible"
    REFERRED = "referred", "Positionné·e"
    PLACED = "placed", "En poste"
    IN_FOLLOW_UP = "in_follow_up", "En suivi"
    EXITED = "exited", "Sorti·e"
    WITHDRAWN = "withdrawn", "Abandon"
    LOST_CONTACT = "lost_contact", "Perdu de vue"


PATHWAY_OPEN_STATES = [
    PathwayState.INTAKE,
    PathwayState.ELIGIBILITY_PENDING,
    PathwayState.ELIGIBLE,
    PathwayState.REFERRED,
    PathwayState.PLACED,
    PathwayState.IN_FOLLOW_UP,
]
PATHWAY_CLOSED_STATES = [
    PathwayState.INELIGIBLE,
    PathwayState.EXITED,
    PathwayState.WITHDRAWN,
    PathwayState.LOST_CONTACT,
]


class ReferralState(models.TextChoices):
    SENT = "sent", "Envoyé"
    UNDER_REVIEW = "under_review", "En examen"
    APPROVED = "approved", "Validé par le facilitateur"
    FORWARDED = "forwarded", "Transmis à l'employeur"
    ACCEPTED = "accepted", "Retenu par l'employeur"
    HIRED = "hired", "Embauché·e"
    DECLINED = "declined", "Non validé"
    REFUSED = "refused", "Refusé par l'employeur"
    CANCELLED = "cancelled", "Annulé"
    EXPIRED = "expired", "Expiré"


REFERRAL_OPEN_STATES = [
    ReferralState.SENT,
    ReferralState.UNDER_REVIEW,
    ReferralState.APPROVED,
    ReferralState.FORWARDED,
    ReferralState.ACCEPTED,
]
REFERRAL_FORWARDED_STATES = [
    ReferralState.FORWARDED,
    ReferralState.ACCEPTED,
    ReferralState.REFUSED,
    ReferralState.HIRED,
]
REFERRAL_REASONED_STATES = [ReferralState.DECLINED, ReferralState.REFUSED, ReferralState.CANCELLED]


class PlacementState(models.TextChoices):
    PLANNED = "planned", "Prévue"
    ACTIVE = "active", "En cours"
    ENDED = "ended", "Terminée"
    CANCELLED = "cancelled", "Non commencée"


class HoursLineState(models.TextChoices):
    DECLARED = "declared", "Déclaré"
    VALIDATED = "validated", "Validé"
    REJECTED = "rejected", "Rejeté"
    LOCKED = "locked", "Clôturé"

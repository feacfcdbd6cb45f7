from django.db import models
from django.utils.translation import gettext_lazy as _


class PathwayState(models.TextChoices):
    INTAKE = "intake", _("Accueil")
    ELIGIBILITY_PENDING = "eligibility_pending", _("Éligibilité à valider")
    ELIGIBLE = "eligible", _("Éligible")
    INELIGIBLE = "ineligible", _("Non éligible")
    REFERRED = "referred", _("Positionné·e")
    PLACED = "placed", _("En poste")
    IN_FOLLOW_UP = "in_follow_up", _("En suivi")
    EXITED = "exited", _("Sorti·e")
    WITHDRAWN = "withdrawn", _("Abandon")
    LOST_CONTACT = "lost_contact", _("Perdu de vue")


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
    SENT = "sent", _("Envoyé")
    UNDER_REVIEW = "under_review", _("En examen")
    APPROVED = "approved", _("Validé par le facilitateur")
    FORWARDED = "forwarded", _("Transmis à l'employeur")
    ACCEPTED = "accepted", _("Retenu par l'employeur")
    HIRED = "hired", _("Embauché·e")
    DECLINED = "declined", _("Non validé")
    REFUSED = "refused", _("Refusé par l'employeur")
    CANCELLED = "cancelled", _("Annulé")
    EXPIRED = "expired", _("Expiré")


REFERRAL_OPEN_STATES = [
    ReferralState.SENT,
    ReferralState.UNDER_REVIEW,
    ReferralState.APPROVED,
    ReferralState.FORWARDED,
    ReferralState.ACCEPTED,
]
# Before the employer: the facilitator's to review (its referrals page and home).
REFERRAL_REVIEW_STATES = [ReferralState.SENT, ReferralState.UNDER_REVIEW, ReferralState.APPROVED]
REFERRAL_FORWARDED_STATES = [
    ReferralState.FORWARDED,
    ReferralState.ACCEPTED,
    ReferralState.REFUSED,
    ReferralState.HIRED,
]
REFERRAL_REASONED_STATES = [ReferralState.DECLINED, ReferralState.REFUSED, ReferralState.CANCELLED]


class PlacementState(models.TextChoices):
    PLANNED = "planned", _("Prévue")
    ACTIVE = "active", _("En cours")
    ENDED = "ended", _("Terminée")
    CANCELLED = "cancelled", _("Non commencée")


class HoursLineState(models.TextChoices):
    DECLARED = "declared", _("Déclaré")
    VALIDATED = "validated", _("Validé")
    REJECTED = "rejected", _("Rejeté")
    LOCKED = "locked", _("Clôturé")

"""The navigation menu per role (URL names; every entry must resolve — tests/web checks it)."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from roles.enums import Role

MENU = {
    Role.ADVISER: [("adviser:participants", _("Jeunes")), ("adviser:offers", _("Offres"))],
    Role.FACILITATOR: [
        ("facilitator:referrals", _("Positionnements")),
        ("facilitator:eligibility", _("Éligibilité")),
        ("facilitator:register", _("Registre des clauses")),
        ("reports:dashboard", _("Tableau de bord")),
        ("facilitator:months", _("Mois à clôturer")),
        ("facilitator:hours", _("Heures")),
    ],
    Role.EMPLOYER: [
        ("employer:candidates", _("Candidatures")),
        ("employer:placements", _("Salarié·es")),
        ("employer:statements", _("Relevés d'heures")),
        ("employer:offers", _("Mes offres")),
    ],
    Role.AUDITOR: [("auditor:pathways", _("Parcours")), ("reports:dashboard", _("Tableau de bord"))],
    Role.DPO: [
        ("dataprotection:access_log", _("Consultations des dossiers")),
        ("dataprotection:rights_log", _("Comptes et droits")),
    ],
    Role.ADMIN: [],
}
COMMON = [("work:inbox", _("Mes tâches")), ("notifications", _("Notifications")), ("workflow_diagrams", _("Circuits"))]


def menu_for(actor):
    if actor is None:
        return []
    items = []
    for name, label in MENU.get(actor.role, []) + COMMON:
        try:
            items.append((reverse(name), label, name))
        except NoReverseMatch:
            continue
    return items

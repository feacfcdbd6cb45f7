"""The navigation menu per role (URL names; every entry must resolve — tests/web checks it)."""

from django.urls import NoReverseMatch, reverse

from roles.enums import Role

MENU = {
    Role.ADVISER: [("adviser:participants", "Jeunes"), ("adviser:offers", "Offres")],
    Role.FACILITATOR: [
        ("facilitator:referrals", "Positionnements"),
        ("facilitator:eligibility", "Éligibilité"),
        ("facilitator:register", "Registre des clauses"),
        ("reports:dashboard", "Tableau de bord"),
        ("facilitator:months", "Mois à clôturer"),
        ("facilitator:hours", "Heures"),
    ],
    Role.EMPLOYER: [
        ("employer:candidates", "Candidatures"),
        ("employer:placements", "Salarié·es"),
        ("employer:statements", "Relevés d'heures"),
        ("employer:offers", "Mes offres"),
    ],
    Role.AUDITOR: [("auditor:pathways", "Parcours"), ("reports:dashboard", "Tableau de bord")],
    Role.DPO: [("dataprotection:access_log", "Consultations des dossiers")],
    Role.ADMIN: [],
}
COMMON = [("work:inbox", "Mes tâches"), ("notifications", "Notifications"), ("workflow_diagrams", "Circuits")]


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

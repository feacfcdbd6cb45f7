"""`python manage.py seed_demo`: a realistic demonstration data set, written only through the services.

Every young person's story runs under a travelling clock (time-machine): intake some months ago, eligibility a
few days later, referral, hire, start, monthly hours, follow-ups, end, exit… so that each guard based on
today's date holds at the time of each step, and the journal tells a history spread over the last months.
Nothing is written around the services: every object has its journal, every chain verifies.

The work layer's timers (reminders, expiries, follow-up reminders) fire inside that clock, each at its own moment,
exactly as the timer worker would have fired them: when `make run` starts the worker, nothing is overdue that the
demo did not mean to be. The stories are dated so that each role finds a few items waiting for it, recent enough
not to be late — and one candidate is left waiting on purpose (LATE_ON_PURPOSE), its reminder sent.

Idempotent: when the demo adviser `conseillere` exists, the command says so and creates nothing.
"""

import datetime
import functools
import random
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from tqdm import tqdm
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from parcours import notifications
from parcours.audit import verify_journal
from parcours.dates import add_months, last_day_of_month, previous_month
from parcours.models import (
    Exit,
    FollowUp,
    HoursLine,
    HoursStatement,
    JobOffer,
    Participant,
    Pathway,
    Placement,
    Referral,
)
from parcours.services.data_protection import participant_record_notice
from parcours.services.followups import followup_record
from parcours.services.participants import participant_create
from parcours.services.pathways import (
    pathway_exit,
    pathway_mark_lost_contact,
    pathway_reject_eligibility,
    pathway_reopen,
    pathway_submit_eligibility,
    pathway_validate_eligibility,
    pathway_withdraw,
)
from parcours.services.placements import (
    placement_cancel,
    placement_end,
    placement_start,
)
from parcours.services.referrals import (
    referral_accept,
    referral_approve,
    referral_cancel,
    referral_create,
    referral_decline,
    referral_forward,
    referral_hire,
    referral_refuse,
    referral_start_review,
)
from parcours.services.register import contract_create, lot_create, offer_close, offer_create, operation_create
from parcours.services.statements import (
    hours_lines_decide,
    remind_missing_statements,
    statement_close_month,
    statement_submit,
)
from parcours.work.models import OPEN_TASK_STATUSES, WorkTask
from parcours.work.timers import fire_due
from roles.actor import Actor
from roles.enums import OrganisationKind, Role
from roles.models import Membership, Organisation
from workflows.errors import DomainError
from workflows.journal import take_checkpoint
from workflows.models import JournalEvent
from workflows.states import HoursLineState, PathwayState, PlacementState, ReferralState
from workflows.vocabulary import (
    ContractType,
    ExitCategory,
    ExitSituation,
    FollowUpKind,
    FulfilmentMode,
    LegalLever,
    PlacementEndKind,
    Programme,
    ProofKind,
    QualificationLevel,
    Sex,
    SizingMethod,
)

MARKER_USERNAME = "conseillere"
PASSWORD = "demo"
RANDOM_SEED = 20240917

# fmt: off
# --- Organisations and people ----------------------------------------------------------------------------------
ML_A = "Mission Locale A — Lyon Sud-Est (Vénissieux, Saint-Fons, Saint-Priest)"
ML_B = "Mission Locale B — Lyon Nord-Est (Vaulx-en-Velin, Rillieux-la-Pape)"
FACILITATION = "Maison de l'emploi et PLIE Lyon Sud-Est"
EMPLOYER_1 = "Bâtir Rhône Construction"
EMPLOYER_2 = "Durand Second Œuvre"
BUYER = "Ville de Vénissieux"
BUYER_B = "Lyon Métropole Habitat"
PLATFORM = "Plateforme Parcours"

ORGANISATIONS = [
    # (key, name, kind, SIRET, territory)
    ("ml_a", ML_A, OrganisationKind.MISSION_LOCALE, "41896532100027",
     "Vénissieux, Saint-Fons, Saint-Priest, Feyzin, Corbas"),
    ("ml_b", ML_B, OrganisationKind.MISSION_LOCALE, "42377615800019",
     "Vaulx-en-Velin, Rillieux-la-Pape, Décines, Meyzieu"),
    ("facilitation", FACILITATION, OrganisationKind.FACILITATION, "50215478900034", "Lyon Sud-Est"),
    ("employer_1", EMPLOYER_1, OrganisationKind.EMPLOYER, "38245196700051", "Rhône"),
    ("employer_2", EMPLOYER_2, OrganisationKind.EMPLOYER, "44913287600018", "Rhône"),
    ("buyer", BUYER, OrganisationKind.AUTHORITY, "21690259300011", "Vénissieux"),
    ("buyer_b", BUYER_B, OrganisationKind.AUTHORITY, "27690001300016", "Métropole de Lyon"),
    ("platform", PLATFORM, OrganisationKind.PLATFORM, "", ""),
]

USERS = [
    # (username, first name, last name, organisation key, role)
    ("conseillere", "Claire", "Dumont", "ml_a", Role.ADVISER),
    ("conseiller.b", "Karim", "Haddou", "ml_b", Role.ADVISER),
    ("facilitateur", "Julien", "Morin", "facilitation", Role.FACILITATOR),
    ("employeur", "Sophie", "Lacroix", "employer_1", Role.EMPLOYER),
    ("employeur.b", "Thierry", "Vidal", "employer_2", Role.EMPLOYER),
    ("auditeur", "Hélène", "Perret", "buyer", Role.AUDITOR),
    ("auditeur.b", "Nadia", "Roche", "buyer_b", Role.AUDITOR),
    ("dpo", "Pascale", "Giraud", "ml_a", Role.DPO),
    ("admin", "Marc", "Olivier", "platform", Role.ADMIN),
]

COMMUNES = {
    "A": [("Vénissieux", "69200"), ("Saint-Fons", "69190"), ("Saint-Priest", "69800"), ("Feyzin", "69320"),
          ("Corbas", "69960"), ("Bron", "69500"), ("Mions", "69780")],
    "B": [("Vaulx-en-Velin", "69120"), ("Rillieux-la-Pape", "69140"), ("Décines-Charpieu", "69150"),
          ("Meyzieu", "69330"), ("Villeurbanne", "69100")],
}

PEOPLE = [
    ("Inès", "Benali"), ("Lucas", "Martin"), ("Yanis", "Haddad"), ("Chloé", "Lefèvre"), ("Mamadou", "Diallo"),
    ("Emma", "Rousseau"), ("Kévin", "Moreau"), ("Sarah", "Cohen"), ("Enzo", "Garcia"), ("Aïcha", "Traoré"),
    ("Théo", "Bernard"), ("Léa", "Fontaine"), ("Rayan", "Mansouri"), ("Manon", "Girard"), ("Nathan", "Petit"),
    ("Fatoumata", "Coulibaly"), ("Hugo", "Lambert"), ("Camille", "Nguyen"), ("Bilal", "Cherif"), ("Jade", "Morel"),
    ("Dylan", "Fernandes"), ("Océane", "Dubois"), ("Mohamed", "Kaci"), ("Clara", "Mercier"), ("Axel", "Robin"),
    ("Nour", "El Amrani"), ("Maxime", "Leroy"), ("Anaïs", "Gauthier"), ("Ibrahim", "Sow"), ("Laura", "Chevalier"),
    ("Mathis", "Durand"), ("Yasmine", "Belkacem"), ("Jordan", "Lopez"), ("Lina", "Bouzid"), ("Tom", "Faure"),
    ("Awa", "Keita"), ("Adam", "Roux"), ("Sofia", "Pereira"), ("Samuel", "Blanc"), ("Maëlys", "André"),
    ("Ilyes", "Saïdi"), ("Lou", "Marchand"), ("Noah", "Vincent"), ("Kenza", "Ziani"), ("Louis", "Perrin"),
    ("Mariam", "Camara"), ("Romain", "Caron"), ("Zoé", "Lemaire"), ("Ousmane", "Ba"), ("Eva", "Da Silva"),
    ("Sami", "Rahmani"), ("Margaux", "Leclerc"), ("Idriss", "Touré"),
]
# Declared sex (optional, for the share of women in the clause and ESF indicators): these first names are women's;
# every ninth young person did not state it.
WOMEN = {
    "Inès", "Chloé", "Emma", "Sarah", "Aïcha", "Léa", "Manon", "Fatoumata", "Camille", "Jade", "Océane", "Clara",
    "Nour", "Anaïs", "Laura", "Yasmine", "Lina", "Awa", "Sofia", "Maëlys", "Lou", "Kenza", "Mariam", "Zoé", "Eva",
    "Margaux",
}

# --- The clause register (days are relative to today) -----------------------------------------------------------
LOTS = [
    # key, contract index, number, title, trade, amount, sizing, execution (from, to), awardee, modes
    dict(key="gros_oeuvre", contract=0, number=1, title="Gros œuvre — démolition, maçonnerie", trade="Maçonnerie",
         amount="9600000.00", sizing=SizingMethod.LABOUR_SHARE, labour_share="0.450", hourly_cost="38.00",
         insertion_rate="0.070", window=(-300, 240), awardee="employer_1",
         modes=[FulfilmentMode.DIRECT_HIRE, FulfilmentMode.STAFF_PROVISION_SIAE,
                FulfilmentMode.STAFF_PROVISION_TEMP_AGENCY]),
    dict(key="peinture", contract=0, number=2, title="Plâtrerie, peinture, faux plafonds", trade="Peinture",
         amount="1500000.00", sizing=SizingMethod.PER_AMOUNT, amount_per_hour="300", window=(-200, 300),
         awardee="employer_2", modes=[FulfilmentMode.DIRECT_HIRE, FulfilmentMode.STAFF_PROVISION_GEIQ]),
    dict(key="vrd", contract=1, number=1, title="Voirie et réseaux divers, espaces extérieurs",
         trade="Travaux publics", amount="1200000.00", sizing=SizingMethod.LABOUR_SHARE, labour_share="0.350",
         hourly_cost="36.00", insertion_rate="0.070", window=(-120, 420), awardee="employer_1",
         modes=[FulfilmentMode.DIRECT_HIRE, FulfilmentMode.STAFF_PROVISION_SIAE,
                FulfilmentMode.SUBCONTRACT_INCLUSIVE]),
    dict(key="menuiseries", contract=1, number=2, title="Menuiseries extérieures", trade="Menuiserie",
         amount="1650000.00", sizing=SizingMethod.FIXED, target_hours=2400, window=(-280, 180), awardee="employer_2",
         modes=[FulfilmentMode.DIRECT_HIRE, FulfilmentMode.STAFF_PROVISION_GEIQ, FulfilmentMode.TRAINING]),
    # The second buyer's contract (Lyon Métropole Habitat): its auditor sees this lot only.
    dict(key="rehab", contract=2, number=1, title="Réhabilitation intérieure des logements", trade="Second œuvre",
         amount="2100000.00", sizing=SizingMethod.PER_AMOUNT, amount_per_hour="350", window=(-240, 360),
         awardee="employer_2", modes=[FulfilmentMode.DIRECT_HIRE, FulfilmentMode.STAFF_PROVISION_SIAE]),
]

OFFERS = [
    # key, lot, title, trade, ROME, contract type, weekly hours, positions, QPV only, published (days ago)
    dict(key="aide_macon", lot="gros_oeuvre", title="Aide-maçon·ne", trade="Maçonnerie", rome="F1703",
         contract_type=ContractType.CDD, weekly_hours=35, positions=4, days_ago=290,
         context="Chantier de réhabilitation en site occupé ; port des EPI, travail en équipe."),
    dict(key="manoeuvre", lot="gros_oeuvre", title="Manœuvre gros œuvre (intérim)", trade="Gros œuvre", rome="F1704",
         contract_type=ContractType.INTERIM, weekly_hours=35, positions=3, days_ago=288,
         context="Missions d'intérim d'insertion pendant la phase de démolition."),
    dict(key="peintre", lot="peinture", title="Peintre en bâtiment — apprentissage", trade="Peinture", rome="F1606",
         contract_type=ContractType.APPRENTICESHIP, weekly_hours=35, positions=2, days_ago=230,
         context="CAP peintre applicateur de revêtements en alternance avec le CFA du BTP."),
    dict(key="plaquiste", lot="peinture", title="Plaquiste", trade="Plâtrerie", rome="F1604",
         contract_type=ContractType.CDD, weekly_hours=35, positions=3, days_ago=225,
         context="Pose de cloisons et doublages ; une première expérience est un plus."),
    dict(key="vrd", lot="vrd", title="Ouvrier·ère VRD", trade="Travaux publics", rome="F1702",
         contract_type=ContractType.CDD, weekly_hours=35, positions=3, qpv=True, days_ago=160,
         context="Poste réservé aux habitant·es des quartiers prioritaires (engagement ANRU)."),
    dict(key="menuisier", lot="menuiseries", title="Poseur·se de menuiseries", trade="Menuiserie", rome="F1607",
         contract_type=ContractType.PROFESSIONALISATION, weekly_hours=35, positions=2, days_ago=270,
         context="Contrat de professionnalisation avec le GEIQ BTP ; titre professionnel menuisier poseur."),
    dict(key="rehab_peintre", lot="rehab", title="Peintre — réhabilitation de logements", trade="Peinture",
         rome="F1606", contract_type=ContractType.CDD, weekly_hours=35, positions=3, days_ago=220,
         location="Vénissieux — résidence Max-Barel",
         context="Travaux en site occupé : relation avec les locataires, propreté du chantier."),
]
CLOSED_OFFER, CLOSED_DAYS_AGO = "manoeuvre", 60


def _positions(spec) -> int:
    """Room for every story referred to the offer: an offer closes itself once its positions are filled, and the
    stories refer and hire in their own order."""
    hires = sum(1 for *_, options in STORIES if spec["key"] in (options.get("offer"), options.get("cancelled_first")))
    return max(spec["positions"], hires)


# --- The stories: final pathway state, Mission Locale, intake (days ago), options -------------------------------
STORIES = [
    ("intake", "A", 3, {}),
    ("intake", "A", 6, {}),
    ("intake", "B", 9, {}),
    ("pending", "A", 5, {}),
    ("pending", "A", 7, {"rqth": True}),
    ("pending", "B", 8, {}),
    ("ineligible", "A", 62, {}),
    ("ineligible", "B", 95, {}),
    ("eligible", "A", 30, {}),
    ("eligible", "B", 48, {"interview": True}),
    ("eligible", "A", 80, {"offer": "plaquiste", "outcome": "declined"}),
    ("eligible", "A", 125, {"offer": "menuisier", "outcome": "expired", "sent": 38}),
    ("eligible", "A", 100, {"offer": "aide_macon", "outcome": "refused"}),
    ("eligible", "A", 72, {"offer": "peintre", "outcome": "placement_cancelled"}),
    ("referred", "A", 35, {"offer": "aide_macon", "stage": "sent", "sent": 2}),
    ("referred", "B", 40, {"offer": "vrd", "stage": "sent", "qpv": True, "sent": 4}),
    ("referred", "A", 38, {"offer": "plaquiste", "stage": "under_review", "sent": 5}),
    ("referred", "A", 50, {"offer": "menuisier", "stage": "approved", "sent": 6}),
    ("referred", "A", 55, {"offer": "peintre", "stage": "forwarded", "sent": 7}),
    # Late on purpose (LATE_ON_PURPOSE): referred 16 days before the seed day (or the next working day), forwarded to
    # the employer after review and approval (about ten days before), reminded 7 days later, still unanswered.
    ("referred", "B", 75, {"offer": "aide_macon", "stage": "forwarded", "cancelled_first": "plaquiste", "sent": 16,
                           "late": True}),
    ("referred", "A", 65, {"offer": "vrd", "stage": "accepted", "qpv": True, "sent": 13}),
    ("reopened", "A", 230, {"offer": "menuisier", "lost": 150, "reopen": 40, "sent": 3}),
    ("placed", "A", 55, {"offer": "aide_macon", "planned": True}),
    ("placed", "B", 60, {"offer": "menuisier", "planned": True, "mode": FulfilmentMode.STAFF_PROVISION_GEIQ}),
    ("placed", "A", 200, {"offer": "aide_macon", "reject": 1}),
    ("placed", "A", 250, {"offer": "manoeuvre", "adjust": 1}),
    ("placed", "A", 230, {"offer": "peintre"}),
    ("placed", "A", 180, {"offer": "plaquiste", "rqth": True}),
    ("placed", "B", 140, {"offer": "vrd", "qpv": True, "weekly_hours": Decimal("24.5")}),  # part-time
    ("placed", "A", 210, {"offer": "menuisier", "reject": 2}),
    ("placed", "B", 120, {"offer": "aide_macon", "leave_declared": True}),
    ("placed", "A", 95, {"offer": "plaquiste", "leave_declared": True}),
    ("follow_up", "A", 255, {"offer": "manoeuvre", "end": 150,
                             "early": "Fin de mission anticipée à la demande du jeune (difficultés de transport)."}),
    ("follow_up", "A", 240, {"offer": "aide_macon", "end": 100}),
    ("follow_up", "A", 245, {"offer": "menuisier", "end": 80,
                             "early": "Rupture du contrat de professionnalisation d'un commun accord."}),
    ("follow_up", "B", 200, {"offer": "peintre", "end": 60,
                             "early": "Rupture de la période d'essai à l'initiative de l'employeur."}),
    ("follow_up", "A", 250, {"offer": "manoeuvre", "end": 120}),
    ("follow_up", "A", 190, {"offer": "plaquiste", "end": 40}),
    ("follow_up", "B", 170, {"offer": "aide_macon", "end": 20}),
    ("exited", "A", 260, {"offer": "aide_macon", "end": 110, "exit": 95, "situation": ExitSituation.CDI,
                          "detail": "CDI signé chez Bâtir Rhône Construction"}),
    ("exited", "A", 245, {"offer": "manoeuvre", "end": 130, "exit": 100,
                          "situation": ExitSituation.CDD_SHORT,
                          "detail": "Mission d'intérim de quatre mois sur un autre chantier"}),
    ("exited", "A", 250, {"offer": "menuisier", "end": 90, "exit": 70, "situation": ExitSituation.QUALIFYING_TRAINING,
                          "detail": "Entrée en formation qualifiante (titre professionnel menuisier poseur)"}),
    ("exited", "B", 200, {"offer": "plaquiste", "end": 50, "exit": 30, "situation": ExitSituation.MOVED,
                          "detail": "Déménagement hors du territoire"}),
    ("exited", "A", 235, {"offer": "aide_macon", "end": 75, "exit": 45, "situation": ExitSituation.CDD_LONG,
                          "detail": "CDD de huit mois chez un sous-traitant du chantier"}),
    ("exited", "A", 220, {"offer": "peintre", "end": 70, "exit": 20, "situation": ExitSituation.CDD_SHORT,
                          "early": "Rupture du contrat d'apprentissage d'un commun accord.",
                          "detail": "CDD de trois mois en entreprise de peinture"}),
    ("withdrawn", "A", 50, {"from": "intake", "at": 35,
                            "reason": "Déménagement hors du territoire de la Mission Locale."}),
    ("withdrawn", "A", 90, {"from": "referred", "offer": "plaquiste", "at": 50,
                            "reason": "Ne souhaite plus travailler dans le bâtiment."}),
    ("withdrawn", "B", 110, {"from": "eligible", "at": 60, "reason": "Entrée en service civique."}),
    ("lost_contact", "A", 160, {"from": "eligible", "at": 90,
                                "reason": "Plus de réponse aux appels, SMS et courriers depuis six semaines."}),
    ("lost_contact", "A", 140, {"from": "referred", "offer": "aide_macon", "at": 80,
                                "reason": "Ne s'est pas présenté·e aux trois derniers rendez-vous."}),
    # The second buyer's contract: one forwarded candidate, one at work, and one young person referred to both
    # buyers (a first referral on the Ville de Vénissieux's contract, cancelled), so that the demo shows the partition.
    ("referred", "A", 45, {"offer": "rehab_peintre", "stage": "forwarded", "sent": 6}),
    ("placed", "B", 170, {"offer": "rehab_peintre"}),
    ("referred", "A", 68, {"offer": "rehab_peintre", "stage": "under_review", "cancelled_first": "plaquiste",
                           "sent": 3, "cancel_reason": "Préfère le chantier de la résidence Max-Barel, plus proche."}),
]

# fmt: on
# Waiting on purpose: the awardee of this lot has not declared last month's statement yet, whatever the day of the
# month the demo is seeded on (the reminder job reminds it from the organisation's reminder day).
STATEMENT_WAITING_LOT = "gros_oeuvre"

LATE_ON_PURPOSE = [
    (first, last) for (_, _, _, options), (first, last) in zip(STORIES, PEOPLE, strict=True) if options.get("late")
]

PROOF_KINDS = {
    "YOUTH_UNDER_26_LOW_QUALIFICATION": ProofKind.DIPLOMA,
    "YOUTH_ML_FOLLOWED": ProofKind.ATTESTATION,
    "LONG_TERM_UNEMPLOYED": ProofKind.ATTESTATION,
    "QPV_RESIDENT": ProofKind.ADDRESS,
    "DISABLED_WORKER": ProofKind.NOTIFICATION,
}
DEFAULT_CONTRACT_MONTHS = {
    ContractType.CDD: 6,
    ContractType.INTERIM: 4,
    ContractType.APPRENTICESHIP: 24,
    ContractType.PROFESSIONALISATION: 12,
}
MOTIVATIONS = [
    "Motivé·e par les métiers du bâtiment, a fait un stage de découverte sur chantier.",
    "Habite à proximité du chantier ; disponible immédiatement.",
    "A suivi une préparation opérationnelle à l'emploi dans le BTP.",
    "Souhaite une première expérience avant d'entrer en formation qualifiante.",
    "Ponctuel·le et volontaire ; bon retour de l'immersion en entreprise.",
]
FOLLOW_UP_NOTES = {
    FollowUpKind.PHONE: "Point téléphonique : bonne intégration dans l'équipe, horaires tenus.",
    FollowUpKind.COMPANY_VISIT: "Visite de chantier avec le tuteur : progression satisfaisante.",
    FollowUpKind.INTERVIEW: "Entretien à la Mission Locale : projet professionnel confirmé.",
}


def waiting_work():
    """{(organisation name, role): Counter(task label → n)} of the open tasks, for the summary."""
    found = {}
    tasks = WorkTask.objects.filter(task__status__in=OPEN_TASK_STATUSES).select_related("organisation")
    for task in tasks.order_by("organisation__name", "role", "kind"):
        found.setdefault((task.organisation.name, task.role), Counter())[task.get_kind_display()] += 1
    return found


def overdue_tasks():
    """Open tasks past their due moment (the demo means exactly LATE_ON_PURPOSE's)."""
    return list(
        WorkTask.objects.filter(task__status__in=OPEN_TASK_STATUSES, due_at__lt=timezone.now())
        .select_related("organisation", "pathway__participant")
        .order_by("due_at")
    )


def is_late_on_purpose(task):
    participant = task.pathway.participant
    return (participant.first_name, participant.last_name) in LATE_ON_PURPOSE


def _ascii(text):
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


def _month_start(day):
    return day.replace(day=1)


def _next_month(day):
    return add_months(day.replace(day=1), 1)


def _monday_on_or_after(day):
    return day + datetime.timedelta(days=(7 - day.weekday()) % 7)


def _workday(day):
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return day


@dataclass
class StorySpec:
    kind: str
    agency: str
    intake_days_ago: int
    options: dict
    first_name: str
    last_name: str
    data: dict = field(default_factory=dict)
    criteria: list = field(default_factory=list)
    derogation: str = ""


class Demo:
    """Holds the reference objects and the real 'today' the travelling clock must never pass."""

    def __init__(self, rng):
        self.rng = rng
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.today = timezone.localdate()
        self.limit = timezone.now() - datetime.timedelta(hours=1)
        self.organisations = {}
        self.actors = {}
        self.lots = {}
        self.offers = {}
        self.hours_options = {}  # placement id → its story's options, for the months told after the stories

    def day(self, offset):
        return self.today + datetime.timedelta(days=offset)

    def moment(self, day, hour=None):
        """A working moment of `day` in the local time zone (random between 9:00 and 17:30 by default)."""
        if hour is None:
            minutes = self.rng.randint(9 * 60, 17 * 60 + 30)
        else:
            minutes = hour * 60 + self.rng.randint(0, 29)
        return datetime.datetime.combine(day, datetime.time(minutes // 60, minutes % 60), tzinfo=self.tz)

    def fire_timers(self, traveller, until):
        """Fire the work layer's timers due up to `until`, each at its own moment, as the timer worker would have
        (never moving the clock back: a timer is fired at its moment or, if the clock is past it, right away)."""
        while True:
            timer = (
                Task.objects.filter(flow_task_type="TIMER", status=STATUS.SCHEDULED, scheduled__lte=until)
                .order_by("scheduled", "pk")
                .first()
            )
            if timer is None:
                return
            moment = timer.scheduled + datetime.timedelta(seconds=self.rng.randint(5, 90))
            if moment > timezone.now():
                traveller.move_to(moment)
            fire_due()
            if Task.objects.filter(pk=timer.pk, status=STATUS.SCHEDULED).exists():
                raise CommandError(f"Le minuteur #{timer.pk} ({timer.flow_task}) n'a pas pu être déclenché.")

    def employer_actor(self, lot):
        return next(
            actor
            for actor in self.actors.values()
            if actor.role == Role.EMPLOYER and actor.organisation.pk == lot.awardee_id
        )


class Story:
    """One young person's pathway, told step by step under the travelling clock."""

    def __init__(self, demo, traveller, spec):
        self.demo, self.rng, self.traveller, self.spec = demo, demo.rng, traveller, spec
        self.options = spec.options
        self.adviser = demo.actors["conseillere" if spec.agency == "A" else "conseiller.b"]
        self.facilitator = demo.actors["facilitateur"]
        self.now = None
        self.participant = self.pathway = None

    # clock ------------------------------------------------------------------------------------------------
    def goto(self, when):
        when = min(when, self.demo.limit)
        if self.now is not None and when <= self.now:
            when = self.now + datetime.timedelta(minutes=self.rng.randint(3, 25))
        self.demo.fire_timers(self.traveller, when)
        self.now = max(when, timezone.now())
        self.traveller.move_to(self.now)

    def on(self, day, hour=None):
        self.goto(self.demo.moment(_workday(day), hour))

    def after(self, low, high=None):
        days = self.rng.randint(low, low if high is None else high)
        self.on(self.now.astimezone(self.demo.tz).date() + datetime.timedelta(days=days))

    def today(self):
        return timezone.localdate()

    # steps ------------------------------------------------------------------------------------------------
    def intake(self):
        self.on(self.demo.day(-self.spec.intake_days_ago))
        self.participant = participant_create(actor=self.adviser, data=self.spec.data)
        self.pathway = self.participant.pathways.get()
        # Most young people got the information notice at their first interview; a few are still to be given it.
        if self.rng.random() < 0.85:
            participant_record_notice(actor=self.adviser, participant=self.participant, given_on=self.today())

    def submit(self):
        self.after(2, 6)
        pathway_submit_eligibility(
            actor=self.adviser,
            pathway=self.pathway,
            criteria=self.spec.criteria,
            derogation_reason=self.spec.derogation,
        )

    def validate(self):
        self.after(3, 8)
        proofs = {code: (PROOF_KINDS[code], self.today()) for code in self.spec.criteria}
        pathway_validate_eligibility(actor=self.facilitator, pathway=self.pathway, proofs=proofs)

    def eligible(self):
        self.intake()
        self.submit()
        self.validate()

    def refer(self, offer_key, *, days_ago=None):
        if days_ago is None:
            self.after(4, 12)
        else:
            self.on(self.demo.day(-days_ago))
        return referral_create(
            actor=self.adviser,
            pathway=self.pathway,
            offer=self.demo.offers[offer_key],
            motivation=self.rng.choice(MOTIVATIONS),
        )

    def advance(self, referral, stage):
        """Take a referral from `sent` to `stage` (under_review, approved, forwarded, accepted)."""
        order = ["sent", "under_review", "approved", "forwarded", "accepted"]
        target = order.index(stage)
        employer = self.demo.employer_actor(referral.offer.lot)
        if target >= 1:
            self.after(1, 2)
            referral_start_review(actor=self.facilitator, referral=referral)
        if target >= 2:
            self.after(1, 3)
            referral_approve(actor=self.facilitator, referral=referral)
        if target >= 3:
            self.after(0)
            referral_forward(actor=self.facilitator, referral=referral)
        if target >= 4:
            self.after(3, 8)
            referral_accept(actor=employer, referral=referral)
        return referral

    def hire(self, referral, *, start_on=None, end_on=None, early=False):
        offer = referral.offer
        lot = offer.lot
        self.advance(referral, "accepted")
        self.after(1, 4)
        start = start_on or _monday_on_or_after(self.today() + datetime.timedelta(days=self.rng.randint(7, 17)))
        start = max(start, _monday_on_or_after(lot.execution_starts_on))
        months = DEFAULT_CONTRACT_MONTHS.get(offer.contract_type)
        if end_on is not None and not early:
            planned_end = end_on
        else:
            planned_end = add_months(start, months) - datetime.timedelta(days=1) if months else None
            # A contract still running today was renewed: its planned end is ahead (e.g. successive interim missions).
            while end_on is None and planned_end is not None and planned_end < self.demo.day(30):
                planned_end = add_months(planned_end, months)
        if end_on is not None and end_on <= start + datetime.timedelta(days=20):
            raise CommandError(f"{self.spec.first_name} {self.spec.last_name} : fin du contrat trop proche du début.")
        mode = self.options.get("mode")
        if mode is None:
            mode = (
                FulfilmentMode.STAFF_PROVISION_TEMP_AGENCY
                if offer.contract_type == ContractType.INTERIM
                else FulfilmentMode.DIRECT_HIRE
            )
        return referral_hire(
            actor=self.demo.employer_actor(lot),
            referral=referral,
            contract_type=offer.contract_type,
            start_date=start,
            weekly_hours=self.options.get("weekly_hours", offer.weekly_hours),
            fulfilment_mode=mode,
            planned_end_date=planned_end,
        )

    def work(self, placement, *, end_on=None, early_reason="", exit_on=None, situation=None, detail=""):
        """Start, follow-ups, end and exit, each at its own date, run in chronological order. The monthly hours are
        told afterwards, lot by lot and month by month, as the statements are really made (`Months`)."""
        demo, rng, options = self.demo, self.rng, self.options
        employer = demo.employer_actor(placement.lot)
        events = []

        def add(when, fn, *args, **kwargs):
            events.append((when, len(events), functools.partial(fn, *args, **kwargs)))

        add(demo.moment(placement.start_date, hour=8), placement_start, actor=employer, placement=placement)
        demo.hours_options[placement.pk] = options
        exit_at = demo.moment(_workday(exit_on), hour=11) if exit_on else None
        planned = list(placement.follow_ups.filter(done_on__isnull=True).order_by("due_on"))
        kinds = [FollowUpKind.PHONE, FollowUpKind.COMPANY_VISIT, FollowUpKind.INTERVIEW]
        for follow_up, kind in list(zip(planned, kinds, strict=False))[: options.get("followups", 3)]:
            when = demo.moment(_workday(follow_up.due_on + datetime.timedelta(days=rng.randint(0, 4))))
            if exit_at is not None and when >= exit_at:
                continue
            actor = self.facilitator if kind == FollowUpKind.COMPANY_VISIT else self.adviser
            add(when, self.record_follow_up, actor=actor, kind=kind, planned_follow_up=follow_up)
        if end_on is not None:
            kind = PlacementEndKind.EARLY if early_reason else PlacementEndKind.NORMAL
            add(
                demo.moment(end_on, hour=16),
                placement_end,
                actor=employer,
                placement=placement,
                end_date=end_on,
                end_kind=kind,
                reason=early_reason,
            )
        if exit_at is not None:
            add(exit_at, self.exit, exit_on, situation, detail)

        for when, _, run in sorted(events, key=lambda event: event[:2]):
            if when > demo.limit:
                continue
            self.goto(when)
            run()

    def record_follow_up(self, *, actor, kind, planned_follow_up=None):
        followup_record(
            actor=actor,
            pathway=self.pathway,
            kind=kind,
            done_on=self.today(),
            note=FOLLOW_UP_NOTES[kind],
            planned_follow_up=planned_follow_up,
        )

    def exit(self, exited_on, situation, detail):
        pathway_exit(actor=self.adviser, pathway=self.pathway, exited_on=exited_on, situation=situation, detail=detail)

    # scenarios --------------------------------------------------------------------------------------------
    def run(self):
        getattr(self, f"story_{self.spec.kind}")()

    def story_intake(self):
        self.intake()

    def story_pending(self):
        self.intake()
        self.submit()

    def story_ineligible(self):
        self.intake()
        self.submit()
        self.after(3, 8)
        pathway_reject_eligibility(
            actor=self.facilitator,
            pathway=self.pathway,
            reason="Ne relève d'aucun public prioritaire de la clause ; orientation vers France Travail.",
        )

    def story_eligible(self):
        self.eligible()
        if self.options.get("interview"):
            self.after(5, 10)
            self.record_follow_up(actor=self.adviser, kind=FollowUpKind.INTERVIEW)
        outcome = self.options.get("outcome")
        if outcome is None:
            return
        referral = self.refer(self.options["offer"], days_ago=self.options.get("sent"))
        if outcome == "declined":
            self.advance(referral, "under_review")
            self.after(1, 3)
            referral_decline(
                actor=self.facilitator,
                referral=referral,
                reason="Le poste exige le permis B et un véhicule : orientation vers une autre offre.",
            )
        elif outcome == "expired":
            # Nobody answers: the reminder, then the expiry, are fired by their timers in the travelling clock.
            self.advance(referral, "forwarded")
            self.after(self.demo.organisations["facilitation"].referral_expiry_days + 1)
        elif outcome == "refused":
            self.advance(referral, "accepted")
            self.after(2, 5)
            referral_refuse(
                actor=self.demo.employer_actor(referral.offer.lot),
                referral=referral,
                reason="Candidature non retenue après l'entretien : première expérience sur chantier demandée.",
            )
        elif outcome == "placement_cancelled":
            start = _monday_on_or_after(self.demo.day(-self.spec.intake_days_ago) + datetime.timedelta(days=75))
            placement = self.hire(referral, start_on=start)
            self.after(4, 7)
            placement_cancel(
                actor=self.demo.employer_actor(placement.lot),
                placement=placement,
                reason="Désistement avant la prise de poste : entrée en formation qualifiante.",
            )

    def story_referred(self):
        self.eligible()
        if self.options.get("cancelled_first"):
            first = self.refer(self.options["cancelled_first"])
            self.after(3, 6)
            referral_cancel(
                actor=self.adviser,
                referral=first,
                reason=self.options.get(
                    "cancel_reason", "Le ou la jeune préfère se positionner sur un poste d'aide-maçon·ne."
                ),
            )
        self.advance(self.refer(self.options["offer"], days_ago=self.options.get("sent")), self.options["stage"])

    def story_reopened(self):
        self.eligible()
        self.on(self.demo.day(-self.options["lost"]))
        pathway_mark_lost_contact(
            actor=self.adviser, pathway=self.pathway, reason="Plus de nouvelles depuis deux mois malgré les relances."
        )
        self.on(self.demo.day(-self.options["reopen"]))
        pathway_reopen(
            actor=self.adviser, pathway=self.pathway, reason="Le ou la jeune a repris contact avec la Mission Locale."
        )
        self.after(1, 2)
        self.record_follow_up(actor=self.adviser, kind=FollowUpKind.INTERVIEW)
        self.refer(self.options["offer"], days_ago=self.options.get("sent"))

    def story_placed(self):
        self.eligible()
        referral = self.refer(self.options["offer"])
        if self.options.get("planned"):
            start = _monday_on_or_after(self.demo.day(10))
            self.hire(referral, start_on=start)
            return
        self.work(self.hire(referral))

    def _worked(self, **exit_kwargs):
        self.eligible()
        referral = self.refer(self.options["offer"])
        end_on = _workday(self.demo.day(-self.options["end"]))
        early = self.options.get("early", "")
        placement = self.hire(referral, end_on=end_on, early=bool(early))
        self.work(placement, end_on=end_on, early_reason=early, **exit_kwargs)

    def story_follow_up(self):
        self._worked()

    def story_exited(self):
        self._worked(
            exit_on=_workday(self.demo.day(-self.options["exit"])),
            situation=self.options["situation"],
            detail=self.options["detail"],
        )

    def _close_later(self, service):
        origin = self.options["from"]
        if origin == "intake":
            self.intake()
        else:
            self.eligible()
            if origin == "referred":
                self.advance(self.refer(self.options["offer"]), "under_review")
        self.on(self.demo.day(-self.options["at"]))
        service(actor=self.adviser, pathway=self.pathway, reason=self.options["reason"])

    def story_withdrawn(self):
        self._close_later(pathway_withdraw)

    def story_lost_contact(self):
        self._close_later(pathway_mark_lost_contact)


class Months:
    """The facilitator's months, told after the stories as they are really done: a few days into each month, the
    awardee declares the month that ended for all its employees on a lot at once (`statement_submit`); a few days
    later the facilitator decides the lines in bulk (`hours_lines_decide`) and closes the month
    (`statement_close_month`). Kept from real months: a rejected line declared again, an adjustment after the close
    (validated, the month closed again), lines left waiting for the facilitator, and last month's statement of
    STATEMENT_WAITING_LOT left undeclared whatever the day (the reminder job, run on each reminder day, reminds it).
    Every step is queued with its moment, then the queue runs in chronological order under one travelling clock."""

    REJECTION = "Heures supérieures à la durée prévue au contrat : merci de corriger la déclaration."

    def __init__(self, demo):
        self.demo, self.rng = demo, demo.rng
        self.facilitator = demo.actors["facilitateur"]
        self.queue = []

    def add(self, when, fn, **kwargs):
        self.queue.append((when, len(self.queue), functools.partial(fn, **kwargs)))

    def at(self, day):
        return self.demo.moment(_workday(day))

    @property
    def latest_declared(self):
        """The latest month whose statements are surely declared by today (they are, by the 7th of the next month):
        the month whose lines the demo leaves waiting for the facilitator, whatever the day it is seeded."""
        last = previous_month(self.demo.today)
        return last if self.demo.today.day >= 8 else previous_month(last)

    def plan(self):
        demo = self.demo
        placements = list(
            Placement.objects.filter(pk__in=demo.hours_options, started_on__isnull=False)
            .select_related("lot")
            .order_by("pk")
        )
        if not placements:
            return
        last = previous_month(demo.today)
        waiting_lot = demo.lots[STATEMENT_WAITING_LOT].pk
        reminder_day = demo.organisations["facilitation"].hours_statement_reminder_day
        lots = sorted(demo.lots.values(), key=lambda lot: lot.pk)
        month = min(_month_start(placement.started_on) for placement in placements)
        while month <= last:
            for lot in lots:
                running = [
                    placement
                    for placement in placements
                    if placement.lot_id == lot.pk
                    and placement.started_on <= last_day_of_month(month)
                    and (placement.ended_on is None or placement.ended_on >= month)
                ]
                if running and not (lot.pk == waiting_lot and month == last):
                    self.plan_month(lot, month, running)
            # The worker's daily reminder job, on the reminder day of the following month (as `run_timers` would).
            self.add(demo.moment(_next_month(month).replace(day=reminder_day), hour=7), remind_missing_statements)
            month = _next_month(month)

    def plan_month(self, lot, month, running):
        demo, rng = self.demo, self.rng
        employer = demo.employer_actor(lot)
        rows, rejected, waiting, adjusted = [], {}, [], []
        for placement in running:
            options = demo.hours_options[placement.pk]
            start = _month_start(placement.started_on)
            index = (month.year - start.year) * 12 + month.month - start.month
            hours = self.monthly_hours(placement, month)
            rows.append({"placement": placement.pk, "hours": hours})
            if options.get("reject") == index:
                rejected[placement.pk] = max(hours - Decimal("7"), Decimal("3.5"))
            if options.get("leave_declared") and month == self.latest_declared:
                waiting.append(placement.pk)
            if options.get("adjust") == index:
                adjusted.append(placement.pk)
        submitted = _workday(_next_month(month) + datetime.timedelta(days=rng.randint(1, 4)))
        self.add(self.at(submitted), statement_submit, actor=employer, lot=lot, month=month, rows=rows)
        decided = _workday(submitted + datetime.timedelta(days=rng.randint(3, 6)))
        if rejected:
            self.add(self.at(decided), self.decide, lot=lot, month=month, decision="reject", only=list(rejected))
            self.add(self.at(decided), self.decide, lot=lot, month=month, leave=[*rejected, *waiting])
            again = _workday(decided + datetime.timedelta(days=1))
            rows = [{"placement": pk, "hours": hours} for pk, hours in rejected.items()]
            self.add(self.at(again), statement_submit, actor=employer, lot=lot, month=month, rows=rows)
            decided = _workday(again + datetime.timedelta(days=rng.randint(2, 3)))
        self.add(self.at(decided), self.decide, lot=lot, month=month, leave=waiting)
        if waiting:
            return  # the month cannot be closed while a line waits for a decision
        closed = _workday(decided + datetime.timedelta(days=rng.randint(2, 8)))
        self.add(self.at(closed), statement_close_month, actor=self.facilitator, lot=lot, month=month)
        if adjusted:
            adjusted_on = _workday(closed + datetime.timedelta(days=10))
            rows = [{"placement": pk, "hours": Decimal("-7.00"), "is_adjustment": True} for pk in adjusted]
            self.add(self.at(adjusted_on), statement_submit, actor=employer, lot=lot, month=month, rows=rows)
            validated = _workday(adjusted_on + datetime.timedelta(days=3))
            self.add(self.at(validated), self.decide, lot=lot, month=month)
            closed = _workday(validated + datetime.timedelta(days=1))
            self.add(self.at(closed), statement_close_month, actor=self.facilitator, lot=lot, month=month)

    def monthly_hours(self, placement, month):
        first = max(month, placement.started_on)
        last = min(last_day_of_month(month), placement.ended_on or self.demo.today)
        days = sum(1 for n in range((last - first).days + 1) if (first + datetime.timedelta(days=n)).weekday() < 5)
        hours = Decimal(days * placement.weekly_hours) / 5 - Decimal(self.rng.choice(["0", "0", "0", "0", "3.5", "7"]))
        hours = (hours * 2).quantize(Decimal("1")) / 2
        return max(hours, Decimal("3.5"))

    def decide(self, *, lot, month, decision="validate", only=None, leave=()):
        """The facilitator's bulk decision on the month's waiting lines (`only` some, or all but `leave`)."""
        lines = HoursLine.objects.filter(placement__lot=lot, month=month, state=HoursLineState.DECLARED)
        if only is not None:
            lines = lines.filter(placement_id__in=only)
        pks = list(lines.exclude(placement_id__in=leave).order_by("pk").values_list("pk", flat=True))
        if pks:
            reason = self.REJECTION if decision == "reject" else ""
            hours_lines_decide(
                actor=self.facilitator, lot=lot, month=month, lines=pks, decision=decision, reason=reason
            )

    def run(self):
        """Run the queue in chronological order, up to an hour before now (what is later has not happened yet)."""
        import time_machine  # a demo tool, not in the production lock: imported to seed, not for --help

        queue = sorted((step for step in self.queue if step[0] <= self.demo.limit), key=lambda step: step[:2])
        if not queue:
            return
        with time_machine.travel(queue[0][0], tick=True) as traveller:
            for when, _, step in queue:
                if when > timezone.now():
                    traveller.move_to(when)
                try:
                    step()
                except DomainError as exc:
                    name = getattr(step.func, "__name__", "")
                    lot, month = step.keywords.get("lot"), step.keywords.get("month")
                    raise CommandError(f"{name} ({lot}, {month:%m/%Y}) : {exc.code} — {exc.message}") from exc
            self.demo.fire_timers(traveller, self.demo.limit)


class Command(BaseCommand):
    help = "Crée des données de démonstration réalistes (idempotent : ne fait rien si la démo existe déjà)."

    def handle(self, *args, **options):
        import time_machine  # a demo tool, not in the production lock: imported to seed, not for --help

        User = get_user_model()
        if User.objects.filter(username=MARKER_USERNAME).exists():
            self.stdout.write(
                self.style.WARNING(
                    f"Les données de démonstration existent déjà (utilisateur « {MARKER_USERNAME} ») : "
                    "rien n'a été créé."
                )
            )
            return
        rng = random.Random(RANDOM_SEED)
        demo = Demo(rng)
        specs = self.build_specs(demo)
        tqdm.monitor_interval = 0  # no monitor thread reading the travelling clock
        quiet = options["verbosity"] == 0
        # History, not news: nobody is told of the seeded events (no push, no e-mail).
        with tqdm(total=len(specs) + 4, desc="Démo", unit="étape", disable=quiet) as bar, notifications.muted():
            with transaction.atomic():
                with time_machine.travel(demo.moment(demo.day(-340), hour=9), tick=True):
                    self.create_organisations_and_users(demo)
                bar.update(1)
                self.create_register(demo)
                bar.update(1)
                for spec in specs:
                    bar.set_postfix_str(f"{spec.first_name} {spec.last_name}", refresh=False)
                    with time_machine.travel(demo.moment(demo.day(-spec.intake_days_ago)), tick=True) as traveller:
                        try:
                            Story(demo, traveller, spec).run()
                            # What this story armed and is due before today fires now, at its own moment.
                            demo.fire_timers(traveller, demo.limit)
                        except DomainError as exc:
                            raise CommandError(
                                f"{spec.first_name} {spec.last_name} ({spec.kind}) : {exc.code} — {exc.message}"
                            ) from exc
                    bar.update(1)
                bar.set_postfix_str("relevés mensuels", refresh=False)
                months = Months(demo)
                months.plan()
                months.run()
                bar.update(1)
                closing = demo.offers[CLOSED_OFFER]
                closing.refresh_from_db()
                if closing.is_open:  # else it closed itself when its positions were filled
                    with time_machine.travel(demo.moment(_workday(demo.day(-CLOSED_DAYS_AGO))), tick=True):
                        offer_close(actor=demo.actors["facilitateur"], offer=closing)
                bar.update(1)
            # The demo's journal is sealed once, like the worker does every hour (var/checkpoints/).
            take_checkpoint()
        if not quiet:
            self.print_summary()

    # --- set-up ---------------------------------------------------------------------------------------------
    def build_specs(self, demo):
        rng = demo.rng
        specs = []
        imilo = Counter()
        for (kind, agency, intake, options), (first_name, last_name) in zip(STORIES, PEOPLE, strict=True):
            spec = StorySpec(kind, agency, intake, options, first_name, last_name)
            commune, postcode = rng.choice(COMMUNES[agency])
            qpv = options.get("qpv", rng.random() < 0.4)
            if kind == "ineligible":
                qualification, programme, qpv = QualificationLevel.LEVEL_5_PLUS, Programme.NONE, False
            else:
                qualification = rng.choice(
                    [QualificationLevel.INFRA_3] * 3
                    + [QualificationLevel.LEVEL_3] * 3
                    + [QualificationLevel.LEVEL_4] * 2
                )
                programme = rng.choice([Programme.CEJ] * 3 + [Programme.PACEA] * 2 + [Programme.NONE])
            # 17 to 25 today, so 16 to 25 at the intake, months ago.
            birth = add_months(demo.today, -12 * rng.randint(17, 25)) - datetime.timedelta(days=rng.randint(5, 340))
            imilo[agency] += 1
            spec.data = {
                "first_name": first_name,
                "last_name": last_name,
                "birth_date": birth,
                "postcode": postcode,
                "commune": commune,
                "is_qpv_resident": qpv,
                "qualification_level": qualification,
                "programme": programme,
                "imilo_reference": f"69{agency}{demo.today.year % 100:02d}{imilo[agency]:05d}",
                "phone": f"06 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
            }
            if len(specs) % 9 != 8:
                spec.data["sex"] = Sex.FEMALE if first_name in WOMEN else Sex.MALE
            if rng.random() < 0.7:
                spec.data["email"] = f"{_ascii(first_name)}.{_ascii(last_name)}@example.org"
            criteria = []
            if qualification in (QualificationLevel.INFRA_3, QualificationLevel.LEVEL_3):
                criteria.append("YOUTH_UNDER_26_LOW_QUALIFICATION")
            if programme in (Programme.CEJ, Programme.PACEA):
                criteria.append("YOUTH_ML_FOLLOWED")
            if qpv:
                criteria.append("QPV_RESIDENT")
            if options.get("rqth"):
                criteria.append("DISABLED_WORKER")
            if kind == "ineligible":
                spec.derogation = "Diplômé·e (BTS), sans emploi depuis cinq mois : demande de dérogation motivée."
            elif not criteria:
                criteria.append("LONG_TERM_UNEMPLOYED")
            spec.criteria = criteria
            specs.append(spec)
        return specs

    def create_organisations_and_users(self, demo):
        User = get_user_model()
        for key, name, kind, siret, territory in ORGANISATIONS:
            demo.organisations[key] = Organisation.objects.create(
                name=name, kind=kind, siret=siret, territory=territory
            )
        facilitation = demo.organisations["facilitation"]
        facilitation.partners.add(demo.organisations["ml_a"], demo.organisations["ml_b"])
        for username, first_name, last_name, org_key, role in USERS:
            email = f"{_ascii(first_name)}.{_ascii(last_name)}@example.org"
            if username == "admin":
                user = User.objects.create_superuser(
                    username, email, PASSWORD, first_name=first_name, last_name=last_name
                )
            else:
                user = User.objects.create_user(username, email, PASSWORD, first_name=first_name, last_name=last_name)
            membership = Membership(user=user, organisation=demo.organisations[org_key], role=role)
            membership.full_clean()
            membership.save()
            demo.actors[username] = Actor.from_membership(membership)

    def create_register(self, demo):
        import time_machine  # a demo tool, not in the production lock: imported to seed, not for --help

        facilitator = demo.actors["facilitateur"]
        buyer = demo.organisations["buyer"]
        with time_machine.travel(demo.moment(_workday(demo.day(-330))), tick=True) as traveller:
            operation = operation_create(
                actor=facilitator,
                name="Rénovation du groupe scolaire Jean-Moulin — quartier des Minguettes",
                commune="Vénissieux",
                starts_on=demo.day(-310),
                ends_on=demo.day(450),
                is_anru=True,
            )
            year = demo.day(-330).year
            contracts = []
            for number, (title, notified) in enumerate(
                [
                    ("Réhabilitation et extension du groupe scolaire", -315),
                    ("Aménagements extérieurs et menuiseries", -300),
                ],
                start=1,
            ):
                traveller.move_to(demo.moment(_workday(demo.day(notified - 5))))
                contracts.append(
                    contract_create(
                        actor=facilitator,
                        operation=operation,
                        reference=f"{year}-VEN-GS-{number:02d}",
                        title=title,
                        buyer=buyer,
                        legal_lever=LegalLever.EXECUTION_CONDITION,
                        notified_on=demo.day(notified),
                        # The CCAP's penalty: the bilans propose the shortfall × 40 € (the other buyer's has none).
                        penalty_per_missing_hour=Decimal("40"),
                    )
                )
            traveller.move_to(demo.moment(_workday(demo.day(-260))))
            housing = operation_create(
                actor=facilitator,
                name="Réhabilitation de la résidence Max-Barel (180 logements)",
                commune="Vénissieux",
                starts_on=demo.day(-250),
                ends_on=demo.day(380),
                is_anru=True,
            )
            traveller.move_to(demo.moment(_workday(demo.day(-252))))
            contracts.append(
                contract_create(
                    actor=facilitator,
                    operation=housing,
                    reference=f"{year}-LMH-MB-01",
                    title="Réhabilitation des logements et des parties communes",
                    buyer=demo.organisations["buyer_b"],
                    legal_lever=LegalLever.EXECUTION_CONDITION,
                    notified_on=demo.day(-248),
                )
            )
            traveller.move_to(demo.moment(_workday(demo.day(-245))))
            for spec in LOTS:
                sizing = {
                    "labour_share": None,
                    "hourly_cost": None,
                    "insertion_rate": None,
                    "amount_per_hour": None,
                    "target_hours": spec.get("target_hours"),
                }
                for name in ("labour_share", "hourly_cost", "insertion_rate", "amount_per_hour"):
                    if name in spec:
                        sizing[name] = Decimal(spec[name])
                demo.lots[spec["key"]] = lot_create(
                    actor=facilitator,
                    contract=contracts[spec["contract"]],
                    number=spec["number"],
                    title=spec["title"],
                    trade=spec["trade"],
                    amount_excl_tax=Decimal(spec["amount"]),
                    sizing_method=spec["sizing"],
                    execution_starts_on=demo.day(spec["window"][0]),
                    execution_ends_on=demo.day(spec["window"][1]),
                    fulfilment_modes=spec["modes"],
                    awardee=demo.organisations[spec["awardee"]],
                    **sizing,
                )
            for spec in sorted(OFFERS, key=lambda offer: -offer["days_ago"]):
                traveller.move_to(demo.moment(_workday(demo.day(-spec["days_ago"]))))
                demo.offers[spec["key"]] = offer_create(
                    actor=facilitator,
                    lot=demo.lots[spec["lot"]],
                    title=spec["title"],
                    trade=spec["trade"],
                    rome_code=spec["rome"],
                    contract_type=spec["contract_type"],
                    weekly_hours=spec["weekly_hours"],
                    location=spec.get("location", "Vénissieux — chantier Jean-Moulin"),
                    positions=_positions(spec),
                    is_qpv_mandatory=spec.get("qpv", False),
                    market_context=spec["context"],
                )

    # --- summary --------------------------------------------------------------------------------------------
    def print_summary(self):
        write = self.stdout.write
        write(self.style.SUCCESS("\nDonnées de démonstration créées."))

        def counts(title, queryset, states):
            found = Counter(queryset.values_list("state", flat=True))
            parts = ", ".join(f"{state.label.lower()} {found.get(state.value, 0)}" for state in states)
            write(f"  {title} ({sum(found.values())}) : {parts}")

        write(f"  Participant·es : {Participant.objects.count()}")
        counts("Parcours", Pathway.objects.all(), PathwayState)
        counts("Positionnements", Referral.objects.all(), ReferralState)
        counts("Mises en poste", Placement.objects.all(), PlacementState)
        counts("Relevés d'heures", HoursLine.objects.all(), HoursLineState)
        write(f"    dont lignes de régularisation : {HoursLine.objects.filter(is_adjustment=True).count()}")
        statements = HoursStatement.objects.all()
        write(
            gettext(
                "  Relevés mensuels : %(submitted)s déclarés, %(closed)s clôturés, %(reminded)s relancé(s) en attente"
            )
            % {
                "submitted": statements.filter(submitted_at__isnull=False).count(),
                "closed": statements.filter(closed_at__isnull=False).count(),
                "reminded": statements.filter(submitted_at__isnull=True, reminded_at__isnull=False).count(),
            }
        )
        done = FollowUp.objects.filter(done_on__isnull=False).count()
        write(f"  Suivis : {done} réalisés, {FollowUp.objects.filter(done_on__isnull=True).count()} prévus")
        exits = Counter(Exit.objects.values_list("category", flat=True))
        write("  Sorties : " + ", ".join(f"{c.label.lower()} {exits.get(c.value, 0)}" for c in ExitCategory))
        write(
            f"  Offres : {JobOffer.objects.filter(is_open=True).count()} ouvertes, "
            f"{JobOffer.objects.filter(is_open=False).count()} clôturée(s)"
        )
        result = verify_journal()
        status = "intactes" if result.ok else f"ROMPUES ({result.problems[0][1]})"
        write(f"  Journal : {JournalEvent.objects.count()} événements, {result.chains} chaînes {status}")
        write("\nCe qui attend chaque équipe (tâches ouvertes) :")
        for (organisation, role), kinds in waiting_work().items():
            parts = ", ".join(f"{label} {n}" for label, n in kinds.most_common())
            write(f"  {organisation} · {Role(role).label} : {sum(kinds.values())} ({parts})")
        for task in overdue_tasks():
            days = (timezone.now() - task.due_at).days
            intended = "en retard exprès" if is_late_on_purpose(task) else "EN RETARD (non voulu)"
            write(
                f"  {intended} : « {task.get_kind_display()} » — {task.pathway.participant} "
                f"({task.organisation}), échéance dépassée de {days} jour(s)."
            )
        write(f"\nConnexions (mot de passe « {PASSWORD} ») :")
        for username, first_name, last_name, _, role in USERS:
            membership = Membership.objects.select_related("organisation").get(user__username=username)
            full_name = f"{first_name} {last_name}"
            write(f"  {username:<13} {full_name:<16} {role.label:<20} {membership.organisation}")

"""The transition tables: every state machine of Parcours, declared once.

Everything else is derived from these tables: the django-fsm methods on the models (machines.py), the
engine checks (engine.py), the buttons and API actions, the diagrams and the tests. The role allowed to
fire a transition, and on which objects, is the row `<machine>.<transition>` of roles.policy.POLICY.
"""

import dataclasses
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from roles.policy import roles_for
from workflows import guards
from workflows.inputs import CHOICE, CHOICES, DATE, DECIMAL, ID_CHOICE, LONGTEXT, PROOFS, TEXT, Input, reason
from workflows.states import HoursLineState as H
from workflows.states import PathwayState as P
from workflows.states import PlacementState as PL
from workflows.states import ReferralState as R
from workflows.vocabulary import ContractType, ExitSituation, FulfilmentMode, PlacementEndKind

REASON = reason()
# An offer's and a contract's weekly hours: part-time contracts run 17,5 h or 24,5 h a week (offer_create checks an
# offer's with the same declaration).
WEEKLY_HOURS = Input("weekly_hours", _("Durée hebdomadaire (heures)"), DECIMAL, min_value=1, max_value=48)


@dataclass(frozen=True)
class TransitionSpec:
    machine: str
    name: str
    # Translated where shown (gettext_lazy); never hashed, compared or journaled: `name` is the stable code.
    label: str = field(compare=False)
    sources: tuple
    targets: tuple
    inputs: tuple = ()
    guards: tuple = ()
    internal: bool = False  # a consequence fired by a service inside another action, never offered to users
    system: bool = False  # fired by the system (timers), never by a user
    # Closing a pathway cancels its open referrals (parcours.services.pathways): its page lists them first.
    cancels_referrals: bool = False
    description: str = field(default="", compare=False)
    state_labels: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def action(self) -> str:
        return f"{self.machine}.{self.name}"

    @property
    def target(self):
        return self.targets[0]

    @property
    def roles(self):
        return roles_for(self.action)

    @property
    def user_fireable(self) -> bool:
        return not (self.internal or self.system)

    @property
    def machine_inputs(self) -> tuple:
        """The inputs passed to the fsm method and journaled (the others are the service's own)."""
        return tuple(i for i in self.inputs if i.machine)


def _table(machine, *specs):
    return {s.name: TransitionSpec(machine=machine, **s.__dict__) for s in specs}


class _S:
    """Keyword holder so the tables below read as tables."""

    def __init__(self, name, label, sources, targets, **kw):
        self.name, self.label = name, label
        self.sources = tuple(sources)
        self.targets = tuple(targets) if isinstance(targets, list | tuple) else (targets,)
        self.__dict__.update(kw)


PATHWAY = _table(
    "pathway",
    _S(
        "submit_eligibility",
        _("Soumettre l'éligibilité"),
        [P.INTAKE],
        P.ELIGIBILITY_PENDING,
        inputs=(
            Input(
                "criteria",
                _("Critères d'éligibilité"),
                CHOICES,
                required=False,
                options="criteria",
                max_items=50,
                machine=False,
                help_text=_("Les critères que remplit le ou la jeune (catalogue des publics éligibles)."),
            ),
            Input(
                "derogation_reason",
                _("Dérogation motivée (si aucun critère)"),
                LONGTEXT,
                required=False,
                max_length=2000,
                machine=False,
            ),
            Input(
                "facilitation_organisation",
                _("Structure porteuse"),
                ID_CHOICE,
                required=False,
                options="partner_facilitations",
                initial="first_partner_facilitation",
                machine=False,
                help_text=_("Structure porteuse partenaire (par défaut : la première)."),
            ),
        ),
        guards=(guards.criteria_apply,),
        description=_("Le conseiller déclare les critères et transmet à la structure porteuse."),
    ),
    _S(
        "validate_eligibility",
        _("Valider l'éligibilité"),
        [P.ELIGIBILITY_PENDING],
        P.ELIGIBLE,
        inputs=(
            Input(
                "valid_until",
                _("Valide jusqu'au"),
                DATE,
                required=False,
                help_text=_("Laisser vide : la durée de validité réglementaire."),
            ),
            Input(
                "proofs",
                _("Justificatifs vus"),
                PROOFS,
                required=False,
                options="pending_criteria",
                machine=False,
                help_text=_("Par critère déclaré : le justificatif vu et la date."),
            ),
        ),
        guards=(guards.assessment_submitted, guards.criteria_apply),
    ),
    _S("reject_eligibility", _("Refuser l'éligibilité"), [P.ELIGIBILITY_PENDING], P.INELIGIBLE, inputs=(REASON,)),
    _S(
        "refer",
        _("Positionner"),
        [P.ELIGIBLE],
        P.REFERRED,
        internal=True,
        description=_("Premier positionnement ouvert (créé par le service de positionnement)."),
    ),
    _S(
        "return_to_eligible",
        _("Revenir à éligible"),
        [P.REFERRED, P.PLACED],
        P.ELIGIBLE,
        internal=True,
        description=_("Plus aucun positionnement ni contrat en cours."),
    ),
    _S(
        "place",
        _("Mettre en poste"),
        [P.REFERRED, P.IN_FOLLOW_UP],
        P.PLACED,
        internal=True,
        description=_("Embauche confirmée par l'employeur."),
    ),
    _S(
        "start_follow_up",
        _("Passer en suivi"),
        [P.PLACED],
        P.IN_FOLLOW_UP,
        internal=True,
        description=_("Fin du dernier contrat en cours."),
    ),
    _S(
        "exit",
        _("Enregistrer la sortie"),
        [P.PLACED, P.IN_FOLLOW_UP],
        P.EXITED,
        inputs=(
            Input("exited_on", _("Date de sortie"), DATE, initial="today"),
            Input(
                "situation",
                _("Situation à la sortie"),
                CHOICE,
                choices=ExitSituation,
                help_text=_(
                    "Catégories de la Mission Locale ; la famille de sortie (emploi durable, de transition, "
                    "sortie positive, autre) en est déduite."
                ),
            ),
            Input(
                "detail",
                _("Précision (type de contrat, employeur…)"),
                TEXT,
                required=False,
                max_length=200,
                machine=False,
            ),
        ),
        guards=(guards.exit_date_valid,),
        cancels_referrals=True,
    ),
    _S(
        "withdraw",
        _("Abandon"),
        [P.INTAKE, P.ELIGIBILITY_PENDING, P.ELIGIBLE, P.REFERRED, P.PLACED, P.IN_FOLLOW_UP],
        P.WITHDRAWN,
        inputs=(REASON,),
        cancels_referrals=True,
    ),
    _S(
        "mark_lost_contact",
        _("Perdu de vue"),
        [P.ELIGIBLE, P.REFERRED, P.PLACED, P.IN_FOLLOW_UP],
        P.LOST_CONTACT,
        inputs=(REASON,),
        cancels_referrals=True,
    ),
    _S(
        "reopen",
        _("Rouvrir le parcours"),
        [P.EXITED, P.WITHDRAWN, P.LOST_CONTACT, P.INELIGIBLE],
        [P.ELIGIBLE, P.INTAKE],
        inputs=(REASON,),
        description=_("Rouvre vers « éligible » si l'éligibilité est encore valide, sinon vers « accueil »."),
        guards=(guards.participant_not_anonymised,),
    ),
)

REFERRAL = _table(
    "referral",
    _S("start_review", _("Prendre en examen"), [R.SENT], R.UNDER_REVIEW),
    _S(
        "approve",
        _("Valider le positionnement"),
        [R.UNDER_REVIEW],
        R.APPROVED,
        guards=(guards.offer_open, guards.eligibility_valid_today),
    ),
    _S("decline", _("Ne pas valider"), [R.SENT, R.UNDER_REVIEW, R.APPROVED], R.DECLINED, inputs=(REASON,)),
    _S("forward", _("Transmettre à l'employeur"), [R.APPROVED], R.FORWARDED, guards=(guards.offer_open,)),
    _S("accept", _("Retenir la candidature"), [R.FORWARDED], R.ACCEPTED, guards=(guards.offer_open,)),
    _S("refuse", _("Refuser la candidature"), [R.FORWARDED, R.ACCEPTED], R.REFUSED, inputs=(REASON,)),
    _S(
        "hire",
        _("Confirmer l'embauche"),
        [R.ACCEPTED],
        R.HIRED,
        inputs=(
            Input("contract_type", _("Type de contrat"), CHOICE, choices=ContractType, initial="offer_contract_type"),
            Input("start_date", _("Date de début"), DATE, initial="hire_start_date"),
            dataclasses.replace(WEEKLY_HOURS, initial="offer_weekly_hours"),
            Input(
                "fulfilment_mode",
                _("Modalité"),
                CHOICE,
                required=False,
                choices=FulfilmentMode,
                options="lot_fulfilment_modes",
                default=FulfilmentMode.DIRECT_HIRE,
            ),
            Input("planned_end_date", _("Date de fin prévue"), DATE, required=False),
        ),
        guards=(
            guards.offer_open,
            guards.eligibility_valid_at_start,
            guards.start_in_execution_window,
            guards.start_after_reopening,
        ),
    ),
    _S(
        "cancel",
        _("Annuler le positionnement"),
        [R.SENT, R.UNDER_REVIEW, R.APPROVED, R.FORWARDED, R.ACCEPTED],
        R.CANCELLED,
        inputs=(REASON,),
    ),
    _S(
        "expire",
        _("Expirer"),
        [R.SENT, R.UNDER_REVIEW, R.APPROVED, R.FORWARDED, R.ACCEPTED],
        R.EXPIRED,
        system=True,
        description=_("Sans réponse dans le délai fixé par la structure porteuse."),
    ),
)

PLACEMENT = _table(
    "placement",
    _S(
        "start",
        _("Démarrer le contrat"),
        [PL.PLANNED],
        PL.ACTIVE,
        guards=(guards.placement_start_reached, guards.placement_start_after_reopening),
    ),
    _S(
        "end",
        _("Déclarer la fin du contrat"),
        [PL.ACTIVE],
        PL.ENDED,
        inputs=(
            Input("end_date", _("Date de fin"), DATE),
            Input("end_kind", _("Type de fin"), CHOICE, choices=PlacementEndKind),
            reason(_("Motif (obligatoire pour une fin anticipée)"), required=False),
        ),
        guards=(guards.end_date_valid,),
    ),
    _S(
        "change_start_date",
        _("Corriger la date de début"),
        [PL.PLANNED],
        PL.PLANNED,
        inputs=(
            Input("start_date", _("Nouvelle date de début"), DATE, initial="placement_start_date"),
            reason(_("Motif de la correction"), required=False),
        ),
        guards=(guards.new_start_date_valid,),
        description=_("Contrat pas encore commencé : sa date de début prévue change (le parcours reste en poste)."),
    ),
    _S("cancel", _("Contrat non commencé"), [PL.PLANNED], PL.CANCELLED, inputs=(REASON,)),
)

HOURS_LINE = _table(
    "hoursline",
    _S("validate", _("Valider les heures"), [H.DECLARED], H.VALIDATED, guards=(guards.month_in_execution_window,)),
    _S("reject", _("Rejeter les heures"), [H.DECLARED], H.REJECTED, inputs=(REASON,)),
    _S("lock", _("Clôturer le mois"), [H.VALIDATED], H.LOCKED),
)

MACHINES = {"pathway": PATHWAY, "referral": REFERRAL, "placement": PLACEMENT, "hoursline": HOURS_LINE}
INITIAL_STATES = {"pathway": P.INTAKE, "referral": R.SENT, "placement": PL.PLANNED, "hoursline": H.DECLARED}
STATE_ENUMS = {"pathway": P, "referral": R, "placement": PL, "hoursline": H}


def all_specs():
    for table in MACHINES.values():
        yield from table.values()

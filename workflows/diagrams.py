"""State diagrams, transition tables and the readable "Circuits" page, generated from the declarations (docs and
page never drift from the code)."""

from django.utils.translation import gettext_lazy as _

from roles.enums import Role
from workflows import guards
from workflows.transitions import INITIAL_STATES, MACHINES, STATE_ENUMS

TITLES = {
    "pathway": _("Parcours"),
    "referral": _("Positionnement"),
    "placement": _("Mise en poste"),
    "hoursline": _("Relevé d'heures"),
}
INTRODUCTIONS = {
    "pathway": _("Le parcours d'un·e jeune, de l'accueil à la sortie : éligibilité, positionnements, emploi, suivi."),
    "referral": _(
        "Une candidature d'un·e jeune sur une offre d'un lot : examen par la structure porteuse, "
        "transmission à l'employeur, réponse, embauche."
    ),
    "placement": _("Le contrat d'un·e salarié·e en clause, de sa signature à sa fin."),
    "hoursline": _(
        "Les heures d'un mois déclarées par l'employeur, validées par la structure porteuse, puis "
        "clôturées avec le mois."
    ),
}
# The condition each guard checks, in words (tests/web checks that every guard of the tables has one).
GUARD_RULES = {
    guards.offer_open: _("l'offre est encore ouverte"),
    guards.eligibility_valid_today: _("l'éligibilité du ou de la jeune est validée et encore valide"),
    guards.eligibility_valid_at_start: _(
        "l'éligibilité est valide à la date de début du contrat (ou dans le délai de grâce des règles de comptage "
        "du lot)"
    ),
    guards.start_in_execution_window: _("la date de début tombe dans la période d'exécution du lot"),
    guards.start_after_reopening: _("un parcours rouvert : la date de début n'est pas avant sa réouverture"),
    guards.assessment_submitted: _("des critères d'éligibilité ou une dérogation motivée ont été déclarés"),
    guards.criteria_apply: _(
        "les critères définis par un âge (« moins de 26 ans ») sont remplis ce jour (une éligibilité validée reste "
        "acquise pendant sa durée de validité)"
    ),
    guards.placement_start_reached: _("la date de début du contrat est atteinte"),
    guards.placement_start_after_reopening: _("un parcours rouvert : la date de début n'est pas avant sa réouverture"),
    guards.new_start_date_valid: _(
        "la nouvelle date change vraiment, tombe dans la période d'exécution du lot, n'est pas avant la "
        "réouverture du parcours et l'éligibilité y est valide"
    ),
    guards.end_date_valid: _(
        "la date de fin n'est ni dans le futur ni avant le début, ni avant des heures déclarées (celles d'un mois "
        "suivant, ou plus d'heures dans son mois que les jours jusqu'à elle n'en permettent) ; une fin anticipée "
        "est motivée"
    ),
    guards.exit_date_valid: _(
        "la date de sortie n'est ni dans le futur, ni avant le début du parcours ou sa dernière réouverture, ni avant "
        "le début d'un de ses contrats commencés (un contrat en cours n'empêche pas la sortie)"
    ),
    guards.participant_not_anonymised: _("le dossier n'a pas été anonymisé (durée de conservation écoulée)"),
    guards.month_in_execution_window: _("le mois déclaré est dans la période d'exécution du lot"),
}
# A transition leaving this many states or more is drawn through one junction point: one label instead of one per
# source state (the labels of "withdraw", "cancel", "expire" overlapped everything else).
JUNCTION_FROM = 3


def who(spec) -> str:
    """Who fires the transition, for people: role labels, or how the system fires it."""
    if spec.system:
        return str(_("Automatique (délai dépassé)"))
    if spec.internal:
        return str(_("Automatique (suite d'une autre action)"))
    return ", ".join(str(Role(r).label) for r in spec.roles) or str(_("Personne"))


def rule(spec) -> str:
    """The rule of a transition in words: its description, then the conditions its guards check."""
    parts = [str(spec.description).rstrip(".")] if spec.description else []
    conditions = [str(GUARD_RULES[g]) for g in spec.guards if g in GUARD_RULES]
    if conditions:
        parts.append(str(_("Possible si %(conditions)s")) % {"conditions": " ; ".join(conditions)})
    if any(i.name == "reason" and i.required for i in spec.inputs):
        parts.append(str(_("Motif obligatoire")))
    if spec.cancels_referrals:
        parts.append(str(_("Annule les positionnements en cours")))
    return ". ".join(parts) + ("." if parts else "")


def _state(machine, value):
    return str(STATE_ENUMS[machine](value).label)


def _quote(text) -> str:
    return str(text).replace('"', '\\"')


def to_dot(machine: str) -> str:
    states = STATE_ENUMS[machine]
    lines = [
        f'digraph "{machine}" {{',
        f'  label="{_quote(TITLES[machine])}"; labelloc=t; fontsize=16; rankdir=LR; fontname="Helvetica";',
        "  nodesep=0.5; ranksep=1.1; splines=true; forcelabels=true; newrank=true;",
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9, labelfloat=false];',
        "  start [shape=point, width=0.15];",
    ]
    for state in states:
        lines.append(f'  "{state.value}" [label="{_quote(state.label)}"];')
    lines.append(f'  start -> "{INITIAL_STATES[machine]}";')
    for spec in MACHINES[machine].values():
        style = ", style=dashed" if not spec.user_fireable else ""
        label = f"{_quote(spec.label)}\\n[{_quote(who(spec))}]"
        if len(spec.sources) >= JUNCTION_FROM:
            junction = f"via_{spec.name}"
            lines.append(f'  "{junction}" [shape=point, width=0.08, label=""];')
            for source in spec.sources:
                lines.append(f'  "{source}" -> "{junction}" [arrowhead=none, color="#6c757d"{style}];')
            for target in spec.targets:
                lines.append(f'  "{junction}" -> "{target}" [label="{label}"{style}];')
            continue
        for source in spec.sources:
            for target in spec.targets:
                lines.append(f'  "{source}" -> "{target}" [label="{label}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def transition_rows():
    """(machine, transition, label, sources, targets, who, rule, inputs) for every declared transition."""
    for machine, table in MACHINES.items():
        for spec in table.values():
            yield {
                "machine": machine,
                "machine_title": TITLES[machine],
                "name": spec.name,
                "label": spec.label,
                "sources": [_state(machine, s) for s in spec.sources],
                "targets": [_state(machine, t) for t in spec.targets],
                "who": who(spec),
                "rule": rule(spec),
                "user_fireable": spec.user_fireable,
                "inputs": [str(i.label) + ("" if i.required else str(_(" (facultatif)"))) for i in spec.inputs],
            }


def circuits():
    """The Circuits page: per machine, its states (initial first, each with the actions leaving it) and its
    transitions in words."""
    rows = list(transition_rows())
    for machine, states in STATE_ENUMS.items():
        transitions = [r for r in rows if r["machine"] == machine]
        leaving = {s.value: [] for s in states}
        for spec in MACHINES[machine].values():
            for source in spec.sources:
                leaving[source].append(spec.label)
        ordered = sorted(states, key=lambda s: s != INITIAL_STATES[machine])
        yield {
            "machine": machine,
            "title": TITLES[machine],
            "introduction": INTRODUCTIONS[machine],
            "states": [
                {"label": s.label, "initial": s == INITIAL_STATES[machine], "actions": leaving[s.value]}
                for s in ordered
            ],
            "transitions": transitions,
        }


def to_markdown() -> str:
    out = ["# Transitions (generated by `python manage.py workflow_diagrams`; do not edit)", ""]
    current = None
    for row in transition_rows():
        if row["machine"] != current:
            current = row["machine"]
            out += [
                "",
                f"## {row['machine_title']} (`{current}`)",
                "",
                f"![{row['machine_title']}](../../static/workflows/{current}.svg)",
                "",
                "| Transition | Libellé | Depuis | Vers | Qui | Règle | Données |",
                "|---|---|---|---|---|---|---|",
            ]
        out.append(
            f"| `{row['name']}` | {row['label']} | {', '.join(map(str, row['sources']))} "
            f"| {', '.join(map(str, row['targets']))} | {row['who']} | {row['rule'] or '—'} "
            f"| {', '.join(row['inputs']) or '—'} |"
        )
    return "\n".join(out).strip() + "\n"

"""Which service runs each user-fireable transition, and under which keyword it takes its object.

The one dispatch table: the transition pages, the task pages and the API all run a transition through
`run_transition`, so a transition has one write path. Each service takes the declared inputs of its transition
(workflows.transitions) as keyword arguments.
"""

from parcours.services.pathways import PATHWAY_SERVICES
from parcours.services.placements import HOURS_LINE_SERVICES, PLACEMENT_SERVICES
from parcours.services.referrals import REFERRAL_SERVICES
from workflows.transitions import MACHINES

TRANSITION_SERVICES = {
    "pathway": PATHWAY_SERVICES,
    "referral": REFERRAL_SERVICES,
    "placement": PLACEMENT_SERVICES,
    "hoursline": HOURS_LINE_SERVICES,
}
OBJECT_KEYWORD = {"pathway": "pathway", "referral": "referral", "placement": "placement", "hoursline": "hours_line"}


def service_for(machine, name):
    return TRANSITION_SERVICES[machine][name]


def run_transition(*, machine, name, obj, actor, **inputs):
    return service_for(machine, name)(actor=actor, **{OBJECT_KEYWORD[machine]: obj}, **inputs)


def missing_services():
    """User-fireable transitions without a service (and services of no such transition): must be empty."""
    problems = []
    for machine, table in MACHINES.items():
        fireable = {name for name, spec in table.items() if spec.user_fireable or spec.system}
        services = set(TRANSITION_SERVICES.get(machine, {}))
        problems += [f"{machine}.{name}" for name in sorted(fireable ^ services)]
    return problems

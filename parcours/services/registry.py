"""Which service runs each user-fireable transition, and under which keyword it takes its object.

The web pages and the API both dispatch through this table, so a transition has one write path."""

from parcours.services.pathways import PATHWAY_SERVICES
from parcours.services.placements import HOURS_LINE_SERVICES, PLACEMENT_SERVICES
from parcours.services.referrals import REFERRAL_SERVICES

TRANSITION_SERVICES = {
    "pathway": PATHWAY_SERVICES,
    "referral": {k: v for k, v in REFERRAL_SERVICES.items() if k != "expire"},
    "placement": PLACEMENT_SERVICES,
    "hoursline": HOURS_LINE_SERVICES,
}
OBJECT_KEYWORD = {"pathway": "pathway", "referral": "referral", "placement": "placement", "hoursline": "hours_line"}


def run_transition(*, machine, name, obj, actor, **inputs):
    service = TRANSITION_SERVICES[machine][name]
    return service(actor=actor, **{OBJECT_KEYWORD[machine]: obj}, **inputs)

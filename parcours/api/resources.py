"""The API resources, declared once: model, read action, selector, output serializer, filters, journal type,
and for state machines the transition → (service, input serializer) table derived from workflows.transitions.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q
from rest_framework import serializers

from parcours import selectors
from parcours.api import serializers as s
from parcours.api.fields import QueryBooleanField, QueryIntegerField, QuerySinceField, StrictDateField
from parcours.models import ContractLot, HoursLine, JobOffer, Participant, Pathway, Placement, Referral
from parcours.selectors.lot_hours import with_counted_hours
from parcours.services.common import NOT_FOUND_MESSAGES
from workflows.states import HoursLineState, PathwayState, PlacementState, ReferralState
from workflows.transitions import MACHINES

MAX_ID = s.MAX_ID


# --- Filters (query parameters) ------------------------------------------------------------------------------
def _id(help_text):
    return QueryIntegerField(required=False, min_value=1, max_value=MAX_ID, help_text=help_text)


def _date(help_text):
    return StrictDateField(required=False, help_text=help_text)


def _states(enum):
    return serializers.MultipleChoiceField(
        choices=enum.choices, required=False, help_text="État (répétable : ?state=a&state=b)."
    )


ORGANISATION_HELP = "Organisation (identifiant) concernée."


def _since():
    # Only on the lists whose `updated_at` every change of the row moves, transitions included (saved whole:
    # roles.rows.save_row). Not on participants: their `current_state` is written by a trigger that leaves it.
    return QuerySinceField(
        required=False,
        help_text="Modifié à cet instant ou depuis (`updated_at`), pour une synchronisation incrémentale : "
        "AAAA-MM-JJTHH:MM:SS avec son décalage (Z ou +01:00), ou AAAA-MM-JJ (minuit, heure de Paris).",
    )


class ParticipantFilters(serializers.Serializer):
    state = serializers.MultipleChoiceField(
        choices=PathwayState.choices,
        required=False,
        help_text="État du parcours en cours (répétable : ?state=a&state=b).",
    )
    organisation = _id("Mission Locale qui suit le ou la jeune.")
    created_after = _date("Inscrit·e le ou après (AAAA-MM-JJ).")
    created_before = _date("Inscrit·e le ou avant (AAAA-MM-JJ).")


class PathwayFilters(serializers.Serializer):
    state = _states(PathwayState)
    started_after = _date("Commencé le ou après (AAAA-MM-JJ).")
    started_before = _date("Commencé le ou avant (AAAA-MM-JJ).")
    organisation = _id("Mission Locale ou structure porteuse du parcours.")
    participant = _id("Participant·e.")
    updated_since = _since()


class ReferralFilters(serializers.Serializer):
    state = _states(ReferralState)
    created_after = _date("Créé le ou après (AAAA-MM-JJ).")
    created_before = _date("Créé le ou avant (AAAA-MM-JJ).")
    organisation = _id("Mission Locale, structure porteuse ou employeur attributaire.")
    pathway = _id("Parcours.")
    offer = _id("Offre.")
    updated_since = _since()


class PlacementFilters(serializers.Serializer):
    state = _states(PlacementState)
    start_after = _date("Début prévu le ou après (AAAA-MM-JJ).")
    start_before = _date("Début prévu le ou avant (AAAA-MM-JJ).")
    organisation = _id("Employeur, structure porteuse ou Mission Locale.")
    pathway = _id("Parcours.")


class HoursLineFilters(serializers.Serializer):
    state = _states(HoursLineState)
    month_after = _date("Mois le ou après (AAAA-MM-JJ).")
    month_before = _date("Mois le ou avant (AAAA-MM-JJ).")
    organisation = _id("Employeur ou structure porteuse.")
    placement = _id("Mise en poste.")
    lot = _id("Lot (celui de la mise en poste).")


class JobOfferFilters(serializers.Serializer):
    is_open = QueryBooleanField(required=False, allow_null=True, default=None, help_text="Offres ouvertes.")
    created_after = _date("Publiée le ou après (AAAA-MM-JJ).")
    created_before = _date("Publiée le ou avant (AAAA-MM-JJ).")
    organisation = _id("Structure porteuse ou employeur attributaire du lot.")
    lot = _id("Lot.")


class LotFilters(serializers.Serializer):
    active_on = _date("En cours d'exécution ce jour-là (AAAA-MM-JJ).")
    organisation = _id("Structure porteuse, attributaire ou acheteur.")


def _org_q(org, *paths):
    q = Q()
    for path in paths:
        q |= Q(**{path: org})
    return q


def _apply(qs, data, mapping):
    for name, value in data.items():
        if value is None or value == set() or value == []:
            continue
        qs = qs.filter(mapping[name](value))
    return qs


FILTERS = {
    "participants": {
        "state": lambda v: Q(current_state__in=sorted(v)),
        "organisation": lambda v: Q(youth_agency_id=v),
        "created_after": lambda v: Q(created_at__date__gte=v),
        "created_before": lambda v: Q(created_at__date__lte=v),
    },
    "pathways": {
        "state": lambda v: Q(state__in=sorted(v)),
        "started_after": lambda v: Q(started_on__gte=v),
        "started_before": lambda v: Q(started_on__lte=v),
        "organisation": lambda v: _org_q(v, "participant__youth_agency_id", "facilitation_organisation_id"),
        "participant": lambda v: Q(participant_id=v),
        "updated_since": lambda v: Q(updated_at__gte=v),
    },
    "referrals": {
        "state": lambda v: Q(state__in=sorted(v)),
        "created_after": lambda v: Q(created_at__date__gte=v),
        "created_before": lambda v: Q(created_at__date__lte=v),
        "organisation": lambda v: _org_q(
            v,
            "pathway__participant__youth_agency_id",
            "offer__lot__contract__operation__facilitation_organisation_id",
            "offer__lot__awardee_id",
        ),
        "pathway": lambda v: Q(pathway_id=v),
        "offer": lambda v: Q(offer_id=v),
        "updated_since": lambda v: Q(updated_at__gte=v),
    },
    "placements": {
        "state": lambda v: Q(state__in=sorted(v)),
        "start_after": lambda v: Q(start_date__gte=v),
        "start_before": lambda v: Q(start_date__lte=v),
        "organisation": lambda v: _org_q(
            v,
            "employer_id",
            "lot__contract__operation__facilitation_organisation_id",
            "pathway__participant__youth_agency_id",
        ),
        "pathway": lambda v: Q(pathway_id=v),
    },
    "hours-lines": {
        "state": lambda v: Q(state__in=sorted(v)),
        "month_after": lambda v: Q(month__gte=v),
        "month_before": lambda v: Q(month__lte=v),
        "organisation": lambda v: _org_q(
            v, "placement__employer_id", "lot__contract__operation__facilitation_organisation_id"
        ),
        "placement": lambda v: Q(placement_id=v),
        "lot": lambda v: Q(lot_id=v),
    },
    "job-offers": {
        "is_open": lambda v: Q(is_open=v),
        "created_after": lambda v: Q(created_at__date__gte=v),
        "created_before": lambda v: Q(created_at__date__lte=v),
        "organisation": lambda v: _org_q(
            v, "lot__contract__operation__facilitation_organisation_id", "lot__awardee_id"
        ),
        "lot": lambda v: Q(lot_id=v),
    },
    "lots": {
        "active_on": lambda v: Q(execution_starts_on__lte=v, execution_ends_on__gte=v),
        "organisation": lambda v: _org_q(
            v, "contract__operation__facilitation_organisation_id", "awardee_id", "contract__buyer_id"
        ),
    },
}


# --- Resources -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resource:
    path: str  # URL segment under /api/v1/
    model: type
    view_action: str  # roles.policy action needed to read
    selector: Callable  # actor -> scoped queryset (parcours.selectors)
    serializer: type
    filters: type
    journal_type: str  # JournalEvent.object_type
    related: tuple = ()  # extra select_related for the serializer
    # The related rows the API reads with its rows, instead of the selector's (a page's, which shows more): each row
    # and related row is an object built at every request (a referral with the lot, its contract, operation and
    # awardee: 13.4 ms for a page of 50; with its pathway, participant, offer and placement: 7.2 ms).
    read_with: tuple = ()
    # The participant whose file one object shows (name, contact): its read is logged (parcours.access_log).
    participant_path: str = ""
    # (actor, rows) → the rows with what their serializer shows beyond their columns, read for the page at once (a
    # lot's counted hours: the figure its pages show).
    shown_with: Callable | None = None
    # Filters on what a buyer's auditor is not shown (a file's intake date): refused to them, else they would read it
    # back by narrowing the dates.
    auditor_refused_filters: tuple = ()

    @property
    def machine(self):
        return getattr(self.model, "MACHINE", None)

    @property
    def not_found_message(self):
        return NOT_FOUND_MESSAGES.get(self.model._meta.model_name, "Ressource introuvable.")

    def queryset(self, actor):
        qs = self.selector(actor)
        if self.read_with:
            return qs.select_related(None).select_related(*self.read_with)
        return qs.select_related(*self.related) if self.related else qs

    def participant_id(self, obj):
        """The id of the participant `obj` shows, read through its loaded relations (None: it shows none)."""
        if not self.participant_path:
            return None
        value = obj
        for name in self.participant_path.split("."):
            value = getattr(value, name)
        return value

    def filter(self, qs, data):
        return _apply(qs, data, FILTERS[self.path])

    def transitions(self):
        """User-fireable transitions of the machine, in declaration order (their inputs and service are derived
        from the declaration: parcours.api.inputs, parcours.services.registry)."""
        if not self.machine:
            return []
        return [spec for spec in MACHINES[self.machine].values() if spec.user_fireable]


PARTICIPANTS = Resource(
    path="participants",
    model=Participant,
    view_action="participant.view",
    selector=selectors.participants_for,
    serializer=s.ParticipantSerializer,
    filters=ParticipantFilters,
    journal_type="participant",
    auditor_refused_filters=("created_after", "created_before"),
)
PATHWAYS = Resource(
    path="pathways",
    model=Pathway,
    view_action="participant.view",
    selector=selectors.pathways_for,
    serializer=s.PathwaySerializer,
    filters=PathwayFilters,
    journal_type="pathway",
    participant_path="participant_id",
)
REFERRALS = Resource(
    path="referrals",
    model=Referral,
    view_action="referral.view",
    selector=selectors.referrals_for,
    serializer=s.ReferralSerializer,
    filters=ReferralFilters,
    journal_type="referral",
    read_with=("pathway__participant", "offer", "placement"),
    participant_path="participant_id",
)
PLACEMENTS = Resource(
    path="placements",
    model=Placement,
    view_action="placement.view",
    selector=selectors.placements_for,
    serializer=s.PlacementSerializer,
    filters=PlacementFilters,
    journal_type="placement",
    read_with=("pathway__participant", "employer", "lot"),
    participant_path="participant_id",
)
HOURS_LINES = Resource(
    path="hours-lines",
    model=HoursLine,
    view_action="hoursline.view",
    selector=selectors.hours_lines_for,
    serializer=s.HoursLineSerializer,
    filters=HoursLineFilters,
    journal_type="hoursline",
    participant_path="placement.participant_id",
)
JOB_OFFERS = Resource(
    path="job-offers",
    model=JobOffer,
    view_action="offer.view",
    selector=selectors.offers_for,
    serializer=s.JobOfferSerializer,
    filters=JobOfferFilters,
    journal_type="offer",
)
LOTS = Resource(
    path="lots",
    model=ContractLot,
    view_action="lot.view",
    selector=selectors.lots_with_realised_hours,
    serializer=s.LotSerializer,
    filters=LotFilters,
    journal_type="lot",
    shown_with=with_counted_hours,
)

STATEFUL = [PATHWAYS, REFERRALS, PLACEMENTS, HOURS_LINES]

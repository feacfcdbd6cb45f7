"""Selectors: the one read path. Every queryset is scoped by roles.policy to what the actor may see,
with the joins a page needs, so a list costs a fixed number of queries whatever its length."""

from django.db import connection
from django.db.models import Count, DecimalField, Max, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from parcours.access_log import log_participant_access
from parcours.models import (
    AssessedCriterion,
    ContractLot,
    HoursLine,
    JobOffer,
    Participant,
    Pathway,
    Placement,
    Referral,
)
from parcours.selectors.journal import participant_timeline_events, present_events
from roles.policy import allows, among, may, member_rows, remember_scopes, scope_queryset, with_scopes_of_row
from roles.statements import Compiled
from workflows.errors import DomainError
from workflows.states import REFERRAL_OPEN_STATES, HoursLineState, PlacementState
from workflows.vocabulary import AccessChannel


def participants_for(actor):
    """Participant files the actor may read (the scope of participant.view), for lists."""
    qs = Participant.objects.select_related("youth_agency", "referent_adviser")
    return scope_queryset(actor, "participant.view", qs).order_by("last_name", "first_name", "pk")


def pathways_for(actor):
    qs = Pathway.objects.select_related("participant", "referent_adviser", "participant__youth_agency")
    return scope_queryset(actor, "participant.view", qs).order_by(
        "participant__last_name", "participant__first_name", "pk"
    )


def referrals_for(actor):
    qs = Referral.objects.select_related(
        "pathway__participant", "offer__lot__contract__operation", "offer__lot__awardee"
    )
    return scope_queryset(actor, "referral.view", qs, grants_first=True).order_by("-updated_at", "-pk")


def placements_for(actor):
    qs = Placement.objects.select_related("pathway__participant", "employer", "lot__contract")
    return scope_queryset(actor, "placement.view", qs, grants_first=True).order_by("-start_date", "-pk")


def _referrals_of_participant(actor, participant_id):
    return referrals_for(actor).filter(participant_id=participant_id)


def _placements_of_participant(actor, participant_id):
    return placements_for(actor).filter(participant_id=participant_id)


def participant_referrals(actor, participant_id) -> list:
    """The referrals of one participant the actor may see, newest first (the file), compiled once per role."""
    return member_rows(_referrals_of_participant, actor, int(participant_id))


def participant_placements(actor, participant_id) -> list:
    """The placements of one participant the actor may see, latest start first (the file), compiled once per role."""
    return member_rows(_placements_of_participant, actor, int(participant_id))


def contracts_running(actor, pathway) -> list:
    """The pathway's contracts planned or running, as the actor may see them (a pathway's exit does not end them)."""
    open_states = (PlacementState.PLANNED, PlacementState.ACTIVE)
    placements = placements_for(actor).filter(pathway=pathway, state__in=open_states)
    return list(placements.select_related("employer", "lot").order_by("pk"))


def referrals_to_cancel(actor, pathway) -> list:
    """The pathway's referrals still open, as the actor may see them: closing the pathway cancels them."""
    referrals = referrals_for(actor).filter(pathway=pathway, state__in=REFERRAL_OPEN_STATES)
    return list(referrals.order_by("pk"))


def newest_referral_id(pathway) -> int:
    """The highest id of the pathway's referrals (0: none), whoever may see them: a page closing the pathway carries
    it, and a referral added after it was drawn is refused as unseen (services.pathways) rather than cancelled."""
    return Referral.objects.filter(pathway_id=pathway.pk).aggregate(newest=Max("pk"))["newest"] or 0


def hours_lines_for(actor):
    qs = HoursLine.objects.select_related("placement__pathway__participant", "placement__lot")
    return scope_queryset(actor, "hoursline.view", qs, grants_first=True).order_by("-month", "-pk")


def offers_for(actor):
    qs = JobOffer.objects.select_related("lot__contract__operation", "lot__awardee")
    return scope_queryset(actor, "offer.view", qs).order_by("-is_open", "title", "pk")


def lots_for(actor):
    """The actor's lots (pages show the hours their counting rules count: selectors.lot_hours.with_counted_hours)."""
    qs = ContractLot.objects.select_related("contract__operation", "awardee")
    return scope_queryset(actor, "lot.view", qs).order_by("contract__reference", "number")


# The joins each home list shows (templates/home/_*.html) and no more. A home list is one page of ten rows: planning
# the list pages' eight-table join cost more than running it (the adviser's recent referrals: 26 -> 16 ms at 100,000
# pathways, the employer's candidates 29 -> 17 ms).
HOME_ROWS = {
    Referral: ("pathway__participant", "offer__lot"),
    Placement: ("pathway__participant", "lot"),
    HoursLine: ("placement__pathway__participant", "placement__lot"),
    JobOffer: ("lot",),
    ContractLot: ("contract", "awardee"),
    Pathway: ("participant__youth_agency",),
}


# A list of at most this many rows is paged among all of them (`among_its_rows`). Below the homes' count cap
# (web.pages.HOME_COUNT_CAP), so that a count this small is exact.
FEW_ROWS = 500


def among_its_rows(queryset, limit=FEW_ROWS):
    """`queryset`, a list of at most `limit` rows, restricted on PostgreSQL to its rows read unordered (any plan finds
    them), then looked up by id: its pages are sorted from those alone. In the list's order the planner walks the
    index made for a large team, checking each row's scope: a small facilitation organisation's two referrals to
    review were found after 8,920 others at 100,000 pathways, its home took a second at 1,000,000."""
    if connection.vendor != "postgresql":
        return queryset
    return queryset.filter(among("pk", queryset.order_by().values("pk")[:limit]))


def home_rows(queryset):
    """`queryset` (scoped, filtered, ordered) joining only what its home list shows."""
    return queryset.select_related(None).select_related(*HOME_ROWS[queryset.model])


def lots_with_realised_hours(actor):
    """The actor's lots with their validated or locked hours (the API's `realised_hours`)."""
    # One sum per lot in a correlated subquery: grouping the page's wide rows by lot over every hours line costs
    # a sort of the whole join (1.4 s at 200k pathways). Pages do not need it: it cost 500 ms at 100k pathways.
    lines = (
        HoursLine.objects.filter(
            placement__lot=OuterRef("pk"), state__in=[HoursLineState.VALIDATED, HoursLineState.LOCKED]
        )
        .order_by()
        .values("placement__lot")
        .annotate(total=Sum("hours"))
        .values("total")
    )
    realised = Coalesce(Subquery(lines), Value(0), output_field=DecimalField(max_digits=9, decimal_places=2))
    # Those who follow a lot's hours: its facilitators and buyer (report.view), its awardee (statement.view). An
    # adviser reads a lot to refer young people to its offers, not its hours: on a lot with one employee they were
    # another Mission Locale's young person's hours.
    if not (may(actor, "report.view") or may(actor, "statement.view")):
        realised = Value(None, output_field=DecimalField(max_digits=9, decimal_places=2))
    return lots_for(actor).annotate(realised_hours=realised)


def count_by_state(queryset):
    # COUNT(*), not COUNT(id): an index holding the scope's key and the state answers alone (index-only scan)
    return dict(queryset.order_by().values_list("state").annotate(n=Count("*")))


def participant_file(*, actor, participant_id, channel=AccessChannel.PAGE, log=True):
    """The participant file if the actor may read it (else 'not found'); the read is logged (`log=False`: a check
    before a write, whose answer then reads the file again, logged; a refused write discloses nothing)."""
    if actor is None or actor.is_system or actor.organisation is None:
        participant = None
    else:
        # With whether the actor reaches it through each scope of its role, kept on the row (as a transition's
        # locked row keeps them): the page's other checks on it (health data, update, access log, …) ask no query.
        organisation = actor.organisation
        read = _file_read(actor.role, bool(actor.named_access))
        found = read(int(participant_id), organisation.pk, organisation.group_id)
        participant = remember_scopes(found[0], actor) if found else None
    if participant is None or not allows(actor, "participant.view", participant):
        raise DomainError("not_found", _("Participant·e introuvable."))
    if log:
        log_participant_access(actor=actor, participant_id=participant.pk, channel=channel)
    return participant


_FILE_READS = {}  # (role, named access) → Compiled


def _file_read(role, named_access) -> Compiled:
    """A participant's row with its agency and referent, and its scope checks for a member of an organisation in
    `role`: compiled once per role (the organisation's ids are arguments)."""
    found = _FILE_READS.get((role, named_access))
    if found is None:

        def build(pk, organisation_id, group_id):
            rows = Participant.objects.select_related("youth_agency", "referent_adviser")
            return with_scopes_of_row(
                rows, role, named_access, pk, organisation_id=organisation_id, group_id=group_id
            ).filter(pk=pk)

        found = _FILE_READS.setdefault((role, named_access), Compiled(build, arguments=3))
    return found


def participant_assessments(*, actor, participant):
    """Eligibility assessments: their decisions to every viewer of the file; their criteria and derogation reason
    (`visible_criteria`, `shown_derogation_reason`) to the adviser and the facilitator only, never to a buyer's
    auditor; health-data criteria (RQTH, AAH) only to the facilitator."""
    show_criteria = allows(actor, "participant.view_criteria", participant)
    show_health = show_criteria and allows(actor, "participant.view_health_data", participant)
    assessments = list(participant.assessments.select_related("submitted_by", "decided_by").order_by("-submitted_at"))
    by_assessment = {}
    if show_criteria:
        assessed = AssessedCriterion.objects.filter(assessment__participant=participant).select_related(
            "criterion", "proof_seen_by"
        )
        if not show_health:
            assessed = assessed.filter(criterion__is_health_data=False)
        for row in assessed:
            by_assessment.setdefault(row.assessment_id, []).append(row)
    for assessment in assessments:
        assessment.visible_criteria = by_assessment.get(assessment.pk, [])
        assessment.shown_derogation_reason = assessment.derogation_reason if show_criteria else ""
    return assessments, show_health


def participant_timeline(*, actor, participant):
    """The events of a participant's file the actor may see, labelled, with their inputs filtered."""
    return present_events(actor, participant_timeline_events(actor, participant.pk))


MACHINE_MODELS = {"pathway": Pathway, "referral": Referral, "placement": Placement, "hoursline": HoursLine}
MACHINE_VIEW_ACTIONS = {
    "pathway": "participant.view",
    "referral": "referral.view",
    "placement": "placement.view",
    "hoursline": "hoursline.view",
}


def stateful_object_for(*, actor, machine, pk):
    """A pathway / referral / placement / hours line the actor may see, or None (pages answer 404)."""
    model = MACHINE_MODELS.get(machine)
    if model is None or actor is None:
        return None
    return scope_queryset(actor, MACHINE_VIEW_ACTIONS[machine], model.objects.all()).filter(pk=pk).first()

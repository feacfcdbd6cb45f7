"""Selectors for the adviser and auditor pages: participant list and search, offer search, pathway search,
the eligibility catalogue and the human-readable timeline. Every queryset is scoped by roles.policy."""

from django.apps import apps
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Left, Length
from django.utils.translation import gettext as _

from parcours.access_log import log_participant_access
from parcours.models import EligibilityCriterion, Exit, FollowUp, JobOffer, Participant, Pathway
from parcours.selectors.journal import contact_hidden, participant_timeline_events, present_events, pseudonymised
from parcours.selectors.tally import pathway_counts_for
from parcours.text import fold, pseudonym_number, search_words
from roles.enums import OrganisationKind
from roles.models import Organisation
from roles.policy import allows, grant_holder, scope_queryset
from workflows.errors import DomainError
from workflows.vocabulary import AccessChannel

__all__ = [
    "exit_for",
    "latest_exit_of",
    "active_criteria",
    "facilitation_partners",
    "offer_search",
    "participant_for_update",
    "participant_search",
    "participant_total",
    "pathway_follow_ups",
    "follow_ups_of_pathway",
    "pathway_for",
    "participant_timeline_export",
    "pathway_search",
    "pathway_total",
    "planned_follow_ups",
]


def _latest_pathway():
    return Pathway.objects.filter(participant=OuterRef("pk")).order_by("-started_on", "-pk")


def _matching_words(qs, field, query):
    """Rows whose folded `field` holds every folded word of `query`. A query with no word folding can read (letters
    of another script: folded names hold none) matches no row, never every row."""
    words = search_words(query)
    if (query or "").strip() and not words:
        return qs.none()
    for word in words:
        qs = qs.filter(**{f"{field}__contains": word})
    return qs


def participant_search(actor, *, query="", state="", programme=""):
    """The participants the actor may read, with their current pathway (id and state), searchable by name or
    i-milo reference and filterable by current pathway state (kept on the participant by triggers:
    parcours.selectors.current_state) and programme."""
    qs = Participant.objects.select_related("youth_agency", "referent_adviser").annotate(
        current_pathway_id=Subquery(_latest_pathway().values("pk")[:1]),
    )
    qs = scope_queryset(actor, "participant.view", qs)
    # Accent- and case-insensitive: each folded word is looked for in the folded names and i-milo reference.
    qs = _matching_words(qs, "search_text", query)
    if state:
        qs = qs.filter(current_state=state)
    if programme:
        qs = qs.filter(programme=programme)
    return qs.order_by("last_name", "first_name", "pk")


def participant_total(actor, *, query="", state="", programme=""):
    """How many rows `participant_search` gives, when the grants alone say it (else None: the page counts).

    With no filter, an adviser's, a facilitator's or an auditor's participants are those its organisation's group
    holds one grant on, and a grant row exists once per participant (guardian's unique (group, permission, object);
    deleting the participant deletes it): counting the grants reads one index range. Counting the scoped participants
    walked the grants and probed each participant (a Mission Locale's 15,000 at 1,000,000 pathways: 17-23 ms)."""
    if query or state or programme:
        return None
    holder = grant_holder(actor, "participant.view", Participant)
    if holder is None or holder[1] != "":
        return None
    label, _path, group_id, permission_id = holder
    return apps.get_model(label).objects.filter(group_id=group_id, permission_id=permission_id).count()


def participant_for_update(*, actor, participant_id):
    """The participant if the actor may change it, else None (pages answer 404). Not logged here: the edit page
    logs its read when it shows the form (a refused or re-shown post writes no access row of its own)."""
    qs = scope_queryset(actor, "participant.update", Participant.objects.select_related("youth_agency"))
    return qs.filter(pk=participant_id).first()


def pathway_for(*, actor, pathway_id, action="participant.view"):
    """One pathway the actor may reach through `action`, else None (pages answer 404)."""
    qs = Pathway.objects.select_related("participant__youth_agency", "facilitation_organisation")
    return scope_queryset(actor, action, qs).filter(pk=pathway_id).first()


def pathway_search(actor, *, query="", state=""):
    """Pathways in the actor's scope (auditors: referred on the buyer's contracts), searchable by name — or, for
    a viewer who reads files without identity, by pseudonym only (a name search would tell who is in the files)."""
    qs = Pathway.objects.select_related("participant__youth_agency", "facilitation_organisation")
    qs = scope_queryset(actor, "participant.view", qs)
    if pseudonymised(actor):
        for word in (query or "").split():
            number = pseudonym_number(word)
            qs = qs.filter(participant_id=number) if number is not None else qs.none()
        query = ""
    qs = _matching_words(qs, "participant__search_text", query)
    if query and contact_hidden(actor):
        # Names only: the folded i-milo identifier ends the search text, and it is not the auditor's to look up
        # (nor to learn by searching). The indexed match above finds the rows, this one keeps the names' matches.
        names = Left(
            "participant__search_text",
            Length("participant__search_text") - Length("participant__imilo_reference"),
        )
        qs = qs.alias(names_text=names)
        for word in search_words(query):
            qs = qs.filter(names_text__contains=word)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("participant__last_name", "participant__first_name", "-started_on", "pk")


def pathway_total(actor, *, query="", state=""):
    """How many rows `pathway_search` gives with no name searched: the actor's pathways by state, read from the tally
    kept beside the grants (parcours.selectors.tally; an auditor's 15,000 pathways at 1,000,000 were counted through
    their grants, 37 ms, 67 ms for one state). None when a name is searched: the page counts."""
    if query.split():
        return None
    counts = pathway_counts_for(actor)
    return counts.get(state, 0) if state else sum(counts.values())


def offer_search(actor, *, trade="", place="", qpv="", open_only=True):
    """Job offers in the actor's scope (advisers: lots of partner facilitation organisations)."""
    qs = JobOffer.objects.select_related("lot__contract__operation__facilitation_organisation", "lot__awardee")
    qs = scope_queryset(actor, "offer.view", qs)
    if qpv == "yes":
        qs = qs.filter(is_qpv_mandatory=True)
    elif qpv == "no":
        qs = qs.filter(is_qpv_mandatory=False)
    if open_only:
        qs = qs.filter(is_open=True)
    searched = [(words, fields) for words, fields in ((trade, TRADE_TEXT), (place, PLACE_TEXT)) if words]
    if searched:
        qs = qs.filter(pk__in=_offers_matching(qs, searched))
    return qs.order_by("-is_open", "title", "pk")


TRADE_TEXT = ("trade", "title", "rome_code")
PLACE_TEXT = ("location", "lot__contract__operation__commune")


def _offers_matching(qs, searched) -> list:
    """The offers of `qs` whose texts hold every word searched, accents and case ignored (« venissieux » finds
    Vénissieux, « maconnerie » Maçonnerie): folded here, the offers of a scope being few (a Mission Locale's
    partners' lots), read in one statement of their texts."""
    wanted = [(search_words(words), fields) for words, fields in searched]
    if any(not words for words, _ in wanted):  # punctuation alone, a script folding cannot read: nothing
        return []
    columns = list(dict.fromkeys(field for _, fields in wanted for field in fields))
    found = []
    for pk, *values in qs.order_by().values_list("pk", *columns):
        text = dict(zip(columns, values, strict=True))
        folded = [(words, fold(" ".join(text[field] or "" for field in fields))) for words, fields in wanted]
        if all(word in haystack for words, haystack in folded for word in words):
            found.append(pk)
    return found


def active_criteria():
    return EligibilityCriterion.objects.filter(is_active=True).order_by("position", "label")


def facilitation_partners(organisation):
    """The facilitation organisations partnering with a Mission Locale."""
    return Organisation.objects.filter(partners=organisation, kind=OrganisationKind.FACILITATION).order_by("name")


def pathway_follow_ups(*, participant):
    return (
        FollowUp.objects.filter(pathway__participant=participant)
        .select_related("recorded_by", "pathway")
        .order_by("done_on", "due_on", "pk")
    )


def follow_ups_of_pathway(*, pathway):
    """A pathway's follow-ups, for whoever may read the pathway (its notes: `IdentityMaskMixin` in the API)."""
    return FollowUp.objects.filter(pathway=pathway).select_related("recorded_by")


def planned_follow_ups(*, pathway):
    return pathway.follow_ups.filter(done_on__isnull=True).order_by("due_on", "pk")


def participant_timeline_export(*, actor, participant_id):
    """The participant and the events of their file the actor may see, for a CSV/XLSX export, if the actor may read
    the file (else 'not found'). The export is logged as such."""
    participant = Participant.objects.filter(pk=participant_id).first()
    if participant is None or actor is None or not allows(actor, "participant.view", participant):
        raise DomainError("not_found", _("Participant·e introuvable."))
    log_participant_access(actor=actor, participant_id=participant.pk, channel=AccessChannel.EXPORT, purpose="export")
    return participant, present_events(actor, participant_timeline_events(actor, participant.pk))


def exit_for(*, actor, pk, action="exit.record_outcome"):
    """One exit whose pathway the actor may act on (None: the page answers 404)."""
    return scope_queryset(actor, action, Exit.objects.filter(pk=pk).select_related("pathway__participant")).first()


def latest_exit_of(pathway):
    """The pathway's latest exit (a reopened pathway may have exited twice), or None; its scope is the pathway's."""
    return (
        Exit.objects.filter(pathway=pathway)
        .select_related("pathway__participant")
        .order_by("-exited_on", "-pk")
        .first()
    )

"""Web views: parse, authenticate, call a selector or a service, render. No business rules here."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from parcours import selectors
from parcours.access_log import log_participant_access
from parcours.selectors.tasks import work_summary
from parcours.services.referrals import REFERABLE_PATHWAY_STATES
from parcours.web.common import IdsFirstPaginator, actions_for, row_actions
from roles.enums import Role
from roles.middleware import SESSION_KEY
from workflows.diagrams import circuits
from workflows.engine import state_label
from workflows.errors import DomainError
from workflows.guards import file_closed
from workflows.states import PATHWAY_OPEN_STATES

# Each list of a home is one page of HOME_PAGE_SIZE rows (its own `?<list>=n` parameter), after the work summary;
# the full lists, with their filters, are the role's list pages.
HOME_PAGE_SIZE = 10
# A home list counts its rows up to HOME_COUNT_CAP: past it, its pager says "plus de 1 000 lignes" and leaves the rest
# to the role's full list page, which filters and counts them all. Counting every row in scope grew with the data
# (a Mission Locale's referrals: 33 ms at 100,000 pathways, a facilitator's shared pathways: 41 ms); the capped
# count stops at the row after the cap whatever the size.
HOME_COUNT_CAP = 1000
# Roles that receive tasks: their home opens on what waits for them.
WORKING_ROLES = (Role.ADVISER, Role.FACILITATOR, Role.EMPLOYER)


def _actor_or_none(request):
    return getattr(request, "actor", None)


def _home_list(request, queryset, param, *, total=None, ids_first=False):
    """One page of a home list: a count (capped at HOME_COUNT_CAP) and a slice joining only what the list shows
    (two queries whatever the number of rows; one when the page already knows the `total`, e.g. from its counts by
    state), with the links to the neighbouring pages keeping the other lists' pages."""
    capped = False
    if total is None:
        total = queryset.order_by()[: HOME_COUNT_CAP + 1].count()
        capped = total > HOME_COUNT_CAP
        total = min(total, HOME_COUNT_CAP)
    paginator = (IdsFirstPaginator if ids_first else Paginator)(selectors.home_rows(queryset), HOME_PAGE_SIZE)
    paginator.count = total  # Paginator.count is a cached property: the scoped COUNT is not run again
    page = paginator.get_page(request.GET.get(param))

    def link(number):
        query = request.GET.copy()
        query[param] = number
        return f"?{query.urlencode()}#{param}"

    return {
        "page": page,
        "rows": page.object_list,
        "capped": capped,  # more rows than `total`: the full list page has them
        "cap": HOME_COUNT_CAP,
        "param": param,
        "previous_url": link(page.previous_page_number()) if page.has_previous() else "",
        "next_url": link(page.next_page_number()) if page.has_next() else "",
    }


def _counted(actor, listed):
    """The page of lots with the hours their counting rules count (as the dashboard shows them)."""
    listed["rows"] = selectors.with_counted_hours(actor, listed["rows"])
    return listed


@login_required
def home(request):
    actor = _actor_or_none(request)
    context = {"actor": actor}
    if actor is None:
        return render(request, "home/no_membership.html", context)
    if actor.role in WORKING_ROLES:
        context["work"] = work_summary(actor)
    if actor.role == Role.ADVISER:
        pathways = selectors.pathways_for(actor)
        counts = selectors.pathway_counts_for(actor)
        context.update(
            pathway_counts=_labelled_counts("pathway", counts),
            pathways=_home_list(request, pathways, "parcours", total=sum(counts.values())),
            referrals=_home_list(request, selectors.referrals_for(actor), "positionnements"),
        )
    elif actor.role == Role.FACILITATOR:
        counts = selectors.count_by_state(selectors.referrals_for(actor))
        waiting_states = selectors.REFERRALS_WAITING_FOR_FACILITATOR
        waiting = selectors.referrals_to_review(actor=actor, states=waiting_states)
        waiting_total = sum(counts.get(state, 0) for state in waiting_states)
        declared = selectors.hours_lines_to_validate(actor=actor, states=selectors.HOURS_WAITING_FOR_FACILITATOR)
        context.update(
            referral_counts=_labelled_counts("referral", counts),
            # The same scope as the counts by state: their sum is the list's total (no second COUNT).
            referrals=_home_list(request, waiting, "positionnements", total=waiting_total, ids_first=True),
            hours_lines=_home_list(request, declared, "heures", ids_first=True),
            lots=_counted(actor, _home_list(request, selectors.lots_for(actor), "lots")),
            pathways=_home_list(request, selectors.pathways_for(actor), "parcours"),
        )
    elif actor.role == Role.EMPLOYER:
        waiting = selectors.candidates_for(actor=actor, states=selectors.CANDIDATES_WAITING_FOR_EMPLOYER)
        context.update(
            # Scoped grants first (selectors.referrals_for): the page's ids are sorted from the employer's rows
            # alone, then only those rows are joined to what the list shows.
            referrals=_home_list(request, waiting, "candidatures", ids_first=True),
            placements=_home_list(request, selectors.placements_for(actor), "salaries", ids_first=True),
            hours_lines=_home_list(request, selectors.hours_lines_for(actor), "heures", ids_first=True),
            offers=_home_list(request, selectors.offers_for(actor), "offres"),
        )
    elif actor.role == Role.DPO:
        context.update(accesses=selectors.access_log_for(actor)[:20])
    elif actor.role == Role.AUDITOR:
        pathways = selectors.pathways_for(actor)
        counts = selectors.pathway_counts_for(actor)
        context.update(
            pathway_counts=_labelled_counts("pathway", counts),
            lots=_counted(actor, _home_list(request, selectors.lots_for(actor), "lots")),
            pathways=_home_list(request, pathways, "parcours", total=sum(counts.values())),
        )
    return render(request, f"home/{actor.role.value}.html", context)


def _labelled_counts(machine, counts):
    return [(state_label(machine, state), n) for state, n in sorted(counts.items(), key=lambda kv: -kv[1])]


@login_required
@require_POST
def switch_organisation(request):
    wanted = request.POST.get("membership")
    membership = next((m for m in request.memberships if str(m.pk) == wanted), None)
    if membership is None:
        messages.error(request, gettext("Organisation inconnue."))
    else:
        request.session[SESSION_KEY] = membership.pk
        messages.success(
            request,
            gettext("Vous agissez maintenant pour %(organisation)s.") % {"organisation": membership.organisation},
        )
    return redirect("home")


@login_required
def participant_detail(request, pk):
    """The participant file: identity, eligibility, pathways with their actions, referrals, placements,
    follow-ups and the journal. The read is logged by the selector."""
    actor = _actor_or_none(request)
    try:
        participant = selectors.participant_file(actor=actor, participant_id=pk)
    except DomainError:
        raise Http404("Participant·e introuvable.") from None
    if selectors.pseudonymised(actor):
        return _pseudonymised_file(request, actor, participant)
    pathways = _with_exits(
        selectors.with_state_entry_dates(
            "pathway",
            participant.pathways.select_related("facilitation_organisation")
            .prefetch_related("exits")
            .order_by("-started_on", "-pk"),
        )
    )
    writable = file_closed(participant) is None  # an anonymised file is read only
    for pathway in pathways:
        pathway.exit_rows = sorted(pathway.exits.all(), key=lambda row: (row.exited_on, row.pk), reverse=True)
        for row in pathway.exit_rows:
            row.can_record_outcome = writable and selectors.allows(actor, "exit.record_outcome", row)
        actions = actions_for(pathway, actor)
        # Eligibility submission has its own page (criteria catalogue), not the generic transition form.
        pathway.can_submit_eligibility = any(button.spec.name == "submit_eligibility" for button in actions)
        pathway.actions = [button for button in actions if button.spec.name != "submit_eligibility"]
        pathway.can_refer = pathway.state in REFERABLE_PATHWAY_STATES and selectors.allows(
            actor, "referral.create", pathway
        )
        pathway.can_record_follow_up = pathway.state in PATHWAY_OPEN_STATES and selectors.allows(
            actor, "followup.record", pathway
        )
    assessments, shows_health = selectors.participant_assessments(actor=actor, participant=participant)
    referrals = selectors.participant_referrals(actor, participant.pk)
    for referral in referrals:
        referral.actions = actions_for(referral, actor)
    placements = selectors.participant_placements(actor, participant.pk)
    follow_ups = list(selectors.pathway_follow_ups(participant=participant))
    recordable = {p.pk for p in pathways if p.can_record_follow_up}
    for follow_up in follow_ups:
        follow_up.can_complete = follow_up.done_on is None and follow_up.pathway_id in recordable
    return render(
        request,
        "participant_detail.html",
        {
            "participant": participant,
            "pathways": pathways,
            "assessments": assessments,
            "shows_health": shows_health,
            "referrals": referrals,
            "placements": placements,
            "planned_follow_ups": [f for f in follow_ups if f.done_on is None],
            "done_follow_ups": [f for f in follow_ups if f.done_on is not None],
            "can_update": writable and selectors.allows(actor, "participant.update", participant),
            "can_change_referent": writable and selectors.allows(actor, "participant.change_referent", participant),
            "data_protection": _data_protection(actor, participant, writable),
            "can_export": actor.role == Role.AUDITOR,
            "timeline": selectors.participant_timeline(actor=actor, participant=participant),
        },
    )


def _data_protection(actor, participant, writable):
    """The data-protection block of the file, for the Mission Locale following it (None for others)."""
    if not selectors.allows(actor, "participant.view_access_log", participant):
        return None
    return {
        "accesses": selectors.participant_access_log(actor=actor, participant=participant)[:10],
        "can_export": selectors.allows(actor, "participant.export_subject_data", participant),
        "can_record_notice": writable and selectors.allows(actor, "participant.record_notice", participant),
    }


def _with_exits(pathways):
    for pathway in pathways:
        pathway.last_exit = next(iter(pathway.exits.all()), None) if pathway.exited_on else None
    return pathways


def _pseudonymised_file(request, actor, participant):
    """What a buyer's auditor sees of a file: a pseudonym, an age band, QPV, decisions and the clause facts of
    the referrals and placements on the buyer's contracts — never contact details, address, notes or criteria."""
    return render(
        request,
        "participant_pseudonymised.html",
        {
            "participant": participant,
            "assessments": participant.assessments.order_by("-submitted_at"),
            "pathways": _with_exits(
                selectors.with_state_entry_dates(
                    "pathway",
                    participant.pathways.select_related("facilitation_organisation")
                    .prefetch_related("exits")
                    .order_by("-started_on"),
                )
            ),
            "referrals": selectors.referrals_for(actor).filter(participant_id=participant.pk),
            "placements": selectors.placements_for(actor).filter(participant_id=participant.pk),
            "timeline": selectors.participant_timeline(actor=actor, participant=participant),
        },
    )


@login_required
def referral_detail(request, pk):
    """A referral with its placement and hours lines; employers see only what hiring needs."""
    actor = _actor_or_none(request)
    referral = selectors.referrals_for(actor).filter(pk=pk).first() if actor else None
    if referral is None:
        raise Http404("Positionnement introuvable.")
    # The candidate's name and contact: a read of their file (the access log).
    log_participant_access(actor=actor, participant_id=referral.pathway.participant_id)
    placement = selectors.placements_for(actor).filter(referral=referral).first()
    hours_lines = []
    if placement is not None:
        hours_lines = row_actions(
            selectors.hours_lines_for(actor).filter(placement=placement).order_by("month", "pk"),
            actor,
            "hoursline.view",
        )
    return render(
        request,
        "referral_detail.html",
        {
            "referral": referral,
            "actions": actions_for(referral, actor),
            "placement": placement,
            "placement_actions": actions_for(placement, actor) if placement is not None else [],
            "hours_lines": hours_lines,
            "can_declare_hours": placement is not None
            and placement.state in ("active", "ended")
            and selectors.allows(actor, "placement.declare_hours", placement),
            "can_open_file": selectors.allows(actor, "participant.view", referral.pathway.participant),
            # The adviser's motivation may speak of the young person's situation: not for the employer.
            "shows_motivation": actor.role != Role.EMPLOYER,
        },
    )


@login_required
def workflow_diagrams(request):
    return render(request, "workflows.html", {"circuits": list(circuits())})

"""Web views: parse, authenticate, call a selector or a service, render. No business rules here."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from parcours import selectors
from roles.enums import Role
from roles.middleware import SESSION_KEY
from workflows.diagrams import transition_rows
from workflows.engine import available_transitions, state_label
from workflows.errors import DomainError

HOME_LIST_LIMIT = 100


def _actor_or_none(request):
    return getattr(request, "actor", None)


@login_required
def home(request):
    actor = _actor_or_none(request)
    context = {"actor": actor, "limit": HOME_LIST_LIMIT}
    if actor is None:
        return render(request, "home/no_membership.html", context)
    if actor.role == Role.ADVISER:
        pathways = selectors.pathways_for(actor)
        context.update(
            pathways=pathways[:HOME_LIST_LIMIT],
            pathway_counts=_labelled_counts("pathway", selectors.count_by_state(pathways)),
            referrals=selectors.referrals_for(actor)[:HOME_LIST_LIMIT],
        )
    elif actor.role == Role.FACILITATOR:
        referrals = selectors.referrals_for(actor)
        context.update(
            pathways=selectors.pathways_for(actor)[:HOME_LIST_LIMIT],
            referrals=referrals[:HOME_LIST_LIMIT],
            referral_counts=_labelled_counts("referral", selectors.count_by_state(referrals)),
            lots=selectors.lots_for(actor)[:HOME_LIST_LIMIT],
            hours_lines=selectors.hours_lines_for(actor)[:HOME_LIST_LIMIT],
        )
    elif actor.role == Role.EMPLOYER:
        context.update(
            referrals=selectors.referrals_for(actor)[:HOME_LIST_LIMIT],
            placements=selectors.placements_for(actor)[:HOME_LIST_LIMIT],
            offers=selectors.offers_for(actor)[:HOME_LIST_LIMIT],
            hours_lines=selectors.hours_lines_for(actor)[:HOME_LIST_LIMIT],
        )
    elif actor.role == Role.AUDITOR:
        pathways = selectors.pathways_for(actor)
        context.update(
            pathways=pathways[:HOME_LIST_LIMIT],
            pathway_counts=_labelled_counts("pathway", selectors.count_by_state(pathways)),
            lots=selectors.lots_for(actor)[:HOME_LIST_LIMIT],
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
        messages.error(request, "Organisation inconnue.")
    else:
        request.session[SESSION_KEY] = membership.pk
        messages.success(request, f"Vous agissez maintenant pour {membership.organisation}.")
    return redirect("home")


@login_required
def participant_detail(request, pk):
    actor = _actor_or_none(request)
    try:
        participant = selectors.participant_file(actor=actor, participant_id=pk)
    except DomainError:
        raise Http404("Participant·e introuvable.") from None
    pathways = list(participant.pathways.select_related("facilitation_organisation").order_by("-started_on", "-pk"))
    for pathway in pathways:
        pathway.actions = available_transitions(pathway, actor)
    assessments, shows_health = selectors.participant_assessments(actor=actor, participant=participant)
    referrals = selectors.referrals_for(actor).filter(pathway__participant=participant)
    placements = selectors.placements_for(actor).filter(pathway__participant=participant)
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
            "follow_ups": participant.pathways.none() if not pathways else pathways[0].follow_ups.all(),
            "timeline": selectors.participant_timeline(participant=participant),
        },
    )


@login_required
def referral_detail(request, pk):
    actor = _actor_or_none(request)
    referral = selectors.referrals_for(actor).filter(pk=pk).first() if actor else None
    if referral is None:
        raise Http404("Positionnement introuvable.")
    return render(
        request,
        "referral_detail.html",
        {
            "referral": referral,
            "actions": available_transitions(referral, actor),
            "can_open_file": selectors.allows(actor, "participant.view", referral.pathway.participant),
        },
    )


@login_required
def workflow_diagrams(request):
    return render(request, "workflows.html", {"rows": list(transition_rows())})

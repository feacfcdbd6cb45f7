"""What every role's pages share: who is acting, which role a page belongs to, pagination and state filters, the
buttons of the transitions one may fire, the one path from a service's refusal to the page, and the generic
transition page. Views parse input and call services; no business rule lives here."""

import contextlib
import functools
from typing import NamedTuple
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from parcours import selectors
from parcours.access_log import log_participant_access
from parcours.services.registry import run_transition
from parcours.web.forms import transition_form_class
from roles import policy
from workflows import engine
from workflows.engine import available_for_rows, available_transitions
from workflows.errors import DomainError
from workflows.transitions import MACHINES, STATE_ENUMS

PAGE_SIZE = 25
# Codes meaning "the object moved under you": the page shows the message and the fresh state.
STALE_CODES = {"invalid_transition", "concurrent_change", "forbidden"}


# --- Who is acting ----------------------------------------------------------------------------------------------
def actor_required(view):
    """Login required, and a current organisation; the actor is passed to the view."""

    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        actor = getattr(request, "actor", None)
        if actor is None:
            raise PermissionDenied(_("Votre compte n'est rattaché à aucune organisation active."))
        return view(request, *args, actor=actor, **kwargs)

    return wrapper


def role_required(*roles):
    """The page belongs to these roles; other roles get 403 (objects outside scope get 404 elsewhere)."""

    def decorator(view):
        @actor_required
        @functools.wraps(view)
        def wrapper(request, *args, actor, **kwargs):
            if actor.role not in roles:
                raise PermissionDenied(_("Cette page est réservée à un autre rôle."))
            return view(request, *args, actor=actor, **kwargs)

        return wrapper

    return decorator


def safe_next(request, default):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


# --- Lists --------------------------------------------------------------------------------------------------------
class IdsFirstPaginator(Paginator):
    """Chooses a page's ids on the rows alone, then joins only those rows to what the list shows. Sorting after the
    joins joins every row of the scope first: the adviser queue joined its 2,836 open tasks to their tasks, pathways,
    participants, referrals and offers to show 25 (28 ms at 100,000 pathways). Lists scoped by a grant (an employer's
    candidates and placements) need it too: PostgreSQL walked the most recent rows of the whole table, joining each
    to eight tables before its grant check, to find the employer's 25 (21 ms at 100,000 pathways, 6 ms ids first).
    One more statement, a fixed one.

    A list of at most FEW_ROWS rows (its count is known first) takes its ids from all of them
    (`selectors.among_its_rows`): 5 → 1 ms for a small facilitation organisation's referrals to review at 100,000
    pathways."""

    FEW_ROWS = selectors.FEW_ROWS

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:  # as Paginator.page
            top = self.count
        chosen = self.object_list
        if self.count <= self.FEW_ROWS:
            chosen = selectors.among_its_rows(chosen, self.FEW_ROWS)
        ids = list(chosen.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in self.object_list.filter(pk__in=ids)} if ids else {}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)


def paginate(request, queryset, per_page=None, *, ids_first=False, count=None):
    """A page of `queryset`; `count`: its number of rows when the page already knows it (no COUNT statement)."""
    paginator = (IdsFirstPaginator if ids_first else Paginator)(queryset, per_page or PAGE_SIZE)
    if count is not None:
        paginator.count = count  # a cached property: set, it is not computed
    return paginator.get_page(request.GET.get("page"))


def filters_of(form, *, strict=False):
    """Cleaned filter values, or None when a filter cannot be applied as typed (a search too long or of punctuation
    alone, an unreadable date, dates in the wrong order): its error shows on its field with the input kept, and the
    list shows no rows (`no_rows`) rather than every row as if nothing had been asked. A choice the list no longer
    offers (an old link's state) and a hidden field are ignored: the page could not show their error. `strict`: for
    a download, which shows no form, any filter it cannot apply is an error (else it would hold every row)."""
    form.ignored = []  # the filters ignored: not an error of the page (its title), not carried to a download
    if not form.is_valid():
        for name, errors in form.errors.as_data().items():
            field = form.fields.get(name)
            if (
                strict
                or field is None
                or (not field.widget.is_hidden and any(e.code != "invalid_choice" for e in errors))
            ):
                return None
        form.ignored = list(form.errors)
        for name in form.ignored:
            del form.errors[name]
    return {name: form.cleaned_data.get(name, "") or "" for name in form.fields}


def query_without_ignored(request, form) -> str:
    """The page's query string without the filters `filters_of` ignored: a download's link asks what the page
    shows (the download, strict, would refuse them)."""
    query = request.GET.copy()
    for name in getattr(form, "ignored", ()):
        query.pop(name, None)
    return query.urlencode()


def no_rows():
    """The page of a list whose filters cannot be applied (`filters_of` gave None): empty, read without a query."""
    return Paginator([], PAGE_SIZE).get_page(1)


def states_from_request(request, machine, default, offered=None):
    """The `state` filter (repeatable); `state=all` shows every state; unknown values are ignored."""
    wanted = request.GET.getlist("state")
    if "all" in wanted:
        return []
    known = [s for s in wanted if s in (offered or STATE_ENUMS[machine].values)]
    return known or list(default)


def state_choices(machine, selected, offered=None):
    """The filter's choices: every state of the machine, or only those the viewer can ever see (`offered`)."""
    return [
        (value, label, value in selected)
        for value, label in STATE_ENUMS[machine].choices
        if offered is None or value in offered
    ]


# --- Transition buttons -----------------------------------------------------------------------------------------
# Transitions whose web form is a page of its own, which asks what the generic form cannot (validating eligibility:
# the proof seen per criterion, and a confirmation when a declared criterion has none). Every web route to such a
# transition goes to its page: the buttons, the task page's action and the generic transition page (which
# redirects there, writing nothing). The REST API is not a web route: it passes its inputs explicitly.
DEDICATED_PAGES = {
    ("pathway", "validate_eligibility"): "facilitator:validate_eligibility",
}


def has_dedicated_page(machine, name) -> bool:
    return (machine, name) in DEDICATED_PAGES


def transition_url(machine, pk, name, *, next_url="") -> str:
    """Where the web fires a transition on one object: its own page if it has one, else the generic page;
    `next_url`: where to come back to afterwards."""
    route = DEDICATED_PAGES.get((machine, name))
    url = reverse(route, args=[pk]) if route else reverse("transition", args=[machine, pk, name])
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


class Button(NamedTuple):
    """A transition the actor may fire now on one object: a link to its form (`needs_form`: inputs to give, or a
    page of its own), else a one-click POST, both to `url`."""

    spec: object
    needs_form: bool
    url: str


def _buttons(specs, pk):
    return [
        Button(
            spec,
            bool(spec.inputs) or has_dedicated_page(spec.machine, spec.name),
            transition_url(spec.machine, pk, spec.name),
        )
        for spec in specs
    ]


def actions_for(obj, actor):
    """Buttons for the transitions the actor may fire now on one object."""
    return _buttons(available_transitions(obj, actor), obj.pk)


def row_actions(rows, actor, view_action):
    """Attach `actions` to every row of a page read through `view_action`, at a fixed query cost."""
    rows = list(rows)
    by_pk = available_for_rows(rows, actor, view_action=view_action)
    for row in rows:
        row.actions = _buttons(by_pk.get(row.pk, []), row.pk)
    return rows


def object_url(obj):
    """The page showing an object's state and actions."""
    machine = obj.MACHINE
    if machine == "pathway":
        return reverse("participant_detail", args=[obj.participant_id])
    if machine == "referral":
        return reverse("referral_detail", args=[obj.pk])
    if machine == "placement":
        return reverse("referral_detail", args=[obj.referral_id])
    return reverse("referral_detail", args=[obj.placement.referral_id])


# --- The one path from a service's refusal to the page ------------------------------------------------------------
def apply_domain_error(form, error):
    """Put a DomainError on its field (kept input) or as a form error; a form with a `refused(error)` method shows
    the refusals it knows its own way (it returns True when it did)."""
    if getattr(form, "refused", None) and form.refused(error):
        return
    if error.field and error.field in form.fields:
        form.add_error(error.field, error.message)
        attrs = form.fields[error.field].widget.attrs
        attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
        attrs["aria-invalid"] = "true"
    else:
        form.add_error(None, error.message)


def run_service(request, form, call, *, success, back, stale_codes=STALE_CODES, done=None):
    """Run a write for a valid form. Returns a redirect (done, or the object moved under the user: the message
    says so and the page shows the fresh state), or None when the form is shown again with the refusal on its
    field. Outside the actor's scope is a 404, never a hint that the object exists. A creation passes
    `stale_codes=()`: its refusals are about the form, not about someone acting first. `done(result)`: where to go
    once it is done (a new object's page), else `back`."""
    expectation = getattr(form, "expectation", None)  # a transition form: as of the object it showed
    try:
        with expectation() if expectation else contextlib.nullcontext():
            result = call()
    except DomainError as error:
        if error.code == "not_found" and not (error.field and error.field in form.fields):
            raise Http404(error.message) from None
        if error.code in stale_codes:
            messages.error(request, error.message)
            return redirect(back)
        apply_domain_error(form, error)
        return None
    messages.success(request, success(result) if callable(success) else success)
    return redirect(done(result) if done else back)


# --- The generic transition page ----------------------------------------------------------------------------------
def _spec(machine, name):
    spec = MACHINES.get(machine, {}).get(name)
    if spec is None or not spec.user_fireable:
        raise Http404("Action inconnue.")
    return spec


def _subject(machine, obj):
    """Who (and, for a referral or a contract, which offer) the transition page is about: its title names them."""
    if machine == "pathway":
        return obj.participant, None
    if machine == "referral":
        return obj.pathway.participant, obj.offer
    placement = obj.placement if machine == "hoursline" else obj
    return placement.pathway.participant, placement.referral.offer


@actor_required
def transition(request, machine, pk, name, *, actor):
    """GET: the transition's form. POST: run it through its service; stale clicks get the fresh state. A transition
    with a page of its own is not fired here: GET and POST go to its page (which checks scope and role itself)."""
    spec = _spec(machine, name)
    if has_dedicated_page(machine, name):
        return redirect(transition_url(machine, pk, name, next_url=safe_next(request, "")))
    obj = selectors.stateful_object_for(actor=actor, machine=machine, pk=pk)
    if obj is None and request.method == "POST":
        # A form opened before someone else took the object out of reach (a referral cancelled, refused): still a
        # 404 (the same answer as for an object never in reach), which says that nothing was written and why.
        reason = _(
            "« %(label)s » n'a pas été enregistré : cet objet n'est pas ou plus accessible pour vous (si quelqu'un "
            "a agi avant vous, il a pu être annulé, refusé ou retiré)."
        ) % {"label": spec.label}
        return render(request, "404.html", {"reason": reason}, status=404)
    if obj is None:
        raise Http404(_("Objet introuvable."))
    form_class = transition_form_class(spec)
    back = safe_next(request, object_url(obj))
    participant, offer = _subject(machine, obj)
    # Whoever may not take this action is refused before the form is read (authorisation before validation); a
    # state that has moved on is the stale-click case, shown by run_service after the form.
    if not policy.allows(actor, spec.action, obj):
        raise PermissionDenied(
            _("Vous n'avez pas le droit de faire « %(label)s » sur cet objet.") % {"label": spec.label}
        )
    if request.method == "POST":
        form = form_class(request.POST, obj=obj, actor=actor)
        if form.is_valid():
            inputs = form.to_service_kwargs()
            done = run_service(
                request,
                form,
                lambda: run_transition(machine=machine, name=name, obj=obj.pk, actor=actor, **inputs),
                success=_("Action « %(label)s » enregistrée pour %(first_name)s %(last_name)s.")
                % {"label": spec.label, "first_name": participant.first_name, "last_name": participant.last_name},
                back=back,
            )
            if done is not None:
                return done
        status = form.refusal_status()
    else:
        refused = engine.refusal(obj, name, actor=actor)
        if refused is not None:  # a state that moved on, an anonymised file: said where the action was offered
            messages.error(request, refused.message)
            return redirect(back)
        form = form_class(obj=obj, actor=actor)
        status = 200
    log_participant_access(actor=actor, participant_id=participant.pk)  # the form names the person
    # Closing a pathway does not end its contracts: the form says which still run (the employer ends them).
    closing = spec.cancels_referrals
    running = selectors.contracts_running(actor, obj) if closing else []
    cancelled = selectors.referrals_to_cancel(actor, obj) if closing else []  # said before, done by the service
    return render(
        request,
        "transition_form.html",
        {
            "contracts_running": running,
            "referrals_cancelled": cancelled,
            "form": form,
            "spec": spec,
            "obj": obj,
            "back": back,
            "machine": machine,
            "participant": participant,
            "offer": offer,
        },
        status=status,
    )

"""Notifications: recent journal events by others on the objects the actor may see (the derived-view rule of
parcours.selectors.journal), newest first, a page at a time (keyset on the moment and the id).

The candidates are the events whose audience held the actor's team when they were recorded (`EventAudience`, one
index range per team, newest first); each is shown only if the actor may still view its object, checked by the
same filter as every derived view. Filtering the whole journal by that filter made PostgreSQL hash every object a
facilitator may see before it walked the latest events: ~0.5 s at 1,000,000 pathways. An object that becomes
visible later (a file shared afterwards) brings its new events, not its old ones: those are in its timeline."""

import datetime

from django.db.models import BigIntegerField, Case, CharField, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Cast, Concat
from django.urls import reverse
from django.utils import timezone

from parcours.models import (
    ContractLot,
    Delivery,
    EventAudience,
    HoursLine,
    JobOffer,
    NotificationKind,
    NotificationPreference,
    Participant,
    Placement,
)
from parcours.selectors.journal import present_events, visible_events
from roles import policy
from roles.enums import Role
from roles.models import Membership
from workflows.models import JournalEvent

PAGE_SIZE = 50
# Events read from a team's audience at a time, checked in one statement (a fixed count: compiled once).
CANDIDATES = 64
# Batches one read goes through at most: a team's audience may hold many events out of its sight now (the
# candidates an employer lost with a refusal), which a page must not walk without end.
MAX_BATCHES = 8


class NotificationsPage(list):
    """A page of notifications; `older`: the event id the next page starts before, or None on the last page (a page
    may hold fewer than its size when its candidates were mostly out of sight, and still have a next one)."""

    older = None


def notifications_for(actor, *, limit=PAGE_SIZE, before=None) -> NotificationsPage:
    """The page of notifications older than event `before` (an id), or the newest page."""
    page = NotificationsPage()
    if actor is None or actor.is_system or actor.organisation is None or actor.role is None:
        return page
    candidates = EventAudience.objects.filter(organisation_id=actor.organisation_id, role=actor.role.value).exclude(
        event__actor_user=actor.user
    )
    if before is not None:
        anchor = JournalEvent.objects.filter(pk=before).values_list("occurred_at", flat=True).first()
        if anchor is None:
            return page
        candidates = _older(candidates, anchor, before)
    candidates = candidates.order_by("-occurred_at", "-event_id").values_list("event_id", "occurred_at")
    events, last = [], None
    for _ in range(MAX_BATCHES):
        batch = list(candidates[:CANDIDATES])
        ids = [pk for pk, _ in batch]
        if ids:
            # Padded to the fixed count with an id no event has.
            events.extend(policy.member_rows(_visible_among, actor, *ids, *[0] * (CANDIDATES - len(ids))))
        last = batch[-1][0] if len(batch) == CANDIDATES else None  # None: no candidate left after this batch
        if last is None or len(events) >= limit:
            break
        candidates = _older(candidates, batch[-1][1], last)
    page.extend(attach_subjects(actor, present_events(actor, events[:limit])))
    if len(events) >= limit:
        page.older = page[-1].pk if len(events) > limit or last is not None else None
    else:
        page.older = last  # batches spent before the page was full: the next page goes on from the last candidate
    return page


# An event written after another may carry a slightly earlier moment (taken before its INSERT, on the clock of
# another server): the replay after an event id reads the team's audience from this long before that event's moment.
REPLAY_MARGIN = datetime.timedelta(minutes=10)
# How far back a page may ask to be replayed what it missed; before that, it reloads its live parts.
REPLAY_WINDOW = datetime.timedelta(hours=24)


def events_told_since(actor, *, after_id=None, since_time=None, limit):
    """(events, complete): the events told to `actor`'s team (its audience) after event id `after_id`, or from
    `since_time` on, that the actor may still view, oldest first by id: at most `limit`, `complete` when there were
    no more. The websocket's replay of what a page missed (parcours.consumers): what was pushed to the team, read
    from its audience's index, not the whole journal filtered (at 1,000,000 pathways that took an employer 4 s).
    Not complete either when the point asked for is more than REPLAY_WINDOW ago, or when MAX_BATCHES of candidates
    did not fill it (the page then reloads its live parts)."""
    if actor is None or actor.is_system or actor.organisation is None or actor.role is None:
        return [], True
    floor = timezone.now() - REPLAY_WINDOW
    candidates = EventAudience.objects.filter(organisation_id=actor.organisation_id, role=actor.role.value)
    if after_id is not None:
        candidates = candidates.filter(event_id__gt=after_id)
        moment = JournalEvent.objects.filter(pk__lte=after_id).order_by("-pk").values_list("occurred_at", flat=True)
        moment = moment.first()
        start = None if moment is None else moment - REPLAY_MARGIN
    else:
        start = since_time
    clipped = start is None or start < floor
    candidates = candidates.filter(occurred_at__gte=max(start, floor) if start is not None else floor)
    candidates = candidates.order_by("event_id").values_list("event_id", flat=True)
    events, exhausted = [], False
    for _ in range(MAX_BATCHES):
        ids = list(candidates[:CANDIDATES])
        if ids:
            events.extend(policy.member_rows(_visible_by_id, actor, *ids, *[0] * (CANDIDATES - len(ids))))
        exhausted = len(ids) < CANDIDATES
        if exhausted or len(events) > limit:
            break
        candidates = candidates.filter(event_id__gt=ids[-1])
    return events[:limit], len(events) <= limit and exhausted and not clipped


def _visible_by_id(actor, *ids):
    """Those of the events `ids` that `actor` may view, oldest first."""
    return visible_events(actor, JournalEvent.objects.filter(pk__in=ids)).order_by("pk")


def _older(candidates, occurred_at, event_id):
    """The candidates after (`occurred_at`, `event_id`) in the page's order (newest first)."""
    return candidates.filter(
        Q(occurred_at__lte=occurred_at) & (Q(occurred_at__lt=occurred_at) | Q(event_id__lt=event_id))
    )


def _visible_among(actor, *ids):
    """Those of the events `ids` that `actor` may view, newest first; an offer's or a lot's with its name and lot (the
    rows say which), read in the same statement."""
    events = visible_events(actor, JournalEvent.objects.filter(pk__in=ids)).order_by("-occurred_at", "-pk")
    return events.annotate(register_title=_REGISTER_TITLE, register_lot=_REGISTER_LOT)


def _of_object(model, *fields):
    return Subquery(model.objects.filter(pk=OuterRef("object_id")).values(*fields)[:1])


_REGISTER_TITLE = Case(
    When(object_type="offer", then=_of_object(JobOffer, "title")),
    When(
        object_type="lot",
        then=Subquery(
            ContractLot.objects.filter(pk=OuterRef("object_id"))
            .annotate(name=Concat(Value("Lot "), Cast("number", CharField()), Value(" — "), "title"))
            .values("name")[:1]
        ),
    ),
    default=Value(""),
    output_field=CharField(),
)
_REGISTER_LOT = Case(
    When(object_type="offer", then=_of_object(JobOffer, "lot_id")),
    When(object_type="lot", then=F("object_id")),
    default=None,
    output_field=BigIntegerField(),
)


# Objects whose page an employer reads with the young person's name (what hiring needs).
EMPLOYER_NAMED_OBJECTS = ("referral", "placement", "hoursline")


def attach_subjects(actor, events) -> list:
    """Give each event `subject_name` (the young person it is about, as the viewer may see them: the name, a
    pseudonym for buyers' auditors, or nothing) and `url` (the page of its object, or ""). At most three queries for
    the whole page, whatever its length."""
    participant_ids = {e.participant_id for e in events if e.participant_id is not None}
    names, pseudonyms, viewable = {}, {}, set()
    if participant_ids:
        participants = Participant.objects.filter(pk__in=participant_ids, anonymised_at__isnull=True)
        if policy.may(actor, "participant.view_identity"):
            named = policy.scope_queryset(actor, "participant.view_identity", participants)
            names = {
                pk: f"{first} {last.upper()}" for pk, first, last in named.values_list("pk", "first_name", "last_name")
            }
        elif actor.role == Role.EMPLOYER:
            # Every event an employer sees is about a referral or placement forwarded to it: the name is on its pages.
            shown = {e.participant_id for e in events if e.object_type in EMPLOYER_NAMED_OBJECTS}
            names = {
                pk: f"{first} {last.upper()}"
                for pk, first, last in participants.filter(pk__in=shown).values_list("pk", "first_name", "last_name")
            }
        elif policy.may(actor, "participant.view"):
            # A buyer's auditor without named access: the pseudonym it reads files under.
            seen = policy.scope_queryset(actor, "participant.view", participants)
            pseudonyms = {p.pk: p.pseudonym for p in seen.only("pk")}
        if policy.may(actor, "participant.view"):
            viewable = set(names) | set(pseudonyms) if actor.role != Role.EMPLOYER else set()
    placement_referrals = _referral_of("placement", events)
    hours_referrals = _referral_of("hoursline", events)
    register = _register_subjects(actor, events)
    for event in events:
        event.subject_name = names.get(event.participant_id) or pseudonyms.get(event.participant_id, "")
        event.url = _object_url(event, viewable, placement_referrals, hours_referrals)
        if (event.object_type, event.object_id) in register:
            event.subject_name, event.url = register[(event.object_type, event.object_id)]
    return events


# Where each role reads an offer of the events it is told about (its offers' list, or the lot's page).
OFFER_PAGES = {Role.ADVISER: "adviser:offers", Role.EMPLOYER: "employer:offers"}


def _register_subjects(actor, events) -> dict:
    """{(object type, id): (name, url)} of the offers and lots the events are about (already in the viewer's sight),
    from what the events' read brought (`_visible_among`): an offer by its title, a lot as the register names it."""
    found = {}
    facilitator = actor.role == Role.FACILITATOR
    page = OFFER_PAGES.get(actor.role)
    for event in events:
        title = getattr(event, "register_title", None)
        if event.object_type not in ("offer", "lot") or not title:
            continue
        if facilitator and event.register_lot:
            url = reverse("facilitator:lot_detail", args=[event.register_lot])
        else:
            url = reverse(page) if page and event.object_type == "offer" else ""
        found[(event.object_type, event.object_id)] = (title, url)
    return found


def _referral_of(object_type, events) -> dict:
    ids = {e.object_id for e in events if e.object_type == object_type}
    if not ids:
        return {}
    if object_type == "placement":
        return dict(Placement.objects.filter(pk__in=ids).values_list("pk", "referral_id"))
    return dict(HoursLine.objects.filter(pk__in=ids).values_list("pk", "placement__referral_id"))


def _object_url(event, viewable_participants, placement_referrals, hours_referrals) -> str:
    kind, pk = event.object_type, event.object_id
    referral_id = None
    if kind == "referral":
        referral_id = pk
    elif kind == "placement":
        referral_id = placement_referrals.get(pk)
    elif kind == "hoursline":
        referral_id = hours_referrals.get(pk)
    elif kind == "timer":
        referral_id = (event.inputs or {}).get("referral")
    elif kind == "task":
        return reverse("work:task", args=[pk])
    if referral_id:
        return reverse("referral_detail", args=[referral_id])
    if event.participant_id in viewable_participants:
        return reverse("participant_detail", args=[event.participant_id])
    return ""


# --- E-mail notifications: who is told, and what they chose ---------------------------------------------------------
def team_members(organisation_id, role, *, user_ids=None):
    """Active members of one team (organisation × role) with an e-mail address."""
    members = Membership.objects.filter(organisation_id=organisation_id, role=role, is_active=True).exclude(
        user__email=""
    )
    if user_ids is not None:
        members = members.filter(user_id__in=user_ids)
    return members.filter(user__is_active=True).select_related("user", "organisation")


def preferences_of(user) -> dict:
    """{kind: delivery} of one person, every kind included."""
    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "delivery"))
    return {kind: chosen.get(kind, Delivery.IMMEDIATE) for kind in NotificationKind.values}

"""E-mail notifications: the people who must act are told, even when they do not keep Parcours open.

Four kinds (parcours.models.NotificationKind), each person choosing per kind: immediately, in a daily digest, or
never (preferences page, parcours.services.preferences):

- an employer's members, when a candidate is forwarded to it;
- the young person's referent adviser and the adviser who sent the referral, when the candidate is hired or refused
  — or, when the referent is no longer someone to tell there (membership ended or moved, account deactivated, no
  e-mail address), the Mission Locale's active advisers: a decision is never told to nobody, nor outside it;
- the facilitators, when a referral waits beyond its reminder delay (the owner of the waiting task if it is
  assigned, else the team);
- an employer's members, when its monthly statement of a lot is reminded (the statement's `remind` journal event:
  the worker's reminder job from the facilitation organisation's reminder day, or the facilitator by hand) — the
  same event the in-app notifications push, so there is one reminder, told through each person's channels.

The path: `enqueue_for_event` runs inside the transaction of the action (called by the notification publisher),
writing one outbox row per person (MailNotification, ids only, unique per person, kind and key; on PostgreSQL, in
the round trip of the action's COMMIT: roles.commit.carry_write); the timer worker (parcours.worker) delivers them:
`deliver_immediate` on every sweep, `deliver_digests` once the digest hour has passed. Rows are claimed with a
conditional UPDATE before sending, so two workers never send the same row.

A message is composed when sent, for its recipient, through the policy of that moment: a person who can no longer
see the referral gets nothing (the row is marked skipped). Messages carry no social data: the young person's name
(only to who may see it), the offer, and a link — never contact details, dates of birth, criteria, motivations or
reasons.
"""

import datetime
import logging
import uuid
from collections import defaultdict

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Exists, OuterRef, Q, Subquery, Value
from django.db.models.constants import OnConflict
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from parcours.models import (
    ContractLot,
    Delivery,
    HoursStatement,
    MailNotification,
    NotificationKind,
    NotificationPreference,
    Referral,
)
from parcours.selectors.notifications import team_members
from parcours.selectors.statements import running_in
from parcours.text import of_name
from parcours.work.models import WorkTask
from roles import policy
from roles.actor import Actor
from roles.commit import carry_write
from roles.enums import Role
from roles.models import Membership
from roles.statements import Compiled, prepared, run_on_its_own

logger = logging.getLogger(__name__)

BATCH = 200
CLAIM_TIMEOUT = datetime.timedelta(minutes=10)  # a worker that died after claiming: its rows are taken again
MAX_ATTEMPTS = 5
KEEP_SENT_DAYS = 90
SKIPPED, FAILED, SENT = "skipped", "failed", "sent"

SUBJECTS = {
    NotificationKind.CANDIDATE_FORWARDED: "Nouvelle candidature",
    NotificationKind.CANDIDATE_DECIDED: "Décision sur un positionnement",
    NotificationKind.REFERRAL_WAITING: "Positionnement en attente",
    NotificationKind.STATEMENT_MISSING: "Heures du mois à déclarer",
}
DECISIONS = {"hire": "embauche confirmée", "refuse": "candidature refusée"}
ROLE_OF_KIND = {
    NotificationKind.CANDIDATE_FORWARDED: Role.EMPLOYER,
    NotificationKind.CANDIDATE_DECIDED: Role.ADVISER,
    NotificationKind.REFERRAL_WAITING: Role.FACILITATOR,
    NotificationKind.STATEMENT_MISSING: Role.EMPLOYER,
}


def kinds_for_role(role) -> list:
    """The kinds a member of this role may receive (the preferences page shows these)."""
    return [kind for kind in NotificationKind if ROLE_OF_KIND[kind] == role]


# --- Writing the outbox (inside the transaction of the action) ----------------------------------------------------
# Read by the transitions that call for e-mails (forward, hire, refuse): compiled once (roles.statements).
_referral_told = Compiled(
    lambda referral_id: (
        Referral.objects.select_related("offer__lot__contract__operation", "pathway__participant")
        .filter(pk=referral_id)
        .order_by("pk")[:1]
    )
)


def _members_to_tell(kind, organisation_id, key, user_ids=None, referent_id=None):
    """(read, its arguments) of (user id, organisation id, delivery) of the active members of `organisation_id`'s
    team for `kind` (only `user_ids` among them when given) who receive this kind and were not told under `key` yet;
    None when no one is named. `referent_id` (among `user_ids`): when that person is not a member of the team to tell
    (membership ended, account deactivated, no e-mail address), the whole team instead — decided in the same read.
    One read of the members with their delivery and whether they were told, compiled once per kind, number of people
    named and whether a referent is named (roles.statements)."""
    named = None if user_ids is None else sorted({pk for pk in user_ids if pk is not None})
    if named == [] and referent_id is None:
        return None
    fallback = referent_id is not None
    shape = (kind, None if named is None else len(named), fallback)
    read = _MEMBERS_TO_TELL.get(shape)
    if read is None:

        def build(organisation, told_key, *people):
            chosen = NotificationPreference.objects.filter(user_id=OuterRef("user_id"), kind=kind).values("delivery")
            told = MailNotification.objects.filter(user_id=OuterRef("user_id"), kind=kind, key=told_key)
            role = ROLE_OF_KIND[kind]
            referent, users = (people[0], people[1:]) if fallback else (None, people)
            if fallback:
                # The people named, or the whole team when the referent is no longer one of it.
                gone = ~Exists(team_members(organisation, role, user_ids=[referent]))
                members = team_members(organisation, role).filter(Q(user_id__in=list(users)) | gone)
            else:
                members = team_members(organisation, role, user_ids=list(users) if named is not None else None)
            return (
                members.annotate(delivery=Coalesce(Subquery(chosen[:1]), Value(Delivery.IMMEDIATE.value)))
                .exclude(delivery=Delivery.NONE)
                .exclude(Exists(told))
                .order_by("pk")
                .values_list("user_id", "organisation_id", "delivery")
            )

        arguments = 2 + int(fallback) + len(named or ())
        read = _MEMBERS_TO_TELL.setdefault(shape, Compiled(build, arguments=arguments))
    referent = (int(referent_id),) if fallback else ()
    return read, (int(organisation_id), str(key), *referent, *(int(pk) for pk in named or ()))


_MEMBERS_TO_TELL = {}
_FROM_MEMBERS = ("user", "organisation", "delivery")  # the outbox columns the members' read gives, by its names


def _enqueue(
    kind, organisation_id, *, key, user_ids=None, referent_id=None, event=None, referral_id=None, month=None
) -> int | None:
    """One outbox row per member to tell, in one statement: INSERT … SELECT from the members' read, the other
    columns given or their defaults. One row per person, kind and key: a second worker or a replayed timer adds
    nothing (the rows told are not read; the unique constraint settles a race, its conflict ignored)."""
    found = _members_to_tell(kind, organisation_id, key, user_ids, referent_id)
    if found is None:
        return 0
    read, arguments = found
    connection = connections[DEFAULT_DB_ALIAS]
    members_sql, members_params, members_arguments = read.statement(*arguments)
    given = {"kind": kind, "key": key, "event": event, "referral": referral_id, "month": month}
    meta = MailNotification._meta
    fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
    columns, values, params, varying = [], [], [], []
    quote = connection.ops.quote_name
    for field in fields:
        columns.append(quote(field.column))
        if field.name in _FROM_MEMBERS:
            values.append(f"{_MEMBERS}.{quote(field.attname)}")  # the read's column aliases
            continue
        value = given[field.name] if field.name in given else field.get_default()
        if field.is_relation and value is not None and not isinstance(value, int):
            value = value.pk
        # Untyped: PostgreSQL types the parameters of an INSERT's SELECT list by their columns (prepared as well).
        values.append("%s")
        # The kind and the fixed defaults are constants of the prepared text; the rest are its arguments.
        if field.name in given and field.name != "kind" or field.has_default() and callable(field.default):
            varying.append(len(params))
        params.append(field.get_db_prep_save(value, connection))
    conflict = OnConflict.IGNORE
    sql = (
        f"{connection.ops.insert_statement(on_conflict=conflict)} {quote(meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM ({members_sql}) {_MEMBERS}"
    )
    suffix = connection.ops.on_conflict_suffix_sql(fields, conflict, None, None)
    if suffix:
        sql += f" {suffix}"
    offset = len(params)
    params, arguments = params + members_params, varying + [offset + i for i in members_arguments]
    # Where the service's block is the transaction: written by its COMMIT, in that round trip, in a savepoint of its
    # own there (roles.commit.carry_write: a failure is logged and the action committed). Not counted then.
    if carry_write(sql, params, arguments, using=DEFAULT_DB_ALIAS, label=f"e-mails {kind} {key}") is not None:
        return None
    sql, params = prepared(sql, params, arguments, using=DEFAULT_DB_ALIAS)
    return run_on_its_own(sql, params, using=DEFAULT_DB_ALIAS)  # a failure undoes this statement alone (raised)


_MEMBERS = '"members"'


def _waiting_members(referral, event):
    """Who must hear that a referral waits: the facilitators of its lot (the owner of the waiting task when it is a
    facilitator's task assigned to someone), as (organisation id, user ids or None for the whole team)."""
    facilitation_id = referral.offer.lot.contract.operation.facilitation_organisation_id
    host = (event.inputs or {}).get("task")
    work_task = WorkTask.objects.filter(task_id=host).select_related("task").first() if host else None
    owner = None
    if work_task is not None and work_task.role == Role.FACILITATOR and work_task.task.owner_id:
        owner = [work_task.task.owner_id]
    return facilitation_id, owner


def _referral_kind(event):
    """(kind, referral id) of the e-mails about a referral this event calls for, else (None, None); no read."""
    if event.object_type == "referral" and event.action == "forward":
        return NotificationKind.CANDIDATE_FORWARDED, event.object_id
    if event.object_type == "referral" and event.action in DECISIONS:
        return NotificationKind.CANDIDATE_DECIDED, event.object_id
    if event.object_type == "timer" and event.action == "remind" and (event.inputs or {}).get("referral"):
        return NotificationKind.REFERRAL_WAITING, event.inputs["referral"]
    return None, None


def calls_for_mail(event) -> bool:
    """Whether this event may write outbox rows, from its type and action alone: the publisher sends nothing for the
    others (most events)."""
    return (event.object_type == "hoursstatement" and event.action == "remind") or _referral_kind(event)[0] is not None


def enqueue_for_event(event, subject=None) -> int | None:
    """The outbox rows a journal event calls for (none for most events): how many were written, or None when they
    are left for the transaction's COMMIT to write (roles.commit.carry_write: not counted). `subject`: the event's
    referral as the service holds it, locked with the rows its transition reads
    (parcours.services.common.lock_related), not read again.

    It never aborts the transaction of the action it tells of: a failure undoes only what it wrote, and is raised for
    the caller to log (logged by the commit, when it carries the statement). Its one statement does that on its own
    (its savepoint in the same round trip, roles.statements.run_on_its_own); when the rows it needs must be read
    first, everything goes in a savepoint."""
    if _reads_first(event, subject):
        with transaction.atomic():
            return _enqueue_for_event(event, subject)
    return _enqueue_for_event(event, subject)


def _reads_first(event, subject) -> bool:
    """Whether `_enqueue_for_event` reads before its statement: not when the subject holds every row it uses."""
    if event.object_type == "hoursstatement" and event.action == "remind":
        return True  # the lot
    kind, referral_id = _referral_kind(event)
    if kind is None:
        return False  # nothing to write
    if kind == NotificationKind.REFERRAL_WAITING:
        return True  # the waiting task
    if not isinstance(subject, Referral) or subject.pk != int(referral_id):
        return True
    path = "offer__lot" if kind == NotificationKind.CANDIDATE_FORWARDED else "pathway__participant"
    return not _loaded(subject, path)


def _loaded(obj, path) -> bool:
    """Whether the related rows along `path` (a__b) were read with `obj` (select_related): using them reads nothing."""
    for name in path.split("__"):
        field = type(obj)._meta.get_field(name)
        if not field.is_cached(obj):
            return False
        obj = field.get_cached_value(obj)
        if obj is None:
            return True
    return True


def _enqueue_for_event(event, subject) -> int | None:
    """`enqueue_for_event`, its reads and its statement."""
    if event.object_type == "hoursstatement" and event.action == "remind":
        return _enqueue_statement_reminder(event)
    kind, referral_id = _referral_kind(event)
    if kind is None:
        return 0
    referral = subject if isinstance(subject, Referral) and subject.pk == int(referral_id) else None
    if referral is None:
        found = _referral_told(int(referral_id))
        if not found:
            return 0
        referral = found[0]
    referent_id = None
    if kind == NotificationKind.CANDIDATE_FORWARDED:
        organisation_id, user_ids = referral.offer.lot.awardee_id, None
        key = f"referral:{referral.pk}:forward"
    elif kind == NotificationKind.CANDIDATE_DECIDED:
        participant = referral.pathway.participant
        organisation_id, referent_id = participant.youth_agency_id, participant.referent_adviser_id
        user_ids = [referent_id, referral.sent_by_id]  # the Mission Locale's advisers if the referent left
        key = f"referral:{referral.pk}:{event.action}"
    else:
        organisation_id, user_ids = _waiting_members(referral, event)
        key = f"timer:{event.object_id}"
    if organisation_id is None:
        return 0
    return _enqueue(
        kind,
        organisation_id,
        key=key,
        user_ids=user_ids,
        referent_id=referent_id,
        event=event,
        referral_id=referral.pk,
    )


def _enqueue_statement_reminder(event) -> int | None:
    """A statement reminded: every member of the lot's awardee, according to their preferences. The worker's reminders
    of one month make one message per employer (its lots missing that month are listed in it); a facilitator's
    reminder by hand is a message of its own."""
    inputs = event.inputs or {}
    lot = ContractLot.objects.filter(pk=inputs.get("lot")).only("pk", "awardee_id").first()
    if lot is None or lot.awardee_id is None:
        return 0
    month = datetime.date.fromisoformat(str(inputs["month"])[:10])
    key = f"statement:{lot.awardee_id}:{month:%Y-%m}"
    if event.actor_user_id is not None:  # by hand, not the system's job
        key += f":{event.pk}"
    return _enqueue(NotificationKind.STATEMENT_MISSING, lot.awardee_id, key=key, event=event, month=month)


def missing_lots(employer_id, month) -> list:
    """[(lot, [placements running that month])] of the employer's lots whose statement of `month` is not declared."""
    submitted = HoursStatement.objects.filter(lot=OuterRef("pk"), month=month, submitted_at__isnull=False)
    lots = (
        ContractLot.objects.filter(awardee_id=employer_id)
        .exclude(Exists(submitted))
        .select_related("contract")
        .order_by("contract__reference", "number", "pk")
    )
    found = []
    for lot in lots:
        running = list(lot.placements.filter(running_in(month)).select_related("pathway__participant").order_by("pk"))
        if running:
            found.append((lot, running))
    return found


# --- Composing (at sending time, through the policy of that moment) -----------------------------------------------
def _url(path) -> str:
    return f"{settings.PARCOURS_BASE_URL}{path}"


def _actor_of(row):
    membership = (
        Membership.objects.filter(user_id=row.user_id, organisation_id=row.organisation_id, is_active=True)
        .select_related("user", "organisation")
        .first()
    )
    return Actor.from_membership(membership) if membership is not None else None


def _name_for(actor, referral) -> str:
    """The young person's name where the recipient may see it (the employer sees it on the referrals forwarded to it,
    the Mission Locale and the facilitators on the files they follow); otherwise nothing."""
    participant = referral.pathway.participant
    if participant.anonymised_at is not None:
        return ""
    if policy.allows(actor, "participant.view_identity", participant) or (
        actor.role == Role.EMPLOYER and policy.allows(actor, "referral.view", referral)
    ):
        return f"{participant.first_name} {participant.last_name.upper()}"
    return ""


def compose(row):
    """(subject, text) telling `row`'s recipient what happened, or None when they may no longer see it."""
    actor = _actor_of(row)
    if actor is None:
        return None
    if row.kind == NotificationKind.STATEMENT_MISSING:
        return _compose_statement(row, actor)
    referral = Referral.objects.select_related("offer__lot", "pathway__participant").filter(pk=row.referral_id).first()
    if referral is None or not policy.allows(actor, "referral.view", referral):
        return None
    name = _name_for(actor, referral)
    who = f" : {name}" if name else ""
    offer = f"« {referral.offer.title} » ({referral.offer.lot})"
    link = _url(reverse("referral_detail", args=[referral.pk]))
    if row.kind == NotificationKind.CANDIDATE_FORWARDED:
        text = f"Une candidature vous est transmise pour l'offre {offer}{who}."
    elif row.kind == NotificationKind.CANDIDATE_DECIDED:
        decision = DECISIONS.get(row.event.action if row.event is not None else "", "décision")
        text = f"Offre {offer}{who} — {decision}."
    else:
        text = f"Le positionnement sur l'offre {offer}{who} attend une action au-delà du délai de relance."
    return f"{SUBJECTS[row.kind]} — {referral.offer.title}", f"{text}\n{link}"


def _compose_statement(row, actor):
    if actor.role != Role.EMPLOYER:
        return None
    with translation.override("fr"):
        month = formats.date_format(row.month, "F Y")
    lots = missing_lots(row.organisation_id, row.month)
    if not lots:
        return None  # declared meanwhile
    with translation.override("fr"):
        of_the_month = of_name(month)
    lines = [_("Le relevé d'heures %(of_month)s n'est pas encore déclaré :") % {"of_month": of_the_month}]
    for lot, placements in lots:
        link = _url(f"{reverse('employer:statement', args=[lot.pk])}?mois={row.month:%Y-%m}")
        lines.append(f"- {lot.contract.reference} — {lot} : {link}")
        for placement in placements:
            if not policy.allows(actor, "placement.declare_hours", placement):
                continue  # a row of the statement page of this employer only
            participant = placement.pathway.participant
            if participant.anonymised_at:
                name = _("mise en poste n° %(number)s") % {"number": placement.pk}
            else:
                name = f"{participant.first_name} {participant.last_name.upper()}"
            lines.append(f"  · {name}")
    return f"{SUBJECTS[row.kind]} — {month}", "\n".join(lines)


def _footer():
    return (
        "\n\n—\nParcours. Vous recevez ce message selon vos préférences de notification : "
        f"{_url(reverse('notification_preferences'))}"
    )


# --- Delivering (the timer worker) ------------------------------------------------------------------------------
def _pending(now):
    return MailNotification.objects.filter(sent_at__isnull=True, outcome="").filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT)
    )


def _claim(queryset, now) -> list:
    """Claim rows for this worker: one conditional UPDATE (a row claimed meanwhile by another worker no longer
    matches once its transaction has committed), then read back what this worker got."""
    token = uuid.uuid4().hex
    ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:BATCH])
    if not ids:
        return []
    _pending(now).filter(pk__in=ids).update(claimed_at=now, claim=token)
    return list(
        MailNotification.objects.filter(claim=token, sent_at__isnull=True)
        .select_related("user", "event")
        .order_by("user_id", "kind", "pk")
    )


def follow_preference(user, kind, delivery) -> int:
    """A person's new choice for a kind applies to what still waits in the outbox for them (not claimed by a
    sending worker): `never` drops it, the other choices move it to that way of sending. How many rows changed."""
    waiting = MailNotification.objects.filter(
        user=user, kind=kind, sent_at__isnull=True, outcome="", claimed_at__isnull=True
    ).exclude(delivery=delivery)
    if delivery == Delivery.NONE:
        return waiting.update(sent_at=timezone.now(), outcome=SKIPPED)
    return waiting.update(delivery=delivery)


def _finish(rows, outcome, now):
    MailNotification.objects.filter(pk__in=[r.pk for r in rows]).update(sent_at=now, outcome=outcome)


def _release(rows):
    """A failed sending: the rows are tried again on a later sweep, up to MAX_ATTEMPTS."""
    for row in rows:
        attempts = row.attempts + 1
        MailNotification.objects.filter(pk=row.pk).update(
            claimed_at=None, claim="", attempts=attempts, outcome=FAILED if attempts >= MAX_ATTEMPTS else ""
        )


def _send(connection, user, subject, body) -> None:
    EmailMessage(subject=f"[Parcours] {subject}", body=body, to=[user.email], connection=connection).send(
        fail_silently=False
    )


def deliver_immediate(*, now=None) -> int:
    """Send the claimed immediate rows, one message each."""
    now = now or timezone.now()
    rows = _claim(_pending(now).filter(delivery=Delivery.IMMEDIATE), now)
    if not rows:
        return 0
    sent = 0
    with get_connection() as connection:
        for row in rows:
            composed = compose(row)
            if composed is None:
                _finish([row], SKIPPED, now)
                continue
            subject, text = composed
            greeting = f"Bonjour {row.user.first_name}," if row.user.first_name else "Bonjour,"
            try:
                _send(connection, row.user, subject, f"{greeting}\n\n{text}{_footer()}")
            except Exception:
                logger.exception("sending notification %s failed", row.pk, extra={"notification": row.pk})
                _release([row])
                continue
            _finish([row], SENT, now)
            sent += 1
    return sent


def digest_moment(now) -> datetime.datetime:
    """Today's digest moment (local time): rows written before it go into today's digest."""
    local = timezone.localtime(now)
    return local.replace(hour=settings.PARCOURS["DIGEST_HOUR"], minute=0, second=0, microsecond=0)


def deliver_digests(*, now=None) -> int:
    """Once the digest hour has passed: one message per person grouping their digest rows written before it."""
    now = now or timezone.now()
    moment = digest_moment(now)
    if now < moment:
        return 0
    rows = _claim(_pending(now).filter(delivery=Delivery.DIGEST, created_at__lt=moment), now)
    by_user = defaultdict(list)
    for row in rows:
        by_user[row.user].append(row)
    sent = 0
    with get_connection() as connection:
        for user, user_rows in by_user.items():
            sections, shown, skipped = defaultdict(list), [], []
            for row in user_rows:
                composed = compose(row)
                if composed is None:
                    skipped.append(row)
                    continue
                sections[row.kind].append(composed[1])
                shown.append(row)
            _finish(skipped, SKIPPED, now)
            if not shown:
                continue
            with translation.override("fr"):
                day = formats.date_format(timezone.localdate(now), "j F Y")
            parts = [f"Bonjour {user.first_name}," if user.first_name else "Bonjour,", ""]
            for kind in NotificationKind:
                if sections[kind]:
                    parts += [f"{SUBJECTS[kind]} ({len(sections[kind])})", *sections[kind], ""]
            try:
                _send(connection, user, f"Résumé du {day}", "\n".join(parts).rstrip() + _footer())
            except Exception:
                logger.exception("sending the digest of user %s failed", user.pk)
                _release(shown)
                continue
            _finish(shown, SENT, now)
            sent += 1
    return sent


def purge_sent(*, now=None) -> int:
    now = now or timezone.now()
    old = MailNotification.objects.filter(sent_at__lt=now - datetime.timedelta(days=KEEP_SENT_DAYS))
    return old.delete()[0]

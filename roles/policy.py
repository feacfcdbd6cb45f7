"""The permission policy: one table of who may do what, on which objects.

Deny by default: an action absent from the table, or a role absent from an action's row, is refused.
A row maps each allowed role to a *scope*, the relation between the actor's current organisation and
the object that must hold. The same scope expressions filter the list pages (selectors), check single
objects, decide who sees a journal event (derived views) and who is told about it (notifications), so a page
can never show an object an action would refuse to touch, or the reverse.

The policy knows no case model: each model declares in `SCOPE_PATHS` how to reach, from its rows, the
organisations and grants that scopes are about (ORM lookup paths and grant model labels).
"""

import enum
import functools
from dataclasses import dataclass

from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BooleanField, CharField, Exists, Func, OuterRef, Q, Subquery, Value
from django.db.models import F as FieldRef  # F is the facilitator in the policy table
from django.db.models.expressions import RawSQL

from roles.actor import Actor
from roles.enums import Role, kinds_with
from roles.statements import Compiled, Template, prepared, sentinel

A, F, E, AU, DPO = Role.ADVISER, Role.FACILITATOR, Role.EMPLOYER, Role.AUDITOR, Role.DPO


class Scope(enum.Enum):
    OWN_ORGANISATION = "own_organisation"  # something of (or created in) one's own organisation
    FOLLOWED_PARTICIPANT = "followed_participant"  # the Mission Locale following the young person
    SHARED_PARTICIPANT = "shared_participant"  # a facilitation organisation the file was shared with
    LOT_FACILITATION = "lot_facilitation"  # the facilitation organisation running the lot
    PARTNER_LOT = "partner_lot"  # a lot run by a partner facilitation organisation (adviser's offer search)
    AWARDED_LOT = "awarded_lot"  # a lot awarded to the employer
    FORWARDED_TO_EMPLOYER = "forwarded_to_employer"  # referral/placement granted to the employer
    BUYER_CONTRACT = "buyer_contract"  # the buyer's contracts (auditors)
    BUYER_CONTRACT_NAMED = "buyer_contract_named"  # the same, for an auditor holding named access (charter)
    ACCESS_LOG = "access_log"  # reads of the organisation's files, or by its members (data-protection officer)


# fmt: off
POLICY: dict[str, dict[Role, Scope]] = {
    # participant file
    "participant.create":            {A: Scope.OWN_ORGANISATION},
    "participant.view":              {A: Scope.FOLLOWED_PARTICIPANT, F: Scope.SHARED_PARTICIPANT,
                                      AU: Scope.BUYER_CONTRACT},
    # name, birth date, notes: buyers' auditors see a pseudonym unless they hold named access
    "participant.view_identity":     {A: Scope.FOLLOWED_PARTICIPANT, F: Scope.SHARED_PARTICIPANT,
                                      AU: Scope.BUYER_CONTRACT_NAMED},
    # contact details, address and sex: who accompanies the young person; never an auditor, named access or not
    # (data minimisation: an auditor identifies the person for controls, it never contacts them)
    "participant.view_contact":      {A: Scope.FOLLOWED_PARTICIPANT, F: Scope.SHARED_PARTICIPANT},
    "participant.update":            {A: Scope.FOLLOWED_PARTICIPANT},
    # the file's own events (its intake and edits, the notice, the right of access, retention): who follows the young
    # person; a buyer's auditor controls the clause (the pathway, referrals, placements, hours), not the file's upkeep
    "participant.view_file_events":  {A: Scope.FOLLOWED_PARTICIPANT, F: Scope.SHARED_PARTICIPANT},
    # eligibility criteria and the derogation's reason: who declares them and who validates them, never a buyer
    "participant.view_criteria":     {A: Scope.FOLLOWED_PARTICIPANT, F: Scope.SHARED_PARTICIPANT},
    "participant.view_health_data":  {F: Scope.SHARED_PARTICIPANT},
    "participant.export_subject_data": {A: Scope.FOLLOWED_PARTICIPANT},
    "participant.view_access_log":   {A: Scope.FOLLOWED_PARTICIPANT},
    "participant.record_notice":     {A: Scope.FOLLOWED_PARTICIPANT},
    # the file's referent adviser (one of the Mission Locale's active advisers), one file or a leaver's hand-over
    "participant.change_referent":   {A: Scope.FOLLOWED_PARTICIPANT},
    "followup.record":               {A: Scope.FOLLOWED_PARTICIPANT, F: Scope.SHARED_PARTICIPANT},
    # pathway transitions
    "pathway.submit_eligibility":    {A: Scope.FOLLOWED_PARTICIPANT},
    "pathway.validate_eligibility":  {F: Scope.SHARED_PARTICIPANT},
    "pathway.reject_eligibility":    {F: Scope.SHARED_PARTICIPANT},
    "pathway.exit":                  {A: Scope.FOLLOWED_PARTICIPANT},
    "pathway.withdraw":              {A: Scope.FOLLOWED_PARTICIPANT},
    "pathway.mark_lost_contact":     {A: Scope.FOLLOWED_PARTICIPANT},
    "pathway.reopen":                {A: Scope.FOLLOWED_PARTICIPANT},
    "exit.record_outcome":           {A: Scope.FOLLOWED_PARTICIPANT},
    # referrals (positionnements)
    "referral.create":               {A: Scope.FOLLOWED_PARTICIPANT},
    "referral.view":                 {A: Scope.FOLLOWED_PARTICIPANT, F: Scope.LOT_FACILITATION,
                                      E: Scope.FORWARDED_TO_EMPLOYER, AU: Scope.BUYER_CONTRACT},
    "referral.start_review":         {F: Scope.LOT_FACILITATION},
    "referral.approve":              {F: Scope.LOT_FACILITATION},
    "referral.decline":              {F: Scope.LOT_FACILITATION},
    "referral.forward":              {F: Scope.LOT_FACILITATION},
    "referral.accept":               {E: Scope.FORWARDED_TO_EMPLOYER},
    "referral.refuse":               {E: Scope.FORWARDED_TO_EMPLOYER},
    "referral.hire":                 {E: Scope.FORWARDED_TO_EMPLOYER},
    "referral.cancel":               {A: Scope.FOLLOWED_PARTICIPANT},
    # placements (mises en poste)
    "placement.view":                {A: Scope.FOLLOWED_PARTICIPANT, F: Scope.LOT_FACILITATION,
                                      E: Scope.FORWARDED_TO_EMPLOYER, AU: Scope.BUYER_CONTRACT},
    "placement.start":               {E: Scope.FORWARDED_TO_EMPLOYER, F: Scope.LOT_FACILITATION},
    "placement.end":                 {E: Scope.FORWARDED_TO_EMPLOYER, F: Scope.LOT_FACILITATION},
    "placement.change_start_date":   {E: Scope.FORWARDED_TO_EMPLOYER, F: Scope.LOT_FACILITATION},
    "placement.cancel":              {E: Scope.FORWARDED_TO_EMPLOYER, F: Scope.LOT_FACILITATION},
    "placement.declare_hours":       {E: Scope.FORWARDED_TO_EMPLOYER},
    # hours lines (relevés d'heures)
    "hoursline.view":                {E: Scope.FORWARDED_TO_EMPLOYER, F: Scope.LOT_FACILITATION,
                                      AU: Scope.BUYER_CONTRACT},
    "hoursline.validate":            {F: Scope.LOT_FACILITATION},
    "hoursline.reject":              {F: Scope.LOT_FACILITATION},
    "hoursline.lock":                {F: Scope.LOT_FACILITATION},
    # monthly statements of a lot (relevés mensuels): declared by the awardee, closed by the facilitator
    "statement.view":                {E: Scope.AWARDED_LOT, F: Scope.LOT_FACILITATION},
    "statement.submit":              {E: Scope.AWARDED_LOT},
    "statement.close":               {F: Scope.LOT_FACILITATION},
    "statement.remind":              {F: Scope.LOT_FACILITATION},
    # dashboards and clause reports (buyers: their contracts, pseudonymised)
    "report.view":                   {F: Scope.LOT_FACILITATION, AU: Scope.BUYER_CONTRACT},
    # clause register and offers
    "register.create":               {F: Scope.OWN_ORGANISATION},
    "operation.view":                {F: Scope.LOT_FACILITATION, AU: Scope.BUYER_CONTRACT},
    "contract.view":                 {F: Scope.LOT_FACILITATION, AU: Scope.BUYER_CONTRACT},
    "lot.view":                      {F: Scope.LOT_FACILITATION, A: Scope.PARTNER_LOT,
                                      E: Scope.AWARDED_LOT, AU: Scope.BUYER_CONTRACT},
    "offer.create":                  {F: Scope.LOT_FACILITATION},
    "offer.close":                   {F: Scope.LOT_FACILITATION},
    "offer.view":                    {F: Scope.LOT_FACILITATION, A: Scope.PARTNER_LOT,
                                      E: Scope.AWARDED_LOT, AU: Scope.BUYER_CONTRACT},
    # work layer: a task is offered to one role of one organisation
    "task.view":                     {A: Scope.OWN_ORGANISATION, F: Scope.OWN_ORGANISATION,
                                      E: Scope.OWN_ORGANISATION},
    # access log (who read which file): the organisation's data-protection officer
    "accesslog.view":                {DPO: Scope.ACCESS_LOG},
}
# fmt: on

# Actions only the system (timers) may take; no human role can.
SYSTEM_ACTIONS = frozenset({"referral.expire"})


@dataclass(frozen=True)
class ScopePaths:
    """How to reach, from a model's rows, what the scopes are about (ORM lookup paths; "" means the row itself).

    `participant`, `forwarded` and `audited` are (grant model label, path to the granted object): django-guardian
    grants given to organisation groups; their path is foreign keys only (one granted object per row). The other
    paths lead to an organisation; a path crossing a to-many relation is checked with an EXISTS subquery on the model
    itself, so rows are never duplicated.
    """

    participant: tuple[str, str] | None = None
    facilitation: str | None = None  # the facilitation organisation running the lot / contract / operation
    awardee: str | None = None  # the employer awarded the lot
    buyer: str | None = None  # the public buyer of the contract
    # A grant the buyer's group holds on the participant (its auditors' reach, given when a referral reaches one of
    # its contracts): where the buyer is a to-many hop away (referral → offer → lot → contract), counting an auditor's
    # pathways by state went through every referral (83 ms at 100,000 pathways).
    audited: tuple[str, str] | None = None
    forwarded: tuple[str, str] | None = None
    organisation: str | None = None  # the organisation owning the row
    # The Mission Locale following the participant: the followed-participant grant is only ever given to it (at
    # intake, roles.grants.share_participant), so that scope filters on it too. Redundant for the answer, decisive
    # for the plan: PostgreSQL walks that agency's rows on its name index instead of the whole table's (an adviser's
    # search for "Rousseau" at 1,000,000 pathways walked 645,000 names before the R's: 1.2 s, 5 ms on the agency's).
    follower: str | None = None
    access_log: tuple[str, str] | None = None  # (path to the reader's organisation, path to the file's agency)


def _join(path, field):
    return f"{path}__{field}" if path else field


@functools.cache
def _crosses_many(model, path) -> bool:
    """Whether a lookup path goes through a to-many relation (then it is checked with EXISTS, not a join)."""
    current = model
    for name in path.split("__"):
        field = current._meta.get_field(name)
        if field.many_to_many or field.one_to_many:
            return True
        if field.related_model is None:
            return False
        current = field.related_model
    return False


@functools.cache
def _correlated_at_many(model, path):
    """(model, its foreign key, outer reference, rest of the path) of the first to-many hop of `path`, when that hop
    is a reverse foreign key reached from the row or through one foreign key: the EXISTS then starts at that hop
    and is correlated on the key, instead of joining the row's table and the key's table again inside it (the
    auditor's count of pathways by state: 118 -> 55 ms at 100,000 pathways). None: the generic EXISTS."""
    parts = path.split("__")
    current = model
    for index, name in enumerate(parts):
        field = current._meta.get_field(name)
        if field.many_to_many or field.one_to_many:
            foreign_key = getattr(field, "field", None)
            rest = "__".join(parts[index + 1 :])
            if not field.one_to_many or foreign_key is None or index > 1 or not rest:
                return None
            if foreign_key.target_field != current._meta.pk:
                return None
            outer = parts[0] if index == 1 else "pk"
            return field.related_model, foreign_key.name, outer, rest
        if field.related_model is None:
            return None
        current = field.related_model
    return None


def _organisation_q(model, path, organisation) -> Q:
    if not _crosses_many(model, path):
        head, _, rest = path.partition("__")
        if not rest:
            return Q(**{path: organisation})
        # A chain of foreign keys is a filter on the row's own key: `offer_id IN (the offers reached through the
        # rest)`. Joined hop by hop instead, counting a facilitator's referrals by state hashed every referral
        # through four joins (82 -> 26 ms at 100,000 pathways); the semi-join hashes only the few related rows.
        related_field = model._meta.get_field(head)
        related = related_field.related_model
        reached = related._default_manager.filter(_organisation_q(related, rest, organisation))
        return Q(**{f"{head}__in": reached.values(related_field.target_field.name)})
    correlated = _correlated_at_many(model, path)
    if correlated is not None:
        related, key, outer, rest = correlated
        return Q(Exists(related._default_manager.filter(**{key: OuterRef(outer), rest: organisation})))
    return Q(Exists(model._default_manager.filter(pk=OuterRef("pk"), **{path: organisation})))


def _granted_model(grant_model):
    return grant_model._meta.get_field("content_object").related_model


@functools.cache
def _permission_id(app_label, model_name, codename) -> int:
    """The permission's id, as a literal in the statements: the planner then knows how many grants match (a scalar
    subquery hides it, and at a million rows it chose to scan the objects instead of the grants). Cached per
    process; `forget_permission_ids` runs when permissions are (re)created (post_migrate, test flushes)."""
    found = (
        Permission.objects.filter(content_type__app_label=app_label, content_type__model=model_name, codename=codename)
        .values_list("pk", flat=True)
        .first()
    )
    return found if found is not None else -1  # no such permission: matches no grant


def permission_id(app_label, model_name, codename) -> int:
    """A permission's id (cached per process; -1 when there is no such permission)."""
    return _permission_id(app_label, model_name, codename)


def _grant_permission_id(granted, codename_prefix) -> int:
    meta = granted._meta
    return _permission_id(meta.app_label, meta.model_name, f"{codename_prefix}_{meta.model_name}")


def forget_permission_ids(**kwargs):
    for cached in (_permission_id, _scope_template, _audience_template):
        cached.cache_clear()
    Compiled.forget_all()  # reads compiled with scope checks hold the ids too


class _AmongGrants(Func):
    """`column = ANY(ARRAY(SELECT …))`: PostgreSQL reads the subquery once, before the rows, and cannot turn it into
    a join walked in another order."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        column, array = self.source_expressions
        column_sql, column_params = compiler.compile(column)
        array_sql, array_params = compiler.compile(array)
        return f"{column_sql} = ANY({array_sql})", (*column_params, *array_params)


def among(column: str, subquery) -> Q:
    """`column = ANY(ARRAY(subquery))` on PostgreSQL (`_AmongGrants`): the subquery's rows are read once, first, and
    the rows of `column` looked up by them."""
    return Q(_AmongGrants(FieldRef(column), ArraySubquery(subquery)))


def _grant_q(grant, organisation, codename_prefix, *, grants_first=False) -> Q:
    label, path = grant
    grant_model = apps.get_model(label)
    granted = _granted_model(grant_model)
    grants = grant_model.objects.filter(
        group_id=organisation.group_id, permission_id=_grant_permission_id(granted, codename_prefix)
    )
    if grants_first and connection.vendor == "postgresql":
        return among(path or "pk", grants.values("content_object_id"))
    return Q(Exists(grants.filter(content_object=OuterRef(path or "pk"))))


def scope_q(model, scope: Scope, actor, *, grants_first=False) -> Q:
    """A filter keeping the rows of `model` that `actor` reaches through `scope`. Never an IN list.

    `grants_first` (a list of an employer's candidates, placements or hours): on PostgreSQL the employer's grants are
    read first and the rows they reach sorted after. An employer holds a few thousand grants in a table of millions;
    as an `EXISTS`, PostgreSQL walked the whole table's most recent rows in the list's order and checked each one's
    grant, 4,711 referrals walked for a home's 10 at 1,000,000 pathways (100 ms against 13)."""
    paths: ScopePaths = model.SCOPE_PATHS
    org = actor.organisation
    nothing = Q(pk__in=[])
    if scope is Scope.OWN_ORGANISATION and paths.organisation is not None:
        return _organisation_q(model, paths.organisation, org)
    if scope is Scope.FOLLOWED_PARTICIPANT and paths.participant is not None:
        followed = _grant_q(paths.participant, org, "change")
        return followed & _organisation_q(model, paths.follower, org) if paths.follower else followed
    if scope is Scope.SHARED_PARTICIPANT and paths.participant is not None:
        return _grant_q(paths.participant, org, "view")
    if scope is Scope.LOT_FACILITATION and paths.facilitation is not None:
        return _organisation_q(model, paths.facilitation, org)
    if scope is Scope.PARTNER_LOT and paths.facilitation is not None:
        return _organisation_q(model, _join(paths.facilitation, "partners"), org)
    if scope is Scope.AWARDED_LOT and paths.awardee is not None:
        return _organisation_q(model, paths.awardee, org)
    if scope is Scope.FORWARDED_TO_EMPLOYER and paths.forwarded is not None:
        return _grant_q(paths.forwarded, org, "view", grants_first=grants_first)
    if scope is Scope.BUYER_CONTRACT_NAMED and not actor.named_access:
        return nothing
    if scope in (Scope.BUYER_CONTRACT, Scope.BUYER_CONTRACT_NAMED) and paths.audited is not None:
        return _grant_q(paths.audited, org, "audit")
    if scope in (Scope.BUYER_CONTRACT, Scope.BUYER_CONTRACT_NAMED) and paths.buyer is not None:
        return _organisation_q(model, paths.buyer, org)
    if scope is Scope.ACCESS_LOG and paths.access_log is not None:
        reader, agency = paths.access_log
        return _organisation_q(model, reader, org) | _organisation_q(model, agency, org)
    return nothing


def _grant_of(paths: ScopePaths, scope):
    """((grant model label, path to the granted object), permission prefix) of a scope held through a grant; None
    for the other scopes, or when `paths` has no such grant."""
    grant = {
        Scope.FOLLOWED_PARTICIPANT: (paths.participant, "change"),
        Scope.SHARED_PARTICIPANT: (paths.participant, "view"),
        Scope.FORWARDED_TO_EMPLOYER: (paths.forwarded, "view"),
        Scope.BUYER_CONTRACT: (paths.audited, "audit"),
    }.get(scope)
    return None if grant is None or grant[0] is None else grant


def grant_holder(actor, action: str, model):
    """When `actor` reaches the rows of `model` for `action` through one grant (`_grant_of`): (grant model label,
    path from `model` to the granted object, the group id holding the grant, the permission id) — the grant scope_q
    filters on (the followed scope also filters on the agency, `ScopePaths.follower`, which holds the same rows).
    None for any other scope."""
    if actor is None or actor.is_system or actor.organisation is None:
        return None
    grant = _grant_of(model.SCOPE_PATHS, roles_for(action).get(actor.role))
    if grant is None:
        return None
    (label, path), prefix = grant
    granted = _granted_model(apps.get_model(label))
    return label, path, actor.organisation.group_id, _grant_permission_id(granted, prefix)


def roles_for(action: str) -> dict[Role, Scope]:
    return POLICY.get(action, {})


def may(actor, action: str) -> bool:
    """Whether the actor's role may take this action at all (on some object)."""
    if actor is None:
        return False
    if actor.is_system:
        return action in SYSTEM_ACTIONS
    scope = roles_for(action).get(actor.role)
    if scope is Scope.BUYER_CONTRACT_NAMED:
        return actor.named_access
    return scope is not None


def allows(actor, action: str, obj=None) -> bool:
    """Whether `actor` may take `action` on `obj` (or, with no object, in its own organisation)."""
    if actor is None:
        return False
    if actor.is_system:
        return action in SYSTEM_ACTIONS
    scope = roles_for(action).get(actor.role)
    if scope is None or actor.organisation is None:
        return False
    if obj is None:
        return scope is Scope.OWN_ORGANISATION
    known = getattr(obj, "_policy_scopes", None)
    if known is not None and known[0] == _who(actor) and scope in known[1]:
        return known[1][scope]
    template = _scope_template(type(obj), scope, bool(actor.named_access))
    if template is None:
        return False
    organisation = actor.organisation
    params = template.bind(pk=obj.pk, organisation=organisation.pk, group=organisation.group_id)
    sql, params = prepared(f"SELECT EXISTS ({template.sql})", params, template.arguments)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return bool(cursor.fetchone()[0])


# --- Scope checks compiled once per (model, scope) ---------------------------------------------------------------
@dataclass(frozen=True)
class _Probe:
    """Stands for an actor while a scope check is compiled: its organisation's ids are sentinels."""

    organisation: object
    named_access: bool


@functools.cache
def _scope_template(model, scope: Scope, named_access: bool) -> Template | None:
    organisation_model = apps.get_model("roles", "Organisation")
    pk, organisation, group = sentinel(), sentinel(), sentinel()
    probe = _Probe(organisation_model(pk=organisation, group_id=group), named_access)
    condition = scope_q(model, scope, probe)
    if condition == Q(pk__in=[]):
        return None
    rows = model._default_manager.filter(pk=pk).filter(condition).values("pk")[:1]
    return Template.of(rows, pk=pk, organisation=organisation, group=group)


def _scope_check_of(model, scope: Scope, named_access: bool, pk, organisation_id, group_id):
    template = _scope_template(model, scope, named_access)
    if template is None:
        return None
    params = template.bind(pk=pk, organisation=organisation_id, group=group_id)
    return f"EXISTS ({template.sql})", params


# --- Deciding once per locked row --------------------------------------------------------------------------------
def _who(actor):
    return (actor.user.pk, actor.organisation_id, actor.role, actor.named_access)


def _scope_field(scope):
    return f"_scope_{scope.value}"


def with_scopes(queryset, actor, pk=None):
    """`queryset` annotated with whether `actor` reaches each row through each scope of its role — read in the same
    statement as the rows (the services' SELECT … FOR UPDATE), then kept on each object by `remember_scopes` so that
    `allows` asks no further query for these rows in this transaction. With `pk` (one row: a transition's lock), the
    checks are the statements compiled once per shape (`with_scopes_of_row`); without it, correlated subqueries for
    many rows."""
    if actor is None or actor.is_system or actor.organisation is None:
        return queryset
    if pk is not None:
        organisation = actor.organisation
        return with_scopes_of_row(
            queryset,
            actor.role,
            bool(actor.named_access),
            pk,
            organisation_id=organisation.pk,
            group_id=organisation.group_id,
        )
    model = queryset.model
    annotations = {}
    for scope in _role_scopes(actor.role):
        condition = scope_q(model, scope, actor)
        if condition != Q(pk__in=[]):
            annotations[_scope_field(scope)] = Exists(model._default_manager.filter(condition, pk=OuterRef("pk")))
    return queryset.annotate(**annotations)


def with_scopes_of_row(queryset, role, named_access: bool, pk, *, organisation_id, group_id):
    """`with_scopes` for row `pk`, for a member of organisation `organisation_id` (its group `group_id`) in `role`:
    the ids are parameters of the statement, so that it compiles once per (queryset, role, named access)."""
    annotations = {}
    for scope in _role_scopes(role):
        found = _scope_check_of(queryset.model, scope, named_access, pk, organisation_id, group_id)
        if found is not None:
            annotations[_scope_field(scope)] = RawSQL(found[0], found[1], output_field=BooleanField())
    return queryset.annotate(**annotations)


@functools.cache
def _role_scopes(role) -> tuple:
    return tuple(sorted({row[role] for row in POLICY.values() if role in row}, key=lambda scope: scope.value))


def remember_scopes(obj, actor):
    if actor is None or actor.is_system or actor.organisation is None:
        return obj
    # a scope with no check (no path from this model) is never reached
    decided = {scope: bool(getattr(obj, _scope_field(scope), False)) for scope in _role_scopes(actor.role)}
    obj._policy_scopes = (_who(actor), decided)
    return obj


def scope_queryset(actor, action: str, queryset, *, grants_first=False):
    """Restrict `queryset` to the rows on which `actor` may take `action` (`grants_first`: see `scope_q`)."""
    if actor is None or actor.is_system:
        return queryset.none()
    scope = roles_for(action).get(actor.role)
    if scope is None or actor.organisation is None:
        return queryset.none()
    return queryset.filter(scope_q(queryset.model, scope, actor, grants_first=grants_first))


# --- Scoped reads compiled once per role ---------------------------------------------------------------------------
_MEMBER_READS = {}  # (build, role, named access, number of values) → Compiled
_NO_ROWS = object()  # a key whose role reaches no row: its read has no statement
_SOME_USER = object()  # a member's user, while its read is compiled: the scopes read its organisation and role only


def member_rows(build, actor, *values) -> list:
    """`list(build(actor, *values))`, where `build` restricts a queryset to `actor`'s scopes, through a read compiled
    once per (build, role, named access): the actor's organisation and group ids are its arguments with `values` (ids,
    texts or days). Building a scope's `EXISTS` filters and compiling them cost more than running the read (a
    participant's journal: ~9 ms of Python a call). The read is planned at each run, for the viewer's ids (not
    prepared: see below). `build` is a module-level function (its identity is the key) whose queryset depends on
    nothing else (no clock, no other row)."""
    if actor is None or actor.is_system or actor.organisation is None:
        return list(build(actor, *values))
    role, named_access = actor.role, bool(actor.named_access)
    key = (build, role, named_access, len(values))
    read = _MEMBER_READS.get(key)
    if read is None and "<" in build.__qualname__:  # a lambda or a closure: a new key at each call, kept forever
        raise TypeError(f"member_rows needs a module-level function, not {build.__qualname__}")
    if read is _NO_ROWS:
        return []
    if read is None:
        organisation_model = apps.get_model("roles", "Organisation")

        def as_member(*arguments):
            *given, organisation_id, group_id = arguments
            organisation = organisation_model(pk=organisation_id, group_id=group_id)
            member = Actor(user=_SOME_USER, organisation=organisation, role=role, named_access=named_access)
            return build(member, *given)

        # Not prepared: PostgreSQL plans it for the viewer at each run. A generic plan, kept for the session, could
        # not know how much of a table the viewer's scope holds and hashed all of it: a facilitator's view of one
        # participant's journal ran in 53 ms at 1,000,000 pathways against 0.4 ms planned for its ids (planning:
        # 3–6 ms).
        read = _MEMBER_READS.setdefault(key, Compiled(as_member, arguments=len(values) + 2, prepare=False))
    organisation = actor.organisation
    try:
        return read(*values, organisation.pk, organisation.group_id)
    except EmptyResultSet:  # the role reaches no row through `build` (a DPO's journal): the ORM answers none
        _MEMBER_READS[key] = _NO_ROWS
        return []


# --- The other way round: who may take an action on one object (audiences of notifications) ------------------
def _scope_organisations(model, pk, scope: Scope, role: Role):
    """(rows, path to the organisation id) reaching row `pk` of `model` through `scope` for members of `role`; None:
    no such path."""
    paths: ScopePaths = model.SCOPE_PATHS
    rows = model._default_manager.filter(pk=pk)
    path = {
        Scope.OWN_ORGANISATION: paths.organisation,
        Scope.LOT_FACILITATION: paths.facilitation,
        Scope.PARTNER_LOT: _join(paths.facilitation, "partners") if paths.facilitation else None,
        Scope.AWARDED_LOT: paths.awardee,
        Scope.BUYER_CONTRACT: paths.buyer,
    }.get(scope)
    if path is not None:
        # An organisation of a kind that has this role (one join more, on its key): a task's organisation is asked
        # for each role that may view its tasks, and a team that cannot have members gets no notification (nor an
        # audience row per event). A filter, not `exclude(… isnull=True)`: through a to-many relation the latter
        # repeats the whole chain in a NOT EXISTS, and this statement runs after every transition (planning was most
        # of it).
        return rows.filter(**{f"{path}__kind__in": kinds_with(role)}), path
    grant = _grant_of(paths, scope)
    if grant is None:
        return None
    (label, granted_path), prefix = grant
    grant_model = apps.get_model(label)
    granted = _granted_model(grant_model)
    if not granted_path:
        objects = {"content_object_id": pk}
    else:
        # Reached through foreign keys (`ScopePaths`): one row at most, read once (a scalar subquery, an InitPlan). As
        # `IN (…)` a generic plan made while the tables were small probed the row once per grant: quadratic in the
        # grants until the next ANALYZE (a bulk load in one transaction, a restore).
        objects = {"content_object_id": Subquery(rows.values(granted_path))}
    grants = grant_model.objects.filter(permission_id=_grant_permission_id(granted, prefix), **objects)
    # The organisations whose group holds a grant: a semi-join on the unique group id, not a join through auth_group.
    # Only those of a kind that has this role: a participant's file is shared with its Mission Locale too, which has
    # no facilitator, and a team that cannot have members gets no notification (nor an audience row per event).
    # On PostgreSQL the grants are read first (`_AmongGrants`), then their organisations by group id: with the kind
    # as a filter of a semi-join, a generic plan could start from the organisations of that kind and walk each one's
    # grants (230 per Mission Locale in the bench's small world, thousands at national scale).
    groups = grants.values("group_id")
    if connection.vendor == "postgresql":
        held = Q(_AmongGrants(FieldRef("group_id"), ArraySubquery(groups)))
    else:
        held = Q(group_id__in=groups)
    organisations = apps.get_model("roles", "Organisation").objects.filter(held, kind__in=kinds_with(role))
    return organisations, "pk"


def audience(action: str, obj) -> set[tuple[int, Role]]:
    """The (organisation id, role) pairs whose members may take `action` on `obj` — the inverse of scope_q, in one
    query (a UNION ALL of one branch per role of the action's row).

    Scopes that depend on the person (named access of an auditor) are left out: a notification about an object
    goes to a whole team, whose members then read it through the same policy.
    """
    statement = audience_statement(action, obj)
    if statement is None:
        return set()
    sql, params = prepared(*statement)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return teams_of(cursor.fetchall())


def audience_statement(action: str, obj) -> tuple | None:
    """The statement of `audience`, not run: (sql, params, positions of the arguments); None when no team may take
    `action` on such an object. For a caller that sends it along with another (roles.commit)."""
    template = _audience_template(type(obj), action)
    if template is None:
        return None
    return template.sql, template.bind(pk=obj.pk), template.arguments


def teams_of(rows) -> set[tuple[int, Role]]:
    """The (organisation id, role) pairs of the audience statement's rows."""
    return {(organisation, Role(role)) for organisation, role in rows if organisation is not None}


@functools.cache
def _audience_template(model, action: str) -> Template | None:
    pk = sentinel()
    branches = []
    for role, scope in roles_for(action).items():
        found = _scope_organisations(model, pk, scope, role)
        if found is not None:
            rows, path = found
            role_value = Value(role.value, output_field=CharField())
            # Named columns: a statement around it (parcours.notifications' INSERT … SELECT) reads them by name.
            branches.append(
                rows.annotate(team_organisation=FieldRef(path), team_role=role_value)
                .values_list("team_organisation", "team_role")
                .order_by()
            )
    if not branches:
        return None
    query = branches[0].union(*branches[1:], all=True) if len(branches) > 1 else branches[0]
    return Template.of(query, pk=pk)

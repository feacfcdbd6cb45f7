import datetime
import decimal

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from roles import policy
from roles.actor import Actor
from roles.statements import Compiled
from workflows import guards
from workflows.errors import DomainError
from workflows.journal import with_chain_tail
from workflows.transitions import MACHINES

NOT_FOUND_MESSAGES = {
    "participant": gettext_lazy("Participant·e introuvable."),
    "pathway": gettext_lazy("Parcours introuvable."),
    "referral": gettext_lazy("Positionnement introuvable."),
    "placement": gettext_lazy("Mise en poste introuvable."),
    "hoursline": gettext_lazy("Relevé d'heures introuvable."),
    "joboffer": gettext_lazy("Offre introuvable."),
    "contractlot": gettext_lazy("Lot introuvable."),
    "hoursstatement": gettext_lazy("Relevé mensuel introuvable."),
    "exit": gettext_lazy("Sortie introuvable."),
}

VIEW_ACTIONS = {
    "participant": "participant.view",
    "pathway": "participant.view",
    "referral": "referral.view",
    "placement": "placement.view",
    "hoursline": "hoursline.view",
    "joboffer": "offer.view",
    "contractlot": "lot.view",
    "hoursstatement": "statement.view",
    "exit": "participant.view",
}


def not_found(model):
    return DomainError("not_found", str(NOT_FOUND_MESSAGES.get(model._meta.model_name) or _("Objet introuvable.")))


# What the transitions of a model read besides the row (journal, guards): fetched with the row, not locked. The
# default of each model; a transition that reads less has its own set below.
LOCK_RELATED = {
    "pathway": ("participant",),
    "referral": (
        "pathway__participant",
        "offer__lot__awardee",
        "offer__lot__counting_rules",
        "offer__lot__contract__operation__facilitation_organisation",
    ),
    "placement": ("pathway", "lot"),
    "exit": ("pathway__participant",),
    "hoursline": ("placement__pathway", "placement__lot"),
}


# Transitions that read less than their model's others: their locked read builds only these related rows. The row
# and its related rows are made into objects at each run (a referral with its default set: 10 objects, ~120
# columns, 0.65 ms; with its pathway only: 0.3 ms). A set too small is never wrong, only slower: a related row
# left out is read on its own when first used, one statement more — which tests/test_lock_reads.py checks for each
# entry, from each source state.
LOCK_RELATED_OF = {
    "referral.start_review": (),
    "referral.approve": ("offer",),
    "referral.decline": (),
    "referral.refuse": ("pathway__participant", "offer__lot__awardee"),
    "referral.cancel": ("offer__lot__awardee",),
    "referral.accept": ("offer__lot__contract__operation__facilitation_organisation",),
    "referral.hire": ("pathway__participant", "offer__lot__awardee", "offer__lot__counting_rules"),
    "placement.start": ("pathway",),  # its reopening day (guards.placement_start_after_reopening)
    "hoursline.validate": ("placement", "placement__lot"),
}


def lock_related(model, transition=None) -> tuple:
    """The related rows `lock` reads with a row of `model`, for `transition` (a name of its machine) or any."""
    name = model._meta.model_name
    if transition is not None:
        found = LOCK_RELATED_OF.get(f"{name}.{transition}")
        if found is not None:
            return found
    return LOCK_RELATED.get(name, ())


_ROW_LOCKS = {}


def _row_lock(model):
    """The statement that waits for a row of `model` (compiled once per model: it runs before every transition)."""
    found = _ROW_LOCKS.get(model)
    if found is None:
        found = _ROW_LOCKS.setdefault(
            model,
            # FOR NO KEY UPDATE: what an UPDATE of the row takes. It orders the services among themselves as FOR
            # UPDATE did, and lets through the foreign-key checks of rows other transactions insert that name this
            # row (FOR KEY SHARE, at their COMMIT): a follow-up holding its pathway no longer holds up the commit of
            # a referral's transition whose queue rows name that pathway. No service deletes a row it locked.
            Compiled(
                lambda pk: (
                    model.objects.filter(pk=pk).select_for_update(of=("self",), no_key=True).values_list("pk")[:1]
                )
            ),
        )
    return found


def hold_row(model, pk) -> None:
    """Wait for and hold the row lock of `model` #`pk` until the transaction ends, reading nothing else (the
    statement `lock` starts with): for a service that appends to the journal chain of a row it does not change."""
    if connection.features.has_select_for_update:
        _row_lock(model)(pk)


_LOCKED_READS = {}


def _locked_rows(model, related, locked=True):
    queryset = model.objects.all()
    if locked:
        queryset = queryset.select_for_update(of=("self",), no_key=True)  # as `_row_lock`: no stronger lock
    if related:
        queryset = queryset.select_related(*related)
    machine = getattr(model, "MACHINE", None)
    # A state machine's row comes with its journal chain's last link, for the transition's event (engine.fire).
    return with_chain_tail(queryset, machine) if machine and locked else queryset


def _read_locked(model, related, role, named_access, guard_reads=(), locked=True):
    """The read of a locked row with the related rows its transition reads, what its guards read (`guard_reads`: on
    the day given as the last argument) and, for a member of a team, whether each scope of its role reaches it
    (roles.policy.with_scopes_of_row): compiled once per model, related rows, guard reads, kind of actor and lock.
    `locked=False`: the same read of a row the service does not change, not locked (`read_row`)."""
    key = (model, related, role, named_access, guard_reads, locked)
    found = _LOCKED_READS.get(key)
    if found is None:

        def rows(day=None):
            queryset = _locked_rows(model, related, locked)
            for name in guard_reads:
                queryset = queryset.annotate(**model.guard_annotations(name, day))
            return queryset

        dated = 1 if guard_reads else 0
        if role is None:
            found = Compiled(lambda pk, *day: rows(*day).filter(pk=pk), arguments=1 + dated)
        else:
            found = Compiled(
                lambda pk, organisation, group, *day: policy.with_scopes_of_row(
                    rows(*day), role, named_access, pk, organisation_id=organisation, group_id=group
                ).filter(pk=pk),
                arguments=3 + dated,
            )
        found = _LOCKED_READS.setdefault(key, found)
    return found


def guard_reads(model, transition) -> tuple:
    """What the guards of `transition` on `model` read, when the model can read it with the locked row
    (`guard_annotations`): asked in that read. (name, None) for a read on today (workflows.guards.reads), (name,
    field) for one on the date the inputs give in `field` (workflows.guards.reads_on_input)."""
    machine = getattr(model, "MACHINE", None)
    if transition is None or machine is None or not hasattr(model, "guard_annotations"):
        return ()
    spec = MACHINES[machine].get(transition)
    if spec is None:
        return ()
    named = {(getattr(guard, "reads", None), None) for guard in spec.guards}
    named |= {guard.reads_on_input for guard in spec.guards if hasattr(guard, "reads_on_input")}
    known = (read for read in named if read[0] in model.GUARD_ANNOTATED)
    return tuple(sorted(known, key=lambda read: (read[0], read[1] or "")))


def guard_reads_beside(model, transition) -> tuple:
    """What the guards of `transition` read in other tables that the model reads in the round trip of the row's lock
    (`Model.GUARD_READ_BESIDE`, `Model.guard_read_beside`): their names."""
    machine, beside = getattr(model, "MACHINE", None), getattr(model, "GUARD_READ_BESIDE", frozenset())
    if transition is None or machine is None or not beside:
        return ()
    spec = MACHINES[machine].get(transition)
    if spec is None:
        return ()
    return tuple(sorted({getattr(guard, "reads", None) for guard in spec.guards} & beside))


def _guard_day(reads, inputs):
    """The guard reads of a locked read and the day they are asked on: one day per read (a compiled read takes one
    date). Today for those on today; the input's date for those on an input, when it is a date (a guard given none
    reads nothing, and the service refuses the input). Reads on another day than the first are left to their guards,
    each in a statement of its own."""
    asked, day = [], None
    for name, field in reads:
        on = timezone.localdate() if field is None else (inputs or {}).get(field)
        if not isinstance(on, datetime.date) or isinstance(on, datetime.datetime):
            continue
        if day is None or on == day:
            asked.append(name)
            day = on
    return tuple(asked), ((day,) if asked else ())


def lock_consequence(model, pk, *, leads=(), reads=(), also=()):
    """`lock` for the transitions the services draw from one already checked (a hire places the pathway, a
    placement's end moves it on): the same row wait and compiled read (what its transitions read, its chain's last
    link), without an actor's scope check. `leads`: writes not sent yet (the transition's, `roles.rows.unsent`) to
    send in front of it, in its round trip; `reads`, `also`: as `lock`'s."""
    return lock(model, pk, actor=Actor.system(), leads=leads, reads=reads, also=also)


def read_row(model, obj_or_pk, *, actor, related=(), action=None):
    """Read a row the service uses but does not change (the offer a referral is made to), with `related`, and check
    the actor may see it (`action`: its model's view action by default); outside the actor's scope: 'not found'. One
    statement: the row, with whether the actor reaches it through each scope of its role (as `lock` reads them)."""
    pk = row_pk(model, obj_or_pk)
    if actor is None or actor.is_system or actor.organisation is None:
        found = _read_locked(model, tuple(related), None, False, locked=False)(pk)
    else:
        organisation = actor.organisation
        read = _read_locked(model, tuple(related), actor.role, bool(actor.named_access), locked=False)
        found = read(pk, organisation.pk, organisation.group_id)
    if not found:
        raise not_found(model)
    obj = policy.remember_scopes(found[0], actor)
    if not actor.is_system and not policy.allows(actor, action or VIEW_ACTIONS[model._meta.model_name], obj):
        raise not_found(model)
    return obj


def row_pk(model, obj_or_pk) -> int:
    """The id of `obj_or_pk` (a row or an id), or 'not found' for a value that names no row."""
    pk = getattr(obj_or_pk, "pk", obj_or_pk)
    try:
        pk = model._meta.pk.to_python(pk)
    except (ValidationError, TypeError, OverflowError):
        raise not_found(model) from None
    if not isinstance(pk, int) or not 0 < pk < 2**63:  # no such row (and no statement for an id out of range)
        raise not_found(model)
    return pk


def lock(model, obj_or_pk, *, actor, transition=None, inputs=None, reads=(), also=(), leads=()):
    """Lock the row and check the actor may see it; objects outside the actor's scope are 'not found'.

    Two statements (one round trip on PostgreSQL): the row lock, then the row, what its transitions read
    (`transition`'s own set, if it has one: LOCK_RELATED_OF), what the guards of `transition` read (on today, or on
    a date of its `inputs`; those of other tables, `guard_reads_beside`, as statements of the same round trip), and
    whether the actor reaches it through each scope of its role — so that the policy decides the following checks on
    this row without asking again (roles.policy.with_scopes). `reads`: what a service's own rules ask of the row
    besides its transition's guards (names of `Model.GUARD_ANNOTATED`, on today), read with it. `also`: other
    statements sent between the row's wait and its read, in that round trip (`roles.statements.Compiled`: ((sql,
    params, argument positions), list for its rows) pairs)."""
    pk = row_pk(model, obj_or_pk)
    # Wait for the row first: the read then takes its scopes (grants) and its chain's last link in a snapshot taken
    # after the concurrent writer committed. Read in the same statement as the wait, a grant revoked by that writer
    # would still count (PostgreSQL re-reads the locked row, not the subqueries). Two statements, sent in one round
    # trip where the driver can (roles.statements.Compiled).
    wait = _row_lock(model).statement(pk) if connection.features.has_select_for_update else None
    related = lock_related(model, transition)
    wanted = guard_reads(model, transition) + tuple((name, None) for name in reads)
    asked, day = _guard_day(tuple(dict.fromkeys(wanted)), inputs)
    beside = []  # (keep, its rows) of each guard read of another table, sent in this round trip
    for name in guard_reads_beside(model, transition):
        statement, keep = model.guard_read_beside(name, pk)
        beside.append((keep, []))
        also = (*also, (statement, beside[-1][1]))
    if actor is None or actor.is_system or actor.organisation is None:
        found = _read_locked(model, related, None, False, asked)(pk, *day, after=wait, also=also, leads=leads)
    else:
        organisation = actor.organisation
        read = _read_locked(model, related, actor.role, bool(actor.named_access), asked)
        found = read(pk, organisation.pk, organisation.group_id, *day, after=wait, also=also, leads=leads)
    if not found:
        raise not_found(model)
    obj = found[0]
    for name in asked:
        obj.remember_guard_read(name, *day)
    for keep, rows in beside:
        keep(obj, rows)
    policy.remember_scopes(obj, actor)
    if not actor.is_system and not policy.allows(actor, VIEW_ACTIONS[model._meta.model_name], obj):
        raise not_found(model)
    return obj


def require(actor, action, obj=None, message=None):
    if not policy.allows(actor, action, obj):
        raise DomainError("forbidden", message or _("Vous n'avez pas le droit de faire cette action."))


def refuse_closed_file(participant):
    """An anonymised file takes no more writes (workflows.guards.file_closed, also asked by the pages)."""
    refusal = guards.file_closed(participant)
    if refusal is not None:
        raise refusal


def require_date(value, field, label):
    if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
        raise DomainError("invalid_input", _("%(label)s : date invalide.") % {"label": label}, field=field)
    return value


def require_number(value, field, label, *, minimum=None, maximum=None):
    try:
        if isinstance(value, str) and (not value.isascii() or "_" in value):
            raise ValueError(value)  # "٣", "１" or "1_0": `Decimal` reads them (as 3, 1, 10), never typed on purpose
        number = decimal.Decimal(str(value))
    except (decimal.InvalidOperation, ValueError, TypeError):
        raise DomainError("invalid_input", _("%(label)s : nombre invalide.") % {"label": label}, field=field) from None
    if not number.is_finite():
        raise DomainError("invalid_input", _("%(label)s : nombre invalide.") % {"label": label}, field=field)
    if minimum is None and maximum is not None and number > maximum:
        raise DomainError(
            "invalid_input", _("%(label)s : %(maximum)s au plus.") % {"label": label, "maximum": maximum}, field=field
        )
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise DomainError(
            "invalid_input",
            _("%(label)s : doit être entre %(minimum)s et %(maximum)s.")
            % {"label": label, "minimum": minimum, "maximum": maximum},
            field=field,
        )
    return number


def require_choice(value, choices, field, label):
    if value not in choices.values:
        raise DomainError(
            "invalid_input",
            _("%(label)s : valeur inconnue « %(value)s ».") % {"label": label, "value": value},
            field=field,
        )
    return value

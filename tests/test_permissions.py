"""The permission matrix, driven by roles.policy.POLICY.

Every role × every declared transition (and every other write action of the policy) × the actor's
organisation being the one the object belongs to ("a") or another territory's ("b"): allowed exactly
when the policy row has the role and the object is in scope; otherwise the engine says "forbidden" and
the services say "forbidden", or "not_found" when the object is outside what the actor may even see.
Refusals change nothing.
"""

import datetime
from types import SimpleNamespace

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth.models import Permission
from django.utils import timezone

from parcours.dates import add_months
from parcours.models import (
    Exit,
    FollowUp,
    HoursLine,
    HoursStatement,
    JobOffer,
    Operation,
    Participant,
    ParticipantGroupObjectPermission,
    Referral,
)
from parcours.services import (
    data_protection,
    followups,
    participants,
    pathways,
    placements,
    referrals,
    register,
    statements,
)
from parcours.services.common import VIEW_ACTIONS
from parcours.services.statements import StatementRow
from roles import policy
from roles.actor import Actor
from roles.enums import Role
from tests.factories import (
    backdate_placement,
    call_service,
    db_counts,
    last_month,
    make,
    make_offer,
    make_pathway,
    make_placement,
    make_referral,
    member,
    reload,
    today,
    years_ago,
)
from workflows import engine
from workflows.errors import DomainError
from workflows.models import JournalEvent
from workflows.transitions import all_specs
from workflows.vocabulary import ContractType, FollowUpKind

pytestmark = pytest.mark.django_db

SIDES = ("a", "b")  # the object always belongs to territory "a"

TRANSITION_CASES = [
    pytest.param(spec, role, side, id=f"{spec.action}-{role}-{'own' if side == 'a' else 'other'}")
    for spec in all_specs()
    if not spec.internal
    for role in Role.values
    for side in SIDES
] + [pytest.param(spec, "system", "-", id=f"{spec.action}-system") for spec in all_specs() if not spec.internal]


def _expected_refusal(actor, view_action, obj):
    if obj is None or actor.is_system:
        return "forbidden"
    return "forbidden" if policy.allows(actor, view_action, obj) else "not_found"


@pytest.mark.parametrize(("spec", "role", "side"), TRANSITION_CASES)
def test_transition_matrix(world, made, spec, role, side):
    source = spec.sources[0]
    obj = made(spec.machine, source)
    if role == "system":
        actor, allowed = Actor.system(), spec.system
    else:
        actor = world.actor(role, side)
        allowed = Role(role) in spec.roles and side == "a"

    # The engine's check and the buttons agree with the policy table.
    if allowed:
        engine.ensure_can_fire(obj, spec.name, actor=actor)
    else:
        with pytest.raises(DomainError) as refused:
            engine.ensure_can_fire(obj, spec.name, actor=actor)
        assert refused.value.code == "forbidden" and refused.value.status == 403
    if not actor.is_system:
        assert (spec in engine.available_transitions(obj, actor)) == allowed

    # The service does the transition, or refuses and writes nothing.
    counts = db_counts()
    if allowed:
        call_service(spec.action, actor, obj)
        obj = reload(obj)
        assert obj.state in spec.targets
        event = JournalEvent.objects.filter(object_type=spec.machine, object_id=obj.pk).latest("sequence")
        assert event.action in (spec.name, "create", "return_to_eligible")  # hire creates the placement
        fired = JournalEvent.objects.get(object_type=spec.machine, object_id=obj.pk, action=spec.name)
        assert fired.actor_user_id == (actor.user.pk if actor.user else None)
        assert fired.actor_organisation_id == actor.organisation_id
    else:
        expected = _expected_refusal(actor, VIEW_ACTIONS[spec.machine], obj)
        with pytest.raises(DomainError) as refused:
            call_service(spec.action, actor, obj)
        assert refused.value.code == expected
        assert reload(obj).state == source
        assert db_counts() == counts


# --- The other write actions of the policy (not transitions) ------------------------------------------------
def _participant_data():
    return {
        "first_name": "Nour",
        "last_name": "Haddad",
        "birth_date": years_ago(19),
        "postcode": "93200",
        "commune": "Saint-Denis",
        "qualification_level": "infra_3",
    }


def _participant_create(world, actor):
    def run():
        participants.participant_create(actor=actor, data=_participant_data())
        return Participant.objects.filter(last_name="Haddad").exists()

    return None, "participant.view", run


def _participant_update(world, actor):
    participant = make_pathway(world, "eligible").participant

    def run():
        participants.participant_update(actor=actor, participant=participant, changes={"commune": "Aubervilliers"})
        return reload(participant).commune == "Aubervilliers"

    return participant, "participant.view", run


def _record_notice(world, actor):
    participant = make_pathway(world, "eligible").participant

    def run():
        data_protection.participant_record_notice(actor=actor, participant=participant, given_on=today())
        return reload(participant).notice_given_on == today()

    return participant, "participant.view", run


def _change_referent(world, actor):
    participant = make_pathway(world, "eligible").participant
    heir = member(world.a.youth_agency, Role.ADVISER).user  # another adviser of the file's Mission Locale

    def run():
        participants.participant_change_referent(actor=actor, participant=participant, adviser=heir)
        return reload(participant).referent_adviser_id == heir.pk

    return participant, "participant.view", run


def _referral_create(world, actor):
    pathway = make_pathway(world, "eligible")

    def run():
        referrals.referral_create(actor=actor, pathway=pathway, offer=world.a.offer)
        return Referral.objects.filter(pathway=pathway).exists()

    return pathway, "participant.view", run


def _followup_record(world, actor):
    pathway = make_pathway(world, "in_follow_up")

    def run():
        followups.followup_record(actor=actor, pathway=pathway, kind=FollowUpKind.INTERVIEW, done_on=today())
        return FollowUp.objects.filter(pathway=pathway, kind=FollowUpKind.INTERVIEW).exists()

    return pathway, "participant.view", run


def _declare_hours(world, actor):
    placement = backdate_placement(make_placement(world, "active"))

    def run():
        placements.hours_declare(actor=actor, placement=placement, month=last_month(), hours=35)
        return HoursLine.objects.filter(placement=placement).exists()

    return placement, "placement.view", run


def _offer_create(world, actor):
    lot = world.a.lot

    def run():
        register.offer_create(
            actor=actor,
            lot=lot,
            title="Électricien·ne",
            trade="Électricité",
            contract_type=ContractType.CDD,
            weekly_hours=35,
            location="Saint-Denis",
        )
        return JobOffer.objects.filter(title="Électricien·ne").exists()

    return lot, "lot.view", run


def _offer_close(world, actor):
    offer = make_offer(world.a)

    def run():
        register.offer_close(actor=actor, offer=offer)
        return not reload(offer).is_open

    return offer, "offer.view", run


def _register_create(world, actor):
    def run():
        register.operation_create(
            actor=actor,
            name="ZAC des Docks",
            commune="Saint-Ouen",
            starts_on=today(),
            ends_on=today() + datetime.timedelta(days=400),
        )
        return Operation.objects.filter(name="ZAC des Docks").exists()

    return None, None, run


def _statement_submit(world, actor):
    placement = backdate_placement(make_placement(world, "active"))
    lot = placement.lot

    def run():
        rows = [StatementRow(placement=placement.pk, hours=35)]
        statements.statement_submit(actor=actor, lot=lot, month=last_month(), rows=rows)
        return HoursStatement.objects.filter(lot=lot, submitted_at__isnull=False).exists()

    return lot, "lot.view", run


def _statement_close(world, actor):
    line = make(world, "hoursline", "validated")
    lot = line.placement.lot
    # Lines of other tests' objects waiting for a decision this month: decided first, so the close may happen.
    waiting = HoursLine.objects.filter(placement__lot=lot, month=last_month(), state="declared")
    if waiting.exists():
        statements.hours_lines_decide(
            actor=world.a.facilitator, lot=lot, month=last_month(), lines=list(waiting), decision="validate"
        )

    def run():
        statements.statement_close_month(actor=actor, lot=lot, month=last_month())
        return HoursStatement.objects.filter(lot=lot, closed_at__isnull=False).exists()

    return lot, "lot.view", run


def _statement_remind(world, actor):
    lot = world.a.lot

    def run():
        statements.statement_remind(actor=actor, lot=lot, month=last_month())
        return HoursStatement.objects.filter(lot=lot, reminders=1).exists()

    return lot, "lot.view", run


def _exit_outcome(world, actor):
    pathway = make(world, "pathway", "exited")
    row = pathway.exits.get()
    due = add_months(row.exited_on, 6)

    def run():
        with time_machine.travel(timezone.make_aware(datetime.datetime.combine(due, datetime.time(10))), tick=False):
            pathways.exit_record_outcome(actor=actor, exit=row, observed_on=due, situation="cdi")
        return Exit.objects.filter(pk=row.pk, outcome_observed_on=due).exists()

    return row, "participant.view", run


ACTIONS = {
    "exit.record_outcome": _exit_outcome,
    "statement.submit": _statement_submit,
    "statement.close": _statement_close,
    "statement.remind": _statement_remind,
    "participant.create": _participant_create,
    "participant.update": _participant_update,
    "participant.record_notice": _record_notice,
    "participant.change_referent": _change_referent,
    "referral.create": _referral_create,
    "followup.record": _followup_record,
    "placement.declare_hours": _declare_hours,
    "offer.create": _offer_create,
    "offer.close": _offer_close,
    "register.create": _register_create,
}


@pytest.mark.parametrize(
    ("action", "role", "side"),
    [
        pytest.param(action, role, side, id=f"{action}-{role}-{'own' if side == 'a' else 'other'}")
        for action in ACTIONS
        for role in Role.values
        for side in SIDES
    ],
)
def test_write_action_matrix(world, action, role, side):
    actor = world.actor(role, side)
    obj, view_action, run = ACTIONS[action](world, actor)
    scope = policy.roles_for(action).get(Role(role))
    # Creating in one's own organisation is allowed on either territory; otherwise only on the object's.
    allowed = scope is not None and (side == "a" or scope is policy.Scope.OWN_ORGANISATION)
    counts = db_counts()
    if allowed:
        assert run() is True
    else:
        with pytest.raises(DomainError) as refused:
            run()
        assert refused.value.code == _expected_refusal(actor, view_action, obj)
        assert db_counts() == counts


def test_every_policy_action_is_covered():
    transitions = {spec.action for spec in all_specs()}
    reads = {action for action in policy.POLICY if action.split(".")[1].startswith("view") or action.endswith("_data")}
    assert set(policy.POLICY) - transitions - reads == set(ACTIONS)


def test_every_granted_object_is_reached_through_foreign_keys_only():
    """A grant audience reads a row's granted object as a scalar subquery (policy._scope_organisations): one granted
    object per row, which a to-many hop would break (more than one row returned by a subquery)."""
    granted = [
        (model, kind, paths[1])
        for model in apps.get_models()
        if hasattr(model, "SCOPE_PATHS")
        for kind in ("participant", "forwarded", "audited")
        if (paths := getattr(model.SCOPE_PATHS, kind))
    ]
    assert len(granted) > 10
    assert [(m.__name__, k, p) for m, k, p in granted if p and policy._crosses_many(m, p)] == []


def test_employer_sees_a_referral_only_once_forwarded_and_not_after_refusing(world):
    employer = world.a.employer_actor
    visible = Referral.objects.all()
    for state, sees in [
        ("sent", False),
        ("under_review", False),
        ("approved", False),
        ("forwarded", True),
        ("accepted", True),
        ("hired", True),
        ("refused", False),
        ("declined", False),
    ]:
        referral = make(world, "referral", state)
        assert policy.allows(employer, "referral.view", referral) is sees, state
        assert policy.scope_queryset(employer, "referral.view", visible).filter(pk=referral.pk).exists() is sees
        assert not policy.allows(world.b.employer_actor, "referral.view", referral)


def test_facilitation_organisation_sees_a_participant_only_once_the_file_is_shared(world):
    intake = make_pathway(world, "intake").participant
    submitted = make_pathway(world, "eligibility_pending").participant
    facilitator = world.a.facilitator
    assert not policy.allows(facilitator, "participant.view", intake)
    assert policy.allows(facilitator, "participant.view", submitted)
    assert not policy.allows(world.b.facilitator, "participant.view", submitted)
    # Health data: the facilitator the file is shared with, never the adviser.
    assert policy.allows(facilitator, "participant.view_health_data", submitted)
    assert not policy.allows(world.a.adviser, "participant.view_health_data", submitted)


def test_a_files_compiled_lists_keep_the_querysets_rows_for_every_viewer(world):
    """The participant file's referrals and placements (`policy.member_rows`: compiled once per role, the viewer's
    organisation and group its arguments) are the scoped querysets' rows, in their order, for every viewer."""
    from parcours import selectors

    pathway = make_pathway(world, "eligible")
    # A referral still with the facilitator (not shown to the employer) beside a hire on the side's offer.
    other = make_referral(world, "sent", pathway=pathway, offer=make_offer(world.a))
    placement = make_placement(world, "active", pathway=pathway)
    viewers = [
        world.side(side).__getattribute__(role)
        for side in SIDES
        for role in ("adviser", "facilitator", "employer_actor", "auditor")
    ]
    viewers.append(Actor(world.a.auditor.user, world.a.auditor.organisation, Role.AUDITOR, named_access=True))
    participant_id = pathway.participant_id
    seen = []
    for viewer in viewers:
        referrals = selectors.referrals_for(viewer).filter(pathway__participant_id=participant_id)
        placements = selectors.placements_for(viewer).filter(pathway__participant_id=participant_id)
        found = selectors.participant_referrals(viewer, participant_id)
        assert [(r.pk, r.state, r.offer.lot.pk) for r in found] == [(r.pk, r.state, r.offer.lot.pk) for r in referrals]
        assert [p.pk for p in selectors.participant_placements(viewer, participant_id)] == [p.pk for p in placements]
        seen.append({r.pk for r in found})
    assert seen[0] == {placement.referral_id, other.pk}  # the adviser: both
    assert seen[2] == {placement.referral_id}  # the employer: its hire only
    assert seen[4] == set()  # the other territory's adviser: none
    assert selectors.participant_referrals(Actor.system(), participant_id) == []


def test_a_role_that_reaches_no_row_gets_none_from_a_compiled_read(world):
    """A data-protection officer or an administrator sees no journal, referral or placement of a file: the compiled
    reads answer none, as the querysets do (compiling a filter that keeps nothing raises in Django)."""
    from parcours import selectors
    from parcours.selectors.journal import participant_timeline_events

    placement = make_placement(world, "active")
    participant_id = placement.pathway.participant_id
    admin = world.a.admin
    for viewer in (world.a.dpo, admin, Actor(admin.user, admin.organisation, Role.ADMIN, named_access=True)):
        assert not selectors.participant_events(viewer, participant_id).exists()
        for _ in range(2):  # compiled, then known to read nothing
            assert participant_timeline_events(viewer, participant_id) == []
            assert selectors.participant_referrals(viewer, participant_id) == []
            assert selectors.participant_placements(viewer, participant_id) == []
    assert selectors.participant_placements(world.a.adviser, participant_id) != []


def test_a_compiled_read_is_built_by_a_module_level_function(world):
    with pytest.raises(TypeError, match="module-level function"):
        policy.member_rows(lambda actor, pk: Participant.objects.filter(pk=pk), world.a.adviser, 1)


PARTICIPANT_ACTIONS = [action for action in policy.POLICY if action.startswith("participant.")]


def test_the_file_read_binds_the_organisation_and_its_group_apart(world):
    """A Mission Locale whose group's id is not its own id: its adviser opens the file it follows (the grant is the
    group's, the agency the organisation's), and the scopes kept on the row answer as fresh checks do."""
    from django.contrib.auth.models import Group

    from parcours import selectors
    from parcours.services import participants
    from tests.factories import OrganisationFactory, member

    Group.objects.create(name="another group")
    agency = OrganisationFactory(mission_locale=True)
    assert agency.group_id != agency.pk
    adviser = member(agency, Role.ADVISER)
    created = participants.participant_create(
        actor=adviser,
        data={
            "first_name": "Lou",
            "last_name": "Apart",
            "birth_date": years_ago(19),
            "postcode": "59000",
            "commune": "Lille",
            "qualification_level": "level_3",
        },
    )
    read = selectors.participant_file(actor=adviser, participant_id=created.pk, log=False)
    fresh = Participant.objects.get(pk=created.pk)
    for action in PARTICIPANT_ACTIONS:
        assert policy.allows(adviser, action, read) == policy.allows(adviser, action, fresh), action
    assert policy.allows(adviser, "participant.update", read)
    with pytest.raises(DomainError):
        selectors.participant_file(actor=world.a.adviser, participant_id=created.pk, log=False)


def test_the_file_read_keeps_the_scopes_of_its_viewers_named_access(world):
    """An auditor reads a referred file without the identity, the same auditor with named access with it: the read
    compiled for each keeps its own answer (`participant.view_identity`)."""
    from parcours import selectors

    participant_id = make_pathway(world, "referred").participant_id
    plain = world.a.auditor
    named_auditor = Actor(plain.user, plain.organisation, Role.AUDITOR, named_access=True)
    for viewer, identity in ((plain, False), (named_auditor, True), (plain, False)):
        read = selectors.participant_file(actor=viewer, participant_id=participant_id, log=False)
        assert policy.allows(viewer, "participant.view_identity", read) is identity
        fresh = Participant.objects.get(pk=participant_id)
        for action in PARTICIPANT_ACTIONS:
            assert policy.allows(viewer, action, read) == policy.allows(viewer, action, fresh), action


def test_auditor_reads_participants_of_its_contracts_only(world):
    referred = make_pathway(world, "referred").participant
    not_referred = make_pathway(world, "eligible").participant
    auditor = world.a.auditor
    assert policy.allows(auditor, "participant.view", referred)
    assert not policy.allows(auditor, "participant.view", not_referred)
    assert not policy.allows(world.b.auditor, "participant.view", referred)
    queryset = policy.scope_queryset(auditor, "participant.view", Participant.objects.all())
    assert set(queryset.filter(pk__in=[referred.pk, not_referred.pk])) == {referred}


def test_a_buyers_pathways_are_those_its_audit_grants_reach(world):
    """A buyer's pathways: one EXISTS on the participant's "audit" grant (given by referral_create), not a walk through
    every referral; the same rows as the definition through the referrals (a sibling pathway's referral counts: the
    participant is the buyer's)."""
    from parcours.models import Pathway

    referred = make_pathway(world, "exited")  # referred and hired on the buyer's contract, then exited
    sibling = Pathway.objects.create(  # a later pathway of the same participant, never referred
        participant=referred.participant,
        referent_adviser=referred.referent_adviser,
        facilitation_organisation=referred.facilitation_organisation,
        started_on=referred.started_on,
    )
    make_pathway(world, "eligible")
    auditor = world.a.auditor
    scoped = policy.scope_queryset(auditor, "participant.view", Pathway.objects.all())
    sql = str(scoped.query)
    assert "parcours_participantgroupobjectpermission" in sql and "parcours_referral" not in sql
    generic = Pathway.objects.filter(
        policy.Exists(
            Pathway.objects.filter(
                pk=policy.OuterRef("pk"),
                participant__pathways__referrals__offer__lot__contract__buyer=auditor.organisation,
            )
        )
    )
    assert set(scoped) == set(generic) and {referred, sibling} <= set(scoped)
    assert not set(policy.scope_queryset(world.b.auditor, "participant.view", Pathway.objects.all())) & {referred}


def test_the_audit_grants_of_referrals_made_before_them_are_given_by_the_migration(world):
    """Migration 0018 grants every buyer its reach from the referrals already made, once (it may run again)."""
    import importlib

    from django.apps import apps
    from django.db import connection

    from parcours.models import Pathway

    referred = make_pathway(world, "referred")
    other = make_pathway(world, "eligible")
    mine = {referred.participant_id, other.participant_id}
    auditor = world.a.auditor
    audit = Permission.objects.get(codename="audit_participant")
    grants = ParticipantGroupObjectPermission.objects.filter(permission=audit)
    expected = [(auditor.organisation.group_id, referred.participant_id)]
    assert list(grants.filter(content_object_id__in=mine).values_list("group_id", "content_object_id")) == expected
    grants.delete()  # as before the migration
    seen = policy.scope_queryset(auditor, "participant.view", Pathway.objects.filter(participant_id__in=mine))
    assert not seen.exists()
    migration = importlib.import_module("parcours.migrations.0018_participant_audit_grant")
    editor = SimpleNamespace(connection=connection)  # all the migration reads of its schema editor
    migration.grant_buyers_their_reach(apps, editor)
    migration.grant_buyers_their_reach(apps, editor)
    assert list(grants.filter(content_object_id__in=mine).values_list("group_id", "content_object_id")) == expected
    assert list(seen) == [referred]


def test_a_scope_through_a_to_many_relation_starts_its_exists_at_that_relation(world):
    """A lot's operations reached from a buyer: EXISTS over the contracts correlated on `operation_id`, without
    joining the operation table again inside it; the same rows as the generic EXISTS."""
    auditor = world.a.auditor
    scoped = policy.scope_queryset(auditor, "operation.view", Operation.objects.all())
    sql = str(scoped.query)
    assert '"operation_id" = ("parcours_operation"."id")' in sql
    generic = Operation.objects.filter(
        policy.Exists(Operation.objects.filter(pk=policy.OuterRef("pk"), contracts__buyer=auditor.organisation))
    )
    assert set(scoped) == set(generic) and set(scoped)
    assert not set(policy.scope_queryset(world.b.auditor, "operation.view", Operation.objects.all())) & set(scoped)
    # Many-to-many hops and hops behind two foreign keys keep the generic EXISTS.
    partners = "lot__contract__operation__facilitation_organisation__partners"
    assert policy._correlated_at_many(JobOffer, partners) is None
    through_two_keys = "pathway__participant__pathways__referrals__offer__lot__contract__buyer"
    assert policy._correlated_at_many(Exit, through_two_keys) is None
    assert policy._correlated_at_many(Participant, "pathways__referrals__offer__lot__contract__buyer")[1:3] == (
        "participant",
        "pk",
    )


@pytest.mark.postgres
def test_an_employers_lists_read_its_grants_first_and_keep_the_same_rows(world):
    """An employer's candidates, placements and hours lines (the selectors' `grants_first`): on PostgreSQL the grants
    are read once into an array before the rows (`= ANY(ARRAY(…))`, which the planner cannot turn into a walk of the
    whole table in the list's order); the same rows, in the same order, as the EXISTS on each row's grant."""
    from parcours import selectors

    for state in ("forwarded", "accepted", "hired", "refused", "sent"):
        make(world, "referral", state)
        make(world, "referral", state, side="b")
    for state in ("planned", "active", "ended"):
        make(world, "placement", state)
        make(world, "placement", state, side="b")
    for state in ("declared", "validated"):
        make(world, "hoursline", state)
        make(world, "hoursline", state, side="b")
    for side in ("a", "b"):
        employer = world.side(side).employer_actor
        for listed, action in (
            (selectors.referrals_for(employer), "referral.view"),
            (selectors.placements_for(employer), "placement.view"),
            (selectors.hours_lines_for(employer), "hoursline.view"),
        ):
            assert "= ANY(ARRAY(SELECT" in str(listed.query), action
            model = listed.model
            each_row = policy.scope_queryset(employer, action, model.objects.all()).order_by(*listed.query.order_by)
            assert "= ANY(" not in str(each_row.query) and "EXISTS" in str(each_row.query)
            assert [row.pk for row in listed] == list(each_row.values_list("pk", flat=True)), action
            assert listed.exists(), action
        other = world.side("b" if side == "a" else "a").employer_actor
        assert not set(selectors.referrals_for(employer)) & set(selectors.referrals_for(other))
    # Who else lists referrals keeps the EXISTS: a facilitator's scope is its organisation, not grants.
    assert "= ANY(" not in str(selectors.referrals_for(world.a.facilitator).query)


def test_out_of_scope_objects_are_not_found_even_when_the_id_exists(world):
    referral = make(world, "referral", "under_review")
    with pytest.raises(DomainError) as refused:
        call_service("referral.approve", world.b.facilitator, referral)
    assert refused.value.code == "not_found" and refused.value.status == 404
    with pytest.raises(DomainError) as refused:
        call_service("referral.approve", world.a.facilitator, referral.pk + 10_000)
    assert refused.value.code == "not_found"


def test_a_referral_gives_its_two_participant_grants_in_one_statement(world, settings):
    """The lot's facilitators may read the file, the buyer's auditors follow it: one INSERT for both rows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    pathway = make_pathway(world, "eligible")
    table = ParticipantGroupObjectPermission._meta.db_table
    with CaptureQueriesContext(connection) as captured:
        referrals.referral_create(actor=world.a.adviser, pathway=pathway, offer=world.a.offer)
    # (INSERT … ON CONFLICT DO NOTHING on PostgreSQL, carried by the referral's first event; INSERT OR IGNORE on
    # SQLite, on its own)
    inserts = [q["sql"] for q in captured if f'INTO "{table}"' in q["sql"]]
    assert len(inserts) == 1
    if connection.vendor == "postgresql":
        assert (
            inserts[0].startswith(f'WITH "along_0" AS (INSERT INTO "{table}"')
            and "workflows_journalevent" in inserts[0]
        )
    given = set(
        ParticipantGroupObjectPermission.objects.filter(content_object_id=pathway.participant_id).values_list(
            "group_id", "permission__codename"
        )
    )
    assert {
        (world.a.facilitator.organisation.group_id, "view_participant"),
        (world.a.auditor.organisation.group_id, "audit_participant"),
    } <= given
    assert policy.allows(world.a.auditor, "participant.view", pathway.participant)

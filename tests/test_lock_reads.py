"""The related rows a transition's locked read builds (parcours.services.common.LOCK_RELATED_OF): each transition with
its own, smaller set reads nothing later that its model's default set would have brought (no statement more), and
the locked read really is the smaller one."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from parcours.services import common, pathways
from roles.enums import Role
from tests.factories import MODELS, call_service, make, make_referral, reload
from workflows.transitions import MACHINES

pytestmark = pytest.mark.django_db

USER_ROLES = (Role.FACILITATOR, Role.EMPLOYER, Role.ADVISER)


def _spec(action):
    machine, name = action.split(".")
    return MACHINES[machine][name]


# Each transition with its own set, from each of its source states and by each role that may fire it (what it reads
# may depend on the state left or on who acts: a cancellation tells the employer only once the candidate was
# forwarded).
CASES = [
    (action, source, role)
    for action in sorted(common.LOCK_RELATED_OF)
    for source in _spec(action).sources
    for role in USER_ROLES
    if role in _spec(action).roles
]


def _actor(world, spec):
    for role in USER_ROLES:
        if role in spec.roles:
            return world.actor(role, "a")
    raise AssertionError(f"no user role fires {spec.action}")


def _fire(world, spec, actor, source):
    """Fire `spec` on a fresh object in state `source` (a warm call first: caches and compiled reads); the
    statements of the second call, and that object after it."""
    machine = spec.machine
    call_service(spec.action, actor, make(world, machine, source))
    obj = make(world, machine, source)
    with CaptureQueriesContext(connection) as captured:
        call_service(spec.action, actor, obj)
    return [q["sql"] for q in captured], reload(obj)


def _rows(paths):
    """The related rows `select_related(*paths)` brings: each path and the paths it goes through."""
    return {"__".join(hops[:n]) for hops in (path.split("__") for path in paths) for n in range(1, len(hops) + 1)}


def _locked_read(statements, model):
    table = model._meta.db_table
    sent = [sql for text in statements for sql in text.split("; ")]  # the row lock and the read: one round trip on PG
    return next(sql for sql in sent if sql.startswith(f'SELECT "{table}"."id", "{table}".'))


@pytest.mark.parametrize(("action", "source", "role"), CASES)
def test_a_transition_with_its_own_set_costs_no_statement_more(action, source, role, world, settings, monkeypatch):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    spec = _spec(action)
    machine = spec.machine
    actor = world.actor(role, "a")
    model = MODELS[machine]
    assert _rows(common.LOCK_RELATED_OF[action]) < _rows(common.LOCK_RELATED[machine]), "smaller than the default"

    own, obj = _fire(world, spec, actor, source)
    with monkeypatch.context() as patch:
        patch.setattr(common, "LOCK_RELATED_OF", {})
        default, default_obj = _fire(world, spec, actor, source)

    assert obj.state == default_obj.state == spec.target
    # A related row the transition reads and its own set lacks would be fetched on its own: one statement more.
    assert len(own) == len(default), "\n".join(own)
    # The smaller read is the one that ran (fewer joined tables).
    assert _locked_read(own, model).count(" JOIN ") < _locked_read(default, model).count(" JOIN ")


def test_an_own_set_too_small_costs_a_statement(world, settings, monkeypatch):
    """The check above can fail: approve's referral without its offer reads it on its own (the offer must be open)."""
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}
    spec = MACHINES["referral"]["approve"]
    actor = _actor(world, spec)
    default, _ = _fire(world, spec, actor, "under_review")
    monkeypatch.setitem(common.LOCK_RELATED_OF, "referral.approve", ())
    common._LOCKED_READS.clear()
    too_small, obj = _fire(world, spec, actor, "under_review")
    assert obj.state == spec.target
    assert len(too_small) == len(default) + 1


def test_lock_related_falls_back_to_the_model_default():
    from parcours.models import Pathway, Referral

    assert common.lock_related(Referral) == common.LOCK_RELATED["referral"]
    assert common.lock_related(Referral, "forward") == common.LOCK_RELATED["referral"]
    assert common.lock_related(Referral, "start_review") == common.LOCK_RELATED_OF["referral.start_review"]
    assert common.lock_related(Pathway, "start_review") == common.LOCK_RELATED["pathway"]


# --- A placement's end (or cancellation) moves its pathway on: the pathway's lock carries the placement's write ---
def _journal(obj):
    from workflows.models import JournalEvent

    return list(
        JournalEvent.objects.filter(participant_id=obj.pathway.participant_id)
        .order_by("id")
        .values_list("object_type", "action")
    )


@pytest.mark.postgres
def test_the_pathway_lock_carries_the_placement_s_end(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    spec = _spec("placement.end")
    statements, placement = _fire(world, spec, _actor(world, spec), "active")
    written = [i for i, sql in enumerate(statements) if 'UPDATE "parcours_placement" SET "state"' in sql]
    assert len(written) == 1, statements
    # the placement's update and event, then the pathway's lock and read: one text, one round trip
    carried = statements[written[0]].split("; ")
    assert len(carried) == 3 and 'FOR NO KEY UPDATE OF "parcours_pathway"' in carried[1], carried
    # its placements counted in the pathway's locked read, not in a statement of their own
    assert '"parcours_placement"' in carried[2] and "COUNT(" in carried[2], carried[2]
    assert not any(sql.startswith("SELECT COUNT(") for sql in statements), statements
    assert placement.state == "ended" and placement.pathway.state == "in_follow_up"
    assert _journal(placement)[-2:] == [("placement", "end"), ("pathway", "start_follow_up")]


@pytest.mark.postgres
def test_a_hire_s_offer_is_locked_and_counted_with_its_pathway_s_lock(world, settings):
    """One text: the pathway's wait, the offer's lock, the count of its filled positions, the pathway's read."""
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    spec = _spec("referral.hire")
    statements, referral = _fire(world, spec, _actor(world, spec), "accepted")
    offer_locks = [sql for sql in statements if 'FOR UPDATE OF "parcours_joboffer"' in sql]
    assert len(offer_locks) == 1, statements
    sent = offer_locks[0].split("; ")
    assert 'FOR NO KEY UPDATE OF "parcours_pathway"' in sent[0] and 'FROM "parcours_joboffer"' in sent[1], sent
    assert sent[2].startswith('SELECT COUNT("parcours_placement"."id")') and sent[3].startswith(
        'SELECT "parcours_pathway"."id", '
    ), sent
    assert referral.state == "hired" and referral.pathway.state == "placed"


@pytest.mark.parametrize("action", ["placement.end", "placement.cancel"])
def test_a_pathway_with_another_contract_open_stays_placed_until_it_ends(world, action):
    """The pathway's placements, counted with its lock once the closed one is written: another still open keeps it
    placed; when that one ends too, the pathway goes to follow-up (a contract ended)."""
    from tests.factories import make_offer, make_placement

    first = make_placement(world, "active" if action == "placement.end" else "planned")
    pathway = first.pathway
    second = make_placement(world, "active", pathway=pathway, offer=make_offer(world.a))
    assert reload(pathway).state == "placed"
    call_service(action, _actor(world, _spec(action)), first)
    assert reload(first).state == _spec(action).target and reload(pathway).state == "placed"
    call_service("placement.end", _actor(world, _spec("placement.end")), second)
    assert reload(pathway).state == "in_follow_up"
    assert _journal(second)[-1] == ("pathway", "start_follow_up")


@pytest.mark.parametrize("action", ["placement.end", "placement.cancel"])
def test_a_placement_closed_moves_its_pathway_in_order(world, action):
    """On both databases: the placement's event first, then its pathway's (its chain), every write sent."""
    source = "active" if action == "placement.end" else "planned"
    placement = make(world, "placement", source)
    call_service(action, _actor(world, _spec(action)), placement)
    placement = reload(placement)
    assert placement.state == _spec(action).target
    moved = "start_follow_up" if action == "placement.end" else "return_to_eligible"
    expected_pathway = "in_follow_up" if action == "placement.end" else "eligible"
    assert placement.pathway.state == expected_pathway
    assert _journal(placement)[-2:] == [("placement", action.split(".")[1]), ("pathway", moved)]
    if action == "placement.cancel":
        assert not placement.follow_ups.filter(done_on__isnull=True).exists()


# --- A referral's creation: its pathway's lock reads the eligibility, its offer is read with the actor's scopes ---
def _creation_statements(world, pathway, offer):
    from parcours.services import referrals

    with CaptureQueriesContext(connection) as captured:
        referral = referrals.referral_create(actor=world.a.adviser, pathway=pathway, offer=offer)
    return [sql for q in captured for sql in q["sql"].split("; ")], referral


def test_a_referral_s_creation_reads_eligibility_with_the_pathway_and_its_offer_in_one_statement(world, settings):
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    _creation_statements(world, make(world, "pathway", "eligible"), world.a.offer)  # warm: compiled reads
    pathway = make(world, "pathway", "eligible")
    sent, referral = _creation_statements(world, pathway, world.a.offer)
    assert reload(referral).state == "sent" and reload(pathway).state == "referred"
    assessed = [sql for sql in sent if '"parcours_eligibilityassessment"' in sql]
    assert len(assessed) == 1 and assessed[0].startswith('SELECT "parcours_pathway"."id", '), assessed
    offer_reads = ('SELECT "parcours_joboffer".', 'SELECT EXISTS (SELECT "parcours_joboffer".')  # the row, a check
    offers = [sql for sql in sent if sql.startswith(offer_reads)]
    assert len(offers) == 1 and '"parcours_contractlot"' in offers[0], offers  # with its lot, and its scopes


@pytest.mark.parametrize("offer", ["other side's", "absent", "not an id", -1, 2**70, None])
def test_a_referral_to_an_offer_the_adviser_cannot_see_is_refused_as_not_found(world, offer):
    from parcours.models import JobOffer
    from parcours.services import referrals
    from tests.factories import db_counts
    from workflows.errors import DomainError

    offer = {
        "other side's": world.b.offer.pk,  # another facilitation's lot: not a partner of the adviser's agency
        "absent": JobOffer.objects.order_by("-pk").values_list("pk", flat=True)[0] + 1000,
        "not an id": "abc",
    }.get(offer, offer)
    pathway = make(world, "pathway", "eligible")
    counts = db_counts()
    with pytest.raises(DomainError) as refused:
        referrals.referral_create(actor=world.a.adviser, pathway=pathway, offer=offer)
    assert (refused.value.code, refused.value.message) == ("not_found", "Offre introuvable.")
    assert db_counts() == counts and reload(pathway).state == "eligible"


# --- A submission reads the criteria it declares and its organisation in its pathway's lock's round trip ---------
@pytest.mark.postgres
def test_a_submission_reads_its_criteria_and_organisation_with_its_pathway_s_lock(world, settings):
    from parcours.models import AssessedCriterion

    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    criteria = ["QPV_RESIDENT", "DISABLED_WORKER"]
    call_service("pathway.submit_eligibility", world.a.adviser, make(world, "pathway", "intake"), criteria=criteria)
    pathway = make(world, "pathway", "intake")
    with CaptureQueriesContext(connection) as captured:
        call_service("pathway.submit_eligibility", world.a.adviser, pathway, criteria=criteria)
    statements = [q["sql"] for q in captured]
    read = [sql for sql in statements if 'FROM "parcours_eligibilitycriterion"' in sql]
    assert len(read) == 1, statements
    audiences = 'INSERT INTO "parcours_eventaudience"'  # the events' teams: organisations read too
    partner = [sql for sql in statements if 'SELECT "roles_organisation"."id"' in sql and audiences not in sql]
    assert partner == read, statements  # the facilitation organisation, in the same round trip
    sent = read[0].split("; ")  # the pathway's wait, the criteria, the organisation, the pathway's read
    assert 'FOR NO KEY UPDATE OF "parcours_pathway"' in sent[0] and "parcours_eligibilitycriterion" in sent[1], sent
    assert sent[2].startswith('SELECT "roles_organisation"."id", '), sent
    assert sent[3].startswith('SELECT "parcours_pathway"."id", '), sent
    declared = AssessedCriterion.objects.filter(assessment__pathway=pathway).values_list("criterion__code", flat=True)
    assert sorted(declared) == sorted(criteria) and reload(pathway).state == "eligibility_pending"


def test_a_criterion_no_longer_active_is_refused_as_unknown(world):
    from parcours.models import EligibilityCriterion
    from tests.factories import db_counts
    from workflows.errors import DomainError

    EligibilityCriterion.objects.filter(code="QPV_RESIDENT").update(is_active=False)
    pathway = make(world, "pathway", "intake")
    counts = db_counts()
    with pytest.raises(DomainError) as refused:
        call_service("pathway.submit_eligibility", world.a.adviser, pathway, criteria=["RSA", "QPV_RESIDENT"])
    assert (refused.value.code, refused.value.field) == ("invalid_input", "criteria")
    assert refused.value.message == "Critère inconnu : QPV_RESIDENT."
    assert db_counts() == counts and reload(pathway).state == "intake"


@pytest.mark.parametrize("criteria", [[1, 2], "RSA", {"RSA": True}, 7, [None], [["RSA"]]])
def test_criteria_that_are_not_a_list_of_codes_are_refused_before_anything(world, criteria):
    from tests.factories import db_counts
    from workflows.errors import DomainError

    pathway = make(world, "pathway", "intake")
    counts = db_counts()
    with pytest.raises(DomainError) as refused:
        call_service("pathway.submit_eligibility", world.a.adviser, pathway, criteria=criteria)
    assert (refused.value.code, refused.value.field) == ("invalid_input", "criteria")
    assert refused.value.message == "Critères : une liste de codes est attendue."
    assert db_counts() == counts and reload(pathway).state == "intake"


@pytest.mark.parametrize("count", [1, 2, 40, 60])
def test_the_criteria_read_is_compiled_once_per_number_of_codes(world, count):
    """Up to a bound: a list longer than any in use names unknown criteria, is read all the same, and leaves no
    compiled read behind."""
    from parcours.services import pathways
    from tests.factories import db_counts
    from workflows.errors import DomainError

    codes = ["RSA", "QPV_RESIDENT"][:count] if count <= 2 else ["RSA", *(f"NOPE_{n:02}" for n in range(count - 1))]
    pathways._ACTIVE_CRITERIA.pop(len(codes), None)
    for _ in range(2):
        pathway = make(world, "pathway", "intake")
        if count <= 2:
            call_service("pathway.submit_eligibility", world.a.adviser, pathway, criteria=codes)
            assert reload(pathway).state == "eligibility_pending"
            continue
        counts = db_counts()
        with pytest.raises(DomainError) as refused:
            call_service("pathway.submit_eligibility", world.a.adviser, pathway, criteria=codes)
        assert (refused.value.code, refused.value.field) == ("invalid_input", "criteria")
        assert refused.value.message.startswith("Critère inconnu : NOPE_00, NOPE_01") and db_counts() == counts
    assert (len(codes) in pathways._ACTIVE_CRITERIA) == (count <= pathways._COMPILED_CODES)


@pytest.mark.parametrize("with_referral", [False, True])
def test_a_closing_reads_whether_referrals_are_open_with_the_pathway_s_lock(world, with_referral):
    """A withdrawal cancels the pathway's open referrals; whether there are any comes with the locked row, so the
    closing of a pathway with none (most) sends no read of them."""
    pathway = make(world, "pathway", "eligible")
    if with_referral:
        make_referral(world, "sent", pathway=pathway)
    pathway = reload(pathway)
    with CaptureQueriesContext(connection) as queries:
        pathways.pathway_withdraw(actor=world.a.adviser, pathway=pathway.pk, reason="Déménagement")
    referral_reads = [  # the list of the pathway's open ones (each cancellation then locks its own row by id)
        q["sql"]
        for q in queries
        if q["sql"].startswith('SELECT "parcours_referral".') and '"parcours_referral"."pathway_id" =' in q["sql"]
    ]
    assert len(referral_reads) == (1 if with_referral else 0), referral_reads
    assert reload(pathway).state == "withdrawn"
    assert not reload(pathway).referrals.filter(state="sent").exists()

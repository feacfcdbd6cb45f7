"""Conflicting actions on the same object from two connections at once (PostgreSQL row locks).

Each service locks its row (select_for_update) before checking the state, so the second caller waits for
the first to commit, then sees the new state and is refused: exactly one action wins, and the journal
holds exactly one event for it. A small delay inside the journal write keeps the winner's lock held long
enough for the loser to really wait on it.
"""

import threading
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from parcours.models import HoursLine, Participant, Placement, Referral
from parcours.services import participants, placements, referrals
from tests.factories import World, backdate_placement, call_service, last_month, make, make_pathway, reload, years_ago
from workflows import engine, journal
from workflows.errors import DomainError
from workflows.journal import verify_chains
from workflows.models import JournalEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(transactional_db):
    """A committed world, visible to the threads' connections (flushed after each test)."""
    return World.build()


RACING = threading.Event()


@pytest.fixture(autouse=True)
def slow_journal(monkeypatch):
    """While threads race, each journal write takes 0.2 s more (inside the winner's transaction)."""
    original = journal.record_event

    def slow_record_event(**kwargs):
        if RACING.is_set():
            time.sleep(0.2)
        return original(**kwargs)

    for module in (engine, referrals, placements, participants):
        monkeypatch.setattr(module, "record_event", slow_record_event, raising=False)


def race(*calls):
    """Run `calls` in threads released together; return [("ok", result) | ("refused", DomainError)]."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = ("ok", call())
        except DomainError as exc:
            results[index] = ("refused", exc)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[index] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    RACING.set()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        RACING.clear()
    assert all(not t.is_alive() for t in threads), "a thread is stuck (deadlock?)"
    assert all(r is not None and r[0] != "error" for r in results), results
    return results


def one_winner(results, *loser_codes):
    """Exactly one call succeeded; the other was refused with loser_codes[winner index] (or the only code)."""
    outcomes = sorted(kind for kind, _ in results)
    assert outcomes == ["ok", "refused"], results
    winner = next(i for i, (kind, _) in enumerate(results) if kind == "ok")
    loser = results[1 - winner][1]
    expected = loser_codes[winner] if len(loser_codes) > 1 else loser_codes[0]
    assert loser.code == expected, loser
    return winner


def test_decline_against_cancel(world):
    """The facilitator declines while the adviser cancels: both close the referral, only one may."""
    referral = make(world, "referral", "under_review")
    results = race(
        lambda: call_service("referral.decline", world.a.facilitator, referral),
        lambda: call_service("referral.cancel", world.a.adviser, referral),
    )
    winner = one_winner(results, "invalid_transition")
    assert reload(referral).state == ["declined", "cancelled"][winner]
    events = JournalEvent.objects.filter(
        object_type="referral", object_id=referral.pk, action__in=["decline", "cancel"]
    )
    assert [e.action for e in events] == [["decline", "cancel"][winner]]
    # The pathway went back to eligible once, whoever won.
    assert (
        JournalEvent.objects.filter(
            object_type="pathway", object_id=referral.pathway_id, action="return_to_eligible"
        ).count()
        == 1
    )
    assert reload(referral.pathway).state == "eligible"
    assert verify_chains().ok


def test_approve_against_cancel_is_serialised(world):
    """Approve then cancel is a legal sequence, cancel then approve is not: either way the journal tells
    exactly what happened, in order, and the chain holds."""
    referral = make(world, "referral", "under_review")
    results = race(
        lambda: call_service("referral.approve", world.a.facilitator, referral),
        lambda: call_service("referral.cancel", world.a.adviser, referral),
    )
    assert results[1][0] == "ok"  # cancelling is possible from both under_review and approved
    events = list(
        JournalEvent.objects.filter(
            object_type="referral", object_id=referral.pk, action__in=["approve", "cancel"]
        ).order_by("sequence")
    )
    if results[0][0] == "ok":
        assert [(e.action, e.from_state, e.to_state) for e in events] == [
            ("approve", "under_review", "approved"),
            ("cancel", "approved", "cancelled"),
        ]
    else:
        assert results[0][1].code == "invalid_transition"
        assert [(e.action, e.from_state) for e in events] == [("cancel", "under_review")]
    assert reload(referral).state == "cancelled"
    assert verify_chains().ok


def test_two_approvals(world):
    referral = make(world, "referral", "under_review")
    results = race(*[lambda: call_service("referral.approve", world.a.facilitator, referral)] * 2)
    one_winner(results, "invalid_transition")
    assert reload(referral).state == "approved"
    assert JournalEvent.objects.filter(object_type="referral", object_id=referral.pk, action="approve").count() == 1
    assert verify_chains().ok


def test_hire_against_cancel(world):
    referral = make(world, "referral", "accepted")
    results = race(
        lambda: call_service("referral.hire", world.a.employer_actor, referral),
        lambda: call_service("referral.cancel", world.a.adviser, referral),
    )
    # Once cancelled, the referral is no longer the employer's to see: "not found" for the late hire.
    winner = one_winner(results, "invalid_transition", "not_found")
    referral = reload(referral)
    if winner == 0:
        assert referral.state == "hired" and referral.placement.state == "planned"
        assert reload(referral.pathway).state == "placed"
    else:
        assert referral.state == "cancelled" and not Placement.objects.filter(referral=referral).exists()
        assert reload(referral.pathway).state == "eligible"
    assert (
        JournalEvent.objects.filter(
            object_type="referral", object_id=referral.pk, action__in=["hire", "cancel"]
        ).count()
        == 1
    )
    assert verify_chains().ok


def test_same_month_declared_twice(world):
    placement = backdate_placement(make(world, "placement", "active"))

    def declare():
        return placements.hours_declare(
            actor=world.a.employer_actor, placement=placement, month=last_month(), hours=35
        )

    one_winner(race(declare, declare), "duplicate_hours_line")
    assert HoursLine.objects.filter(placement=placement).count() == 1
    assert JournalEvent.objects.filter(object_type="hoursline").count() == 1


def test_same_referral_created_twice(world):
    pathway = make_pathway(world, "eligible")

    def create():
        return referrals.referral_create(actor=world.a.adviser, pathway=pathway, offer=world.a.offer)

    one_winner(race(create, create), "duplicate_referral")
    assert Referral.objects.filter(pathway=pathway).count() == 1
    assert JournalEvent.objects.filter(object_type="pathway", object_id=pathway.pk, action="refer").count() == 1
    assert verify_chains().ok


# --- Intake: no duplicate under concurrency (the database's unique identity key) -------------------------------
INTAKE = {
    "first_name": "Inès",
    "last_name": "Benali",
    "postcode": "93200",
    "commune": "Saint-Denis",
    "qualification_level": "infra_3",
}


def test_twenty_concurrent_identical_intakes_make_one_participant(world):
    """20 identical API requests at once (no i-milo reference): one file, 19 clean refusals, one journal event."""
    token = Token.objects.get_or_create(user=world.a.adviser.user)[0].key
    body = {**INTAKE, "birth_date": years_ago(20).isoformat()}

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client.post("/api/v1/participants/", body, format="json")

    responses = [response for _, response in race(*[post] * 20)]
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"duplicate_participant"}
    assert Participant.objects.filter(youth_agency=world.a.youth_agency).count() == 1
    assert JournalEvent.objects.filter(object_type="participant", action="create").count() == 1
    assert verify_chains().ok


def test_concurrent_variants_of_one_identity_are_stopped_by_the_database(world, monkeypatch):
    """With the service's own check taken away, spelling variants of the same person racing each other still
    make one file: the partial unique index on (Mission Locale, identity key) is what refuses them."""
    asked = []
    monkeypatch.setattr(participants, "has_duplicate", lambda **kwargs: asked.append(kwargs) or False)
    names = [("Inès", "Benali"), ("INES", "BENALI"), ("Benali", "Inès"), ("inès", "Ben-Ali")] * 5
    born = years_ago(20)

    def intake(first_name, last_name):
        return lambda: participants.participant_create(
            actor=world.a.adviser,
            data={**INTAKE, "first_name": first_name, "last_name": last_name, "birth_date": born},
        )

    results = race(*[intake(*name) for name in names])
    assert sorted(kind for kind, _ in results) == ["ok"] + ["refused"] * 19
    assert {error.code for kind, error in results if kind == "refused"} == {"duplicate_participant"}
    assert Participant.objects.filter(youth_agency=world.a.youth_agency).count() == 1
    assert len(asked) == len(names)  # the service's check was the one taken away
    # The adviser's confirmation ("another person", after the check is back) is the one way past the key.
    monkeypatch.undo()
    participants.participant_create(actor=world.a.adviser, data={**INTAKE, "birth_date": born}, allow_duplicate=True)
    assert Participant.objects.filter(youth_agency=world.a.youth_agency, homonym_confirmed=True).count() == 1


def test_a_hire_appends_to_its_pathway_s_chain_after_an_event_committed_while_it_waited(world):
    """A follow-up (or any event of the pathway's chain) is appended under the pathway's lock while a hire waits for
    that row: the hire places the pathway after it, on the chain's new last link (read after the wait, not with it:
    the tail read in the waiting statement was the old one and the hire failed on the unique rank)."""
    a = world.a
    referral = make(world, "referral", "accepted")
    pathway_id = referral.pathway_id

    def append_meanwhile():
        from django.db import transaction

        from parcours.models import Pathway
        from parcours.services.common import hold_row
        from roles.actor import Actor

        with transaction.atomic():
            hold_row(Pathway, pathway_id)
            journal.record_event(actor=Actor.system(), object_type="pathway", object_id=pathway_id, action="note")
            time.sleep(1.5)  # the hire reaches the pathway meanwhile (~0.8 s in), and waits

    def hire():
        time.sleep(0.2)
        return call_service("referral.hire", a.employer_actor, referral)

    results = race(append_meanwhile, hire)
    assert [outcome for outcome, _ in results] == ["ok", "ok"], results
    actions = list(
        JournalEvent.objects.filter(object_type="pathway", object_id=pathway_id)
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["note", "place"]
    assert verify_chains().ok


def test_a_read_sent_with_the_row_lock_it_waits_for_sees_what_the_holder_committed(world):
    """`lock` sends the row lock and the read in one round trip (roles.statements.Compiled, `after=`): each statement
    of that text takes its own snapshot, so the read, run once the lock is granted, sees the rows the holder of the
    lock wrote before committing — here a journal event of the same chain, whose last link the read brings."""
    from django.db import transaction

    from parcours.models import Pathway
    from parcours.services.common import hold_row, lock
    from roles.actor import Actor

    pathway = make(world, "pathway", "eligibility_pending")
    tail = JournalEvent.objects.filter(object_type="pathway", object_id=pathway.pk).order_by("-sequence").first()
    read = {}

    def hold_and_append():
        with transaction.atomic():
            hold_row(Pathway, pathway.pk)
            journal.record_event(actor=Actor.system(), object_type="pathway", object_id=pathway.pk, action="note")
            time.sleep(1.0)  # the reader reaches the row meanwhile, and waits

    def lock_and_read():
        time.sleep(0.3)
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            locked = lock(Pathway, pathway.pk, actor=Actor.system())
            read["tail"] = (locked.journal_tail_sequence, [q["sql"] for q in queries])

    results = race(hold_and_append, lock_and_read)
    assert [outcome for outcome, _ in results] == ["ok", "ok"], results
    sequence, statements = read["tail"]
    assert len(statements) == 1 and "FOR NO KEY UPDATE" in statements[0] and "; " in statements[0]
    assert sequence == tail.sequence + 1  # the event committed while the read waited


def test_the_last_position_closes_the_offer_when_two_hires_fill_it_at_once(world):
    """Two hires of an offer's last two positions: the second waits for the offer's row, then counts the placements
    in a snapshot taken once the lock is its own (the lock and the count leave in one round trip, as two statements):
    it sees the first hire's placement, and closes the offer."""
    from django.db import transaction

    from parcours.models import JobOffer

    a = world.a
    first, second = make(world, "referral", "accepted"), make(world, "referral", "accepted")
    assert first.offer_id == second.offer_id
    JobOffer.objects.filter(pk=first.offer_id).update(positions=2)
    assert not Placement.objects.filter(referral__offer_id=first.offer_id).exists()

    def hire_and_hold():
        with transaction.atomic():
            call_service("referral.hire", a.employer_actor, first)  # ends holding the offer's row: 1 filled of 2
            time.sleep(1.5)  # the second hire reaches the offer meanwhile, and waits

    def hire_later():
        time.sleep(0.3)
        return call_service("referral.hire", a.employer_actor, second)

    results = race(hire_and_hold, hire_later)
    assert [outcome for outcome, _ in results] == ["ok", "ok"], results
    offer = JobOffer.objects.get(pk=first.offer_id)
    assert not offer.is_open and offer.closed_at is not None
    assert JournalEvent.objects.filter(object_type="offer", object_id=offer.pk, action="close").count() == 1


# --- The clause register: one reference per operation, one number per contract, whatever the timing ---------------
def slow_register_journal(monkeypatch):
    """The register's journal writes take 0.2 s more: the first creation holds its lock while the second arrives."""
    from parcours.services import register

    def slow_record_event(**kwargs):
        time.sleep(0.2)
        return journal.record_event(**kwargs)

    monkeypatch.setattr(register, "record_event", slow_record_event)
    return register


def refusal(results) -> str:
    return next(outcome.message for kind, outcome in results if kind == "refused")


def test_one_reference_per_operation_whatever_its_case_when_two_are_typed_at_once(world, monkeypatch):
    """Both creations lock the operation first: the second waits, then finds the first's « QA-3 » under « qa-3 »."""
    from parcours.models import PublicContract

    register = slow_register_journal(monkeypatch)
    a = world.a
    operation = a.lot.contract.operation

    def create(reference):
        return lambda: register.contract_create(
            actor=a.facilitator,
            operation=operation,
            reference=reference,
            title="Voirie",
            buyer=a.buyer,
            legal_lever="L2112-2",
        )

    results = race(create("QA-3"), create(" qa-3 "))
    winner = one_winner(results, "invalid_input")
    assert refusal(results) == f"La référence {['qa-3', 'QA-3'][winner]} existe déjà dans cette opération."
    assert PublicContract.objects.filter(operation=operation, reference__iexact="qa-3").count() == 1


def test_one_lot_number_per_contract_when_two_lots_are_created_at_once(world, monkeypatch):
    """Both creations lock the contract first: the second waits, then is refused in words (not an IntegrityError)."""
    import datetime
    from decimal import Decimal

    from parcours.models import ContractLot

    register = slow_register_journal(monkeypatch)
    a = world.a
    start = a.lot.execution_starts_on

    def create():
        return register.lot_create(
            actor=a.facilitator,
            contract=a.lot.contract,
            number=2,
            title="Second œuvre",
            trade="Plâtrerie",
            amount_excl_tax=Decimal("100000"),
            sizing_method="fixed",
            fixed_hours=Decimal("100"),
            execution_starts_on=start,
            execution_ends_on=start + datetime.timedelta(100),
            fulfilment_modes=["direct_hire"],
        )

    results = race(create, create)
    one_winner(results, "invalid_input")
    assert refusal(results) == "Ce marché a déjà un lot n° 2."
    assert ContractLot.objects.filter(contract=a.lot.contract, number=2).count() == 1

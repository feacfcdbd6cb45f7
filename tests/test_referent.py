"""The referent adviser of a file (« référent·e »): changed by an adviser of the file's Mission Locale to one of its
active advisers (parcours.services.participants.participant_change_referent), or handed over in bulk when someone
leaves (participant_hand_over); journaled with ids only. The e-mails about decisions on the young person's referrals
go to the Mission Locale's active advisers when the referent is no longer someone to tell there — never to nobody,
never outside the Mission Locale."""

import pytest
from django.core import mail as outbox

from parcours import mail
from parcours.models import MailNotification, NotificationKind, Participant, Pathway
from parcours.selectors import hand_over_sources, participant_timeline, referent_candidates
from parcours.services import participants, referrals
from parcours.services.data_protection import participant_anonymise
from roles import policy
from roles.actor import Actor
from roles.enums import Role
from roles.models import Membership
from tests.factories import MembershipFactory, UserFactory, db_counts, make_pathway, make_referral, reload
from workflows.errors import DomainError
from workflows.journal import verify_chains
from workflows.models import JournalEvent

pytestmark = pytest.mark.django_db


def colleague(world, side="a", **user):
    """Another active adviser of the side's Mission Locale."""
    organisation = world.side(side).youth_agency
    return Actor.from_membership(
        MembershipFactory(user=UserFactory(**user), organisation=organisation, role=Role.ADVISER)
    )


def leave(actor):
    """The adviser's membership ends (moved or left): a former member."""
    Membership.objects.filter(user=actor.user, organisation=actor.organisation).update(is_active=False)


def closed_file(world):
    pathway = make_pathway(world, "withdrawn")
    return participant_anonymise(participant=pathway.participant)


def referent_events(participant):
    return list(
        JournalEvent.objects.filter(object_type="participant", object_id=participant.pk, action="change_referent")
    )


# --- One file ---------------------------------------------------------------------------------------------------
def test_an_adviser_makes_a_colleague_the_referent_of_a_file(world):
    adviser, other = world.a.adviser, colleague(world)
    pathway = make_pathway(world, "eligible")
    participant = pathway.participant
    assert participant.referent_adviser_id == adviser.user.pk
    before = Pathway.objects.get(pk=pathway.pk).updated_at

    participants.participant_change_referent(actor=adviser, participant=participant, adviser=other.user)
    # The pathway changed: its updated_at says so (what an API client's `updated_since` reads).
    assert Pathway.objects.get(pk=pathway.pk).updated_at > before

    participant = reload(participant)
    assert participant.referent_adviser_id == other.user.pk
    # The pathway's referent follows: the young person's tasks go to the pathway's referent (parcours.work).
    assert Pathway.objects.get(pk=pathway.pk).referent_adviser_id == other.user.pk
    assert participant.version == 1  # not an edit of the file's data (participant_update's versions)
    [event] = referent_events(participant)
    assert event.inputs == {"from": adviser.user.pk, "to": other.user.pk}  # ids, never names
    assert (event.actor_user_id, event.actor_organisation_id, event.actor_role) == (
        adviser.user.pk,
        adviser.organisation_id,
        Role.ADVISER.value,
    )
    assert verify_chains().ok
    # The history says it in French, to the Mission Locale and the facilitator the file is shared with.
    for viewer in (adviser, world.a.facilitator):
        labels = [e.action_label for e in participant_timeline(actor=viewer, participant=participant)]
        assert "Changement de référent·e" in labels
    # The new referent (by id as by user) is already the referent: nothing is written.
    counts = db_counts()
    participants.participant_change_referent(actor=other, participant=participant.pk, adviser=other.user.pk)
    assert db_counts() == counts


def test_the_new_referent_is_an_active_adviser_of_the_files_mission_locale(world):
    adviser = world.a.adviser
    participant = make_pathway(world, "eligible").participant
    gone = colleague(world)
    leave(gone)
    switched_off = colleague(world)
    switched_off.user.is_active = False
    switched_off.user.save(update_fields=["is_active"])
    refused = {
        "another Mission Locale's adviser": world.b.adviser.user.pk,
        "a membership ended": gone.user.pk,
        "an account switched off": switched_off.user.pk,
        "the Mission Locale's data-protection officer": world.a.dpo.user.pk,
        "the facilitator": world.a.facilitator.user.pk,
        "an unknown id": 987654321,
        "an id out of range": 2**63,
        "zero": 0,
        "a text": "12",
        "a boolean": True,
        "nothing": None,
    }
    counts = db_counts()
    for case, value in refused.items():
        with pytest.raises(DomainError) as error:
            participants.participant_change_referent(actor=adviser, participant=participant, adviser=value)
        assert (error.value.code, error.value.field, error.value.status) == ("invalid_referent", "adviser", 400), case
        # One message whatever the reason: a refusal never tells whether an id is someone, nor where.
        assert error.value.message == "Choisissez un·e conseiller·ère en poste dans la Mission Locale du dossier."
    assert db_counts() == counts
    assert reload(participant).referent_adviser_id == adviser.user.pk


def test_only_the_files_mission_locale_changes_its_referent(world):
    participant = make_pathway(world, "eligible").participant  # shared with the facilitator
    target = colleague(world).user.pk
    counts = db_counts()
    expected = {
        world.a.facilitator: "forbidden",  # sees the file, may not change it
        world.b.adviser: "not_found",
        world.a.employer_actor: "not_found",
        world.a.auditor: "not_found",
        world.a.dpo: "not_found",
    }
    for actor, code in expected.items():
        with pytest.raises(DomainError) as error:
            participants.participant_change_referent(actor=actor, participant=participant, adviser=target)
        assert error.value.code == code, actor.role
    assert db_counts() == counts
    assert policy.roles_for("participant.change_referent") == {Role.ADVISER: policy.Scope.FOLLOWED_PARTICIPANT}


def test_an_anonymised_file_keeps_its_referent(world):
    participant = closed_file(world)
    counts = db_counts()
    with pytest.raises(DomainError) as error:
        participants.participant_change_referent(
            actor=world.a.adviser, participant=participant, adviser=colleague(world).user
        )
    assert error.value.code == "participant_anonymised" and error.value.status == 409
    counts["auth.User"] += 1  # the colleague
    counts["roles.Membership"] += 1
    assert db_counts() == counts


def test_the_candidates_are_the_mission_locales_active_advisers(world):
    mine, gone = colleague(world, first_name="Zoé", last_name="Abel"), colleague(world)
    leave(gone)
    ids = [user.pk for user in referent_candidates(world.a.youth_agency.pk)]
    assert sorted(ids) == sorted([world.a.adviser.user.pk, mine.user.pk])


# --- A leaver's files --------------------------------------------------------------------------------------------
def test_a_leavers_open_files_are_handed_over_each_journaled(world):
    leaver, heir, adviser = colleague(world), colleague(world), world.a.adviser
    files = [make_pathway(world, state).participant for state in ("intake", "eligible", "in_follow_up")]
    for participant in files:
        participants.participant_change_referent(actor=adviser, participant=participant, adviser=leaver.user)
    closed = closed_file(world)
    Participant.objects.filter(pk=closed.pk).update(referent_adviser=leaver.user)  # a file anonymised long ago
    kept = make_pathway(world, "eligible").participant  # another referent's
    leave(leaver)
    [source] = [user for user in hand_over_sources(adviser) if user.pk == leaver.user.pk]
    assert (source.open_files, source.is_member) == (3, False)

    moved = participants.participant_hand_over(actor=adviser, from_adviser=leaver.user.pk, to_adviser=heir.user)

    assert moved == 3
    assert {reload(p).referent_adviser_id for p in files} == {heir.user.pk}
    assert set(Pathway.objects.filter(participant__in=files).values_list("referent_adviser_id", flat=True)) == {
        heir.user.pk
    }
    assert reload(closed).referent_adviser_id == leaver.user.pk  # closed for good
    assert reload(kept).referent_adviser_id == adviser.user.pk
    for participant in files:
        event = referent_events(participant)[-1]
        assert event.inputs == {"from": leaver.user.pk, "to": heir.user.pk, "bulk": True}
        [shown] = [e for e in participant_timeline(actor=adviser, participant=participant) if e.pk == event.pk]
        assert shown.detail == "Transmission des dossiers d'un·e collègue"
    assert leaver.user.pk not in [user.pk for user in hand_over_sources(adviser)]
    assert verify_chains().ok
    # Nothing left: 0, nothing written.
    counts = db_counts()
    assert participants.participant_hand_over(actor=adviser, from_adviser=leaver.user, to_adviser=heir.user) == 0
    assert db_counts() == counts


def test_a_hand_over_stays_in_the_mission_locale_and_is_refused_as_a_whole(world):
    adviser = world.a.adviser
    participant = make_pathway(world, "eligible").participant
    other_side = make_pathway(world, "eligible", side="b").participant
    counts = db_counts()
    refusals = [
        (adviser, adviser.user.pk, world.b.adviser.user.pk, "invalid_referent", "to_adviser"),
        (adviser, adviser.user.pk, adviser.user.pk, "invalid_referent", "to_adviser"),  # to themselves
        (adviser, "x", adviser.user.pk, "invalid_referent", "from_adviser"),
        (adviser, adviser.user.pk, None, "invalid_referent", "to_adviser"),
        (world.a.facilitator, adviser.user.pk, adviser.user.pk, "forbidden", None),
        (world.a.dpo, adviser.user.pk, adviser.user.pk, "forbidden", None),
        (world.a.employer_actor, adviser.user.pk, adviser.user.pk, "forbidden", None),
    ]
    for actor, source, target, code, field in refusals:
        with pytest.raises(DomainError) as error:
            participants.participant_hand_over(actor=actor, from_adviser=source, to_adviser=target)
        assert (error.value.code, error.value.field) == (code, field), (actor.role, source, target)
    assert db_counts() == counts
    # Another Mission Locale's adviser as the source: none of its files is reached from here.
    heir = colleague(world)
    assert (
        participants.participant_hand_over(actor=adviser, from_adviser=world.b.adviser.user, to_adviser=heir.user) == 0
    )
    assert reload(other_side).referent_adviser_id == world.b.adviser.user.pk
    assert participants.participant_hand_over(actor=adviser, from_adviser=adviser.user, to_adviser=heir.user) >= 1
    assert reload(participant).referent_adviser_id == heir.user.pk


# --- The decision e-mails ----------------------------------------------------------------------------------------
def decided_rows():
    rows = MailNotification.objects.filter(kind=NotificationKind.CANDIDATE_DECIDED)
    return sorted(rows.values_list("user_id", flat=True))


def refuse(world, referral):
    referrals.referral_refuse(actor=world.a.employer_actor, referral=referral, reason="Poste pourvu.")


@pytest.fixture
def decision(world):
    """A forwarded referral of a young person whose referent (and sender) is the side's adviser; a colleague and the
    other Mission Locale's adviser beside. Refusing it tells the advisers."""
    referral = make_referral(world, "forwarded")
    MailNotification.objects.all().delete()
    outbox.outbox.clear()
    return referral, colleague(world)


def test_the_referent_is_told_of_a_decision(world, decision):
    referral, other = decision
    refuse(world, referral)
    assert decided_rows() == [world.a.adviser.user.pk]


def test_a_decision_goes_to_the_new_referent_and_the_sender(world, decision):
    referral, other = decision
    participants.participant_change_referent(
        actor=world.a.adviser, participant=referral.pathway.participant, adviser=other.user
    )
    refuse(world, referral)
    assert decided_rows() == sorted([world.a.adviser.user.pk, other.user.pk])


@pytest.mark.parametrize("gone", ["membership_ended", "account_switched_off", "no_email", "moved_to_another_role"])
def test_when_the_referent_left_the_mission_locales_advisers_are_told(world, decision, gone):
    referral, other = decision
    referent = world.a.adviser
    if gone == "membership_ended":
        leave(referent)
    elif gone == "account_switched_off":
        referent.user.is_active = False
        referent.user.save(update_fields=["is_active"])
    elif gone == "no_email":
        referent.user.email = ""
        referent.user.save(update_fields=["email"])
    else:
        Membership.objects.filter(user=referent.user, organisation=referent.organisation).update(role=Role.DPO)
    third = colleague(world)
    former = colleague(world)
    leave(former)
    refuse(world, referral)
    # The Mission Locale's active advisers with an address: not the one who left, nor its data-protection officer,
    # nor the other Mission Locale's advisers.
    assert decided_rows() == sorted([other.user.pk, third.user.pk])
    assert mail.deliver_immediate() == 2
    assert sorted(m.to[0] for m in outbox.outbox) == sorted([other.user.email, third.user.email])
    assert all("candidature refusée" in m.body for m in outbox.outbox)


def test_a_referent_who_left_with_a_sender_still_there_tells_the_team(world, decision):
    """The referent left; the adviser who sent the referral is still there: the whole team (the sender with it)."""
    referral, other = decision
    heir = colleague(world)
    participants.participant_change_referent(
        actor=world.a.adviser, participant=referral.pathway.participant, adviser=heir.user
    )
    leave(heir)
    refuse(world, referral)
    assert decided_rows() == sorted([world.a.adviser.user.pk, other.user.pk])


def test_no_one_outside_the_mission_locale_when_no_adviser_is_left(world, decision):
    referral, other = decision
    leave(other)
    leave(world.a.adviser)
    refuse(world, referral)
    assert decided_rows() == []

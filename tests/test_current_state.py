"""The participant's current pathway state (Participant.current_state), kept by the triggers of migration 0025 on
PostgreSQL and on SQLite: it follows the services' transitions, pathways added, moved and deleted and states written
directly; Django never writes it back; the command finds a copy gone wrong and rebuilds it; the adviser's list
filters on it."""

import datetime
import importlib
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from parcours.models import Participant, Pathway
from parcours.selectors import current_state, participant_search
from parcours.services import pathways
from tests.factories import make_pathway

pytestmark = pytest.mark.django_db

STATES = ("intake", "eligibility_pending", "eligible", "referred", "placed", "exited")


def kept(participant) -> str:
    return Participant.objects.values_list("current_state", flat=True).get(pk=participant.pk)


DAY = datetime.timedelta(days=1)


def _bare_participant(like):
    """A participant of the same Mission Locale with no pathway (the services always open one: written directly)."""
    return Participant.objects.create(
        first_name="Sans",
        last_name=f"Parcours{like.pk}",
        birth_date=like.birth_date,
        postcode=like.postcode,
        commune=like.commune,
        qualification_level=like.qualification_level,
        youth_agency=like.youth_agency,
        referent_adviser=like.referent_adviser,
    )


def _another_pathway(participant, *, state="intake", started_on=None, **extra):
    return Pathway.objects.create(
        participant=participant,
        referent_adviser=participant.referent_adviser,
        started_on=started_on or datetime.date.today(),
        state=state,
        **extra,
    )


def test_each_state_the_services_reach_is_the_participants_current_state(world):
    made = [make_pathway(world, state) for state in STATES]
    assert [kept(p.participant) for p in made] == list(STATES)
    assert current_state.differences() == []


def test_a_transition_moves_it_and_a_newer_pathway_takes_over(world):
    pathway = make_pathway(world, "eligibility_pending")
    participant = pathway.participant
    pathways.pathway_reject_eligibility(actor=world.a.facilitator, pathway=pathway, reason="Hors critères")
    assert kept(participant) == "ineligible"
    # A later pathway (a new start) is the current one; an older one changing state does not count.
    newer = _another_pathway(participant, started_on=pathway.started_on + 3 * DAY)
    assert kept(participant) == "intake"
    Pathway.objects.filter(pk=pathway.pk).update(state="withdrawn")
    assert kept(participant) == "intake"
    # Moved earlier than the first one, the new pathway is no longer current.
    Pathway.objects.filter(pk=newer.pk).update(started_on=pathway.started_on - 3 * DAY)
    assert kept(participant) == "withdrawn"
    # The same day: the higher id is the latest, as the list's current pathway.
    Pathway.objects.filter(pk=newer.pk).update(started_on=pathway.started_on)
    assert kept(participant) == "intake"
    assert participant_search(world.a.adviser).get(pk=participant.pk).current_pathway_id == newer.pk
    newer.delete()
    assert kept(participant) == "withdrawn"
    assert current_state.differences() == []


def test_a_pathway_moved_to_another_participant_sets_both(world):
    first = make_pathway(world, "eligible")
    bare = _bare_participant(first.participant)
    assert kept(bare) == ""
    extra = _another_pathway(
        first.participant, state="withdrawn", closed_on=first.started_on, started_on=first.started_on + DAY
    )
    assert kept(first.participant) == "withdrawn"
    Pathway.objects.filter(pk=extra.pk).update(participant=bare)
    assert (kept(first.participant), kept(bare)) == ("eligible", "withdrawn")
    assert current_state.differences() == []


def test_a_pathway_moved_to_a_participant_of_a_lower_id_sets_both(world):
    # The trigger locks and sets the lower id first (migration 0029): the other way round from the test above.
    bare = _bare_participant(make_pathway(world, "intake").participant)
    first = make_pathway(world, "eligible")
    assert bare.pk < first.participant_id
    extra = _another_pathway(
        first.participant, state="withdrawn", closed_on=first.started_on, started_on=first.started_on + DAY
    )
    Pathway.objects.filter(pk=extra.pk).update(participant=bare)
    assert (kept(first.participant), kept(bare)) == ("eligible", "withdrawn")
    assert current_state.differences() == []


@pytest.mark.postgres
def test_the_trigger_names_each_participant_by_its_id_and_0029_reverses(world):
    """0029 rewrote 0025's function with scalar ids, which PostgreSQL plans once per session (`id = ANY(ids)` was
    planned again at every pathway written); reversed, 0025's comes back and still keeps the copy."""
    from django.db import connection

    migration = importlib.import_module("parcours.migrations.0029_current_state_trigger_plans_once")

    def source():
        with connection.cursor() as cursor:
            cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'parcours_current_state'")
            return cursor.fetchone()[0]

    assert "first_id" in source() and "ANY(" not in source()
    with connection.schema_editor() as editor:
        migration.backward(None, editor)
    assert "ANY(ids)" in source()
    pathway = make_pathway(world, "eligible")
    assert kept(pathway.participant) == "eligible"
    with connection.schema_editor() as editor:
        migration.forward(None, editor)
    assert "first_id" in source()


def test_saving_a_participant_read_before_a_transition_does_not_undo_it(world):
    pathway = make_pathway(world, "eligibility_pending")
    stale = Participant.objects.get(pk=pathway.participant_id)
    pathways.pathway_reject_eligibility(actor=world.a.facilitator, pathway=pathway, reason="Hors critères")
    stale.commune = "Tourcoing"
    stale.save()
    stale.save(update_fields=["commune", "current_state"])
    assert kept(stale) == "ineligible"
    assert Participant.objects.get(pk=stale.pk).commune == "Tourcoing"
    # A participant read with deferred fields saves what it read, without loading the rest one by one.
    partial = Participant.objects.only("id", "first_name", "last_name", "birth_date", "imilo_reference").get(
        pk=stale.pk
    )
    partial.first_name = "Ines"
    partial.save()
    assert Participant.objects.get(pk=stale.pk).first_name == "Ines"
    assert kept(stale) == "ineligible"


def test_a_participant_copied_from_a_loaded_one_is_inserted(world):
    pathway = make_pathway(world, "eligible")
    copy = Participant.objects.get(pk=pathway.participant_id)
    copy.pk, copy.last_name = None, "Copie"
    copy.save()
    assert copy.pk != pathway.participant_id and kept(copy) == ""
    assert kept(pathway.participant) == "eligible"


def test_the_command_finds_a_current_state_gone_wrong_and_rebuilds_it(world):
    made = [make_pathway(world, state) for state in STATES[:3]]
    call_command("recount_pathway_tally", stdout=(out := StringIO()))
    assert "conformes" in out.getvalue()
    # As after a load with the triggers off: the column says nothing, or something stale.
    Participant.objects.filter(pk=made[0].participant_id).update(current_state="")
    Participant.objects.filter(pk=made[1].participant_id).update(current_state="exited")
    Participant.objects.filter(pk=made[2].participant_id).update(current_state="placed")
    with pytest.raises(CommandError, match="3 écart"):
        call_command("recount_pathway_tally", stdout=(out := StringIO()))
    said = f"participant·e {made[1].participant_id} : état en cours « exited »"
    assert f"{said}, dernier parcours « eligibility_pending »" in out.getvalue()
    call_command("recount_pathway_tally", "--rebuild", stdout=StringIO())
    assert [kept(p.participant) for p in made] == list(STATES[:3])
    assert current_state.differences() == []


def test_rebuild_sets_what_the_triggers_did_not_see(world):
    pathway = make_pathway(world, "intake")
    bare = _bare_participant(pathway.participant)
    Participant.objects.filter(pk__in=[pathway.participant_id, bare.pk]).update(current_state="placed")
    assert current_state.differences() == [(pathway.participant_id, "placed", "intake"), (bare.pk, "placed", "")]
    current_state.rebuild()
    assert (kept(pathway.participant), kept(bare)) == ("intake", "")
    assert current_state.differences() == []


def test_the_advisers_list_filters_on_it(world):
    made = {state: make_pathway(world, state) for state in STATES}
    adviser = world.a.adviser
    for state, pathway in made.items():
        rows = list(participant_search(adviser, state=state).filter(pk__in=[p.participant_id for p in made.values()]))
        assert [row.pk for row in rows] == [pathway.participant_id], state
        assert rows[0].current_state == state
    # Another Mission Locale's participant in the same state is not in the list.
    theirs = make_pathway(world, "eligible", side="b")
    assert not participant_search(adviser, state="eligible").filter(pk=theirs.participant_id).exists()


def test_the_admin_lists_and_filters_participants_by_it(world, client):
    made = {state: make_pathway(world, state) for state in ("referred", "placed")}
    client.force_login(get_user_model().objects.create_superuser("admin.etat", "admin@example.org", "x" * 16))
    response = client.get("/admin/parcours/participant/", {"current_state__exact": "placed"})
    assert response.status_code == 200
    shown = {row.pk for row in response.context["cl"].result_list}
    assert made["placed"].participant_id in shown and made["referred"].participant_id not in shown
    assert {row.current_state for row in response.context["cl"].result_list} == {"placed"}
    body = response.content.decode()
    assert "En poste" in body
    # The side filter offers the current state's choices (it filtered on any pathway's state before).
    assert "current_state__exact=exited" in body and "pathways__state" not in body

"""An exit closes the pathway's current period: not dated before the pathway's start, its latest reopening, nor the
start of one of its contracts that has started (a contract still running does not stop the exit; one planned but not
started does not count). A refusal names the date that bounds it, on the `exited_on` field, and writes nothing."""

import datetime
import html

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from parcours.models import Exit, Pathway, Referral
from parcours.services import pathways
from tests.api.conftest import assert_problem, client_for
from tests.factories import call_service, make_pathway, make_placement, reload
from workflows import guards
from workflows.errors import DomainError
from workflows.models import JournalEvent

DAY = datetime.timedelta(days=1)
START = timezone.localdate()  # the day the tests' pathways start


def on(days):
    """`days` days after START, the clock stopped (time_machine)."""
    return time_machine.travel(timezone.now() + days * DAY, tick=False)


def day(days) -> datetime.date:
    return START + days * DAY


def _written(pathway):
    return (
        Pathway.objects.get(pk=pathway.pk).state,
        Exit.objects.filter(pathway=pathway).count(),
        JournalEvent.objects.filter(participant_id=pathway.participant_id).count(),
        sorted(Referral.objects.filter(pathway=pathway).values_list("pk", "state")),
    )


def _exit(world, pathway, exited_on):
    return pathways.pathway_exit(actor=world.a.adviser, pathway=pathway, exited_on=exited_on, situation="cdi")


def _refused(world, pathway, exited_on, code):
    before = _written(pathway)
    with pytest.raises(DomainError) as refused:
        _exit(world, pathway, exited_on)
    assert (refused.value.code, refused.value.field, refused.value.status) == (code, "exited_on", 400)
    assert _written(pathway) == before
    return refused.value.message


def _with_contract(world, state="ended", *, starts=30):
    """A pathway started on START, eligible, whose contract starts `starts` days later."""
    pathway = make_pathway(world, "eligible")
    with on(starts):
        placement = make_placement(world, state, pathway=pathway)
    assert reload(placement).started_on == (day(starts) if state != "planned" else None)
    return reload(pathway), placement


def test_an_exit_before_a_contract_s_start_is_refused(world):
    """The QA's case: a pathway started on START, a contract from START + 30: an exit dated START + 5 is refused."""
    pathway, _placement = _with_contract(world, "ended")
    with on(40):
        message = _refused(world, pathway, day(5), "exit_before_contract")
        assert message == (
            f"Un contrat du parcours a commencé le {day(30):%d/%m/%Y} : la date de sortie ne peut pas précéder ce "
            "début."
        )
        _exit(world, pathway, day(30))  # the day the contract started
    assert reload(pathway).exited_on == day(30)


def test_a_contract_still_running_bounds_the_date_but_does_not_stop_the_exit(world):
    pathway, placement = _with_contract(world, "active")
    with on(40):
        _refused(world, pathway, day(29), "exit_before_contract")
        _exit(world, pathway, day(35))
    assert reload(pathway).state == "exited" and reload(placement).state == "active"


def test_a_contract_planned_but_not_started_does_not_count(world):
    pathway = make_pathway(world, "eligible")
    with on(30):
        placement = make_placement(world, "planned", pathway=pathway, start_date=day(60))
        _exit(world, pathway, day(10))
    assert reload(pathway).exited_on == day(10) and reload(placement).started_on is None


def test_an_exit_after_a_reopening_is_not_dated_before_it(world):
    """The QA's second case: exited, reopened 30 days later, hired again and the contract over, then an exit dated
    before the reopening (after the first contract) is refused; two exits on the file, in order."""
    pathway = make_pathway(world, "in_follow_up")  # a contract started and ended on START
    _exit(world, pathway, START)
    with on(30):
        call_service("pathway.reopen", world.a.adviser, pathway)
        make_placement(world, "ended", pathway=pathway, start_date=day(30))
    pathway = reload(pathway)
    assert (pathway.reopened_on, pathway.state) == (day(30), "in_follow_up")
    with on(40):
        message = _refused(world, pathway, day(20), "exit_before_reopening")
        assert message == (
            f"Le parcours a été rouvert le {day(30):%d/%m/%Y} : la date de sortie ne peut pas précéder cette "
            "réouverture."
        )
        _exit(world, pathway, day(30))
    assert list(Exit.objects.filter(pathway=pathway).order_by("pk").values_list("exited_on", flat=True)) == [
        START,
        day(30),
    ]


def test_the_start_of_the_pathway_is_named(world):
    pathway = make_pathway(world, "in_follow_up")
    message = _refused(world, pathway, START - DAY, "exit_before_start")
    assert message == f"La date de sortie ne peut pas précéder le début du parcours, le {START:%d/%m/%Y}."


def test_the_guard_s_read_comes_with_the_locked_row(world, settings):
    """No statement of its own: the latest contract start after the date is a column of the pathway's locked read;
    asked outside a service, the guard reads it in one statement."""
    settings.PARCOURS = {**settings.PARCOURS, "PREPARED_STATEMENTS": False}  # the statements' text, not EXECUTE
    pathway, _placement = _with_contract(world, "ended")
    with on(40):
        with CaptureQueriesContext(connection) as captured:
            with pytest.raises(DomainError):
                _exit(world, pathway, day(5))
        reads = [q["sql"] for q in captured if '"started_on" >' in q["sql"]]
        assert len(reads) == 1 and 'FROM "parcours_pathway"' in reads[0], reads
        fresh = Pathway.objects.get(pk=pathway.pk)
        with CaptureQueriesContext(connection) as captured:
            with pytest.raises(DomainError):
                guards.exit_date_valid(fresh, {"exited_on": day(5)})
        assert len(captured) == 1


# --- The API and the page ---------------------------------------------------------------------------------------
def test_the_api_answers_400_on_exited_on_and_writes_nothing(world):
    pathway, _placement = _with_contract(world, "ended")
    with on(40):
        adviser = client_for(world.a.adviser.user)
        before = _written(pathway)
        response = adviser.post(
            f"/api/v1/pathways/{pathway.pk}/transitions/exit/",
            {"exited_on": day(5).isoformat(), "situation": "cdi"},
            format="json",
        )
        body = assert_problem(response, 400, "exit_before_contract")
        assert [e["field"] for e in body["errors"]] == ["exited_on"] and day(30).strftime("%d/%m/%Y") in body["detail"]
        assert _written(pathway) == before
        response = adviser.post(
            f"/api/v1/pathways/{pathway.pk}/transitions/exit/",
            {"exited_on": day(30).isoformat(), "situation": "cdi"},
            format="json",
        )
        assert response.status_code == 200, response.content


def test_the_exit_page_shows_the_refusal_on_its_field(world, client):
    pathway, _placement = _with_contract(world, "ended")
    url = reverse("transition", args=["pathway", pathway.pk, "exit"])
    with on(40):
        client.force_login(world.a.adviser.user)
        before = _written(pathway)
        response = client.post(url, {"exited_on": day(5).isoformat(), "situation": "cdi"})
        body = html.unescape(response.content.decode())
        assert response.status_code == 400
        assert f"Un contrat du parcours a commencé le {day(30):%d/%m/%Y}" in body and 'aria-invalid="true"' in body
        assert _written(pathway) == before
        response = client.post(url, {"exited_on": day(30).isoformat(), "situation": "cdi"})
        assert response.status_code == 302
    assert reload(pathway).exited_on == day(30)

"""The participants' list filtered by the current pathway's state (Participant.current_state), as the adviser's page:
the right rows for each state and several at once, within the caller's scope; a bad state is a 400 problem."""

from roles.enums import Role
from tests.api.conftest import advance, assert_problem, client_for


def _ids(response):
    assert response.status_code == 200, response.content
    return {row["id"]: row for row in response.json()["results"]}


def test_participants_filtered_by_current_state(api_world):
    a, b = api_world.a, api_world.b
    steps = ("intake", "eligible", "hired")
    made = {step: advance(a, step, first_name=f"Etat{step}")["participant"] for step in steps}
    theirs = advance(b, "eligible", first_name="Ailleurs")["participant"]
    adviser = client_for(a.users[Role.ADVISER])

    everyone = _ids(adviser.get("/api/v1/participants/?page_size=200"))
    assert {everyone[p.pk]["current_state"] for p in made.values()} == {"intake", "eligible", "placed"}
    assert everyone[made["hired"].pk]["current_state_label"] == "En poste"
    assert theirs.pk not in everyone

    eligible = _ids(adviser.get("/api/v1/participants/?state=eligible&page_size=200"))
    assert made["eligible"].pk in eligible and theirs.pk not in eligible
    assert {row["current_state"] for row in eligible.values()} == {"eligible"}
    both = _ids(adviser.get("/api/v1/participants/?state=intake&state=placed&page_size=200"))
    assert {made["intake"].pk, made["hired"].pk} <= set(both) and made["eligible"].pk not in both
    assert _ids(adviser.get("/api/v1/participants/?state=exited")) == {}


def test_a_bad_state_is_a_400_problem(api_world):
    adviser = client_for(api_world.a.users[Role.ADVISER])
    body = assert_problem(adviser.get("/api/v1/participants/?state=flying"), 400, "invalid_input")
    assert body["errors"][0]["field"] == "state"

"""The hours lines carry their lot in the API (`lot`, the placement's) and filter on it (`?lot=`), within the caller's
scope: a facilitator's organisation filter goes through the line's lot too. A bad lot is a 400 problem."""

from roles.enums import Role
from tests.api.conftest import advance, assert_problem, client_for


def _ids(response):
    assert response.status_code == 200, response.content
    return {row["id"]: row for row in response.json()["results"]}


def test_hours_lines_show_and_filter_on_their_lot(api_world):
    a, b = api_world.a, api_world.b
    mine, theirs = advance(a, "active")["hours_line"], advance(b, "active")["hours_line"]
    lot = mine.placement.lot_id
    facilitator = client_for(a.users[Role.FACILITATOR])

    listed = _ids(facilitator.get("/api/v1/hours-lines/?page_size=200"))
    assert listed[mine.pk]["lot"] == lot and theirs.pk not in listed
    assert set(_ids(facilitator.get(f"/api/v1/hours-lines/?lot={lot}"))) == {mine.pk}
    # Another facilitator's lot: nothing of theirs leaks through the filter.
    assert _ids(facilitator.get(f"/api/v1/hours-lines/?lot={theirs.placement.lot_id}")) == {}
    facilitation = a.orgs["facilitation"].pk
    assert set(_ids(facilitator.get(f"/api/v1/hours-lines/?organisation={facilitation}"))) == {mine.pk}
    employer = client_for(a.users[Role.EMPLOYER])
    assert _ids(employer.get(f"/api/v1/hours-lines/?lot={lot}"))[mine.pk]["lot"] == lot


def test_a_bad_lot_is_a_400_problem(api_world):
    facilitator = client_for(api_world.a.users[Role.FACILITATOR])
    body = assert_problem(facilitator.get("/api/v1/hours-lines/?lot=abc"), 400, "invalid_input")
    assert body["errors"][0]["field"] == "lot"

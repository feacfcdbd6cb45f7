"""The access table: every URL pattern × anonymous and every role × every method → the status, kept in one table
(tests/access_table.py). A URL pattern without an entry fails the suite; so does a status that differs.

Every HTML page answered (GET 200) must carry the Content-Security-Policy and hold no inline script (no <script>
without src, no on…= handler, no javascript: URL): the policy allows none.

Each request runs in a savepoint that is rolled back, so the table does not depend on the order of the requests.
Objects belong to territory "a", whose members make the requests (cross-territory refusals are covered by
tests/test_permissions.py and tests/api/test_permissions.py). POST, PATCH and DELETE carry an empty body: a role
that may not take the action gets 403 or 404 — never 400 (authorisation comes before validation); a role that may
gets 400 (nothing valid was sent) or the action's own answer.

After a deliberate change of the URLs or of the policy, regenerate the table and review its diff:
    ACCESS_TABLE_WRITE=1 .venv/bin/pytest tests/test_access_table.py -p no:xdist
"""

import copy
import os
import pprint
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from parcours.models import Exit
from parcours.work.models import WorkTask
from roles.enums import Role
from tests import access_table
from tests.factories import last_month
from workflows.transitions import MACHINES

ROLES = ("anonymous", *Role.values)
WEB_METHODS = ("GET", "POST")
API_METHODS = ("GET", "POST", "PATCH", "DELETE")
TABLE_FILE = Path(access_table.__file__)


def url_patterns(resolvers=None, prefix=""):
    """Every route of the URL configuration as its full route string (e.g. "api/v1/participants/<id:pk>/")."""
    for entry in get_resolver().url_patterns if resolvers is None else resolvers:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route == "admin/":
                yield route  # Django's admin: its own views and login (is_staff), probed at its index
                continue
            yield from url_patterns(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            if route == "health/":  # depends on the timer worker running: tests/web/test_health_logs.py
                continue
            yield route


def methods(route):
    return API_METHODS if route.startswith("api/") else WEB_METHODS


def _transition_route(route):
    match = re.fullmatch(r"api/v1/([a-z-]+)/<id:pk>/transitions/([a-z_]+)/", route)
    if match is None:
        return None
    machine = {"pathways": "pathway", "referrals": "referral", "placements": "placement", "hours-lines": "hoursline"}
    return MACHINES[machine[match[1]]][match[2]]


def concrete_url(route, world, made):
    """The route with its parameters filled with objects of territory "a" (a parameter without a rule fails)."""
    side = world.a
    spec = _transition_route(route)
    if spec is not None:
        obj = made(spec.machine, spec.sources[0])
    elif route.startswith("actions/"):
        pathway = made("pathway", "intake")
        return f"/actions/pathway/{pathway.pk}/submit_eligibility/"
    elif "<id:" not in route:  # no object in the URL (a format or a month at most)
        obj = None
    else:
        rules = [
            ("participants/<id:pk>", lambda: made("pathway", "eligible").participant),
            # The auditor's export takes a participant's id (before "parcours/<id:pk>", which takes a pathway's: a
            # pathway id that happened to be the id of a participant the auditor sees answered 200).
            ("audit/parcours/<id:pk>", lambda: made("pathway", "eligible").participant),
            ("jeunes/<id:pk>", lambda: made("pathway", "eligible").participant),
            ("conseil/parcours/<id:pk>/eligibilite", lambda: made("pathway", "intake")),
            ("facilitation/eligibilite/<id:pk>", lambda: made("pathway", "eligibility_pending")),
            ("parcours/<id:pk>", lambda: made("pathway", "eligible")),
            ("pathways/<id:pk>", lambda: made("pathway", "eligible")),
            ("positionnements/<id:pk>", lambda: made("referral", "sent")),
            ("referrals/<id:pk>", lambda: made("referral", "sent")),
            ("salaries/<id:pk>", lambda: made("placement", "active")),
            ("placements/<id:pk>", lambda: made("placement", "active")),
            ("hours-lines/<id:pk>", lambda: made("hoursline", "declared")),
            ("offres/<id:offer_pk>", lambda: side.offer),
            ("offres/<id:pk>", lambda: side.offer),
            ("job-offers/<id:pk>", lambda: side.offer),
            ("lots/<id:pk>", lambda: side.lot),
            ("organisations/<id:pk>", lambda: side.youth_agency),
            ("taches/<id:pk>", lambda: WorkTask.objects.filter(pathway=made("pathway", "intake")).first()),
            ("sorties/<id:pk>", lambda: Exit.objects.filter(pathway=made("pathway", "exited")).first()),
            ("releves/lot-<id:pk>", lambda: side.lot),
            ("mois/lot-<id:pk>", lambda: side.lot),
            ("marches/<id:pk>", lambda: side.lot.contract),
            ("operations/<id:pk>", lambda: side.lot.contract.operation),
        ]
        obj = next((make() for key, make in rules if key in route), None)
        if obj is None:
            raise AssertionError(f"No object rule for {route!r} in tests/test_access_table.py: add one.")
    url = "/" + route
    url = re.sub(r"<id:[a-z_]+>", str(obj.pk) if obj is not None else "", url)
    url = url.replace("<str:fmt>", "xlsx").replace("<str:month>", last_month().strftime("%Y-%m"))
    url = re.sub(r"\^|\$|\.\*", "", url)
    return url


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|javascript:", re.IGNORECASE)
INLINE_PROBLEMS = []


def check_page(method, url, response):
    """Every HTML page carries the Content-Security-Policy and passes it without inline scripts."""
    if method != "GET" or response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
        return
    if "script-src 'self'" not in response.get("Content-Security-Policy", ""):
        INLINE_PROBLEMS.append(f"{url}: no Content-Security-Policy")
    match = INLINE_SCRIPT.search(response.content.decode())
    if match:
        INLINE_PROBLEMS.append(f"{url}: inline script {match[0]!r}")


def probe(client, method, url):
    cache.clear()  # throttles and lockouts: every probe starts from zero
    cookies = copy.deepcopy(client.cookies)  # a logout must not end the session of the next probes
    with transaction.atomic():
        if url.startswith("/api/"):
            response = client.generic(method, url, "{}" if method != "GET" else "", content_type="application/json")
        elif method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, {})
        transaction.set_rollback(True)
    check_page(method, url, response)
    client.cookies = cookies
    return response.status_code


def measure(world, made):
    clients = {"anonymous": Client(raise_request_exception=False)}
    for role in Role.values:
        clients[role] = Client(raise_request_exception=False)
        clients[role].force_login(world.actor(role).user)
    table = {}
    for route in url_patterns():
        url = concrete_url(route, world, made)
        table[route] = {
            method: " ".join(str(probe(clients[role], method, url)) for role in ROLES) for method in methods(route)
        }
    return table


def write_table(table):
    header = '"""Generated by tests/test_access_table.py (ACCESS_TABLE_WRITE=1): route → method → the statuses of\n'
    header += f'{", ".join(ROLES)}. Review every change."""\n\n'
    TABLE_FILE.write_text(header + "ROLES = " + repr(ROLES) + "\n\nTABLE = " + pprint.pformat(table, width=118) + "\n")


@pytest.mark.django_db
def test_every_route_every_role_every_method(world, made):
    table = measure(world, made)
    if os.environ.get("ACCESS_TABLE_WRITE"):
        write_table(table)
    assert access_table.ROLES == ROLES
    missing = sorted(set(table) - set(access_table.TABLE))
    assert not missing, f"URL patterns without an entry in tests/access_table.py: {missing}"
    stale = sorted(set(access_table.TABLE) - set(table))
    assert not stale, f"Entries of tests/access_table.py for URL patterns that no longer exist: {stale}"
    differences = [
        f"{method} {route}: expected {expected}, got {table[route].get(method)} ({' '.join(ROLES)})"
        for route, row in access_table.TABLE.items()
        for method, expected in row.items()
        if table[route].get(method) != expected
    ]
    assert not differences, "\n".join(differences)
    assert not INLINE_PROBLEMS, INLINE_PROBLEMS
    server_errors = [f"{m} {r}: {s}" for r, row in table.items() for m, s in row.items() if " 5" in f" {s}"]
    assert not server_errors, server_errors

"""Automated accessibility checks (axe-core, through axe-playwright-python) on every main page of every role, at
desktop width and at a 390 px phone width: no serious or critical violation.

axe finds what a machine can (contrast, names, labels, landmarks, ARIA); keyboard and screen-reader walks stay
manual. The counts per page are printed (`-s`) for the issue's closing note."""

import pytest
from axe_playwright_python.sync_playwright import Axe

pytestmark = pytest.mark.e2e

PAGES = {
    "conseillere": [
        "/",
        "/?parcours=2&positionnements=2",
        "/conseil/jeunes/",
        "/conseil/jeunes/inscrire/",
        "/conseil/offres/",
        "/travail/",
        "/workflows/",
        "/travail/circuits/",
    ],
    "facilitateur": [
        "/",
        "/facilitation/positionnements/",
        "/facilitation/eligibilite/",
        "/facilitation/heures/",
        "/facilitation/registre/",
        "/travail/a-prendre/",
    ],
    "employeur": ["/", "/employeur/candidatures/", "/employeur/salaries/", "/employeur/offres/"],
    "auditeur": ["/", "/audit/parcours/"],
}
BLOCKING = {"serious", "critical"}
AXE = Axe()


def _blocking(page):
    results = AXE.run(page)
    violations = results.response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} × e.g. {v['nodes'][0]['target']}"
        for v in violations
        if v["impact"] in BLOCKING
    ], len(violations)


@pytest.mark.parametrize("width", [1366, 390], ids=["desktop", "phone"])
def test_main_pages_have_no_serious_accessibility_violation(login, width):
    found = {}
    for username, urls in PAGES.items():
        page = login(username)
        page.set_viewport_size({"width": width, "height": 900})
        for url in urls:
            page.goto(url)
            blocking, total = _blocking(page)
            print(f"axe {width}px {username} {url}: {total} violation(s), {len(blocking)} serious or critical")
            if blocking:
                found[f"{username} {url}"] = blocking
    assert not found, found

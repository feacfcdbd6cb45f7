"""End-to-end tests: the web interface in a real browser, against pytest-django's live server.

- The browser is the system's Chromium (`make browsers` installs Debian's package), driven headless by
  Playwright's sync API; Playwright's own browser download is not used. Without Chromium the tests fail (they
  are never skipped): set PARCOURS_CHROMIUM to use another binary.
- Each test gets a fresh demo world (`seed_demo`, committed: `live_server` uses a transactional database, the
  top-level conftest handles the flush on PostgreSQL), seeded before the browser starts.
- While Playwright runs, its event loop is registered as running in the main thread: Django's async-safety
  check would refuse the ORM calls a test makes between two pages, and `async_to_sync` (notifications) would
  refuse to run. So the browser is started per test, after the seeding, and the check is lifted only while it
  runs (the environment variable is restored afterwards: the rest of the suite keeps the check).
- Every main page is saved as a screenshot into artifacts/screenshots/, named by step.
- The pages are tested with their stylesheets: pytest-django's live server serves STATIC_ROOT only (our staticfiles
  app is a subclass, which it does not recognise), so the static files are collected there once per session —
  without them, layout, phone widths, focus rings and colour contrast would go untested.
"""

import os
import re
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command
from playwright.sync_api import expect, sync_playwright

CHROMIUM = os.environ.get("PARCOURS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
PASSWORD = "demo"  # seed_demo's password for every login
TIMEOUT_MS = 15_000  # actions and assertions alike: generous for a loaded CI machine, still fails fast
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """The live server's threads and the test share the test database. On SQLite, Django's test database in memory
    is shared through SQLite's shared cache, whose table locks fail at once instead of waiting: a page of one
    browser context retrying its live connection while another context signed in made the session's save fail
    ("database table is locked"), and the login answered 400 now and then. A database file waits for the lock
    (the `timeout` option of parcours.settings), as the demo's file does."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("e2e") / "parcours-e2e.sqlite3")


@pytest.fixture(scope="session", autouse=True)
def _collected_static_files():
    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture
def demo(live_server):
    """The demo world (organisations, logins, register, offers, fifty stories), in the live server's database.

    Its hundreds of notifications are not sent (nobody listens yet): delivering each one through the channel
    layer would triple the seeding time."""
    with mock.patch("parcours.notifications.get_channel_layer", return_value=None):
        call_command("seed_demo", verbosity=0)
    return live_server


@pytest.fixture
def browser(demo):
    """Headless Chromium for one test (Playwright's loop must not outlive it: see the module docstring)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium is missing ({CHROMIUM}): run `make browsers`.", pytrace=False)
    expect.set_options(timeout=TIMEOUT_MS)
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture
def login(request, browser, demo):
    """`login(username)`: a page of a fresh browser context (own cookies), signed in through the login form.

    When the test fails, each signed-in page is saved as FAILED-<test>-<username>.png next to the screenshots."""
    contexts = []
    failed_prefix = re.sub(r"[^\w.-]+", "_", f"FAILED-{request.node.name}-")
    for stale in SCREENSHOTS.glob(f"{failed_prefix}*.png"):
        stale.unlink()

    def sign_in(username):
        context = browser.new_context(base_url=demo.url, locale="fr-FR", viewport={"width": 1366, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append((username, context))
        page = context.new_page()
        page.goto("/connexion/")
        page.get_by_label("Identifiant").fill(username)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        expect(page).not_to_have_url(re.compile(r"/connexion/"))
        return page

    yield sign_in
    failed = request.node.stash.get(FAILED, False)
    for username, context in contexts:
        if failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            for page in context.pages:
                page.screenshot(path=SCREENSHOTS / f"{failed_prefix}{username}.png", full_page=True)
        context.close()


@pytest.fixture
def shot():
    """`shot(page, "03-adviser-intake")`: a full-page screenshot of the page, in artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name):
        page.wait_for_load_state("load")  # its stylesheets applied, not only its DOM parsed
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    return save

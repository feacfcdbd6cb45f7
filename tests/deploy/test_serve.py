"""`make serve`, as a newcomer runs it, and the multi-process behaviour of live pages.

One stack for the module: the working tree copied to a temporary directory (a fresh clone: no var/, no collected
static files, no database), then `make serve` there with its own throwaway PostgreSQL and Redis, two ASGI workers
behind nginx, the timer worker, DEBUG=0. It listens on a free port instead of 8000 (a demo may be running there).
The tests talk to nginx, and to each worker directly where the point is that two processes are involved.

Marked postgres and redis: run by `make test-postgres` (the stack brings its own PostgreSQL and Redis; this process
does not touch a database).
"""

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from playwright.sync_api import expect, sync_playwright
from websockets.sync.client import connect

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(settings.BASE_DIR)
CHROMIUM = os.environ.get("PARCOURS_CHROMIUM", "/usr/bin/chromium")
BOOT_SECONDS = 300
PASSWORD = "demo"
TIMEOUT = 10  # seconds, for one event to arrive
REPORT = ROOT / "artifacts" / "live-delivery.txt"


def report(line):
    """Figures for the operator's notes: printed (pytest -s) and appended to artifacts/live-delivery.txt."""
    print(f"\n{line}")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    with REPORT.open("a") as out:
        out.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_copy(target: Path) -> Path:
    """The files git knows of (tracked, or new and not ignored), with their times (so `make` sees an installed
    environment as up to date)."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())
    return target


class Stack:
    def __init__(self, process, log, base, worker_ports):
        self.process, self.log, self.base, self.worker_ports = process, log, base, worker_ports

    def output(self):
        return self.log.read_text(errors="replace")


def _descendants(pid):
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    children = {}
    for line in out.splitlines():
        child, parent = map(int, line.split())
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    clone = fresh_copy(tmp_path_factory.mktemp("clone"))
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    port = free_port()
    # A newcomer's shell: none of this test run's settings (its database, Redis, pytest worker name).
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTEST", "DJANGO", "PARCOURS_"))
        and name not in ("DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY")
    }
    env["PARCOURS_TIMER_INTERVAL"] = "2"
    with log.open("wb") as out:
        # Its own session, like a terminal: Ctrl-C reaches make and everything it started.
        process = subprocess.Popen(
            ["make", "serve", f"PORT={port}", f"VENV={ROOT / '.venv'}"],
            cwd=clone,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + BOOT_SECONDS
    banner = None
    while time.monotonic() < deadline and process.poll() is None:
        banner = re.search(r"worker\(s\) ASGI sur ([\d ]+) ;", log.read_text(errors="replace"))
        if banner and "Ctrl-C pour tout arrêter" in log.read_text(errors="replace"):
            break
        time.sleep(1)
    else:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(60)
        pytest.fail(f"make serve did not start:\n{log.read_text(errors='replace')[-6000:]}")
    stack = Stack(process, log, f"http://127.0.0.1:{port}", [int(p) for p in banner.group(1).split()])
    yield stack
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(60)


def login(base, username):
    session = requests.Session()
    session.get(f"{base}/connexion/", timeout=10).raise_for_status()
    response = session.post(
        f"{base}/connexion/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Origin": base, "Referer": f"{base}/connexion/"},
        timeout=10,
    )
    assert response.status_code == 200 and "sessionid" in session.cookies, response.text[:500]
    return session


_tokens = {}


def api(base, username):
    """An API session for `username` (one token per user, valid on every worker: the token endpoint is throttled)."""
    if username not in _tokens:
        response = requests.post(
            f"{base}/api/v1/auth/token/", json={"username": username, "password": PASSWORD}, timeout=10
        )
        response.raise_for_status()
        _tokens[username] = response.json()["token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Token {_tokens[username]}"
    return session


def websocket(base, session):
    host = base.removeprefix("http://")
    return connect(
        f"ws://{host}/ws/notifications/",
        additional_headers={"Cookie": f"sessionid={session.cookies['sessionid']}", "Origin": base},
        open_timeout=10,
    )


def wait_until_live(page, timeout=10.0):
    """Until the page's websocket is open. Polled with page.evaluate: wait_for_function evaluates its predicate as a
    string, which the pages' CSP (no 'unsafe-eval') refuses now and then (microsoft/playwright#7395)."""
    deadline = time.monotonic() + timeout
    while page.evaluate("() => Boolean(window.parcoursLive) && window.parcoursLive.state") != "open":
        assert time.monotonic() < deadline, "the page's websocket never opened"
        page.wait_for_timeout(100)


def receive_until(ws, wanted, *, timeout=TIMEOUT):
    """The messages received until `wanted(message)` is true; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"nothing matching in {seen}"
        message = json.loads(ws.recv(timeout=remaining))
        seen.append(message)
        if wanted(message):
            return seen


def all_pages(session, url):
    results = []
    while url:
        body = session.get(url, timeout=10).json()
        results += body["results"]
        url = body.get("next")
    return results


def open_offers_of(base, employer):
    """The open offers of `employer`'s company (as the adviser lists them)."""
    theirs = {o["id"] for o in all_pages(api(base, employer), f"{base}/api/v1/job-offers/")}
    adviser = api(base, "conseillere")
    return [o["id"] for o in all_pages(adviser, f"{base}/api/v1/job-offers/?is_open=true") if o["id"] in theirs]


def new_referral(base, adviser, offers):
    """(id, moment the successful request left) of a fresh referral by the adviser: the first eligible pathway and
    offer that accept each other (some offers are reserved to priority neighbourhoods)."""
    for pathway in all_pages(adviser, f"{base}/api/v1/pathways/?state=eligible"):
        for offer in offers:
            started = time.perf_counter()
            response = adviser.post(
                f"{base}/api/v1/referrals/", json={"pathway": pathway["id"], "offer": offer, "motivation": "Motivé."}
            )
            if response.status_code == 201:
                return response.json()["id"], started
    pytest.fail("no eligible pathway for these offers in the demo")


def concerns(referral, action=None):
    return lambda m: (
        m.get("object_type") == "referral" and m.get("object_id") == referral and action in (None, m.get("action"))
    )


def test_serves_with_debug_off_static_files_and_health(stack):
    health = requests.get(f"{stack.base}/health/", timeout=10)
    assert health.status_code == 200, health.text
    checks = health.json()["checks"]
    assert checks["database"]["status"] == "ok" and checks["database"]["vendor"] == "postgresql"
    assert checks["redis"]["status"] == "ok"
    assert checks["timer_worker"]["status"] == "ok" and checks["timer_worker"]["last_beat_seconds"] < 30
    assert requests.get(f"{stack.base}/health/ready/", timeout=10).json()["status"] == "ok"
    assert requests.get(f"{stack.base}/health/live/", timeout=10).json() == {"status": "ok"}
    # Served by nginx, balanced over the workers, with the request id nginx made.
    response = requests.get(f"{stack.base}/connexion/", timeout=10)
    assert response.headers["Server"].startswith("nginx") and response.headers["X-Request-ID"]
    # DEBUG=0: a missing page is the plain 404, no debug page.
    missing = requests.get(f"{stack.base}/nulle-part/", timeout=10)
    assert missing.status_code == 404 and "Traceback" not in missing.text and "DEBUG" not in missing.text
    # Static files: the hashed names collectstatic wrote, served by nginx, cacheable.
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', response.text)
    assert any(re.search(r"\.[0-9a-f]{12}\.css$", a) for a in assets) and len(assets) >= 4
    for asset in assets:
        static = requests.get(f"{stack.base}{asset}", timeout=10)
        assert static.status_code == 200 and static.headers["Server"].startswith("nginx")
        assert "max-age" in static.headers["Cache-Control"] and len(static.content) > 100
    admin_css = requests.get(f"{stack.base}/admin/login/", timeout=10).text
    assert requests.get(stack.base + re.search(r'href="(/static/admin/[^"]+\.css)"', admin_css).group(1)).ok
    # Every worker answers, each with PostgreSQL and Redis.
    for port in stack.worker_ports:
        assert requests.get(f"http://127.0.0.1:{port}/health/ready/", timeout=10).json()["status"] == "ok"
    # The demo logins work.
    for username in ("conseillere", "facilitateur", "employeur", "auditeur"):
        home = login(stack.base, username).get(f"{stack.base}/", timeout=10)
        assert home.status_code == 200 and "Déconnexion" in home.text or "deconnexion" in home.text


def test_application_role_owns_nothing(stack):
    """The workers run as parcours_app: they read and write rows, and cannot alter the schema."""
    output = stack.output()
    assert "Droits accordés à parcours_app." in output
    assert "postgres://parcours_app:" not in output and "PASSWORD" not in output


def test_event_crosses_workers_to_websocket_and_page(stack):
    """A transition done through one worker reaches a websocket client connected to the other one, and the page of
    a browser connected to that other worker updates without reload. Delivery delay measured."""
    web_a, web_b = (f"http://127.0.0.1:{port}" for port in stack.worker_ports[:2])
    adviser = api(web_b, "conseillere")
    offers = [o["id"] for o in all_pages(adviser, f"{web_b}/api/v1/job-offers/?is_open=true")]
    watcher = login(web_a, "facilitateur")
    delays, round_trips, after_response = [], [], []
    with websocket(web_a, watcher) as ws:
        time.sleep(0.5)  # the group subscription is in place
        # The adviser sends a referral and cancels it, through worker B; the facilitator watches through worker A.
        for _ in range(12):
            referral, started = new_referral(web_b, adviser, offers)
            answered = time.perf_counter()
            round_trips.append(answered - started)
            receive_until(ws, concerns(referral))
            delays.append(time.perf_counter() - started)
            after_response.append(time.perf_counter() - answered)
            started = time.perf_counter()
            cancel = adviser.post(
                f"{web_b}/api/v1/referrals/{referral}/transitions/cancel/", json={"reason": "Essai."}
            )
            answered = time.perf_counter()
            round_trips.append(answered - started)
            assert cancel.status_code == 200, cancel.text
            receive_until(ws, concerns(referral, "cancel"))
            delays.append(time.perf_counter() - started)
            after_response.append(time.perf_counter() - answered)
    p50, p95 = statistics.median(delays), statistics.quantiles(delays, n=20)[-1]
    after_p95 = statistics.quantiles(after_response, n=20)[-1]
    report(
        f"DELIVERY across workers ({len(delays)} events, action sent to worker B → frame at client on worker A): "
        f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; the action's round trip alone: p50 "
        f"{statistics.median(round_trips) * 1000:.0f} ms; frame after the action's response: p50 "
        f"{statistics.median(after_response) * 1000:.1f} ms, p95 {after_p95 * 1000:.1f} ms"
    )
    assert p95 < 2.0  # a guard against a broken path; the figures above are the measure

    # The employer's candidates page, open through worker A, shows the candidate forwarded through worker B.
    facilitator_api = api(web_b, "facilitateur")
    referral, _ = new_referral(web_b, adviser, open_offers_of(web_b, "employeur"))
    for name in ("start_review", "approve"):
        assert facilitator_api.post(f"{web_b}/api/v1/referrals/{referral}/transitions/{name}/", json={}).ok
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(locale="fr-FR")
        page.goto(f"{web_a}/connexion/")
        page.fill("input[name=username]", "employeur")
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        page.goto(f"{web_a}/employeur/candidatures/")
        expect(page.locator(f'a[href="/positionnements/{referral}/"]')).to_have_count(0)
        wait_until_live(page)
        started = time.perf_counter()
        response = facilitator_api.post(f"{web_b}/api/v1/referrals/{referral}/transitions/forward/", json={})
        assert response.status_code == 200, response.text
        expect(page.locator(f'a[href="/positionnements/{referral}/"]')).to_have_count(1, timeout=5_000)
        shown = time.perf_counter() - started
        report(f"PAGE updated {shown * 1000:.0f} ms after the forward was sent (websocket + refetch of the list)")
        assert shown < 3.0

        # A referral open at the facilitator's (worker A) while the adviser cancels it (worker B): its action buttons
        # disappear, and the page says someone acted first.
        referral, _ = new_referral(web_b, adviser, offers)
        page = browser.new_page(locale="fr-FR")
        page.goto(f"{web_a}/connexion/")
        page.fill("input[name=username]", "facilitateur")
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        page.goto(f"{web_a}/positionnements/{referral}/")
        button = page.locator(f'[data-action="referral:{referral}:start_review"]')
        expect(button).to_have_count(1)
        wait_until_live(page)
        cancel = adviser.post(f"{web_b}/api/v1/referrals/{referral}/transitions/cancel/", json={"reason": "Essai."})
        assert cancel.status_code == 200, cancel.text
        expect(button).to_have_count(0)
        expect(page.locator("#live-messages")).to_contain_text("Quelqu'un a agi avant vous")
        expect(page.locator("#live-messages")).to_contain_text("« Prendre en examen » n'est plus possible")
        browser.close()


def test_reconnecting_client_catches_up_within_its_scope(stack):
    """A client disconnected during three events receives the three on reconnect; a client of another company
    gets none of them."""
    web_a, web_b = (f"http://127.0.0.1:{port}" for port in stack.worker_ports[:2])
    referral, _ = new_referral(web_b, api(web_b, "conseillere"), open_offers_of(web_b, "employeur"))
    facilitator, other_employer = login(web_a, "facilitateur"), login(web_a, "employeur.b")
    marks = {}
    for name, session in (("facilitateur", facilitator), ("employeur.b", other_employer)):
        with websocket(web_a, session) as ws:
            ws.send(json.dumps({"type": "resume", "since_time": time.time() - 3600}))
            replayed = []
            try:
                while True:
                    replayed.append(json.loads(ws.recv(timeout=1.5)))
            except TimeoutError:
                pass
            marks[name] = max([m["event_id"] for m in replayed if "event_id" in m], default=0)
    # Disconnected: three events through the other worker.
    facilitator_api = api(web_b, "facilitateur")
    for name in ("start_review", "approve", "forward"):
        assert facilitator_api.post(f"{web_b}/api/v1/referrals/{referral}/transitions/{name}/", json={}).ok
    with websocket(web_a, facilitator) as ws:
        ws.send(json.dumps({"type": "resume", "since": marks["facilitateur"]}))
        seen = receive_until(ws, concerns(referral, "forward"))
        # (A few events before `since` are replayed too, for transactions that commit out of order: the page
        # ignores the ids it has seen.)
        missed = [m for m in seen if m.get("event_id", 0) > marks["facilitateur"]]
        mine = [m for m in missed if m.get("object_id") == referral and m.get("object_type") == "referral"]
        assert [m["action"] for m in mine] == ["start_review", "approve", "forward"]
        assert all(m["replayed"] and m["mine"] is True for m in mine)  # done by the same person, elsewhere
        assert all("actor_user_id" not in m for m in seen)
    with websocket(web_a, other_employer) as ws:
        ws.send(json.dumps({"type": "resume", "since": marks["employeur.b"]}))
        replayed = []
        try:
            while True:
                replayed.append(json.loads(ws.recv(timeout=2)))
        except TimeoutError:
            pass
        assert not [m for m in replayed if m.get("object_type") == "referral" and m.get("object_id") == referral]


def test_forward_emails_the_employer_on_the_console(stack):
    """The timer worker sends the e-mail of the forward (console backend: in make serve's output)."""
    deadline = time.monotonic() + 30
    told = "Une candidature vous est transmise pour l'offre"
    while time.monotonic() < deadline and told not in stack.output():
        time.sleep(1)
    output = stack.output()
    assert told in output and f"{stack.base}/positionnements/" in output
    assert "Objet : [Parcours] Nouvelle candidature — " in output  # readable, not MIME-encoded


def _running(pid) -> bool:
    """Still there and not a zombie: an exited child the container's init has not reaped yet runs nothing."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_ctrl_c_leaves_nothing_running(stack):
    pids = _descendants(stack.process.pid)
    assert len(pids) >= 6  # wrappers, PostgreSQL, Redis (daemonised: not a descendant), nginx, workers
    ports = [int(stack.base.rsplit(":", 1)[1]), *stack.worker_ports]
    os.killpg(stack.process.pid, signal.SIGINT)
    stack.process.wait(60)
    time.sleep(1)
    alive = [pid for pid in pids if _running(pid)]
    assert not alive, subprocess.run(["ps", "-o", "pid,cmd", "-p", ",".join(map(str, alive))], capture_output=True)
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0
    output = stack.output()
    match = re.search(r"Redis : 127\.0\.0\.1:(\d+)", output)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", int(match.group(1)))) != 0
    files = re.search(r"Fichiers : (\S+)", output).group(1)
    assert not Path(files).exists()

"""`make soak`: concurrent clients fire transitions through the API for SOAK_SECONDS while a worker dies.

Run by scripts/serve.sh once its stack is ready (throwaway PostgreSQL and Redis, the release step, the demo seed,
two ASGI workers behind nginx, the timer worker; `make soak`). SOAK_CLIENTS threads (32) log in as the demo adviser,
facilitator and employer and, for SOAK_SECONDS (60), pick their next object from the first rows of their own lists —
the same few objects for every client of a role, so that they collide — and fire its next transition:

  adviser      creates participants (a pathway in intake), submits their eligibility, refers eligible pathways to
               the employer's open offers, cancels a referral now and then;
  facilitator  validates eligibilities, takes referrals in review, approves (or declines) and forwards them;
  employer     accepts, refuses, sometimes hires.

Halfway through, one ASGI worker and the timer worker are killed with SIGKILL and started again. The facilitation
organisations' reminder delay is set to 0 days first, so that every referral arms a timer due at once and the timer
worker fires timers during the whole run (and while it is killed).

Then every attempt is reckoned against the journal (`reckon`): an acknowledged transition without its event is
lost; an event beyond the attempts that may have caused it, or an event that leaves a state the object was no longer
in, is doubled; a timer with two firing events fired twice. Requests without an answer (connection reset, nginx's
502 while a worker is down) are neither: they are checked against the journal and counted as landed or not. Last,
`manage.py verify_journal`. Exit status 0 only if lost, doubled, 5xx and timers fired twice are all 0, the journal
verifies, and the clients got work done.
"""

from __future__ import annotations

import datetime
import os
import random
import signal
import string
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "demo"
CRITERION = "YOUTH_UNDER_26_LOW_QUALIFICATION"
REASON = {"reason": "Essai de charge."}
PICK_AMONG = 4  # clients of a role choose among the first rows of the same list: they collide
TERMINAL = {"declined", "refused", "cancelled", "expired", "hired"}

# --- Accounting (pure: unit-tested in tests/deploy/test_soak_accounting.py) ------------------------------------------
OK, REFUSED, OTHER_4XX, SERVER_ERROR, NO_ANSWER = "ok", "refused", "other_4xx", "5xx", "no_answer"


@dataclass
class Attempt:
    """One request a client meant as one transition (or creation) of one object."""

    object_type: str
    object_id: int | None  # None: a creation that got no answer (its object is unknown)
    action: str
    outcome: str
    status: int | None = None
    code: str = ""  # the problem document's code, for the other 4xx


@dataclass
class Event:
    id: int
    object_type: str
    object_id: int
    sequence: int
    action: str
    from_state: str
    to_state: str


@dataclass
class Figures:
    attempted: int = 0
    succeeded: int = 0
    refused_409: int = 0
    other_4xx: Counter = field(default_factory=Counter)
    server_errors: int = 0
    no_answer: int = 0
    no_answer_landed: int = 0
    no_answer_not_landed: int = 0
    no_answer_unknown: int = 0  # creations without an answer: no object to look up
    lost: list = field(default_factory=list)  # (object_type, object_id, action) told 2xx, missing from the journal
    doubled: list = field(default_factory=list)  # journal event ids
    timers_fired: int = 0
    timers_fired_twice: int = 0

    @property
    def clean(self) -> bool:
        return not (self.lost or self.doubled or self.server_errors or self.timers_fired_twice)


def classify(status: int | None, content_type: str = "") -> str:
    """The outcome of one answer. No answer (None) and nginx's own 502/503/504 (an upstream that died or is down,
    never a problem document from the application) leave the outcome unknown."""
    if status is None or (status in (502, 503, 504) and "problem+json" not in content_type):
        return NO_ANSWER
    if status < 300:
        return OK
    if status == 409:
        return REFUSED
    if status >= 500:
        return SERVER_ERROR
    return OTHER_4XX


def reckon(attempts: list[Attempt], events: list[Event], since: int = 0) -> Figures:
    """Attempts against the journal.

    Per (object, action) the clients fired: `acked` attempts were told 2xx, `unknown` got no answer, and the journal
    holds `journaled` events since the run began (`since`: the last event id before it; earlier events only give
    the chains their starting state). Lost: acked − journaled (when positive). Doubled: journaled − acked − unknown
    (when positive; a refused attempt that wrote is such an excess), the latest events counted. The unknown attempts
    landed for what the journal holds beyond the acked.
    And per object, along its chain: an event whose state before is not the state the previous event left (the
    object left a state twice) is doubled too. Timers: one firing event per timer task; more is a double firing.
    """
    figures = Figures()
    acked, unknown, tried = Counter(), Counter(), set()
    for attempt in attempts:
        figures.attempted += 1
        if attempt.object_id is not None:
            tried.add((attempt.object_type, attempt.object_id, attempt.action))
        if attempt.outcome == OK:
            figures.succeeded += 1
            acked[(attempt.object_type, attempt.object_id, attempt.action)] += 1
        elif attempt.outcome == REFUSED:
            figures.refused_409 += 1
        elif attempt.outcome == SERVER_ERROR:
            figures.server_errors += 1
        elif attempt.outcome == NO_ANSWER:
            figures.no_answer += 1
            if attempt.object_id is None:
                figures.no_answer_unknown += 1
            else:
                unknown[(attempt.object_type, attempt.object_id, attempt.action)] += 1
        else:
            figures.other_4xx[(attempt.status, attempt.code, attempt.action)] += 1

    journaled = defaultdict(list)
    chains = defaultdict(list)
    timers = Counter()
    for event in sorted(events, key=lambda e: (e.object_type, e.object_id, e.sequence)):
        chains[(event.object_type, event.object_id)].append(event)
        if event.id <= since:
            continue  # before the run: context for the chains only
        journaled[(event.object_type, event.object_id, event.action)].append(event)
        if event.object_type == "timer":
            timers[event.object_id] += 1
    doubled = set()
    for key in tried:
        found = journaled.get(key, [])
        figures.lost += [key] * max(0, acked[key] - len(found))
        landed = min(unknown[key], max(0, len(found) - acked[key]))
        figures.no_answer_landed += landed
        figures.no_answer_not_landed += unknown[key] - landed
        excess = len(found) - acked[key] - unknown[key]
        if excess > 0:
            doubled.update(event.id for event in found[-excess:])
    for chain in chains.values():
        state = None
        for event in chain:
            if event.from_state and state is not None and event.from_state != state:
                doubled.add(event.id)
            if event.to_state:
                state = event.to_state
    figures.doubled = sorted(doubled)
    figures.timers_fired = sum(timers.values())
    figures.timers_fired_twice = sum(count - 1 for count in timers.values() if count > 1)
    return figures


# --- The clients -------------------------------------------------------------------------------------------------
class Soak:
    def __init__(self, base: str, seconds: float, clients: int):
        import requests  # noqa: F401  (checked before the run starts)

        self.base, self.seconds, self.clients = base, seconds, clients
        self.attempts: list[Attempt] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.tokens = {}
        self.offers: list[int] = []
        self.today = datetime.date.today()

    # HTTP
    def session(self, username):
        import requests

        session = requests.Session()
        session.headers["Authorization"] = f"Token {self.tokens[username]}"
        return session

    def login(self, username):
        import requests

        response = requests.post(
            f"{self.base}/api/v1/auth/token/", json={"username": username, "password": PASSWORD}, timeout=30
        )
        response.raise_for_status()
        self.tokens[username] = response.json()["token"]

    def rows(self, session, path, **params):
        """The first rows of a list (what a person sees at the top of their page); [] if it did not answer."""
        try:
            response = session.get(f"{self.base}/api/v1/{path}/", params={"page_size": 20, **params}, timeout=30)
        except Exception:
            return []
        return response.json().get("results", []) if response.status_code == 200 else []

    def fire(self, session, object_type, path, object_id, action, body=None):
        url = f"{self.base}/api/v1/{path}/{object_id}/transitions/{action}/"
        return self.record(session, object_type, object_id, action, url, body or {})

    def create(self, session, object_type, path, body):
        return self.record(session, object_type, None, "create", f"{self.base}/api/v1/{path}/", body)

    def record(self, session, object_type, object_id, action, url, body):
        status, content_type, payload, code = None, "", None, ""
        try:
            response = session.post(url, json=body, timeout=30)
            status, content_type = response.status_code, response.headers.get("Content-Type", "")
            if status < 300:
                payload = response.json()
            elif "problem+json" in content_type:
                code = response.json().get("code", "")
        except Exception:
            pass
        outcome = classify(status, content_type)
        if object_id is None and payload:
            object_id = payload["id"]
        with self.lock:
            self.attempts.append(Attempt(object_type, object_id, action, outcome, status, code))
        return payload

    # Roles
    def adviser(self, session, rng):
        roll = rng.random()
        if roll < 0.05:
            live = self.rows(session, "referrals", state=rng.choice(["sent", "under_review"]))
            if live:
                referral = rng.choice(live[:PICK_AMONG])
                return self.fire(session, "referral", "referrals", referral["id"], "cancel", REASON)
        eligible = self.rows(session, "pathways", state="eligible")
        if eligible and roll < 0.55 and self.offers:
            pathway = rng.choice(eligible[:PICK_AMONG])
            body = {"pathway": pathway["id"], "offer": rng.choice(self.offers), "motivation": "Motivé."}
            return self.create(session, "referral", "referrals", body)
        intake = self.rows(session, "pathways", state="intake")
        if intake and roll < 0.85:
            pathway = rng.choice(intake[:PICK_AMONG])
            body = {"criteria": [CRITERION]}
            return self.fire(session, "pathway", "pathways", pathway["id"], "submit_eligibility", body)
        return self.create(session, "participant", "participants", self.participant(rng))

    def participant(self, rng):
        def name():
            return "".join(rng.choices(string.ascii_lowercase, k=9)).capitalize()

        birth = self.today.replace(year=self.today.year - 19, day=1) - datetime.timedelta(days=rng.randrange(300))
        return {
            "first_name": name(),
            "last_name": name(),
            "birth_date": birth.isoformat(),
            "email": f"{name().lower()}@example.org",
            "phone": "06" + "".join(rng.choices(string.digits, k=8)),
            "postcode": "69120",
            "commune": "Vaulx-en-Velin",
            "is_qpv_resident": True,
            "qualification_level": "infra_3",
            "programme": "cej",
        }

    def facilitator(self, session, rng):
        if rng.random() < 0.2:
            pending = self.rows(session, "pathways", state="eligibility_pending")
            if pending:
                pathway = rng.choice(pending[:PICK_AMONG])
                # No proofs: the seed's pending pathways declared other criteria than the ones the clients submit.
                return self.fire(session, "pathway", "pathways", pathway["id"], "validate_eligibility")
        state = rng.choice(["sent", "under_review", "approved"])
        referrals = self.rows(session, "referrals", state=state)
        if not referrals:
            return None
        referral = rng.choice(referrals[:PICK_AMONG])["id"]
        if state == "sent":
            action = "start_review"
        elif state == "under_review":
            action = "decline" if rng.random() < 0.1 else "approve"
        else:
            action = "forward"
        return self.fire(session, "referral", "referrals", referral, action, REASON if action == "decline" else None)

    def employer(self, session, rng):
        state = rng.choice(["forwarded", "accepted"])
        referrals = self.rows(session, "referrals", state=state)
        if not referrals:
            return None
        referral = rng.choice(referrals[:PICK_AMONG])["id"]
        if state == "forwarded":
            action, body = ("refuse", REASON) if rng.random() < 0.3 else ("accept", None)
        elif rng.random() < 0.1:
            body = {"contract_type": "cdd", "start_date": self.today.isoformat(), "weekly_hours": 35}
            action = "hire"
        else:
            action, body = "refuse", REASON
        return self.fire(session, "referral", "referrals", referral, action, body)

    def client(self, number, username, act):
        rng = random.Random(number)
        session = self.session(username)
        while not self.stop.is_set():
            if act(session, rng) is None:
                time.sleep(0.05)  # nothing to do for this role just now

    def run(self, chaos):
        for username in ("conseillere", "facilitateur", "employeur"):
            self.login(username)
        adviser, employer = self.session("conseillere"), self.session("employeur")
        theirs = {o["id"] for o in self.rows(employer, "job-offers", page_size=100)}
        open_offers = self.rows(adviser, "job-offers", is_open="true", page_size=100)
        self.offers = [o["id"] for o in open_offers if o["id"] in theirs]
        roles = [("conseillere", self.adviser), ("facilitateur", self.facilitator), ("employeur", self.employer)]
        mix = [roles[0]] * 10 + [roles[1]] * 14 + [roles[2]] * 8
        threads = [
            threading.Thread(target=self.client, args=(n, *mix[n % len(mix)]), daemon=True)
            for n in range(self.clients)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        chaos_thread = threading.Thread(target=chaos, args=(started + self.seconds / 2,), daemon=True)
        chaos_thread.start()
        time.sleep(max(0.0, started + self.seconds - time.monotonic()))
        self.stop.set()
        for thread in threads:
            thread.join(60)
        chaos_thread.join(120)
        return time.monotonic() - started


# --- The stack: kill and restart, the journal --------------------------------------------------------------------
def descendant_matching(pid: int, needle: str) -> int:
    """`pid` or the first of its descendants whose command line contains `needle` (serve.sh's process may be a
    shell around the real one)."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    rows = [line.split(None, 2) for line in out.splitlines()]
    children = defaultdict(list)
    for child, parent, *args in rows:
        children[int(parent)].append((int(child), args[0] if args else ""))
    todo = [(pid, Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())]
    while todo:
        candidate, args = todo.pop(0)
        if needle in args:
            return candidate
        todo += children.get(candidate, [])
    raise RuntimeError(f"no process matching {needle!r} under {pid}")


def wait_ready(url, seconds=120):
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return True
        except Exception:
            pass
        time.sleep(0.2)
    return False


class Chaos:
    """At the middle of the run: SIGKILL the first ASGI worker and the timer worker, start them again."""

    def __init__(self, web_pid, web_port, worker_pid, logs: Path):
        self.web_pid, self.web_port, self.worker_pid, self.logs = web_pid, web_port, worker_pid, logs
        self.started: list[subprocess.Popen] = []
        self.outage = None
        self.done = False

    def __call__(self, at):
        time.sleep(max(0.0, at - time.monotonic()))
        killed = time.monotonic()
        os.kill(descendant_matching(self.web_pid, "uvicorn"), signal.SIGKILL)
        os.kill(descendant_matching(self.worker_pid, "run_timers"), signal.SIGKILL)
        time.sleep(1)  # the clients meet a dead upstream for a while
        self.logs.mkdir(parents=True, exist_ok=True)
        for command, name in (
            ([str(ROOT / "deploy/bin/parcours-web"), str(self.web_port)], "web"),
            ([str(ROOT / "deploy/bin/parcours-worker")], "worker"),
        ):
            with (self.logs / f"soak-restarted-{name}.log").open("ab") as log:
                self.started.append(subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        self.done = wait_ready(f"http://127.0.0.1:{self.web_port}/health/ready/")
        self.outage = time.monotonic() - killed

    def stop(self):
        for process in self.started:
            process.terminate()
        for process in self.started:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def database():
    import psycopg

    return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)


def set_reminders_due_at_once():
    """Configuration, as an administrator edits it: every referral arms a reminder timer due at once."""
    with database() as connection:
        connection.execute("UPDATE roles_organisation SET referral_reminder_days = 0 WHERE referral_expiry_days > 0")


def journal_events(since_id: int) -> list[Event]:
    with database() as connection:
        rows = connection.execute(
            "SELECT id, object_type, object_id, sequence, action, from_state, to_state FROM workflows_journalevent "
            "WHERE (object_type, object_id) IN "
            "(SELECT object_type, object_id FROM workflows_journalevent WHERE id > %s)",
            (since_id,),
        ).fetchall()
    return [Event(*row) for row in rows]


def last_event_id() -> int:
    with database() as connection:
        return connection.execute("SELECT coalesce(max(id), 0) FROM workflows_journalevent").fetchone()[0]


def verify_journal() -> tuple[bool, str]:
    python = Path(os.environ.get("PARCOURS_VENV", ROOT / ".venv")) / "bin/python"
    result = subprocess.run(
        [str(python), "manage.py", "verify_journal"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    return result.returncode == 0, (result.stdout + result.stderr).strip()


def report(figures: Figures, *, seconds, clients, chaos: Chaos, verified, verification) -> str:
    other = ", ".join(f"{s} {c} ({a}): {n}" for (s, c, a), n in figures.other_4xx.most_common()) or "—"
    outage = f"back after {chaos.outage:.1f} s" if chaos.done else "NOT back"
    lines = [
        f"Soak: {seconds:.0f} s, {clients} clients, 2 ASGI workers behind nginx; worker 1 and the timer worker "
        f"killed -9 halfway, {outage}",
        f"  transitions attempted      {figures.attempted:>7}   (creations included)",
        f"  succeeded (2xx)            {figures.succeeded:>7}",
        f"  refused with 409           {figures.refused_409:>7}",
        f"  other 4xx                  {sum(figures.other_4xx.values()):>7}   ({other})",
        f"  no answer (killed worker)  {figures.no_answer:>7}   (landed: {figures.no_answer_landed}, not landed: "
        f"{figures.no_answer_not_landed}, creations not traceable: {figures.no_answer_unknown})",
        f"  lost                       {len(figures.lost):>7}",
        f"  doubled                    {len(figures.doubled):>7}",
        f"  5xx                        {figures.server_errors:>7}",
        f"  timers fired               {figures.timers_fired:>7}",
        f"  timers fired twice         {figures.timers_fired_twice:>7}",
        f"  journal verified           {'yes' if verified else 'NO':>7}   ({verification.splitlines()[-1]})",
    ]
    if figures.lost:
        lines.append(f"  lost: {figures.lost[:20]}")
    if figures.doubled:
        lines.append(f"  doubled journal events: {figures.doubled[:20]}")
    return "\n".join(lines)


def main() -> int:
    seconds = float(os.environ.get("SOAK_SECONDS", "60"))
    clients = int(os.environ.get("SOAK_CLIENTS", "32"))
    base = os.environ["PARCOURS_BASE_URL"]
    ports = os.environ["SERVE_WEB_PORTS"].split()
    pids = [int(pid) for pid in os.environ["SERVE_WEB_PIDS"].split()]
    chaos = Chaos(pids[0], int(ports[0]), int(os.environ["SERVE_WORKER_PID"]), Path(os.environ["PARCOURS_VAR_DIR"]))
    set_reminders_due_at_once()
    since = last_event_id()
    print(f"Soak : {clients} clients pendant {seconds:g} s sur {base}…", file=sys.stderr, flush=True)
    soak = Soak(base, seconds, clients)
    try:
        elapsed = soak.run(chaos)
        time.sleep(3)  # the restarted timer worker's sweep in progress ends
        figures = reckon(soak.attempts, journal_events(since), since)
        verified, verification = verify_journal()
    finally:
        chaos.stop()
    print(report(figures, seconds=elapsed, clients=clients, chaos=chaos, verified=verified, verification=verification))
    worked = figures.succeeded > 0 and figures.timers_fired > 0 and chaos.done
    return 0 if figures.clean and verified and worked else 1


if __name__ == "__main__":
    sys.exit(main())

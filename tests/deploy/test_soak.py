"""`make soak`, briefly, as a newcomer runs it from a fresh clone.

The working tree copied to a temporary directory (no var/, no collected static files, no database), then
`make soak SOAK_SECONDS=15` there: its own throwaway PostgreSQL and Redis, two ASGI workers behind nginx, the timer
worker, 32 clients, one worker and the timer worker killed halfway. The run must succeed and print its figures with
zeros where they must be. The reckoning itself is unit-tested in test_soak_accounting.py.

Marked postgres and redis: run by `make test-postgres` (the stack brings its own PostgreSQL and Redis).
"""

import os
import re
import subprocess
import time

import pytest
from django.conf import settings

from tests.deploy.test_serve import fresh_copy

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SOAK_SECONDS = 15


def figure(output, label):
    match = re.search(rf"^  {re.escape(label)} +(\S+)", output, re.MULTILINE)
    assert match, f"no «{label}» in:\n{output[-4000:]}"
    return match.group(1)


def test_make_soak_from_a_fresh_clone(tmp_path):
    clone = fresh_copy(tmp_path)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTEST", "DJANGO", "PARCOURS_", "SOAK_"))
        and name not in ("DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY")
    }
    started = time.monotonic()
    result = subprocess.run(
        ["make", "soak", f"SOAK_SECONDS={SOAK_SECONDS}", f"VENV={settings.BASE_DIR / '.venv'}"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    print(f"\nmake soak ({time.monotonic() - started:.0f} s in all):\n" + result.stdout[-1500:])
    assert result.returncode == 0, output[-6000:]
    for label in ("lost", "doubled", "5xx", "timers fired twice"):
        assert figure(output, label) == "0", label
    assert figure(output, "journal verified") == "yes"
    assert int(figure(output, "succeeded (2xx)")) > 0
    assert int(figure(output, "refused with 409")) > 0  # the clients did collide
    assert int(figure(output, "timers fired")) > 0
    assert "killed -9 halfway, back after" in output
    # Everything stopped, the restarted worker and timer worker included: no process runs in the clone.
    time.sleep(1)
    assert not running_in(clone)


def running_in(directory):
    found = []
    for proc in os.listdir("/proc"):
        try:
            if proc.isdigit() and os.readlink(f"/proc/{proc}/cwd").startswith(str(directory)):
                found.append(int(proc))
        except OSError:
            pass
    return found

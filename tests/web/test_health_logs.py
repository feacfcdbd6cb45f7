"""Health endpoints (no login, states only) and structured logs carrying the request id."""

import datetime
import json
import logging

from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from parcours.logs import JsonFormatter, RequestIdFilter
from parcours.models import WorkerHeartbeat
from parcours.web import health


def test_live_and_ready_answer_without_login(db, client):
    assert client.get("/health/live/").json() == {"status": "ok"}
    ready = client.get("/health/ready/")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["redis"]["status"] in ("ok", "not_configured")  # in-memory channel layer without REDIS_URL
    assert ready["Cache-Control"].startswith("max-age=0")


def test_health_reports_the_timer_worker_heartbeat(db, client, settings):
    missing = client.get("/health/")
    assert missing.status_code == 503
    assert missing.json()["checks"]["timer_worker"]["status"] == "missing"
    now = timezone.now()
    beat = WorkerHeartbeat.objects.create(name="host:1", started_at=now, beat_at=now)
    healthy = client.get("/health/")
    assert healthy.status_code == 200 and healthy.json()["checks"]["timer_worker"]["status"] == "ok"
    stale = settings.PARCOURS["WORKER_HEARTBEAT_STALE_SECONDS"] + 5
    WorkerHeartbeat.objects.filter(pk=beat.pk).update(beat_at=now - datetime.timedelta(seconds=stale))
    response = client.get("/health/")
    assert response.status_code == 503 and response.json()["checks"]["timer_worker"]["status"] == "stale"
    # States and timings only: nothing about the installation's data.
    assert set(response.json()["checks"]) == {"database", "migrations", "redis", "timer_worker"}


def test_ready_is_503_while_this_codes_migrations_are_not_applied(db, client, monkeypatch):
    monkeypatch.setattr(health, "_migrated", False)
    latest = MigrationRecorder.Migration.objects.filter(app="parcours").order_by("-name").first()
    latest.delete()  # as a release step that did not run its migrate (rolled back with the test)
    response = client.get("/health/ready/")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == {
        "status": "error",
        "ms": response.json()["checks"]["migrations"]["ms"],
        "pending": 1,
        "error": "migrations non appliquées (manage.py migrate)",
    }
    MigrationRecorder.Migration.objects.create(app="parcours", name=latest.name)
    assert client.get("/health/ready/").status_code == 200
    assert health._migrated  # read once: the next probes do not load the migration graph again


def test_request_id_is_kept_from_the_proxy_or_made(db, client, caplog):
    with caplog.at_level(logging.INFO, logger="parcours.request"):
        response = client.get("/connexion/", HTTP_X_REQUEST_ID="0123456789abcdef")
    assert response["X-Request-ID"] == "0123456789abcdef"
    [record] = [r for r in caplog.records if r.name == "parcours.request"]
    assert record.status == 200 and record.path == "/connexion/"
    line = json.loads(JsonFormatter().format(RequestIdFilter().filter(record) and record))
    assert line["request_id"] == "0123456789abcdef" and line["status"] == 200 and line["level"] == "INFO"
    # A malformed id from outside is replaced, not logged as given.
    made = client.get("/connexion/", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert made != "<script>" and len(made) == 32

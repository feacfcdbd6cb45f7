"""Health endpoints for the load balancer and the monitoring (no login; they tell states, never data).

- `/health/live/`: the process answers (liveness: restart it when this fails);
- `/health/ready/`: what this web process needs to serve — the database with every migration of this code applied
  and, when configured, Redis (the load balancer sends no traffic to a process that is not ready);
- `/health/`: the whole installation — the same checks plus the timer worker's heartbeat (a worker that stopped
  beating means no reminders, expiries, e-mails nor journal checkpoints): 503 when any is failing.
"""

import asyncio
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from parcours.models import WorkerHeartbeat


def _timed(check):
    started = time.monotonic()
    try:
        status, details = check()
    except Exception as error:  # the kind of failure only: messages may carry addresses
        status, details = "error", {"error": type(error).__name__}
    return {"status": status, "ms": round((time.monotonic() - started) * 1000, 1), **details}


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok", {"vendor": connection.vendor}


_migrated = False  # once this code's migrations are all applied, they stay so for the process's life


def check_migrations():
    """The migrations of this code not applied to the database (a release step skipped or failed): pages would
    fail on missing tables or columns. Read once the database is found migrated; asked again until then."""
    global _migrated
    if _migrated:
        return "ok", {}
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        return "error", {"pending": len(pending), "error": "migrations non appliquées (manage.py migrate)"}
    _migrated = True
    return "ok", {}


async def _channel_layer_round_trip(layer, *, attempts=3, wait=1.0):
    """A ping to a channel of this process and back. Redis's pub/sub may take the ping before it has taken the
    channel's subscription (two connections): the ping is sent again, up to `attempts` times `wait` seconds."""
    channel = await layer.new_channel("health.")
    receiving = asyncio.ensure_future(layer.receive(channel))
    try:
        for _ in range(attempts):
            await layer.send(channel, {"type": "health.ping"})
            done, _ = await asyncio.wait({receiving}, timeout=wait)
            if done:
                return receiving.result().get("type") == "health.ping"
        return False
    finally:
        if not receiving.done():
            receiving.cancel()
            await asyncio.gather(receiving, return_exceptions=True)


def check_redis():
    if not settings.REDIS_URL:
        return "not_configured", {}
    layer = get_channel_layer()
    # A message through the channel layer itself: what live pages rely on.
    return ("ok" if async_to_sync(_channel_layer_round_trip)(layer) else "error"), {}


def check_worker():
    latest = WorkerHeartbeat.objects.order_by("-beat_at").values_list("beat_at", flat=True).first()
    if latest is None:
        return "missing", {}
    age = (timezone.now() - latest).total_seconds()
    stale = age > settings.PARCOURS["WORKER_HEARTBEAT_STALE_SECONDS"]
    return ("stale" if stale else "ok"), {"last_beat_seconds": round(age, 1)}


def _answer(checks, required):
    healthy = all(checks[name]["status"] in ("ok", "not_configured") for name in required)
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)


@never_cache
def live(request):
    return JsonResponse({"status": "ok"})


@never_cache
def ready(request):
    checks = {
        "database": _timed(check_database),
        "migrations": _timed(check_migrations),
        "redis": _timed(check_redis),
    }
    return _answer(checks, list(checks))


@never_cache
def health(request):
    checks = {
        "database": _timed(check_database),
        "migrations": _timed(check_migrations),
        "redis": _timed(check_redis),
        "timer_worker": _timed(check_worker),
    }
    return _answer(checks, list(checks))

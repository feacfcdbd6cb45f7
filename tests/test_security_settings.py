"""Settings from the environment: DEBUG off unless turned on, no built-in secret, and `manage.py check --deploy`
clean under the production environment written in docs/security.md (run in subprocesses, as an operator would)."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
DOC = ROOT / "docs" / "security.md"


def documented_production_env() -> dict:
    """The `NAME=value` lines between the production-env markers of docs/security.md; `<…>` placeholders become
    random secrets."""
    text = DOC.read_text()
    block = text.split("<!-- production-env -->", 1)[1].split("<!-- /production-env -->", 1)[0]
    env = {}
    for line in block.splitlines():
        match = re.fullmatch(r"([A-Z_]+)=(.*)", line.strip())
        if match:
            env[match[1]] = re.sub(r"<[^>]*>", lambda _: secrets.token_urlsafe(48), match[2])
    return env


def run_manage(tmp_path, *args, env):
    base = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "REDIS_URL", "DATABASE_URL")}
    base.pop("DJANGO_SETTINGS_MODULE", None)
    full = {**base, "PARCOURS_VAR_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=180
    )


def test_debug_is_off_and_without_a_secret_the_settings_refuse_to_load(tmp_path):
    result = run_manage(tmp_path, "check", env={})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "make run" in result.stderr


def test_debug_is_off_unless_turned_on(tmp_path):
    code = "from django.conf import settings; print(settings.DEBUG, settings.SECURE_SSL_REDIRECT)"
    off = run_manage(tmp_path, "shell", "--no-imports", "-c", code, env={"SECRET_KEY": secrets.token_urlsafe(50)})
    assert off.stdout.split() == ["False", "True"], off.stderr
    on = run_manage(tmp_path, "shell", "--no-imports", "-c", code, env={"DEBUG": "1"})
    assert on.stdout.split() == ["True", "False"], on.stderr


def test_a_malformed_flag_is_refused(tmp_path):
    result = run_manage(tmp_path, "check", env={"DEBUG": "yes please"})
    assert result.returncode != 0 and "DEBUG: expected 1 or 0" in result.stderr


def test_check_deploy_is_clean_under_the_documented_production_environment(tmp_path):
    env = documented_production_env()
    assert env["DEBUG"] == "0" and len(env["SECRET_KEY"]) >= 50
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'deploy.sqlite3'}"  # the checks read the migrated schema
    env.pop("REDIS_URL")  # no Redis server here: the database cache is the other shared backend
    migrated = run_manage(tmp_path, "migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "True 31536000 True True True ('HTTP_X_FORWARDED_PROTO', 'https') ['https://parcours.example.org']"),
        (
            {"SECURE_SSL_REDIRECT": "0", "SECURE_HSTS_SECONDS": "0", "SECURE_COOKIES": "0"},
            "False 0 False False False ('HTTP_X_FORWARDED_PROTO', 'https') ['https://parcours.example.org']",
        ),
    ],
)
def test_https_settings_come_from_the_environment(tmp_path, env, expected):
    code = (
        "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.LANGUAGE_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER, "
        "s.CSRF_TRUSTED_ORIGINS)"
    )
    production = documented_production_env()
    production.pop("REDIS_URL")
    production.pop("DATABASE_URL")
    result = run_manage(tmp_path, "shell", "--no-imports", "-c", code, env={**production, **env})
    assert result.stdout.strip() == expected, result.stderr


def test_api_rates_and_login_limits_come_from_the_environment(tmp_path):
    code = (
        "from django.conf import settings as s; print(s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'], "
        "s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds())"
    )
    env = {"DEBUG": "1", "API_RATE_USER": "5000/hour", "API_RATE_TOKEN": "5/minute", "LOGIN_FAILURE_LIMIT": "8"}
    result = run_manage(tmp_path, "shell", "--no-imports", "-c", code, env=env)
    assert result.stdout.strip() == "{'user': '5000/hour', 'token_obtain': '5/minute'} 8 900.0", result.stderr
    refused = run_manage(tmp_path, "check", env={"DEBUG": "1", "API_RATE_USER": "lots"})
    assert refused.returncode != 0 and "API_RATE_USER: expected a rate such as 1000/hour" in refused.stderr


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ({}, "-c jit=off -c max_parallel_workers_per_gather=0"),
        ({"DB_JIT": "1"}, "-c max_parallel_workers_per_gather=0"),
        ({"DB_PARALLEL_WORKERS": "2"}, "-c jit=off -c max_parallel_workers_per_gather=2"),
        ({"DB_JIT": "1", "DB_PARALLEL_WORKERS": "server"}, "None"),
    ],
)
def test_postgresql_connections_turn_the_jit_and_parallel_plans_off_unless_told_otherwise(tmp_path, flag, expected):
    code = "from django.conf import settings; print(settings.DATABASES['default'].get('OPTIONS', {}).get('options'))"
    env = {"DEBUG": "1", "DATABASE_URL": "postgres://parcours@127.0.0.1:1/parcours", **flag}
    result = run_manage(tmp_path, "shell", "--no-imports", "-c", code, env=env)
    assert result.stdout.strip() == expected, result.stderr


def test_the_demo_database_checks_clean_and_postgresql_keeps_every_warning(tmp_path):
    # SQLite ignores the indexes' included columns (W040, said on every command of the demo): silenced there only.
    demo = run_manage(tmp_path, "check", "--database", "default", env={"DEBUG": "1"})
    assert demo.returncode == 0 and "W040" not in demo.stderr + demo.stdout, demo.stderr
    code = "from django.conf import settings; print(settings.SILENCED_SYSTEM_CHECKS)"
    env = {"DEBUG": "1", "DATABASE_URL": "postgres://parcours@127.0.0.1:1/parcours"}
    assert run_manage(tmp_path, "shell", "--no-imports", "-c", code, env=env).stdout.strip() == "[]"


def test_a_parallel_worker_count_that_is_not_a_number_is_refused(tmp_path):
    env = {"DEBUG": "1", "DATABASE_URL": "postgres://parcours@127.0.0.1:1/parcours", "DB_PARALLEL_WORKERS": "many"}
    refused = run_manage(tmp_path, "check", env=env)
    assert refused.returncode != 0 and "DB_PARALLEL_WORKERS: expected a whole number >= 0" in refused.stderr


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_application_sessions_run_without_the_jit():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone() == ("0",)


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_journal_ownership_warning_names_the_applications_role_not_the_release_steps(monkeypatch):
    """The release step runs as the owner role by design: its deployment check warned that « the application's
    database user owns the journal » on every release (a false alarm that teaches operators to ignore the check)."""
    from django.db import connection

    from parcours.checks import journal_protected_in_the_database

    def ids():
        return [problem.id for problem in journal_protected_in_the_database(None)]

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (owner,) = cursor.fetchone()
    monkeypatch.delenv("PARCOURS_APP_DB_ROLE", raising=False)
    monkeypatch.delenv("PARCOURS_RELEASE_STEP", raising=False)
    assert "parcours.W001" in ids()  # the tests' user owns the tables: as an application running as the owner
    monkeypatch.setenv("PARCOURS_RELEASE_STEP", "1")
    assert "parcours.W001" not in ids()  # the release step, its application role not named
    monkeypatch.setenv("PARCOURS_APP_DB_ROLE", "parcours_app")
    assert "parcours.W001" not in ids()  # named, and it owns nothing
    monkeypatch.setenv("PARCOURS_APP_DB_ROLE", owner)
    assert "parcours.W001" in ids()  # named, and it is the owner


@pytest.mark.postgres
@pytest.mark.django_db
def test_grant_app_role_refuses_to_grant_what_its_connection_cannot():
    """Run with the application's own role it answered « Droits accordés » while PostgreSQL granted nothing."""
    from django.core.management import CommandError, call_command
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (connected,) = cursor.fetchone()
    with pytest.raises(CommandError, match="ne possède pas les tables|propriétaire"):
        call_command("grant_app_role", connected)
    with pytest.raises(CommandError, match="Rôle PostgreSQL inconnu"):
        call_command("grant_app_role", "personne_de_ce_nom")


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"DATABASE_URL": "postgress://parcours@localhost/parcours"}, "DATABASE_URL illisible"),
        ({"DB_CONN_MAX_AGE": "abc"}, "DB_CONN_MAX_AGE: expected a whole number"),
    ],
)
def test_a_database_setting_typed_wrong_is_named_in_words(tmp_path, env, said):
    result = run_manage(tmp_path, "check", env={"DEBUG": "1", **env})
    assert result.returncode != 0 and said in result.stderr, result.stderr

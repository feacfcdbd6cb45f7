"""System checks (`manage.py check`, `check --deploy`) for what keeps the audit journal trustworthy."""

import os

from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connection

from workflows import append_only


@checks.register()
def journal_key_configured(app_configs, **kwargs):
    key_id = getattr(settings, "JOURNAL_KEY_ID", "")
    if key_id and key_id in getattr(settings, "JOURNAL_KEYS", {}):
        return []
    return [
        checks.Error(
            "No journal key is configured: journaled actions will fail.",
            hint="Set PARCOURS_JOURNAL_KEYS (id:secret) or PARCOURS_JOURNAL_KEY_FILE; see docs/audit.md.",
            id="parcours.E001",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def journal_protected_in_the_database(app_configs, **kwargs):
    """The application's database user must not own the journal (an owner can disable its triggers). The release
    step runs as the owner by design (deploy/bin/parcours-release): there the application's role is the one it
    names (PARCOURS_APP_DB_ROLE), or, unnamed, not known (PARCOURS_RELEASE_STEP=1: the ownership is not checked)."""
    problems = []
    app_role = os.environ.get("PARCOURS_APP_DB_ROLE", "")
    releasing = os.environ.get("PARCOURS_RELEASE_STEP") == "1"
    try:
        if connection.vendor == "postgresql" and (app_role or not releasing):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT tableowner = COALESCE(NULLIF(%s, ''), current_user) FROM pg_tables WHERE tablename = %s",
                    [app_role, append_only.EVENT_TABLE],
                )
                row = cursor.fetchone()
            if row and row[0]:
                problems.append(
                    checks.Warning(
                        "The application's database user owns the journal table and could disable its triggers.",
                        hint="Run the application under a role that does not own the tables (docs/audit.md).",
                        id="parcours.W001",
                    )
                )
        for problem in append_only.problems(connection):
            problems.append(checks.Error(f"Journal not protected: {problem}.", id="parcours.E002"))
    except DatabaseError:  # no database yet (first deployment): nothing to check
        return []
    return problems

"""A membership's role must exist in its organisation's kind (roles.enums.ROLES_BY_ORGANISATION_KIND): an adviser
belongs to a Mission Locale, never to an employer, whose scopes the policy would then apply to it. The admin's forms
say so (`Membership.clean`, `Organisation.clean`); the database refuses the rest (a command, a shell, a script, a
restore). A check constraint cannot read the organisation: triggers do, on the membership's insert and its change of
organisation or role, and on the organisation's change of kind.

PostgreSQL's are installed by migration 0004 with the pairs frozen there (tests/test_membership_kinds.py holds them
to the table: a change of the table needs a migration); SQLite's (the demo) after every `migrate`, from the table."""

from roles import sqlite_triggers
from roles.enums import ROLES_BY_ORGANISATION_KIND

# The message of the refusal, an IntegrityError on both databases.
REFUSED = "membership role does not exist in its organisation kind"


def current_pairs() -> list[str]:
    """'kind:role' for every role of every kind of organisation, sorted."""
    return sorted(f"{kind}:{role}" for kind, roles in ROLES_BY_ORGANISATION_KIND.items() for role in roles)


def _listed(pairs) -> str:
    return ", ".join(f"'{pair}'" for pair in pairs)  # enum values: letters and underscores only


def foreign_memberships_sql(pairs) -> str:
    """The memberships whose role does not exist in their organisation's kind: id, kind, role."""
    return (
        "SELECT m.id, o.kind, m.role FROM roles_membership m JOIN roles_organisation o ON o.id = m.organisation_id "
        f"WHERE o.kind || ':' || m.role NOT IN ({_listed(pairs)}) ORDER BY m.id"
    )


def postgresql_install(pairs) -> list[str]:
    listed = _listed(pairs)
    return [
        f"""CREATE OR REPLACE FUNCTION roles_membership_fits_kind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM roles_organisation o WHERE o.id = NEW.organisation_id
                 AND o.kind || ':' || NEW.role IN ({listed})) THEN
    RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'check_violation',
      DETAIL = 'role ' || NEW.role || ', organisation ' || NEW.organisation_id;
  END IF;
  RETURN NEW;
END $$""",
        f"""CREATE OR REPLACE FUNCTION roles_organisation_kind_fits_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM roles_membership m WHERE m.organisation_id = NEW.id
             AND NEW.kind || ':' || m.role NOT IN ({listed})) THEN
    RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'check_violation',
      DETAIL = 'organisation ' || NEW.id || ', kind ' || NEW.kind;
  END IF;
  RETURN NEW;
END $$""",
        "CREATE TRIGGER roles_membership_fits_kind BEFORE INSERT OR UPDATE OF organisation_id, role "
        "ON roles_membership FOR EACH ROW EXECUTE FUNCTION roles_membership_fits_kind()",
        "CREATE TRIGGER roles_organisation_kind_fits_members BEFORE UPDATE OF kind ON roles_organisation "
        "FOR EACH ROW WHEN (OLD.kind IS DISTINCT FROM NEW.kind) "
        "EXECUTE FUNCTION roles_organisation_kind_fits_members()",
    ]


POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS roles_membership_fits_kind ON roles_membership",
    "DROP TRIGGER IF EXISTS roles_organisation_kind_fits_members ON roles_organisation",
    "DROP FUNCTION IF EXISTS roles_membership_fits_kind()",
    "DROP FUNCTION IF EXISTS roles_organisation_kind_fits_members()",
]


def _sqlite_install(pairs) -> list[str]:
    listed = _listed(pairs)
    refuse = f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
    misfit = (
        "NOT EXISTS (SELECT 1 FROM roles_organisation o WHERE o.id = NEW.organisation_id "
        f"AND o.kind || ':' || NEW.role IN ({listed}))"
    )
    members_misfit = (
        "EXISTS (SELECT 1 FROM roles_membership m WHERE m.organisation_id = NEW.id "
        f"AND NEW.kind || ':' || m.role NOT IN ({listed}))"
    )
    return [
        f"CREATE TRIGGER IF NOT EXISTS roles_membership_kind_insert BEFORE INSERT ON roles_membership "
        f"WHEN {misfit} {refuse}",
        f"CREATE TRIGGER IF NOT EXISTS roles_membership_kind_update BEFORE UPDATE OF organisation_id, role "
        f"ON roles_membership WHEN {misfit} {refuse}",
        f"CREATE TRIGGER IF NOT EXISTS roles_organisation_kind_update BEFORE UPDATE OF kind ON roles_organisation "
        f"WHEN {members_misfit} {refuse}",
    ]


SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS roles_membership_kind_insert",
    "DROP TRIGGER IF EXISTS roles_membership_kind_update",
    "DROP TRIGGER IF EXISTS roles_organisation_kind_update",
]


def drop_sqlite_triggers(sender=None, using="default", **kwargs) -> None:
    """Before `migrate` (pre_migrate)."""
    sqlite_triggers.drop(using, SQLITE_DROP)


def install_sqlite_triggers(sender=None, using="default", **kwargs) -> None:
    """After `migrate` (post_migrate)."""
    sqlite_triggers.install(using, _sqlite_install(current_pairs()), table="roles_membership", column="role")

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

# The application role reads and writes rows; it owns no table, so it can neither alter the schema nor disable the
# journal's append-only triggers (docs/audit.md, docs/deploy.md).
GRANTS = [
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
]


class Command(BaseCommand):
    help = (
        "PostgreSQL: give the application role (which runs the web workers and the timer worker) the rights on the "
        "tables the migrations created. Run by the owner role after `migrate` (deploy/bin/parcours-release)."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", help="The application's database role, e.g. parcours_app.")

    def handle(self, *args, role, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Réservé à PostgreSQL.")
        quoted = connection.ops.quote_name(role)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                raise CommandError(f"Rôle PostgreSQL inconnu : {role}")
            cursor.execute("SELECT current_database()")
            database = connection.ops.quote_name(cursor.fetchone()[0])
            cursor.execute(f"GRANT CONNECT ON DATABASE {database} TO {quoted}")
            for statement in GRANTS:
                cursor.execute(statement.format(role=quoted))
        self.stdout.write(f"Droits accordés à {role}.")

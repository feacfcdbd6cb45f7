from django.core.management.base import BaseCommand, CommandError
from django.db import connection

# The application role reads and writes rows; it owns no table, so it can neither alter the schema nor disable the
# journal's append-only triggers (docs/audit.md, docs/deploy.md).
TABLE = "workflows_journalevent"  # the tables' owner is the one who may grant on them
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
            # GRANT by a role that owns nothing grants nothing, with a mere warning: said, not « accordés ».
            cursor.execute(
                "SELECT tableowner = current_user, current_user FROM pg_tables WHERE tablename = %s", [TABLE]
            )
            owns, connected = cursor.fetchone() or (False, None)
            if connected == role or not owns:
                raise CommandError(
                    f"Cette connexion ({connected}) ne possède pas les tables : lancez la commande avec le rôle "
                    "propriétaire (le DATABASE_URL de l'étape de mise en production, docs/deploy.md)."
                )
            cursor.execute("SELECT current_database()")
            database = connection.ops.quote_name(cursor.fetchone()[0])
            cursor.execute(f"GRANT CONNECT ON DATABASE {database} TO {quoted}")
            for statement in GRANTS:
                cursor.execute(statement.format(role=quoted))
        self.stdout.write(f"Droits accordés à {role}.")

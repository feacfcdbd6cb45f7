import time

from django.core.management.base import BaseCommand, CommandError

from parcours.selectors import tally


class Command(BaseCommand):
    help = (
        "Compare the pathways' tally (the homes' counts by state, kept by PostgreSQL triggers) with a count of the "
        "pathways; --rebuild replaces it by that count (after data was loaded with the triggers off: a restore "
        "with session_replication_role = replica, generate_load)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="Replace the tally by a count of the pathways.")

    def handle(self, *args, **options):
        if not tally.kept():
            self.stdout.write("Pas de décompte tenu sur cette base (SQLite) : les parcours sont comptés.")
            return
        started = time.perf_counter()
        if options["rebuild"]:
            tally.rebuild()
            self.stdout.write(f"Décompte reconstruit en {time.perf_counter() - started:.1f} s.")
            return
        found = tally.differences()
        for group_id, permission_id, state, kept, counted in found[:50]:
            where = f"groupe {group_id}, permission {permission_id}, {state}"
            self.stdout.write(f"{where} : {kept} tenus, {counted} comptés")
        if found:
            raise CommandError(f"{len(found)} écart(s) : lancer recount_pathway_tally --rebuild.")
        self.stdout.write(f"Décompte conforme aux parcours ({time.perf_counter() - started:.1f} s).")

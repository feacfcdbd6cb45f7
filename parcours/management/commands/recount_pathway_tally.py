import time

from django.core.management.base import BaseCommand, CommandError

from parcours.selectors import current_state, tally


class Command(BaseCommand):
    help = (
        "Compare what triggers keep from the pathways with the pathways: the tally (the homes' counts by state, "
        "PostgreSQL) and each participant's current pathway state (the adviser's list filter); --rebuild sets both "
        "again from the pathways (after data was loaded with the triggers off: a restore with "
        "session_replication_role = replica, generate_load)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--rebuild", action="store_true", help="Set the tally and the current states again from the pathways."
        )

    def handle(self, *args, **options):
        started = time.perf_counter()
        if options["rebuild"]:
            tally.rebuild()
            current_state.rebuild()
            self.stdout.write(f"Décompte et états en cours reconstruits en {time.perf_counter() - started:.1f} s.")
            return
        found = tally.differences()
        for group_id, permission_id, state, kept, counted in found[:50]:
            where = f"groupe {group_id}, permission {permission_id}, {state}"
            self.stdout.write(f"{where} : {kept} tenus, {counted} comptés")
        states = current_state.differences()
        for participant_id, kept, latest in states[:50]:
            self.stdout.write(
                f"participant·e {participant_id} : état en cours « {kept} », dernier parcours « {latest} »"
            )
        if found or states:
            raise CommandError(f"{len(found) + len(states)} écart(s) : lancer recount_pathway_tally --rebuild.")
        if not tally.kept():
            self.stdout.write("Pas de décompte tenu sur cette base (SQLite) : les parcours sont comptés.")
        elapsed = time.perf_counter() - started
        self.stdout.write(f"Décompte et états en cours conformes aux parcours ({elapsed:.1f} s).")

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from parcours.audit import verify_journal
from workflows.journal import MAX_PROBLEMS, read_checkpoint_file

MAX_WORKERS = 64  # processes: beyond the CPUs they only wait; a typo (100000) must not fork without end


class Command(BaseCommand):
    help = (
        "Verify the audit journal: every chain (ranks, links, keyed digests, reasons), every checkpoint (in the "
        "database and the files given with --checkpoint), the append-only triggers, and that every object's state "
        "agrees with its history. Exits 1 listing the problems."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            metavar="FILE",
            help="A checkpoint file kept outside the database (journal_checkpoint); repeatable.",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=os.cpu_count() or 1,
            help=f"Processes verifying the chains in parallel on PostgreSQL, 1 to {MAX_WORKERS} (default: one per "
            "CPU).",
        )

    def handle(self, *args, checkpoint, workers, **options):
        try:
            documents = [read_checkpoint_file(path) for path in checkpoint]
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not 1 <= workers <= MAX_WORKERS:
            raise CommandError(f"--workers doit valoir entre 1 et {MAX_WORKERS}.")
        try:
            result = verify_journal(documents, workers=workers)
        except DatabaseError as exc:  # an empty or unmigrated database, a role without the rights
            raise CommandError(
                f"Journal illisible dans cette base ({type(exc).__name__}) : est-elle migrée (manage.py migrate) et "
                "le rôle a-t-il le droit de la lire ?"
            ) from exc
        summary = f"{result.events} événements, {result.chains} chaînes, {result.checkpoints} point(s) de contrôle"
        if not result.ok:
            for event_id, problem in result.problems:
                where = f"événement #{event_id} — " if event_id is not None else ""
                self.stderr.write(f"  ✗ {where}{problem}")
            count = result.problem_count
            listed = f" (les {MAX_PROBLEMS} premiers listés)" if count > len(result.problems) else ""
            raise CommandError(f"Journal altéré : {count} problème(s){listed}. {summary}.")
        self.stdout.write(self.style.SUCCESS(f"Journal intègre : {summary}."))

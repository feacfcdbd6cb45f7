import os

from django.core.management.base import BaseCommand, CommandError

from parcours.audit import verify_journal
from workflows.journal import read_checkpoint_file


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
            help="Processes verifying the chains in parallel on PostgreSQL (default: one per CPU).",
        )

    def handle(self, *args, checkpoint, workers, **options):
        try:
            documents = [read_checkpoint_file(path) for path in checkpoint]
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if workers < 1:
            raise CommandError("--workers doit valoir au moins 1.")
        result = verify_journal(documents, workers=workers)
        summary = f"{result.events} événements, {result.chains} chaînes, {result.checkpoints} point(s) de contrôle"
        if not result.ok:
            for event_id, problem in result.problems:
                where = f"événement #{event_id} — " if event_id is not None else ""
                self.stderr.write(f"  ✗ {where}{problem}")
            raise CommandError(f"Journal altéré : {len(result.problems)} problème(s). {summary}.")
        self.stdout.write(self.style.SUCCESS(f"Journal intègre : {summary}."))

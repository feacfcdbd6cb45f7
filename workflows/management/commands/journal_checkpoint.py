import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workflows.journal import checkpoint_document, take_checkpoint


class Command(BaseCommand):
    help = (
        "Seal the whole journal up to its last event: a signed checkpoint row, and the same document written to "
        "--output (default PARCOURS_JOURNAL_CHECKPOINT_DIR) and printed. Keep these files outside the database "
        "server; `verify_journal --checkpoint FILE` proves nothing sealed by them was deleted or rewritten."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", default="", help="Directory for the checkpoint file.")
        parser.add_argument("--force", action="store_true", help="Seal even if nothing was written since the last.")

    def handle(self, *args, output, force, **options):
        try:
            checkpoint = take_checkpoint(directory=output or settings.JOURNAL_CHECKPOINT_DIR, force=force)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if checkpoint is None:
            self.stdout.write("Aucun nouvel événement depuis le dernier point de contrôle.")
            return
        self.stdout.write(json.dumps(checkpoint_document(checkpoint), indent=2, ensure_ascii=False))
        self.stderr.write(
            f"Point de contrôle : {checkpoint.event_count} événements jusqu'au n° {checkpoint.last_event_id}, "
            f"écrit dans {output or settings.JOURNAL_CHECKPOINT_DIR}."
        )

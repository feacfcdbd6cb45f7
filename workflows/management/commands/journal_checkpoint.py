import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workflows.journal import checkpoint_document, take_checkpoint
from workflows.models import JournalCheckpoint


class Command(BaseCommand):
    help = (
        "Seal the whole journal up to its last event: a signed checkpoint row, and the same document written to "
        "--output (default PARCOURS_JOURNAL_CHECKPOINT_DIR) and printed. Keep these files outside the database "
        "server; `verify_journal --checkpoint FILE` proves nothing sealed by them was deleted or rewritten."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", default="", help="Directory for the checkpoint file.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Nothing written since the last checkpoint: write its file again (to --output) instead of stopping.",
        )

    def handle(self, *args, output, force, **options):
        directory = output or settings.JOURNAL_CHECKPOINT_DIR
        previous = JournalCheckpoint.objects.order_by("-last_event_id").values_list("pk", flat=True).first()
        try:
            checkpoint = take_checkpoint(directory=directory, force=force)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if checkpoint is None:
            self.stdout.write(
                "Aucun nouvel événement depuis le dernier point de contrôle (--force : réécrire son fichier)."
            )
            return
        if checkpoint.pk == previous:
            self.stderr.write(
                f"Aucun nouvel événement : le dernier point de contrôle (jusqu'au n° {checkpoint.last_event_id}) "
                f"est réécrit dans {directory}."
            )
            self.stdout.write(json.dumps(checkpoint_document(checkpoint), indent=2, ensure_ascii=False))
            return
        self.stdout.write(json.dumps(checkpoint_document(checkpoint), indent=2, ensure_ascii=False))
        self.stderr.write(
            f"Point de contrôle : {checkpoint.event_count} événements jusqu'au n° {checkpoint.last_event_id}, "
            f"écrit dans {directory}."
        )

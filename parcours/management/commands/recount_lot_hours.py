import time

from django.core.management.base import BaseCommand, CommandError

from parcours.models import LotHoursSummary
from parcours.selectors import lot_hours


class Command(BaseCommand):
    help = (
        "Recount the hours counted per lot kept for the homes, the register and the dashboard: the stale lots, or "
        "every lot with --all (after data was loaded outside the services: a restore, an import)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Mark every lot stale first.")
        parser.add_argument("--batch", type=int, default=200, help="Lots recounted per batch.")

    def handle(self, *args, **options):
        if options["batch"] < 1:
            raise CommandError("--batch : au moins 1.")
        if options["all"]:
            LotHoursSummary.objects.update(fresh=False)
        started, total = time.perf_counter(), 0
        while True:
            done = lot_hours.refresh_stale(limit=options["batch"])
            total += done
            if done < options["batch"]:
                break
        self.stdout.write(f"{total} lot(s) recompté(s) en {time.perf_counter() - started:.1f} s.")

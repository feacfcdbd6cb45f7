from django.core.management.base import BaseCommand, CommandError

from workflows.journal import verify_chains


class Command(BaseCommand):
    help = "Verify every hash chain of the audit journal; exit non-zero naming the first broken link."

    def handle(self, *args, **options):
        result = verify_chains()
        if not result.ok:
            raise CommandError(
                f"Journal altéré : événement #{result.broken_event_id} ({result.problem}). "
                f"{result.events} événements lus sur {result.chains} chaînes."
            )
        self.stdout.write(
            self.style.SUCCESS(f"Journal intègre : {result.events} événements, {result.chains} chaînes.")
        )

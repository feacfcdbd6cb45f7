from django.core.management.base import BaseCommand

from parcours.services.data_protection import apply_retention


class Command(BaseCommand):
    help = (
        "Retention of personal data: announce the files without activity for RETENTION_INACTIVITY_MONTHS to their "
        "Mission Locale, anonymise those announced more than RETENTION_NOTICE_DAYS ago on which nobody acted, purge "
        "access-log rows older than ACCESS_LOG_RETENTION_DAYS. Dry run by default (says what it would do); "
        "--wet-run acts. The worker runs it daily."
    )

    def add_arguments(self, parser):
        parser.add_argument("--wet-run", action="store_true", help="Act (the default only reports).")

    def handle(self, *args, wet_run, **options):
        report = apply_retention(wet=wet_run)
        verb = "" if wet_run else " (simulation : rien n'est modifié, --wet-run pour agir)"
        self.stdout.write(f"Conservation des données{verb}")
        self.stdout.write(f"  inactifs depuis avant le {report.inactive_since:%d/%m/%Y}")
        self.stdout.write(f"  dossiers annoncés : {len(report.notified)} {report.notified[:20]}")
        self.stdout.write(f"  annonces levées (activité depuis) : {len(report.cancelled)} {report.cancelled[:20]}")
        self.stdout.write(f"  dossiers anonymisés : {len(report.anonymised)} {report.anonymised[:20]}")
        self.stdout.write(f"  consultations purgées : {report.access_rows_purged}")

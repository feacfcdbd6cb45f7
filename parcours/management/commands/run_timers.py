import logging
import math
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from parcours.worker import DEFAULT_INTERVAL_SECONDS, jobs, run_forever, sweep

logger = logging.getLogger("parcours.worker")


class Command(BaseCommand):
    help = (
        "The background worker: fire the due work-layer timers (reminders, referral expiries, follow-ups) and run "
        "the periodic jobs that are due (journal checkpoint, retention, statement reminders, e-mails, recounts). "
        "Once by default (from cron: the hourly and daily jobs keep their last run in the database); with --loop, "
        "every --interval seconds until stopped (the worker process)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running, one sweep every --interval seconds.")
        parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_SECONDS, help="Seconds between sweeps.")

    def say(self, text):
        # The worker process's lines join the logs' stream: one JSON object per line where logs are JSON
        # (production, LOG_FORMAT=json), the text as it is on a developer's terminal.
        if self.looping and settings.LOG_FORMAT == "json":
            logger.info(text)
        else:
            self.stdout.write(text)

    def report(self, report, *, timers_always=False):
        fired = report.get("timers", 0)
        if fired or timers_always:
            self.say(f"{fired} minuteur(s) déclenché(s).")
        reminded = report.get("statement_reminders")
        if reminded:
            self.say(f"{reminded} relevé(s) d'heures manquant(s) relancé(s).")
        if report.get("mail") or report.get("digests"):
            self.say(f"Courriels : {report.get('mail') or 0} notification(s), {report.get('digests') or 0} résumé(s).")
        checkpoint = report.get("checkpoint")
        if checkpoint is not None:
            self.say(f"Point de contrôle du journal : {checkpoint.event_count} événements.")
        retention = report.get("retention")
        if retention is not None and (retention.notified or retention.anonymised or retention.access_rows_purged):
            self.say(
                f"Conservation : {len(retention.notified)} dossier(s) annoncé(s), {len(retention.anonymised)} "
                f"anonymisé(s), {retention.access_rows_purged} consultation(s) purgée(s)."
            )

    def handle(self, *args, loop, interval, **options):
        self.looping = loop
        # 0 or less looped without a pause (a core burnt); past a day, the jobs of the day would wait for it.
        if not (math.isfinite(interval) and 0.1 <= interval <= 86400):
            raise CommandError(
                f"--interval : un nombre de secondes entre 0,1 et 86 400 est attendu (reçu : {interval:g})."
            )
        if not loop:
            # The same jobs and rule as the loop (parcours.worker.Job.due): a fresh memory, the kept last runs read.
            report = sweep(jobs())
            self.report(report, timers_always=True)
            # From cron, an operator reads what ran (the others were not due: their last run is kept).
            self.say(f"Tâches périodiques exécutées : {', '.join(report['ran']) or 'aucune (pas encore dues)'}.")
            return
        stopping = []

        def stop(*_):
            stopping.append(True)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.say(f"Minuteurs : une passe toutes les {interval:g} s (Ctrl-C pour arrêter).")
        run_forever(interval=interval, stop=lambda: bool(stopping), on_sweep=self.report)

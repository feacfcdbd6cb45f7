import signal

from django.core.management.base import BaseCommand

from workflows.timers import DEFAULT_INTERVAL_SECONDS, fire_due, run_forever


class Command(BaseCommand):
    help = (
        "Fire the due work-layer timers (reminders, referral expiries, follow-ups). Once by default; with --loop, "
        "every --interval seconds until stopped (the timer worker process)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running, one sweep every --interval seconds.")
        parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_SECONDS, help="Seconds between sweeps.")

    def handle(self, *args, loop, interval, **options):
        if not loop:
            self.stdout.write(f"{fire_due()} minuteur(s) déclenché(s).")
            return
        stopping = []

        def stop(*_):
            stopping.append(True)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"Minuteurs : une passe toutes les {interval:g} s (Ctrl-C pour arrêter).")

        def report(fired):
            if fired:
                self.stdout.write(f"{fired} minuteur(s) déclenché(s).")

        run_forever(interval=interval, stop=lambda: bool(stopping), on_sweep=report)

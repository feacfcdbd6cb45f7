"""Lift the login lockout of a username at once, from every address (it lifts by itself after
LOGIN_COOLOFF_MINUTES). django-axes' own axes_reset* commands do not reach the cache where the lockouts live."""

from django.core.management.base import BaseCommand

from parcours.login_failures import unlock


class Command(BaseCommand):
    help = "Lève le verrouillage de connexion d'un identifiant (toutes adresses confondues)."

    def add_arguments(self, parser):
        parser.add_argument("username", help="Identifiant de connexion verrouillé.")

    def handle(self, *args, username, **options):
        if unlock(username):
            self.stdout.write(f"Verrouillage levé pour {username}.")
        else:
            self.stdout.write(f"Aucun verrouillage en cours pour {username}.")

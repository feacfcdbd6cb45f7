"""Revoke API tokens: one user's (`--user NAME`) or everyone's (`--all`), e.g. after a leak. Their holders ask for a
new one with POST /api/v1/auth/token/ (docs/security.md)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from roles.tokens import revoke_tokens


class Command(BaseCommand):
    help = "Revoke the API token of one user (--user) or of every user (--all)."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--user", help="username whose token is revoked")
        group.add_argument("--all", action="store_true", help="revoke every token")

    def handle(self, *args, user=None, all=False, **options):
        if user is not None:
            try:
                target = get_user_model().objects.get(username=user)
            except get_user_model().DoesNotExist:
                raise CommandError(f"Utilisateur inconnu : {user}") from None
            count = revoke_tokens(target)
        else:
            count = revoke_tokens()
        self.stdout.write(f"{count} jeton(s) révoqué(s).")

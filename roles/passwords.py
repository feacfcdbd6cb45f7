"""A password "validator" that validates nothing: Django calls `password_changed` on every configured validator when a
user's password is saved, whatever the path (the password-change page, the reset link, the admin, `manage.py
changepassword`, `set_password` + `save`). A token issued before the change must not outlive it, nor a live page
opened before it (`password_set`: parcours.notifications closes the user's websockets)."""

from django.dispatch import Signal
from django.utils.translation import gettext

from roles.tokens import revoke_tokens

# Sent with `user` after the user's new password is saved (any path); the layers above listen (parcours.apps).
password_set = Signal()


class RevokeApiTokensOnPasswordChange:
    def validate(self, password, user=None):
        return None

    def password_changed(self, password, user=None):
        if user is not None and user.pk is not None:
            revoke_tokens(user)
            password_set.send(sender=type(user), user=user)

    def get_help_text(self):
        # Shown with the password rules (an empty text was an empty bullet): what the change does besides.
        return gettext("Changer de mot de passe révoque vos jetons d'API.")

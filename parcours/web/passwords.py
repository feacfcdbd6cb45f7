"""Passwords: « Mot de passe oublié ? » (Django's reset views under French addresses) and the password-change page with
an attempt limit.

Reset: the person types their e-mail address; the answer is the same page whether an active account has it or not
(Django's behaviour). Each account with that address gets an e-mail with a link that works once, for
PASSWORD_RESET_TIMEOUT (its token is Django's: it dies with the password or the next sign-in). The e-mail goes out at
once through the configured EMAIL_BACKEND — the console in the demo, SMTP in production — not through the
notifications' outbox (parcours.mail): those rows belong to a team and a kind of notification a person may turn off,
and are sent at the worker's next sweep; a reset belongs to no team (the platform's administrator has none), cannot
be turned off and is waited for. Its link is built on PARCOURS_BASE_URL, never on the request's Host header. An
account without a usable password yet (created in the admin with an e-mail address only) may set its first one
this way. Requests are limited per e-mail address and per client address (PASSWORD_RESET_LIMIT an hour): over it,
the same page and no e-mail. The new password goes through the validators; saving it revokes the API token
(roles.passwords), ends the other sessions (Django's session hash) and closes the live pages
(parcours.notifications.password_set).

Change: a signed-in session that types a wrong current password LOGIN_FAILURE_LIMIT times is signed out, and each
wrong one counts as a failed sign-in of that username from that address (django-axes): an unattended session is no
way to guess the password. When that also locks the username out, the lockout page (parcours.lockout) says both."""

import hashlib
import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from parcours.doors import SIGNED_OUT, client_address
from workflows.engine import chain_sequence

logger = logging.getLogger(__name__)

# The session's count of wrong current passwords on the password-change page.
WRONG_OLD_PASSWORDS = "parcours_wrong_old_passwords"


# --- Reset ---------------------------------------------------------------------------------------------------------
def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:40]


def _count(key: str) -> int:
    """One more request under `key` in the current window (opened by the first): how many so far. Redis: `SET NX`
    then `INCR`, atomic, the window's expiry kept. The database cache: the count and the window's end read then
    written (its increment would reset the expiry): concurrent requests may pass by a few."""
    backend = caches["default"]
    window = int(settings.PASSWORD_RESET_WINDOW.total_seconds())
    if isinstance(backend, RedisCache):
        if backend.add(key, 1, timeout=window):
            return 1
        try:
            return backend.incr(key)
        except ValueError:  # expired between the two
            backend.add(key, 1, timeout=window)
            return 1
    now = timezone.now().timestamp()
    count, ends = backend.get(key) or (0, 0)
    if ends <= now:
        count, ends = 0, now + window
    count += 1
    backend.set(key, (count, ends), timeout=max(int(ends - now), 1))
    return count


def reset_allowed(request, email: str) -> bool:
    """Whether this request may send e-mails: under the limit for its e-mail address and for its client address (both
    counted, whatever the answer)."""
    by_email = _count(f"parcours-reset:email:{_digest(email.strip().casefold())}")
    by_address = _count(f"parcours-reset:address:{_digest(client_address(request))}")
    return max(by_email, by_address) <= settings.PASSWORD_RESET_LIMIT


class ResetForm(PasswordResetForm):
    email = forms.EmailField(
        label=gettext_lazy("Adresse e-mail"),
        max_length=254,
        help_text=gettext_lazy("L'adresse e-mail de votre compte Parcours."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def get_users(self, email):
        """Django's (active accounts whose address matches, case-insensitively), those without a usable password
        included: an account created with its e-mail address only sets its first password here."""
        field = get_user_model().get_email_field_name()
        wanted = email.casefold()
        candidates = get_user_model()._default_manager.filter(**{f"{field}__iexact": email, "is_active": True})
        return (user for user in candidates if (getattr(user, field) or "").casefold() == wanted)


class AccountTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset token, which also dies with any change of the account recorded since it was made (its last
    `account` event: switched off, switched back on, rights changed): a link sent before an account was switched off
    — a compromised mailbox, a leaver — does not come back to life when the account is switched on again."""

    def _make_hash_value(self, user, timestamp):
        return f"{super()._make_hash_value(user, timestamp)}|{chain_sequence('account', user.pk)}"


account_token_generator = AccountTokenGenerator()


class PasswordResetView(auth_views.PasswordResetView):
    form_class = ResetForm
    token_generator = account_token_generator
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        if not reset_allowed(self.request, form.cleaned_data["email"]):
            # The same answer as any request: nothing tells whether the address is known, nor that it was refused.
            logger.warning("password reset requests over the limit")
            return HttpResponseRedirect(self.get_success_url())
        self.extra_email_context = {
            "base_url": settings.PARCOURS_BASE_URL,
            "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
        }
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    token_generator = account_token_generator
    success_url = reverse_lazy("password_reset_complete")
    reset_url_token = "choisir"

    def get_user(self, uidb64):
        """Django's, but an account switched off since the link was sent: the link is invalid (Django's token does not
        depend on it, and the password chosen would be live the day the account is switched back on)."""
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def form_valid(self, form):
        response = super().form_valid(form)
        logger.info("password reset by e-mail link", extra={"user": form.user.pk})
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


# --- Change --------------------------------------------------------------------------------------------------------
class PasswordChangeView(auth_views.PasswordChangeView):
    def form_invalid(self, form):
        if form.has_error("old_password", "password_incorrect"):
            signed_out = self._wrong_old_password()
            if signed_out is not None:
                return signed_out
        return super().form_invalid(form)

    def _wrong_old_password(self):
        """Counted in the session and as a failed sign-in of the username (django-axes: its lockout page answers
        when that reaches the limit); at the limit the session is signed out."""
        request = self.request
        count = request.session.get(WRONG_OLD_PASSWORDS, 0) + 1
        request.session[WRONG_OLD_PASSWORDS] = count
        username = request.user.get_username()
        user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
        if count < settings.AXES_FAILURE_LIMIT and not getattr(request, "axes_locked_out", False):
            return None
        logger.warning(
            "password change: too many wrong current passwords, signed out", extra={"user": request.user.pk}
        )
        logout(request)
        if getattr(request, "axes_locked_out", False):
            # The lockout page answers (django-axes' middleware): it says the session was signed out too, in its one
            # message (a message of its own here would contradict it: « reconnectez-vous » while locked out).
            setattr(request, SIGNED_OUT, True)
            return redirect("login")
        messages.error(
            request,
            _(
                "Trop d'essais de l'ancien mot de passe : vous avez été déconnecté·e. Reconnectez-vous, ou choisissez "
                "un nouveau mot de passe avec « Mot de passe oublié ? »."
            ),
        )
        return redirect("login")

"""The person's own pages: notification preferences (per kind of event, immediately, in a daily digest, or never)
and the account's security (other sessions signed out, the API token revoked)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext, gettext_lazy, ngettext

from parcours.mail import kinds_for_role
from parcours.models import Delivery
from parcours.selectors.accounts import account_security_of
from parcours.selectors.notifications import preferences_of
from parcours.services import accounts
from parcours.services.preferences import set_notification_preferences
from parcours.web.common import actor_required, apply_domain_error
from workflows.errors import DomainError


def preferences_form_class(kinds):
    fields = {
        kind.value: forms.ChoiceField(
            label=kind.label,
            choices=Delivery.choices,
            widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
            error_messages={
                "required": gettext_lazy("Choisissez une option."),
                "invalid_choice": gettext_lazy("Choix inconnu : tout de suite, résumé quotidien ou jamais."),
            },
        )
        for kind in kinds
    }
    return type("NotificationPreferencesForm", (forms.Form,), fields)


@actor_required
def notification_preferences(request, *, actor):
    kinds = kinds_for_role(actor.role)
    form_class = preferences_form_class(kinds)
    status = 200
    if request.method == "POST" and not kinds:
        # A role told of nothing by e-mail (the page says so): nothing to record, and not said recorded.
        messages.info(request, gettext("Votre rôle ne reçoit aucun courriel : il n'y a rien à enregistrer."))
        return redirect("notification_preferences")
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                set_notification_preferences(actor=actor, choices=form.cleaned_data)
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                messages.success(request, gettext("Vos préférences de notification sont enregistrées."))
                return redirect("notification_preferences")
        status = 400
    else:
        current = preferences_of(actor.user)
        form = form_class(initial={kind.value: current[kind.value] for kind in kinds})
    return render(
        request,
        "notification_preferences.html",
        {"form": form, "has_email": bool(actor.user.email), "email": actor.user.email},
        status=status,
    )


@login_required
def account_security(request):
    """« Sécurité du compte »: how many sessions are signed in and whether an API token is live; sign the others out
    (a computer left signed in), revoke the token (a script's key that leaked)."""
    user = request.user
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "sign_out_elsewhere":
            ended = accounts.account_sign_out_elsewhere(user=user, keep=request.session.session_key)
            messages.success(
                request,
                ngettext("%(n)s autre session déconnectée.", "%(n)s autres sessions déconnectées.", ended)
                % {"n": ended}
                if ended
                else gettext("Aucune autre session n'était ouverte."),
            )
        elif action == "revoke_token":
            revoked = accounts.account_revoke_token(user=user)
            messages.success(
                request,
                gettext("Votre jeton d'API est révoqué : les scripts qui l'utilisaient sont refusés (401).")
                if revoked
                else gettext("Vous n'aviez pas de jeton d'API."),
            )
        else:
            messages.error(request, gettext("Action inconnue."))
            return render(request, "account_security.html", _security_context(request), status=400)
        return redirect("account_security")
    return render(request, "account_security.html", _security_context(request))


def _security_context(request) -> dict:
    return account_security_of(request.user, session_key=request.session.session_key)

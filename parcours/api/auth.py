"""Who calls the API: token or session authentication, then the organisation the caller acts for.

A user may belong to several organisations: the optional `X-Organisation` header (organisation id) picks
one of the user's active memberships; without it, a session keeps the organisation chosen in the UI, and a
token acts for the first active membership (roles.middleware.memberships_of orders them by name).
"""

import re

from django.contrib.auth import authenticate
from rest_framework import authentication, exceptions, status

from parcours.api.errors import ApiProblem
from parcours.doors import lockout_message
from roles.actor import Actor
from roles.middleware import memberships_of
from roles.tokens import is_expired

ORGANISATION_HEADER = "X-Organisation"
TOKEN_KEY_RE = re.compile(r"[0-9a-f]{40}")
ID_RE = re.compile(r"[0-9]{1,18}")


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`; malformed keys are refused before touching the database."""

    keyword = "Token"

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed as exc:
            # DRF's own refusals of a malformed header ("Token a b") carry its generic code: a client tells an
            # invalid token from an expired one (token_expired) by the problem's code.
            if exc.get_codes() == exceptions.AuthenticationFailed.default_code:
                raise exceptions.AuthenticationFailed(str(exc.detail), code="invalid_token") from None
            raise

    def authenticate_credentials(self, key):
        if not TOKEN_KEY_RE.fullmatch(key or ""):
            raise exceptions.AuthenticationFailed("Jeton invalide.", code="invalid_token")
        try:
            user, token = super().authenticate_credentials(key)
        except exceptions.AuthenticationFailed:
            raise exceptions.AuthenticationFailed(
                "Jeton invalide ou compte désactivé.", code="invalid_token"
            ) from None
        if is_expired(token):
            raise exceptions.AuthenticationFailed(
                "Jeton expiré : demandez-en un nouveau (POST /api/v1/auth/token/).", code="token_expired"
            )
        return user, token


def check_credentials(request, *, username: str, password: str):
    # The Django request: the login lockout (parcours.doors) counts failures by username and client address on it.
    django_request = request._request
    user = authenticate(request=django_request, username=username, password=password)
    if getattr(django_request, "axes_locked_out", False):
        raise ApiProblem(status.HTTP_429_TOO_MANY_REQUESTS, "too_many_login_attempts", lockout_message())
    if user is None or not user.is_active:
        raise ApiProblem(status.HTTP_400_BAD_REQUEST, "invalid_credentials", "Identifiant ou mot de passe incorrect.")
    return user


def resolve_actor(request) -> Actor:
    """The Actor (user × organisation × role) for this request, or a 400/403 problem."""
    user = request.user
    # Signed in by the session, the middleware read them already (roles.middleware); by a token, it read none.
    memberships = getattr(request._request, "memberships", None)
    if not memberships or memberships[0].user_id != user.pk:
        memberships = list(memberships_of(user))
    wanted = request.headers.get(ORGANISATION_HEADER)
    if wanted is not None:
        wanted = wanted.strip()
        if not ID_RE.fullmatch(wanted):
            raise ApiProblem(
                status.HTTP_400_BAD_REQUEST,
                "invalid_header",
                f"En-tête {ORGANISATION_HEADER} : identifiant d'organisation attendu.",
                field=ORGANISATION_HEADER,
            )
        membership = next((m for m in memberships if m.organisation_id == int(wanted)), None)
        if membership is None:
            raise ApiProblem(
                status.HTTP_403_FORBIDDEN,
                "not_a_member",
                "Vous n'êtes pas membre actif de cette organisation.",
                field=ORGANISATION_HEADER,
            )
        return Actor.from_membership(membership)
    if not memberships:
        raise ApiProblem(
            status.HTTP_403_FORBIDDEN, "no_membership", "Votre compte n'est rattaché à aucune organisation active."
        )
    chosen = getattr(request._request, "membership", None)  # the UI's current organisation (session only)
    if chosen is not None and chosen.user_id == user.pk:
        membership = next((m for m in memberships if m.pk == chosen.pk), memberships[0])
    else:
        membership = memberships[0]
    return Actor.from_membership(membership)

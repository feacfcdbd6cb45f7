"""API tokens (DRF authtoken: one per user): issued on request, expiring API_TOKEN_TTL after issue, revoked when the
password changes (roles.passwords) or on request (rotation: docs/security.md)."""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token


def expires_at(token: Token) -> datetime.datetime:
    return token.created + settings.API_TOKEN_TTL


def is_expired(token: Token, now: datetime.datetime | None = None) -> bool:
    return (now or timezone.now()) >= expires_at(token)


@transaction.atomic
def issue_token(user) -> Token:
    """The user's valid token, or a new one when there is none or it has expired."""
    token = Token.objects.select_for_update().filter(user=user).first()
    if token is not None and not is_expired(token):
        return token
    if token is not None:
        token.delete()
    return Token.objects.create(user=user)


def revoke_tokens(user=None) -> int:
    """Delete the API token of `user` (of every user when None); returns how many were deleted."""
    tokens = Token.objects.all() if user is None else Token.objects.filter(user=user)
    return tokens.delete()[0]

"""What a person may read of their own account: their other sessions and their API token (« Sécurité du compte »)."""

from rest_framework.authtoken.models import Token

from roles.accounts import sessions_of
from roles.tokens import expires_at, is_expired


def account_security_of(user, *, session_key: str | None) -> dict:
    """The user's other signed-in sessions (the asking one, `session_key`, left out) and their API token, if any."""
    token = Token.objects.filter(user=user).first()
    return {
        "other_sessions": len(sessions_of(user, keep=session_key)),
        "token": token,
        "token_expires_at": expires_at(token) if token is not None else None,
        "token_expired": token is not None and is_expired(token),
    }

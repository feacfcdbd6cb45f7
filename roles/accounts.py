"""An account switched off loses what it was signed in with: its web sessions and its API token. Django's own check
refuses an inactive user's session and token while the account stays off; without this, switching it back on made a
session cookie or a token taken before (a stolen laptop, a leaked script) work again. A password change ends them by
the same means: Django's session hash for the sessions, roles.passwords for the token (revoke_tokens)."""

from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.utils import timezone

from roles.tokens import revoke_tokens


def _session_model():
    """The model of the configured session store (the database's, or the cache's backed by it), else None."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return store.get_model_class() if hasattr(store, "get_model_class") else None


def sessions_of(user, *, keep: str | None = None) -> list[str]:
    """The keys of the unexpired web sessions signed in as `user` (every one is read: a session names its user only in
    its signed data), but the one `keep` names (the page asking)."""
    model = _session_model()
    if model is None:  # pragma: no cover - the settings keep sessions in the database
        raise RuntimeError(f"{settings.SESSION_ENGINE}: sessions that cannot be listed cannot be ended")
    user_key = str(user.pk)
    sessions = model.objects.filter(expire_date__gt=timezone.now()).exclude(session_key=keep or "")
    return [
        session.session_key
        for session in sessions.iterator(chunk_size=500)
        if str(session.get_decoded().get(SESSION_KEY)) == user_key
    ]


def end_sessions(user, *, keep: str | None = None) -> list[str]:
    """Delete the web sessions signed in as `user`, but `keep`; returns their keys. The cached copies of a
    "cached_db" store go with them; those already expired are the `clearsessions` command's."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = sessions_of(user, keep=keep)
    for key in keys:
        store(session_key=key).delete()
    return keys


def end_access(user) -> tuple[int, int]:
    """Sessions and API token of `user` deleted: (sessions, tokens)."""
    return len(end_sessions(user)), revoke_tokens(user)


"""How an operator lifts a login lockout at once (`manage.py unlock_login`): django-axes keeps the failures in the
cache under a digest of (username, address), which nothing can find from the username alone; the addresses that failed
for a username are kept here beside them, for as long as the cool-off."""

import hashlib

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import caches
from django.dispatch import receiver

from parcours.doors import client_address

MAX_ADDRESSES = 100  # per username, for as long as the cool-off: enough for a real user, bounded for an attack


def _addresses_key(username: str) -> str:
    # A digest: a username typed in a login form may hold anything (spaces, control characters, 10,000 bytes).
    return f"parcours-login-failures:{hashlib.sha256(username.encode()).hexdigest()}"


def _cache():
    return caches[getattr(settings, "AXES_CACHE", "default")]


@receiver(user_login_failed, dispatch_uid="parcours.lockout.remember_address")
def remember_address(sender, credentials, request=None, **kwargs):
    if request is None:
        return
    username = get_client_username(request, credentials)
    if not username:
        return
    key = _addresses_key(username)
    addresses = _cache().get(key) or []
    address = client_address(request)
    if address not in addresses and len(addresses) < MAX_ADDRESSES:
        addresses = [*addresses, address]
    _cache().set(key, addresses, timeout=int(settings.AXES_COOLOFF_TIME.total_seconds()))


def unlock(username: str) -> int:
    """Forget the failed logins of `username` from every address it failed from: how many addresses had some."""
    key = _addresses_key(username)
    lifted = 0
    for address in _cache().get(key) or []:
        lifted += 1 if AxesProxyHandler.reset_attempts(username=username, ip_address=address) else 0
    _cache().delete(key)
    return lifted

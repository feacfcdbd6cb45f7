"""The doors: login lockout on every login form (web, admin, API token endpoint), the client address behind the
configured trusted proxies, the throttles in a shared cache, the rates from the environment.

Before this work 30 wrong passwords then the right one were all accepted, and the token endpoint's throttle counted
per client-sent X-Forwarded-For."""

import io

import pytest
from django.core.cache import cache, caches
from django.core.management import call_command
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient

from parcours.api.throttling import TokenObtainRateThrottle
from parcours.doors import client_address
from tests.factories import UserFactory

PASSWORD = "un-mot-de-passe-assez-long"


@pytest.fixture(autouse=True)
def _clean_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(db):
    user = UserFactory(username="conseillere.test", is_staff=True, is_superuser=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def _web_login(client, password, url="/connexion/", **extra):
    return client.post(url, {"username": "conseillere.test", "password": password}, **extra)


def test_web_login_is_locked_after_five_failures_even_with_the_right_password(client, user):
    for _ in range(4):
        response = _web_login(client, "mauvais")
        assert response.status_code == 200
        assert "Identifiant ou mot de passe incorrect." in response.content.decode()
    locked = _web_login(client, "mauvais")  # the fifth failure locks the pair out
    assert locked.status_code == 429
    response = _web_login(client, PASSWORD)
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    page = response.content.decode()
    assert "Trop de tentatives de connexion échouées" in page and "réessayez dans 15 minutes" in page
    assert "_auth_user_id" not in client.session


def test_a_success_before_the_limit_resets_the_count(client, user):
    for _ in range(4):
        _web_login(client, "mauvais")
    assert _web_login(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert _web_login(client, "mauvais").status_code == 200


def test_admin_login_is_locked_too(client, user):
    for _ in range(5):
        _web_login(client, "mauvais", url="/admin/login/")
    response = _web_login(client, PASSWORD, url="/admin/login/")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_api_token_endpoint_is_locked_too(user):
    client = APIClient()
    for _ in range(5):
        response = client.post("/api/v1/auth/token/", {"username": "conseillere.test", "password": "mauvais"})
        assert response.status_code in (400, 429)
    response = client.post("/api/v1/auth/token/", {"username": "conseillere.test", "password": PASSWORD})
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "too_many_login_attempts"
    assert response["Retry-After"] == "900"


def test_an_operator_lifts_a_lockout_from_every_address_at_once(client, user):
    api = APIClient()
    for _ in range(5):
        _web_login(client, "mauvais")
        _web_login(client, "mauvais", REMOTE_ADDR="192.0.2.7")
        api.post("/api/v1/auth/token/", {"username": "conseillere.test", "password": "mauvais"}, format="json")
    assert _web_login(client, PASSWORD).status_code == 429
    assert _web_login(client, PASSWORD, REMOTE_ADDR="192.0.2.7").status_code == 429
    # django-axes' own axes_reset_username found nothing: the lockouts live in the cache, keyed by a digest.
    out = io.StringIO()
    call_command("unlock_login", "conseillere.test", stdout=out)
    assert out.getvalue().strip() == "Verrouillage levé pour conseillere.test."
    assert _web_login(client, PASSWORD).status_code == 302
    client.logout()
    assert _web_login(client, PASSWORD, REMOTE_ADDR="192.0.2.7").status_code == 302
    token = api.post("/api/v1/auth/token/", {"username": "conseillere.test", "password": PASSWORD}, format="json")
    assert token.status_code == 200
    out = io.StringIO()
    call_command("unlock_login", "personne", stdout=out)
    assert out.getvalue().strip() == "Aucun verrouillage en cours pour personne."


def test_a_lockout_is_per_username_and_address(client, user):
    for _ in range(5):
        _web_login(client, "mauvais")
    # Another address (another office) is not locked out of the same account.
    assert _web_login(client, PASSWORD, REMOTE_ADDR="192.0.2.7").status_code == 302


def test_a_client_sent_forwarded_for_does_not_unlock_without_trusted_proxies(client, user):
    for _ in range(5):
        _web_login(client, "mauvais")
    assert _web_login(client, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.9").status_code == 429


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_one_trusted_proxy_the_address_it_saw_is_counted(client, user):
    for n in range(5):  # the client forges a different left-hand entry each time: it does not matter
        _web_login(client, "mauvais", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 203.0.113.5")
    assert _web_login(client, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
    assert _web_login(client, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 302


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "192.0.2.1", "", "192.0.2.1"),
        (0, "192.0.2.1", "203.0.113.5", "192.0.2.1"),  # no trusted proxy: the header is the client's word
        (1, "127.0.0.1", "203.0.113.5", "203.0.113.5"),
        (1, "127.0.0.1", "6.6.6.6, 203.0.113.5", "203.0.113.5"),  # the forged left-hand entry is ignored
        (2, "127.0.0.1", "6.6.6.6, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
        (2, "127.0.0.1", "203.0.113.5", "203.0.113.5"),  # fewer entries than proxies: all are proxies' own
        (1, "127.0.0.1", "", "127.0.0.1"),
        (1, "127.0.0.1", "not-an-address", "127.0.0.1"),
        (1, "127.0.0.1", " , ", "127.0.0.1"),
        (1, "127.0.0.1", "2001:db8::1", "2001:db8::1"),
        (0, "", "", "0.0.0.0"),
    ],
)
def test_client_address(proxies, remote, forwarded, expected):
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(TRUSTED_PROXY_COUNT=proxies):
        assert client_address(request) == expected


def test_the_token_endpoint_throttle_ignores_a_client_sent_forwarded_for(db, monkeypatch):
    monkeypatch.setattr(TokenObtainRateThrottle, "THROTTLE_RATES", {"token_obtain": "3/minute"})
    client = APIClient()
    statuses = [
        client.post(
            "/api/v1/auth/token/", {"username": f"x{n}", "password": "y"}, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"
        ).status_code
        for n in range(4)
    ]
    assert statuses == [400, 400, 400, 429]


DATABASE_CACHE = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "parcours_cache"}}


def _reset_cache_handlers():
    from axes.handlers.proxy import AxesProxyHandler

    AxesProxyHandler.implementation = None  # django-axes keeps the cache it was built with
    for alias in list(caches.settings):
        if hasattr(caches._connections, alias):
            delattr(caches._connections, alias)


@pytest.fixture
def database_cache(settings, db):
    from django.core.management import call_command

    settings.CACHES = DATABASE_CACHE
    _reset_cache_handlers()
    call_command("createcachetable", verbosity=0)  # as `make migrate` does (rolled back with the test)
    yield
    _reset_cache_handlers()


@pytest.fixture
def redis_cache(settings):
    """The shared cache on the test Redis, under a prefix of this test process; its keys deleted after the test.
    Yields a second cache connection to it, as another worker process has."""
    import os

    from django.core.cache.backends.redis import RedisCache

    url = os.environ["REDIS_URL"]
    prefix = f"doors-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url, "KEY_PREFIX": prefix}
    }
    _reset_cache_handlers()
    other_process = RedisCache(url, {"KEY_PREFIX": prefix})
    try:
        yield other_process
    finally:
        for key in other_process._cache.get_client().keys(f"{prefix}:*"):
            RedisCache(url, {})._cache.get_client().delete(key)
        _reset_cache_handlers()


def test_the_database_cache_holds_lockouts_and_throttles(client, user, database_cache, monkeypatch):
    """Without REDIS_URL the counters are rows of the cache table (created next to the migrations): every worker
    process reads the same ones."""
    from django.db import connection

    for _ in range(5):
        _web_login(client, "mauvais")
    assert _web_login(client, PASSWORD).status_code == 429
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM parcours_cache")
        assert cursor.fetchone()[0] >= 1
    monkeypatch.setattr(TokenObtainRateThrottle, "THROTTLE_RATES", {"token_obtain": "2/minute"})
    api = APIClient()
    codes = [api.post("/api/v1/auth/token/", {"username": "z", "password": "z"}).status_code for _ in range(3)]
    assert codes == [400, 400, 429]


@pytest.mark.redis
def test_two_processes_share_the_counters_through_redis(redis_cache, user, client):
    """Two cache connections (as two worker processes have) see one count: the lockout reached through one holds
    through the other."""
    for _ in range(5):
        _web_login(client, "mauvais")
    assert redis_cache._cache.get_client().keys(f"{redis_cache.key_prefix}:*"), "the lockout counters are in Redis"
    _reset_cache_handlers()  # a fresh connection, as in another process
    assert _web_login(client, PASSWORD).status_code == 429


@pytest.mark.redis
def test_concurrent_requests_each_count_against_the_limit(redis_cache, monkeypatch):
    """16 threads, 25 requests each, against a limit of 100: exactly 100 pass. DRF's throttle read its list of
    timestamps and wrote it back, and concurrent requests overwrote each other's count (1,300 concurrent requests
    all passed a limit of 1,000)."""
    import threading

    monkeypatch.setattr(TokenObtainRateThrottle, "THROTTLE_RATES", {"token_obtain": "100/minute"})
    request = RequestFactory().post("/api/v1/auth/token/", REMOTE_ADDR="198.51.100.7")
    allowed, start = [], threading.Barrier(16)

    def client():
        start.wait()
        for _ in range(25):
            allowed.append(TokenObtainRateThrottle().allow_request(request, None))

    threads = [threading.Thread(target=client) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 400 and allowed.count(True) == 100
    throttle = TokenObtainRateThrottle()
    assert not throttle.allow_request(request, None) and 0 < throttle.wait() <= 60


@pytest.mark.redis
def test_a_throttle_key_left_by_the_previous_release_is_no_500(redis_cache, monkeypatch):
    """The release before the counters kept DRF's list of request times under `throttle_<scope>_<ident>`, for up to
    the window's hour: the counter's INCR on it failed and every request of that caller answered 500. The counters
    have their own names; a value there that is not a counter is counted again from the request."""
    monkeypatch.setattr(TokenObtainRateThrottle, "THROTTLE_RATES", {"token_obtain": "3/minute"})
    request = RequestFactory().post("/api/v1/auth/token/", REMOTE_ADDR="198.51.100.9")
    throttle = TokenObtainRateThrottle()
    drf_key = throttle.get_cache_key(request, None)
    caches["default"].set(drf_key, [1_000_000.0, 999_990.0], 3600)  # as DRF's throttle left it
    assert throttle.allow_request(request, None)
    client, counter = throttle._redis
    assert int(client.get(counter)) == 1 and caches["default"].get(drf_key) == [1_000_000.0, 999_990.0]
    client.set(counter, b"not a count")
    assert [TokenObtainRateThrottle().allow_request(request, None) for _ in range(4)] == [True] * 3 + [False]
    assert 0 < client.ttl(counter) <= 60


def test_without_redis_a_throttle_window_slides_and_reopens(database_cache, monkeypatch):
    """The database cache keeps DRF's list of request times (its increment would reset the entry's expiry at each
    request, and a steady caller would stay refused for ever): two per minute, the third refused for the rest of
    the minute, allowed again once the first has aged out."""
    monkeypatch.setattr(TokenObtainRateThrottle, "THROTTLE_RATES", {"token_obtain": "2/minute"})
    clock = [1_000_000.0]
    monkeypatch.setattr(TokenObtainRateThrottle, "timer", lambda self: clock[0])
    request = RequestFactory().post("/api/v1/auth/token/", REMOTE_ADDR="198.51.100.8")

    def attempt():
        throttle = TokenObtainRateThrottle()
        return throttle.allow_request(request, None), throttle

    assert attempt()[0]
    clock[0] += 50
    assert attempt()[0]
    clock[0] += 5
    allowed, throttle = attempt()
    assert not allowed and 0 < throttle.wait() <= 60
    clock[0] += 6  # the first request is 61 s old
    assert attempt()[0]
    clock[0] += 1
    assert not attempt()[0]

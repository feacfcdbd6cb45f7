"""Settings for Parcours, read from the environment.

The embedded default (SQLite, in-memory channel layer, database cache) needs nothing installed. `DEBUG` is off
unless the environment turns it on (`make run` and the test settings do); with it off, SECRET_KEY is required and
the production security settings apply (HSTS, HTTPS redirect, secure cookies, see docs/security.md, where the
production environment that passes `manage.py check --deploy` is written down).
"""

import datetime
import os
import re
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PARCOURS_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}: expected 1 or 0, got {value!r}.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"[0-9]+", raw) or int(raw) < minimum:
        raise ImproperlyConfigured(f"{name}: expected a whole number >= {minimum}, got {raw!r}.")
    return int(raw)


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_flag("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. In production set SECRET_KEY to a long random value (docs/security.md); "
            "for the demo run `make run`, which sets DEBUG=1."
        )
    SECRET_KEY = "dev-only-insecure-key-used-with-debug-on-never-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

# --- HTTPS and the reverse proxy (docs/security.md) -----------------------------------------------------------------
# Behind a TLS-terminating proxy, SECURE_PROXY_SSL_HEADER names the header it sets to "https" (X-Forwarded-Proto),
# CSRF_TRUSTED_ORIGINS the public origin(s) (https://parcours.example.org), TRUSTED_PROXY_COUNT how many proxies
# append to X-Forwarded-For (the client address of login lockouts and throttles; 0: the socket's address).
_proxy_header = os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip()
if _proxy_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
SECURE_SSL_REDIRECT = env_flag("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_flag("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_flag("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# The language chosen (i18n/setlang): as the session's cookie, though it only holds "fr" or "en".
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=60)  # a working day
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "parcours.storage.StaticFilesConfig",  # django.contrib.staticfiles without viewflow's files
    "guardian",
    "axes",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from our static files, not a CDN
    "csp",
    "viewflow",
    "viewflow.workflow",
    "roles",
    "workflows",
    "parcours",
]

MIDDLEWARE = [
    "parcours.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outside the middlewares that read the host: a 400 for a bad Host header carries them too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Static files from STATIC_ROOT (after `collectstatic`), compressed and cached for ever when hashed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Pages of a signed-in user and API answers: `Cache-Control: private, no-store` (parcours/private.py).
    "parcours.private.PrivateResponsesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "roles.middleware.CurrentOrganisationMiddleware",
    # A page's 405 (an action's address opened directly) gets the site's page instead of an empty one.
    "parcours.web.not_allowed.MethodNotAllowedPageMiddleware",
    # Redis down (lockouts, throttles): a 503 saying so, not a 500.
    "parcours.unavailable.ServiceUnavailableMiddleware",
    # Last: turns a login refused by the lockout into the lockout page (or a 429 problem on the API).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "parcours.urls"
ASGI_APPLICATION = "parcours.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "roles.context_processors.current_organisation",
                "parcours.web.context_processors.navigation",
            ],
        },
    },
]

_conn_max_age = env_int("DB_CONN_MAX_AGE", 0, minimum=0)
try:
    DATABASES = {
        "default": dj_database_url.config(
            default=f"sqlite:///{VAR_DIR / 'parcours.sqlite3'}",
            conn_max_age=_conn_max_age,
        )
    }
except ValueError as exc:  # an unknown scheme (UnknownSchemeError), a bad port: said in words
    raise ImproperlyConfigured(
        f"DATABASE_URL illisible ({exc}) : postgres://utilisateur:motdepasse@hôte:5432/base attendu."
    ) from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's PostgreSQL backend, whose COMMIT carries the reads a transaction left for it in the same round trip
    # (the audience of a transition's notification): roles/commit.py.
    DATABASES["default"]["ENGINE"] = "roles.postgresql"
_on_postgresql = DATABASES["default"]["ENGINE"] == "roles.postgresql"
if _on_postgresql and not env_flag("DB_JIT", False):
    # PostgreSQL compiles a statement with its JIT once the planner's estimate passes jit_above_cost. The scoped
    # lists' estimates are huge (an EXISTS per kind of object, walked until the page is full) while they run in a
    # few ms: the journal's page spent 128 ms compiling for 4 ms of work at 1,000,000 pathways. Off per connection
    # (DB_JIT=1 leaves the server's setting; behind PgBouncer, which refuses this startup option, set it on the role).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
if _on_postgresql and os.environ.get("DB_PARALLEL_WORKERS", "").strip() != "server":
    # Parallel plans off by default: the scoped lists answer in ~10 ms serially, and starting the Gather's workers
    # cost 20 ms more (adviser's participants at 1,000,000 pathways: p50 68 -> 42 ms; the hourly recount of the
    # pathway figures 2.5 -> 1.3 s). DB_PARALLEL_WORKERS=N allows N workers, "server" leaves the server's setting.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _workers = env_int("DB_PARALLEL_WORKERS", 0)
    _options["options"] = f"{_options.get('options', '')} -c max_parallel_workers_per_gather={_workers}".strip()
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Serialise writers instead of failing with "database is locked" under the ASGI server.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    # The indexes' included columns (INCLUDE) are a PostgreSQL read optimisation; SQLite builds the same indexes
    # without them, which its warning W040 said on every command of the demo.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # Parallel test workers share one Redis: each gets its own prefix (in production the prefix is the default).
    _prefix = f"asgi-{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else "asgi"
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": _prefix},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The cache holds the API throttles and the login lockouts: shared by every worker process (Redis when REDIS_URL is
# set, the database otherwise: `manage.py createcachetable` runs next to `migrate`), never one count per process.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "cache",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "parcours_cache"}}

AUTHENTICATION_BACKENDS = [
    "parcours.doors.LoginLockoutBackend",  # first: a locked-out login is refused before its password is checked
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# guardian: no anonymous user row; object grants are given to organisation groups, not to users.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not a rule: revokes the user's API token whenever a password is changed, by any path (roles/passwords.py).
    {"NAME": "roles.passwords.RevokeApiTokensOnPasswordChange"},
]

# --- Login lockout (django-axes): every login form (web, admin, API token endpoint) ---------------------------------
# LOGIN_FAILURE_LIMIT failed logins of one username from one client address lock that pair out for
# LOGIN_COOLOFF_MINUTES; the counters live in the shared cache; a success resets them. The address is the one behind
# TRUSTED_PROXY_COUNT proxies (parcours.doors.client_address).
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "parcours.doors.client_address"
AXES_LOCKOUT_CALLABLE = "parcours.lockout.lockout_response"
AXES_ENABLE_ADMIN = False  # the cache handler keeps no rows to show
AXES_VERBOSE = False

# --- Password reset (« Mot de passe oublié ? », parcours/web/passwords.py) ------------------------------------------
# A reset link works once, for PASSWORD_RESET_MINUTES; at most PASSWORD_RESET_LIMIT requests per hour are answered with
# an e-mail, per e-mail address and per client address (counted in the shared cache, like the lockouts). The
# password-change page signs its session out after LOGIN_FAILURE_LIMIT wrong current passwords.
PASSWORD_RESET_TIMEOUT = 60 * env_int("PASSWORD_RESET_MINUTES", 60, minimum=1)
PASSWORD_RESET_LIMIT = env_int("PASSWORD_RESET_LIMIT", 5, minimum=1)
PASSWORD_RESET_WINDOW = datetime.timedelta(hours=1)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("PARCOURS_STATIC_ROOT", VAR_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing one before `collectstatic`
# Production (DEBUG=0) serves the hashed copies written by `collectstatic`; development serves the sources.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "parcours.storage.StaticStorage"
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# viewflow is the work layer (parcours/work/flows.py); its own site and middlewares are not used.
VIEWFLOW = {"AUTOREGISTER": False}


# --- Journal keys (workflows/keys.py): HMAC keys sealing the audit journal, kept outside the database ----------
def _read_journal_keys(var_dir: Path, autogenerate: bool):
    """`PARCOURS_JOURNAL_KEYS` ("id:secret" entries separated by commas or new lines, the first one sealing new
    events) or the file `PARCOURS_JOURNAL_KEY_FILE` (default var/journal.key, same format). With DEBUG (the demo),
    a missing file is created with a fresh random key. Secrets are at least 32 characters."""
    raw = os.environ.get("PARCOURS_JOURNAL_KEYS", "")
    path = Path(os.environ.get("PARCOURS_JOURNAL_KEY_FILE", var_dir / "journal.key"))
    if not raw and path.exists():
        raw = path.read_text()
    if not raw and autogenerate:
        generated = f"demo-{datetime.date.today():%Y%m%d}-{secrets.token_hex(3)}:{secrets.token_urlsafe(48)}\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process (server, timer worker) created it first
            raw = path.read_text()
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(generated)
            raw = generated
    keys = {}
    for entry in raw.replace(",", "\n").splitlines():
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        key_id, _, value = entry.partition(":")
        if not key_id.strip() or len(value.strip()) < 32:
            raise RuntimeError("Journal key entries are 'id:secret' with a secret of at least 32 characters.")
        keys[key_id.strip()] = value.strip().encode()
    return keys


JOURNAL_KEYS = _read_journal_keys(VAR_DIR, autogenerate=DEBUG)
JOURNAL_KEY_ID = os.environ.get("PARCOURS_JOURNAL_KEY_ID", next(iter(JOURNAL_KEYS), ""))
# Signed checkpoints of the whole journal are written here too; copy them off the machine (docs/audit.md).
JOURNAL_CHECKPOINT_DIR = Path(os.environ.get("PARCOURS_JOURNAL_CHECKPOINT_DIR", VAR_DIR / "checkpoints"))

# Business settings (defaults; facilitation organisations may override some per organisation).
PARCOURS = {
    "ELIGIBILITY_VALIDITY_MONTHS": 24,
    # Validating eligibility with a declared criterion whose proof was not seen: a warning to confirm (default) or,
    # when on, a refusal.
    "ELIGIBILITY_PROOF_REQUIRED": os.environ.get("PARCOURS_ELIGIBILITY_PROOF_REQUIRED", "0") == "1",
    "MAX_MONTHLY_HOURS": 220,
    # Monthly hours above weekly hours × working days of the contract in the month are refused beyond this margin
    # (overtime); the statement page and the uploaded timesheets apply the same check.
    "HOURS_TOLERANCE_PERCENT": int(os.environ.get("PARCOURS_HOURS_TOLERANCE_PERCENT", "10")),
    "STATEMENT_UPLOAD_MAX_BYTES": 1_048_576,
    "STATEMENT_UPLOAD_MAX_ROWS": 2000,
    # A lot is "at risk" when its share of hours realised lags its share of execution time elapsed by more than this.
    "AT_RISK_MARGIN_PERCENT": 10,
    "ACCESS_LOG_RETENTION_DAYS": int(os.environ.get("PARCOURS_ACCESS_LOG_RETENTION_DAYS", "365")),
    # Retention (CNIL référentiel "accompagnement social"): files without activity for this long are anonymised,
    # after a notice period during which the Mission Locale is told and any activity cancels the anonymisation.
    "RETENTION_INACTIVITY_MONTHS": int(os.environ.get("PARCOURS_RETENTION_INACTIVITY_MONTHS", "24")),
    "RETENTION_NOTICE_DAYS": int(os.environ.get("PARCOURS_RETENTION_NOTICE_DAYS", "30")),
    # The timer worker seals the journal (a checkpoint) at most this often, when new events exist.
    "JOURNAL_CHECKPOINT_MINUTES": int(os.environ.get("PARCOURS_JOURNAL_CHECKPOINT_MINUTES", "60")),
    # The dashboard's pathway figures (funnel, time in each state, exits) are counted at most this often per team and
    # shown with the time they were counted (parcours.selectors.kept_figures); the worker recounts those in use.
    "PATHWAY_FIGURES_MINUTES": env_int("PARCOURS_PATHWAY_FIGURES_MINUTES", 15, minimum=1),
    # E-mail notifications (parcours/mail.py): the daily digest leaves at this hour (local time). Missing monthly
    # statements are reminded from each facilitation organisation's reminder day (admin), by e-mail as in the app.
    "DIGEST_HOUR": int(os.environ.get("PARCOURS_DIGEST_HOUR", "7")),
    # The timer worker writes a heartbeat every sweep; readiness reports it stale after this many seconds.
    "WORKER_HEARTBEAT_STALE_SECONDS": int(os.environ.get("PARCOURS_WORKER_HEARTBEAT_STALE_SECONDS", "120")),
    # Live pages: at most this many missed events are replayed to a reconnecting page (beyond: it reloads).
    "LIVE_REPLAY_LIMIT": 200,
    # The hot statements of a transition (row lock, scope checks, journal chain, open tasks, audience) are prepared
    # once per PostgreSQL session and planned once (roles.statements.prepared). Off (0) behind a pooler in transaction
    # mode (PgBouncer `pool_mode = transaction`), which does not keep a session's prepared statements.
    "PREPARED_STATEMENTS": os.environ.get("DB_PREPARED_STATEMENTS", "1") == "1",
}

# Largest request body accepted; the API's JSON parser refuses bigger bodies with 413 (parcours.api.parsers).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440


def env_rate(name: str, default: str) -> str:
    """A throttle rate "number/period" (period: second, minute, hour or day, e.g. 1000/hour)."""
    value = os.environ.get(name, "").strip() or default
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(f"{name}: expected a rate such as 1000/hour, got {value!r}.")
    return value


def env_duration(name: str, default: str) -> datetime.timedelta:
    """A duration: a number of seconds, or a number followed by m (minutes), h (hours) or d (days), e.g. 30d."""
    value = os.environ.get(name, "").strip() or default
    match = re.fullmatch(r"([1-9][0-9]*)([smhd]?)", value)
    if not match:
        raise ImproperlyConfigured(f"{name}: expected a duration such as 30d, 12h or 3600, got {value!r}.")
    unit = {"": "seconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
    return datetime.timedelta(**{unit: int(match[1])})


# An API token expires this long after it was issued (POST /api/v1/auth/token/ then issues a new one).
API_TOKEN_TTL = env_duration("API_TOKEN_TTL", "30d")
API_RATE_USER = env_rate("API_RATE_USER", "1000/hour")  # per token (or session user)
API_RATE_TOKEN = env_rate("API_RATE_TOKEN", "20/minute")  # token requests per client address

# REST API (parcours/api/): token or session authentication, JSON only, RFC 9457 problem details,
# cursor pagination, per-token throttling. The schema and docs are served at /api/v1/schema/ and /api/v1/docs/.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "parcours.api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["parcours.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "parcours.api.errors.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["parcours.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": API_RATE_USER, "token_obtain": API_RATE_TOKEN},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "parcours.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# --- Content Security Policy (django-csp): our own scripts only, never inline ones --------------------------------
# Every script is a static file (static/js/parcours.js holds the pages' behaviour; the API docs load their init
# script from a URL: SpectacularSwaggerSplitView). Inline style attributes remain (layout widths, progress bars).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],  # includes the same-origin websocket of live notifications
        "worker-src": ["'self'", "blob:"],  # ReDoc's search worker
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

SPECTACULAR_SETTINGS = {
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "TITLE": "Parcours API",
    "DESCRIPTION": (
        "API REST de Parcours : parcours d'insertion des jeunes vers les emplois des clauses sociales. "
        "Authentification par jeton (`Authorization: Token <jeton>`, obtenu par `POST /api/v1/auth/token/`) "
        "ou par session. En-tête optionnel `X-Organisation` (identifiant) pour agir au nom d'une autre de vos "
        "organisations. Les erreurs sont des « problem details » RFC 9457 (`application/problem+json`) avec un "
        "`code` stable et un `detail` en français ; un objet hors de votre périmètre répond 404."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "PathwayStateEnum": "workflows.states.PathwayState",
        "ReferralStateEnum": "workflows.states.ReferralState",
        "PlacementStateEnum": "workflows.states.PlacementState",
        "HoursLineStateEnum": "workflows.states.HoursLineState",
        "ContractTypeEnum": "workflows.vocabulary.ContractType",
        "FulfilmentModeEnum": "workflows.vocabulary.FulfilmentMode",
        # An exit's situation and family, at the exit and six months later: one enum each.
        "ExitSituationEnum": "workflows.vocabulary.ExitSituation",
        "ExitCategoryEnum": "workflows.vocabulary.ExitCategory",
    },
    # `<id:pk>` (parcours.converters.IdConverter): an integer from 1 to 2^63 - 1, not a string.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "format": "int64", "minimum": 1}},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "parcours.api.schema.add_problem_responses",
        "parcours.api.schema.require_response_fields",
    ],
}

# --- E-mail (parcours/mail.py): the console in the demo, SMTP when EMAIL_HOST is set ------------------------------
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "parcours.mail_console.EmailBackend",
)
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("EMAIL_USE_TLS", "1") == "1" and os.environ.get("EMAIL_USE_SSL", "0") != "1"
EMAIL_USE_SSL = os.environ.get("EMAIL_USE_SSL", "0") == "1"
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "20"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Parcours <ne-pas-repondre@parcours.localhost>")
# Links in e-mails are absolute: the public address of the site.
PARCOURS_BASE_URL = os.environ.get("PARCOURS_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Logs: one JSON object per line in production (LOG_FORMAT=json, the default when DEBUG=0), each carrying the
# request id (X-Request-ID from the proxy, or a fresh one) of the request it belongs to (parcours/logs.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "WARNING" if DEBUG else "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "parcours.logs.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "parcours.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The ASGI server's own messages go through the same handler (its access log is replaced by ours).
        "uvicorn": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "uvicorn.error": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "uvicorn.access": {"handlers": [], "propagate": False},
        "django.request": {"level": "ERROR"},
    },
}

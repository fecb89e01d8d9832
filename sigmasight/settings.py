"""Django settings for SigmaSight, read from the environment and an optional ``.env`` file.

With no environment at all SigmaSight runs embedded: SQLite in the data folder (``var/``), the ORM
broker for django-q2, the in-memory channel layer, simulated market data and the local agent.
``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis. Every variable is listed in the
README's configuration table; a bad value stops start-up with a message naming the variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sigmasight.env import (
    DEBUG_SECRET_KEY,
    MISSING_KEY_HELP,
    SECRET_KEY_FILENAME,
    ConfigError,
    data_dir,
    env_bool,
    env_choice,
    env_database,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_path,
    env_redis_url,
    env_str,
    load_dotenv,
    secret_key_file_read,
)

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")

# --- Generated files ------------------------------------------------------------------------
# Everything SigmaSight writes — the SQLite database, logs, reports, caches, pid files, archives and
# the demo's local key — lives under one git-ignored data folder (default var/), never inside a
# Python package. Each location can also be moved on its own.
DATA_DIR = data_dir(BASE_DIR)
LOG_DIR = env_path("LOG_DIR", DATA_DIR / "logs", base=BASE_DIR)
REPORTS_DIR = env_path("REPORTS_DIR", DATA_DIR / "reports", base=BASE_DIR)
CALENDAR_CACHE_DIR = env_path("CALENDAR_CACHE_DIR", DATA_DIR / "cache", base=BASE_DIR)
ARCHIVE_DIR = env_path("ARCHIVE_DIR", DATA_DIR / "archive", base=BASE_DIR)
# Pid files of `serve` and `worker` (read by `stop`). Per machine/container: pids mean nothing elsewhere.
RUN_DIR = env_path("RUN_DIR", DATA_DIR / "run", base=BASE_DIR)
SECRET_KEY_FILE = DATA_DIR / SECRET_KEY_FILENAME
for _name, _folder in (("DATA_DIR", DATA_DIR), ("LOG_DIR", LOG_DIR)):
    try:
        _folder.mkdir(parents=True, exist_ok=True)
    except OSError as _exc:
        raise ConfigError(_name, f"cannot create {_folder}: {_exc.strerror}") from None

DEBUG = env_bool("DEBUG", False)
# No usable default outside DEBUG (see sigmasight/env.py): the environment, else the key file that
# `manage.py demo` creates for this installation, else start-up stops with a message naming SECRET_KEY.
SECRET_KEY = env_str("SECRET_KEY") or secret_key_file_read(SECRET_KEY_FILE)
KEY_ORIGIN = "environment" if env_str("SECRET_KEY") else "file" if SECRET_KEY else "debug default"
if not SECRET_KEY:
    if not DEBUG:
        raise ConfigError("SECRET_KEY", f"not set; {MISSING_KEY_HELP}")
    # Public, so only ever used with DEBUG on; Django's deploy check flags its prefix (security.W009).
    SECRET_KEY = DEBUG_SECRET_KEY
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- HTTPS (issue 17): set these in production behind TLS; README "Production settings" -----------
# HSTS is sent only on HTTPS requests, so the one-year default costs a plain-HTTP demo nothing.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips a client's own).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
# Content-Security-Policy of every response (core.middleware_csp): scripts only from this site, no
# framing, no plugins. Inline styles stay allowed (htmx's indicator style, Chart.js, Swagger UI).
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
)

# daphne serves the ASGI app from the command line (`make serve`, `manage.py demo`); it is not in
# INSTALLED_APPS, whose only effect would be an ASGI `runserver` and 0.5 s more start-up per command.
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",  # refresh-token rotation and logout (issue 17.5)
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "channels",
    "core",
    "portfolios",
    "marketdata",
    "analytics",
    "reports",
    "agent",
]

# The access log, then Django's stock middleware.
MIDDLEWARE = [
    "core.middleware.AccessLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.middleware_csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sigmasight.urls"
CSRF_FAILURE_VIEW = "core.errors.csrf_failure"  # JSON 403, never Django's HTML page
WSGI_APPLICATION = "sigmasight.wsgi.application"
ASGI_APPLICATION = "sigmasight.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES: dict[str, dict[str, Any]] = {"default": env_database("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the API read while the batch writes; the timeout rides out short write locks.
    # Transactions start with BEGIN IMMEDIATE (Django 5.1+): a deferred transaction that reads, then
    # writes, cannot wait for the write lock (SQLite answers "database is locked" at once, whatever the
    # timeout, since its snapshot may be stale), so concurrent read-then-write turns (agent chats) failed.
    # Taking the write lock up front makes every such transaction wait its turn up to ``timeout``.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# Persistent connections: a new connection per request (and its set-up) costs more than the query.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Rendered answers of the read endpoints are cached this long (seconds; 0: off), keyed by the database's
# change counter, so never served after a write (core.response_cache, core.datachange).
RESPONSE_CACHE_SECONDS = env_int("RESPONSE_CACHE_SECONDS", 600, minimum=0)
# The ASGI front replays those answers before Django on this many threads per daphne process, each keeping its
# database connection (core/response_front.py: on each request's own thread, hits waited behind each other for
# the interpreter lock).
# Each lookup holds a thread for one database round trip: raise it for a database across a network.
RESPONSE_FRONT_THREADS = env_int("RESPONSE_FRONT_THREADS", 2, minimum=1)
# Under daphne, requests borrow their thread (and so their persistent database connection) from a
# pool of this many per process; more concurrent requests get a throw-away thread (core/asgi.py).
ASGI_REQUEST_THREADS = env_int("ASGI_REQUEST_THREADS", 16, minimum=1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "portfolios.User"

# --- Redis: cache, channel layer, django-q2 broker ------------------------------------------
REDIS_URL = env_redis_url("REDIS_URL")
# The "throttle" cache holds the login and agent rate limits (core.throttling): it must be shared by
# every process, so without Redis it is the database cache (its table made by `migrate`).
THROTTLE_CACHE_TABLE = "sigmasight_throttle_cache"
if REDIS_URL:
    CACHES: dict[str, dict[str, Any]] = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
        "throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "throttle",
        },
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
else:
    CACHES = {
        # Per process; the response cache stores each answer twice (Django's entry and the ASGI front's):
        # 2,000 entries hold every read endpoint of ~60 portfolios (Django's default, 300, holds ~9).
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 2000}},
        "throttle": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": THROTTLE_CACHE_TABLE},
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Largest request body accepted (bytes): the CSV import's 5 MB plus its multipart framing. Bigger
# ones are refused with 413 while being read (core/bodylimit.py), before Django spools them.
MAX_REQUEST_BODY_BYTES = env_int("MAX_REQUEST_BODY_BYTES", 6 * 1024 * 1024, minimum=1024)

# Client IP (throttles): X-Forwarded-For is read only behind trusted proxies, given either as their
# number in front of the app or as their networks; by default it is ignored (REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
TRUSTED_PROXY_NETWORKS = env_networks("TRUSTED_PROXY_CIDRS")

Q_CLUSTER: dict[str, object] = {
    "name": env_str("Q_CLUSTER_NAME", "sigmasight"),
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": env_int("Q_TIMEOUT", 1800, minimum=10),
    "retry": env_int("Q_TIMEOUT", 1800, minimum=10) + 60,
    "max_attempts": 1,
    "queue_limit": 50,
    "catch_up": False,
    "label": "Django Q2",
    "sync": env_bool("Q_SYNC", False),
    "save_limit": 500,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Auth and passwords ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
if env_bool("FAST_PASSWORD_HASHER", False):  # test runs only: PBKDF2 is deliberately slow
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]

ACCESS_TOKEN_MINUTES = env_int("ACCESS_TOKEN_MINUTES", 30, minimum=1)
REFRESH_TOKEN_DAYS = env_int("REFRESH_TOKEN_DAYS", 7, minimum=1)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ACCESS_TOKEN_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=REFRESH_TOKEN_DAYS),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": False,
    # A refresh gives a new refresh token and blacklists the one used (a reused one is refused);
    # ``POST /api/v1/auth/logout`` blacklists it too.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Tokens carry a digest of the password hash: a password change (API, web page, admin,
    # changepassword) invalidates every access and refresh token issued before it.
    "CHECK_REVOKE_TOKEN": True,
    "REVOKE_TOKEN_CLAIM": "pwd",
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "core.renderers.BrowsableAPIRenderer",  # DRF's, without its inline logout script (CSP)
    ],
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.SafeJSONParser",  # absurdly nested JSON is a 400, not a 500
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login_ip": env_str("LOGIN_THROTTLE_IP", "20/min"),
        "login_email": env_str("LOGIN_THROTTLE_EMAIL", "10/min"),
        "agent_user": env_str("AGENT_THROTTLE", "30/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "SigmaSight API",
    "DESCRIPTION": "Portfolio risk analytics: positions, exposures, Greeks, factor betas, stress tests, VaR.\n\n"
    + (BASE_DIR / "agent" / "websocket_protocol.md").read_text(encoding="utf-8"),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets that share a field name ("status") get names of their own, not a hash.
    "ENUM_NAME_OVERRIDES": {"RunStatusEnum": "analytics.models.RunStatus"},
}

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
SERVE_STATIC = env_bool("SERVE_STATIC", True)
# `collectstatic` gathers the static files here (the Docker image sets /app/staticfiles, outside the data volume).
STATIC_ROOT = env_path("STATIC_ROOT", DATA_DIR / "static", base=BASE_DIR)

# --- Domain settings ------------------------------------------------------------------------
MARKET_DATA_PROVIDER = env_choice("MARKET_DATA_PROVIDER", "simulated", ("simulated", "fmp", "polygon", "csv"))
# The simulated provider's world: "market" (realistic, the demo's) or "factor_test" (a controlled world
# with 2% of the idiosyncratic risk, in which regressions recover the true loadings; for tests).
SIMULATED_WORLD = env_choice("SIMULATED_WORLD", "market", ("market", "factor_test"))
FMP_API_KEY = env_str("FMP_API_KEY")
FMP_BASE_URL = env_str("FMP_BASE_URL", "https://financialmodelingprep.com").rstrip("/")
POLYGON_API_KEY = env_str("POLYGON_API_KEY")
POLYGON_BASE_URL = env_str("POLYGON_BASE_URL", "https://api.polygon.io").rstrip("/")
POLYGON_PLAN = env_choice("POLYGON_PLAN", "free", ("free", "starter", "developer", "advanced"))
MARKET_DATA_TIMEOUT_S = env_float("MARKET_DATA_TIMEOUT_S", 10.0, minimum=0.1)
# Total wall-clock budget for one sync's retries against a provider that is down.
MARKET_DATA_RETRY_BUDGET_S = env_float("MARKET_DATA_RETRY_BUDGET_S", 30.0, minimum=0.0)
MARKET_DATA_CSV_DIR = Path(env_str("MARKET_DATA_CSV_DIR") or (BASE_DIR / "data" / "prices"))
# A synced bar whose adjusted close moved more than this absolute daily log return from the symbol's last
# good bar is quarantined (stored, not used) until confirmed or corrected: 0.75 ≈ ×2.1 or ÷2.1 (0 turns it off).
PRICE_QUARANTINE_LOG_RETURN = env_float("PRICE_QUARANTINE_LOG_RETURN", 0.75, minimum=0.0)
RISK_FREE_RATE = env_float("RISK_FREE_RATE", 0.045, minimum=-0.05, maximum=0.5)
# The risk model's covariance estimator (analytics.engines.covariance), named in the factor model's provenance:
# equal_weighted (sample), ewma (RiskMetrics, factor and specific risk) or ledoit_wolf (shrunk factor covariance).
RISK_COVARIANCE_ESTIMATOR = env_choice(
    "RISK_COVARIANCE_ESTIMATOR", "equal_weighted", ("equal_weighted", "ewma", "ledoit_wolf")
)
RISK_EWMA_LAMBDA = env_float("RISK_EWMA_LAMBDA", 0.94, minimum=0.5, maximum=0.999)
# Monte Carlo VaR/ES (the var kind): paths, the shocks' distribution (normal or Student-t with MONTE_CARLO_DOF
# degrees of freedom), and the seed (the same seed gives the same figures).
MONTE_CARLO_PATHS = env_int("MONTE_CARLO_PATHS", 10_000, minimum=1_000)
MONTE_CARLO_DISTRIBUTION = env_choice("MONTE_CARLO_DISTRIBUTION", "normal", ("normal", "student_t"))
MONTE_CARLO_DOF = env_float("MONTE_CARLO_DOF", 5.0, minimum=2.1, maximum=1000.0)
MONTE_CARLO_SEED = env_int("MONTE_CARLO_SEED", 20240101, minimum=0)
# The liquidity kind: share of a symbol's 20-day average daily volume sold per day (0.20 = 20%).
LIQUIDITY_PARTICIPATION = env_float("LIQUIDITY_PARTICIPATION", 0.20, minimum=0.001, maximum=1.0)
# PostgreSQL: the batch stores results on a writer thread while it computes the next step.
BATCH_BACKGROUND_WRITES = env_bool("BATCH_BACKGROUND_WRITES", True)
# A running batch stamps its heartbeat this often (seconds) besides after every chunk; a run whose heartbeat
# is older than BATCH_HEARTBEAT_STALE_S is marked abandoned (its process died or hung).
BATCH_HEARTBEAT_INTERVAL_S = env_float("BATCH_HEARTBEAT_INTERVAL_S", 30.0, minimum=0.05)
BATCH_HEARTBEAT_STALE_S = env_float("BATCH_HEARTBEAT_STALE_S", 900.0, minimum=1.0)
# `manage.py serve`: daphne processes sharing the listening socket (one Python process uses one core).
WEB_PROCESSES = env_int("WEB_PROCESSES", 2, minimum=1)

AGENT_PROVIDER = env_choice("AGENT_PROVIDER", "local", ("local", "openai"))
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL") or None
OPENAI_MODEL = env_str("OPENAI_MODEL", "gpt-4o-mini")
OPENAI_FALLBACK_MODEL = env_str("OPENAI_FALLBACK_MODEL")
OPENAI_API_STYLE = env_choice("OPENAI_API_STYLE", "responses", ("responses", "chat"))
AGENT_MAX_MESSAGE_CHARS = env_int("AGENT_MAX_MESSAGE_CHARS", 4000, minimum=1)
AGENT_MAX_TOOL_ROUNDS = env_int("AGENT_MAX_TOOL_ROUNDS", 5, minimum=1)
AGENT_HISTORY_MESSAGES = env_int("AGENT_HISTORY_MESSAGES", 20, minimum=0)
OPENAI_TIMEOUT_S = env_float("OPENAI_TIMEOUT_S", 30.0, minimum=1.0)
OPENAI_MAX_RETRIES = env_int("OPENAI_MAX_RETRIES", 2, minimum=0)
OPENAI_RETRY_BACKOFF_S = env_float("OPENAI_RETRY_BACKOFF_S", 0.5, minimum=0.0)

# --- Logging --------------------------------------------------------------------------------
# Rotating files under LOG_DIR (see "Generated files" above). Every line goes through SafeFormatter:
# control characters in a message (a "%0a" in a requested path, an escape sequence in a user agent)
# are escaped, so each record is one line that starts with its timestamp and no input can forge one.
# Every process (daphne's, the cluster's workers, the commands) writes the same files; they are rotated once
# when full, under a lock, and followed by the others (core/logfiles.py).
LOG_LEVEL = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()


def _rotating(filename: str) -> dict[str, object]:
    return {
        "class": "core.logfiles.SharedRotatingFileHandler",
        "filename": str(LOG_DIR / filename),
        "maxBytes": 10 * 1024 * 1024,
        "backupCount": 5,
        "formatter": "plain",
        "encoding": "utf-8",
    }


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"class": "core.logformat.SafeFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "access": {"class": "core.logformat.SafeFormatter", "format": "%(asctime)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "level": "WARNING"},
        # The worker's start, stop and task lines on its terminal (and in `docker compose logs`), not only in app.log.
        "console_info": {"class": "logging.StreamHandler", "formatter": "plain", "level": "INFO"},
        "app": _rotating("app.log"),
        "market_data": _rotating("market_data.log"),
        "agent": _rotating("agent.log"),
        "access": {**_rotating("access.log"), "formatter": "access"},
    },
    "root": {"handlers": ["app", "console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["app", "console"], "level": "INFO", "propagate": False},
        "sigmasight.marketdata": {"handlers": ["market_data", "app"], "level": LOG_LEVEL, "propagate": False},
        "sigmasight.agent": {"handlers": ["agent", "app"], "level": LOG_LEVEL, "propagate": False},
        "sigmasight.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        "django-q": {"handlers": ["app", "console_info"], "level": "INFO", "propagate": False},
    },
}

# --- Web app (web/): pages for people on the same data, auth and selectors as the API ---------
INSTALLED_APPS += ["django_htmx", "web"]
# HtmxMiddleware only sets the lazy ``request.htmx`` (async-capable, no thread hand-off).
MIDDLEWARE.append("django_htmx.middleware.HtmxMiddleware")
if SERVE_STATIC:
    # WhiteNoise (async-capable subclass): the collected, compressed files under STATIC_ROOT when
    # `collectstatic` has run (the Docker image), else the apps' static folders directly.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "core.middleware.StaticFilesMiddleware"
    )
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
TEMPLATES[0]["OPTIONS"]["context_processors"].append("web.context.navigation")  # type: ignore[index]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:portfolio_list"
LOGOUT_REDIRECT_URL = "web:login"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=60)  # a working day

# --- Limit alerts (analytics.services.alerts): email through Django's backend, optional signed webhook ----
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "sigmasight@localhost")
ALERT_EMAILS = env_bool("ALERT_EMAILS", True)  # email each alert to the portfolio's owner
ALERT_WEBHOOK_URL = env_str("ALERT_WEBHOOK_URL", "")  # POST each alert as JSON here (empty: no webhook)
ALERT_WEBHOOK_SECRET = env_str("ALERT_WEBHOOK_SECRET", "")  # HMAC-SHA256 key of the X-SigmaSight-Signature header
ALERT_WEBHOOK_ATTEMPTS = env_int("ALERT_WEBHOOK_ATTEMPTS", 4, minimum=1)
ALERT_WEBHOOK_BACKOFF_S = env_float("ALERT_WEBHOOK_BACKOFF_S", 1.0, minimum=0.0)  # 1 s, 2 s, 4 s, ...
ALERT_WEBHOOK_TIMEOUT_S = env_float("ALERT_WEBHOOK_TIMEOUT_S", 5.0, minimum=0.1)

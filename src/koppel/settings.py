"""Django settings. What a deployment changes comes from the environment (README, "Configuration")."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if not value else float(value)


DATA_DIR = Path(os.environ.get("KOPPEL_DATA_DIR", Path.cwd() / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
DEBUG = env_bool("KOPPEL_DEBUG", False)
# Development, tests and the demo run with a fixed key; `manage.py check --deploy` flags it in production.
SECRET_KEY = os.environ.get("KOPPEL_SECRET_KEY") or "django-insecure-koppel-dev-key-set-KOPPEL_SECRET_KEY"

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("KOPPEL_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("KOPPEL_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]
#: The address shops use to reach Koppel's webhooks (no trailing slash).
PUBLIC_URL = os.environ.get("KOPPEL_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "ninja",  # serves the Swagger UI assets for /api/docs locally (no CDN)
    "koppel.accounts",
    "koppel.connections",
    "koppel.sync",
    "koppel.intake",
    "koppel.marketplace",
    "koppel.dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (the dashboard's CSS and Chart.js, Swagger UI) from the app itself: uvicorn serves none.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "koppel.urls"
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
                "django.template.context_processors.i18n",
            ]
        },
    }
]
WSGI_APPLICATION = "koppel.wsgi.application"
ASGI_APPLICATION = "koppel.asgi.application"


def _worker_threads() -> int:
    return int(os.environ.get("KOPPEL_WORKER_THREADS", "4"))


def _database() -> dict:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'koppel.sqlite3'}"
    config = dj_database_url.parse(url, conn_max_age=0)
    if config["ENGINE"] == "django.db.backends.postgresql":
        # A pool, not persistent per-thread connections: under uvicorn every request thread would keep its
        # own connection and a burst of webhooks would exhaust PostgreSQL's max_connections.
        config["OPTIONS"] = {
            "pool": {
                "min_size": 1,
                # A worker's order threads, its loop, housekeeper and NOTIFY listener each hold one.
                "max_size": int(os.environ.get("KOPPEL_DB_POOL_SIZE") or max(8, _worker_threads() + 4)),
                "timeout": 30,
            }
        }
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 600
        config["OPTIONS"] = {
            # Web, worker and housekeeping write concurrently: WAL lets readers go on while one writes,
            # IMMEDIATE transactions avoid lock upgrades that would deadlock, and writers wait their turn.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
        # A file, not memory: tests start real worker processes that must see the same database.
        config["TEST"] = {
            "NAME": os.environ.get("KOPPEL_TEST_SQLITE") or str(DATA_DIR / "test_koppel.sqlite3")
        }
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
#: Anyone may sign up (make an account) while this is on; off, the operator invites merchants (admin).
SIGNUP_OPEN = env_bool("KOPPEL_SIGNUP_OPEN", True)
#: Where "Report problem" bundles and "Ask us" questions go (e-mail); empty: download only.
SUPPORT_EMAIL = os.environ.get("KOPPEL_SUPPORT_EMAIL", "")
DEFAULT_FROM_EMAIL = os.environ.get("KOPPEL_FROM_EMAIL", "koppel@localhost")
#: E-mail: SMTP when KOPPEL_EMAIL_HOST is set, else written to the console log.
EMAIL_HOST = os.environ.get("KOPPEL_EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("KOPPEL_EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("KOPPEL_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("KOPPEL_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("KOPPEL_EMAIL_TLS", True)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:records"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", "Nederlands"), ("en", "English")]
LOCALE_PATHS = [Path(__file__).parent / "locale"]
TIME_ZONE = os.environ.get("KOPPEL_TIME_ZONE", "Europe/Amsterdam")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise looks there too (after collectstatic)
#: Serve the apps' static files straight from their folders (no collectstatic needed); after
#: ``koppel collectstatic`` WhiteNoise serves STATIC_ROOT, or a proxy does.
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("KOPPEL_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

#: Fernet keys for credentials at rest, newest first, comma-separated. See ``koppel rotate_keys``.
FERNET_KEYS = [k.strip() for k in os.environ.get("KOPPEL_FERNET_KEYS", "").split(",") if k.strip()]

#: Retry policy for transient failures (timeouts, 5xx, rate limits).
RETRY_MAX_ATTEMPTS = int(os.environ.get("KOPPEL_RETRY_MAX_ATTEMPTS", "8"))
RETRY_BASE_SECONDS = env_float("KOPPEL_RETRY_BASE_SECONDS", 10.0)
RETRY_CAP_SECONDS = env_float("KOPPEL_RETRY_CAP_SECONDS", 3600.0)
#: The largest request body Koppel takes (webhooks, API): read whole and stored; a larger one is answered
#: 413 before it is spooled anywhere. Django's own limit is the same, so nothing in between ends in its 400.
MAX_BODY_BYTES = int(os.environ.get("KOPPEL_MAX_BODY_BYTES", str(32 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES
#: Seconds an external system has to answer a call (connecting: at most 5).
HTTP_TIMEOUT_SECONDS = env_float("KOPPEL_HTTP_TIMEOUT", 20.0)
#: A create whose answer never came (timeout, cut connection, 5xx) may still be saved by the target, late.
#: Koppel searches for it again every ``..._RECHECK`` seconds and creates again only after this window.
BOOKING_DOUBT_SECONDS = env_float("KOPPEL_BOOKING_DOUBT_SECONDS", 600.0)
BOOKING_DOUBT_RECHECK_SECONDS = env_float("KOPPEL_BOOKING_DOUBT_RECHECK_SECONDS", 20.0)
#: A rate limit asking for at most this many seconds is waited out by the worker that met it (up to the
#: budget per attempt); a longer one parks the connection's orders until one task releases them.
RATE_LIMIT_INLINE_WAIT_SECONDS = env_float("KOPPEL_RATE_LIMIT_INLINE_WAIT", 5.0)
RATE_LIMIT_INLINE_BUDGET_SECONDS = env_float("KOPPEL_RATE_LIMIT_INLINE_BUDGET", 60.0)
#: A circuit breaker per connection side: this many unavailable answers in a row (timeouts, connection
#: errors, 5xx; not a 4xx refusal of one order) pause the side like a rate limit, its orders waiting without
#: a try or a task. One order probes it after ``..._BASE`` seconds, doubling with each failed probe up to
#: ``..._CAP``; the first answer releases every waiting order. A side down longer than the horizon gives up:
#: its orders go to error (``*_UNAVAILABLE``) and the nightly job tries them again.
BREAKER_THRESHOLD = int(os.environ.get("KOPPEL_BREAKER_THRESHOLD", "5"))
BREAKER_BASE_SECONDS = env_float("KOPPEL_BREAKER_BASE_SECONDS", 5.0)
BREAKER_CAP_SECONDS = env_float("KOPPEL_BREAKER_CAP_SECONDS", 300.0)
OUTAGE_HORIZON_HOURS = env_float("KOPPEL_OUTAGE_HORIZON_HOURS", 24.0)
#: An order's own retry after an unavailable answer comes at most this long after: the breaker, not the
#: order's backoff, spares a system that is down, so an order that met a passing 5xx or timeout is booked
#: soon after the system is well again (a backlog drains at the system's speed, not at its backoffs').
RETRY_UNAVAILABLE_CAP_SECONDS = env_float("KOPPEL_RETRY_UNAVAILABLE_CAP_SECONDS", 30.0)
#: A worker that has not sent a heartbeat for this long is dead; its tasks are picked up again.
WORKER_DEAD_AFTER_SECONDS = env_float("KOPPEL_WORKER_DEAD_AFTER", 30.0)
WORKER_HEARTBEAT_SECONDS = env_float("KOPPEL_WORKER_HEARTBEAT", 5.0)
#: Ready tasks a worker claims (and whose records it leases) at once.
WORKER_BATCH_SIZE = int(os.environ.get("KOPPEL_WORKER_BATCH", "10"))
#: Orders a ``koppel worker`` process books at once, each in a thread of its own: most of an order's time is
#: spent waiting for the shop and the target, and the threads wait side by side.
WORKER_THREADS = _worker_threads()
#: How long a record stays leased to the worker processing it before another may take over.
RECORD_LEASE_SECONDS = env_float("KOPPEL_RECORD_LEASE", 600.0)
#: The safety-net poll interval every connection gets unless its own setting is shorter.
DEFAULT_POLL_MINUTES = int(os.environ.get("KOPPEL_POLL_MINUTES", "60"))
#: Pages a second a backfill reads; 0 keeps each source's own pace (e.g. a shop that allows more).
BACKFILL_REQUESTS_PER_SECOND = env_float("KOPPEL_BACKFILL_REQUESTS_PER_SECOND", 0.0)
#: Minutes between two looks at a marketplace's invoice requests (bol.com) per connection.
INVOICE_REQUESTS_MINUTES = env_float("KOPPEL_INVOICE_REQUESTS_MINUTES", 5.0)
#: Local time of the nightly look at open records.
NIGHTLY_HOUR = int(os.environ.get("KOPPEL_NIGHTLY_HOUR", "3"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "koppel": {"handlers": ["console"], "level": os.environ.get("KOPPEL_LOG_LEVEL", "INFO")},
        # Unhandled errors in requests (500s): with traceback, never with request bodies or headers.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        # httpx logs every URL at INFO; URLs carry no secrets, but the noise does not help.
        "httpx": {"handlers": ["console"], "level": "WARNING"},
        "django_tasks_db": {"handlers": ["console"], "level": "WARNING"},
    },
}

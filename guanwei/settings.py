"""The one settings module: every knob is an environment variable (listed in .env.example).

Bad values stop start-up with ImproperlyConfigured naming the variable. In production
(GUANWEI_ENV=production) the secret keys must be given; elsewhere they are generated once
into var/secrets.env so the demo needs nothing.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = Path(os.environ.get("GUANWEI_HOME", Path.cwd())).resolve()
VAR_DIR = Path(os.environ.get("GUANWEI_VAR_DIR", PROJECT_DIR / "var")).resolve()


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = env(name, "1" if default else "0").lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use true or false.")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = env(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


ENVIRONMENT = env("GUANWEI_ENV", "development")
if ENVIRONMENT not in {"development", "production", "test"}:
    raise ImproperlyConfigured(
        f"GUANWEI_ENV={ENVIRONMENT!r}: use development, production or test."
    )
IS_PRODUCTION = ENVIRONMENT == "production"
DEBUG = env_bool("GUANWEI_DEBUG", not IS_PRODUCTION)


def _demo_secrets() -> dict[str, str]:
    """Generate (once) and read the development secrets file under var/."""
    path = VAR_DIR / "secrets.env"
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                values[key] = value
    if not {"GUANWEI_SECRET_KEY", "GUANWEI_SECRET_KEYS"} <= values.keys():
        values.setdefault("GUANWEI_SECRET_KEY", secrets.token_urlsafe(50))
        values.setdefault("GUANWEI_SECRET_KEYS", Fernet.generate_key().decode())
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        path.chmod(0o600)
    return values


_generated: dict[str, str] = {}
if not (env("GUANWEI_SECRET_KEY") and env("GUANWEI_SECRET_KEYS")):
    if IS_PRODUCTION:
        raise ImproperlyConfigured(
            "GUANWEI_SECRET_KEY and GUANWEI_SECRET_KEYS are required when GUANWEI_ENV=production. "
            "Generate the second with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        )
    _generated = _demo_secrets()

SECRET_KEY = env("GUANWEI_SECRET_KEY") or _generated["GUANWEI_SECRET_KEY"]
# Fernet keys for secrets at rest, newest first (comma-separated; rotate by prepending).
SECRET_KEYS = [
    k.strip() for k in (env("GUANWEI_SECRET_KEYS") or _generated["GUANWEI_SECRET_KEYS"]).split(",")
]
for _key in SECRET_KEYS:
    try:
        Fernet(_key.encode())
    except Exception:
        raise ImproperlyConfigured(
            "GUANWEI_SECRET_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)."
        ) from None

ALLOWED_HOSTS = [h.strip() for h in env("GUANWEI_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()]
BASE_URL = env("GUANWEI_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
if urlparse(BASE_URL).scheme not in {"http", "https"}:
    raise ImproperlyConfigured(f"GUANWEI_BASE_URL={BASE_URL!r} must start with http:// or https://.")
CSRF_TRUSTED_ORIGINS = [BASE_URL]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",  # serves Swagger UI for /api/v1/docs from its own static files (no CDN)
    "django_tasks",
    "django_tasks_db",
    "guanwei.core",
    "guanwei.matrix",
    "guanwei.listening",
    "guanwei.publishing",
    "guanwei.monitoring",
    "guanwei.inbox",
    "guanwei.sandbox",
    "guanwei.ops",
    "guanwei.api",
    "guanwei.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    *(["csp.middleware.CSPMiddleware"] if IS_PRODUCTION else []),
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "guanwei.web.middleware.ChineseUnlessSwitchedMiddleware",
    "guanwei.web.middleware.RejectNulBytesMiddleware",
    "guanwei.web.middleware.ApiJsonErrorsMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "guanwei.core.middleware.MemberMiddleware",
]

ROOT_URLCONF = "guanwei.urls"
WSGI_APPLICATION = "guanwei.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "guanwei.web.context.shell",
            ],
        },
    }
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'guanwei.db'}")
# Shown in errors with the password masked: start-up messages end up in logs.
_DATABASE_URL_SHOWN = re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", DATABASE_URL)
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=60)
except Exception as exc:
    raise ImproperlyConfigured(f"DATABASE_URL={_DATABASE_URL_SHOWN!r} cannot be parsed: {exc}") from None
if _db["ENGINE"] not in {"django.db.backends.sqlite3", "django.db.backends.postgresql"}:
    raise ImproperlyConfigured(
        f"DATABASE_URL={_DATABASE_URL_SHOWN!r}: only sqlite:// and postgres:// are supported."
    )
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        # WAL lets the web server read while the worker writes; busy timeout rides out short locks.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    if _db["NAME"] and _db["NAME"] != ":memory:":
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache ----------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    if urlparse(REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(
            f"REDIS_URL={re.sub(r'(//[^/@]*)@', r'//***@', REDIS_URL)!r} must start with redis:// or rediss://."
        )
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "guanwei",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- background work ------------------------------------------------------------------------
TASKS = {
    "default": {
        "BACKEND": (
            "django_tasks.backends.immediate.ImmediateBackend"
            if env_bool("GUANWEI_TASKS_IMMEDIATE", False)
            else "django_tasks_db.DatabaseBackend"
        ),
        "QUEUES": ["default", "publish", "ingest", "sandbox"],
    }
}
WORKER_STALE_AFTER_S = 120

# --- auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "guanwei.core.validators.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "web:dashboard"
LOGOUT_REDIRECT_URL = "core:login"
LOGIN_FAILURE_LIMIT = env_int("GUANWEI_LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_FAILURE_WINDOW_S = env_int("GUANWEI_LOGIN_FAILURE_WINDOW_S", 900, minimum=1)
LOGIN_FAILURE_USER_LIMIT = env_int("GUANWEI_LOGIN_FAILURE_USER_LIMIT", 20, minimum=1)
LOGIN_FAILURE_ADDRESS_LIMIT = env_int("GUANWEI_LOGIN_FAILURE_ADDRESS_LIMIT", 200, minimum=1)
# How many reverse proxies in front of guanwei append to X-Forwarded-For (0: trust none and use
# the address the connection came from).
TRUSTED_PROXY_COUNT = env_int("GUANWEI_TRUSTED_PROXY_COUNT", 0)
INVITATION_TTL_S = 7 * 24 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = IS_PRODUCTION
CSRF_COOKIE_SECURE = IS_PRODUCTION

# --- TLS and browser security headers --------------------------------------------------------
# Behind a proxy that terminates TLS: trust its X-Forwarded-Proto (only when it always sets it,
# overwriting what the client sent). Absolute links never depend on it: they are built from
# GUANWEI_BASE_URL (core.links).
if env_bool("GUANWEI_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("GUANWEI_SSL_REDIRECT", IS_PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain http
SECURE_HSTS_SECONDS = env_int("GUANWEI_HSTS_SECONDS", 365 * 24 * 3600 if IS_PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("GUANWEI_HSTS_INCLUDE_SUBDOMAINS", IS_PRODUCTION)
# The preload directive only says "may be preloaded"; the domain joins browsers' list only when
# someone submits it. Turn it off if guanwei shares a domain with http-only sites.
SECURE_HSTS_PRELOAD = env_bool("GUANWEI_HSTS_PRELOAD", IS_PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if IS_PRODUCTION:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]

# --- i18n and time --------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_ENTERPRISE_TIME_ZONE = env("GUANWEI_TIME_ZONE", "Asia/Shanghai")
try:
    from zoneinfo import ZoneInfo

    ZoneInfo(DEFAULT_ENTERPRISE_TIME_ZONE)
except Exception:
    raise ImproperlyConfigured(
        f"GUANWEI_TIME_ZONE={DEFAULT_ENTERPRISE_TIME_ZONE!r} is not an IANA time zone name."
    ) from None

# --- static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    # Files the worker writes for a person to download (core.exports). Several hosts need a
    # shared directory (or another storage backend) here.
    "exports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(Path(env("GUANWEI_EXPORTS_DIR") or VAR_DIR / "exports"))},
    },
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = VAR_DIR / "media"

# --- e-mail (outbound channels of kind e-mail) ------------------------------------------------
EMAIL_HOST = env("GUANWEI_EMAIL_HOST")
EMAIL_HOST_CONFIGURED = bool(EMAIL_HOST)
EMAIL_PORT = int(env("GUANWEI_EMAIL_PORT", "587"))
EMAIL_HOST_USER = env("GUANWEI_EMAIL_USER")
EMAIL_HOST_PASSWORD = env("GUANWEI_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("GUANWEI_EMAIL_TLS", True)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env("GUANWEI_EMAIL_FROM", "guanwei@localhost")
# Without a mail server, development prints mails to the console (production refuses to send).
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST_CONFIGURED
    else "django.core.mail.backends.console.EmailBackend"
)

# --- data, platforms ------------------------------------------------------------------------
DATA_DIR = env("GUANWEI_DATA_DIR")
if DATA_DIR and not Path(DATA_DIR).is_dir():
    raise ImproperlyConfigured(f"GUANWEI_DATA_DIR={DATA_DIR!r} is not a directory.")
# The built-in sandbox (a stand-in for Weibo under /sandbox/): on by default outside production,
# off in production unless asked for. Off, /sandbox/ does not exist at all.
SANDBOX_ENABLED = env_bool("GUANWEI_SANDBOX", not IS_PRODUCTION)
# Files of mentions uploaded for import (listening.imports; docs/imports.md), in MB
IMPORT_MAX_MB = env_int("GUANWEI_IMPORT_MAX_MB", 2048, minimum=1)
# Internal hosts or networks (CIDR) that outbound requests may reach anyway: a platform run on
# your own network. Everything else internal (loopback, private, link-local…) is refused.
OUTBOUND_ALLOW = [h.strip() for h in env("GUANWEI_OUTBOUND_ALLOW").split(",") if h.strip()]
HTTP_TIMEOUT_S = float(env_int("GUANWEI_HTTP_TIMEOUT_S", 10, minimum=1))
TOKEN_EXPIRY_WARNING_S = env_int("GUANWEI_TOKEN_EXPIRY_WARNING_S", 3 * 24 * 3600, minimum=60)

# --- logging: one line per event ------------------------------------------------------------
LOG_LEVEL = env("GUANWEI_LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
    raise ImproperlyConfigured(f"GUANWEI_LOG_LEVEL={LOG_LEVEL!r}: use DEBUG, INFO, WARNING or ERROR.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Every handler gets the redaction filter: no token, invitation or OAuth code in any log line.
    "filters": {
        "redact": {"()": "guanwei.core.logredact.RedactSecrets"},
        "forbidden": {"()": "guanwei.core.logredact.OneLineForbidden"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "line",
            "filters": ["forbidden", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # A task's every state change at INFO is three lines a second from the periodic jobs
        # alone; failures are still logged (WARNING and up).
        "django_tasks": {"level": "WARNING"},
        # Django's own console handler (DEBUG only) would print every line a second time.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
    },
}

# --- Content-Security-Policy (production; django-csp) -----------------------------------------
# Scripts only from our own static files (htmx runs with allowEval off: see web/base.html);
# inline style attributes are allowed (htmx's swap classes, a few style="…" in templates).
from csp.constants import NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:", "https:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF, "https:"],
    }
}

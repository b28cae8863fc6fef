"""Django system checks for configuration that is valid but wrong for where it runs.

settings.py already refuses values that cannot work (ImproperlyConfigured naming the variable);
these checks catch combinations: DEBUG or SQLite in production, a base URL the server would
refuse, cookies that can never be sent. `guanwei check` runs them, and so does every
management command (errors stop `guanwei run` / `worker` / `demo` before they start).
"""

from __future__ import annotations

from urllib.parse import urlparse

from django.conf import settings
from django.core import checks
from django.http.request import validate_host


@checks.register("guanwei")
def check_configuration(app_configs=None, **kwargs) -> list[checks.CheckMessage]:  # type: ignore[no-untyped-def]
    problems: list[checks.CheckMessage] = []
    production = getattr(settings, "IS_PRODUCTION", False)
    base = urlparse(settings.BASE_URL)

    if not validate_host(base.hostname or "", settings.ALLOWED_HOSTS):
        problems.append(checks.Error(
            f"GUANWEI_BASE_URL host {base.hostname!r} is not in GUANWEI_ALLOWED_HOSTS "
            f"({', '.join(settings.ALLOWED_HOSTS) or 'empty'}).",
            hint="Add the host to GUANWEI_ALLOWED_HOSTS: links guanwei makes and the built-in "
            "sandbox (reached at GUANWEI_BASE_URL/sandbox) would get 400 Bad Request.",
            id="guanwei.E003",
        ))

    if not production:
        return problems

    if settings.DEBUG:
        problems.append(checks.Error(
            "GUANWEI_DEBUG is on while GUANWEI_ENV=production.",
            hint="Debug pages show settings and source to anyone who triggers an error: "
            "unset GUANWEI_DEBUG.",
            id="guanwei.E001",
        ))
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        problems.append(checks.Warning(
            "DATABASE_URL is SQLite while GUANWEI_ENV=production.",
            hint="Fine for one web process and one worker on one machine. For several workers "
            "or web processes use PostgreSQL (DATABASE_URL=postgres://…): SQLite serialises "
            "every write.",
            id="guanwei.W002",
        ))
    if base.scheme != "https":
        problems.append(checks.Error(
            f"GUANWEI_BASE_URL={settings.BASE_URL!r} is not https:// while GUANWEI_ENV=production.",
            hint="In production the session and CSRF cookies are Secure, so browsers never send "
            "them over http:// and nobody could sign in. Serve guanwei over https (a proxy that "
            "terminates TLS is fine) and give that address.",
            id="guanwei.E005",
        ))
    if not getattr(settings, "REDIS_URL", ""):
        problems.append(checks.Warning(
            "REDIS_URL is not set while GUANWEI_ENV=production.",
            hint="The cache then lives in each process's memory: with several web processes "
            "each keeps its own. Set REDIS_URL when you run more than one.",
            id="guanwei.W004",
        ))
    if settings.TASKS["default"]["BACKEND"].endswith("ImmediateBackend"):
        problems.append(checks.Warning(
            "GUANWEI_TASKS_IMMEDIATE is on while GUANWEI_ENV=production.",
            hint="Background work then runs inside web requests and periodic jobs never run. "
            "Unset it and run `guanwei worker`.",
            id="guanwei.W006",
        ))
    if "*" in settings.ALLOWED_HOSTS:
        problems.append(checks.Warning(
            "GUANWEI_ALLOWED_HOSTS contains * while GUANWEI_ENV=production.",
            hint="Name the host(s) guanwei is served on; * lets forged Host headers through "
            "(password-reset and invitation links are built from the host).",
            id="guanwei.W007",
        ))
    if len(settings.SECRET_KEY) < 50 or len(set(settings.SECRET_KEY)) < 5:
        problems.append(checks.Warning(
            "GUANWEI_SECRET_KEY is short or repetitive.",
            hint="Use at least 50 random characters, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'.",
            id="guanwei.W008",
        ))
    return problems


@checks.register("guanwei", checks.Tags.database)
def check_database(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:  # type: ignore[no-untyped-def]
    """What only the database can tell (`guanwei check --database default`, and `migrate`)."""
    from django.db import connections

    if not databases or "default" not in databases or connections["default"].vendor != "postgresql":
        return []
    with connections["default"].cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()[0]
    if autovacuum == "off":
        return [checks.Warning(
            "PostgreSQL's autovacuum is off.",
            hint="Without its ANALYZE the planner believes growing tables are empty and reads "
            "them whole: listening's store slowed down 2.4× within 500,000 mentions. Turn it on "
            "(autovacuum = on, the default) or run ANALYZE from cron.",
            id="guanwei.W009",
        )]
    return []

"""The one way the matrix builds a platform connector for a connection or an account."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from guanwei.matrix.models import Account, Connection, PlatformKind


def builtin_sandbox_url() -> str:
    """Where this server's own sandbox answers. It follows GUANWEI_BASE_URL at run time (which
    `guanwei run --port N` sets for itself and its worker when it is not given), so a demo seeded
    for one port still works when served on another."""
    return f"{settings.BASE_URL}/sandbox"


def base_url_of(connection: Connection) -> str:
    """A sandbox connection is the built-in sandbox of this server, wherever it listens now;
    other kinds use the address stored with the connection."""
    if connection.kind == PlatformKind.SANDBOX:
        return builtin_sandbox_url()
    return connection.base_url


def for_connection(connection: Connection, **extra: Any) -> Any:
    from guanwei.platforms import get_connector
    from guanwei.platforms.base import PlatformError

    if connection.kind == PlatformKind.SANDBOX and not settings.SANDBOX_ENABLED:
        raise PlatformError(
            "unavailable",
            "the built-in sandbox is switched off on this server (GUANWEI_SANDBOX=false)",
            permanent=True,
        )
    from guanwei.core import outbound

    extra.setdefault("transport", outbound.transport())  # the outbound policy, after DNS
    # The hourly budget every worker shares (Redis or the database), writes before reads.
    from guanwei.matrix.budget import SharedRateLimiter

    extra.setdefault("limiter", SharedRateLimiter())
    if connection.kind in (PlatformKind.WEIBO, PlatformKind.SANDBOX):
        # The app's level sets the connector's rate buckets; the commercial contract, search.
        if connection.app_level == "unlimited":
            extra.setdefault("level", "partner")
            extra.setdefault("rates", {})  # no local buckets: the platform's answers decide
        else:
            extra.setdefault("level", connection.app_level)
        extra.setdefault("commercial", connection.commercial)
    return get_connector(
        connection.kind,
        base_url=base_url_of(connection),
        app_key=connection.app_key,
        app_secret=connection.app_secret,
        **extra,
    )


def for_account(account: Account) -> Any:
    """A connector acting as `account` (its token and uid). Report the outcome of each call with
    guanwei.matrix.health.record_platform_ok / record_platform_error."""
    return for_connection(
        account.connection, access_token=account.token or None, uid=account.platform_uid
    )


def capabilities_of(connection: Connection) -> Any:
    """What the API lets this connection do (Capabilities), without building a connector."""
    from guanwei.platforms.mastodon import mastodon_capabilities
    from guanwei.platforms.weibo import weibo_capabilities

    if connection.kind == PlatformKind.MASTODON:
        return mastodon_capabilities()
    level = "partner" if connection.app_level == "unlimited" else connection.app_level
    return weibo_capabilities(level, commercial=connection.commercial)

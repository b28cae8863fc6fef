"""The one way the matrix builds a platform connector for a connection or an account."""

from __future__ import annotations

from typing import Any

from guanwei.matrix.models import Account, Connection


def for_connection(connection: Connection, **extra: Any) -> Any:
    from guanwei.platforms import get_connector

    return get_connector(
        connection.kind,
        base_url=connection.base_url,
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

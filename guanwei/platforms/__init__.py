"""Platform connectors: one protocol (``base.Connector``) for Weibo (and the built-in sandbox,
which speaks Weibo's API) and Mastodon, behind one HTTP seam (``http.HttpClient``).

Pure Python: nothing here imports Django or guanwei's Django apps.
"""

from __future__ import annotations

from typing import Any

from .base import (
    ERROR_KINDS,
    Capabilities,
    Connector,
    PlatformError,
    RemotePost,
    RemoteUser,
    TokenGrant,
    TokenInfo,
)
from .http import DEFAULT_LIMITER, HttpClient, Rate, RateLimiter, TokenBucket
from .mastodon import MastodonConnector
from .weibo import WeiboConnector, parse_push_message, verify_push_signature

__all__ = [
    "DEFAULT_LIMITER",
    "ERROR_KINDS",
    "KINDS",
    "Capabilities",
    "Connector",
    "HttpClient",
    "MastodonConnector",
    "PlatformError",
    "Rate",
    "RateLimiter",
    "RemotePost",
    "RemoteUser",
    "TokenBucket",
    "TokenGrant",
    "TokenInfo",
    "WeiboConnector",
    "get_connector",
    "parse_push_message",
    "verify_push_signature",
]

#: Connection kinds (matrix.PlatformKind values) and the class that speaks for each. The sandbox
#: *is* Weibo as far as guanwei is concerned: same class, different base URL and credentials.
KINDS: dict[str, type[WeiboConnector] | type[MastodonConnector]] = {
    "weibo": WeiboConnector,
    "sandbox": WeiboConnector,
    "mastodon": MastodonConnector,
}


def get_connector(
    kind: str,
    *,
    base_url: str,
    app_key: str,
    app_secret: str,
    access_token: str | None = None,
    uid: str | None = None,
    **options: Any,
) -> WeiboConnector | MastodonConnector:
    """Build the connector for a Connection (+ an Account's token and uid).

    Weibo options: ``messages_base_url`` (real: https://m.api.weibo.com) and
    ``commercial_base_url`` (real: https://c.api.weibo.com), both defaulting to ``base_url``;
    ``level`` ('test'|'ordinary'|'intermediate'|'advanced'|'partner'), ``commercial`` (bool:
    keyword search allowed), ``fans_service`` (bool), ``default_rip``, ``post_url_template``.
    Mastodon options: ``scopes``, ``visibility``, ``max_characters``, ``media_poll_attempts``,
    ``media_poll_interval_s``.
    Both: ``rates`` (``{group: Rate}``; ``{}`` turns local buckets off), ``limiter``,
    ``timeout_s``, ``connect_timeout_s``, ``retries``, ``backoff_s``, ``max_wait_s``,
    ``page_size``, ``transport`` (tests), ``sleep``.
    """
    try:
        cls = KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown platform kind {kind!r}; one of {sorted(KINDS)}") from None
    return cls(
        base_url=base_url,
        app_key=app_key,
        app_secret=app_secret,
        access_token=access_token,
        uid=uid,
        kind=kind,
        **options,
    )

"""The connector protocol every platform implements, its data classes, its one error type and its
capability flags. Pure Python: callers (publishing, monitoring, inbox, matrix) code against this."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, get_args, runtime_checkable

ErrorKind = Literal[
    "auth_expired",
    "auth_invalid",
    "rate_limited",
    "timeout",
    "unavailable",
    "invalid",
    "duplicate",
    "not_found",
    "forbidden",
    "unknown",
]

ERROR_KINDS: tuple[str, ...] = get_args(ErrorKind)

#: Kinds that will not go away by retrying the same call (a person has to act: reconnect the
#: account, change the text, ask for a permission). Everything else is transient.
PERMANENT_KINDS = frozenset(
    {"auth_expired", "auth_invalid", "invalid", "duplicate", "not_found", "forbidden"}
)

PostKind = Literal["status", "comment", "repost", "dm"]


class PlatformError(Exception):
    """The one error a connector raises.

    ``kind`` says what happened in platform-neutral terms; ``permanent`` says whether retrying the
    same call can help; ``retry_after_s`` (when known) says when. ``code`` and ``message`` are the
    platform's own (e.g. Weibo ``"20019"``), kept for the record and for callers that need a
    specific code (``"10017"``: the text lacks a link under the app's safe domain).

    ``kind == "timeout"`` on a write means **"maybe delivered"**: the request left this process
    but no answer came back. Such a write is never retried here; the caller reconciles by reading
    the account's timeline before any retry (DESIGN rule 3).
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str = "",
        *,
        code: str = "",
        http_status: int | None = None,
        endpoint: str = "",
        retry_after_s: float | None = None,
        permanent: bool | None = None,
    ) -> None:
        self.kind: str = kind
        self.message = message
        self.code = code
        self.http_status = http_status
        self.endpoint = endpoint
        self.retry_after_s = retry_after_s
        self.permanent: bool = kind in PERMANENT_KINDS if permanent is None else permanent
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = [self.kind]
        if self.code:
            parts.append(f"code={self.code}")
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        if self.endpoint:
            parts.append(f"endpoint={self.endpoint}")
        if self.retry_after_s is not None:
            parts.append(f"retry_after={self.retry_after_s:.0f}s")
        head = " ".join(parts)
        return f"{head}: {self.message}" if self.message else head

    def __repr__(self) -> str:
        return f"PlatformError({self.__str__()!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle through ``args``; ours are keyword arguments (task queues pickle).
        return (_rebuild_error, (self.as_dict(),))

    def as_dict(self) -> dict[str, Any]:
        """Plain data for logs, task results and the Publication record (no secrets in here)."""
        return {
            "kind": self.kind,
            "message": self.message,
            "code": self.code,
            "http_status": self.http_status,
            "endpoint": self.endpoint,
            "retry_after_s": self.retry_after_s,
            "permanent": self.permanent,
        }


def _rebuild_error(data: dict[str, Any]) -> PlatformError:
    return PlatformError(
        data["kind"],
        data["message"],
        code=data["code"],
        http_status=data["http_status"],
        endpoint=data["endpoint"],
        retry_after_s=data["retry_after_s"],
        permanent=data["permanent"],
    )


def image_mime(data: bytes) -> str:
    """The MIME type of an uploaded image, from its first bytes (JPEG, PNG, GIF)."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"


def unsupported(what: str, endpoint: str = "") -> PlatformError:
    """The error for a call this platform (or this app's level) cannot make at all."""
    return PlatformError("forbidden", what, code="unsupported", endpoint=endpoint, permanent=True)


@dataclass
class Capabilities:
    """What this platform, at this app's permission level, lets the API do.

    A ``False`` flag means: offer the person a manual path (copy the text, open the platform)
    instead of calling the connector. ``notes`` explains limits in words, keyed by topic, e.g.
    ``needs_safe_domain_link``, ``followers``, ``own_timeline``, ``direct_messages``.
    """

    publish: bool = True
    publish_image: bool = True
    link: bool = True
    repost: bool = True
    comment: bool = True
    reply: bool = True
    delete: bool = True
    mentions: bool = True
    comment_mentions: bool = True
    comments: bool = True
    reposts: bool = True
    followers: bool = True
    own_timeline: bool = True
    direct_messages: bool = True
    search: bool = False
    idempotent_writes: bool = False
    max_text_units: int = 140
    notes: dict[str, str] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        """``caps.has("search")`` — a flag by name (unknown names are ``False``)."""
        value = getattr(self, name, False)
        return value is True


@dataclass
class RemoteUser:
    """A person or account on the platform, as the platform describes them."""

    id: str
    screen_name: str
    verified_type: int | None = None
    followers_count: int | None = None
    friends_count: int | None = None  # whom they follow (Mastodon: following_count)
    statuses_count: int | None = None
    region: str = ""
    gender: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class RemotePost:
    """A status, comment, repost or direct message on the platform.

    ``in_reply_to_id`` is the status a comment or repost is attached to; ``reply_to_comment_id``
    the comment a reply answers. ``created_at`` is timezone-aware, in UTC.
    """

    id: str
    kind: PostKind
    text: str
    created_at: datetime
    author: RemoteUser | None = None
    url: str = ""
    in_reply_to_id: str | None = None
    reply_to_comment_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class TokenGrant:
    """What an OAuth2 code exchange gives: the token, its lifetime (None = no expiry) and the uid."""

    access_token: str = field(repr=False)
    expires_in_s: int | None
    uid: str
    refresh_token: str | None = field(default=None, repr=False)


@dataclass
class TokenInfo:
    """What the platform says about the current token. ``expires_in_s`` is the *remaining*
    lifetime (negative: already expired; None: the platform's tokens do not expire)."""

    uid: str
    app_key: str
    expires_in_s: int | None
    created_at: datetime | None


@runtime_checkable
class Connector(Protocol):
    """One platform account (or an app without a token, for the OAuth steps).

    Incremental reads (``mentions`` and friends) return every item newer than ``since_id``,
    walking pages newest first, at most ``max_pages`` requests; pass the newest id you stored
    last time. Writes take ``rip`` (the real IP of the person who acted; Weibo wants it).
    Every failure is a :class:`PlatformError`.
    """

    kind: str
    capabilities: Capabilities

    # OAuth2
    def authorize_url(
        self, redirect_uri: str, state: str, scope: str = "", display: str = "default"
    ) -> str: ...
    def exchange_code(self, code: str, redirect_uri: str) -> TokenGrant: ...
    def token_info(self) -> TokenInfo: ...
    def revoke(self) -> None: ...

    # people
    def user_show(self, uid: str) -> RemoteUser: ...
    def followers(
        self, cursor: str | None = None, count: int = 200
    ) -> tuple[list[RemoteUser], str | None]: ...

    # writes
    def publish(
        self,
        text: str,
        *,
        image: bytes | None = None,
        image_name: str = "",
        rip: str = "",
        idempotency_key: str = "",
    ) -> RemotePost: ...
    def repost(self, post_id: str, text: str = "", *, rip: str = "") -> RemotePost: ...
    def comment(self, post_id: str, text: str, *, rip: str = "") -> RemotePost: ...
    def reply(self, post_id: str, comment_id: str, text: str, *, rip: str = "") -> RemotePost: ...
    def delete(self, post_id: str) -> None: ...
    def delete_comment(self, comment_id: str) -> None: ...
    def send_dm(self, receiver_id: str, text: str) -> None: ...

    # reads
    def get_post(self, post_id: str) -> RemotePost: ...
    def own_timeline(self, since_id: str | None = None, count: int = 20) -> list[RemotePost]: ...
    def mentions(self, since_id: str | None = None, max_pages: int = 10) -> list[RemotePost]: ...
    def comment_mentions(
        self, since_id: str | None = None, max_pages: int = 10
    ) -> list[RemotePost]: ...
    def comments_to_me(
        self, since_id: str | None = None, max_pages: int = 10
    ) -> list[RemotePost]: ...
    def comments_on(
        self, post_id: str, since_id: str | None = None, max_pages: int = 10
    ) -> list[RemotePost]: ...
    def reposts_of(
        self, post_id: str, since_id: str | None = None, max_pages: int = 10
    ) -> list[RemotePost]: ...
    def direct_messages(
        self, since_id: str | None = None, max_pages: int = 10
    ) -> list[RemotePost]: ...
    def search(
        self, query: str, since: datetime | None = None, max_pages: int = 5
    ) -> list[RemotePost]: ...

    def close(self) -> None: ...

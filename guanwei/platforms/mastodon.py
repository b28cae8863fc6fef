"""Connector for Mastodon (REST API v1/v2): statuses with Idempotency-Key, media v2 with 202
polling, notifications as mentions, conversations as DMs, Link-header paging, X-RateLimit-*
headers. Facts: PLATFORM_APIS.md §7 and the mastodon/documentation pages it cites."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from .base import (
    Capabilities,
    ErrorKind,
    PlatformError,
    PostKind,
    RemotePost,
    RemoteUser,
    TokenGrant,
    TokenInfo,
    image_mime,
)
from .http import HttpConnector, Rate, RateLimiter, parse_retry_after, seconds_until_reset

log = logging.getLogger("guanwei.platforms.mastodon")

DEFAULT_SCOPES = (
    "read:accounts read:statuses read:notifications read:search write:statuses write:media"
)

# api/rate-limits.md: 300 per 5 min per account on /api/*; media uploads and deletions 30 per
# 30 min. app/lib/rate_limiter.rb: statuses 300 per 3 h per account.
DEFAULT_RATES: dict[str, Rate] = {
    "total": Rate(300, 300),
    "statuses": Rate(300, 3 * 3600),
    "media": Rate(30, 1800),
    "delete": Rate(30, 1800),
}


class _TextExtractor(HTMLParser):
    """Mastodon's ``content`` is HTML; keep the text, turn paragraphs and breaks into newlines
    and drop the ``invisible`` spans Mastodon uses to shorten links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if self._hidden_depth:
            if tag == "span":
                self._hidden_depth += 1
            return
        if tag == "span" and "invisible" in classes:
            self._hidden_depth = 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if self._hidden_depth and tag == "span":
            self._hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html or "")
    parser.close()
    return "".join(parser.parts).strip()


def parse_datetime(value: str) -> datetime:
    """Mastodon's ``2019-12-05T11:34:47.196Z`` → aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _id_key(value: str) -> tuple[int, str]:
    """Mastodon ids are decimal strings of varying length; compare as numbers."""
    return (len(value), value) if value.isdigit() else (0, value)


def _newer(a: str, b: str | None) -> bool:
    return b is None or _id_key(a) > _id_key(b)


_STATUS_KINDS: dict[int, ErrorKind] = {
    400: "invalid",
    401: "auth_invalid",  # Mastodon tokens do not expire; 401 means revoked or wrong
    403: "forbidden",
    404: "not_found",
    410: "not_found",
    422: "invalid",
}


def map_mastodon_error(response: httpx.Response, endpoint: str) -> PlatformError | None:
    status = response.status_code
    if 200 <= status < 300:
        return None
    message = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            message = str(body.get("error_description") or body.get("error") or "")
    except ValueError:
        message = response.text[:200]
    code = str(status)
    if status == 429:
        retry = parse_retry_after(response.headers.get("Retry-After"))
        if retry is None:
            retry = seconds_until_reset(response.headers.get("X-RateLimit-Reset"))
        return PlatformError(
            "rate_limited",
            message or "Too many requests",
            code=code,
            http_status=status,
            endpoint=endpoint,
            retry_after_s=retry,
        )
    if status >= 500:
        return PlatformError(
            "unavailable",
            message or f"HTTP {status}",
            code=code,
            http_status=status,
            endpoint=endpoint,
        )
    kind: ErrorKind = _STATUS_KINDS.get(status, "unknown")
    return PlatformError(
        kind, message, code=code, http_status=status, endpoint=endpoint, permanent=True
    )


def mastodon_capabilities(max_characters: int = 500) -> Capabilities:
    return Capabilities(
        publish=True,
        publish_image=True,
        link=True,
        repost=True,
        comment=True,
        reply=True,
        delete=True,
        mentions=True,
        comment_mentions=False,
        comments=True,
        reposts=True,
        followers=True,
        own_timeline=True,
        direct_messages=True,
        search=True,
        idempotent_writes=True,
        max_text_units=max_characters,
        notes={
            "repost": "a boost carries no text; repost(text=...) is refused.",
            "comment_mentions": "replies that mention the account already come through mentions().",
            "reposts": "reposts_of() reads boost notifications, so it works for own statuses only; "
            "the ids it returns are notification ids.",
            "direct_messages": "conversations list only each conversation's latest message.",
            "search": "full-text search covers statuses the instance lets this account search "
            "(opt-in posts and own interactions).",
            "text_length": f"{max_characters} characters (instance setting).",
        },
    )


class MastodonConnector(HttpConnector):
    """One Mastodon account (``uid`` = account id) on one instance."""

    def __init__(
        self,
        *,
        base_url: str,
        app_key: str,
        app_secret: str,
        access_token: str | None = None,
        uid: str | None = None,
        kind: str = "mastodon",
        scopes: str = DEFAULT_SCOPES,
        visibility: str = "public",
        max_characters: int = 500,
        rates: Mapping[str, Rate] | None = None,
        limiter: RateLimiter | None = None,
        timeout_s: float = 15.0,
        connect_timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        max_wait_s: float = 2.0,
        media_poll_attempts: int = 20,
        media_poll_interval_s: float = 1.0,
        page_size: int = 40,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(
            kind=kind,
            base_url=base_url,
            app_key=app_key,
            app_secret=app_secret,
            access_token=access_token,
            uid=uid,
            error_mapper=map_mastodon_error,
            rates=DEFAULT_RATES if rates is None else rates,
            limiter=limiter,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            retries=retries,
            backoff_s=backoff_s,
            max_wait_s=max_wait_s,
            transport=transport,
            sleep=sleep,
        )
        self.scopes = scopes
        self.visibility = visibility
        self.media_poll_attempts = media_poll_attempts
        self.media_poll_interval_s = media_poll_interval_s
        self.page_size = page_size
        self.capabilities = mastodon_capabilities(max_characters)

    def __repr__(self) -> str:
        return f"<MastodonConnector {self.base_url} uid={self.uid}>"

    # ---------------------------------------------------------------- plumbing

    def _request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        groups: tuple[str, ...] = ("total",),
        idempotent: bool | None = None,
        authed: bool = True,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if authed:
            all_headers["Authorization"] = f"Bearer {self._token(endpoint)}"
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        return self._http.request(
            method,
            url,
            endpoint=endpoint,
            params=params,
            data=data,
            files=files,
            headers=all_headers,
            groups=groups,
            idempotent=idempotent,
        )

    def _idempotency_key(self, caller_key: str) -> str:
        """Derived from the caller's key and this account, so the same Target retried within
        Mastodon's one-hour window is posted once, and two accounts never share a key."""
        if not caller_key:
            return str(uuid.uuid4())
        digest = hashlib.sha256(f"{self.base_url}|{self.uid}|{caller_key}".encode()).hexdigest()
        return f"guanwei-{digest[:40]}"

    def _require_uid(self) -> str:
        if not self.uid:
            self.uid = self.token_info().uid
        return self.uid

    # ---------------------------------------------------------------- parsing

    def parse_account(self, obj: Mapping[str, Any]) -> RemoteUser:
        return RemoteUser(
            id=str(obj.get("id") or ""),
            screen_name=str(obj.get("acct") or obj.get("username") or ""),
            verified_type=None,
            followers_count=obj.get("followers_count")
            if isinstance(obj.get("followers_count"), int)
            else None,
            friends_count=obj.get("following_count")
            if isinstance(obj.get("following_count"), int)
            else None,
            statuses_count=obj.get("statuses_count")
            if isinstance(obj.get("statuses_count"), int)
            else None,
            region="",
            gender="",
            raw=dict(obj),
        )

    def parse_status(self, obj: Mapping[str, Any], kind: PostKind | None = None) -> RemotePost:
        reblog = obj.get("reblog")
        reply_to = obj.get("in_reply_to_id")
        if kind is None:
            if isinstance(reblog, dict) and reblog:
                kind = "repost"
            elif obj.get("visibility") == "direct":
                kind = "dm"
            elif reply_to:
                kind = "comment"
            else:
                kind = "status"
        account = obj.get("account")
        in_reply = (
            str(reblog.get("id"))
            if isinstance(reblog, dict) and reblog
            else (str(reply_to) if reply_to else None)
        )
        return RemotePost(
            id=str(obj.get("id") or ""),
            kind=kind,
            text=html_to_text(str(obj.get("content") or "")),
            created_at=parse_datetime(str(obj.get("created_at"))),
            author=self.parse_account(account) if isinstance(account, dict) else None,
            url=str(obj.get("url") or obj.get("uri") or ""),
            in_reply_to_id=in_reply,
            reply_to_comment_id=None,
            raw=dict(obj),
        )

    # ---------------------------------------------------------------- OAuth (§7)

    def authorize_url(
        self, redirect_uri: str, state: str, scope: str = "", display: str = "default"
    ) -> str:
        params = {
            "response_type": "code",
            "client_id": self.app_key,
            "redirect_uri": redirect_uri,
            "scope": scope or self.scopes,
            "state": state,
        }
        return f"{self.base_url}/oauth/authorize?{urlencode(params)}"

    def exchange_code(self, code: str, redirect_uri: str) -> TokenGrant:
        response = self._request(
            "POST",
            "/oauth/token",
            endpoint="oauth/token",
            authed=False,
            groups=(),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": self.app_key,
                "client_secret": self._app_secret,
                "redirect_uri": redirect_uri,
                "scope": self.scopes,
            },
        )
        body = self._json(response, "oauth/token")
        token = str(body.get("access_token") or "")
        if not token:
            raise PlatformError(
                "unknown", "no access_token in the answer", code="shape", endpoint="oauth/token"
            )
        self._access_token = token
        self.uid = None
        uid = self.token_info().uid
        self._adopt_token(token, uid)
        expires = body.get("expires_in")
        return TokenGrant(
            access_token=token,
            expires_in_s=expires if isinstance(expires, int) else None,
            uid=uid,
            refresh_token=body.get("refresh_token") or None,
        )

    def token_info(self) -> TokenInfo:
        """Mastodon tokens do not expire (``expires_in_s`` None); a dead token answers 401."""
        response = self._request(
            "GET", "/api/v1/accounts/verify_credentials", endpoint="accounts/verify_credentials"
        )
        body = self._json(response, "accounts/verify_credentials")
        return TokenInfo(
            uid=str(body.get("id") or ""), app_key=self.app_key, expires_in_s=None, created_at=None
        )

    def revoke(self) -> None:
        if not self._access_token:
            return
        self._request(
            "POST",
            "/oauth/revoke",
            endpoint="oauth/revoke",
            authed=False,
            groups=(),
            idempotent=True,  # "This operation is idempotent"
            data={
                "client_id": self.app_key,
                "client_secret": self._app_secret,
                "token": self._access_token,
            },
        )

    # ---------------------------------------------------------------- people

    def user_show(self, uid: str) -> RemoteUser:
        response = self._request("GET", f"/api/v1/accounts/{uid}", endpoint="accounts/:id")
        return self.parse_account(self._json(response, "accounts/:id"))

    def followers(
        self, cursor: str | None = None, count: int = 200
    ) -> tuple[list[RemoteUser], str | None]:
        uid = self._require_uid()
        params: dict[str, Any] = {"limit": min(max(count, 1), 80)}
        if cursor:
            params["max_id"] = cursor
        response = self._request(
            "GET",
            f"/api/v1/accounts/{uid}/followers",
            params=params,
            endpoint="accounts/:id/followers",
        )
        users = [
            self.parse_account(a)
            for a in self._json(response, "accounts/:id/followers")
            if isinstance(a, dict)
        ]
        return users, _link_param(response, "next", "max_id") if users else None

    # ---------------------------------------------------------------- writes

    def _upload_media(self, image: bytes, image_name: str) -> str:
        response = self._request(
            "POST",
            "/api/v2/media",
            endpoint="media",
            groups=("total", "media"),
            files={"file": (image_name or "image", image, image_mime(image))},
            idempotent=True,  # a second upload only leaves an unattached file, cleaned up later
        )
        media = self._json(response, "media")
        media_id = str(media.get("id") or "")
        if response.status_code == 202 or media.get("url") is None:
            for _ in range(self.media_poll_attempts):
                self._sleep(self.media_poll_interval_s)
                poll = self._request("GET", f"/api/v1/media/{media_id}", endpoint="media/:id")
                if poll.status_code == 200:
                    break
            else:
                raise PlatformError(
                    "timeout",
                    "media still processing",
                    code="media_processing",
                    endpoint="media/:id",
                    permanent=False,
                )
        return media_id

    def _post_status(
        self, data: dict[str, Any], idempotency_key: str, kind: PostKind | None = None
    ) -> RemotePost:
        response = self._request(
            "POST",
            "/api/v1/statuses",
            endpoint="statuses",
            data=data,
            headers={"Idempotency-Key": self._idempotency_key(idempotency_key)},
            groups=("total", "statuses"),
            idempotent=True,  # the Idempotency-Key makes a resend safe for an hour
        )
        return self.parse_status(self._json(response, "statuses"), kind)

    def publish(
        self,
        text: str,
        *,
        image: bytes | None = None,
        image_name: str = "",
        rip: str = "",
        idempotency_key: str = "",
    ) -> RemotePost:
        data: dict[str, Any] = {"status": text, "visibility": self.visibility}
        if image is not None:
            data["media_ids[]"] = [self._upload_media(image, image_name)]
        return self._post_status(data, idempotency_key, "status")

    def repost(self, post_id: str, text: str = "", *, rip: str = "") -> RemotePost:
        if text:
            raise PlatformError(
                "invalid",
                "a Mastodon boost cannot carry text",
                code="unsupported",
                endpoint="statuses/:id/reblog",
            )
        response = self._request(
            "POST",
            f"/api/v1/statuses/{post_id}/reblog",
            endpoint="statuses/:id/reblog",
            idempotent=True,
        )
        return self.parse_status(self._json(response, "statuses/:id/reblog"), "repost")

    def _mention_prefix(self, status_id: str, text: str) -> str:
        """The API does not add the @mention the web UI adds, and without it the author is not
        notified; prefix it unless the status is our own or already mentioned."""
        parent = self.get_post(status_id)
        author = parent.author
        if author is None or author.id == self.uid or not author.screen_name:
            return text
        handle = "@" + author.screen_name
        return text if handle in text else f"{handle} {text}"

    def comment(self, post_id: str, text: str, *, rip: str = "") -> RemotePost:
        data = {
            "status": self._mention_prefix(post_id, text),
            "in_reply_to_id": post_id,
            "visibility": self.visibility,
        }
        post = self._post_status(data, f"comment:{post_id}:{text}", "comment")
        post.in_reply_to_id = post_id
        return post

    def reply(self, post_id: str, comment_id: str, text: str, *, rip: str = "") -> RemotePost:
        data = {
            "status": self._mention_prefix(comment_id, text),
            "in_reply_to_id": comment_id,
            "visibility": self.visibility,
        }
        post = self._post_status(data, f"reply:{comment_id}:{text}", "comment")
        post.in_reply_to_id = post_id
        post.reply_to_comment_id = comment_id
        return post

    def delete(self, post_id: str) -> None:
        self._request(
            "DELETE",
            f"/api/v1/statuses/{post_id}",
            endpoint="statuses/:id",
            groups=("total", "delete"),
        )

    def delete_comment(self, comment_id: str) -> None:
        self.delete(comment_id)

    def send_dm(self, receiver_id: str, text: str) -> None:
        """A direct-visibility status mentioning the receiver (Mastodon's DMs)."""
        handle = "@" + self.user_show(receiver_id).screen_name
        body = text if handle in text else f"{handle} {text}"
        self._post_status({"status": body, "visibility": "direct"}, "", "dm")

    # ---------------------------------------------------------------- reads

    def get_post(self, post_id: str) -> RemotePost:
        response = self._request("GET", f"/api/v1/statuses/{post_id}", endpoint="statuses/:id")
        return self.parse_status(self._json(response, "statuses/:id"))

    def own_timeline(self, since_id: str | None = None, count: int = 20) -> list[RemotePost]:
        uid = self._require_uid()
        params: dict[str, Any] = {"limit": min(max(count, 1), 40)}
        if since_id:
            params["since_id"] = since_id
        response = self._request(
            "GET",
            f"/api/v1/accounts/{uid}/statuses",
            params=params,
            endpoint="accounts/:id/statuses",
        )
        posts = [
            self.parse_status(s)
            for s in self._json(response, "accounts/:id/statuses")
            if isinstance(s, dict)
        ]
        return [p for p in posts if _newer(p.id, since_id)]

    def _pages(
        self, path: str, endpoint: str, params: Mapping[str, Any], max_pages: int
    ) -> Iterator[list[Any]]:
        """Follow ``Link: <…>; rel="next"`` (Mastodon's max_id is exclusive, so the next page
        never repeats the last item), one request per page the caller asks for. Stops on an
        empty page, a missing next link or ``max_pages``."""
        url: str = f"{self.base_url}{path}"
        query: Mapping[str, Any] | None = params
        for _ in range(max_pages):
            response = self._request("GET", url, params=query, endpoint=endpoint)
            items = self._json(response, endpoint)
            if not isinstance(items, list) or not items:
                return
            yield items
            nxt = response.links.get("next", {}).get("url")
            if not nxt:
                return
            url, query = nxt, None

    def _notifications(
        self, types: list[str], since_id: str | None, max_pages: int, stop_on_status: bool
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"types[]": types, "limit": min(self.page_size, 80)}
        if since_id and not stop_on_status:
            params["since_id"] = since_id
        out: list[dict[str, Any]] = []
        for items in self._pages("/api/v1/notifications", "notifications", params, max_pages):
            page_has_newer = False
            for n in items:
                if not isinstance(n, dict):
                    continue
                status = n.get("status")
                if stop_on_status:
                    if not isinstance(status, dict) or not _newer(str(status.get("id")), since_id):
                        continue
                page_has_newer = True
                out.append(n)
            if stop_on_status and since_id and not page_has_newer:
                break
        return out

    def mentions(self, since_id: str | None = None, max_pages: int = 10) -> list[RemotePost]:
        """Mention notifications, as the statuses that mention the account. ``since_id`` is a
        *status* id (what the caller stored from the last poll); direct-visibility mentions are
        left to :meth:`direct_messages`."""
        notes = self._notifications(["mention"], since_id, max_pages, stop_on_status=True)
        posts = [self.parse_status(n["status"]) for n in notes]
        return _dedupe_newest_first([p for p in posts if p.kind != "dm"])

    def comment_mentions(
        self, since_id: str | None = None, max_pages: int = 10
    ) -> list[RemotePost]:
        return []  # replies that mention the account arrive through mentions()

    def comments_to_me(self, since_id: str | None = None, max_pages: int = 10) -> list[RemotePost]:
        """Replies to the account's statuses (they mention it, so they are mention notifications)."""
        uid = self._require_uid()
        notes = self._notifications(["mention"], since_id, max_pages, stop_on_status=True)
        posts = [
            self.parse_status(n["status"], "comment")
            for n in notes
            if n["status"].get("in_reply_to_account_id") == uid
            and n["status"].get("visibility") != "direct"
        ]
        return _dedupe_newest_first(posts)

    def comments_on(
        self, post_id: str, since_id: str | None = None, max_pages: int = 10
    ) -> list[RemotePost]:
        """All replies below a status (its context's descendants)."""
        response = self._request(
            "GET", f"/api/v1/statuses/{post_id}/context", endpoint="statuses/:id/context"
        )
        body = self._json(response, "statuses/:id/context")
        out = []
        for s in body.get("descendants") or []:
            if not isinstance(s, dict) or not _newer(str(s.get("id")), since_id):
                continue
            post = self.parse_status(s, "comment")
            parent = str(s.get("in_reply_to_id") or "")
            post.in_reply_to_id = post_id
            post.reply_to_comment_id = parent if parent and parent != post_id else None
            out.append(post)
        return _dedupe_newest_first(out)

    def reposts_of(
        self, post_id: str, since_id: str | None = None, max_pages: int = 10
    ) -> list[RemotePost]:
        """Boosts of one of the account's statuses, from reblog notifications (the ids returned
        — and the ``since_id`` expected — are notification ids)."""
        notes = self._notifications(["reblog"], since_id, max_pages, stop_on_status=False)
        out = []
        for n in notes:
            status = n.get("status") or {}
            if str(status.get("id")) != str(post_id):
                continue
            account = n.get("account")
            out.append(
                RemotePost(
                    id=str(n.get("id")),
                    kind="repost",
                    text="",
                    created_at=parse_datetime(str(n.get("created_at"))),
                    author=self.parse_account(account) if isinstance(account, dict) else None,
                    url="",
                    in_reply_to_id=str(post_id),
                    raw=dict(n),
                )
            )
        return _dedupe_newest_first(out)

    def direct_messages(self, since_id: str | None = None, max_pages: int = 10) -> list[RemotePost]:
        """The latest message of each conversation newer than ``since_id`` (a status id)."""
        pages = self._pages(
            "/api/v1/conversations", "conversations", {"limit": min(self.page_size, 40)}, max_pages
        )
        out = []
        for page in pages:
            for conv in page:
                last = conv.get("last_status") if isinstance(conv, dict) else None
                if isinstance(last, dict) and _newer(str(last.get("id")), since_id):
                    post = self.parse_status(last, "dm")
                    post.raw = {"conversation": conv}
                    out.append(post)
        return _dedupe_newest_first(out)

    def search(
        self, query: str, since: datetime | None = None, max_pages: int = 5
    ) -> list[RemotePost]:
        out: list[RemotePost] = []
        limit = min(self.page_size, 40)
        for page in range(max_pages):
            response = self._request(
                "GET",
                "/api/v2/search",
                endpoint="search",
                params={"q": query, "type": "statuses", "limit": limit, "offset": page * limit},
            )
            statuses = self._json(response, "search").get("statuses") or []
            if not statuses:
                break
            out.extend(self.parse_status(s) for s in statuses if isinstance(s, dict))
            if len(statuses) < limit:
                break
        if since is not None:
            out = [p for p in out if p.created_at >= since]
        return _dedupe_newest_first(out)


def _link_param(response: httpx.Response, rel: str, name: str) -> str | None:
    url = response.links.get(rel, {}).get("url")
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


def _dedupe_newest_first(posts: list[RemotePost]) -> list[RemotePost]:
    seen: dict[str, RemotePost] = {}
    for p in posts:
        seen.setdefault(p.id, p)
    return sorted(seen.values(), key=lambda p: _id_key(p.id), reverse=True)

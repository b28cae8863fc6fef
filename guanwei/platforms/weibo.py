"""Connector for the Weibo Open API v2 (OAuth2, statuses, comments, followers, fans-service
messages, commercial search). The built-in sandbox is reached with the same class: only the base
URL(s) and credentials differ. Facts: PLATFORM_APIS.md §0–6."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from .base import (
    Capabilities,
    ErrorKind,
    PlatformError,
    RemotePost,
    RemoteUser,
    TokenGrant,
    TokenInfo,
    image_mime,
    unsupported,
)
from .http import HttpConnector, Rate, RateLimiter, parse_retry_after

log = logging.getLogger("guanwei.platforms.weibo")

REAL_BASE_URL = "https://api.weibo.com"
REAL_MESSAGES_BASE_URL = "https://m.api.weibo.com"
REAL_COMMERCIAL_BASE_URL = "https://c.api.weibo.com"
MOBILE_AUTHORIZE_URL = "https://open.weibo.cn/oauth2/authorize"

CHINA_TZ = timezone(timedelta(hours=8))

# Per user per app, per hour (PLATFORM_APIS §4.1, classic table). The current wiki says limits are
# set per app by a quality score, so these are defaults: pass ``rates=`` to match your app.
LEVEL_RATES: dict[str, dict[str, Rate]] = {
    "test": {
        "total": Rate(150, 3600),
        "post": Rate(30, 3600),
        "comment": Rate(60, 3600),
        "dm": Rate(60, 3600),
    },
    "ordinary": {
        "total": Rate(150, 3600),
        "post": Rate(30, 3600),
        "comment": Rate(60, 3600),
        "dm": Rate(60, 3600),
    },
    "intermediate": {
        "total": Rate(300, 3600),
        "post": Rate(60, 3600),
        "comment": Rate(120, 3600),
        "dm": Rate(120, 3600),
    },
    "advanced": {
        "total": Rate(450, 3600),
        "post": Rate(90, 3600),
        "comment": Rate(180, 3600),
        "dm": Rate(180, 3600),
    },
    "partner": {"post": Rate(120, 3600), "comment": Rate(240, 3600), "dm": Rate(240, 3600)},
}
COMMERCIAL_RATE = Rate(50000, 3600)  # "请求所有商业接口：50000次/小时/IP"

# error_code → (kind, permanent). PLATFORM_APIS §1.6, §2.3, §4.3.
_RATE_LIMIT_CODES = {10022, 10023, 10024, 20016, 20505}
_CODE_KINDS: dict[int, tuple[ErrorKind, bool]] = {
    21327: ("auth_expired", True),
    21332: ("auth_invalid", True),
    21301: ("auth_invalid", True),
    21324: ("auth_invalid", True),  # invalid_client: the app key/secret are wrong
    **{c: ("auth_invalid", True) for c in range(21314, 21320)},  # OAuth1 token used/expired/revoked
    **{c: ("rate_limited", False) for c in _RATE_LIMIT_CODES},
    20017: ("duplicate", True),
    20019: ("duplicate", True),
    20111: ("duplicate", True),
    20306: ("duplicate", True),  # repeated DM text
    20101: ("not_found", True),
    20201: ("not_found", True),
    20003: ("not_found", True),
    10020: ("not_found", True),  # API not found
    10014: ("forbidden", True),
    10005: ("forbidden", True),
    10004: ("forbidden", True),  # IP not in the app's safety IP list
    10013: ("forbidden", True),
    10032: ("forbidden", True),
    20102: ("forbidden", True),
    20103: ("forbidden", True),
    20203: ("forbidden", True),
    20206: ("forbidden", True),
    20207: ("forbidden", True),
    **{c: ("forbidden", True) for c in (20301, 20302, 20303, 20304, 20305, 20307)},  # DMs
    21321: ("forbidden", True),
    21330: ("forbidden", True),
    21337: ("forbidden", True),
    10001: ("unavailable", False),
    10002: ("unavailable", False),
    10003: ("unavailable", False),
    10009: ("unavailable", False),
    10010: ("unavailable", False),
    10011: ("unavailable", False),
    21331: ("unavailable", False),
    # 20032 "Update success, server slow": the write happened but the answer is not a status;
    # treat like a lost response so the caller reconciles instead of posting again.
    20032: ("timeout", False),
}
# Other codes in these ranges are about the request itself (bad parameter, too long, illegal).
_INVALID_CODES = {
    10006,
    10007,
    10008,
    10012,
    10016,
    10017,
    10018,
    10021,
    21322,
    21323,
    21325,
    21326,
    21328,
    21329,
    21335,
}

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_CREATED_AT = re.compile(
    r"^\s*(?:[A-Za-z]{3}\s+)?([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+"
    r"([+-])(\d{2}):?(\d{2})\s+(\d{4})\s*$"
)


def parse_created_at(value: str) -> datetime:
    """``"Tue May 31 17:46:55 +0800 2011"`` → aware UTC datetime. Locale-independent (``%a``/``%b``
    in strptime follow the process locale). Falls back to ISO 8601."""
    m = _CREATED_AT.match(value or "")
    if m:
        mon, day, hh, mm, ss, sign, oh, om, year = m.groups()
        if mon.title() not in _MONTHS:
            raise ValueError(f"unknown month in created_at {value!r}")
        offset = timedelta(hours=int(oh), minutes=int(om))
        tz = timezone(offset if sign == "+" else -offset)
        local = datetime(
            int(year), _MONTHS[mon.title()], int(day), int(hh), int(mm), int(ss), tzinfo=tz
        )
        return local.astimezone(UTC)
    try:
        parsed = datetime.fromisoformat((value or "").strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"unparsable created_at {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CHINA_TZ)  # the API speaks China time
    return parsed.astimezone(UTC)


def format_created_at(when: datetime) -> str:
    """The inverse, in China time, as Weibo writes it (for fixtures and the sandbox)."""
    local = when.astimezone(CHINA_TZ)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return (
        f"{days[local.weekday()]} {months[local.month - 1]} {local.day:02d} "
        f"{local:%H:%M:%S} +0800 {local.year}"
    )


def verify_push_signature(app_secret: str, signature: str, timestamp: str, nonce: str) -> bool:
    """Fans-service push check (§6): ``sha1("".join(sorted([app_secret, timestamp, nonce])))``
    equals ``signature``. Constant-time comparison."""
    if not (app_secret and signature and timestamp and nonce):
        return False
    joined = "".join(sorted([app_secret, str(timestamp), str(nonce)]))
    expected = hashlib.sha1(joined.encode("utf-8")).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def push_signature(app_secret: str, timestamp: str, nonce: str) -> str:
    """The signature Weibo puts on a push (for the sandbox's pusher and for tests)."""
    return hashlib.sha1("".join(sorted([app_secret, timestamp, nonce])).encode()).hexdigest()


def has_safe_domain_link(text: str, safe_domain: str) -> bool:
    """Does ``text`` contain a URL under ``safe_domain`` (statuses/share's rule, §2.3)?"""
    domain = safe_domain.strip().lower().lstrip(".")
    if not domain:
        return False
    for url in re.findall(r"https?://[^\s<>\"'，。！？、]+", text):
        host = (urlsplit(url).hostname or "").lower()
        if host == domain or host.endswith("." + domain):
            return True
    return False


def _as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _id_of(obj: Mapping[str, Any], prefer: tuple[str, ...] = ("idstr", "mid", "id")) -> str:
    """The id as a string. ``idstr``/``mid`` first: the int ``id`` may have lost precision in a
    JSON encoder upstream (the wiki's own example shows it, §0)."""
    for key in prefer:
        v = obj.get(key)
        if isinstance(v, str) and v.strip():
            return v.strip()
        if isinstance(v, int) and not isinstance(v, bool) and key == "id":
            return str(v)
    raise PlatformError("unknown", "object without an id", code="shape")


def _seconds_to_next_hour(now: datetime) -> float:
    """Weibo's buckets are hourly; China time is UTC+8 so its hour boundaries are UTC's."""
    nxt = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return max(1.0, (nxt - now).total_seconds())


def map_weibo_error(
    response: httpx.Response, endpoint: str, now: Callable[[], datetime] | None = None
) -> PlatformError | None:
    """Turn a Weibo answer into a PlatformError (None when it is a success).

    Weibo's error body is ``{"request", "error_code", "error"}``; ``error_code`` is a number in
    real replies and a string in the doc sample, so both are accepted (§4.2).
    """
    status = response.status_code
    body: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    raw_code = body.get("error_code") if isinstance(body, dict) else None
    if 200 <= status < 300 and raw_code in (None, "", 0, "0"):
        if body is None:
            return PlatformError(
                "unavailable",
                "answer is not JSON",
                code="not_json",
                http_status=status,
                endpoint=endpoint,
                permanent=False,
            )
        return None
    code = _as_int(raw_code)
    message = ""
    if isinstance(body, dict):
        message = str(body.get("error_description") or body.get("error") or "")
    if code is None:
        if status >= 500 or status in (502, 503, 504):
            return PlatformError(
                "unavailable",
                message or f"HTTP {status}",
                code=str(status),
                http_status=status,
                endpoint=endpoint,
                permanent=False,
            )
        if status == 429:
            code = 10023
        elif status == 401:
            return PlatformError(
                "auth_invalid",
                message or "HTTP 401",
                code="401",
                http_status=status,
                endpoint=endpoint,
            )
        elif status == 404:
            return PlatformError(
                "not_found",
                message or "HTTP 404",
                code="404",
                http_status=status,
                endpoint=endpoint,
            )
        else:
            return PlatformError(
                "unknown",
                message or f"HTTP {status}",
                code=str(status),
                http_status=status,
                endpoint=endpoint,
                permanent=status < 500,
            )
    kind: ErrorKind
    if code in _CODE_KINDS:
        kind, permanent = _CODE_KINDS[code]
    elif code in _INVALID_CODES or 20000 <= code < 30000:
        kind, permanent = "invalid", True
    elif status >= 500:
        kind, permanent = "unavailable", False
    else:
        kind, permanent = "unknown", True
    retry_after: float | None = None
    if kind == "rate_limited":
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is None:
            retry_after = _seconds_to_next_hour((now or (lambda: datetime.now(UTC)))())
    return PlatformError(
        kind,
        message,
        code=str(code),
        http_status=status,
        endpoint=endpoint,
        retry_after_s=retry_after,
        permanent=permanent,
    )


def weibo_capabilities(
    level: str = "ordinary", *, commercial: bool = False, fans_service: bool = True
) -> Capabilities:
    notes = {
        "needs_safe_domain_link": (
            "statuses/share only accepts text containing a link under the app's safe domain "
            "(安全域名); otherwise Weibo answers 10017. Add the link or publish by hand."
        ),
        "topics": "#话题# in shared text is stripped by Weibo (statuses/share).",
        "text_length": (
            "140 units: a CJK character 1, ASCII 0.5, a link 10. Longer posts (≤2000) only "
            "through the commercial statuses/update/biz, which this connector does not use."
        ),
        "own_timeline": "statuses/user_timeline returns only the latest 5 statuses.",
        "idempotency": (
            "Weibo has no idempotency key: after a timeout read own_timeline before retrying."
        ),
        "rate_limits": f"local buckets at the '{level}' level of the classic table (§4.1).",
        "followers": (
            "ordinary apps see only followers who authorised the app (at most 30%, ≤500)."
            if not commercial
            else "commercial apps may read full follower lists."
        ),
        "direct_messages": (
            "fans-service (粉丝服务) replies only: unlimited within 48 h after the user wrote, "
            "followed or clicked; one reply within 48 h after an @mention; none after unfollow. "
            "Incoming messages arrive as signed pushes, not by polling."
        ),
        "search": (
            "keyword search through the commercial search/statuses/limited"
            if commercial
            else "keyword search needs Weibo's commercial API contract (商业接口); not available."
        ),
    }
    return Capabilities(
        publish=True,
        publish_image=True,
        link=True,
        repost=True,
        comment=True,
        reply=True,
        delete=True,
        mentions=True,
        comment_mentions=True,
        comments=True,
        reposts=True,
        followers=True,
        own_timeline=True,
        direct_messages=fans_service,
        search=commercial,
        idempotent_writes=False,
        max_text_units=140,
        notes=notes,
    )


class WeiboConnector(HttpConnector):
    """One Weibo account (or, without a token, just the app for the OAuth2 steps)."""

    def __init__(
        self,
        *,
        base_url: str = REAL_BASE_URL,
        app_key: str,
        app_secret: str,
        access_token: str | None = None,
        uid: str | None = None,
        kind: str = "weibo",
        messages_base_url: str | None = None,
        commercial_base_url: str | None = None,
        level: str = "ordinary",
        commercial: bool = False,
        fans_service: bool = True,
        rates: Mapping[str, Rate] | None = None,
        limiter: RateLimiter | None = None,
        timeout_s: float = 15.0,
        connect_timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        max_wait_s: float = 2.0,
        default_rip: str = "",
        post_url_template: str | None = None,
        page_size: int = 50,
        transport: httpx.BaseTransport | None = None,
        now: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if level not in LEVEL_RATES:
            raise ValueError(f"unknown Weibo app level {level!r}; one of {sorted(LEVEL_RATES)}")
        self._now = now or (lambda: datetime.now(UTC))
        all_rates = dict(LEVEL_RATES[level])
        all_rates["commercial"] = COMMERCIAL_RATE
        super().__init__(
            kind=kind,
            base_url=base_url,
            app_key=app_key,
            app_secret=app_secret,
            access_token=access_token,
            uid=uid,
            error_mapper=lambda r, ep: map_weibo_error(r, ep, self._now),
            rates=all_rates if rates is None else dict(rates),
            limiter=limiter,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            retries=retries,
            backoff_s=backoff_s,
            max_wait_s=max_wait_s,
            transport=transport,
            sleep=sleep,
        )
        self.messages_base_url = (messages_base_url or self.base_url).rstrip("/")
        self.commercial_base_url = (commercial_base_url or self.base_url).rstrip("/")
        self.level = level
        self.commercial = commercial
        self.default_rip = default_rip
        self.page_size = page_size
        self.capabilities = weibo_capabilities(
            level, commercial=commercial, fans_service=fans_service
        )
        if post_url_template is None:
            host = (urlsplit(self.base_url).hostname or "").lower()
            post_url_template = (
                "https://m.weibo.cn/status/{id}"
                if host.endswith("weibo.com")
                else self.base_url + "/status/{id}"
            )
        self.post_url_template = post_url_template

    def __repr__(self) -> str:
        return f"<WeiboConnector {self.kind} {self.base_url} uid={self.uid}>"

    def _rate_scope(self) -> str:
        # Weibo counts calls per user *per app* (PLATFORM_APIS §4.1): two apps, two buckets.
        return f"{self.base_url}:{self.app_key}"

    # ---------------------------------------------------------------- plumbing

    def _call(
        self,
        method: str,
        path: str,
        *,
        base: str | None = None,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        groups: tuple[str, ...] = ("total",),
        authed: bool = True,
    ) -> Any:
        endpoint = path.removesuffix(".json")
        url = f"{base or self.base_url}/{path}"
        headers = {"Authorization": f"OAuth2 {self._token(endpoint)}"} if authed else None
        response = self._http.request(
            method,
            url,
            endpoint=endpoint,
            params=params,
            data=data,
            files=files,
            headers=headers,
            groups=groups,
        )
        return self._json(response, endpoint)

    def _rip(self, rip: str) -> dict[str, str]:
        value = rip or self.default_rip
        return {"rip": value} if value else {}

    # ---------------------------------------------------------------- parsing

    def parse_user(self, obj: Mapping[str, Any]) -> RemoteUser:
        region = str(obj.get("location") or "").strip()
        return RemoteUser(
            id=_id_of(obj, ("idstr", "id")),
            screen_name=str(obj.get("screen_name") or obj.get("name") or ""),
            verified_type=_as_int(obj.get("verified_type")),
            followers_count=_as_int(obj.get("followers_count")),
            friends_count=_as_int(obj.get("friends_count")),
            statuses_count=_as_int(obj.get("statuses_count")),
            region=region,
            gender=str(obj.get("gender") or ""),
            raw=dict(obj),
        )

    def _created(self, obj: Mapping[str, Any]) -> datetime:
        try:
            return parse_created_at(str(obj.get("created_at") or ""))
        except ValueError as exc:
            raise PlatformError("unknown", str(exc), code="shape") from None

    def parse_status(self, obj: Mapping[str, Any]) -> RemotePost:
        pid = _id_of(obj)
        user = obj.get("user")
        author = self.parse_user(user) if isinstance(user, dict) and user else None
        retweeted = obj.get("retweeted_status")
        original = _id_of(retweeted) if isinstance(retweeted, dict) and retweeted else None
        return RemotePost(
            id=pid,
            kind="repost" if original else "status",
            text=str(obj.get("text") or ""),
            created_at=self._created(obj),
            author=author,
            url=self.post_url_template.format(id=pid, uid=author.id if author else ""),
            in_reply_to_id=original,
            reply_to_comment_id=None,
            raw=dict(obj),
        )

    def parse_comment(self, obj: Mapping[str, Any]) -> RemotePost:
        # For comments ``mid`` is a different number from the comment id (§2.4), and the id is
        # what comments/reply's ``cid`` wants.
        cid = _id_of(obj, ("idstr", "id"))
        user = obj.get("user")
        status = obj.get("status")
        status_id = _id_of(status) if isinstance(status, dict) and status else None
        replied = obj.get("reply_comment")
        replied_id = (
            _id_of(replied, ("idstr", "id")) if isinstance(replied, dict) and replied else None
        )
        return RemotePost(
            id=cid,
            kind="comment",
            text=str(obj.get("text") or ""),
            created_at=self._created(obj),
            author=self.parse_user(user) if isinstance(user, dict) and user else None,
            url=self.post_url_template.format(id=status_id, uid="") if status_id else "",
            in_reply_to_id=status_id,
            reply_to_comment_id=replied_id,
            raw=dict(obj),
        )

    # ---------------------------------------------------------------- OAuth2 (§1)

    def authorize_url(
        self, redirect_uri: str, state: str, scope: str = "", display: str = "default"
    ) -> str:
        params = {
            "client_id": self.app_key,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "state": state,
        }
        if scope:
            params["scope"] = scope
        if display and display != "default":
            params["display"] = display
        base = f"{self.base_url}/oauth2/authorize"
        if display == "mobile" and self.base_url == REAL_BASE_URL:
            base = MOBILE_AUTHORIZE_URL  # the HTML5 page lives on open.weibo.cn (§0)
        return f"{base}?{urlencode(params)}"

    def exchange_code(self, code: str, redirect_uri: str) -> TokenGrant:
        params = {
            "client_id": self.app_key,
            "client_secret": self._app_secret,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
        }
        # Public clients send a form body; one report says Weibo wants the query string (§1.2).
        body = self._call(
            "POST", "oauth2/access_token", params=params, data=params, groups=(), authed=False
        )
        token = str(body.get("access_token") or "")
        if not token:
            raise PlatformError(
                "unknown",
                "no access_token in the answer",
                code="shape",
                endpoint="oauth2/access_token",
            )
        uid = str(body.get("uid") or "")
        self._adopt_token(token, uid or self.uid)
        return TokenGrant(
            access_token=token,
            expires_in_s=_as_int(body.get("expires_in")),
            uid=uid,
            refresh_token=body.get("refresh_token") or None,
        )

    def token_info(self) -> TokenInfo:
        if not self._access_token:
            raise PlatformError(
                "auth_invalid", "no access token", code="no_token", endpoint="oauth2/get_token_info"
            )
        body = self._call(
            "POST",
            "oauth2/get_token_info",
            data={"access_token": self._access_token},
            groups=(),
            authed=False,
        )
        created = _as_int(body.get("create_at"))
        return TokenInfo(
            uid=str(body.get("uid") or ""),
            app_key=str(body.get("appkey") or ""),
            expires_in_s=_as_int(body.get("expire_in")),
            created_at=datetime.fromtimestamp(created, UTC) if created is not None else None,
        )

    def revoke(self) -> None:
        if not self._access_token:
            return
        body = self._call(
            "POST",
            "oauth2/revokeoauth2",
            data={"access_token": self._access_token},
            groups=(),
            authed=False,
        )
        if str(body.get("result")).lower() != "true":
            raise PlatformError(
                "unknown", f"unexpected answer {body!r}"[:200], endpoint="oauth2/revokeoauth2"
            )

    # ---------------------------------------------------------------- people

    def user_show(self, uid: str) -> RemoteUser:
        return self.parse_user(self._call("GET", "2/users/show.json", params={"uid": uid}))

    def followers(
        self, cursor: str | None = None, count: int = 200
    ) -> tuple[list[RemoteUser], str | None]:
        params: dict[str, Any] = {"count": min(max(count, 1), 200), "cursor": cursor or "0"}
        if self.uid:
            params["uid"] = self.uid
        body = self._call("GET", "2/friendships/followers.json", params=params)
        users = [self.parse_user(u) for u in body.get("users") or [] if isinstance(u, dict)]
        nxt = body.get("next_cursor")
        nxt_s = str(nxt) if nxt not in (None, 0, "0", "") else None
        return users, nxt_s

    # ---------------------------------------------------------------- writes

    def publish(
        self,
        text: str,
        *,
        image: bytes | None = None,
        image_name: str = "",
        rip: str = "",
        idempotency_key: str = "",
    ) -> RemotePost:
        """statuses/share. ``idempotency_key`` is accepted for the protocol and ignored: Weibo
        has none, so a ``timeout`` here must be reconciled through ``own_timeline``."""
        data = {"status": text, **self._rip(rip)}
        files = None
        if image is not None:
            files = {"pic": (image_name or "image", image, image_mime(image))}
        body = self._call(
            "POST", "2/statuses/share.json", data=data, files=files, groups=("total", "post")
        )
        return self.parse_status(body)

    def repost(self, post_id: str, text: str = "", *, rip: str = "") -> RemotePost:
        data = {"id": post_id, **self._rip(rip)}
        if text:
            data["status"] = text
        body = self._call("POST", "2/statuses/repost.json", data=data, groups=("total", "post"))
        return self.parse_status(body)

    def comment(self, post_id: str, text: str, *, rip: str = "") -> RemotePost:
        body = self._call(
            "POST",
            "2/comments/create.json",
            data={"id": post_id, "comment": text, **self._rip(rip)},
            groups=("total", "comment"),
        )
        return self.parse_comment(body)

    def reply(self, post_id: str, comment_id: str, text: str, *, rip: str = "") -> RemotePost:
        body = self._call(
            "POST",
            "2/comments/reply.json",
            data={"id": post_id, "cid": comment_id, "comment": text, **self._rip(rip)},
            groups=("total", "comment"),
        )
        return self.parse_comment(body)

    def delete(self, post_id: str) -> None:
        self._call("POST", "2/statuses/destroy.json", data={"id": post_id})

    def delete_comment(self, comment_id: str) -> None:
        self._call("POST", "2/comments/destroy.json", data={"cid": comment_id})

    def send_dm(self, receiver_id: str, text: str) -> None:
        """Fans-service active reply (messages/reply, §6): ``data`` is URL-encoded JSON."""
        payload = quote(json.dumps({"text": text}, ensure_ascii=False), safe="")
        self._call(
            "POST",
            "2/messages/reply.json",
            base=self.messages_base_url,
            data={
                "type": "text",
                "data": payload,
                "receiver_id": receiver_id,
                "save_sender_box": "1",
            },
            groups=("total", "dm"),
        )

    # ---------------------------------------------------------------- reads

    def get_post(self, post_id: str) -> RemotePost:
        return self.parse_status(self._call("GET", "2/statuses/show.json", params={"id": post_id}))

    def own_timeline(self, since_id: str | None = None, count: int = 20) -> list[RemotePost]:
        params: dict[str, Any] = {"count": min(max(count, 1), 100)}
        if self.uid:
            params["uid"] = self.uid
        if since_id:
            params["since_id"] = since_id
        body = self._call("GET", "2/statuses/user_timeline.json", params=params)
        posts = [self.parse_status(s) for s in body.get("statuses") or [] if isinstance(s, dict)]
        return _newest_first(posts, since_id)

    def _walk(
        self,
        path: str,
        key: str,
        parse: Callable[[Mapping[str, Any]], RemotePost],
        since_id: str | None,
        max_pages: int,
        params: Mapping[str, Any] | None = None,
        base: str | None = None,
        groups: tuple[str, ...] = ("total",),
    ) -> list[RemotePost]:
        """Walk a timeline backwards from the newest item down to ``since_id``.

        ``since_id`` is exclusive and ``max_id`` inclusive on Weibo (§2.1), so each next page asks
        for ``max_id = oldest id on the page - 1`` — and still drops any item already seen, in
        case a server hands the boundary item back (a page of nothing but such repeats moves the
        cursor on rather than ending the walk). Stops on an empty page, on a page holding all of
        ``total_number``, when the cursor would
        reach ``since_id`` or 0 (``max_id=0`` means "no bound" to Weibo), when it stops moving,
        or after ``max_pages`` requests (then items between ``since_id`` and the last page are
        not fetched: logged as a warning).
        """
        since = _as_int(since_id) if since_id else None
        seen: set[str] = set()
        out: list[RemotePost] = []
        max_id: int | None = None
        for page in range(1, max_pages + 1):
            p: dict[str, Any] = {**(params or {}), "count": self.page_size}
            if since_id:
                p["since_id"] = since_id
            if max_id is not None:
                p["max_id"] = str(max_id)
            body = self._call("GET", path, params=p, base=base, groups=groups)
            items = body.get(key) if isinstance(body, dict) else None
            page_ids: list[int] = []
            for item in items or []:
                if not isinstance(item, dict):
                    continue
                post = parse(item)
                n = _as_int(post.id)
                if n is not None:
                    page_ids.append(n)
                if post.id in seen or (since is not None and n is not None and n <= since):
                    continue
                seen.add(post.id)
                out.append(post)
            if not page_ids:
                break
            total = body.get("total_number") if isinstance(body, dict) else None
            if isinstance(total, int) and not isinstance(total, bool) and total <= len(page_ids):
                # The server counted no more matches than it sent: skip the empty-page request
                # (it costs a call from an hourly budget of ~150). A total that counts the whole
                # timeline is larger than any page, so it never ends a walk early.
                break
            next_max_id = min(page_ids) - 1
            if next_max_id < 1 or (since is not None and next_max_id <= since):
                break
            if max_id is not None and next_max_id >= max_id:
                break  # the server ignores max_id: stop rather than loop
            max_id = next_max_id
            if page == max_pages:
                log.warning(
                    "weibo %s: stopped after max_pages=%d; older items may remain", path, max_pages
                )
        return _newest_first(out, None)

    def mentions(self, since_id: str | None = None, max_pages: int = 10) -> list[RemotePost]:
        return self._walk(
            "2/statuses/mentions.json", "statuses", self.parse_status, since_id, max_pages
        )

    def comment_mentions(
        self, since_id: str | None = None, max_pages: int = 10
    ) -> list[RemotePost]:
        return self._walk(
            "2/comments/mentions.json", "comments", self.parse_comment, since_id, max_pages
        )

    def comments_to_me(self, since_id: str | None = None, max_pages: int = 10) -> list[RemotePost]:
        return self._walk(
            "2/comments/to_me.json", "comments", self.parse_comment, since_id, max_pages
        )

    def comments_on(
        self, post_id: str, since_id: str | None = None, max_pages: int = 10
    ) -> list[RemotePost]:
        return self._walk(
            "2/comments/show.json",
            "comments",
            self.parse_comment,
            since_id,
            max_pages,
            params={"id": post_id},
        )

    def reposts_of(
        self, post_id: str, since_id: str | None = None, max_pages: int = 10
    ) -> list[RemotePost]:
        return self._walk(
            "2/statuses/repost_timeline.json",
            "reposts",
            self.parse_status,
            since_id,
            max_pages,
            params={"id": post_id},
        )

    def direct_messages(self, since_id: str | None = None, max_pages: int = 10) -> list[RemotePost]:
        """Weibo has no API to read direct messages: they arrive as fans-service pushes (see
        :func:`parse_push_message`)."""
        raise unsupported("Weibo delivers direct messages only as fans-service pushes", "messages")

    def search(
        self, query: str, since: datetime | None = None, max_pages: int = 5
    ) -> list[RemotePost]:
        """Commercial keyword search (search/statuses/limited, §5); pages by ``page``."""
        if not self.commercial:
            raise unsupported(
                "keyword search needs the commercial API (商业接口)", "2/search/statuses/limited"
            )
        seen: set[str] = set()
        out: list[RemotePost] = []
        for page in range(1, max_pages + 1):
            params: dict[str, Any] = {
                "q": query,
                "count": self.page_size,
                "page": page,
                "sort": "time",
            }
            if since is not None:
                params["starttime"] = int(since.timestamp())
            body = self._call(
                "GET",
                "2/search/statuses/limited.json",
                base=self.commercial_base_url,
                params=params,
                groups=("commercial",),
            )
            fresh = []
            for item in body.get("statuses") or []:
                if not isinstance(item, dict):
                    continue
                post = self.parse_status(item)
                if post.id in seen or (since is not None and post.created_at < since):
                    continue
                seen.add(post.id)
                fresh.append(post)
            if not fresh:
                break
            out.extend(fresh)
        return _newest_first(out, None)


def _newest_first(posts: Iterable[RemotePost], since_id: str | None) -> list[RemotePost]:
    since = _as_int(since_id) if since_id else None
    kept = [p for p in posts if since is None or (_as_int(p.id) or 0) > since]
    return sorted(kept, key=lambda p: (_as_int(p.id) or 0, p.created_at), reverse=True)


def parse_push_message(payload: Mapping[str, Any]) -> RemotePost | None:
    """A fans-service push (§6) as a ``dm`` RemotePost; ``None`` for events and unknown types
    (the doc says to ignore those). Pushes carry no message id. The doc's dedupe key for Weibo's
    retries is sender + created_at, but created_at has one-second resolution and a person may
    send two messages within a second; the id is therefore sender + time + a short hash of the
    message's type, text and data — the same for a retry, different for a second message."""
    kind = payload.get("type")
    if kind not in ("text", "image", "voice", "position"):
        return None
    sender = str(payload.get("sender_id") or "")
    created = parse_created_at(str(payload.get("created_at") or ""))
    content = json.dumps([kind, payload.get("text"), payload.get("data")], ensure_ascii=False, sort_keys=True, default=str)
    digest = hashlib.sha1(content.encode("utf-8")).hexdigest()[:10]
    return RemotePost(
        id=f"{sender}:{int(created.timestamp())}:{digest}",
        kind="dm",
        text=str(payload.get("text") or ""),
        created_at=created,
        author=RemoteUser(id=sender, screen_name="") if sender else None,
        raw=dict(payload),
    )

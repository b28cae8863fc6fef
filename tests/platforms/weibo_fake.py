"""A tiny Weibo for httpx.MockTransport: shapes, paging and errors straight from
PLATFORM_APIS.md §1–4. Used for the unit tests of the connector's edges (paging, error mapping,
retries); the real check is tests/platforms/test_weibo_against_sandbox.py over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx

from guanwei.platforms.weibo import format_created_at

TOKEN = "2.00abcdefTOKEN0123456789"
UID = "1073880650"
START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def user_obj(uid: str = "2489518277", name: str = "小明") -> dict[str, Any]:
    return {
        "id": int(uid),
        "idstr": uid,
        "screen_name": name,
        "name": name,
        "province": "11",
        "city": "5",
        "location": "北京 朝阳区",
        "gender": "m",
        "followers_count": 42,
        "verified": False,
        "verified_type": -1,
    }


def status_obj(mid: int, text: str = "", *, at: datetime | None = None) -> dict[str, Any]:
    return {
        "created_at": format_created_at(at or START + timedelta(seconds=mid % 100000)),
        "id": mid,
        "idstr": str(mid),
        "mid": str(mid),
        "text": text or f"@官微 第{mid}条",
        "source": '<a href="http://weibo.com" rel="nofollow">新浪微博</a>',
        "favorited": False,
        "truncated": False,
        "in_reply_to_status_id": "",
        "in_reply_to_user_id": "",
        "in_reply_to_screen_name": "",
        "pic_urls": [],
        "geo": None,
        "user": user_obj(),
        "reposts_count": 0,
        "comments_count": 0,
        "attitudes_count": 0,
        "mlevel": 0,
        "visible": {"type": 0, "list_id": 0},
    }


def error_body(code: int | str, error: str, request: str) -> dict[str, Any]:
    return {"request": request, "error_code": code, "error": error}


@dataclass
class FakeWeibo:
    """Holds mention ids and answers timeline requests the way the wiki describes them:
    ``since_id`` exclusive, ``max_id`` inclusive, ``count``, newest first."""

    mention_ids: list[int] = field(default_factory=list)
    # When set, the server treats max_id as if the client had not subtracted one: it hands back
    # the item at max_id + 1 as well (a server repeating the boundary item).
    repeats_boundary: bool = False
    empty_pages_after: int | None = None  # answer [] from this request number on
    requests: list[httpx.Request] = field(default_factory=list)
    handlers: dict[str, Callable[[httpx.Request], httpx.Response]] = field(default_factory=dict)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path in self.handlers:
            return self.handlers[path](request)
        if path == "/2/statuses/mentions.json":
            return self.mentions(request)
        return httpx.Response(
            400, json=error_body(10020, "Request api not found!", path.removeprefix("/2"))
        )

    def mentions(self, request: httpx.Request) -> httpx.Response:
        q = request.url.params
        if self.empty_pages_after is not None and len(self.requests) > self.empty_pages_after:
            return httpx.Response(200, json={"statuses": [], "total_number": 0})
        since = int(q.get("since_id") or 0)
        max_id = int(q.get("max_id") or 0)
        count = int(q.get("count") or 50)
        ids = sorted(self.mention_ids, reverse=True)
        ids = [i for i in ids if i > since]
        if max_id:
            bound = max_id + 1 if self.repeats_boundary else max_id
            ids = [i for i in ids if i <= bound]
        page = ids[:count]
        return httpx.Response(
            200,
            json={
                "statuses": [status_obj(i) for i in page],
                "previous_cursor": 0,
                "next_cursor": page[-1] if page else 0,
                "total_number": len(self.mention_ids),
                "hasvisible": False,
            },
        )


def form(request: httpx.Request) -> dict[str, list[str]]:
    """The form body of a urlencoded request."""
    return parse_qs(request.content.decode())


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json;charset=UTF-8", **(headers or {})},
    )

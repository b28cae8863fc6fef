"""The Mastodon connector against responses hand-recorded from the Mastodon documentation
(tests/platforms/fixtures/mastodon, see the README there), served at the HTTP seam."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine

from guanwei.platforms import PlatformError, RateLimiter, get_connector
from guanwei.platforms.mastodon import MastodonConnector, html_to_text

FIXTURES = Path(__file__).parent / "fixtures" / "mastodon"
BASE = "https://mastodon.social"
TOKEN = "ZA-Yj3aBD8U8Cm7lKUp-lm9O9BmDgdhHzDeqsY8tlL0"


def recorded(name: str) -> httpx.Response:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    content = b"" if data["body"] is None else json.dumps(data["body"]).encode()
    return httpx.Response(data["status"], headers=data["headers"], content=content)


Matcher = Callable[[httpx.Request], bool]


class Recorded:
    """Answers each request with the next recorded response of the first route that matches."""

    def __init__(self, routes: list[tuple[str, str, list[str]]]) -> None:
        self.routes = [(m, p, list(names)) for m, p, names in routes]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        target = request.url.path + ("?" + request.url.query.decode() if request.url.query else "")
        for method, prefix, names in self.routes:
            if request.method == method and target.startswith(prefix) and names:
                name = names.pop(0) if len(names) > 1 else names[0]
                return recorded(name)
        raise AssertionError(f"unexpected request {request.method} {target}")

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def make(routes: Recorded | httpx.BaseTransport, **options: Any) -> MastodonConnector:
    transport = routes.transport() if isinstance(routes, Recorded) else routes
    opts: dict[str, Any] = {
        "access_token": TOKEN,
        "uid": "14715",
        "limiter": RateLimiter(),
        "sleep": lambda s: None,
        "transport": transport,
    }
    opts.update(options)
    conn = get_connector(
        "mastodon", base_url=BASE, app_key="client-id", app_secret="client-secret", **opts
    )
    assert isinstance(conn, MastodonConnector)
    return conn


# --- posting ------------------------------------------------------------------------------------


def test_publish_sends_an_idempotency_key_derived_from_the_callers_key() -> None:
    routes = Recorded([("POST", "/api/v1/statuses", ["statuses_create_200"])])
    conn = make(routes)
    post = conn.publish("test content", idempotency_key="target-42")
    conn.publish("test content", idempotency_key="target-42")
    conn.publish("test content", idempotency_key="target-43")
    keys = [r.headers["Idempotency-Key"] for r in routes.requests]
    assert keys[0] == keys[1] != keys[2]
    assert "target-42" not in keys[0]  # derived, not the caller's raw key
    other_account = Recorded([("POST", "/api/v1/statuses", ["statuses_create_200"])])
    make(other_account, uid="99").publish("test content", idempotency_key="target-42")
    assert other_account.requests[0].headers["Idempotency-Key"] != keys[0]
    assert post.id == "103254962155278888" and post.kind == "status"
    assert post.text == "test content"
    assert post.created_at == datetime(2019, 12, 5, 11, 34, 47, 196000, tzinfo=UTC)
    assert post.url == "https://mastodon.social/@trwnh/103254962155278888"
    assert routes.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_timed_out_post_is_resent_with_the_same_key() -> None:
    attempts: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return recorded("statuses_create_200")

    post = make(httpx.MockTransport(handler)).publish("test content", idempotency_key="t-1")
    assert post.id == "103254962155278888"
    assert len(attempts) == 2
    assert attempts[0].headers["Idempotency-Key"] == attempts[1].headers["Idempotency-Key"]


def test_publish_with_image_waits_for_async_media_processing() -> None:
    routes = Recorded(
        [
            ("POST", "/api/v2/media", ["media_v2_202"]),
            ("GET", "/api/v1/media/22348641", ["media_get_206", "media_get_206", "media_get_200"]),
            ("POST", "/api/v1/statuses", ["statuses_create_200"]),
        ]
    )
    sleeps: list[float] = []
    conn = make(routes, sleep=sleeps.append, media_poll_interval_s=0.5)
    conn.publish("with picture", image=b"\xff\xd8\xff" + b"0" * 64, image_name="a.jpg")
    methods = [(r.method, r.url.path) for r in routes.requests]
    assert methods == [
        ("POST", "/api/v2/media"),
        ("GET", "/api/v1/media/22348641"),
        ("GET", "/api/v1/media/22348641"),
        ("GET", "/api/v1/media/22348641"),
        ("POST", "/api/v1/statuses"),
    ]
    assert b'name="file"; filename="a.jpg"' in routes.requests[0].content
    assert b"image/jpeg" in routes.requests[0].content
    assert "media_ids%5B%5D=22348641" in routes.requests[-1].content.decode()
    assert sleeps == [0.5, 0.5, 0.5]


def test_media_processed_synchronously_is_not_polled() -> None:
    routes = Recorded(
        [
            ("POST", "/api/v2/media", ["media_v2_200"]),
            ("POST", "/api/v1/statuses", ["statuses_create_200"]),
        ]
    )
    make(routes).publish("x", image=b"\x89PNG\r\n\x1a\n0000")
    assert [r.url.path for r in routes.requests] == ["/api/v2/media", "/api/v1/statuses"]


def test_media_that_never_finishes_is_a_timeout() -> None:
    routes = Recorded(
        [
            ("POST", "/api/v2/media", ["media_v2_202"]),
            ("GET", "/api/v1/media/22348641", ["media_get_206"]),
        ]
    )
    with pytest.raises(PlatformError) as exc:
        make(routes, media_poll_attempts=3).publish("x", image=b"\xff\xd8\xff0")
    assert exc.value.kind == "timeout" and exc.value.code == "media_processing"
    assert not any(r.url.path == "/api/v1/statuses" for r in routes.requests)


def test_comment_mentions_the_author_and_replies_to_the_status() -> None:
    routes = Recorded(
        [
            ("GET", "/api/v1/statuses/1", ["statuses_get_200"]),
            ("POST", "/api/v1/statuses", ["statuses_reply_200"]),
        ]
    )
    post = make(routes).comment("1", "thanks!")
    sent = dict(httpx.QueryParams(routes.requests[1].content.decode()))
    assert sent["status"] == "@Gargron thanks!" and sent["in_reply_to_id"] == "1"
    assert post.kind == "comment" and post.in_reply_to_id == "1"
    assert post.text == "@Gargron thanks!"


def test_a_boost_cannot_carry_text() -> None:
    routes = Recorded([("POST", "/api/v1/statuses/1/reblog", ["statuses_reblog_200"])])
    with pytest.raises(PlatformError) as exc:
        make(routes).repost("1", "look")
    assert exc.value.kind == "invalid" and routes.requests == []
    post = make(routes).repost("1")
    assert post.kind == "repost" and post.in_reply_to_id == "1"


def test_delete_uses_delete() -> None:
    routes = Recorded([("DELETE", "/api/v1/statuses/103254962155278888", ["statuses_delete_200"])])
    make(routes).delete("103254962155278888")
    assert routes.requests[0].method == "DELETE"


def test_send_dm_is_a_direct_status_mentioning_the_receiver() -> None:
    routes = Recorded(
        [
            ("GET", "/api/v1/accounts/971724", ["accounts_get_971724"]),
            ("POST", "/api/v1/statuses", ["statuses_create_200"]),
        ]
    )
    make(routes).send_dm("971724", "您好，订单已发货")
    sent = dict(httpx.QueryParams(routes.requests[1].content.decode()))
    assert sent == {"status": "@zsc 您好，订单已发货", "visibility": "direct"}
    assert "Idempotency-Key" in routes.requests[1].headers


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "kind", "permanent", "message"),
    [
        ("statuses_create_401", "auth_invalid", True, "The access token is invalid"),
        ("statuses_create_422", "invalid", True, "Validation failed: Text can't be blank"),
        ("statuses_get_404", "not_found", True, "Record not found"),
    ],
)
def test_documented_errors_map_to_kinds(
    fixture: str, kind: str, permanent: bool, message: str
) -> None:
    routes = Recorded(
        [("POST", "/api/v1/statuses", [fixture]), ("GET", "/api/v1/statuses", [fixture])]
    )
    conn = make(routes)
    with pytest.raises(PlatformError) as exc:
        if fixture.startswith("statuses_get"):
            conn.get_post("404")
        else:
            conn.publish("x")
    assert (exc.value.kind, exc.value.permanent, exc.value.message) == (kind, permanent, message)


@time_machine.travel(datetime(2026, 11, 26, 23, 0, tzinfo=UTC), tick=False)
def test_429_is_rate_limited_until_the_reset_header() -> None:
    routes = Recorded([("GET", "/api/v1/notifications", ["rate_limited_429"])])
    conn = make(routes, max_wait_s=0)
    with pytest.raises(PlatformError) as exc:
        conn.mentions()
    assert exc.value.kind == "rate_limited" and not exc.value.permanent
    assert exc.value.retry_after_s == pytest.approx(300.123456)
    assert exc.value.http_status == 429 and exc.value.message == "Too many requests"


@time_machine.travel(datetime(2026, 11, 26, 23, 0, tzinfo=UTC), tick=False)
def test_remaining_zero_in_the_headers_stops_the_next_call_locally() -> None:
    routes = Recorded([("GET", "/api/v1/statuses/1", ["statuses_get_200_last_token"])])
    conn = make(routes, max_wait_s=0)
    conn.get_post("1")
    with pytest.raises(PlatformError) as exc:
        conn.get_post("1")
    assert exc.value.kind == "rate_limited" and exc.value.code == "local_bucket"
    assert exc.value.retry_after_s == pytest.approx(300, abs=1)
    assert len(routes.requests) == 1


def test_oauth_errors() -> None:
    routes = Recorded(
        [
            ("POST", "/oauth/token", ["oauth_token_401"]),
            ("POST", "/oauth/revoke", ["oauth_revoke_403"]),
        ]
    )
    conn = make(routes, access_token=None, uid=None)
    with pytest.raises(PlatformError) as exc:
        conn.exchange_code("CODE", "urn:ietf:wg:oauth:2.0:oob")
    assert exc.value.kind == "auth_invalid"
    assert exc.value.message.startswith("Client authentication failed")
    with pytest.raises(PlatformError) as exc2:
        make(routes).revoke()
    assert exc2.value.kind == "forbidden"


# --- reading ------------------------------------------------------------------------------------


def mention_routes() -> Recorded:
    return Recorded(
        [
            ("GET", "/api/v1/notifications?max_id=34974000", ["notifications_empty"]),
            ("GET", "/api/v1/notifications?max_id=34975535", ["notifications_mentions_page2"]),
            ("GET", "/api/v1/notifications", ["notifications_mentions_page1"]),
        ]
    )


def test_mentions_follow_link_headers_until_an_empty_page() -> None:
    routes = mention_routes()
    posts = make(routes).mentions()
    assert [p.id for p in posts] == [
        "103186126728896492",
        "103186046267791694",
        "103185460000000000",
    ]  # the direct one is a DM, not here
    assert [r.url.params.get("max_id") for r in routes.requests] == [None, "34975535", "34974000"]
    assert routes.requests[0].url.params.get_list("types[]") == ["mention"]
    first = posts[0]
    assert first.text == "@trwnh sup!" and first.kind == "comment"
    assert first.in_reply_to_id == "103186038209478945"
    assert first.author is not None and first.author.screen_name == "zsc"
    # invisible link parts are dropped, the visible part kept
    assert posts[1].text == "@trwnh have you seen example.com/a/very/lo?"
    assert posts[2].text == "@trwnh first\nsecond line"


def test_mentions_since_a_status_id_stop_at_the_first_page_with_nothing_newer() -> None:
    routes = mention_routes()
    posts = make(routes).mentions(since_id="103186046267791694")
    assert [p.id for p in posts] == ["103186126728896492"]
    assert len(routes.requests) == 2  # page 2 has nothing newer: stop there


def test_comments_to_me_are_mentions_replying_to_the_account() -> None:
    posts = make(mention_routes()).comments_to_me()
    assert [p.id for p in posts] == ["103186126728896492"]
    assert posts[0].kind == "comment"


def test_comments_on_a_status_come_from_its_context() -> None:
    routes = Recorded(
        [("GET", "/api/v1/statuses/103254962155278888/context", ["statuses_context_200"])]
    )
    posts = make(routes).comments_on("103254962155278888")
    assert [(p.id, p.in_reply_to_id, p.reply_to_comment_id) for p in posts] == [
        ("103254962155290002", "103254962155278888", "103254962155290001"),
        ("103254962155290001", "103254962155278888", None),
    ]
    assert make(routes).comments_on("103254962155278888", since_id="103254962155290001")[0].id == (
        "103254962155290002"
    )


def test_reposts_of_one_status_from_reblog_notifications() -> None:
    routes = Recorded([("GET", "/api/v1/notifications", ["notifications_reblogs"])])
    posts = make(routes).reposts_of("103186038209478945", max_pages=1)
    assert [(p.id, p.author.screen_name if p.author else "") for p in posts] == [
        ("34975900", "zsc"),
        ("34975870", "haskal@cybre.space"),
    ]
    assert all(p.kind == "repost" and p.in_reply_to_id == "103186038209478945" for p in posts)
    assert routes.requests[0].url.params.get_list("types[]") == ["reblog"]


def test_direct_messages_are_conversations_last_statuses() -> None:
    routes = Recorded(
        [
            (
                "GET",
                "/api/v1/conversations?limit=2&max_id=108835003356700379",
                ["notifications_empty"],
            ),
            ("GET", "/api/v1/conversations", ["conversations_200"]),
        ]
    )
    posts = make(routes).direct_messages()
    assert [(p.id, p.kind) for p in posts] == [
        ("103196583826321184", "dm"),
        ("103195253010396431", "dm"),
    ]
    assert posts[0].text == "@trwnh where is my order?"
    assert posts[0].author is not None and posts[0].author.id == "482403"
    assert make(routes).direct_messages(since_id="103195253010396431")[0].id == (
        "103196583826321184"
    )


def test_followers_page_with_the_link_cursor() -> None:
    routes = Recorded(
        [
            (
                "GET",
                "/api/v1/accounts/14715/followers?limit=80&max_id=7163058",
                ["accounts_followers_last"],
            ),
            ("GET", "/api/v1/accounts/14715/followers", ["accounts_followers_200"]),
        ]
    )
    conn = make(routes)
    users, cursor = conn.followers()
    assert [u.screen_name for u in users] == ["zsc", "haskal@cybre.space"] and cursor == "7163058"
    assert users[0].followers_count == 12 and users[0].verified_type is None
    users, cursor = conn.followers(cursor)
    assert [u.id for u in users] == ["482403"] and cursor is None


def test_own_timeline_and_get_post() -> None:
    routes = Recorded([("GET", "/api/v1/statuses/1", ["statuses_get_200"])])
    post = make(routes).get_post("1")
    assert post.text == "Hello world" and post.author is not None
    assert post.author.followers_count == 320472


def test_search_statuses_with_offset_paging() -> None:
    routes = Recorded([("GET", "/api/v2/search", ["search_v2_200", "search_v2_empty"])])
    posts = make(routes, page_size=2).search("test")
    assert [p.id for p in posts] == ["103254962155278888", "1"]
    assert [r.url.params["offset"] for r in routes.requests] == ["0", "2"]
    assert routes.requests[0].url.params["type"] == "statuses"
    since = datetime(2019, 1, 1, tzinfo=UTC)
    routes2 = Recorded([("GET", "/api/v2/search", ["search_v2_200", "search_v2_empty"])])
    assert [p.id for p in make(routes2, page_size=2).search("test", since=since)] == [
        "103254962155278888"
    ]


# --- OAuth --------------------------------------------------------------------------------------


def test_oauth_flow_authorize_token_verify_revoke() -> None:
    routes = Recorded(
        [
            ("POST", "/oauth/token", ["oauth_token_200"]),
            ("GET", "/api/v1/accounts/verify_credentials", ["accounts_verify_credentials_200"]),
            ("POST", "/oauth/revoke", ["oauth_revoke_200"]),
        ]
    )
    conn = make(routes, access_token=None, uid=None)
    url = httpx.URL(conn.authorize_url("https://g.example/cb", "st4te"))
    assert url.path == "/oauth/authorize"
    assert url.params["response_type"] == "code" and url.params["state"] == "st4te"
    assert "write:statuses" in url.params["scope"]
    grant = conn.exchange_code("CODE", "https://g.example/cb")
    assert (grant.access_token, grant.uid, grant.expires_in_s) == (TOKEN, "14715", None)
    token_form = dict(httpx.QueryParams(routes.requests[0].content.decode()))
    assert token_form["grant_type"] == "authorization_code" and token_form["code"] == "CODE"
    assert token_form["client_secret"] == "client-secret"
    assert routes.requests[1].headers["Authorization"] == f"Bearer {TOKEN}"
    info = conn.token_info()
    assert info.uid == "14715" and info.expires_in_s is None
    conn.revoke()
    revoke_form = dict(httpx.QueryParams(routes.requests[-1].content.decode()))
    assert revoke_form == {
        "client_id": "client-id",
        "client_secret": "client-secret",
        "token": TOKEN,
    }


def test_capabilities() -> None:
    caps = make(Recorded([])).capabilities
    assert caps.idempotent_writes and caps.max_text_units == 500
    assert not caps.comment_mentions and caps.direct_messages
    assert make(Recorded([]), max_characters=1000).capabilities.max_text_units == 1000


def test_html_to_text_keeps_line_breaks_and_paragraphs() -> None:
    assert html_to_text("<p>a &amp; b</p><p>c<br>d</p>") == "a & b\n\nc\nd"

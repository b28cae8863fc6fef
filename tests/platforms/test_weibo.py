"""The Weibo connector's edges, against Weibo-shaped answers from the fact sheet served through
httpx.MockTransport at the HTTP seam: error mapping, paging, ids, dates, signatures, retries."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from guanwei.platforms import PlatformError, RateLimiter, get_connector
from guanwei.platforms.http import Rate
from guanwei.platforms.weibo import (
    WeiboConnector,
    format_created_at,
    has_safe_domain_link,
    map_weibo_error,
    parse_created_at,
    parse_push_message,
    push_signature,
    verify_push_signature,
)
from tests.platforms.weibo_fake import (
    TOKEN,
    UID,
    FakeWeibo,
    error_body,
    form,
    json_response,
    status_obj,
    user_obj,
)

BASE = "https://api.weibo.com"


def make(transport: httpx.BaseTransport, **options: object) -> WeiboConnector:
    opts: dict[str, object] = {
        "access_token": TOKEN,
        "uid": UID,
        "limiter": RateLimiter(),
        "sleep": lambda s: None,
        "transport": transport,
    }
    opts.update(options)
    conn = get_connector(
        "weibo",
        base_url=BASE,
        app_key="1352222456",
        app_secret="SECRETxyz",
        **opts,  # type: ignore[arg-type]
    )
    assert isinstance(conn, WeiboConnector)
    return conn


def answer(status: int, body: object, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return json_response(status, body, headers)

    return httpx.MockTransport(handler), calls


# --- created_at ---------------------------------------------------------------------------------


def test_created_at_in_china_time_becomes_aware_utc() -> None:
    assert parse_created_at("Tue May 31 17:46:55 +0800 2011") == datetime(
        2011, 5, 31, 9, 46, 55, tzinfo=UTC
    )
    assert parse_created_at("Wed Oct 24 23:49:17 +0800 2012") == datetime(
        2012, 10, 24, 15, 49, 17, tzinfo=UTC
    )


def test_created_at_across_midnight_and_other_offsets() -> None:
    assert parse_created_at("Mon Jul 16 02:09:20 +0800 2012") == datetime(
        2012, 7, 15, 18, 9, 20, tzinfo=UTC
    )
    assert parse_created_at("Mon Jul 16 02:09:20 -0130 2012") == datetime(
        2012, 7, 16, 3, 39, 20, tzinfo=UTC
    )


def test_created_at_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_created_at("yesterday")
    with pytest.raises(ValueError):
        parse_created_at("Tue Foo 31 17:46:55 +0800 2011")


@given(st.datetimes(min_value=datetime(2009, 1, 1), max_value=datetime(2100, 1, 1)))
def test_created_at_round_trips(naive: datetime) -> None:
    when = naive.replace(microsecond=0, tzinfo=UTC)
    assert parse_created_at(format_created_at(when)) == when


def test_unparsable_created_at_in_an_answer_is_a_platform_error() -> None:
    bad = status_obj(3504803600502730)
    bad["created_at"] = "not a date"
    transport, _ = answer(200, bad)
    with pytest.raises(PlatformError) as exc:
        make(transport).get_post("3504803600502730")
    assert exc.value.kind == "unknown"


# --- ids ----------------------------------------------------------------------------------------


def test_ids_come_from_idstr_not_the_int_that_lost_precision() -> None:
    # The wiki's own statuses/share example (§0): id rounded, idstr exact.
    body = status_obj(3504803600502730)
    body["id"] = 3504803600500000
    transport, _ = answer(200, body)
    post = make(transport).get_post("3504803600502730")
    assert post.id == "3504803600502730"
    assert post.kind == "status"
    assert post.author is not None and post.author.id == "2489518277"
    assert post.author.region == "北京 朝阳区"
    assert post.created_at.tzinfo is not None


def test_comment_id_is_its_idstr_not_its_mid() -> None:
    # comments/create doc example: id 12438492184, mid "202110601896455629" (§2.4).
    comment = {
        "created_at": "Wed Jun 01 00:50:25 +0800 2011",
        "id": 12438492184,
        "idstr": "12438492184",
        "mid": "202110601896455629",
        "text": "我喜欢你做的微博，加油！",
        "user": user_obj(),
        "status": status_obj(3504803600502730),
        "reply_comment": {
            "id": 12438492100,
            "idstr": "12438492100",
            "text": "前一条",
            "created_at": "Wed Jun 01 00:40:25 +0800 2011",
        },
    }
    transport, _ = answer(200, comment)
    post = make(transport).reply("3504803600502730", "12438492100", "谢谢", rip="211.156.0.1")
    assert post.id == "12438492184"
    assert post.kind == "comment"
    assert post.in_reply_to_id == "3504803600502730"
    assert post.reply_to_comment_id == "12438492100"


def test_repost_points_at_the_original() -> None:
    body = status_obj(3504803600509999, "转发微博")
    body["retweeted_status"] = status_obj(3504803600502730)
    transport, calls = answer(200, body)
    post = make(transport).repost("3504803600502730", rip="211.156.0.1")
    assert post.kind == "repost" and post.in_reply_to_id == "3504803600502730"
    assert form(calls[0])["id"] == ["3504803600502730"]


# --- error mapping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "kind", "permanent"),
    [
        (401, 21327, "auth_expired", True),
        (401, "21327", "auth_expired", True),  # the doc sample quotes codes as strings (§4.2)
        (401, 21332, "auth_invalid", True),
        (401, 21301, "auth_invalid", True),
        (401, 21315, "auth_invalid", True),
        (403, 10022, "rate_limited", False),
        (403, 10023, "rate_limited", False),
        (403, "10024", "rate_limited", False),
        (400, 20016, "rate_limited", False),
        (400, 20017, "duplicate", True),
        (400, 20019, "duplicate", True),
        (400, 20111, "duplicate", True),
        (400, 20101, "not_found", True),
        (400, 20201, "not_found", True),
        (403, 10014, "forbidden", True),
        (403, 10005, "forbidden", True),
        (500, 10001, "unavailable", False),
        (503, 10002, "unavailable", False),
        (500, 10003, "unavailable", False),
        (500, 10009, "unavailable", False),
        (500, 10011, "unavailable", False),
        (400, 20012, "invalid", True),
        (400, 10017, "invalid", True),
        (400, 10016, "invalid", True),
        (200, 20032, "timeout", False),  # "Update success, server slow": reconcile, don't repost
    ],
)
def test_weibo_error_codes_map_to_kinds(
    status: int, code: object, kind: str, permanent: bool
) -> None:
    response = json_response(status, error_body(code, "msg", "/2/statuses/share.json"))  # type: ignore[arg-type]
    err = map_weibo_error(
        response, "2/statuses/share", lambda: datetime(2026, 1, 1, 10, 15, tzinfo=UTC)
    )
    assert err is not None
    assert (err.kind, err.permanent) == (kind, permanent)
    assert err.code == str(code)
    assert err.http_status == status
    assert err.endpoint == "2/statuses/share"


def test_rate_limit_waits_until_the_next_hour_boundary() -> None:
    response = json_response(403, error_body(10023, "User requests out of rate limit!", "/2/x"))
    err = map_weibo_error(response, "2/x", lambda: datetime(2026, 1, 1, 10, 59, 30, tzinfo=UTC))
    assert err is not None and err.retry_after_s == 30


def test_rate_limit_prefers_a_retry_after_header() -> None:
    response = json_response(
        403, error_body(10023, "out of rate limit", "/2/x"), {"Retry-After": "120"}
    )
    err = map_weibo_error(response, "2/x", lambda: datetime(2026, 1, 1, 10, 0, 1, tzinfo=UTC))
    assert err is not None and err.retry_after_s == 120


def test_server_error_without_json_is_unavailable() -> None:
    response = httpx.Response(502, content=b"<html>Bad Gateway</html>")
    err = map_weibo_error(response, "2/x")
    assert err is not None and err.kind == "unavailable" and not err.permanent


def test_error_body_with_http_200_is_still_an_error() -> None:
    response = json_response(200, error_body(21332, "invalid_access_token", "/2/x"))
    err = map_weibo_error(response, "2/x")
    assert err is not None and err.kind == "auth_invalid"


def test_success_is_not_an_error() -> None:
    assert map_weibo_error(json_response(200, status_obj(1)), "2/x") is None


def test_connector_raises_the_mapped_error_with_the_platform_message() -> None:
    transport, _ = answer(400, error_body(20019, "Repeat conetnt!", "/2/statuses/share.json"))
    with pytest.raises(PlatformError) as exc:
        make(transport).publish("同一句话 http://demo.example/x", rip="211.156.0.1")
    assert exc.value.kind == "duplicate" and exc.value.message == "Repeat conetnt!"
    assert "20019" in str(exc.value)


# --- requests the connector sends ---------------------------------------------------------------


def test_writes_carry_rip_and_the_oauth2_header_never_the_token_in_the_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if "comments" in request.url.path:
            body = {
                "created_at": "Wed Jun 01 00:50:25 +0800 2011",
                "id": 5,
                "idstr": "5",
                "text": "x",
                "user": user_obj(),
                "status": status_obj(3),
            }
            return json_response(200, body)
        return json_response(200, status_obj(3))

    conn = make(httpx.MockTransport(handler))
    conn.publish("hi http://demo.example/a", rip="211.156.0.1")
    conn.repost("3", "转发", rip="211.156.0.2")
    conn.comment("3", "评论", rip="211.156.0.3")
    conn.reply("3", "5", "回复", rip="211.156.0.4")
    assert [form(r)["rip"] for r in seen] == [
        ["211.156.0.1"],
        ["211.156.0.2"],
        ["211.156.0.3"],
        ["211.156.0.4"],
    ]
    for r in seen:
        assert r.headers["Authorization"] == f"OAuth2 {TOKEN}"
        assert TOKEN not in str(r.url)
    assert [r.url.path for r in seen] == [
        "/2/statuses/share.json",
        "/2/statuses/repost.json",
        "/2/comments/create.json",
        "/2/comments/reply.json",
    ]
    assert form(seen[3])["cid"] == ["5"] and form(seen[3])["id"] == ["3"]


def test_default_rip_is_used_when_the_caller_has_none() -> None:
    transport, calls = answer(200, status_obj(3))
    make(transport, default_rip="10.0.0.9").publish("x http://demo.example/a")
    assert form(calls[0])["rip"] == ["10.0.0.9"]


def test_publish_with_image_is_multipart_with_pic() -> None:
    transport, calls = answer(200, status_obj(3))
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    make(transport).publish(
        "图 http://demo.example/a", image=png, image_name="a.png", rip="1.1.1.1"
    )
    body = calls[0].content
    assert calls[0].headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="pic"; filename="a.png"' in body and b"image/png" in body
    assert b'name="rip"' in body


def test_exchange_code_sends_params_in_body_and_query_and_returns_the_grant() -> None:
    transport, calls = answer(
        200,
        {"access_token": "2.00NEW", "expires_in": 1234, "remind_in": "798114", "uid": "12341234"},
    )
    conn = make(transport, access_token=None, uid=None)
    grant = conn.exchange_code("CODE1", "https://guanwei.example/cb")
    assert (grant.access_token, grant.expires_in_s, grant.uid, grant.refresh_token) == (
        "2.00NEW",
        1234,
        "12341234",
        None,
    )
    req = calls[0]
    assert req.url.path == "/oauth2/access_token"
    assert req.url.params["client_secret"] == "SECRETxyz"
    assert form(req)["code"] == ["CODE1"] and form(req)["grant_type"] == ["authorization_code"]
    assert "Authorization" not in req.headers
    assert conn.uid == "12341234"


def test_token_info_reads_numbers_and_remaining_lifetime() -> None:
    transport, calls = answer(
        200,
        {
            "uid": 1073880650,
            "appkey": 1352222456,
            "scope": None,
            "create_at": 1352267591,
            "expire_in": 157679471,
        },
    )
    info = make(transport).token_info()
    assert (info.uid, info.app_key, info.expires_in_s) == ("1073880650", "1352222456", 157679471)
    assert info.created_at == datetime.fromtimestamp(1352267591, UTC)
    assert form(calls[0])["access_token"] == [TOKEN]


def test_revoke_accepts_the_string_true() -> None:
    transport, calls = answer(200, {"result": "true"})
    make(transport).revoke()
    assert calls[0].url.path == "/oauth2/revokeoauth2"


def test_authorize_url_has_weibo_params_and_mobile_uses_open_weibo_cn() -> None:
    transport, _ = answer(200, {})
    conn = make(transport, access_token=None)
    url = httpx.URL(conn.authorize_url("https://g.example/cb", "st4te", scope="all"))
    assert (url.host, url.path) == ("api.weibo.com", "/oauth2/authorize")
    assert dict(url.params) == {
        "client_id": "1352222456",
        "redirect_uri": "https://g.example/cb",
        "response_type": "code",
        "state": "st4te",
        "scope": "all",
    }
    mobile = httpx.URL(conn.authorize_url("https://g.example/cb", "s", display="mobile"))
    assert mobile.host == "open.weibo.cn" and mobile.params["display"] == "mobile"
    sandbox = get_connector(
        "sandbox", base_url="http://127.0.0.1:8000/sandbox", app_key="k", app_secret="s"
    )
    assert sandbox.authorize_url("http://x/cb", "s", display="mobile").startswith(
        "http://127.0.0.1:8000/sandbox/oauth2/authorize?"
    )


def test_send_dm_posts_url_encoded_json_to_the_messages_host() -> None:
    transport, calls = answer(200, {"result": True})
    conn = make(transport, messages_base_url="https://m.api.weibo.com")
    conn.send_dm("2489518277", "您好，已为您登记 100% 退款")
    req = calls[0]
    assert (req.url.host, req.url.path) == ("m.api.weibo.com", "/2/messages/reply.json")
    fields = form(req)
    assert fields["type"] == ["text"] and fields["receiver_id"] == ["2489518277"]
    assert fields["data"][0].startswith("%7B")  # still URL-encoded after form decoding
    assert json.loads(unquote(fields["data"][0])) == {"text": "您好，已为您登记 100% 退款"}


def test_search_needs_the_commercial_api_and_uses_its_host() -> None:
    transport, calls = answer(200, {"statuses": [], "total_number": 0})
    with pytest.raises(PlatformError) as exc:
        make(transport).search("蒙牛")
    assert exc.value.kind == "forbidden" and exc.value.code == "unsupported"
    assert calls == []
    conn = make(transport, commercial=True, commercial_base_url="https://c.api.weibo.com")
    assert conn.capabilities.search
    since = datetime(2026, 11, 1, tzinfo=UTC)
    assert conn.search("蒙牛", since=since) == []
    assert (calls[0].url.host, calls[0].url.path) == (
        "c.api.weibo.com",
        "/2/search/statuses/limited.json",
    )
    assert calls[0].url.params["q"] == "蒙牛"
    assert calls[0].url.params["starttime"] == str(int(since.timestamp()))


def test_followers_cursor_zero_means_the_end() -> None:
    transport, calls = answer(
        200,
        {
            "users": [user_obj("1"), user_obj("2")],
            "next_cursor": 0,
            "previous_cursor": 0,
            "total_number": 2,
        },
    )
    users, cursor = make(transport).followers()
    assert [u.id for u in users] == ["1", "2"] and cursor is None
    transport, calls = answer(
        200,
        {
            "users": [user_obj("1")],
            "next_cursor": 11488013766,
            "previous_cursor": 0,
            "total_number": 81655,
        },
    )
    users, cursor = make(transport).followers(count=1)
    assert cursor == "11488013766"


def test_no_token_is_refused_without_a_request() -> None:
    transport, calls = answer(200, status_obj(1))
    with pytest.raises(PlatformError) as exc:
        make(transport, access_token=None).publish("x", rip="1.1.1.1")
    assert exc.value.kind == "auth_invalid" and calls == []


# --- paging (§2.1: since_id exclusive, max_id inclusive) ---------------------------------------


def test_mentions_walk_pages_down_to_since_id_exclusive() -> None:
    fake = FakeWeibo(mention_ids=list(range(4000000000000001, 4000000000000121)))  # 120
    conn = make(fake.transport(), page_size=50)
    since = "4000000000000020"
    posts = conn.mentions(since_id=since)
    ids = [int(p.id) for p in posts]
    assert ids == list(range(4000000000000120, 4000000000000020, -1))  # 100, newest first
    # Each next page asks for max_id = oldest seen - 1, since max_id is inclusive.
    # The walk ends when the cursor reaches since_id: no third request for an empty page.
    max_ids = [r.url.params.get("max_id") for r in fake.requests]
    assert max_ids == [None, "4000000000000070"]
    assert all(r.url.params["since_id"] == since for r in fake.requests)


def test_mentions_drop_a_boundary_item_handed_back_twice() -> None:
    fake = FakeWeibo(mention_ids=list(range(1, 101)), repeats_boundary=True)
    posts = make(fake.transport(), page_size=30).mentions()
    ids = [int(p.id) for p in posts]
    assert ids == list(range(100, 0, -1))  # every item once
    assert len(ids) == len(set(ids))


def test_mentions_stop_on_an_empty_page() -> None:
    fake = FakeWeibo(mention_ids=list(range(1, 101)), empty_pages_after=1)
    posts = make(fake.transport(), page_size=30).mentions()
    assert [int(p.id) for p in posts] == list(range(100, 70, -1))
    assert len(fake.requests) == 2


def test_a_page_holding_the_whole_total_ends_the_walk_without_an_empty_page() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "max_id" not in request.url.params
        return json_response(200, {"statuses": [status_obj(i) for i in (9, 8)], "total_number": 2})

    transport = httpx.MockTransport(handler)
    assert [p.id for p in make(transport).mentions(since_id="7")] == ["9", "8"]


def test_mentions_with_nothing_new_cost_one_request() -> None:
    fake = FakeWeibo(mention_ids=[5, 6, 7])
    assert make(fake.transport()).mentions(since_id="7") == []
    assert len(fake.requests) == 1


def test_mentions_stop_after_max_pages() -> None:
    fake = FakeWeibo(mention_ids=list(range(1, 501)))
    posts = make(fake.transport(), page_size=20).mentions(max_pages=3)
    assert len(posts) == 60 and len(fake.requests) == 3
    assert posts[0].id == "500"


def test_a_server_ignoring_since_id_cannot_leak_old_items() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("max_id"):
            return json_response(200, {"statuses": []})
        return json_response(200, {"statuses": [status_obj(i) for i in (9, 8, 7, 6)]})

    posts = make(httpx.MockTransport(handler)).mentions(since_id="7")
    assert [p.id for p in posts] == ["9", "8"]


# --- the HTTP seam: timeouts, retries, buckets --------------------------------------------------


def test_write_timeout_is_maybe_delivered_and_never_retried() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(PlatformError) as exc:
        make(httpx.MockTransport(handler)).publish("x http://demo.example/a", rip="1.1.1.1")
    assert exc.value.kind == "timeout" and not exc.value.permanent
    assert len(calls) == 1


def test_dropped_connection_after_a_write_is_also_maybe_delivered() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    with pytest.raises(PlatformError) as exc:
        make(httpx.MockTransport(handler)).comment("1", "x", rip="1.1.1.1")
    assert exc.value.kind == "timeout" and len(calls) == 1


def test_read_timeouts_are_retried_then_reported() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(PlatformError) as exc:
        make(httpx.MockTransport(handler), retries=2).get_post("1")
    assert exc.value.kind == "timeout" and len(calls) == 3


def test_a_read_recovers_from_one_server_error() -> None:
    answers = [
        json_response(503, error_body(10002, "Service unavailable", "/2/statuses/show.json")),
        json_response(200, status_obj(1)),
    ]
    transport = httpx.MockTransport(lambda r: answers.pop(0))
    assert make(transport).get_post("1").id == "1"


def test_a_write_is_not_resent_after_a_server_error() -> None:
    transport, calls = answer(500, error_body(10001, "System error", "/2/statuses/share.json"))
    with pytest.raises(PlatformError) as exc:
        make(transport).publish("x http://demo.example/a", rip="1.1.1.1")
    assert exc.value.kind == "unavailable" and len(calls) == 1


def test_a_write_that_never_connected_is_resent() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return json_response(200, status_obj(1))

    assert make(httpx.MockTransport(handler)).publish("x", rip="1.1.1.1").id == "1"
    assert len(calls) == 2


def test_local_post_bucket_refuses_the_31st_post_without_sending_it() -> None:
    transport, calls = answer(200, status_obj(1))
    conn = make(transport, max_wait_s=0)
    for _ in range(30):
        conn.publish("x", rip="1.1.1.1")
    with pytest.raises(PlatformError) as exc:
        conn.publish("x", rip="1.1.1.1")
    assert exc.value.kind == "rate_limited" and exc.value.code == "local_bucket"
    assert exc.value.retry_after_s is not None and 0 < exc.value.retry_after_s <= 120
    assert len(calls) == 30
    conn.get_post("1")  # reads draw from the total bucket only (150/h): still fine


def test_buckets_are_per_account_and_shared_between_connectors() -> None:
    limiter = RateLimiter()
    rates = {"total": Rate(2, 3600)}
    transport, calls = answer(200, status_obj(1))
    a1 = make(transport, limiter=limiter, rates=rates, max_wait_s=0)
    a2 = make(transport, limiter=limiter, rates=rates, max_wait_s=0)
    b = make(transport, limiter=limiter, rates=rates, max_wait_s=0, uid="999")
    a1.get_post("1")
    a2.get_post("1")
    with pytest.raises(PlatformError):
        a1.get_post("1")
    b.get_post("1")
    assert len(calls) == 3


def test_a_platform_rate_limit_closes_the_bucket_until_the_hour_turns() -> None:
    transport, calls = answer(403, error_body(10023, "User requests out of rate limit!", "/2/x"))
    conn = make(transport, max_wait_s=0)
    with pytest.raises(PlatformError) as first:
        conn.get_post("1")
    assert first.value.kind == "rate_limited" and first.value.code == "10023"
    with pytest.raises(PlatformError) as second:
        conn.get_post("1")
    assert second.value.code == "local_bucket"
    assert len(calls) == 1


def test_rates_empty_turns_local_buckets_off() -> None:
    transport, calls = answer(200, status_obj(1))
    conn = make(transport, rates={})
    for _ in range(40):
        conn.publish("x", rip="1.1.1.1")
    assert len(calls) == 40


def test_no_secret_reaches_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    transport, _ = answer(200, {"access_token": "2.00NEWSECRETTOKEN", "expires_in": 1, "uid": "1"})
    conn = make(transport, access_token=None, uid=None)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpx").info(
            "HTTP Request: %s %s",
            "POST",
            httpx.URL(f"{BASE}/oauth2/access_token?client_secret=SECRETxyz&code=C"),
        )
        conn.exchange_code("CODE1", "https://g.example/cb")
        conn.get_post  # noqa: B018
    text = caplog.text
    assert "oauth2/access_token" in text
    for secret in ("SECRETxyz", "2.00NEWSECRETTOKEN", "CODE1", TOKEN):
        assert secret not in text


# --- capabilities, push, helpers ----------------------------------------------------------------


def test_capabilities_say_what_needs_a_manual_path() -> None:
    transport, _ = answer(200, {})
    caps = make(transport).capabilities
    assert not caps.search and not caps.idempotent_writes and caps.max_text_units == 140
    assert "安全域名" in caps.notes["needs_safe_domain_link"]
    assert "5" in caps.notes["own_timeline"]
    assert make(transport, commercial=True).capabilities.has("search")
    assert not make(transport, fans_service=False).capabilities.direct_messages


def test_unknown_kind_or_level_is_refused() -> None:
    with pytest.raises(ValueError):
        get_connector("twitter", base_url="x", app_key="k", app_secret="s")
    with pytest.raises(ValueError):
        get_connector("weibo", base_url="x", app_key="k", app_secret="s", level="gold")


def test_push_signature_matches_the_documented_example() -> None:
    assert push_signature("xyz123xyz", "1397022061823", "57155157") == (
        "90e4c22c90a58f26526c2dd5b6c56c8822edeaa1"
    )
    assert verify_push_signature(
        "xyz123xyz", "90e4c22c90a58f26526c2dd5b6c56c8822edeaa1", "1397022061823", "57155157"
    )
    assert verify_push_signature(
        "xyz123xyz", "90E4C22C90A58F26526C2DD5B6C56C8822EDEAA1", "1397022061823", "57155157"
    )


@pytest.mark.parametrize(
    ("secret", "signature", "timestamp", "nonce"),
    [
        ("xyz123xyz", "90e4c22c90a58f26526c2dd5b6c56c8822edeaa2", "1397022061823", "57155157"),
        ("xyz123xyZ", "90e4c22c90a58f26526c2dd5b6c56c8822edeaa1", "1397022061823", "57155157"),
        ("xyz123xyz", "90e4c22c90a58f26526c2dd5b6c56c8822edeaa1", "1397022061824", "57155157"),
        ("", "90e4c22c90a58f26526c2dd5b6c56c8822edeaa1", "1397022061823", "57155157"),
        ("xyz123xyz", "", "1397022061823", "57155157"),
    ],
)
def test_push_signature_rejects_any_change(
    secret: str, signature: str, timestamp: str, nonce: str
) -> None:
    assert not verify_push_signature(secret, signature, timestamp, nonce)


def test_push_text_message_becomes_a_dm_and_events_are_ignored() -> None:
    push = {
        "type": "text",
        "receiver_id": 1902538057,
        "sender_id": 2489518277,
        "created_at": "Mon Jul 16 18:09:20 +0800 2012",
        "text": "客服在吗",
        "data": {},
    }
    post = parse_push_message(push)
    assert post is not None and post.kind == "dm" and post.text == "客服在吗"
    assert post.author is not None and post.author.id == "2489518277"
    assert post.created_at == datetime(2012, 7, 16, 10, 9, 20, tzinfo=UTC)
    assert parse_push_message({**push, "type": "event", "data": {"subtype": "follow"}}) is None


def test_safe_domain_link_helper() -> None:
    assert has_safe_domain_link("新品 http://demo.guanwei.local/n8 看看", "demo.guanwei.local")
    assert has_safe_domain_link("https://shop.demo.guanwei.local/a", "demo.guanwei.local")
    assert not has_safe_domain_link("http://evil-demo.guanwei.local.cn/a", "demo.guanwei.local")
    assert not has_safe_domain_link("没有链接", "demo.guanwei.local")


def test_rate_limited_retry_after_is_relative_to_now() -> None:
    now = datetime(2026, 1, 1, 10, 0, 0, tzinfo=UTC)
    response = json_response(403, error_body(10022, "IP requests out of rate limit!", "/2/x"))
    err = map_weibo_error(response, "2/x", lambda: now)
    assert err is not None and err.retry_after_s == timedelta(hours=1).total_seconds()


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_page_after_a_write_means_maybe_delivered(status: int) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(status, content=b"<html>nginx</html>")

    with pytest.raises(PlatformError) as exc:
        make(httpx.MockTransport(handler)).publish("x http://demo.example/a", rip="1.1.1.1")
    assert exc.value.kind == "timeout" and exc.value.http_status == status
    assert len(calls) == 1


def test_a_gateway_page_on_a_read_is_unavailable_and_retried() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(502, content=b"<html>nginx</html>")

    with pytest.raises(PlatformError) as exc:
        make(httpx.MockTransport(handler), retries=1).get_post("1")
    assert exc.value.kind == "unavailable" and len(calls) == 2


def test_weibos_own_503_json_after_a_write_is_unavailable_not_maybe_delivered() -> None:
    transport, calls = answer(
        503, error_body(10002, "Service unavailable", "/2/statuses/share.json")
    )
    with pytest.raises(PlatformError) as exc:
        make(transport).publish("x", rip="1.1.1.1")
    assert exc.value.kind == "unavailable" and len(calls) == 1


@settings(max_examples=60, deadline=None)
@given(
    ids=st.sets(st.integers(min_value=1, max_value=10**16), max_size=120),
    page_size=st.integers(min_value=1, max_value=60),
    repeats_boundary=st.booleans(),
    since_index=st.integers(min_value=-1, max_value=130),
)
def test_paging_returns_exactly_the_newer_items_once(
    ids: set[int], page_size: int, repeats_boundary: bool, since_index: int
) -> None:
    # A server that repeats the boundary item fills a one-item page with it forever; from two
    # items per page on the cursor always moves.
    assume(page_size >= 2 or not repeats_boundary)
    ordered = sorted(ids, reverse=True)
    since = ordered[since_index] if 0 <= since_index < len(ordered) else None
    fake = FakeWeibo(mention_ids=ordered, repeats_boundary=repeats_boundary)
    posts = make(fake.transport(), page_size=page_size).mentions(
        since_id=str(since) if since is not None else None, max_pages=1000
    )
    expected = [i for i in ordered if since is None or i > since]
    assert [int(p.id) for p in posts] == expected
    # A server repeating the boundary item brings one item fewer that is new on each next page.
    assert len(fake.requests) <= len(expected) // (page_size - repeats_boundary) + 2


def test_both_connectors_satisfy_the_protocol() -> None:
    from guanwei.platforms import Connector

    weibo = get_connector("sandbox", base_url="http://x/sandbox", app_key="k", app_secret="s")
    mastodon = get_connector("mastodon", base_url="https://m.example", app_key="k", app_secret="s")
    assert isinstance(weibo, Connector) and isinstance(mastodon, Connector)
    assert (weibo.kind, mastodon.kind) == ("sandbox", "mastodon")


def test_platform_error_survives_pickling_and_reads_as_plain_data() -> None:
    import pickle

    err = PlatformError(
        "rate_limited",
        "slow down",
        code="10023",
        http_status=403,
        endpoint="2/statuses/share",
        retry_after_s=12.5,
    )
    back = pickle.loads(pickle.dumps(err))
    assert (
        back.as_dict()
        == err.as_dict()
        == {
            "kind": "rate_limited",
            "message": "slow down",
            "code": "10023",
            "http_status": 403,
            "endpoint": "2/statuses/share",
            "retry_after_s": 12.5,
            "permanent": False,
        }
    )
    assert str(back) == str(err)


def test_a_posting_limit_closes_posting_but_not_reading() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("share.json"):
            return json_response(
                403,
                error_body(
                    10024,
                    "User requests for (update_status) out of rate limit!",
                    "/2/statuses/share.json",
                ),
            )
        return json_response(200, status_obj(1))

    calls: list[str] = []
    transport = httpx.MockTransport(lambda r: (calls.append(r.url.path), handler(r))[1])
    conn = make(transport, max_wait_s=0)
    with pytest.raises(PlatformError):
        conn.publish("x", rip="1.1.1.1")
    with pytest.raises(PlatformError) as exc:
        conn.publish("y", rip="1.1.1.1")
    assert exc.value.code == "local_bucket"
    assert conn.get_post("1").id == "1"
    assert calls == ["/2/statuses/share.json", "/2/statuses/show.json"]


def test_two_messages_in_one_second_are_two_items_and_a_retry_is_the_same() -> None:
    push = {"type": "text", "receiver_id": 1, "sender_id": 2, "created_at": "Mon Jul 16 18:09:20 +0800 2012",
            "text": "在吗", "data": {}}  # fmt: skip
    first, retry = parse_push_message(push), parse_push_message(dict(push))
    second = parse_push_message({**push, "text": "订单号 123"})
    assert first is not None and retry is not None and second is not None
    assert first.id == retry.id != second.id and first.id.startswith("2:1342433360:")

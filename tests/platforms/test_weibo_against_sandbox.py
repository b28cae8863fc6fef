"""The Weibo connector against the built-in sandbox over real HTTP (pytest-django live_server):
the same class that talks to api.weibo.com, pointed at /sandbox/ with a sandbox app's
credentials. The sandbox is arranged through its own seeding functions (guanwei.sandbox.world,
.store, .faults); the connector only ever speaks HTTP."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from guanwei.platforms import PlatformError, RateLimiter, WeiboConnector, get_connector
from guanwei.platforms.weibo import verify_push_signature

try:  # the sandbox is built alongside; skip (with the reason) if it is not importable yet
    from guanwei.sandbox import faults, store
    from guanwei.sandbox import world as sandbox_world

    SANDBOX_ERROR = ""
except ImportError as exc:  # pragma: no cover - only while the sandbox is being written
    SANDBOX_ERROR = f"guanwei.sandbox not ready: {exc}"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(bool(SANDBOX_ERROR), reason=SANDBOX_ERROR or "sandbox ready"),
]

SAFE_DOMAIN = "demo.guanwei.local"
LINK = f"http://{SAFE_DOMAIN}/n8"
RIP = "211.156.0.1"
READ_TIMEOUT_S = 15.0  # ordinary calls: generous, the machine is shared
SHORT_TIMEOUT_S = 1.0  # connectors facing a hanging fault
HANG_S = 2.0  # how long an injected fault hangs: longer than SHORT_TIMEOUT_S


class CountingTransport(httpx.HTTPTransport):
    """Real HTTP, counting requests per path (to see pages and retries)."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return super().handle_request(request)


@dataclass
class World:
    base_url: str
    app: Any
    official: Any
    fan: Any
    official_token: Any
    fan_token: Any

    def connector(
        self, token: str | None = None, uid: Any = None, **options: Any
    ) -> WeiboConnector:
        opts: dict[str, Any] = {
            "limiter": RateLimiter(),
            "timeout_s": READ_TIMEOUT_S,
            "connect_timeout_s": 2.0,
            "backoff_s": 0.05,
            "commercial": True,
        }
        opts.update(options)
        conn = get_connector(
            "sandbox",
            base_url=self.base_url,
            app_key=self.app.app_key,
            app_secret=self.app.app_secret,
            access_token=self.official_token.token if token is None else token,
            uid=str(self.official.pk if uid is None else uid),
            **opts,
        )
        assert isinstance(conn, WeiboConnector)
        return conn

    def as_official(self, **options: Any) -> WeiboConnector:
        return self.connector(**options)

    def as_fan(self, **options: Any) -> WeiboConnector:
        return self.connector(self.fan_token.token, self.fan.pk, **options)


@pytest.fixture
def world(live_server: Any) -> World:
    # Weibo's normal limits ({}), not the unlimited test tier: the rate-limit tests need them.
    app, official, official_token = sandbox_world.make_app_and_user(
        screen_name="示例乳业官方微博",
        limits={},
        is_commercial=True,
        redirect_uris="https://guanwei.example/matrix/callback",
        location="北京 朝阳区",
        gender="n",
    )
    fan = store.create_user("小明爱喝奶", gender="m", location="上海 浦东新区", province="31")
    return World(
        base_url=f"{live_server.url}/sandbox",
        app=app,
        official=official,
        fan=fan,
        official_token=official_token,
        fan_token=store.issue_token(app, fan),
    )


def wait_for_hung_request() -> None:
    """An injected hang keeps its server thread busy after the client gave up; let it finish
    before the test goes on (this is waiting, not a timed assertion)."""
    time.sleep(HANG_S + 0.3)


# --- publishing ---------------------------------------------------------------------------------


def test_publish_returns_the_status_and_own_timeline_shows_it(world: World) -> None:
    conn = world.as_official()
    before = datetime.now(UTC) - timedelta(seconds=5)
    post = conn.publish(f"新品上市，欢迎品尝 {LINK}", rip=RIP)
    assert post.id.isdigit() and len(post.id) >= 16
    assert post.kind == "status" and post.text == f"新品上市，欢迎品尝 {LINK}"
    assert post.author is not None and post.author.id == str(world.official.pk)
    assert post.author.verified_type == 2
    assert before <= post.created_at <= datetime.now(UTC) + timedelta(seconds=5)
    assert post.raw["idstr"] == post.id
    timeline = conn.own_timeline()
    assert [p.id for p in timeline] == [post.id]
    assert conn.get_post(post.id).text == post.text
    assert conn.own_timeline(since_id=post.id) == []


def test_publish_with_a_picture(world: World) -> None:
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
        b"\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x9a\xa0\xa0"
        b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    post = world.as_official().publish(f"看图 {LINK}", image=png, image_name="p.png", rip=RIP)
    assert post.raw.get("original_pic") or post.raw.get("pic_urls")


def test_the_same_text_twice_is_refused_as_duplicate(world: World) -> None:
    conn = world.as_official()
    conn.publish(f"同一句话 {LINK}", rip=RIP)
    with pytest.raises(PlatformError) as exc:
        conn.publish(f"同一句话 {LINK}", rip=RIP)
    assert exc.value.kind == "duplicate" and exc.value.permanent
    assert exc.value.code in ("20017", "20019", "20111")


def test_text_over_140_is_refused(world: World) -> None:
    with pytest.raises(PlatformError) as exc:
        world.as_official().publish("长" * 141 + f" {LINK}", rip=RIP)
    assert (exc.value.kind, exc.value.code, exc.value.permanent) == ("invalid", "20012", True)


def test_text_without_a_safe_domain_link_is_refused(world: World) -> None:
    conn = world.as_official()
    assert "needs_safe_domain_link" in conn.capabilities.notes
    for text in ("没有链接的微博", "别的网站 http://example.com/x"):
        with pytest.raises(PlatformError) as exc:
            conn.publish(text, rip=RIP)
        assert (exc.value.kind, exc.value.code) == ("invalid", "10017")
    assert conn.own_timeline() == []


def test_delete_removes_the_status(world: World) -> None:
    conn = world.as_official()
    post = conn.publish(f"马上删除 {LINK}", rip=RIP)
    conn.delete(post.id)
    with pytest.raises(PlatformError) as exc:
        conn.get_post(post.id)
    assert exc.value.kind == "not_found" and exc.value.code == "20101"


# --- comments, replies, reposts, mentions -------------------------------------------------------


def test_comment_and_reply_round_trip(world: World) -> None:
    official, fan = world.as_official(), world.as_fan()
    post = official.publish(f"新品发布 {LINK}", rip=RIP)
    question = fan.comment(post.id, "请问哪里能买到？", rip="180.1.1.1")
    assert question.kind == "comment" and question.in_reply_to_id == post.id
    inbox = official.comments_to_me()
    assert [c.id for c in inbox] == [question.id]
    assert inbox[0].author is not None and inbox[0].author.screen_name == "小明爱喝奶"
    answer = official.reply(post.id, question.id, "天猫旗舰店有售", rip=RIP)
    assert answer.reply_to_comment_id == question.id and answer.in_reply_to_id == post.id
    assert answer.text == "回复@小明爱喝奶:天猫旗舰店有售"
    on_post = official.comments_on(post.id)
    assert [c.id for c in on_post] == [answer.id, question.id]
    assert official.comments_on(post.id, since_id=question.id)[0].id == answer.id
    official.delete_comment(answer.id)
    assert [c.id for c in official.comments_on(post.id)] == [question.id]
    with pytest.raises(PlatformError) as exc:
        official.delete_comment(question.id)  # not the official's own comment
    assert exc.value.kind == "forbidden" and exc.value.code == "20203"


def test_reposts_of_a_status(world: World) -> None:
    official, fan = world.as_official(), world.as_fan()
    post = official.publish(f"转发抽奖 {LINK}", rip=RIP)
    shared = fan.repost(post.id, "转发支持", rip="180.1.1.1")
    assert shared.kind == "repost" and shared.in_reply_to_id == post.id
    assert [p.id for p in official.reposts_of(post.id)] == [shared.id]


def test_mentions_walk_every_page_once_newest_first(world: World) -> None:
    rows = [
        {"user": world.fan, "text": f"@{world.official.screen_name} 第{i}个问题"} for i in range(73)
    ]
    made = store.bulk_create_statuses(rows)
    expected = sorted((str(s.pk) for s in made), key=int, reverse=True)
    transport = CountingTransport()
    conn = world.as_official(page_size=20, transport=transport)
    got = conn.mentions()
    assert [p.id for p in got] == expected
    # 4 pages of up to 20; the last one holds all of its total_number, so no 5th, empty page
    assert transport.paths.count("/sandbox/2/statuses/mentions.json") == 4
    newer = conn.mentions(since_id=expected[10])
    assert [p.id for p in newer] == expected[:10]
    assert conn.mentions(since_id=expected[0]) == []


def test_mentions_in_comments_and_the_boundary_item(world: World) -> None:
    post = world.as_official().publish(f"活动 {LINK}", rip=RIP)
    fan = world.as_fan()
    ids = [fan.comment(post.id, f"@{world.official.screen_name} 评论{i}").id for i in range(5)]
    got = world.as_official(page_size=2).comment_mentions()
    assert [c.id for c in got] == sorted(ids, key=int, reverse=True)


# --- people -------------------------------------------------------------------------------------


def test_user_show_and_followers_with_cursor(world: World) -> None:
    fans = store.bulk_create_users([{"screen_name": f"粉丝{i}", "gender": "f"} for i in range(5)])
    store.bulk_follow([(f, world.official) for f in [*fans, world.fan]])
    conn = world.as_official()
    user = conn.user_show(str(world.fan.pk))
    assert (user.id, user.screen_name, user.gender) == (str(world.fan.pk), "小明爱喝奶", "m")
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        users, cursor = conn.followers(cursor, count=4)
        seen.extend(u.id for u in users)
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(u.pk) for u in [*fans, world.fan])


# --- direct messages and search -----------------------------------------------------------------


def test_send_dm_inside_the_48h_window_and_refused_outside(world: World) -> None:
    conn = world.as_official()
    with pytest.raises(PlatformError) as exc:
        conn.send_dm(str(world.fan.pk), "您好")
    assert exc.value.kind == "forbidden"
    store.send_dm(world.fan, world.official, "客服在吗？我的订单没到")
    conn.send_dm(str(world.fan.pk), "您好，已为您查询：订单 100% 今天送达")


def test_the_sandboxs_push_signature_verifies(world: World) -> None:
    from guanwei.sandbox import fanservice

    params = fanservice.signed_params(world.app.app_secret)
    assert verify_push_signature(
        world.app.app_secret, params["signature"], params["timestamp"], params["nonce"]
    )
    assert not verify_push_signature(
        "other-secret", params["signature"], params["timestamp"], params["nonce"]
    )


def test_keyword_search_for_commercial_apps_only(world: World) -> None:
    store.bulk_create_statuses(
        [
            {"user": world.fan, "text": "示例乳业的新品酸奶真好喝"},
            {"user": world.fan, "text": "天气不错"},
        ]
    )
    hits = world.as_official().search("新品 酸奶", since=datetime.now(UTC) - timedelta(hours=1))
    assert [p.text for p in hits] == ["示例乳业的新品酸奶真好喝"]
    store.update_app(world.app, is_commercial=False)
    with pytest.raises(PlatformError) as exc:
        world.as_official().search("新品")
    assert (exc.value.kind, exc.value.code) == ("forbidden", "10014")


# --- OAuth2 and tokens --------------------------------------------------------------------------


def test_code_exchange_token_info_and_revoke(world: World) -> None:
    redirect = "https://guanwei.example/matrix/callback"
    _, code = store.create_auth_code(world.app, world.official, redirect)
    conn = world.connector(token="", uid="")
    url = httpx.URL(conn.authorize_url(redirect, "csrf-state"))
    assert url.path == "/sandbox/oauth2/authorize" and url.params["client_id"] == world.app.app_key
    grant = conn.exchange_code(code, redirect)
    assert grant.uid == str(world.official.pk) and grant.access_token.startswith("2.00")
    assert grant.expires_in_s is not None and grant.expires_in_s > 0
    assert grant.refresh_token is None  # web apps get none (§1.5)
    with pytest.raises(PlatformError) as reused:
        world.connector(token="", uid="").exchange_code(code, redirect)
    assert reused.value.kind == "invalid" and reused.value.code == "21325"
    info = conn.token_info()
    assert (info.uid, info.app_key) == (str(world.official.pk), world.app.app_key)
    assert info.expires_in_s is not None and 0 < info.expires_in_s <= grant.expires_in_s
    conn.publish(f"授权后发布 {LINK}", rip=RIP)
    conn.revoke()
    with pytest.raises(PlatformError) as exc:
        conn.own_timeline()
    assert exc.value.kind == "auth_invalid" and exc.value.permanent


def test_expired_token_is_auth_expired(world: World) -> None:
    conn = world.as_official()
    assert (conn.token_info().expires_in_s or 0) > 0
    store.expire_token(world.official_token)
    with pytest.raises(PlatformError) as exc:
        conn.publish(f"过期 {LINK}", rip=RIP)
    assert (exc.value.kind, exc.value.code, exc.value.permanent) == ("auth_expired", "21327", True)
    remaining = conn.token_info().expires_in_s  # get_token_info still answers: negative = expired
    assert remaining is not None and remaining < 0


def test_unknown_token_is_auth_invalid(world: World) -> None:
    with pytest.raises(PlatformError) as exc:
        world.connector(token="2.00" + "0" * 28).own_timeline()
    assert (exc.value.kind, exc.value.code, exc.value.permanent) == ("auth_invalid", "21332", True)


def test_platform_rate_limit_on_posting(world: World) -> None:
    store.update_app(world.app, limits={"posts_hourly": 2})
    conn = world.as_official()
    conn.publish(f"第一条 {LINK}", rip=RIP)
    conn.publish(f"第二条不同 {LINK}", rip=RIP)
    with pytest.raises(PlatformError) as exc:
        conn.publish(f"第三条又不同 {LINK}", rip=RIP)
    assert exc.value.kind == "rate_limited" and not exc.value.permanent
    assert exc.value.code == "10024"
    assert exc.value.retry_after_s is not None and 0 < exc.value.retry_after_s <= 3600
    # the connector now holds back locally instead of hammering the platform
    with pytest.raises(PlatformError) as again:
        conn.publish(f"第四条 {LINK}", rip=RIP)
    assert again.value.code == "local_bucket"
    assert [p.text for p in conn.own_timeline()][:1] == [f"第二条不同 {LINK}"]  # reads go on


# --- injected faults ----------------------------------------------------------------------------


def test_fault_500_on_a_write_is_unavailable_and_nothing_was_posted(world: World) -> None:
    faults.add_fault("http_5xx", "statuses/share", app=world.app, http_status=500, times=1)
    conn = world.as_official()
    with pytest.raises(PlatformError) as exc:
        conn.publish(f"五百 {LINK}", rip=RIP)
    assert (exc.value.kind, exc.value.code, exc.value.permanent) == ("unavailable", "10001", False)
    assert conn.own_timeline() == []
    assert conn.publish(f"五百 {LINK}", rip=RIP).kind == "status"  # the fault was for one call


def test_fault_503_on_a_read_is_retried_transparently(world: World) -> None:
    faults.add_fault("http_5xx", "statuses/mentions", app=world.app, http_status=503, times=1)
    transport = CountingTransport()
    assert world.as_official(transport=transport).mentions() == []
    assert transport.paths.count("/sandbox/2/statuses/mentions.json") == 2


def test_fault_502_gateway_after_a_write_is_reconciled_by_reading_the_timeline(
    world: World,
) -> None:
    faults.add_fault("http_5xx", "statuses/share", app=world.app, http_status=502, times=1)
    conn = world.as_official()
    with pytest.raises(PlatformError) as exc:
        conn.publish(f"网关 {LINK}", rip=RIP)
    assert exc.value.kind == "timeout"  # a gateway page: maybe delivered
    assert conn.own_timeline() == []  # reconciliation: it was not


def test_fault_timeout_on_a_write_is_maybe_delivered(world: World) -> None:
    faults.add_fault("timeout", "statuses/share", app=world.app, delay_s=HANG_S, times=1)
    conn = world.as_official()
    with pytest.raises(PlatformError) as exc:
        world.as_official(timeout_s=SHORT_TIMEOUT_S).publish(f"超时 {LINK}", rip=RIP)
    assert exc.value.kind == "timeout" and not exc.value.permanent
    wait_for_hung_request()
    assert conn.own_timeline() == []  # this fault does nothing: reconciliation finds no post


def test_fault_timeout_on_a_read_is_retried(world: World) -> None:
    faults.add_fault("timeout", "statuses/user_timeline", app=world.app, delay_s=HANG_S, times=1)
    transport = CountingTransport()
    conn = world.as_official(transport=transport, timeout_s=SHORT_TIMEOUT_S)
    assert conn.own_timeline() == []
    assert transport.paths.count("/sandbox/2/statuses/user_timeline.json") >= 2
    wait_for_hung_request()


@pytest.mark.parametrize("code", [10023, 10024, 10022])
def test_fault_rate_limit(world: World, code: int) -> None:
    faults.add_fault("rate_limit", "comments/create", app=world.app, error_code=code, times=1)
    post = world.as_official().publish(f"限流 {LINK}", rip=RIP)
    with pytest.raises(PlatformError) as exc:
        world.as_fan().comment(post.id, "评论", rip="180.1.1.1")
    assert (exc.value.kind, exc.value.code, exc.value.permanent) == (
        "rate_limited",
        str(code),
        False,
    )
    assert exc.value.retry_after_s is not None and 0 < exc.value.retry_after_s <= 3600


def test_fault_expired_token(world: World) -> None:
    faults.add_fault("expired_token", "*", app=world.app, times=1)
    with pytest.raises(PlatformError) as exc:
        world.as_official().own_timeline()
    assert (exc.value.kind, exc.value.code, exc.value.permanent) == ("auth_expired", "21327", True)


@pytest.mark.parametrize("delay_s", [HANG_S, 0.0])
def test_lost_response_is_a_timeout_and_the_post_exists(world: World, delay_s: float) -> None:
    """Accepted but the answer lost (hung past the timeout, or a 502 at once): the connector
    says "maybe delivered" and does not resend; reading own_timeline finds the post."""
    faults.add_fault("response_lost", "statuses/share", app=world.app, delay_s=delay_s, times=1)
    transport = CountingTransport()
    hasty = world.as_official(transport=transport, timeout_s=SHORT_TIMEOUT_S)
    conn = world.as_official()
    text = f"响应丢失 {LINK}"
    with pytest.raises(PlatformError) as exc:
        hasty.publish(text, rip=RIP)
    assert exc.value.kind == "timeout" and not exc.value.permanent
    assert transport.paths.count("/sandbox/2/statuses/share.json") == 1  # never resent
    if delay_s:
        wait_for_hung_request()
    found = [p for p in conn.own_timeline() if p.text == text]
    assert len(found) == 1
    # and a blind retry would have been refused as a duplicate
    with pytest.raises(PlatformError) as dup:
        conn.publish(text, rip=RIP)
    assert dup.value.kind == "duplicate"

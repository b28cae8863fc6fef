"""Fans service (§6): echostr handshake, signed pushes with retries, passive replies, and the
messages/reply windows (48 h; one reply after an @-mention; none after unfollowing)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import time_machine

from guanwei.core.clock import now
from guanwei.platforms.weibo import verify_push_signature
from guanwei.sandbox import fanservice, store
from guanwei.sandbox.models import FanService, Message, Push, PushState
from guanwei.sandbox.world import make_app_and_user
from tests.sandbox.api_helpers import assert_error, call

pytestmark = pytest.mark.django_db


class Receiver:
    """A fans-service callback (what guanwei's inbox runs), on a local port."""

    def __init__(self) -> None:
        self.secret = ""
        self.posts: list[dict] = []
        self.answer_status = 200
        self.answer_body = b""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _query(self):
                return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

            def do_GET(self):
                q = self._query()
                ok = verify_push_signature(
                    receiver.secret,
                    q.get("signature", ""),
                    q.get("timestamp", ""),
                    q.get("nonce", ""),
                )
                body = q.get("echostr", "").encode() if ok else b"bad signature"
                self.send_response(200)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                q = self._query()
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}")
                signed = verify_push_signature(
                    receiver.secret,
                    q.get("signature", ""),
                    q.get("timestamp", ""),
                    q.get("nonce", ""),
                )
                receiver.posts.append({"payload": payload, "signed": signed})
                self.send_response(receiver.answer_status)
                self.end_headers()
                self.wfile.write(receiver.answer_body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/inbox/weibo"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    r = Receiver()
    # The test receiver listens on loopback, which the outbound policy refuses unless allowed
    # (as an operator would for a receiver on their own network).
    settings.OUTBOUND_ALLOW = [urlsplit(r.url).hostname]
    yield r
    r.close()


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default", "sandbox"],
        }
    }


@pytest.fixture
def account(receiver, immediate_tasks):
    app, user, token = make_app_and_user(screen_name="示例乳业客服")
    receiver.secret = app.app_secret
    fs = store.configure_fan_service(user, app, receiver.url)
    assert fanservice.verify_callback(fs)
    return app, user, token


def test_signature_matches_the_documented_example():
    assert fanservice.signature("xyz123xyz", "1397022061823", "57155157") == (
        "90e4c22c90a58f26526c2dd5b6c56c8822edeaa1"
    )


def test_handshake_needs_the_echostr_back(receiver):
    app, user, _ = make_app_and_user()
    receiver.secret = "wrong secret"
    fs = store.configure_fan_service(user, app, receiver.url)
    assert fanservice.verify_callback(fs) is False
    fs.refresh_from_db()
    assert fs.is_verified is False
    receiver.secret = app.app_secret
    assert fanservice.verify_callback(fs) is True
    fs.refresh_from_db()
    assert fs.is_verified is True


def test_dm_is_pushed_signed_after_commit(account, receiver, django_capture_on_commit_callbacks):
    app, official, _ = account
    fan = store.create_user("提问的网友")
    with django_capture_on_commit_callbacks(execute=True):
        m = store.send_dm(fan, official, "请问保质期多久？")
    assert len(receiver.posts) == 1
    push = receiver.posts[0]
    assert push["signed"] is True
    p = push["payload"]
    assert p["type"] == "text" and p["text"] == "请问保质期多久？"
    assert p["sender_id"] == fan.pk and p["receiver_id"] == official.pk
    assert p["created_at"].endswith("+0800 " + str(m.created_at.year))
    assert Push.objects.get().state == PushState.DELIVERED


def test_follow_and_mention_events_are_pushed(
    account, receiver, django_capture_on_commit_callbacks
):
    app, official, _ = account
    fan = store.create_user("新粉丝")
    with django_capture_on_commit_callbacks(execute=True):
        store.follow(fan, official)
    with django_capture_on_commit_callbacks(execute=True):
        s = store.post_status(fan, f"@{official.screen_name} 我的奶有点酸")
    kinds = [(p["payload"]["type"], p["payload"]["data"].get("subtype")) for p in receiver.posts]
    assert kinds == [("event", "follow"), ("mention", "status")]
    assert receiver.posts[1]["payload"]["data"]["id"] == str(s.pk)


def test_a_failing_callback_is_tried_three_times(
    account, receiver, django_capture_on_commit_callbacks
):
    app, official, _ = account
    receiver.answer_status = 500
    with django_capture_on_commit_callbacks(execute=True):
        store.send_dm(store.create_user("网友"), official, "在吗")
    assert len(receiver.posts) == 3
    push = Push.objects.get()
    assert push.state == PushState.FAILED and push.attempts == 3 and push.last_error == "HTTP 500"


def test_unreachable_callback_fails_after_three_tries(
    immediate_tasks, django_capture_on_commit_callbacks
):
    app, official, _ = make_app_and_user()
    store.configure_fan_service(official, app, "http://127.0.0.1:9/nothing-listens", verified=True)
    with django_capture_on_commit_callbacks(execute=True):
        store.send_dm(store.create_user("网友乙"), official, "hello")
    push = Push.objects.get()
    assert push.state == PushState.FAILED and push.attempts == 3


def test_unverified_callbacks_get_no_pushes(
    receiver, immediate_tasks, django_capture_on_commit_callbacks
):
    app, official, _ = make_app_and_user()
    store.configure_fan_service(official, app, receiver.url)  # not verified
    with django_capture_on_commit_callbacks(execute=True):
        store.send_dm(store.create_user("网友丙"), official, "hello")
    assert receiver.posts == [] and Push.objects.count() == 0


def test_passive_reply_in_the_response_is_a_message(
    account, receiver, django_capture_on_commit_callbacks
):
    app, official, _ = account
    fan = store.create_user("要优惠券的网友")
    receiver.answer_body = json.dumps(
        {
            "result": True,
            "sender_id": official.pk,
            "receiver_id": fan.pk,
            "type": "text",
            "data": quote(json.dumps({"text": "您好，优惠券已发送"}, ensure_ascii=False)),
        }
    ).encode()
    with django_capture_on_commit_callbacks(execute=True):
        store.send_dm(fan, official, "有优惠券吗")
    reply = Message.objects.get(sender=official, receiver=fan)
    assert reply.text == "您好，优惠券已发送" and reply.app == app


# --- messages/reply -----------------------------------------------------------------------------


def reply(client, token, receiver, text="您好", **params):
    data = quote(json.dumps({"text": text}, ensure_ascii=False))
    return call(
        client,
        "POST",
        "messages/reply",
        token,
        type="text",
        data=data,
        receiver_id=receiver.pk,
        save_sender_box=1,
        **params,
    )


def test_after_a_dm_replies_are_unlimited_for_48_hours(client):
    _, official, token = make_app_and_user()
    fan = store.create_user("私信网友")
    store.send_dm(fan, official, "你好")
    r = reply(client, token, fan)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["result"] is True and body["receiver_id"] == fan.pk and len(body["idstr"]) == 16
    assert reply(client, token, fan, "第二条").status_code == 200
    with time_machine.travel(now() + timedelta(hours=49), tick=False):
        assert_error(reply(client, token, fan, "太晚了"), 20302)


def test_after_a_mention_exactly_one_reply(client):
    _, official, token = make_app_and_user()
    fan = store.create_user("提到官微的人")
    store.configure_fan_service(official, official.tokens.first().app, "http://127.0.0.1:9/x")
    store.post_status(fan, f"@{official.screen_name} 你好")
    assert reply(client, token, fan).status_code == 200
    assert_error(reply(client, token, fan, "再回一条"), 20302)


def test_after_unfollow_no_replies(client):
    _, official, token = make_app_and_user()
    fan = store.create_user("取关的人")
    store.follow(fan, official)
    assert reply(client, token, fan).status_code == 200
    store.unfollow(fan, official)
    assert_error(reply(client, token, fan), 20301)


def test_no_message_no_reply(client):
    _, _, token = make_app_and_user()
    assert_error(reply(client, token, store.create_user("陌生人")), 20302)


def test_reply_validates_its_data(client):
    _, official, token = make_app_and_user()
    fan = store.create_user("校验")
    store.send_dm(fan, official, "hi")
    assert_error(reply(client, token, fan, "长" * 301), 20013)
    assert_error(
        call(
            client,
            "POST",
            "messages/reply",
            token,
            type="text",
            data="%7Bnot json",
            receiver_id=fan.pk,
        ),
        10017,
    )
    assert_error(
        call(client, "POST", "messages/reply", token, type="video", data="{}", receiver_id=fan.pk),
        10017,
    )
    assert_error(reply(client, token, type("U", (), {"pk": 1234567})()), 20003)
    assert_error(
        call(client, "POST", "messages/reply", token, type="text", receiver_id=fan.pk), 10016
    )


# --- the developer-mode page --------------------------------------------------------------------


def test_operator_enables_developer_mode_on_the_page(operator_client, receiver):
    app, official, _ = make_app_and_user(screen_name="页面配置的官微")
    receiver.secret = app.app_secret
    web = operator_client
    r = web.post(
        "/sandbox/fans/",
        {
            "account": official.pk,
            "app": app.pk,
            "callback_url": receiver.url,
            "push_mentions": "on",
        },
    )
    assert r.status_code == 200 and "验证通过" in r.content.decode()
    assert official.fan_service.is_verified is True
    receiver.secret = "someone else's secret"
    r = web.post(
        "/sandbox/fans/", {"account": official.pk, "app": app.pk, "callback_url": receiver.url}
    )
    assert r.status_code == 400
    official.fan_service.refresh_from_db()
    assert official.fan_service.is_verified is False


@pytest.mark.parametrize("debug", [True, False])
def test_fans_page_is_the_server_operators_alone_in_every_mode(
    client, client_for, operator_client, settings, debug
):
    """Anonymously (DEBUG on, the development default) one could point the parent account's
    callback anywhere and read its customers' messages; a tenant's admin could do it to another
    tenant's accounts. Only the operator may."""
    settings.DEBUG = debug
    app, official, _ = make_app_and_user(screen_name="别人的官微")
    hijack = {"account": official.pk, "app": app.pk, "callback_url": "https://evil.example/cb"}
    anonymous = client.post("/sandbox/fans/", hijack)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    for who in ("alice", "bob", "frank", "heidi", "mallory"):
        assert client_for(who).get("/sandbox/fans/").status_code == 403
        assert client_for(who).post("/sandbox/fans/", hijack).status_code == 403
    assert not FanService.objects.filter(user=official).exists()
    page = operator_client.get("/sandbox/fans/")
    assert page.status_code == 200
    assert 'name="callback_url"' in page.content.decode()  # the form's fields are on the page


def test_bulk_dms_open_reply_windows_and_push_only_when_asked(
    account, receiver, django_capture_on_commit_callbacks, client
):
    app, official, token = account
    fans = store.bulk_create_users([{"screen_name": f"批量私信{i}"} for i in range(3)])
    with django_capture_on_commit_callbacks(execute=True):
        quiet = store.bulk_send_dms(
            [{"sender": f, "receiver": official, "text": "在吗"} for f in fans]
        )
    assert len(quiet) == 3 and receiver.posts == []
    assert reply(client, token, fans[0]).status_code == 200  # the window is open anyway
    with django_capture_on_commit_callbacks(execute=True):
        store.bulk_send_dms(
            [{"sender": fans[1].pk, "receiver": official.pk, "text": "急"}], notify=True
        )
    assert [p["payload"]["text"] for p in receiver.posts] == ["急"]


def test_a_callback_on_an_internal_address_is_never_called(operator_client, immediate_tasks):
    """A callback set to http://127.0.0.1:6379/ made the server send a request to Redis."""
    import socket

    app, official, _ = make_app_and_user(screen_name="内网回调的官微")
    with socket.socket() as listener:  # a "Redis" that records whether anyone connected
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        fs = store.configure_fan_service(official, app, f"http://127.0.0.1:{port}/")
        assert fanservice.verify_callback(fs) is False
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody came

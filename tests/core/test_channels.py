"""Outbound channels (core.channels): the exact bytes and signature each kind sends, checked
against a local receiver; retries with backoff; giving up with a notice; secrets encrypted; the
page and its test message."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest
import time_machine
from django.core import mail
from django.db import connection

from guanwei.core import channels, clock
from guanwei.core.channels import Message
from guanwei.core.models import AuditEntry, Channel, Delivery, Notification
from guanwei.web.notices import open_for


class Receiver:
    """A robot / webhook endpoint on 127.0.0.1 that records each request and answers as told."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.body = b'{"errcode":0,"errmsg":"ok"}'
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # type: ignore[no-untyped-def]
                pass

            def do_POST(self):  # type: ignore[no-untyped-def]
                length = int(self.headers.get("Content-Length") or 0)
                receiver.requests.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                     "body": self.rfile.read(length)}
                )  # fmt: skip
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(receiver.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    r = Receiver()
    settings.OUTBOUND_ALLOW = ["127.0.0.1"]  # as an operator would for a receiver on their network
    yield r
    r.close()


FROZEN = "2026-12-05T08:00:00+00:00"
MESSAGE = Message(title="舆情告警", text="负面 12 条", url="https://gw.example.com/m/1", level="error")


def _channel(personas, kind: str, url: str, secret: str = "", **kw) -> Channel:  # type: ignore[no-untyped-def]
    return Channel.objects.create(enterprise=personas.enterprise, name=f"{kind}-robot", kind=kind,
                                  url=url, secret=secret, **kw)  # fmt: skip


def _send_one(personas, channel: Channel, event: str = "monitor.alert") -> Delivery:  # type: ignore[no-untyped-def]
    (delivery,) = channels.send(personas.enterprise, event, MESSAGE, channels=[channel])
    return delivery


@time_machine.travel(FROZEN, tick=False)
def test_webhook_is_signed_by_the_standard_webhooks_convention(personas, receiver):
    from standardwebhooks.webhooks import Webhook

    secret = channels.new_webhook_secret()
    channel = _channel(personas, "webhook", receiver.base + "/hook", secret)
    delivery = _send_one(personas, channel)
    assert channels.attempt(delivery.pk) == "delivered"
    (req,) = receiver.requests
    assert req["body"] == (
        '{"type":"monitor.alert","timestamp":"2026-12-05T08:00:00+00:00","data":{"title":"舆情告警",'
        '"text":"负面 12 条","url":"https://gw.example.com/m/1","level":"error"}}'
    ).encode()
    headers = req["headers"]
    assert headers["webhook-id"] == delivery.msg_id and headers["webhook-timestamp"] == "1796457600"
    expected = base64.b64encode(hmac.new(
        base64.b64decode(secret.removeprefix("whsec_")),
        f"{delivery.msg_id}.1796457600.".encode() + req["body"], hashlib.sha256,
    ).digest()).decode()  # fmt: skip
    assert headers["webhook-signature"] == f"v1,{expected}"
    # and the reference implementation agrees
    assert Webhook(secret).verify(req["body"], headers)["type"] == "monitor.alert"


@time_machine.travel(FROZEN, tick=False)
def test_dingtalk_robot_gets_markdown_and_the_signature_on_the_url(personas, receiver):
    secret = "SEC0123456789abcdef"
    channel = _channel(personas, "dingtalk", receiver.base + "/robot/send?access_token=TOKEN", secret)
    assert channels.attempt(_send_one(personas, channel).pk) == "delivered"
    (req,) = receiver.requests
    query = parse_qs(urlsplit(req["path"]).query)
    assert query["access_token"] == ["TOKEN"] and query["timestamp"] == ["1796457600000"]
    digest = hmac.new(secret.encode(), f"1796457600000\n{secret}".encode(), hashlib.sha256).digest()
    # the URL carries quote_plus(base64): parse_qs undoes the quoting once
    assert quote_plus(query["sign"][0]) == quote_plus(base64.b64encode(digest).decode())
    assert json.loads(req["body"]) == {
        "msgtype": "markdown",
        "markdown": {"title": "舆情告警",
                     "text": "#### 舆情告警\n\n负面 12 条\n\n[查看详情](https://gw.example.com/m/1)"},
    }  # fmt: skip


def test_wecom_robot_gets_markdown_and_its_error_code_counts_as_failure(personas, receiver):
    channel = _channel(personas, "wecom", receiver.base + "/cgi-bin/webhook/send?key=KEY")
    receiver.body = b'{"errcode":45009,"errmsg":"api freq out of limit"}'
    delivery = _send_one(personas, channel)
    assert channels.attempt(delivery.pk) == "pending"
    (req,) = receiver.requests
    assert json.loads(req["body"]) == {
        "msgtype": "markdown",
        "markdown": {"content": "**舆情告警**\n负面 12 条\n[查看详情](https://gw.example.com/m/1)"},
    }
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_code) == (1, 200)
    assert delivery.outcome == "45009 api freq out of limit"
    # a throttled robot is left alone for 10 minutes, not the first backoff's 30 s
    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(seconds=600)


@time_machine.travel(FROZEN, tick=False)
def test_feishu_bot_gets_the_signature_in_the_body(personas, receiver):
    secret = "feishu-secret"
    channel = _channel(personas, "feishu", receiver.base + "/open-apis/bot/v2/hook/uuid", secret)
    receiver.body = b'{"code":0,"msg":"success"}'
    assert channels.attempt(_send_one(personas, channel).pk) == "delivered"
    body = json.loads(receiver.requests[0]["body"])
    sign = base64.b64encode(hmac.new(f"1796457600\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
    assert body == {"timestamp": "1796457600", "sign": sign, "msg_type": "text",
                    "content": {"text": "舆情告警\n负面 12 条\nhttps://gw.example.com/m/1"}}  # fmt: skip


def test_email_goes_through_djangos_mail_backend(personas, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    channel = _channel(personas, "email", "pr@example.com, ceo@example.com")
    assert channels.attempt(_send_one(personas, channel).pk) == "delivered"
    (sent,) = mail.outbox
    assert sent.subject == "[guanwei] 舆情告警" and sent.to == ["pr@example.com", "ceo@example.com"]
    assert sent.body == "负面 12 条\n\nhttps://gw.example.com/m/1"


def test_the_bell_is_a_channel_and_a_member_can_be_told_personally(personas):
    bell = _channel(personas, "bell", "", bell_action="account.manage")
    channels.attempt(_send_one(personas, bell).pk)
    assert [n.title for n in open_for(personas.bob)] == ["舆情告警"]  # admins may manage accounts
    assert list(open_for(personas.heidi)) == []
    channels.send(personas.enterprise, "export.done", Message(title="导出完成"), member=personas.heidi)
    assert [n.title for n in open_for(personas.heidi)] == ["导出完成"]
    assert "导出完成" not in [n.title for n in open_for(personas.bob)]


def test_a_failing_receiver_is_retried_with_backoff_under_the_same_id(personas, receiver):
    channel = _channel(personas, "webhook", receiver.base + "/hook", channels.new_webhook_secret())
    delivery = _send_one(personas, channel)
    receiver.status, receiver.body = 503, b"{}"
    start = clock.now()
    with time_machine.travel(start, tick=False) as traveller:
        assert channels.attempt(delivery.pk) == "pending"
        assert channels.attempt(delivery.pk) == "skipped"  # not due yet
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == start + timedelta(seconds=30)
        traveller.shift(31)
        receiver.status = 200
        assert channels.retry_due() == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert ids == {delivery.msg_id}  # a receiver de-duplicates a resend by its id


def test_after_the_last_attempt_the_delivery_fails_and_admins_are_told(personas, receiver):
    channel = _channel(personas, "webhook", receiver.base + "/hook", channels.new_webhook_secret())
    delivery = _send_one(personas, channel)
    receiver.status, receiver.body = 500, b"{}"
    now = clock.now()
    with time_machine.travel(now, tick=False) as traveller:
        for _ in range(channels.MAX_ATTEMPTS):
            channels.retry_due()
            traveller.shift(3 * 3600)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.response_code) == ("failed", 6, 500)
    notice = Notification.objects.get(condition_key=f"channel:{channel.pk}:failing")
    assert notice.action == "channel.manage" and notice.url == f"/settings/channels/{channel.pk}/"
    assert channels.retry_due() == 0


def test_an_unreachable_address_is_an_outcome_without_the_url(personas, settings):
    settings.OUTBOUND_ALLOW = ["127.0.0.1"]
    channel = _channel(personas, "wecom", "http://127.0.0.1:9/cgi-bin/webhook/send?key=SECRETKEY")
    delivery = _send_one(personas, channel)
    assert channels.attempt(delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert "SECRETKEY" not in delivery.outcome and "ConnectError" in delivery.outcome


def test_channels_subscribe_to_events_or_areas(personas):
    everything = _channel(personas, "bell", "")
    alerts = Channel.objects.create(enterprise=personas.enterprise, name="alerts", kind="bell", events=["monitor"])
    exports_only = Channel.objects.create(enterprise=personas.enterprise, name="exports", kind="bell", events=["export.done"])
    Channel.objects.create(enterprise=personas.enterprise, name="off", kind="bell", is_active=False)
    assert channels.subscribed(personas.enterprise, "monitor.alert") == [everything, alerts]
    assert channels.subscribed(personas.enterprise, "export.done") == [everything, exports_only]
    assert channels.subscribed(personas.outsider_enterprise, "monitor.alert") == []


def test_secrets_and_robot_urls_are_encrypted_at_rest(personas):
    _channel(personas, "dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=TOPSECRET", "SECabc")
    with connection.cursor() as cursor:
        cursor.execute("SELECT url, secret FROM core_channel")
        url, secret = cursor.fetchone()
    assert "TOPSECRET" not in url and "SECabc" not in secret


def test_admin_adds_a_webhook_sees_its_secret_once_and_sends_a_test(personas, client_for, receiver, django_capture_on_commit_callbacks):
    client = client_for("bob")
    response = client.post("/settings/channels/", {
        "name": "运维 webhook", "kind": "webhook", "url": receiver.base + "/hook", "events": "",
        "bell_action": "channel.manage", "is_active": "on",
    })  # fmt: skip
    assert response.status_code == 200
    channel = Channel.objects.get(name="运维 webhook")
    assert channel.secret.startswith("whsec_") and channel.secret in response.content.decode()
    page = client.get(f"/settings/channels/{channel.pk}/").content.decode()
    assert channel.secret not in page and "/hook" not in page and "127.0.0.1" in page
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"/settings/channels/{channel.pk}/test")
    assert response.status_code == 302
    delivery = Delivery.objects.get(channel=channel, event="channel.test")
    assert channels.attempt(delivery.pk) == "delivered"
    assert "channel.test" in receiver.requests[0]["body"].decode()
    page = client.get(f"/settings/channels/{channel.pk}/").content.decode()
    assert "已送达" in page and "channel.test" in page
    entries = AuditEntry.objects.filter(object_type="core.channel", object_id=str(channel.pk))
    assert sorted(entries.values_list("action", flat=True)) == ["channel.created", "channel.tested"]
    assert all(channel.secret not in json.dumps(e.detail) for e in entries)


@pytest.mark.parametrize(
    ("kind", "url", "secret", "field", "message"),
    [
        ("dingtalk", "http://10.0.0.5/robot", "", "url", "公网"),
        ("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=x", "nope", "secret", "SEC"),
        ("email", "not-an-address", "", "url", "不是有效的邮件地址"),
        ("wecom", "", "", "url", "请填写地址"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(personas, client_for, kind, url, secret, field, message):
    response = client_for("bob").post("/settings/channels/", {
        "name": "x", "kind": kind, "url": url, "secret": secret, "events": "", "bell_action": "channel.manage",
    })  # fmt: skip
    assert response.status_code == 422
    assert message in " ".join(response.context["form"].errors[field])
    assert not Channel.objects.exists()


@pytest.mark.parametrize(("who", "status"), [("carol", 403), ("mallory", 404)])
def test_only_the_enterprises_admins_reach_a_channel(personas, client_for, who, status):
    channel = _channel(personas, "bell", "")
    assert client_for(who).get(f"/settings/channels/{channel.pk}/").status_code == status
    assert client_for(who).post(f"/settings/channels/{channel.pk}/test").status_code == status
    assert not Delivery.objects.exists()


def test_an_accounts_trouble_reaches_the_channels_once_per_incident(personas):
    from guanwei.matrix.health import set_health
    from guanwei.matrix.models import Health

    robot = _channel(personas, "wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K", events=["account"])
    account = personas.accounts["service"]
    assert set_health(account, Health.TOKEN_EXPIRED, "21327 expired_token")
    assert not set_health(account, Health.TOKEN_EXPIRED, "again")
    (delivery,) = Delivery.objects.filter(channel=robot)
    assert delivery.event == "account.health" and delivery.payload["data"]["health"] == "token_expired"
    assert delivery.payload["url"].endswith(f"/matrix/accounts/{account.pk}/")


def test_the_api_lists_channels_and_sends_a_test(personas, receiver):
    from django.test import Client

    from guanwei.core.actions import do_create_api_token

    token = do_create_api_token(personas.bob, "ops-script").token
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    channel = _channel(personas, "webhook", receiver.base + "/hook?secret-in-url=1", channels.new_webhook_secret())
    listed = api.get("/api/v1/channels").json()
    assert listed["count"] == 1 and listed["items"][0]["address"] == "http://127.0.0.1/…"
    assert "secret" not in json.dumps(listed)
    response = api.post(f"/api/v1/channels/{channel.pk}/test")
    assert response.status_code == 202 and response.json()["state"] == "pending"
    delivery_id = response.json()["id"]
    channels.attempt(delivery_id)
    followed = api.get(f"/api/v1/channels/{channel.pk}/deliveries/{delivery_id}").json()
    assert followed["state"] == "delivered" and followed["response_code"] == 200
    outsider = Client(HTTP_AUTHORIZATION=f"Bearer {do_create_api_token(personas.mallory, 'x').token}")
    assert outsider.post(f"/api/v1/channels/{channel.pk}/test").status_code == 404
    editor = Client(HTTP_AUTHORIZATION=f"Bearer {do_create_api_token(personas.carol, 'x').token}")
    assert editor.get("/api/v1/channels").status_code == 403

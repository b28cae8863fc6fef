"""The fans-service receiver (listening.pushes): the echostr handshake, the signature, store
first and answer at once, then a DM Mention — once, however often Weibo retries."""

from __future__ import annotations

import json

import pytest

from guanwei.listening import pushes
from guanwei.listening.models import Mention, Push
from guanwei.platforms.weibo import push_signature

SECRET = "demo-app-secret"


@pytest.fixture
def connection(personas):  # type: ignore[no-untyped-def]
    c = personas.connection
    c.app_secret = SECRET
    c.save()
    return c


def _signed(extra: str = "") -> str:
    return f"signature={push_signature(SECRET, '1764900000', 'n0nce')}&timestamp=1764900000&nonce=n0nce{extra}"


def _push(client, connection, body: dict, query: str | None = None):  # type: ignore[no-untyped-def]
    return client.post(f"/listening/push/{connection.pk}/?{query or _signed()}",
                       data=json.dumps(body, ensure_ascii=False), content_type="application/json")  # fmt: skip


MESSAGE = {
    "type": "text", "receiver_id": None, "sender_id": "998877", "text": "订单 12345 还没发货，怎么回事？",
    "created_at": "Sat Dec 05 12:00:00 +0800 2026",
}  # fmt: skip


def test_the_handshake_answers_echostr_only_when_signed(client, connection):
    assert client.get(f"/listening/push/{connection.pk}/?{_signed('&echostr=hello')}").content == b"hello"
    bad = client.get(f"/listening/push/{connection.pk}/?signature=x&timestamp=1&nonce=2&echostr=hello")
    assert bad.status_code == 403 and b"hello" not in bad.content
    assert client.get(f"/listening/push/999999/?{_signed()}").status_code == 404


def test_a_message_is_stored_first_then_becomes_a_dm_mention_once(client, personas, connection, django_capture_on_commit_callbacks):
    account = personas.accounts["service"]
    body = {**MESSAGE, "receiver_id": account.platform_uid}
    with django_capture_on_commit_callbacks() as callbacks:
        response = _push(client, connection, body)
    assert response.status_code == 200 and response.content == b""
    assert len(callbacks) == 1  # processing is handed to the worker
    assert Push.objects.get().processed_at is None and not Mention.objects.exists()
    assert pushes.process() == 1
    mention = Mention.objects.get()
    assert (mention.kind, mention.source, mention.account_id) == ("dm", "push", account.pk)
    assert mention.author.remote_id == "998877" and "12345" in mention.text
    _push(client, connection, body)  # Weibo retries a push it thought lost
    pushes.process()
    assert Mention.objects.count() == 1 and Push.objects.latest("pk").outcome == "duplicate"


def test_events_are_kept_and_ignored_and_bad_bodies_refused(client, personas, connection):
    _push(client, connection, {"type": "event", "receiver_id": "1", "sender_id": "2", "data": {"subtype": "follow"}})
    pushes.process()
    assert Push.objects.get().outcome == "event (ignored)" and not Mention.objects.exists()
    unsigned = client.post(f"/listening/push/{connection.pk}/", data="{}", content_type="application/json")
    assert unsigned.status_code == 403
    for body in (b"not json", b"[1,2]", b"\xff\xfe"):
        response = client.post(f"/listening/push/{connection.pk}/?{_signed()}", data=body, content_type="application/json")
        assert response.status_code == 400
    big = client.post(f"/listening/push/{connection.pk}/?{_signed()}", data=b"{" + b" " * 70_000 + b"}",
                      content_type="application/json")  # fmt: skip
    assert big.status_code == 413
    assert Push.objects.count() == 1


def test_the_listening_page_tells_admins_where_pushes_go(personas, client_for, connection):
    html = client_for("bob").get("/listening/").content.decode()
    assert f"/listening/push/{connection.pk}/" in html
    assert f"/listening/push/{connection.pk}/" not in client_for("carol").get("/listening/").content.decode()


def test_hostile_receiver_addresses_are_404_not_500(client, db):
    for raw in ("99999999999999999999999999", "0"):
        assert client.get(f"/listening/push/{raw}/?{_signed('&echostr=x')}").status_code == 404
        assert client.post(f"/listening/push/{raw}/", data="{}", content_type="application/json").status_code == 404


def test_the_callback_section_is_in_the_page_not_in_its_title(personas, client_for, connection):
    html = client_for("bob").get("/listening/").content.decode()
    title = html[html.index("<title>"):html.index("</title>")]
    assert "/listening/push/" not in title and "<section" not in title

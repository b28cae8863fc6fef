"""粉丝服务平台 — the fans-service side of the sandbox: the echostr handshake, signed pushes of
DMs/events/@-mentions to an account's callback URL, passive replies, and the messages/reply
windows (PLATFORM_APIS §6).

Pushes are delivered by a django-tasks task (queue `sandbox`) so writers never wait on the
callback: Weibo waits 5 s per try and tries 3 times in total; an empty body stops retries, a
JSON body with `"result": true` is a passive reply. The sandbox is the platform here, so it calls
the callback with httpx directly (it is not a guanwei connector and does not use platforms.http).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import httpx
from django_tasks import task

from guanwei.core.clock import now

from . import store
from .models import FanService, Message, MessageType, Push, PushState, SandboxUser
from .serializers import weibo_time

log = logging.getLogger(__name__)

PUSH_TIMEOUT_S = 5.0
PUSH_TRIES = 3
REPLY_WINDOW = timedelta(hours=48)
# Messages from a user that open an unlimited 48 h window (§6): a DM, follow/subscribe, a menu
# click or a QR scan. An @-mention opens a window for exactly one reply.
OPENING_EVENTS = {"follow", "subscribe", "scan", "scan_follow", "click", "view"}
CLOSING_EVENTS = {"unfollow", "unsubscribe"}


def signature(app_secret: str, timestamp: str, nonce: str) -> str:
    """sha1 of the lexicographically sorted [app_secret, timestamp, nonce], hex."""
    return hashlib.sha1("".join(sorted([app_secret, timestamp, nonce])).encode()).hexdigest()


def signed_params(app_secret: str) -> dict[str, str]:
    timestamp = str(int(now().timestamp() * 1000))
    nonce = str(secrets.randbelow(10**8))
    return {
        "signature": signature(app_secret, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
    }


def _client(timeout_s: float) -> httpx.Client:
    """Pushes go out through guanwei's outbound policy like every other request: a callback
    pointed at an internal address (`http://127.0.0.1:6379/`) is never called."""
    from guanwei.core import outbound

    return httpx.Client(transport=outbound.transport(), timeout=timeout_s, trust_env=False)


def verify_callback(fs: FanService, *, timeout_s: float = PUSH_TIMEOUT_S) -> bool:
    """The URL validation Weibo does when developer mode is enabled: GET with signature,
    timestamp, nonce and echostr; the callback must answer the raw echostr."""
    echostr = secrets.token_hex(8)
    params = {**signed_params(fs.app.app_secret), "echostr": echostr}
    try:
        with _client(timeout_s) as client:
            response = client.get(fs.callback_url, params=params)
    except httpx.HTTPError as exc:
        log.info("sandbox.fans verify failed user=%s error=%s", fs.user_id, exc.__class__.__name__)
        return False
    ok = response.status_code == 200 and response.text.strip() == echostr
    if ok:
        store.mark_fan_service_verified(fs)
        fs.is_verified = True
    log.info("sandbox.fans verify user=%s ok=%s", fs.user_id, ok)
    return ok


def push_payload(m: Message) -> dict[str, Any]:
    """The JSON Weibo posts for one message or event."""
    data: dict[str, Any] = dict(m.data)
    if m.type == MessageType.EVENT:
        data.setdefault("subtype", m.subtype)
    return {
        "type": m.type,
        "receiver_id": m.receiver_id,
        "sender_id": m.sender_id,
        "created_at": weibo_time(m.created_at),
        "text": m.text,
        "data": data,
    }


def _passive_reply(push: Push, body: str) -> None:
    """A JSON answer `{"result": true, "type": …, "data": "<url-encoded json>"}` is a reply."""
    try:
        reply = json.loads(body)
    except ValueError:
        return
    if not isinstance(reply, dict) or reply.get("result") not in (True, "true"):
        return
    raw = reply.get("data") or "{}"
    try:
        data = json.loads(unquote(raw)) if isinstance(raw, str) else dict(raw)
    except (ValueError, TypeError):
        return
    m = push.message
    store.create_reply_message(
        m.receiver, m.sender, str(reply.get("type") or "text"), data, app=push.fan_service.app
    )


def deliver(push: Push, *, timeout_s: float = PUSH_TIMEOUT_S, tries: int = PUSH_TRIES) -> bool:
    """Post one push, signed, up to `tries` times; True when the callback answered 2xx."""
    fs = push.fan_service
    payload = push_payload(push.message)
    error = ""
    for attempt in range(1, tries + 1):
        try:
            with _client(timeout_s) as client:
                response = client.post(
                    fs.callback_url, params=signed_params(fs.app.app_secret), json=payload
                )
        except httpx.HTTPError as exc:
            error = f"{exc.__class__.__name__}: {exc}"
            continue
        if 200 <= response.status_code < 300:
            store.finish_push(push, delivered=True, attempts=attempt)
            if response.content.strip():
                _passive_reply(push, response.text)
            log.info("sandbox.fans push=%s delivered attempt=%s", push.pk, attempt)
            return True
        error = f"HTTP {response.status_code}"
    store.finish_push(push, delivered=False, attempts=tries, error=error)
    log.warning("sandbox.fans push=%s failed error=%s", push.pk, error)
    return False


@task(queue_name="sandbox")
def deliver_pushes(push_ids: list[int]) -> int:
    """Background entry point: deliver the given pending pushes; returns how many arrived."""
    pushes = Push.objects.filter(pk__in=push_ids, state=PushState.PENDING).select_related(
        "message__sender", "message__receiver", "fan_service__app"
    )
    return sum(deliver(p) for p in pushes)


def reply_window(account: SandboxUser, user: SandboxUser) -> tuple[bool, str]:
    """May `account` reply to `user` now (messages/reply)? (allowed, reason when not)."""
    since = now() - REPLY_WINDOW
    incoming = list(
        Message.objects.filter(sender=user, receiver=account, created_at__gte=since)
        .exclude(type=MessageType.ARTICLES)
        .order_by("-id")
        .values("id", "type", "subtype", "created_at")
    )
    last_unfollow = (
        Message.objects.filter(
            sender=user, receiver=account, type=MessageType.EVENT, subtype__in=CLOSING_EVENTS
        )
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    for m in incoming:
        if last_unfollow and m["id"] < last_unfollow:
            return False, "user unfollowed"
        if m["type"] == MessageType.EVENT:
            if m["subtype"] in CLOSING_EVENTS:
                return False, "user unfollowed"
            if m["subtype"] in OPENING_EVENTS:
                return True, ""
            continue
        if m["type"] == MessageType.MENTION:
            replied = Message.objects.filter(sender=account, receiver=user, id__gt=m["id"]).exists()
            if replied:
                continue
            return True, ""
        return True, ""  # text, image, voice, position
    if last_unfollow:
        return False, "user unfollowed"
    return False, "no message from this user in the last 48 hours"

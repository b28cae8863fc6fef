"""Outbound channels: the one way guanwei sends a message out — webhooks, e-mail, the DingTalk,
WeCom and Feishu robots, and the in-app bell.

    channels.send(enterprise, "account.health", Message(title=…, text=…, url=…, level="error"))
    channels.send(enterprise, "export.done", message, member=author)   # "tell the author"

`send` writes one Delivery per active channel subscribed to the event (and, with `member`, a
personal notice in that member's bell) in the caller's transaction, and hands each delivery to the
worker after commit (`core.deliver`). The worker claims it with a conditional update, renders the
kind's exact payload (`render`), signs it, sends it through the outbound policy, and records the
attempt: delivered; or tried again with backoff (BACKOFF_S) until MAX_ATTEMPTS, then failed with
a notice to the enterprise's admins. `core.retry_deliveries` (every minute) picks up retries that
are due and deliveries a dead worker left behind.

Kinds and their wire formats (../shared/platforms/PLATFORM_APIS.md §8; Standard Webhooks):
- webhook: POST JSON `{"type", "timestamp", "data"}` with `webhook-id` (the delivery's id, the
  same on every retry: receivers de-duplicate on it), `webhook-timestamp` (seconds) and
  `webhook-signature: v1,<base64 HMAC-SHA256(secret, f"{id}.{timestamp}.{body}")>`; the secret is
  `whsec_<base64>` (generated when the channel is made, shown once).
- dingtalk: markdown message; with a `SEC…` secret, `&timestamp=<ms>&sign=<quote_plus(base64(
  HMAC-SHA256(secret, f"{timestamp}\\n{secret}")))>` on the URL; `errcode` 0 is success.
- wecom: markdown message (≤ 4096 bytes); the URL's key is the credential; `errcode` 0.
- feishu: text message; with a secret, `timestamp` (seconds) and `sign` = base64(HMAC-SHA256(key=
  f"{timestamp}\\n{secret}", msg=b"")) in the body; `code` 0 is success.
- email: Django's mail backend (GUANWEI_EMAIL_HOST…), to the channel's addresses.
- bell: a notice in the app for the members allowed the channel's right.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_tasks import task

from guanwei.core import clock, outbound
from guanwei.core.models import Channel, Delivery, Enterprise, Member
from guanwei.core.notifications import notify

log = logging.getLogger("guanwei.channels")

MAX_ATTEMPTS = 6
BACKOFF_S = (30, 120, 600, 1800, 7200)  # after attempt 1, 2, …; the last repeats
TIMEOUT_S = 10.0
WECOM_MAX_BYTES = 4096
FEISHU_MAX_BYTES = 20_000
# Robots block a sender for 10 minutes after 20 messages a minute (DingTalk 130101).
ROBOT_THROTTLED_RETRY_S = 600


@dataclass
class Message:
    """What is said, whatever the channel: a title, a plain text, a link back into guanwei and
    a level (info | warning | error). `data` goes to webhooks as it is."""

    title: str
    text: str = ""
    url: str = ""
    level: str = "info"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    ok: bool
    code: int | None  # the HTTP status (None: no answer)
    detail: str  # what the receiver said, or why nothing was sent
    retry_after_s: int | None = None  # the receiver asked to wait this long


class Refused(Exception):
    """The delivery cannot be sent as configured (retrying will not help)."""


# --- sending ----------------------------------------------------------------------------------


def subscribed(enterprise: Enterprise, event: str) -> list[Channel]:
    """The enterprise's active channels that want `event`: those listing it, or its area (the
    part before the dot), or no events at all (everything). An enterprise has a handful."""
    area = event.split(".", 1)[0]
    return [
        c for c in Channel.objects.filter(enterprise=enterprise, is_active=True).order_by("pk")
        if not c.events or event in c.events or area in c.events
    ]  # fmt: skip


def send(
    enterprise: Enterprise,
    event: str,
    message: Message,
    *,
    member: Member | None = None,
    channels: list[Channel] | None = None,
) -> list[Delivery]:
    """Queue `message` for every channel subscribed to `event` (or exactly `channels`), and with
    `member`, a personal notice in their bell. Call inside the transaction of the change it
    reports: nothing is sent if that rolls back."""
    targets = subscribed(enterprise, event) if channels is None else channels
    now = clock.now()
    deliveries = Delivery.objects.bulk_create([
        Delivery(
            enterprise=enterprise, channel=channel, event=event, payload=asdict(message),
            msg_id=f"msg_{secrets.token_urlsafe(18)}", next_attempt_at=now, created_at=now,
        )
        for channel in targets
    ])  # fmt: skip
    if member is not None:
        notify(
            enterprise, action="", member=member, title=message.title[:200], body=message.text,
            url=message.url, level=message.level,
        )  # fmt: skip
    ids = [d.pk for d in deliveries]
    if ids:
        transaction.on_commit(
            lambda: [deliver.enqueue(pk, enterprise_id=enterprise.pk) for pk in ids]
        )
    return deliveries


# --- the worker -------------------------------------------------------------------------------


def _due(now: datetime) -> Q:
    """Deliveries to attempt now: pending ones whose time has come, and "sending" ones whose
    worker died (no answer for six timeouts)."""
    stale = now - timedelta(seconds=TIMEOUT_S * 6)
    return Q(state=Delivery.State.PENDING, next_attempt_at__lte=now) | Q(
        state=Delivery.State.SENDING, last_attempt_at__lte=stale
    )


def _claim(delivery_id: int) -> Delivery | None:
    now = clock.now()
    claimed = Delivery.objects.filter(_due(now), pk=delivery_id).update(state=Delivery.State.SENDING, last_attempt_at=now)
    if not claimed:
        return None
    return Delivery.objects.select_related("channel", "enterprise").get(pk=delivery_id)


def attempt(delivery_id: int) -> str:
    """One attempt at one delivery. Returns its state afterwards ('skipped': not due or taken)."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return "skipped"
    channel = delivery.channel
    try:
        if not channel.is_active:
            raise Refused(str(_("渠道已停用")))
        outcome = transmit(channel, delivery)
    except Refused as exc:
        outcome = Outcome(False, None, str(exc))
        final = True
    except Exception as exc:  # a bug must not leave the row "sending" for ever; it is logged
        log.exception(
            "delivery.crashed enterprise=%s channel=%s delivery=%s",
            delivery.enterprise_id, channel.pk, delivery.pk,
        )  # fmt: skip
        outcome = Outcome(False, None, f"{type(exc).__name__}")
        final = False
    else:
        final = False
    return _record(delivery, outcome, final)


def _record(delivery: Delivery, outcome: Outcome, final: bool) -> str:
    now = clock.now()
    attempts = delivery.attempts + 1
    fields: dict[str, Any] = {
        "attempts": attempts, "response_code": outcome.code, "outcome": outcome.detail[:300],
        "last_attempt_at": now,
    }  # fmt: skip
    if outcome.ok:
        fields.update(state=Delivery.State.DELIVERED, delivered_at=now)
    elif final or attempts >= MAX_ATTEMPTS:
        fields.update(state=Delivery.State.FAILED)
    else:
        wait = BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1]
        if outcome.retry_after_s:
            wait = max(wait, outcome.retry_after_s)
        fields.update(state=Delivery.State.PENDING, next_attempt_at=now + timedelta(seconds=wait))
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.SENDING).update(**fields)
        if fields["state"] == Delivery.State.FAILED:
            _tell_admins(delivery, outcome)
    log.info(
        "delivery enterprise=%s channel=%s kind=%s delivery=%s event=%s attempt=%s state=%s code=%s",
        delivery.enterprise_id, delivery.channel_id, delivery.channel.kind, delivery.pk,
        delivery.event, attempts, fields["state"], outcome.code,
    )  # fmt: skip
    return str(fields["state"])


def _tell_admins(delivery: Delivery, outcome: Outcome) -> None:
    from django.urls import reverse

    channel = delivery.channel
    notify(
        delivery.enterprise,
        action="channel.manage",
        title=f"{channel.name}: {outcome.detail[:120]}",
        level="error",
        url=reverse("core:channel", args=[channel.pk]),
        condition_key=f"channel:{channel.pk}:failing",
        code="channel.failing",
        params={"name": channel.name, "detail": outcome.detail[:200]},
    )


def retry_due(limit: int = 500) -> int:
    """Attempt the deliveries that are due (retries, and rows a dead worker left)."""
    due = list(
        Delivery.objects.filter(_due(clock.now())).order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        attempt(pk)
    return len(due)


# --- the kinds --------------------------------------------------------------------------------


def render(channel: Channel, delivery: Delivery) -> tuple[str, dict[str, str], bytes]:
    """(url, headers, body) exactly as the kind sends them, signed. The time is now."""
    message = Message(**delivery.payload)
    kind = channel.kind
    if kind == Channel.Kind.WEBHOOK:
        timestamp = int(clock.now().timestamp())
        body = _json({
            "type": delivery.event,
            "timestamp": clock.now().isoformat(timespec="seconds"),
            "data": {"title": message.title, "text": message.text, "url": message.url,
                     "level": message.level, **message.data},
        })  # fmt: skip
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": standard_webhook_signature(
                channel.secret, delivery.msg_id, timestamp, body
            ),
        }
        return channel.url, headers, body
    if kind == Channel.Kind.DINGTALK:
        text = f"#### {message.title}\n\n{message.text}"
        if message.url:
            text += f"\n\n[{_('查看详情')}]({message.url})"
        body = _json({"msgtype": "markdown", "markdown": {"title": message.title, "text": text}})
        url = channel.url
        if channel.secret:
            millis = int(clock.now().timestamp() * 1000)
            url += ("&" if "?" in url else "?") + (
                f"timestamp={millis}&sign={dingtalk_sign(channel.secret, millis)}"
            )
        return url, {"content-type": "application/json"}, body
    if kind == Channel.Kind.WECOM:
        content = f"**{message.title}**\n{message.text}"
        if message.url:
            content += f"\n[{_('查看详情')}]({message.url})"
        content = _truncate_bytes(content, WECOM_MAX_BYTES)
        body = _json({"msgtype": "markdown", "markdown": {"content": content}})
        return channel.url, {"content-type": "application/json"}, body
    if kind == Channel.Kind.FEISHU:
        text = "\n".join(p for p in (message.title, message.text, message.url) if p)
        payload: dict[str, Any] = {}
        if channel.secret:
            seconds = int(clock.now().timestamp())
            payload = {"timestamp": str(seconds), "sign": feishu_sign(channel.secret, seconds)}
        payload.update({"msg_type": "text", "content": {"text": _truncate_bytes(text, FEISHU_MAX_BYTES - 500)}})
        return channel.url, {"content-type": "application/json"}, _json(payload)
    raise Refused(f"kind {kind} is not sent over HTTP")


def transmit(channel: Channel, delivery: Delivery) -> Outcome:
    message = Message(**delivery.payload)
    if channel.kind == Channel.Kind.EMAIL:
        return _send_email(channel, message)
    if channel.kind == Channel.Kind.BELL:
        notify(
            delivery.enterprise, action=channel.bell_action or "channel.manage",
            title=message.title[:200], body=message.text, url=message.url, level=message.level,
        )  # fmt: skip
        return Outcome(True, None, "ok")
    url, headers, body = render(channel, delivery)
    try:
        with httpx.Client(transport=outbound.transport(), timeout=TIMEOUT_S, trust_env=False) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        # Never the URL in the outcome: robots' URLs carry their credentials.
        return Outcome(False, None, f"{type(exc).__name__}: {_('连接失败或超时')}")
    return _judge(channel, response)


def _judge(channel: Channel, response: httpx.Response) -> Outcome:
    code = response.status_code
    if not 200 <= code < 300:
        retry = response.headers.get("retry-after")
        return Outcome(False, code, "", int(retry) if retry and retry.isdigit() else None)
    if channel.kind == Channel.Kind.WEBHOOK:
        return Outcome(True, code, "ok")
    try:
        answer = response.json()
    except ValueError:
        return Outcome(False, code, "not JSON")
    errcode = answer.get("errcode", answer.get("code", answer.get("StatusCode", -1)))
    if errcode == 0:
        return Outcome(True, code, "ok")
    detail = f"{errcode} {str(answer.get('errmsg') or answer.get('msg') or '')[:200]}".strip()
    throttled = errcode in (130101, 45009, 11232)
    return Outcome(False, code, detail, ROBOT_THROTTLED_RETRY_S if throttled else None)


def _send_email(channel: Channel, message: Message) -> Outcome:
    if settings.IS_PRODUCTION and not settings.EMAIL_HOST_CONFIGURED:
        raise Refused(str(_("本服务器未配置邮件（GUANWEI_EMAIL_HOST），无法发送邮件。")))
    recipients = [a.strip() for a in channel.url.split(",") if a.strip()]
    body = message.text + (f"\n\n{message.url}" if message.url else "")
    try:
        send_mail(f"[guanwei] {message.title}", body, settings.DEFAULT_FROM_EMAIL, recipients)
    except OSError as exc:  # smtplib's errors are OSErrors
        return Outcome(False, None, f"{type(exc).__name__}")
    return Outcome(True, None, "sent")


# --- signing ----------------------------------------------------------------------------------


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def standard_webhook_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def dingtalk_sign(secret: str, millis: int) -> str:
    digest = hmac.new(secret.encode(), f"{millis}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, seconds: int) -> str:
    digest = hmac.new(f"{seconds}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _truncate_bytes(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode(errors="ignore") + "…"


# --- the worker's entry points (django-tasks; core.retry_deliveries is scheduled in ops/schedule.py)


@task()
def deliver(delivery_id: int, enterprise_id: int | None = None) -> str:
    """core.deliver — one attempt at one delivery. `enterprise_id` attributes it on /ops/status."""
    return attempt(delivery_id)


@task()
def retry_deliveries() -> int:
    """core.retry_deliveries — attempt the deliveries whose retry is due, and those a dead
    worker left half-sent."""
    return retry_due()

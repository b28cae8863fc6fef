"""Direct messages, fans-service events and mention notices, and the queueing of signed pushes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction

from guanwei.core.clock import now

from ..models import (
    App,
    FanService,
    Message,
    MessageType,
    Push,
    SandboxUser,
)
from .ids import _pk, allocate_ids

# --- messages and the fans service -------------------------------------------------------------


@transaction.atomic
def configure_fan_service(
    user: SandboxUser,
    app: App,
    callback_url: str,
    *,
    push_mentions: bool = True,
    verified: bool = False,
) -> FanService:
    """Developer mode of the fans service (粉丝服务 → 开发模式) for `user`: pushes go to
    `callback_url`, signed with `app`'s secret. `fanservice.verify_callback` does the echostr
    handshake and marks it verified; pushes are only sent to verified callbacks."""
    fs, _ = FanService.objects.update_or_create(
        user=user,
        defaults={
            "app": app,
            "callback_url": callback_url,
            "push_mentions": push_mentions,
            "is_verified": verified,
            "verified_at": now() if verified else None,
        },
    )
    return fs


def mark_fan_service_verified(fs: FanService) -> None:
    FanService.objects.filter(pk=fs.pk).update(is_verified=True, verified_at=now())


def _create_messages(messages: list[Message], *, push: bool = True) -> list[Message]:
    ids = allocate_ids("mid", len(messages))
    for m, mid in zip(messages, ids, strict=True):
        m.id = mid
    Message.objects.bulk_create(messages, batch_size=500)
    if push:
        _queue_pushes(messages)
    return messages


def send_dm(
    sender: SandboxUser,
    receiver: SandboxUser,
    text: str = "",
    *,
    type: str = MessageType.TEXT,
    data: dict[str, Any] | None = None,
    created_at: datetime | None = None,
) -> Message:
    """A 私信 from `sender` to `receiver`; pushed (signed) to the receiver's fans-service
    callback after commit. Opens the receiver's 48 h reply window towards `sender`."""
    with transaction.atomic():
        (m,) = _create_messages(
            [
                Message(
                    sender=sender,
                    receiver=receiver,
                    type=type,
                    text=text,
                    data=data or {},
                    created_at=created_at or now(),
                )
            ]
        )
    return m


@transaction.atomic
def bulk_send_dms(rows: Iterable[dict[str, Any]], *, notify: bool = False) -> list[Message]:
    """Many DMs in one go. Row keys: `sender`, `receiver` (users or ids), `text`, optionally
    `type`, `data`, `created_at`. Pushes (to receivers with a verified fans service) only
    with `notify=True`; the reply windows open either way."""
    at = now()
    messages = []
    for row in rows:
        unknown = set(row) - {"sender", "receiver", "text", "type", "data", "created_at"}
        if unknown:
            raise ValueError(f"unknown message fields: {sorted(unknown)}")
        messages.append(
            Message(
                sender_id=_pk(row["sender"]),
                receiver_id=_pk(row["receiver"]),
                type=row.get("type", MessageType.TEXT),
                text=row.get("text", ""),
                data=row.get("data") or {},
                created_at=row.get("created_at") or at,
            )
        )
    if not messages:
        return []
    return _create_messages(messages, push=notify)


def record_event(
    sender: SandboxUser, receiver: SandboxUser, subtype: str, data: dict[str, Any] | None = None
) -> Message:
    """A fans-service event (subscribe, unsubscribe, scan, scan_follow, click, view…)."""
    with transaction.atomic():
        return _record_event(sender.pk, receiver.pk, subtype, now(), data)


def _record_event(
    sender_id: int, receiver_id: int, subtype: str, at: datetime, data: dict[str, Any] | None = None
) -> Message:
    (m,) = _create_messages(
        [
            Message(
                sender_id=sender_id,
                receiver_id=receiver_id,
                type=MessageType.EVENT,
                subtype=subtype,
                data={"subtype": subtype, **(data or {})},
                created_at=at,
            )
        ]
    )
    return m


def _notify_mentions(items: list[tuple[int, list[int], str, int, str, datetime]]) -> None:
    """@-mentions of accounts whose fans service wants them become `mention` messages."""
    targets = {uid for _, uids, *_ in items for uid in uids}
    wanting = set(
        FanService.objects.filter(user_id__in=targets, push_mentions=True).values_list(
            "user_id", flat=True
        )
    )
    messages = [
        Message(
            sender_id=author,
            receiver_id=uid,
            type=MessageType.MENTION,
            subtype=subtype,
            text=text,
            data={"subtype": subtype, "id": str(obj_id)},
            created_at=at,
        )
        for author, uids, subtype, obj_id, text, at in items
        for uid in uids
        if uid in wanting and uid != author
    ]
    if messages:
        _create_messages(messages)


def create_reply_message(
    account: SandboxUser, receiver: SandboxUser, type: str, data: dict[str, Any], *, app: App | None
) -> Message:
    """An account's reply (messages/reply, or a passive reply in a push response). Window
    checks are `fanservice.reply_window`'s job; this only records it."""
    with transaction.atomic():
        (m,) = _create_messages(
            [
                Message(
                    sender=account,
                    receiver=receiver,
                    type=type,
                    text=str(data.get("text", "")),
                    data=data,
                    app=app,
                    created_at=now(),
                )
            ],
            push=False,
        )
    return m


def _queue_pushes(messages: list[Message]) -> None:
    receivers = {m.receiver_id for m in messages}
    services = {
        fs.user_id: fs for fs in FanService.objects.filter(user_id__in=receivers, is_verified=True)
    }
    pushes = [
        Push(message=m, fan_service=services[m.receiver_id], created_at=m.created_at)
        for m in messages
        if m.receiver_id in services
    ]
    if not pushes:
        return
    Push.objects.bulk_create(pushes)
    push_ids = [p.pk for p in pushes]

    def enqueue() -> None:
        from ..fanservice import deliver_pushes

        deliver_pushes.enqueue(push_ids)

    transaction.on_commit(enqueue)


@transaction.atomic
def finish_push(push: Push, *, delivered: bool, attempts: int, error: str = "") -> None:
    from ..models import PushState

    Push.objects.filter(pk=push.pk).update(
        state=PushState.DELIVERED if delivered else PushState.FAILED,
        attempts=attempts,
        last_error=error[:300],
        delivered_at=now() if delivered else None,
    )

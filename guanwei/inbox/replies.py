"""Sending replies, exactly once (the same rules as publishing).

A queued reply is claimed with a conditional update (queued → sending, attempts + 1); only the
claimant calls the connector. The outcome:
* sent — the platform id is kept, the item's first response is stamped (the SLA clock);
* a timeout (the write may have landed) — unconfirmed: `reconcile` reads the platform (the
  thread's comments for a comment reply or comment, from our account, with our text) before any
  second attempt, and settles it as sent or queues it again. A DM cannot be read back (the
  fans-service API has no sent list): an unconfirmed DM is failed for a person to decide;
* a transient error — queued again with backoff; a permanent one (a deleted comment, a revoked
  token, a closed window) — failed, with the platform's reason, the text kept for the agent.
A reply claimed and never settled (a killed worker) is treated as unconfirmed after STALE."""

from __future__ import annotations

import logging
import re
from contextlib import closing
from datetime import timedelta
from typing import Any

from django.db import transaction
from django_tasks import task

from guanwei.core import clock
from guanwei.core.states import transition
from guanwei.inbox.models import Item, Reply, ReplyState
from guanwei.matrix import connectors
from guanwei.matrix.health import record_platform_error, record_platform_ok
from guanwei.platforms.base import PlatformError

log = logging.getLogger("guanwei.inbox")
RS = ReplyState
MAX_ATTEMPTS = 5
BACKOFF_S = (30, 120, 600, 1800)
STALE = timedelta(minutes=2)


def _claim(reply_id: int) -> Reply | None:
    now = clock.now()
    reply = Reply.objects.filter(pk=reply_id).select_related("item__account__connection", "item__mention", "item__author").first()
    if reply is None or reply.state != RS.QUEUED or (reply.next_attempt_at and reply.next_attempt_at > now):
        return None
    if not transition(reply, RS.SENDING, expected=RS.QUEUED, updates={"claimed_at": now, "attempts": reply.attempts + 1}):
        return None
    reply.refresh_from_db()
    return reply


def _call(connector: Any, reply: Reply) -> Any:
    mention = reply.item.mention
    if reply.via == "reply":
        return connector.reply(mention.thread_id, mention.remote_id, reply.text)
    if reply.via == "comment":
        return connector.comment(mention.remote_id, reply.text)
    return connector.send_dm(reply.item.author.remote_id if reply.item.author else "", reply.text)


def _sent(reply: Reply, remote: Any, *, expected: str, found: bool = False) -> bool:
    now = clock.now()
    with transaction.atomic():
        if not transition(reply, RS.SENT, expected=expected, reason="found on the platform" if found else "",
                          updates={"sent_at": now, "platform_id": str(getattr(remote, "id", "") or "")[:64], "error": ""}):  # fmt: skip
            return False
        Item.objects.filter(pk=reply.item_id, first_responded_at=None).update(first_responded_at=now)
    log.info("inbox.reply.sent enterprise=%s reply=%s item=%s found=%s", reply.enterprise_id, reply.pk, reply.item_id, found)
    return True


def _failed(reply: Reply, error: Any, expected: str) -> None:
    transition(reply, RS.FAILED, expected=expected, reason=str(error)[:200], updates={"error": str(error)[:300]})
    log.info("inbox.reply.failed enterprise=%s reply=%s kind=%s", reply.enterprise_id, reply.pk, getattr(error, "kind", "error"))


def send(reply_id: int) -> str:
    """One attempt. Returns the state afterwards ('skipped': not due or someone else's)."""
    reply = _claim(reply_id)
    if reply is None:
        return "skipped"
    account = reply.item.account
    try:
        with closing(connectors.for_account(account)) as connector:
            remote = _call(connector, reply)
    except PlatformError as error:
        if error.kind == "timeout":  # may have landed: never sent again before looking
            transition(reply, RS.UNCONFIRMED, expected=RS.SENDING, reason="timeout",
                       updates={"next_attempt_at": clock.now() + timedelta(seconds=30)})  # fmt: skip
            return RS.UNCONFIRMED
        record_platform_error(account, error)
        if error.permanent or reply.attempts >= MAX_ATTEMPTS:
            _failed(reply, error, RS.SENDING)
            return RS.FAILED
        wait = max(BACKOFF_S[min(reply.attempts, len(BACKOFF_S)) - 1], int(getattr(error, "retry_after_s", 0) or 0))
        transition(reply, RS.QUEUED, expected=RS.SENDING, reason=f"{error.kind}: retry in {wait}s",
                   updates={"next_attempt_at": clock.now() + timedelta(seconds=wait)})  # fmt: skip
        return RS.QUEUED
    record_platform_ok(account)
    _sent(reply, remote, expected=RS.SENDING)
    return RS.SENT


_REPLY_PREFIX = re.compile(r"^回复@[^:：]{1,40}[:：]")


def _same(on_platform: str, ours: str) -> bool:
    """The platform's text is ours (Weibo's comments/reply puts "回复@昵称:" before it)."""
    return " ".join(_REPLY_PREFIX.sub("", on_platform).split()) == " ".join(ours.split())


def reconcile(reply: Reply) -> str:
    """An unconfirmed reply: is it on the platform? Sent if found, else queued again."""
    item = reply.item
    if reply.via == "dm":
        _failed(reply, "私信发送结果未知（平台不提供已发私信列表）：请确认用户是否收到后再决定是否重发。", RS.UNCONFIRMED)
        return RS.FAILED
    account = item.account
    since = (reply.claimed_at or reply.created_at) - timedelta(minutes=2)
    try:
        with closing(connectors.for_account(account)) as connector:
            thread = item.mention.thread_id if reply.via == "reply" else item.mention.remote_id
            found = next((c for c in connector.comments_on(thread, max_pages=3)
                          if c.author and str(c.author.id) == account.platform_uid and _same(c.text, reply.text)
                          and c.created_at >= since), None)  # fmt: skip
    except PlatformError as error:
        record_platform_error(account, error)
        Reply.objects.filter(pk=reply.pk).update(next_attempt_at=clock.now() + timedelta(seconds=60))
        return RS.UNCONFIRMED
    if found is not None:
        _sent(reply, found, expected=RS.UNCONFIRMED, found=True)
        return RS.SENT
    transition(reply, RS.QUEUED, expected=RS.UNCONFIRMED, reason="not on the platform: send again",
               updates={"next_attempt_at": clock.now()})  # fmt: skip
    return RS.QUEUED


@task()
def send_reply(reply_id: int, enterprise_id: int | None = None) -> str:
    return send(reply_id)


@task()
def run() -> dict[str, int]:
    """inbox.send_replies (every 5 s): due retries, unconfirmed replies reconciled, and sends a
    dead worker left (sending for longer than STALE) turned unconfirmed first."""
    now = clock.now()
    out: dict[str, int] = {}
    for reply in Reply.objects.filter(state=RS.SENDING, claimed_at__lte=now - STALE)[:100]:
        transition(reply, RS.UNCONFIRMED, expected=RS.SENDING, reason="never settled (worker stopped)")
    for reply in (Reply.objects.filter(state=RS.UNCONFIRMED, next_attempt_at__lte=now)
                  .select_related("item__account__connection", "item__mention", "item__author")[:100]):  # fmt: skip
        state = reconcile(reply)
        out[state] = out.get(state, 0) + 1
    for pk in Reply.objects.filter(state=RS.QUEUED, next_attempt_at__lte=now).values_list("pk", flat=True)[:100]:
        state = send(pk)
        out[state] = out.get(state, 0) + 1
    return out

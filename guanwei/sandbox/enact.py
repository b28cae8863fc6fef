"""Writing scenario events into the sandbox, through `guanwei.sandbox.store` (the one way to
change sandbox state), in batches; and the cast as the sandbox holds it.

Live runs notify (mentions and DMs are pushed to the accounts' fans-service callbacks, as
Weibo would); the demo's history is written without pushes — it is the past.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .simulation import COMMENT, DM, FOLLOW, LIKE, REPOST, STATUS, Actor, Cast, Event, Latest


@dataclass
class EnactResult:
    created: Counter[str] = field(default_factory=Counter)  # by event kind
    skipped: int = 0  # a target that no longer exists (deleted status, account without posts)


def enact(
    events: list[Event],
    *,
    time_of: Callable[[Event], datetime],
    made: dict[int, object] | None = None,
    notify: bool = True,
) -> EnactResult:
    """Write a batch of events (in time order) through the store. `made` maps event keys to the
    statuses/comments created so far (shared across batches of one run). Events whose target is
    in this same batch are written after it, in order, so references always resolve."""
    from . import store
    from .models import Status

    made = {} if made is None else made
    result = EnactResult()
    latest_cache: dict[int, int | None] = {}

    def latest(uid: int) -> int | None:
        if uid not in latest_cache:
            latest_cache[uid] = (
                Status.objects.filter(user_id=uid, deleted_at=None, retweeted_status=None)
                .order_by("-id")
                .values_list("id", flat=True)
                .first()
            )
        return latest_cache[uid]

    def status_of(target: object) -> object | None:
        if isinstance(target, Event):
            obj = made.get(target.key)
            if obj is None:
                return None
            return obj.pk if isinstance(obj, Status) else obj.status_id  # type: ignore[attr-defined]
        if isinstance(target, Latest):
            return latest(target.uid)
        return target

    pending: list[Event] = []

    def flush() -> None:
        statuses = [e for e in pending if e.kind in (STATUS, REPOST)]
        rows, row_events = [], []
        for e in statuses:
            row: dict[str, object] = {"user": e.actor.uid, "text": e.text, "created_at": time_of(e)}
            if e.kind == REPOST:
                parent = status_of(e.target)
                if parent is None:
                    result.skipped += 1
                    continue
                row["repost_of"] = parent
            rows.append(row)
            row_events.append(e)
        for e, s in zip(row_events, store.bulk_create_statuses(rows, notify=notify), strict=True):
            made[e.key] = s
            result.created[e.kind] += 1
        crows, cevents = [], []
        for e in (e for e in pending if e.kind == COMMENT):
            status = status_of(e.target)
            if status is None:
                result.skipped += 1
                continue
            crow: dict[str, object] = {
                "user": e.actor.uid,
                "status": status,
                "text": e.text,
                "created_at": time_of(e),
            }
            if e.reply_to is not None and e.reply_to.key in made:
                crow["reply_to"] = made[e.reply_to.key]
            crows.append(crow)
            cevents.append(e)
        for e, c in zip(cevents, store.bulk_create_comments(crows, notify=notify), strict=True):
            made[e.key] = c
            result.created[COMMENT] += 1
        likes = [(e.actor.uid, status_of(e.target)) for e in pending if e.kind == LIKE]
        result.skipped += sum(1 for _, s in likes if s is None)
        result.created[LIKE] += store.bulk_like([(u, s) for u, s in likes if s is not None])
        follows = [(e.actor.uid, e.to.uid) for e in pending if e.kind == FOLLOW and e.to]
        result.created[FOLLOW] += store.bulk_follow(follows, notify=notify)
        dms = [e for e in pending if e.kind == DM and e.to]
        rows = [
            {"sender": e.actor.uid, "receiver": e.to.uid, "text": e.text, "created_at": time_of(e)}
            for e in dms
            if e.to
        ]
        result.created[DM] += len(store.bulk_send_dms(rows, notify=notify))
        pending.clear()

    in_batch: set[int] = set()
    for e in events:
        refs = [r for r in (e.target, e.reply_to) if isinstance(r, Event)]
        if any(r.key in in_batch for r in refs):
            flush()
            in_batch.clear()
        pending.append(e)
        in_batch.add(e.key)
    flush()
    return result


def cast_from_store(account_names: list[str] | None = None) -> Cast:
    """The cast as the sandbox holds it: its simulated netizens (created on first use) and the
    demo accounts (the named ones, or every official account)."""
    from .models import Follow
    from .netizens import account_roles, ensure_netizens, official_accounts

    accounts = official_accounts(account_names)
    if not accounts:
        raise ValueError("the sandbox has no official accounts yet: seed the demo world first")
    users = ensure_netizens(accounts=accounts)
    roles = account_roles(accounts)
    cast_accounts = {
        role: Actor(u.pk, u.screen_name, "account", followers=u.followers_count)
        for role, u in roles.items()
    }
    account_ids = [a.pk for a in accounts]
    follows: dict[int, set[int]] = {}
    for follower, followee in Follow.objects.filter(followee_id__in=account_ids).values_list(
        "follower_id", "followee_id"
    ):
        follows.setdefault(follower, set()).add(followee)
    netizens = [
        Actor(
            u.pk,
            u.screen_name,
            u.persona,
            float((u.traits or {}).get("activity", 1.0)),
            u.followers_count,
        )
        for u in users
    ]
    return Cast(netizens, cast_accounts, {k: frozenset(v) for k, v in follows.items()})

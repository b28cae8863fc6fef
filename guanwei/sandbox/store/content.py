"""Statuses (originals, reposts with chain text), comments and likes, with their counters and
@-mentions."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F

from guanwei.core.clock import now

from ..models import (
    App,
    Comment,
    Like,
    Picture,
    SandboxUser,
    Status,
)
from .ids import _bump, _pk, allocate_ids
from .messages import _notify_mentions

MENTION_RE = re.compile(r"@([\w\-\u4e00-\u9fff]{1,30})")


# --- statuses -----------------------------------------------------------------------------------


def _resolve_mentions(texts: Seq[str]) -> list[list[int]]:
    """For each text, the ids of existing users it @-mentions (one query for the batch)."""
    names_per_text = [list(dict.fromkeys(MENTION_RE.findall(t))) for t in texts]
    all_names = {n for names in names_per_text for n in names}
    if not all_names:
        return [[] for _ in texts]
    ids = dict(
        SandboxUser.objects.filter(screen_name__in=all_names).values_list("screen_name", "id")
    )
    return [[ids[n] for n in names if n in ids] for names in names_per_text]


def repost_text(parent: Status, text: str) -> str:
    """Weibo's chain text: reposting a repost appends `//@parent:parent text`."""
    text = text or "转发微博"
    if parent.retweeted_status_id is None:
        return text
    return f"{text}//@{parent.user.screen_name}:{parent.text}"


@dataclass
class _Pending:
    """Side effects collected during a batch and applied at its end."""

    user_statuses: Counter[int]
    reposts: Counter[int]
    comments: Counter[int]

    @classmethod
    def new(cls) -> _Pending:
        return cls(Counter(), Counter(), Counter())

    def apply(self) -> None:
        _bump(SandboxUser, "statuses_count", self.user_statuses)
        _bump(Status, "reposts_count", self.reposts)
        _bump(Status, "comments_count", self.comments)


def _insert_with_mentions(
    model: type[Status] | type[Comment],
    items: Seq[Status | Comment],
    kind: str,
    pending: _Pending,
    *,
    notify: bool,
) -> None:
    """The end of a status or comment batch: insert the rows, link the accounts their texts
    @-mention, apply the collected counters and (``notify``) push each mention."""
    model.objects.bulk_create(items, batch_size=500)
    mentions = _resolve_mentions([i.text for i in items])
    through = model.mentioned.through
    through.objects.bulk_create(
        [
            through(**{f"{kind}_id": i.pk, "sandboxuser_id": uid})
            for i, uids in zip(items, mentions, strict=True)
            for uid in uids
        ],
        batch_size=1000,
    )
    pending.apply()
    if notify:
        _notify_mentions(
            [
                (i.user_id, uids, kind, i.pk, i.text, i.created_at)
                for i, uids in zip(items, mentions, strict=True)
                if uids
            ]
        )


@transaction.atomic
def bulk_create_statuses(rows: Iterable[dict[str, Any]], *, notify: bool = False) -> list[Status]:
    """Statuses (originals and reposts) in one go. Row keys: `user`, `text`, and optionally
    `created_at`, `app`, `rip`, `visible` (0/1/3/4), `test_only` (default: posted through an
    unaudited app), `picture`, `repost_of` (a status or id: the
    row becomes a repost with Weibo's chain text unless `chain_text=False`), `id` (replay only:
    keep a known mid; must not collide)."""
    rows = list(rows)
    if not rows:
        return []
    at = now()
    parent_ids = {_pk(r["repost_of"]) for r in rows if r.get("repost_of") is not None}
    parents = Status.objects.select_related("user").in_bulk(parent_ids) if parent_ids else {}
    new_ids = iter(allocate_ids("mid", sum(1 for r in rows if "id" not in r)))
    pending = _Pending.new()
    statuses: list[Status] = []
    for row in rows:
        unknown = set(row) - {
            "user",
            "text",
            "created_at",
            "app",
            "rip",
            "visible",
            "picture",
            "repost_of",
            "chain_text",
            "test_only",
            "id",
        }
        if unknown:
            raise ValueError(f"unknown status fields: {sorted(unknown)}")
        text = row["text"]
        root_id = parent_id = None
        if row.get("repost_of") is not None:
            # A parent created earlier in this same batch is known by object only.
            parent = (
                row["repost_of"]
                if isinstance(row["repost_of"], Status)
                else parents.get(_pk(row["repost_of"]))
            )
            if parent is None:
                raise ValueError(f"repost_of {row['repost_of']!r} does not exist")
            parent_id = parent.pk
            root_id = parent.retweeted_status_id or parent.pk
            if row.get("chain_text", True):
                text = repost_text(parent, text)
            pending.reposts[parent_id] += 1
            if root_id != parent_id:
                pending.reposts[root_id] += 1
        status = Status(
            id=row["id"] if "id" in row else next(new_ids),
            user_id=_pk(row["user"]),
            text=text,
            app=row.get("app"),
            rip=row.get("rip", ""),
            visible_type=row.get("visible", 0),
            # Content posted through an unaudited app is seen only by its test accounts (§1.5).
            is_test_only=row.get(
                "test_only", row.get("app") is not None and not row["app"].is_audited
            ),
            picture=row.get("picture"),
            retweeted_status_id=root_id,
            repost_parent_id=parent_id,
            created_at=row.get("created_at") or at,
        )
        statuses.append(status)
        pending.user_statuses[status.user_id] += 1
    _insert_with_mentions(Status, statuses, "status", pending, notify=notify)
    return statuses


def post_status(
    user: SandboxUser,
    text: str,
    *,
    app: App | None = None,
    created_at: datetime | None = None,
    picture: Picture | None = None,
    visible: int = 0,
    rip: str = "",
) -> Status:
    """An original status. @-mentioned accounts with a fans service get a mention push."""
    (status,) = bulk_create_statuses(
        [
            {
                "user": user,
                "text": text,
                "app": app,
                "created_at": created_at,
                "picture": picture,
                "visible": visible,
                "rip": rip,
            }
        ],
        notify=True,
    )
    status.user = user
    return status


@transaction.atomic
def repost(
    user: SandboxUser,
    status: Status,
    text: str = "",
    *,
    app: App | None = None,
    created_at: datetime | None = None,
    is_comment: int = 0,
    rip: str = "",
) -> Status:
    """Repost `status` (its root becomes `retweeted_status`). `is_comment`: 1 also comment on
    `status`, 2 on the original, 3 on both — as statuses/repost does."""
    (new,) = bulk_create_statuses(
        [
            {
                "user": user,
                "text": text,
                "app": app,
                "created_at": created_at,
                "rip": rip,
                "repost_of": status,
            }
        ],
        notify=True,
    )
    new.user = user
    comment_text = text or "转发微博"
    targets = []
    if is_comment in (1, 3):
        targets.append(status)
    if (
        is_comment in (2, 3)
        and status.retweeted_status_id
        and status.retweeted_status_id != status.pk
    ):
        targets.append(Status.objects.get(pk=status.retweeted_status_id))
    elif is_comment == 2:
        targets.append(status)
    for target in targets:
        comment(user, target, comment_text, app=app, created_at=created_at, rip=rip)
    return new


@transaction.atomic
def destroy_status(status: Status) -> Status:
    """Soft-delete; the author's statuses_count and the parents' reposts_count go down."""
    if not Status.objects.filter(pk=status.pk, deleted_at=None).update(deleted_at=now()):
        return status
    status.deleted_at = now()
    SandboxUser.objects.filter(pk=status.user_id).update(statuses_count=F("statuses_count") - 1)
    parents = {status.repost_parent_id, status.retweeted_status_id} - {None}
    Status.objects.filter(pk__in=parents).update(reposts_count=F("reposts_count") - 1)
    return status


# --- comments -----------------------------------------------------------------------------------


@transaction.atomic
def bulk_create_comments(rows: Iterable[dict[str, Any]], *, notify: bool = False) -> list[Comment]:
    """Comments in one go. Row keys: `user`, `status`, `text`, optionally `reply_to` (a comment
    or id), `created_at`, `app`, `rip`, `id` (replay only)."""
    rows = list(rows)
    if not rows:
        return []
    at = now()
    new_ids = iter(allocate_ids("mid", sum(1 for r in rows if "id" not in r)))
    pending = _Pending.new()
    comments: list[Comment] = []
    for row in rows:
        unknown = set(row) - {
            "user",
            "status",
            "text",
            "reply_to",
            "created_at",
            "app",
            "rip",
            "id",
        }
        if unknown:
            raise ValueError(f"unknown comment fields: {sorted(unknown)}")
        c = Comment(
            id=row["id"] if "id" in row else next(new_ids),
            user_id=_pk(row["user"]),
            status_id=_pk(row["status"]),
            text=row["text"],
            reply_to_id=_pk(row["reply_to"]) if row.get("reply_to") is not None else None,
            app=row.get("app"),
            rip=row.get("rip", ""),
            created_at=row.get("created_at") or at,
        )
        comments.append(c)
        pending.comments[c.status_id] += 1
    _insert_with_mentions(Comment, comments, "comment", pending, notify=notify)
    return comments


def comment(
    user: SandboxUser,
    status: Status,
    text: str,
    *,
    reply_to: Comment | None = None,
    app: App | None = None,
    created_at: datetime | None = None,
    rip: str = "",
) -> Comment:
    """A comment on `status` (a reply when `reply_to` is given; the caller adds any
    "回复@昵称:" prefix — comments/reply does so for without_mention=0)."""
    (c,) = bulk_create_comments(
        [
            {
                "user": user,
                "status": status,
                "text": text,
                "reply_to": reply_to,
                "app": app,
                "created_at": created_at,
                "rip": rip,
            }
        ],
        notify=True,
    )
    c.user, c.status, c.reply_to = user, status, reply_to
    return c


@transaction.atomic
def destroy_comment(c: Comment) -> Comment:
    if Comment.objects.filter(pk=c.pk, deleted_at=None).update(deleted_at=now()):
        c.deleted_at = now()
        Status.objects.filter(pk=c.status_id).update(comments_count=F("comments_count") - 1)
    return c


# --- likes and follows -------------------------------------------------------------------------


@transaction.atomic
def bulk_like(pairs: Iterable[tuple[Any, Any]], *, created_at: datetime | None = None) -> int:
    """(user, status) pairs; existing likes are skipped. Returns how many were new."""
    pairs = list(dict.fromkeys((_pk(u), _pk(s)) for u, s in pairs))
    if not pairs:
        return 0
    existing = set(
        Like.objects.filter(
            status_id__in={s for _, s in pairs}, user_id__in={u for u, _ in pairs}
        ).values_list("user_id", "status_id")
    )
    new = [p for p in pairs if p not in existing]
    at = created_at or now()
    Like.objects.bulk_create(
        [Like(user_id=u, status_id=s, created_at=at) for u, s in new], batch_size=500
    )
    _bump(Status, "attitudes_count", Counter(s for _, s in new))
    return len(new)


def like(user: SandboxUser, status: Status, *, created_at: datetime | None = None) -> bool:
    return bulk_like([(user, status)], created_at=created_at) == 1


@transaction.atomic
def unlike(user: SandboxUser, status: Status) -> bool:
    deleted, _ = Like.objects.filter(user=user, status=status).delete()
    if deleted:
        Status.objects.filter(pk=status.pk).update(attitudes_count=F("attitudes_count") - 1)
    return bool(deleted)

"""The one ingest stage: platform items in, Mentions out — each item once per enterprise, with
the processing every area wants done once (normalise → sentiment and emotion → fingerprint →
voice), in batches with bulk writes.

`store(enterprise, items)` runs in the caller's transaction (a stream's cursor moves in the same
one, so a crash re-reads and never skips). The CPU-heavy part, `prepare(enterprise, items)`, may
run before that transaction (callers do: on SQLite a transaction holds the one write lock). A duplicate — an item already stored, twice in the
batch, or stored meanwhile by another worker — is a no-op (the unique constraint decides).

Voices: near-duplicates in one batch are grouped by textkit's `group_voices` (MinHash); across
batches a mention joins the voice with its exact fingerprint (the 64-bit sketch of its voice
text: copies and repost chains of one text agree; a lightly edited copy in a later batch starts a
voice of its own — a known compromise until monitoring needs more).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Q

from guanwei.core import clock
from guanwei.core.bulk import db_datetime, insert_ignore
from guanwei.core.models import Enterprise
from guanwei.listening.models import Author, Mention, Voice
from guanwei.textkit import fingerprint as fp
from guanwei.textkit import sentiment
from guanwei.textkit.normalize import fold

log = logging.getLogger("guanwei.listening.store")

MAX_TEXT = 5000  # characters kept of one item (Weibo's long texts are up to 5,000)


@dataclass
class Incoming:
    """One platform item as a stream, a push or an import hands it over."""

    platform: str
    remote_id: str
    kind: str  # status | comment | repost | dm
    text: str
    created_at: datetime
    author_id: str = ""
    author_name: str = ""
    author_verified_type: int | None = None
    author_followers: int | None = None
    author_region: str = ""
    author_gender: str = ""
    url: str = ""
    in_reply_to_id: str = ""
    reply_to_comment_id: str = ""
    account_id: int | None = None
    stream_id: int | None = None
    source: str = Mention.Source.POLL

    @classmethod
    def from_remote(cls, platform: str, post: Any, **extra: Any) -> Incoming:
        """From a platforms.base.RemotePost."""
        author = post.author
        return cls(
            platform=platform,
            remote_id=str(post.id),
            kind=post.kind,
            text=post.text or "",
            created_at=post.created_at,
            author_id=str(author.id) if author else "",
            author_name=(author.screen_name if author else "") or "",
            author_verified_type=author.verified_type if author else None,
            author_followers=author.followers_count if author else None,
            author_region=(author.region if author else "") or "",
            author_gender=(author.gender if author else "") or "",
            url=post.url or "",
            in_reply_to_id=str(post.in_reply_to_id or ""),
            reply_to_comment_id=str(post.reply_to_comment_id or ""),
            **extra,
        )


MENTION_COLUMNS = [
    "enterprise_id", "platform", "remote_id", "kind", "account_id", "stream_id", "source",
    "author_id", "text", "normalized", "url", "thread_id", "in_reply_to_id",
    "reply_to_comment_id", "sentiment", "emotion", "fingerprint", "voice_id", "created_at",
    "received_at",
]  # fmt: skip


@dataclass
class Stored:
    received: int
    stored: int
    duplicates: int


def signed64(value: int) -> int:
    """A 64-bit unsigned fingerprint as the signed BIGINT a database column holds."""
    return value - (1 << 64) if value >= (1 << 63) else value


def _keyed(pairs: Any) -> Q:
    """Rows with these (platform, remote id) pairs, as the unique index (enterprise, platform,
    remote_id) can find them: the platform must be in the condition, or the lookup reads every
    row of the enterprise (the store stage slowed down with the table's size without it)."""
    by_platform: dict[str, set[str]] = {}
    for platform, remote_id in pairs:
        by_platform.setdefault(platform, set()).add(remote_id)
    condition = Q(pk__in=[])
    for platform, ids in by_platform.items():
        condition |= Q(platform=platform, remote_id__in=ids)
    return condition


AUTHOR_FIELDS = ["screen_name", "verified_type", "followers_count", "region", "gender"]


def _authors(enterprise: Enterprise, items: list[Incoming], now: datetime) -> dict[tuple[str, str], int]:
    """Upsert the batch's authors (bulk); their ids by (platform, remote id)."""
    latest: dict[tuple[str, str], Incoming] = {}
    for item in items:
        if item.author_id:
            latest[(item.platform, item.author_id[:64])] = item
    if not latest:
        return {}

    def known() -> dict[tuple[str, str], tuple[Any, ...]]:
        return {
            (row[0], row[1]): row[2:]
            for row in Author.objects.filter(_keyed(latest), enterprise=enterprise).values_list(
                "platform", "remote_id", "pk", *AUTHOR_FIELDS
            )
            if (row[0], row[1]) in latest
        }

    existing = known()
    fresh, changed = [], []
    for key, item in latest.items():
        values = (
            item.author_name[:100], item.author_verified_type, item.author_followers,
            item.author_region[:60], item.author_gender[:4],
        )  # fmt: skip
        row = existing.get(key)
        if row is None:
            fresh.append((enterprise.pk, key[0], key[1], *values, db_datetime(now)))
            continue
        # A DM push knows only the sender's id: keep what an earlier read told us.
        merged = tuple(old if new in (None, "") else new for old, new in zip(row[1:], values, strict=True))
        if merged != tuple(row[1:]):
            changed.append(Author(pk=row[0], refreshed_at=now, **dict(zip(AUTHOR_FIELDS, merged, strict=True))))
    insert_ignore(Author, ["enterprise_id", "platform", "remote_id", *AUTHOR_FIELDS, "refreshed_at"], fresh)
    if changed:
        Author.objects.bulk_update(changed, [*AUTHOR_FIELDS, "refreshed_at"])
    if fresh:
        existing = known()
    return {key: row[0] for key, row in existing.items()}


def _voices(enterprise: Enterprise, groups: list[int], prints: list[int], now: datetime) -> list[int]:
    """The voice id of each text: the batch's near-duplicates (`groups`, textkit's
    group_voices) share one, which joins (or starts) the voice of the group's first
    fingerprint."""
    key_of_group: dict[int, int] = {}
    keys = []
    for group, value in zip(groups, prints, strict=True):
        keys.append(key_of_group.setdefault(group, signed64(value)))
    wanted = set(keys)
    known = dict(
        Voice.objects.filter(enterprise=enterprise, fingerprint__in=wanted).values_list("fingerprint", "pk")
    )
    new = wanted - set(known)
    if new:
        insert_ignore(Voice, ["enterprise_id", "fingerprint", "size", "first_seen_at"],
                [(enterprise.pk, k, 0, db_datetime(now)) for k in new])  # fmt: skip
        known.update(
            Voice.objects.filter(enterprise=enterprise, fingerprint__in=new).values_list("fingerprint", "pk")
        )
    return [known[k] for k in keys]


@dataclass
class Prepared:
    """A batch with its processing done (`prepare`): what `store` then writes."""

    received: int
    todo: list[Incoming]
    texts: list[str]
    folded: list[str]
    moods: list[str]
    emotions: list[str]
    prints: list[int]
    groups: list[int]


def prepare(enterprise: Enterprise, items: list[Incoming]) -> Prepared:
    """The batch's new items (not stored yet) and their processing: normalise, sentiment and
    emotion, fingerprint, near-duplicate groups. Reads, never writes: call it before the
    transaction that stores, so the CPU work does not hold the database's write lock (on SQLite
    one writer at a time: a consumer waited for the store's sentiment model)."""
    received = len(items)
    unique: dict[tuple[str, str], Incoming] = {}
    for item in items:
        unique.setdefault((item.platform, item.remote_id), item)
    have = set(
        Mention.objects.filter(_keyed(unique), enterprise=enterprise).values_list("platform", "remote_id")
    ) if unique else set()  # fmt: skip
    todo = [item for key, item in unique.items() if key not in have]
    if not todo:
        return Prepared(received, [], [], [], [], [], [], [])
    texts = [item.text[:MAX_TEXT] for item in todo]
    moods, emotions = sentiment.analyse(texts)
    prints, groups = fp.fingerprint_and_group(texts)
    return Prepared(received, todo, texts, [fold(t) for t in texts], moods, emotions, prints, groups)


def store(enterprise: Enterprise, items: list[Incoming] | Prepared) -> Stored:
    """Store the new items of `items` (or of a batch `prepare`d before the transaction) as
    Mentions (see the module's docstring). An item stored between `prepare` and `store` by
    another worker is skipped by the unique constraint."""
    batch = items if isinstance(items, Prepared) else prepare(enterprise, items)
    received, todo = batch.received, batch.todo
    if not todo:
        return Stored(received, 0, received)
    now = clock.now()
    voices = _voices(enterprise, batch.groups, batch.prints, now)
    authors = _authors(enterprise, todo, now)
    received_at = db_datetime(now)
    rows = [
        (
            enterprise.pk, item.platform, item.remote_id[:64], item.kind, item.account_id,
            item.stream_id, item.source, authors.get((item.platform, item.author_id[:64])), text,
            norm, item.url[:300], (item.in_reply_to_id or item.remote_id)[:64],
            item.in_reply_to_id[:64], item.reply_to_comment_id[:64], mood, emotion,
            signed64(value), voice, db_datetime(item.created_at), received_at,
        )
        for item, text, norm, mood, emotion, value, voice in zip(
            todo, batch.texts, batch.folded, batch.moods, batch.emotions, batch.prints, voices, strict=True
        )
    ]  # fmt: skip
    insert_ignore(Mention, MENTION_COLUMNS, rows)
    # ON CONFLICT DO NOTHING: a row another worker stored meanwhile is skipped, not an error.
    # Count what this call really added, then grow the voices by it.
    stored_ids = set(
        Mention.objects.filter(
            _keyed((r[1], r[2]) for r in rows), enterprise=enterprise, received_at=now
        ).values_list("remote_id", "voice_id")
    )
    sizes: dict[int, int] = {}
    for _remote, voice in stored_ids:
        if voice is not None:
            sizes[voice] = sizes.get(voice, 0) + 1
    by_increment: dict[int, list[int]] = {}
    for voice, n in sizes.items():
        by_increment.setdefault(n, []).append(voice)
    for n, voice_ids in by_increment.items():  # a query per distinct increment, not per voice
        Voice.objects.filter(pk__in=voice_ids).update(size=F("size") + n)
    stored = len(stored_ids)
    return Stored(received, stored, received - stored)

"""The one ingest stage: platform items in, Mentions out — each item once per enterprise, with
the processing every area wants done once (normalise → sentiment and emotion → fingerprint →
voice), in batches with bulk writes.

`store(enterprise, items)` runs in the caller's transaction (a stream's cursor moves in the same
one, so a crash re-reads and never skips). A duplicate — an item already stored, twice in the
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

from django.db.models import F

from guanwei.core import clock
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


@dataclass
class Stored:
    received: int
    stored: int
    duplicates: int


def signed64(value: int) -> int:
    """A 64-bit unsigned fingerprint as the signed BIGINT a database column holds."""
    return value - (1 << 64) if value >= (1 << 63) else value


def _authors(enterprise: Enterprise, items: list[Incoming], now: datetime) -> dict[tuple[str, str], int]:
    """Upsert the batch's authors (bulk); their ids by (platform, remote id)."""
    latest: dict[tuple[str, str], Incoming] = {}
    for item in items:
        if item.author_id:
            latest[(item.platform, item.author_id)] = item
    if not latest:
        return {}
    existing = {
        (a.platform, a.remote_id): a
        for a in Author.objects.filter(
            enterprise=enterprise, remote_id__in={k[1] for k in latest}
        )
    }
    fresh, changed = [], []
    for key, item in latest.items():
        values = {
            "screen_name": item.author_name[:100], "verified_type": item.author_verified_type,
            "followers_count": item.author_followers, "region": item.author_region[:60],
            "gender": item.author_gender[:4],
        }  # fmt: skip
        author = existing.get(key)
        if author is None:
            fresh.append(Author(enterprise=enterprise, platform=key[0], remote_id=key[1],
                                refreshed_at=now, **values))  # fmt: skip
        else:
            # A DM push knows only the sender's id: keep what an earlier read told us.
            values = {k: v for k, v in values.items() if v not in (None, "")}
            if any(getattr(author, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(author, k, v)
                author.refreshed_at = now
                changed.append(author)
    if fresh:
        Author.objects.bulk_create(fresh, ignore_conflicts=True)
    if changed:
        Author.objects.bulk_update(
            changed, ["screen_name", "verified_type", "followers_count", "region", "gender", "refreshed_at"]
        )
    return {
        (a.platform, a.remote_id): a.pk
        for a in Author.objects.filter(enterprise=enterprise, remote_id__in={k[1] for k in latest})
        if (a.platform, a.remote_id) in latest
    }


def _voices(enterprise: Enterprise, texts: list[str], prints: list[int], now: datetime) -> list[int]:
    """The voice id of each text: the batch's near-duplicates share one, which joins (or starts)
    the voice of the group's first fingerprint."""
    groups = fp.group_voices(texts) if len(texts) > 1 else [0] * len(texts)
    key_of_group: dict[int, int] = {}
    keys = []
    for group, value in zip(groups, prints, strict=True):
        keys.append(key_of_group.setdefault(group, signed64(value)))
    known = {
        v.fingerprint: v.pk
        for v in Voice.objects.filter(enterprise=enterprise, fingerprint__in=set(keys))
    }
    new = [Voice(enterprise=enterprise, fingerprint=k, first_seen_at=now) for k in set(keys) - set(known)]
    if new:
        Voice.objects.bulk_create(new, ignore_conflicts=True)
        known.update(
            Voice.objects.filter(enterprise=enterprise, fingerprint__in=[v.fingerprint for v in new])
            .values_list("fingerprint", "pk")
        )
    return [known[k] for k in keys]


def store(enterprise: Enterprise, items: list[Incoming]) -> Stored:
    """Store the new items of `items` as Mentions (see the module's docstring)."""
    received = len(items)
    unique: dict[tuple[str, str], Incoming] = {}
    for item in items:
        unique.setdefault((item.platform, item.remote_id), item)
    if not unique:
        return Stored(received, 0, received)
    have = set(
        Mention.objects.filter(
            enterprise=enterprise, remote_id__in={k[1] for k in unique}
        ).values_list("platform", "remote_id")
    )
    todo = [item for key, item in unique.items() if key not in have]
    if not todo:
        return Stored(received, 0, received)
    now = clock.now()
    texts = [item.text[:MAX_TEXT] for item in todo]
    folded = [fold(t) for t in texts]
    moods = sentiment.classify(texts)
    emotions = sentiment.emotions(texts)
    prints = fp.fingerprint(texts)
    voices = _voices(enterprise, texts, prints, now)
    authors = _authors(enterprise, todo, now)
    rows = [
        Mention(
            enterprise=enterprise, platform=item.platform, remote_id=item.remote_id[:64],
            kind=item.kind, account_id=item.account_id, stream_id=item.stream_id,
            source=item.source, author_id=authors.get((item.platform, item.author_id)),
            text=text, normalized=norm, url=item.url[:300],
            thread_id=(item.in_reply_to_id or item.remote_id)[:64],
            in_reply_to_id=item.in_reply_to_id[:64], reply_to_comment_id=item.reply_to_comment_id[:64],
            sentiment=mood, emotion=emotion, fingerprint=signed64(value), voice_id=voice,
            created_at=item.created_at, received_at=now,
        )
        for item, text, norm, mood, emotion, value, voice in zip(
            todo, texts, folded, moods, emotions, prints, voices, strict=True
        )
    ]  # fmt: skip
    created = Mention.objects.bulk_create(rows, ignore_conflicts=True)
    # ignore_conflicts: a row another worker stored meanwhile is skipped, not an error. Count
    # what is really there now, then grow the voices by what this call added.
    stored_ids = set(
        Mention.objects.filter(
            enterprise=enterprise, remote_id__in=[r.remote_id for r in created], received_at=now
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

"""Matching mentions against monitors.

* `matcher_for(enterprise_id)` — all of an enterprise's active monitors compiled into one textkit
  Matcher (one automaton over every literal), rebuilt when any rule changes (an aggregate of the
  monitors — count, largest id, latest change — is compared; this works across processes).
* `handle(mentions)` — the listening consumer "monitoring": a batch of mentions, matched in one
  pass per enterprise; each match stored once (mention × monitor) and counted into its minute.
  It runs inside listening's consumer transaction, so each mention is counted exactly once.
* `backfill(monitor)` — a new or changed rule applied to the last BACKFILL_DAYS of mentions the
  consumer has already seen (under the consumer's cursor lock, so nothing is counted twice);
  that window's counters are then recounted from the matches.
* `preview(enterprise_id, rule)` — what a rule would have matched in the last 7 days, per day.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Max
from django_tasks import task

from guanwei.core import clock
from guanwei.core.bulk import db_datetime, insert_add, insert_ignore
from guanwei.listening.models import ConsumerCursor, Mention
from guanwei.monitoring import spikes
from guanwei.monitoring.models import COUNTERS, MinuteCount, Monitor, MonitorMatch
from guanwei.textkit.query import Matcher, MatchText, compile_rules, verified_classes

CONSUMER = "monitoring"
BACKFILL_DAYS = 7
PREVIEW_LIMIT = 50_000
# What matching and counting read of a mention (listening loads only these for the consumer)
FIELDS = ("enterprise_id", "text", "normalized", "sentiment", "emotion", "voice_id", "created_at",
          "author__screen_name", "author__verified_type", "author__region", "author__followers_count",
          "account__screen_name")  # fmt: skip  # mentions a preview looks at (the newest)
_cache: dict[int, tuple[tuple[Any, ...], Matcher[int] | None]] = {}
_lock = threading.Lock()


def matcher_for(enterprise_id: int) -> Matcher[int] | None:
    active = Monitor.objects.filter(enterprise_id=enterprise_id, is_active=True)
    # Every change of a rule moves updated_at (monitoring.actions), a new monitor the largest id,
    # a deletion or a switch the count: one aggregate tells whether the cached matcher is stale
    # (reading every rule per batch cost a second a thousand batches at 10,000 monitors).
    stamp = tuple(active.aggregate(n=Count("pk"), top=Max("pk"), changed=Max("updated_at")).values())
    cached = _cache.get(enterprise_id)
    if cached and cached[0] == stamp:
        return cached[1]
    rules = dict(active.values_list("pk", "rule"))
    matcher = compile_rules(rules) if rules else None
    with _lock:
        _cache[enterprise_id] = (stamp, matcher)
    return matcher


def match_text(mention: Mention) -> MatchText:
    author = mention.author
    return MatchText(
        mention.text,
        author=author.screen_name if author else "",
        verified_type=author.verified_type if author else None,
        region=author.region if author else "",
        account=mention.account.screen_name if mention.account else "",
    )


def hits_of(matcher: Matcher[int], mentions: list[Mention]) -> list[list[int]]:
    """The monitors each mention matches (its `normalized` text is already folded)."""
    return matcher.match_prefolded([m.normalized for m in mentions], [match_text(m) for m in mentions])


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


MATCH_COLUMNS = ["enterprise_id", "monitor_id", "mention_id", "created_at", "sentiment", "emotion", "voice_id",
                 "verified", "followers"]  # fmt: skip
# What a counter needs of a match: (monitor id, time, sentiment, emotion, followers, verified)
Counted = tuple[int, datetime, str, str, int, bool]


def _facts(mention: Mention) -> tuple[bool, int]:
    """(verified, followers) of a mention's author, as a match keeps them."""
    author = mention.author
    if author is None:
        return False, 0
    return "true" in verified_classes(author.verified_type), author.followers_count or 0


def _increments(matches: Iterable[Counted]) -> dict[tuple[int, datetime], Counter[str]]:
    out: dict[tuple[int, datetime], Counter[str]] = defaultdict(Counter)
    for monitor_id, created_at, sentiment, emotion, followers, verified in matches:
        c = out[(monitor_id, _minute(created_at))]
        c["volume"] += 1
        if sentiment in ("positive", "neutral", "negative"):
            c[sentiment] += 1
        emotion = "calm" if emotion == "neutral" else emotion
        if emotion in COUNTERS:
            c[emotion] += 1
        c["reach"] += followers
        c["verified"] += int(verified)
    return out


def _add_counts(increments: dict[tuple[int, datetime], Counter[str]]) -> None:
    """Add to the minute rows, one upsert per batch (the caller holds the consumer's lock)."""
    insert_add(
        MinuteCount, ["monitor_id", "minute"], COUNTERS,
        [(monitor_id, db_datetime(minute), *(counts.get(k, 0) for k in COUNTERS))
         for (monitor_id, minute), counts in increments.items()],
    )  # fmt: skip


def _store_matches(pairs: list[tuple[int, Mention]]) -> list[Counted]:
    """Store (monitor id, mention) matches; returns what their counters need."""
    facts = {m.pk: _facts(m) for _monitor_id, m in pairs}
    moments = {m.pk: db_datetime(m.created_at) for _monitor_id, m in pairs}
    insert_ignore(MonitorMatch, MATCH_COLUMNS, [
        (m.enterprise_id, monitor_id, m.pk, moments[m.pk], m.sentiment, m.emotion, m.voice_id, *facts[m.pk])
        for monitor_id, m in pairs
    ])  # fmt: skip
    return [
        (monitor_id, m.created_at, m.sentiment, m.emotion, facts[m.pk][1], facts[m.pk][0])
        for monitor_id, m in pairs
    ]


def handle(mentions: list[Mention]) -> None:
    """The consumer: match a batch, store the matches, count them. Each mention is handed out
    once (the consumer's cursor), so each match is stored and counted once."""
    by_enterprise: dict[int, list[Mention]] = defaultdict(list)
    for mention in mentions:
        by_enterprise[mention.enterprise_id].append(mention)
    pairs: list[tuple[int, Mention]] = []
    for enterprise_id, batch in by_enterprise.items():
        matcher = matcher_for(enterprise_id)
        if matcher is None:
            continue
        for mention, hits in zip(batch, hits_of(matcher, batch), strict=True):
            pairs.extend((monitor_id, mention) for monitor_id in hits)
    if pairs:
        _add_counts(_increments(_store_matches(pairs)))
        touched = {monitor_id for monitor_id, _mention in pairs}
        transaction.on_commit(lambda: spikes.detect_soon(touched))


def recount(monitor: Monitor, since: datetime) -> None:
    """The monitor's minute counters from `since` on, recounted from its matches."""
    MinuteCount.objects.filter(monitor=monitor, minute__gte=_minute(since)).delete()
    matches = MonitorMatch.objects.filter(monitor=monitor, created_at__gte=_minute(since)).values_list(
        "monitor_id", "created_at", "sentiment", "emotion", "followers", "verified"
    )  # fmt: skip
    _add_counts(_increments(matches.iterator(chunk_size=2000)))


def backfill(monitor: Monitor) -> int:
    """Apply the monitor's (new) rule to the last BACKFILL_DAYS of mentions the consumer has
    handed out; returns how many matched. Holds the consumer's cursor meanwhile."""
    since = clock.now() - timedelta(days=BACKFILL_DAYS)
    matcher = compile_rules({monitor.pk: monitor.rule})
    ConsumerCursor.objects.get_or_create(name=CONSUMER)
    with transaction.atomic():
        cursor = ConsumerCursor.objects.select_for_update().get(name=CONSUMER)
        MonitorMatch.objects.filter(monitor=monitor, created_at__gte=since).delete()
        found = 0
        mentions = (
            Mention.objects.filter(enterprise_id=monitor.enterprise_id, created_at__gte=since, pk__lte=cursor.last_id)
            .select_related("author", "account").order_by("pk")
        )  # fmt: skip
        batch: list[Mention] = []

        def flush() -> int:
            hits = hits_of(matcher, batch)
            matched = _store_matches(
                [(monitor.pk, m) for m, h in zip(batch, hits, strict=True) if h]
            )
            batch.clear()
            return len(matched)  # counted by the recount below

        for mention in mentions.iterator(chunk_size=2000):
            batch.append(mention)
            if len(batch) >= 2000:
                found += flush()
        if batch:
            found += flush()
        recount(monitor, since)
    return found


@task()
def backfill_monitor(monitor_id: int) -> int:
    """monitoring.backfill_monitor — a new or changed rule over the last 7 days' mentions."""
    monitor = Monitor.objects.filter(pk=monitor_id, is_active=True).first()
    return backfill(monitor) if monitor else 0


def preview(enterprise_id: int, rule: str, days: int = 7) -> dict[str, Any]:
    """What `rule` would have matched in the last `days` days (the newest PREVIEW_LIMIT mentions):
    counts per day and by sentiment, and a few examples. Raises QuerySyntaxError."""
    matcher = compile_rules({0: rule})
    since = clock.now() - timedelta(days=days)
    mentions = list(
        Mention.objects.filter(enterprise_id=enterprise_id, created_at__gte=since)
        .select_related("author", "account").order_by("-pk")[:PREVIEW_LIMIT]
    )  # fmt: skip
    hits = [
        m
        for m, h in zip(mentions, hits_of(matcher, mentions), strict=True)
        if h
    ]
    per_day = Counter(m.created_at.date().isoformat() for m in hits)
    return {
        "looked_at": len(mentions), "matched": len(hits), "truncated": len(mentions) >= PREVIEW_LIMIT,
        "per_day": sorted(per_day.items()), "sentiment": dict(Counter(m.sentiment for m in hits)),
        "examples": hits[:10], "warnings": matcher.warnings.get(0, []),
    }  # fmt: skip

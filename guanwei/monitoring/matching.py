"""Matching mentions against monitors.

* `matcher_for(enterprise_id)` — all of an enterprise's active monitors compiled into one textkit
  Matcher (one automaton over every literal), rebuilt when any rule changes (an aggregate of the
  monitors — count, largest id, latest change — is compared; this works across processes).
* `prepare(rows)` + `handle(rows, planned)` — the listening consumer "monitoring": a batch of
  mentions (light rows), matched in one pass per enterprise before the consumer's transaction;
  inside it, each match stored once (mention × monitor) and counted into its minute and its hour
  (MinuteCount, HourCount). The writes and the cursor's move commit together, so each mention is
  counted exactly once.
* `backfill(monitor)` — a new or changed rule applied to the last BACKFILL_DAYS of mentions the
  consumer has already seen (under the consumer's cursor lock, so nothing is counted twice);
  that window's counters are then recounted from the matches.
* `preview(enterprise_id, rule)` — what a rule would have matched in the last 7 days, per day.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, QuerySet
from django_tasks import task

from guanwei.core import clock
from guanwei.core.bulk import datetime_adapter, insert_add, insert_ignore
from guanwei.listening.models import ConsumerCursor, Mention
from guanwei.monitoring import spikes
from guanwei.monitoring.models import COUNTERS, HourCount, MinuteCount, Monitor, MonitorMatch
from guanwei.textkit.query import Matcher, MatchText, compile_rules, verified_classes

CONSUMER = "monitoring"
BACKFILL_DAYS = 7
PREVIEW_LIMIT = 50_000
# What matching and counting read of a mention. The consumer is handed light rows of them (named
# tuples, `id` first, listening's consumers.register(fields=…)): building Mention, Author and
# Account objects was the largest part of the consumer's cost.
FIELDS = ("enterprise_id", "text", "normalized", "sentiment", "emotion", "voice_id", "created_at",
          "author_id", "author__screen_name", "author__verified_type", "author__region",
          "author__followers_count", "account__screen_name")  # fmt: skip
Row = Any  # a named tuple: id and FIELDS
_cache: dict[int, tuple[tuple[Any, ...], Matcher[int] | None]] = {}
_lock = threading.Lock()


def rows_of(mentions: QuerySet[Mention]) -> list[Row]:
    """The rows matching reads, of these mentions (in the queryset's order)."""
    return list(mentions.values_list("id", *FIELDS, named=True))


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


def match_text(row: Row) -> MatchText:
    return MatchText(
        row.text,
        author=row.author__screen_name or "",
        verified_type=row.author__verified_type,
        region=row.author__region or "",
        account=row.account__screen_name or "",
    )


def hits_of(matcher: Matcher[int], rows: list[Row]) -> list[list[int]]:
    """The monitors each row matches (its `normalized` text is already folded)."""
    return matcher.match_prefolded([r.normalized for r in rows], [match_text(r) for r in rows])


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


MATCH_COLUMNS = ["enterprise_id", "monitor_id", "mention_id", "created_at", "sentiment", "emotion", "voice_id",
                 "verified", "followers"]  # fmt: skip
# What a counter needs of a match: (monitor id, time, sentiment, emotion, followers, verified)
Counted = tuple[int, datetime, str, str, int, bool]


def _facts(row: Row) -> tuple[bool, int]:
    """(verified, followers) of a mention's author, as a match keeps them."""
    if row.author_id is None:
        return False, 0
    return "true" in verified_classes(row.author__verified_type), row.author__followers_count or 0


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


def _by_hour(increments: dict[tuple[int, datetime], Counter[str]]) -> dict[tuple[int, datetime], Counter[str]]:
    hours: dict[tuple[int, datetime], Counter[str]] = defaultdict(Counter)
    for (monitor_id, minute), counts in increments.items():
        hours[(monitor_id, _hour(minute))].update(counts)
    return hours


def _count_rows(increments: dict[tuple[int, datetime], Counter[str]]) -> list[tuple[Any, ...]]:
    adapt = datetime_adapter()
    return [
        (monitor_id, adapt(moment), *(counts.get(k, 0) for k in COUNTERS))
        for (monitor_id, moment), counts in increments.items()
    ]


@dataclass
class Counts:
    """Rows to add to the minute counters and to their hours'."""

    minutes: list[tuple[Any, ...]]
    hours: list[tuple[Any, ...]]

    @classmethod
    def of(cls, increments: dict[tuple[int, datetime], Counter[str]]) -> Counts:
        return cls(_count_rows(increments), _count_rows(_by_hour(increments)))


def _add_counts(counts: Counts) -> None:
    """Add to the minute rows and their hours, one upsert each per batch (the caller holds the
    consumer's lock: the two agree at every commit)."""
    insert_add(MinuteCount, ["monitor_id", "minute"], COUNTERS, counts.minutes)
    insert_add(HourCount, ["monitor_id", "hour"], COUNTERS, counts.hours)


def _match_rows(pairs: list[tuple[int, Row]]) -> tuple[list[tuple[Any, ...]], list[Counted]]:
    """The MonitorMatch rows of (monitor id, mention row) pairs, and what their counters need."""
    adapt = datetime_adapter()
    facts = {r.id: _facts(r) for _monitor_id, r in pairs}
    moments = {r.id: adapt(r.created_at) for _monitor_id, r in pairs}
    stored = [
        (r.enterprise_id, monitor_id, r.id, moments[r.id], r.sentiment, r.emotion, r.voice_id, *facts[r.id])
        for monitor_id, r in pairs
    ]  # fmt: skip
    counted = [
        (monitor_id, r.created_at, r.sentiment, r.emotion, facts[r.id][1], facts[r.id][0])
        for monitor_id, r in pairs
    ]
    return stored, counted


@dataclass
class Planned:
    """What a batch will write, worked out before the consumer's lock (`prepare`)."""

    matchers: dict[int, Matcher[int] | None]
    matches: list[tuple[Any, ...]]
    counts: Counts
    touched: set[int]


def prepare(rows: list[Row]) -> Planned:
    """Match a batch and work out its match and counter rows: reads and CPU only, done by
    listening outside the transaction that holds the consumer's cursor (on SQLite, the one
    write lock), so the store stage is not held up by matching."""
    by_enterprise: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        by_enterprise[row.enterprise_id].append(row)
    pairs: list[tuple[int, Row]] = []
    matchers: dict[int, Matcher[int] | None] = {}
    for enterprise_id, batch in by_enterprise.items():
        matcher = matchers[enterprise_id] = matcher_for(enterprise_id)
        if matcher is None:
            continue
        for row, hits in zip(batch, hits_of(matcher, batch), strict=True):
            pairs.extend((monitor_id, row) for monitor_id in hits)
    matches, counted = _match_rows(pairs)
    return Planned(matchers, matches, Counts.of(_increments(counted)), {m for m, _r in pairs})


def handle(rows: list[Row], planned: Planned | None = None) -> None:
    """The consumer: store a batch's matches and count them. Each mention is handed out once
    (the consumer's cursor), so each match is stored and counted once. A plan made with a
    matcher that has changed since (a rule edited meanwhile) is made again, here, under the lock."""
    if planned is None or any(matcher_for(e) is not m for e, m in planned.matchers.items()):
        planned = prepare(rows)
    if planned.matches:
        insert_ignore(MonitorMatch, MATCH_COLUMNS, planned.matches)
        _add_counts(planned.counts)
        touched = planned.touched
        transaction.on_commit(lambda: spikes.detect_soon(touched))


def recount(monitor: Monitor, since: datetime) -> None:
    """The monitor's minute counters from `since` on, recounted from its matches, and the hours
    they fall in (an hour begun before `since` keeps its earlier minutes)."""
    start = _minute(since.astimezone(UTC))  # hours are UTC hours
    MinuteCount.objects.filter(monitor=monitor, minute__gte=start).delete()
    matches = MonitorMatch.objects.filter(monitor=monitor, created_at__gte=start).values_list(
        "monitor_id", "created_at", "sentiment", "emotion", "followers", "verified"
    )  # fmt: skip
    insert_add(MinuteCount, ["monitor_id", "minute"], COUNTERS, _count_rows(_increments(matches.iterator(chunk_size=2000))))
    HourCount.objects.filter(monitor=monitor, hour__gte=_hour(start)).delete()
    minutes = MinuteCount.objects.filter(monitor=monitor, minute__gte=_hour(start)).values_list("minute", *COUNTERS)
    hours: dict[tuple[int, datetime], Counter[str]] = defaultdict(Counter)
    for minute, *values in minutes.iterator(chunk_size=2000):
        hours[(monitor.pk, _hour(minute))].update(dict(zip(COUNTERS, values, strict=True)))
    insert_add(HourCount, ["monitor_id", "hour"], COUNTERS, _count_rows(hours))


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
        mentions = Mention.objects.filter(
            enterprise_id=monitor.enterprise_id, created_at__gte=since, pk__lte=cursor.last_id
        ).order_by("pk")
        last = 0
        while True:  # in pages of 2,000 by id (rows, not model objects)
            batch = rows_of(mentions.filter(pk__gt=last)[:2000])
            if not batch:
                break
            last = batch[-1].id
            hits = hits_of(matcher, batch)
            matches, _counted = _match_rows([(monitor.pk, r) for r, h in zip(batch, hits, strict=True) if h])
            insert_ignore(MonitorMatch, MATCH_COLUMNS, matches)
            found += len(matches)  # counted by the recount below
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
    rows = rows_of(
        Mention.objects.filter(enterprise_id=enterprise_id, created_at__gte=since).order_by("-pk")[:PREVIEW_LIMIT]
    )
    hits = [r for r, h in zip(rows, hits_of(matcher, rows), strict=True) if h]
    examples = Mention.objects.filter(pk__in=[r.id for r in hits[:10]]).select_related("author").order_by("-pk")
    per_day = Counter(m.created_at.date().isoformat() for m in hits)
    return {
        "looked_at": len(rows), "matched": len(hits), "truncated": len(rows) >= PREVIEW_LIMIT,
        "per_day": sorted(per_day.items()), "sentiment": dict(Counter(m.sentiment for m in hits)),
        "examples": list(examples), "warnings": matcher.warnings.get(0, []),
    }  # fmt: skip

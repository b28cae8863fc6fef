"""Matching mentions against monitors.

* `matcher_for(enterprise_id)` — all of an enterprise's active monitors compiled into one textkit
  Matcher (one automaton over every literal), rebuilt when any rule changes (the rules are read
  each time — at most MAX_MONITORS short rows — and compared; this works across processes).
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
from django.db.models import F
from django_tasks import task

from guanwei.core import clock
from guanwei.listening.models import ConsumerCursor, Mention
from guanwei.monitoring.models import COUNTERS, MinuteCount, Monitor, MonitorMatch
from guanwei.textkit.query import Matcher, MatchText, compile_rules, verified_classes

CONSUMER = "monitoring"
BACKFILL_DAYS = 7
PREVIEW_LIMIT = 50_000  # mentions a preview looks at (the newest)
_cache: dict[int, tuple[tuple[Any, ...], Matcher[int] | None]] = {}
_lock = threading.Lock()


def matcher_for(enterprise_id: int) -> Matcher[int] | None:
    rules = dict(Monitor.objects.filter(enterprise_id=enterprise_id, is_active=True).values_list("pk", "rule"))
    stamp = tuple(sorted(rules.items()))
    cached = _cache.get(enterprise_id)
    if cached and cached[0] == stamp:
        return cached[1]
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


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _match_row(monitor_id: int, mention: Mention) -> MonitorMatch:
    author = mention.author
    return MonitorMatch(
        enterprise_id=mention.enterprise_id, monitor_id=monitor_id, mention=mention, created_at=mention.created_at,
        sentiment=mention.sentiment, emotion=mention.emotion, voice_id=mention.voice_id,
        verified="true" in verified_classes(author.verified_type if author else None),
        followers=(author.followers_count or 0) if author else 0,
    )  # fmt: skip


def _increments(matches: Iterable[MonitorMatch]) -> dict[tuple[int, datetime], Counter[str]]:
    out: dict[tuple[int, datetime], Counter[str]] = defaultdict(Counter)
    for m in matches:
        c = out[(m.monitor_id, _minute(m.created_at))]
        c["volume"] += 1
        if m.sentiment in ("positive", "neutral", "negative"):
            c[m.sentiment] += 1
        emotion = "calm" if m.emotion == "neutral" else m.emotion
        if emotion in COUNTERS:
            c[emotion] += 1
        c["reach"] += m.followers
        c["verified"] += int(m.verified)
    return out


def _add_counts(increments: dict[tuple[int, datetime], Counter[str]]) -> None:
    """Add to the minute rows (the caller holds the consumer's lock: no one else adds)."""
    existing = {
        (c.monitor_id, c.minute): c
        for c in MinuteCount.objects.filter(
            monitor_id__in={k[0] for k in increments}, minute__in={k[1] for k in increments}
        )
    }
    new = []
    for (monitor_id, minute), counts in increments.items():
        row = existing.get((monitor_id, minute))
        if row is None:
            new.append(MinuteCount(monitor_id=monitor_id, minute=minute, **counts))
        else:
            MinuteCount.objects.filter(pk=row.pk).update(**{k: F(k) + v for k, v in counts.items()})
    MinuteCount.objects.bulk_create(new, batch_size=500)


def handle(mentions: list[Mention]) -> None:
    """The consumer: match a batch, store the matches, count them."""
    by_enterprise: dict[int, list[Mention]] = defaultdict(list)
    for mention in mentions:
        by_enterprise[mention.enterprise_id].append(mention)
    rows: list[MonitorMatch] = []
    for enterprise_id, batch in by_enterprise.items():
        matcher = matcher_for(enterprise_id)
        if matcher is None:
            continue
        for mention, hits in zip(batch, matcher.match([match_text(m) for m in batch]), strict=True):
            rows.extend(_match_row(monitor_id, mention) for monitor_id in hits)
    if rows:
        MonitorMatch.objects.bulk_create(rows, batch_size=500)
        _add_counts(_increments(rows))


def recount(monitor: Monitor, since: datetime) -> None:
    """The monitor's minute counters from `since` on, recounted from its matches."""
    MinuteCount.objects.filter(monitor=monitor, minute__gte=_minute(since)).delete()
    matches = MonitorMatch.objects.filter(monitor=monitor, created_at__gte=_minute(since))
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
            hits = matcher.match([match_text(m) for m in batch])
            rows = [_match_row(monitor.pk, m) for m, h in zip(batch, hits, strict=True) if h]
            MonitorMatch.objects.bulk_create(rows, batch_size=500)
            batch.clear()
            return len(rows)

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
    hits = [m for m, h in zip(mentions, matcher.match([match_text(m) for m in mentions]), strict=True) if h]
    per_day = Counter(m.created_at.date().isoformat() for m in hits)
    return {
        "looked_at": len(mentions), "matched": len(hits), "truncated": len(mentions) >= PREVIEW_LIMIT,
        "per_day": sorted(per_day.items()), "sentiment": dict(Counter(m.sentiment for m in hits)),
        "examples": hits[:10], "warnings": matcher.warnings,
    }  # fmt: skip

"""What the monitoring pages and the API read: a monitor's counters over a period (by hour or by
day, in the enterprise's time zone, summed in the database from the hour rows and, at the
period's ragged start, the minute rows: `counted`), a summary with
unique voices, top posts, voices, authors and terms, the filtered list of matched mentions, and
share of voice (in total and over time)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour, TruncMinute
from django.http import QueryDict
from django.utils.translation import gettext as _

from guanwei.core import clock
from guanwei.core.errors import ActionError
from guanwei.core.models import Member
from guanwei.monitoring.models import (
    COUNTERS,
    EMOTIONS,
    HourCount,
    MinuteCount,
    Monitor,
    MonitorMatch,
)

PERIODS = {"24h": (timedelta(hours=24), "hour"), "7d": (timedelta(days=7), "hour"), "30d": (timedelta(days=30), "day")}
TRUNC = {"minute": TruncMinute, "hour": TruncHour, "day": TruncDay}
STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def period_of(value: str) -> tuple[str, datetime, str]:
    """('24h'|'7d'|'30d', since, bucket) — unknown values are the default 24 h."""
    name = value if value in PERIODS else "24h"
    span, bucket = PERIODS[name]
    return name, clock.now() - span, bucket


def _hours_from(since: datetime, bucket: str | None, tz: ZoneInfo | None) -> datetime | None:
    """Where the hour rows take over from the minute rows: the first whole hour at or after
    `since`. None (minutes only) for minute buckets, and for buckets drawn in a zone whose offset
    is not whole hours (an hour row would straddle two of its buckets)."""
    if bucket == "minute":
        return None
    if bucket and tz is not None:
        offsets = (at.astimezone(tz).utcoffset() or timedelta() for at in (since, clock.now()))
        if any(offset % timedelta(hours=1) for offset in offsets):
            return None
    since = since.astimezone(UTC)  # the rows' hours are UTC hours
    hour = since.replace(minute=0, second=0, microsecond=0)
    return hour if hour == since else hour + timedelta(hours=1)


def counted(
    since: datetime, *, where: dict[str, Any], by: tuple[str, ...] = (), bucket: str | None = None,
    tz: ZoneInfo | None = None, fields: tuple[str, ...] = COUNTERS,
) -> dict[tuple[Any, ...], dict[str, int]]:  # fmt: skip
    """Counters from `since` to now, summed per key: the values of the `by` fields, then (with
    a bucket) the bucket's start, naive in `tz`. `where` filters both row kinds (e.g.
    {"monitor": m}). Whole hours are read from HourCount, the minutes before the first of them
    from MinuteCount: the sums equal the minutes' exactly, at a 60th of the rows."""
    edge = _hours_from(since, bucket, tz)
    out: dict[tuple[Any, ...], dict[str, int]] = {}
    minutes = MinuteCount.objects.filter(minute__gte=since, **where)
    if edge is None:
        sources: tuple[tuple[QuerySet[Any], str], ...] = ((minutes, "minute"),)
    else:
        sources = ((HourCount.objects.filter(hour__gte=edge, **where), "hour"),
                   (minutes.filter(minute__lt=edge), "minute"))  # fmt: skip
    sums = {f: Sum(f) for f in fields}
    for qs, field in sources:
        names = list(by)
        if bucket:
            qs = qs.annotate(at=TRUNC[bucket](field, tzinfo=tz))
            names.append("at")
        rows = qs.values(*names).annotate(**sums).order_by() if names else [qs.aggregate(**sums)]
        for row in rows:
            key = tuple(row[n] for n in by)
            if bucket:
                key += (row["at"].astimezone(tz).replace(tzinfo=None),)
            into = out.setdefault(key, dict.fromkeys(fields, 0))
            for f in fields:
                into[f] += int(row[f] or 0)
    return out


def series(monitor: Monitor, since: datetime, bucket: str, tz: ZoneInfo) -> list[dict[str, Any]]:
    """One row per bucket from `since` to now (empty buckets included), counters summed."""
    found = {key[0]: row for key, row in counted(since, where={"monitor": monitor}, bucket=bucket, tz=tz).items()}
    start = TRUNC_PY[bucket](since.astimezone(tz).replace(tzinfo=None))
    end = clock.now().astimezone(tz).replace(tzinfo=None)
    out = []
    at = start
    while at <= end:
        row = found.get(at) or {}
        out.append({"at": at, **{k: int(row.get(k) or 0) for k in COUNTERS}})
        at += STEP[bucket]
    return out


TRUNC_PY = {
    "minute": lambda d: d.replace(second=0, microsecond=0),
    "hour": lambda d: d.replace(minute=0, second=0, microsecond=0),
    "day": lambda d: d.replace(hour=0, minute=0, second=0, microsecond=0),
}


@dataclass
class Summary:
    volume: int
    voices: int
    positive: int
    neutral: int
    negative: int
    reach: int
    verified: int
    emotions: list[tuple[str, int]]

    @property
    def negative_share(self) -> float:
        return self.negative / self.volume if self.volume else 0.0


def summary(monitor: Monitor, since: datetime) -> Summary:
    """Totals of the period; unique voices from the matches (near-duplicates and 水军 copies are
    one voice; a mention without a voice is its own)."""
    totals = counted(since, where={"monitor": monitor})[()]
    matches = MonitorMatch.objects.filter(monitor=monitor, created_at__gte=since)
    voices = matches.aggregate(v=Count("voice_id", distinct=True), loose=Count("pk", filter=Q(voice_id__isnull=True)))
    emotions = [(e, totals["calm" if e == "neutral" else e]) for e in EMOTIONS]
    return Summary(totals["volume"], voices["v"] + voices["loose"], totals["positive"], totals["neutral"],
                   totals["negative"], totals["reach"], totals["verified"], emotions)  # fmt: skip


def top_posts(monitor: Monitor, since: datetime, limit: int = 10) -> list[MonitorMatch]:
    """The matched posts with the largest audience (their authors' followers)."""
    return list(
        MonitorMatch.objects.filter(monitor=monitor, created_at__gte=since)
        .select_related("mention__author").order_by("-followers", "-created_at")[:limit]
    )  # fmt: skip


def top_voices(monitor: Monitor, since: datetime, limit: int = 10) -> list[dict[str, Any]]:
    """Near-duplicate groups by how many times they were said in the period, with an example."""
    groups = list(
        MonitorMatch.objects.filter(monitor=monitor, created_at__gte=since, voice_id__isnull=False)
        .values("voice_id").annotate(n=Count("pk")).order_by("-n")[:limit]
    )  # fmt: skip
    examples = {}
    for m in MonitorMatch.objects.filter(monitor=monitor, voice_id__in=[g["voice_id"] for g in groups]).select_related(
        "mention"
    ).order_by("created_at"):  # fmt: skip
        examples.setdefault(m.voice_id, m.mention)
    return [{"size": g["n"], "example": examples.get(g["voice_id"])} for g in groups]


def top_authors(monitor: Monitor, since: datetime, limit: int = 10) -> list[dict[str, Any]]:
    return list(
        MonitorMatch.objects.filter(monitor=monitor, created_at__gte=since, mention__author__isnull=False)
        .values("mention__author__screen_name", "mention__author__verified_type", "mention__author__followers_count")
        .annotate(n=Count("pk")).order_by("-n")[:limit]
    )  # fmt: skip


FILTERS = ("sentiment", "emotion", "verified", "source", "region")
MAX_REGION = 60  # Author.region's length
# A region is words (any script) and spaces: "北京", "广东 深圳", "海外 美国", "Hong Kong".
_REGION = re.compile(r"[^\W_]+(?:[ ·.\-][^\W_]+)*")


def region_of(value: str) -> str:
    """The region filter as typed, checked: words and single spaces, at most 60 characters."""
    region = " ".join(value.split())
    if len(region) > MAX_REGION or not _REGION.fullmatch(region):
        raise ActionError(_("地区只能是文字和空格（最长 60 个字），例如“北京”或“广东 深圳”。"), "region")
    return region


def matches(member: Member, monitor: Monitor, params: QueryDict) -> QuerySet[MonitorMatch]:
    """The monitor's matches under the list's filters (an unknown value is an error, not a
    silent match-nothing); within a limited member's accounts."""
    from guanwei.listening.models import Mention

    qs = MonitorMatch.objects.filter(monitor=monitor, mention__in=Mention.objects.for_member(member))
    sentiment = params.get("sentiment", "")
    if sentiment:
        if sentiment not in ("positive", "neutral", "negative"):
            raise ActionError(_("没有这种情感。"), "sentiment")
        qs = qs.filter(sentiment=sentiment)
    emotion = params.get("emotion", "")
    if emotion:
        if emotion not in EMOTIONS:
            raise ActionError(_("没有这种情绪。"), "emotion")
        qs = qs.filter(emotion=emotion)
    verified = params.get("verified", "")
    if verified:
        if verified not in ("true", "false"):
            raise ActionError(_("认证筛选只能是 true 或 false。"), "verified")
        qs = qs.filter(verified=verified == "true")
    source = params.get("source", "")
    if source:
        if source not in Mention.Source.values:
            raise ActionError(_("没有这种来源。"), "source")
        qs = qs.filter(mention__source=source)
    region = params.get("region", "")
    if region.strip():
        # prefix: "北京" is every author whose location starts with it ("北京 朝阳区" too)
        qs = qs.filter(mention__author__region__istartswith=region_of(region))
    period = params.get("period", "")
    if period:
        if period not in PERIODS:
            raise ActionError(_("时间范围只能是 24h、7d 或 30d。"), "period")
        qs = qs.filter(created_at__gte=period_of(period)[1])
    return qs.select_related("mention__author", "mention__account")


def share_of_voice(enterprise_id: int, since: datetime) -> dict[str, Any]:
    """Each active monitor's volume in the period and its share of its group and of all: "us"
    (brand, products, executives) against competitors."""
    monitors = list(Monitor.objects.filter(enterprise_id=enterprise_id, is_active=True).order_by("group", "name"))
    sums = {key[0]: row for key, row in counted(since, where={"monitor__in": monitors}, by=("monitor_id",),
                                                  fields=("volume", "negative")).items()}  # fmt: skip
    total = sum(int(sums.get(m.pk, {}).get("volume") or 0) for m in monitors) or 0
    rows = []
    for m in monitors:
        volume = int(sums.get(m.pk, {}).get("volume") or 0)
        negative = int(sums.get(m.pk, {}).get("negative") or 0)
        rows.append({"monitor": m, "volume": volume, "share": volume / total if total else 0.0,
                     "negative_share": negative / volume if volume else 0.0})  # fmt: skip
    ours = sum(r["volume"] for r in rows if r["monitor"].group != "competitor")
    theirs = sum(r["volume"] for r in rows if r["monitor"].group == "competitor")
    return {"rows": rows, "total": total, "ours": ours, "theirs": theirs,
            "our_share": ours / (ours + theirs) if ours + theirs else 0.0}  # fmt: skip


def filtered_count(qs: QuerySet[MonitorMatch], cap: int = 10_000) -> tuple[int, bool]:
    """How many rows a filtered list holds, reading at most `cap` + 1 of them: (count, capped)."""
    n = qs.order_by()[: cap + 1].count()
    return min(n, cap), n > cap


def share_series(enterprise_id: int, since: datetime, bucket: str, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Per bucket, the volume of "us" (every group but competitors) and of the competitors:
    one aggregate over the active monitors' counters of the period, as `share_of_voice`."""
    rows = counted(since, where={"monitor__enterprise_id": enterprise_id, "monitor__is_active": True},
                   by=("monitor__group",), bucket=bucket, tz=tz, fields=("volume",))  # fmt: skip
    found: dict[tuple[datetime, bool], int] = {}
    for (group, at), row in rows.items():
        key = (at, group == "competitor")
        found[key] = found.get(key, 0) + row["volume"]
    out = []
    at = TRUNC_PY[bucket](since.astimezone(tz).replace(tzinfo=None))
    end = clock.now().astimezone(tz).replace(tzinfo=None)
    while at <= end:
        out.append({"at": at, "ours": found.get((at, False), 0), "theirs": found.get((at, True), 0)})
        at += STEP[bucket]
    return out


TERM_SAMPLE = 5_000  # the newest matches of the period whose texts the top terms are counted in
TERMS_CACHED_S = 300


@dataclass
class TopTerms:
    terms: list[dict[str, Any]]  # term, count (texts that say it), share of the texts, is_rule
    matches: int  # matches read (at most TERM_SAMPLE)
    texts: int  # distinct voices among them: each counted once
    capped: bool  # the period had more matches than were read


def rule_words(rule: str) -> list[str]:
    """The words a monitor's rule looks for (not those it excludes), folded."""
    from guanwei.textkit import query

    try:
        tree = query.parse(rule)
    except query.QuerySyntaxError:
        return []
    words: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, query.Term):
            words.append(node.text)
        elif isinstance(node, query.Near):
            words.extend([*node.left, *node.right])
        elif isinstance(node, query.And | query.Or):
            for child in node.children:
                walk(child)

    walk(tree)
    return words


def top_terms(monitor: Monitor, since: datetime, period: str, limit: int = 30) -> TopTerms:
    """The most said terms (textkit.terms) of the monitor's newest matches in the period, one
    text per voice (a 水军 copied a thousand times says its words once). Kept 5 minutes per
    monitor and period: counting 5,000 texts takes a few tenths of a second."""
    from django.core.cache import cache

    from guanwei.textkit import terms

    key = f"monitoring:terms:{monitor.pk}:{monitor.rule_since.timestamp()}:{period}:{limit}:" \
          f"{int(clock.now().timestamp()) // TERMS_CACHED_S}"  # fmt: skip
    cached = cache.get(key)
    if cached is not None:
        return TopTerms(**cached)
    rows = list(
        MonitorMatch.objects.filter(monitor=monitor, created_at__gte=since).order_by("-created_at", "-id")
        .values_list("voice_id", "mention__text")[: TERM_SAMPLE + 1]
    )  # fmt: skip
    capped = len(rows) > TERM_SAMPLE
    rows = rows[:TERM_SAMPLE]
    texts, voices = [], set()
    for voice, text in rows:
        if voice is not None:
            if voice in voices:
                continue
            voices.add(voice)
        texts.append(text)
    words = rule_words(monitor.rule)
    found = [
        {"term": t.term, "count": t.count, "share": t.count / len(texts), "is_rule": terms.contains_any(t.term, words)}
        for t in terms.top_terms(texts, limit=limit)
    ]  # fmt: skip
    result = {"terms": found, "matches": len(rows), "texts": len(texts), "capped": capped}
    cache.set(key, result, TERMS_CACHED_S)
    return TopTerms(**result)


def matches_for_export(member: Member, params: QueryDict) -> QuerySet[MonitorMatch]:
    """The export kind "monitor_mentions": ?monitor=<id> plus the list's filters."""
    value = params.get("monitor", "")
    monitor = Monitor.objects.filter(enterprise_id=member.enterprise_id, pk=int(value)).first() if value.isdigit() and len(value) < 18 else None
    if monitor is None:
        raise ActionError(_("没有这个监控。"), "monitor")
    return matches(member, monitor, params).order_by("-created_at", "-pk")


def export_lines(rows: QuerySet[MonitorMatch], member: Member) -> Any:
    from guanwei.core.exports import csv_lines

    tz = ZoneInfo(member.enterprise.time_zone)

    def lines() -> Any:
        for m in rows.iterator(chunk_size=1000):
            mention = m.mention
            yield [m.created_at.astimezone(tz).isoformat(timespec="seconds"),
                   mention.author.screen_name if mention.author else "", m.followers, m.verified, m.sentiment,
                   m.emotion, mention.source, mention.text, mention.url]  # fmt: skip

    return csv_lines(["created_at", "author", "followers", "verified", "sentiment", "emotion", "source", "text", "url"],
                     lines())  # fmt: skip

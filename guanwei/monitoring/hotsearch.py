"""The hot-search watch (热搜): a brand entering Weibo's hot-search board is the loudest early
signal of a storm.

* **The board.** Weibo's Open API has no hot-search call (PLATFORM_APIS). The job
  `monitoring.watch_hot_search` (every minute) reads the sandbox's replayed board — at
  /sandbox/ajax/side/hotSearch, in the shape of weibo.com's own web endpoint — through each
  active sandbox connection. For real Weibo, boards are imported (`guanwei import_hot_search
  FILE`: JSON Lines of {"snapshot", "rank", "title", "heat"[, "category"]}, the shape of the
  public hot-search history in docs/imports.md).
* **Stored once.** Each (title, moment) is one HotTopic row, shared by every enterprise (the
  board is public); a board already recorded is not watched again.
* **Watched.** Every enterprise's monitors are matched against the board's titles in one pass
  (the monitors' own matcher). A matched title is a HotSearchHit per monitor: when it entered,
  its first, best and latest rank.
* **Told.** An alert (kind `hot_search`, through the channels like a spike) when a monitored
  title enters the board, and again when it climbs into a higher tier (top 10, top 3) than
  the last alert told. Severity by rank: top 3 → 9, top 10 → 7, top 20 → 6, else 5. An
  imported history records hits without telling (it is the past).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django_tasks import task

from guanwei.core import channels, clock, outbound
from guanwei.core.bulk import db_datetime, insert_ignore
from guanwei.core.links import absolute_url
from guanwei.monitoring.matching import matcher_for
from guanwei.monitoring.models import Alert, AlertKind, AlertRule, HotSearchHit, HotTopic, Monitor
from guanwei.textkit.query import MatchText

log = logging.getLogger("guanwei.monitoring.hotsearch")

FEED_PATH = "/ajax/side/hotSearch"
TIERS = (3, 10)  # climbing into one of these is told again


@dataclass(frozen=True)
class Entry:
    rank: int
    title: str
    heat: int = 0
    category: str = ""


def severity_of(rank: int) -> int:
    return 9 if rank <= 3 else 7 if rank <= 10 else 6 if rank <= 20 else 5


def _tier(rank: int) -> int:
    return next((t for t in TIERS if rank <= t), 99)


def record(seen_at: datetime, entries: list[Entry], *, tell: bool = True) -> list[Alert]:
    """Store a board and watch it (see the module's docstring). A board already stored is
    neither stored nor watched again. Returns the alerts raised."""
    seen_at = seen_at.replace(microsecond=0)
    entries = [e for e in entries if e.title and e.rank > 0]
    if not entries or HotTopic.objects.filter(seen_at=seen_at).exists():
        return []
    insert_ignore(HotTopic, ["seen_at", "title", "rank", "heat", "category"], [
        (db_datetime(seen_at), e.title[:200], min(e.rank, 32767), e.heat, e.category[:20]) for e in entries
    ])  # fmt: skip
    raised: list[Alert] = []
    enterprises = Monitor.objects.filter(is_active=True).values_list("enterprise_id", flat=True).distinct()
    for enterprise_id in enterprises:
        matcher = matcher_for(enterprise_id)
        if matcher is None:
            continue
        hits: dict[int, list[Entry]] = defaultdict(list)
        for entry, monitor_ids in zip(entries, matcher.match([MatchText(e.title) for e in entries]), strict=True):
            for monitor_id in monitor_ids:
                hits[monitor_id].append(entry)
        for monitor_id, found in hits.items():
            raised.extend(_watch(enterprise_id, monitor_id, seen_at, found, tell))
    return raised


def _watch(enterprise_id: int, monitor_id: int, seen_at: datetime, found: list[Entry], tell: bool) -> list[Alert]:
    known = {h.title: h for h in HotSearchHit.objects.filter(monitor_id=monitor_id, title__in=[e.title for e in found])}
    news: list[tuple[Entry, str]] = []
    for entry in found:
        hit = known.get(entry.title)
        if hit is None:
            hit = HotSearchHit.objects.create(
                enterprise_id=enterprise_id, monitor_id=monitor_id, title=entry.title[:200], first_seen_at=seen_at,
                first_rank=entry.rank, best_rank=entry.rank, last_rank=entry.rank, last_seen_at=seen_at,
            )  # fmt: skip
            news.append((entry, "entered"))
            continue
        if seen_at <= hit.last_seen_at:
            continue  # an older board (an import out of order): the hit already knows better
        climbed = hit.told_rank is None or _tier(entry.rank) < _tier(hit.told_rank)
        HotSearchHit.objects.filter(pk=hit.pk).update(
            last_rank=entry.rank, last_seen_at=seen_at, best_rank=min(hit.best_rank, entry.rank)
        )  # fmt: skip
        if climbed and entry.rank < hit.last_rank:
            news.append((entry, "climbed"))
    if not tell or not news:
        return []
    monitor = Monitor.objects.select_related("enterprise").get(pk=monitor_id)
    rule, _created = AlertRule.objects.get_or_create(monitor=monitor)
    if not rule.is_active:
        return []
    with translation.override("zh-hans"):
        return [_alert(monitor, rule, entry, how, seen_at) for entry, how in news]


def _alert(monitor: Monitor, rule: AlertRule, entry: Entry, how: str, seen_at: datetime) -> Alert:
    if how == "entered":
        reason = _("“%(title)s”登上热搜，第 %(rank)d 位") % {"title": entry.title, "rank": entry.rank}
    else:
        reason = _("“%(title)s”在热搜升至第 %(rank)d 位") % {"title": entry.title, "rank": entry.rank}
    level = severity_of(entry.rank)
    with transaction.atomic():
        alert = Alert.objects.create(
            enterprise_id=monitor.enterprise_id, monitor=monitor, kind=AlertKind.HOT_SEARCH, severity=level,
            reason=reason[:300], volume=entry.rank, baseline=0, window_end=seen_at, sent=True, created_at=clock.now(),
        )  # fmt: skip
        HotSearchHit.objects.filter(monitor=monitor, title=entry.title[:200]).update(told_rank=entry.rank)
        targets = list(rule.channels.filter(is_active=True)) or None
        channels.send(monitor.enterprise, "alert.raised", channels.Message(
            title=_("【%(name)s】%(kind)s · 严重度 %(n)d") % {
                "name": monitor.name, "kind": AlertKind.HOT_SEARCH.label, "n": level},
            text=reason, url=absolute_url(f"/monitoring/{monitor.pk}/"), level="error" if level >= 7 else "warning",
            data={"monitor_id": monitor.pk, "alert_id": alert.pk, "kind": AlertKind.HOT_SEARCH, "severity": level,
                  "title": entry.title, "rank": entry.rank, "heat": entry.heat},
        ), channels=targets)  # fmt: skip
    return alert


def parse_feed(body: Any) -> tuple[datetime | None, list[Entry]]:
    """The board from a /ajax/side/hotSearch answer (ValueError when it is not one)."""
    if not isinstance(body, dict) or body.get("ok") != 1 or not isinstance(body.get("data"), dict):
        raise ValueError("not a hot-search answer")
    rows = body["data"].get("realtime")
    if not isinstance(rows, list):
        raise ValueError("no realtime list")
    entries = []
    for row in rows:
        if not isinstance(row, dict) or row.get("is_ad"):
            continue
        try:
            entries.append(Entry(int(row.get("realpos") or 0), str(row.get("word") or "")[:200],
                                 int(row.get("num") or 0), str(row.get("category") or "")[:20]))  # fmt: skip
        except (TypeError, ValueError):
            continue
    at = body.get("snapshot_at")
    try:
        seen = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        seen = None
    return seen, entries


def _feeds() -> list[str]:
    """The boards to read: the built-in sandbox's, when a connection uses it."""
    from guanwei.matrix import connectors
    from guanwei.matrix.models import Connection, PlatformKind

    return sorted({connectors.base_url_of(c).rstrip("/") for c in Connection.objects.filter(kind=PlatformKind.SANDBOX)})


@task()
def watch() -> dict[str, int]:
    """monitoring.watch_hot_search — read the board of each sandbox connection and watch it."""
    raised = boards = 0
    with httpx.Client(transport=outbound.transport(), timeout=10, trust_env=False) as client:
        for base in _feeds():
            try:
                seen_at, entries = parse_feed(client.get(base + FEED_PATH).json())
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("monitoring.hot_search_unreadable base=%s error=%s", base, type(exc).__name__)
                continue
            alerts = record(seen_at or clock.now().replace(second=0), entries)
            boards += 1
            raised += len(alerts)
    return {"boards": boards, "raised": raised}


def hits_for(monitor: Monitor, since: datetime, limit: int = 10) -> list[dict[str, Any]]:
    """The monitor's hot-search titles seen since `since`, highest first, each with its ranks
    over time (for the dashboard, beside the monitor's volume)."""
    hits = list(HotSearchHit.objects.filter(monitor=monitor, last_seen_at__gte=since).order_by("best_rank", "-last_seen_at")[:limit])
    ranks: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    rows = HotTopic.objects.filter(title__in=[h.title for h in hits], seen_at__gte=since).order_by("seen_at")
    for title, seen_at, rank in rows.values_list("title", "seen_at", "rank")[:5000]:
        ranks[title].append((seen_at, rank))
    return [{"hit": h, "ranks": ranks.get(h.title, [])} for h in hits]

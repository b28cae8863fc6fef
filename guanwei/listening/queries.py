"""Reads of listening's pages and API: streams with their health, coverage, latest mentions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q

from guanwei.core import clock
from guanwei.core.models import Member
from guanwei.listening.models import Mention, Stream, StreamRun


@dataclass
class StreamView:
    stream: Stream
    lag_s: int | None  # seconds since the last successful read (None: never)
    cursor_age_s: int | None  # seconds since the newest stored item was written on the platform
    runs_24h: int
    failed_24h: int
    stored_24h: int
    causes: list[str]  # why reads failed in the last 24 h (coverage gaps)


def _seconds(since: datetime | None, now: datetime) -> int | None:
    return int((now - since).total_seconds()) if since else None


def streams_of(member: Member, account_id: int | None = None) -> list[StreamView]:
    now = clock.now()
    streams = Stream.objects.for_member(member).select_related("account").order_by("account__screen_name", "kind", "target")
    if account_id is not None:
        streams = streams.filter(account_id=account_id)
    streams = list(streams[:500])
    day = now - timedelta(hours=24)
    stats = {
        row["stream"]: row
        for row in StreamRun.objects.filter(stream__in=streams, started_at__gte=day)
        .values("stream")
        .annotate(
            runs=Count("id"),
            failed=Count("id", filter=~Q(outcome=StreamRun.Outcome.OK)),
        )
    }
    stored: dict[int, int] = {}
    for run in StreamRun.objects.filter(stream__in=streams, started_at__gte=day, stored__gt=0).values("stream", "stored"):
        stored[run["stream"]] = stored.get(run["stream"], 0) + run["stored"]
    causes: dict[int, set[str]] = {}
    for sid, outcome in (
        StreamRun.objects.filter(stream__in=streams, started_at__gte=day)
        .exclude(outcome=StreamRun.Outcome.OK).values_list("stream", "outcome").distinct()
    ):
        causes.setdefault(sid, set()).add(str(StreamRun.Outcome(outcome).label))
    return [
        StreamView(
            s, _seconds(s.last_success_at, now), _seconds(s.newest_item_at, now),
            stats.get(s.pk, {}).get("runs", 0), stats.get(s.pk, {}).get("failed", 0),
            stored.get(s.pk, 0), sorted(causes.get(s.pk, set())),
        )
        for s in streams
    ]


def mentions_of(member: Member, *, account_id: int | None = None, kind: str = "", since: datetime | None = None) -> Any:
    qs = Mention.objects.for_member(member).select_related("author", "account")
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    if kind:
        qs = qs.filter(kind=kind)
    if since is not None:
        qs = qs.filter(received_at__gte=since)
    return qs

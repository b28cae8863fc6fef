"""Hour rollups: the consumer adds each batch to the hours beside the minutes, a recount rebuilds
both, the migration rolls up minutes an installation already has, and the pages' sums (totals,
series by hour and by day, share of voice) read hours but equal the minutes' sums exactly — a
period's ragged start from the minutes, and every minute when the zone's offset is not whole
hours."""

from __future__ import annotations

import importlib
import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.db.models import Sum

from guanwei.core import clock
from guanwei.listening import consumers
from guanwei.listening.store import Incoming, store
from guanwei.monitoring import actions, matching, queries
from guanwei.monitoring.models import COUNTERS, HourCount, MinuteCount, MonitorMatch

NOW = datetime(2026, 12, 5, 12, 40, 30, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+5:30: an hour row would straddle two of its hours
BATCHES = itertools.count()


@pytest.fixture(autouse=True)
def _now():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


def _say(personas, minutes_ago: list[int], text: str = "示例乳业的酸奶") -> None:  # type: ignore[no-untyped-def]
    batch = next(BATCHES)
    items = [
        Incoming(platform="sandbox:builtin", remote_id=f"h{batch}-{i}", kind="status",
                 text=f"{text}{'变质了，投诉' if i % 3 == 0 else '好喝'}", created_at=clock.now() - timedelta(minutes=m),
                 author_id=f"u{i % 5}", author_name=f"网友{i % 5}", author_followers=10 * (i + 1),
                 account_id=personas.parent_account.pk)
        for i, m in enumerate(minutes_ago)
    ]  # fmt: skip
    store(personas.enterprise, items)
    with time_machine.travel(clock.now() + timedelta(seconds=consumers.SETTLE_S + 1), tick=False):
        consumers.dispatch("monitoring")


def _minutes_by_hour(monitor) -> dict[datetime, Counter]:  # type: ignore[no-untyped-def]
    hours: dict[datetime, Counter] = {}
    for row in MinuteCount.objects.filter(monitor=monitor).values("minute", *COUNTERS):
        hour = row.pop("minute").replace(minute=0)
        hours.setdefault(hour, Counter()).update(row)
    return hours


def _hours(monitor) -> dict[datetime, Counter]:  # type: ignore[no-untyped-def]
    return {r.pop("hour"): Counter(r) for r in HourCount.objects.filter(monitor=monitor).values("hour", *COUNTERS)}


def _spread() -> list[int]:
    """Minutes ago over three days, several in some minutes, some hours empty."""
    return [m for m in range(0, 3 * 24 * 60, 37) for _ in range(1 + m % 3)]


def test_hours_are_the_sums_of_their_minutes_batch_after_batch(personas):
    brand = actions.do_create_monitor(personas.frank, name="品牌", group="brand", rule="示例乳业")
    crisis = actions.do_create_monitor(personas.frank, name="危机", group="custom", rule="示例乳业 AND 投诉")
    spread = _spread()
    _say(personas, spread[: len(spread) // 2])
    _say(personas, spread[len(spread) // 2 :])  # a second batch adds to hours the first began
    _say(personas, [0, 0, 1])
    for monitor in (brand, crisis):
        assert HourCount.objects.filter(monitor=monitor).count() > 10
        assert _hours(monitor) == _minutes_by_hour(monitor)
    total = HourCount.objects.filter(monitor=brand).aggregate(v=Sum("volume"))["v"]
    assert total == MonitorMatch.objects.filter(monitor=brand).count() == len(spread) + 3


def test_a_recount_rebuilds_the_hours_and_keeps_the_minutes_before_it(personas):
    monitor = actions.do_create_monitor(personas.frank, name="品牌", group="brand", rule="示例乳业")
    _say(personas, _spread())
    before = _hours(monitor)
    since = clock.now() - timedelta(hours=30, minutes=17)  # inside an hour: its earlier minutes stay
    gone = MonitorMatch.objects.filter(monitor=monitor, created_at__gte=since).values_list("pk", flat=True)[::3]
    MonitorMatch.objects.filter(pk__in=list(gone)).delete()
    matching.recount(monitor, since)
    after = _hours(monitor)
    assert after == _minutes_by_hour(monitor)
    assert after != before
    assert {h: c for h, c in after.items() if h < since.replace(minute=0)} == {
        h: c for h, c in before.items() if h < since.replace(minute=0)
    }
    assert sum(c["volume"] for c in after.values()) == MonitorMatch.objects.filter(monitor=monitor).count()


@pytest.mark.parametrize("tz", [SHANGHAI, KOLKATA, UTC], ids=["shanghai", "kolkata", "utc"])
def test_what_the_pages_sum_equals_the_minutes(personas, tz):
    monitor = actions.do_create_monitor(personas.frank, name="品牌", group="brand", rule="示例乳业")
    rival = actions.do_create_monitor(personas.frank, name="对手", group="competitor", rule="投诉")
    _say(personas, _spread())
    for name in queries.PERIODS:
        _period, since, bucket = queries.period_of(name)
        assert since.minute != 0  # a ragged start: its first hour partly before the period
        minutes = MinuteCount.objects.filter(monitor=monitor, minute__gte=since)
        expected = {k: v or 0 for k, v in minutes.aggregate(**{k: Sum(k) for k in COUNTERS}).items()}
        assert queries.counted(since, where={"monitor": monitor})[()] == expected
        assert queries.summary(monitor, since).volume == expected["volume"]

        by_bucket: Counter = Counter()
        for row in minutes.values("minute", "volume", "negative"):
            at = queries.TRUNC_PY[bucket](row["minute"].astimezone(tz).replace(tzinfo=None))
            by_bucket[at] += row["volume"]
        drawn = queries.series(monitor, since, bucket, tz)
        assert {r["at"]: r["volume"] for r in drawn if r["volume"]} == dict(by_bucket)
        assert sum(r["volume"] for r in drawn) == expected["volume"]

        share = queries.share_of_voice(personas.enterprise.pk, since)
        theirs = MinuteCount.objects.filter(monitor=rival, minute__gte=since).aggregate(v=Sum("volume"))["v"]
        assert (share["ours"], share["theirs"]) == (expected["volume"], theirs)
        over_time = queries.share_series(personas.enterprise.pk, since, bucket, tz)
        assert sum(r["ours"] for r in over_time) == expected["volume"]
        assert sum(r["theirs"] for r in over_time) == theirs


def test_the_migration_rolls_up_the_minutes_already_counted(personas):
    monitor = actions.do_create_monitor(personas.frank, name="品牌", group="brand", rule="示例乳业")
    _say(personas, _spread())
    counted = _hours(monitor)
    HourCount.objects.all().delete()
    migration = importlib.import_module("guanwei.monitoring.migrations.0008_hour_counts")
    migration.roll_up(apps, None)
    assert _hours(monitor) == counted


def test_whole_hours_are_read_from_the_hour_rows(personas):
    monitor = actions.do_create_monitor(personas.frank, name="品牌", group="brand", rule="示例乳业")
    _say(personas, _spread())
    _period, since, bucket = queries.period_of("24h")  # its first hour holds mentions (3 days of them)
    before = queries.counted(since, where={"monitor": monitor})[()]
    drawn = queries.series(monitor, since, bucket, SHANGHAI)
    edge = since.replace(minute=0, second=0) + timedelta(hours=1)
    assert MinuteCount.objects.filter(monitor=monitor, minute__gte=edge).delete()[0] > 30
    assert queries.counted(since, where={"monitor": monitor})[()] == before
    assert queries.counted(since.astimezone(KOLKATA), where={"monitor": monitor})[()] == before  # the same moment
    assert queries.series(monitor, since, bucket, SHANGHAI) == drawn
    # …but not in a zone whose hours are not the rows' hours: there every minute is read, and the
    # minutes deleted above are missing
    kolkata = queries.series(monitor, since, bucket, KOLKATA)
    assert sum(r["volume"] for r in kolkata) < before["volume"]


def test_minute_buckets_are_read_from_the_minute_rows(personas):
    monitor = actions.do_create_monitor(personas.frank, name="品牌", group="brand", rule="示例乳业")
    _say(personas, _spread())
    _period, since, _bucket = queries.period_of("24h")
    drawn = {r["at"]: r["volume"] for r in queries.series(monitor, since, "minute", SHANGHAI) if r["volume"]}
    expected = {
        row.minute.astimezone(SHANGHAI).replace(tzinfo=None): row.volume
        for row in MinuteCount.objects.filter(monitor=monitor, minute__gte=since)
    }
    assert drawn == expected
    assert any(at.minute for at in drawn)  # not all on the hour

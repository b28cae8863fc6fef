"""Spike detection on synthetic series: the usual hour of the week (or of the last day) as the
baseline, minimum volume and duration, severity, plain reasons, cooldown, quiet hours, and each
alert sent through the channels."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from guanwei.core.models import Channel, Delivery
from guanwei.monitoring import spikes
from guanwei.monitoring.models import Alert, AlertRule, MinuteCount, Monitor

NOW = datetime(2026, 12, 5, 13, 0, tzinfo=UTC)  # Saturday 21:00 in Shanghai


def _monitor(personas, history: timedelta) -> Monitor:  # type: ignore[no-untyped-def]
    return Monitor.objects.create(enterprise=personas.enterprise, name="品牌", rule="示例乳业",
                                  rule_since=NOW - history, created_at=NOW - history)  # fmt: skip


def _steady(monitor: Monitor, since: datetime, until: datetime, per_hour: int = 2) -> None:
    rows = []
    at = since
    while at < until:
        rows.append(MinuteCount(monitor=monitor, minute=at, volume=per_hour, neutral=per_hour))
        at += timedelta(hours=1)
    MinuteCount.objects.bulk_create(rows)


def _burst(monitor: Monitor, volume: int, negative: int, minutes: int = 60) -> None:
    """`volume` mentions spread over the last `minutes` minutes, `negative` of them negative."""
    for i in range(minutes):
        at = NOW - timedelta(minutes=i + 1)
        v = volume // minutes + (1 if i < volume % minutes else 0)
        n = negative // minutes + (1 if i < negative % minutes else 0)
        row, _ = MinuteCount.objects.get_or_create(monitor=monitor, minute=at)
        row.volume += v
        row.negative += n
        row.neutral += v - n
        row.save()


@pytest.fixture
def channel(personas):  # type: ignore[no-untyped-def]
    return Channel.objects.create(enterprise=personas.enterprise, name="PR robot", kind=Channel.Kind.WEBHOOK,
                                  url="https://hooks.example.com/pr")  # fmt: skip


def test_a_storm_against_the_usual_hour_of_the_week_is_raised_and_sent_once(personas, channel):
    monitor = _monitor(personas, timedelta(weeks=3))
    _steady(monitor, NOW - timedelta(weeks=3), NOW - timedelta(hours=1))
    _burst(monitor, volume=40, negative=30)
    (alert,) = spikes.check(monitor, NOW)  # volume and negative together: one alert tells both
    assert alert.kind == "negative"
    assert alert.severity == max(spikes.severity(20), spikes.severity(30)) == 9
    assert alert.reason == "负面提及是平时周六 20:00 的 30 倍；提及是平时周六 20:00 的 20 倍"
    deliveries = Delivery.objects.filter(channel=channel, event="alert.raised")
    assert deliveries.count() == 1 and "严重度 9" in deliveries.get().payload["title"]
    assert spikes.check(monitor, NOW + timedelta(minutes=1)) == []  # the same storm
    episodes = AlertRule.objects.get(monitor=monitor).episodes
    assert episodes["volume"]["open"] and episodes["negative"]["open"]


def test_one_alert_per_storm_however_long_it_lasts_and_a_blip_that_ended_is_not_told(personas, channel):
    from zoneinfo import ZoneInfo

    start = NOW - timedelta(weeks=3)
    minutes = {}
    at = start
    while at < NOW + timedelta(hours=8):
        minutes[at] = (1 if at.minute % 20 == 0 else 0, 0)  # 3 an hour
        at += timedelta(minutes=1)
    for i in range(8 * 60):  # a storm of 8 hours at 10 a minute
        minutes[NOW + timedelta(minutes=i)] = (10, 0)
    blip_at = NOW - timedelta(days=2)
    for i in range(4):  # a 4-minute burst two days earlier
        minutes[blip_at + timedelta(minutes=i)] = (60, 0)
    counts = spikes.SeriesCounts(minutes)
    rule = AlertRule(cooldown=60)
    tz = ZoneInfo("Asia/Shanghai")
    episodes: dict = {}
    told = []
    end = blip_at
    while end < NOW + timedelta(hours=8):
        end += timedelta(minutes=1)
        if blip_at + timedelta(minutes=30) < end < NOW:
            continue  # quiet in between (skipped to keep the test fast)
        tell, episodes = spikes.decide(episodes, spikes.assess(counts, start, rule, end, tz), end, rule.cooldown)
        told.extend((end, f.kind) for f in tell)
    assert len(told) == 1, told  # not the blip; the 8-hour storm once
    assert told[0][1] == "volume" and NOW < told[0][0] <= NOW + timedelta(minutes=30)


def test_without_weeks_of_history_the_last_day_is_the_baseline(personas, channel):
    monitor = _monitor(personas, timedelta(hours=10))
    _steady(monitor, NOW - timedelta(hours=10), NOW - timedelta(hours=1), per_hour=3)
    _burst(monitor, volume=30, negative=0)
    (alert,) = spikes.check(monitor, NOW)
    assert alert.kind == "volume" and "过去 24 小时平均每小时的 10 倍" in alert.reason


def test_no_alert_without_enough_history_below_the_minimum_or_for_a_blip(personas, channel):
    young = _monitor(personas, timedelta(hours=2))
    _burst(young, volume=100, negative=90)
    assert spikes.check(young, NOW) == []  # no baseline yet
    quiet = Monitor.objects.create(enterprise=personas.enterprise, name="小", rule="x", rule_since=NOW - timedelta(weeks=3))
    _steady(quiet, NOW - timedelta(weeks=3), NOW - timedelta(hours=1), per_hour=0)
    _burst(quiet, volume=6, negative=0)
    assert spikes.check(quiet, NOW) == []  # 6× nothing, but under the minimum volume of 10
    blip = Monitor.objects.create(enterprise=personas.enterprise, name="闪", rule="y", rule_since=NOW - timedelta(weeks=3))
    _steady(blip, NOW - timedelta(weeks=3), NOW - timedelta(hours=1))
    _burst(blip, volume=40, negative=0, minutes=5)  # all in the last 5 minutes
    assert spikes.check(blip, NOW) == []  # did not hold 10 minutes ago
    assert Alert.objects.count() == 0


def test_quiet_hours_record_without_sending_unless_it_is_severe(personas, channel):
    monitor = _monitor(personas, timedelta(weeks=3))
    AlertRule.objects.create(monitor=monitor, quiet_start=time(20, 0), quiet_end=time(7, 0))  # Shanghai
    _steady(monitor, NOW - timedelta(weeks=3), NOW - timedelta(hours=1))
    _burst(monitor, volume=28, negative=0)
    (alert,) = spikes.check(monitor, NOW)
    assert not alert.sent and alert.severity < spikes.QUIET_BYPASS
    assert not Delivery.objects.filter(event="alert.raised").exists()
    _burst(monitor, volume=300, negative=0)
    (worse,) = spikes.check(monitor, NOW + timedelta(minutes=1))  # much worse: escalated, and sent
    assert worse.sent and worse.severity >= spikes.QUIET_BYPASS


def test_alert_pages_rules_and_api(personas, client_for, channel):
    monitor = _monitor(personas, timedelta(weeks=3))
    _steady(monitor, NOW - timedelta(weeks=3), NOW - timedelta(hours=1))
    _burst(monitor, volume=40, negative=30)
    spikes.check(monitor, NOW)
    frank = client_for("frank")
    assert "平时周六" in frank.get("/monitoring/alerts/").content.decode()
    assert "严重度 9" in frank.get(f"/monitoring/{monitor.pk}/").content.decode()
    response = frank.post(f"/monitoring/{monitor.pk}/alert-rule", {
        "is_active": "on", "min_volume": "20", "factor": "4", "negative_share": "0.6", "min_duration": "15",
        "quiet_start": "23:00", "quiet_end": "", "cooldown": "30", "channels": [channel.pk],
    })  # fmt: skip
    assert response.status_code == 422  # quiet hours need both ends
    response = frank.post(f"/monitoring/{monitor.pk}/alert-rule", {
        "is_active": "on", "min_volume": "20", "factor": "4", "negative_share": "0.6", "min_duration": "15",
        "quiet_start": "23:00", "quiet_end": "07:00", "cooldown": "30", "channels": [channel.pk],
    })  # fmt: skip
    assert response.status_code == 302
    rule = AlertRule.objects.get(monitor=monitor)
    assert rule.min_volume == 20 and list(rule.channels.all()) == [channel]
    listed = frank.get(f"/api/v1/alerts?monitor={monitor.pk}").json()
    items = listed["items"] if isinstance(listed, dict) else listed
    assert {a["kind"] for a in items} == {"negative"}
    assert client_for("mallory").get(f"/monitoring/{monitor.pk}/alert-rule").status_code == 404
    assert client_for("carol").get("/monitoring/alerts/").status_code == 403


def test_the_detector_finds_the_same_on_stored_counters_and_on_a_series_in_memory(personas):
    """bench/detector_eval.py runs the detector on SeriesCounts: it must be the detector."""
    from zoneinfo import ZoneInfo

    monitor = _monitor(personas, timedelta(days=2))
    _steady(monitor, NOW - timedelta(days=2), NOW - timedelta(hours=1), per_hour=3)
    _burst(monitor, volume=90, negative=60)
    series = {
        row.minute: (row.volume, row.negative) for row in MinuteCount.objects.filter(monitor=monitor)
    }
    rule = AlertRule(monitor=monitor)
    tz = ZoneInfo("Asia/Shanghai")
    stored = spikes.findings(spikes.StoredCounts(monitor), monitor.rule_since, rule, NOW, tz)
    in_memory = spikes.findings(spikes.SeriesCounts(series), monitor.rule_since, rule, NOW, tz)
    assert [(f.kind, f.severity, f.volume) for f in stored] == [(f.kind, f.severity, f.volume) for f in in_memory]
    assert {f.kind for f in stored} == {"volume", "negative"}
    quiet = spikes.findings(spikes.SeriesCounts(series), monitor.rule_since, rule, NOW - timedelta(hours=2), tz)
    assert quiet == []


def test_counted_matches_have_their_monitors_checked_at_once_not_at_the_next_minute(
    personas, django_capture_on_commit_callbacks
):
    """The consumer hands the monitors it counted to detect_monitors (once per SOON_S each)."""
    from django_tasks_db.models import DBTaskResult

    from guanwei.listening import consumers
    from guanwei.listening.store import Incoming, store

    monitor = _monitor(personas, timedelta(weeks=3))
    Monitor.objects.create(enterprise=personas.enterprise, name="别的", rule="毫不相干")
    item = Incoming(platform="sandbox:builtin", remote_id="soon-1", kind="status", text="示例乳业出事了",
                    created_at=NOW, account_id=personas.parent_account.pk)  # fmt: skip
    store(personas.enterprise, [item])
    with django_capture_on_commit_callbacks(execute=True):
        consumers.SETTLE_S, settle = 0, consumers.SETTLE_S
        try:
            consumers.dispatch("monitoring")
        finally:
            consumers.SETTLE_S = settle
    (queued,) = DBTaskResult.objects.filter(task_path="guanwei.monitoring.spikes.detect_monitors")
    assert queued.args_kwargs["args"] == [[monitor.pk]]
    spikes.detect_soon({monitor.pk})  # within SOON_S: not again
    assert DBTaskResult.objects.filter(task_path="guanwei.monitoring.spikes.detect_monitors").count() == 1
    assert spikes.detect_monitors.call([monitor.pk]) == {"raised": 0, "failed": 0}  # one mention is no storm


def test_the_minute_under_way_counts_a_storm_is_not_held_until_the_minute_ends(personas, channel):
    """A negative storm from 20:00 that fell quiet at 20:56 is over — until its mentions come back
    at 21:00:20: the check at 21:00:30 sees them (the hour ends with the minute under way), not
    only the check after 21:01."""
    monitor = _monitor(personas, timedelta(weeks=3))
    _steady(monitor, NOW - timedelta(weeks=3), NOW - timedelta(hours=1))
    MinuteCount.objects.bulk_create([MinuteCount(monitor=monitor, minute=NOW - timedelta(minutes=60 - i), volume=1, negative=1)
                                     for i in range(56)])  # fmt: skip
    assert spikes.check(monitor, NOW + timedelta(seconds=10)) == []  # a quiet tail: over
    MinuteCount.objects.create(monitor=monitor, minute=NOW, volume=12, negative=12)  # counted at 21:00:20
    assert spikes.check(monitor, NOW) == []  # the hour of whole minutes, ending 21:00, has not got them
    (alert,) = spikes.check(monitor, NOW + timedelta(seconds=30))
    assert alert.kind == "negative" and alert.volume == 55 + 12  # 20:01–21:00, the minute under way in


def _every_5_minutes(start: datetime, end: datetime, per_hour) -> dict[datetime, tuple[int, int]]:  # type: ignore[no-untyped-def]
    """A minute row every 5 minutes from `start` to `end`: `per_hour(at)` mentions an hour."""
    out = {}
    at = start
    while at < end:
        out[at] = (per_hour(at) // 12, 0)
        at += timedelta(minutes=5)
    return out


def test_a_level_held_for_days_becomes_the_usual_one_storm_does_not():
    from zoneinfo import ZoneInfo

    since = NOW - timedelta(weeks=5)
    grown_at = NOW - timedelta(days=3, hours=2)
    rule = AlertRule(min_duration=10)
    tz = ZoneInfo("Asia/Shanghai")
    # four weeks at 24 an hour, then (for the last three days and now) 96 an hour: the brand grew
    grown = spikes.SeriesCounts(_every_5_minutes(since, NOW, lambda at: 96 if at >= grown_at else 24))
    assert spikes.baseline(grown, since, NOW) == (96, 0, "day")
    assert spikes.assess(grown, since, rule, NOW, tz).findings == []
    # the same hour at 96 after weeks at 24, without the days before it: a storm
    storm = spikes.SeriesCounts(_every_5_minutes(since, NOW, lambda at: 96 if at >= NOW - timedelta(hours=1) else 24))
    assert [f.kind for f in spikes.assess(storm, since, rule, NOW, tz).findings] == ["volume"]
    # one stormy evening two days ago is not a new level: the weeks stay the baseline
    day_2 = NOW - timedelta(days=2)
    once = spikes.SeriesCounts(_every_5_minutes(since, NOW, lambda at: 480 if day_2 - timedelta(hours=1) <= at < day_2 else 24))
    assert spikes.baseline(once, since, NOW)[::2] == (24, "week")
    # and days a little above the weeks (noise, or slow growth) do not move the baseline either
    noisy = spikes.SeriesCounts(_every_5_minutes(since, NOW, lambda at: 30 if at >= grown_at else 24))
    assert spikes.baseline(noisy, since, NOW)[::2] == (24, "week")


def test_a_storm_waiting_out_its_duration_is_checked_again_in_seconds(personas, channel,
                                                                       django_capture_on_commit_callbacks):  # fmt: skip
    from django_tasks_db.models import DBTaskResult

    monitor = _monitor(personas, timedelta(weeks=3))
    _steady(monitor, NOW - timedelta(weeks=3), NOW - timedelta(hours=1))
    _burst(monitor, volume=40, negative=0, minutes=5)  # above the thresholds, not for 10 minutes yet
    with django_capture_on_commit_callbacks(execute=True):
        assert spikes.check(monitor, NOW) == []
        assert spikes.check(monitor, NOW) == []  # one follow-up at a time
    (again,) = DBTaskResult.objects.filter(task_path="guanwei.monitoring.spikes.detect_monitors")
    assert again.args_kwargs["args"] == [[monitor.pk]]
    assert again.run_after == NOW + timedelta(seconds=spikes.SOON_S)
    quiet = Monitor.objects.create(enterprise=personas.enterprise, name="平静", rule="x", rule_since=NOW - timedelta(weeks=3))
    _steady(quiet, NOW - timedelta(weeks=3), NOW)
    with django_capture_on_commit_callbacks(execute=True):
        assert spikes.check(quiet, NOW) == []
    assert DBTaskResult.objects.filter(task_path="guanwei.monitoring.spikes.detect_monitors").count() == 1


def test_one_monitor_failing_does_not_stop_the_others_being_checked(personas, channel, monkeypatch):
    broken = _monitor(personas, timedelta(weeks=3))
    fine = Monitor.objects.create(enterprise=personas.enterprise, name="好的", rule="y", rule_since=NOW - timedelta(weeks=3))
    for monitor in (broken, fine):
        _steady(monitor, NOW - timedelta(weeks=3), NOW - timedelta(hours=1))
        _burst(monitor, volume=40, negative=0)
    real = spikes.check

    def check(monitor, now=None):  # type: ignore[no-untyped-def]
        if monitor.pk == broken.pk:
            raise RuntimeError("a bug in one monitor")
        return real(monitor, NOW)

    monkeypatch.setattr(spikes, "check", check)
    assert spikes.detect.call() == {"raised": 1, "failed": 1}
    assert list(Alert.objects.values_list("monitor_id", flat=True)) == [fine.pk]

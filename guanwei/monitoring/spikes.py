"""Spike detection (the job `monitoring.detect`, every minute): is a monitor's last hour far
above what is usual for it?

* **Window.** The last WINDOW (one hour) of a monitor's minute counters.
* **Baseline.** The same hour of the week in earlier weeks (up to 4) where the monitor's rule
  already covered them; with fewer than 2 such weeks, the mean hour of the previous 24 hours.
  With less than 6 hours of history there is no baseline, and no alert.
* **Spikes.** Volume: at least the rule's `min_volume` and `factor` × the baseline. Negative:
  negative mentions at least `factor` × their baseline, a share of the window of at least
  `negative_share`, and at least min_volume / 2 of them. Either must also hold for the window
  that ended `min_duration` minutes earlier (a blip is not a storm).
* **Severity** 1–10 grows with the ratio (3× → 2, 10× → 6, 50× and more → 10).
* **Telling.** One alert per monitor and kind within the rule's cooldown, unless it got worse
  by 2 or more; in quiet hours an alert below severity 8 is recorded, not sent. Each alert goes
  through the outbound channels (`alert.raised`), each delivery visible on the channel's page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Sum
from django.utils import translation
from django.utils.translation import gettext as _
from django_tasks import task

from guanwei.core import channels, clock
from guanwei.core.links import absolute_url
from guanwei.monitoring.models import Alert, AlertKind, AlertRule, MinuteCount, Monitor

WINDOW = timedelta(hours=1)
WEEKS = 4
MIN_HISTORY = timedelta(hours=6)
QUIET_BYPASS = 8  # a storm this bad is sent even in quiet hours


@dataclass
class Finding:
    kind: str
    severity: int
    volume: int
    baseline: float
    reason: str


class Counts(Protocol):
    """A monitor's minute counters: the detector needs only sums over [start, end)."""

    def total(self, start: datetime, end: datetime) -> tuple[int, int]:
        """(volume, negative mentions) of the minutes in [start, end)."""
        ...


class StoredCounts:
    """A monitor's MinuteCount rows."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def total(self, start: datetime, end: datetime) -> tuple[int, int]:
        row = MinuteCount.objects.filter(monitor=self.monitor, minute__gte=start, minute__lt=end).aggregate(
            v=Sum("volume"), n=Sum("negative")
        )  # fmt: skip
        return int(row["v"] or 0), int(row["n"] or 0)


class SeriesCounts:
    """Minute counters held in memory ({minute: (volume, negative)}) — to evaluate the detector
    on a replayed or synthetic timeline (bench/detector_eval.py) without a database."""

    def __init__(self, minutes: dict[datetime, tuple[int, int]]) -> None:
        self.minutes = minutes

    def total(self, start: datetime, end: datetime) -> tuple[int, int]:
        volume = negative = 0
        at = start
        while at < end:
            v, n = self.minutes.get(at, (0, 0))
            volume += v
            negative += n
            at += timedelta(minutes=1)
        return volume, negative


def baseline(counts: Counts, since: datetime, end: datetime) -> tuple[float, float, str] | None:
    """(usual volume, usual negatives, how it was reckoned) for the hour ending at `end`, from
    the counters since `since` (the monitor's rule_since: earlier ones came from another rule)."""
    start = end - WINDOW
    weeks = [(start - timedelta(weeks=k), end - timedelta(weeks=k)) for k in range(1, WEEKS + 1)]
    covered = [(a, b) for a, b in weeks if a >= since]
    if len(covered) >= 2:
        sums = [counts.total(a, b) for a, b in covered]
        return (sum(v for v, _n in sums) / len(sums), sum(n for _v, n in sums) / len(sums), "week")
    history_start = max(since, start - timedelta(hours=24))
    hours = (start - history_start) / timedelta(hours=1)
    if start - history_start < MIN_HISTORY:
        return None
    volume, negative = counts.total(history_start, start)
    return (volume / hours, negative / hours, "recent")


def severity(ratio: float) -> int:
    return max(1, min(10, round(2 * math.log2(max(ratio, 1.0)) - 1)))


def _reason(kind: str, ratio: float, how: str, end: datetime, tz: ZoneInfo) -> str:
    local = (end - WINDOW).astimezone(tz)
    what = _("提及") if kind == AlertKind.VOLUME else _("负面提及")
    if how == "week":
        weekday = [_("周一"), _("周二"), _("周三"), _("周四"), _("周五"), _("周六"), _("周日")][local.weekday()]
        return _("%(what)s是平时%(weekday)s %(hour)s 的 %(ratio)s 倍") % {
            "what": what, "weekday": weekday, "hour": local.strftime("%H:00"), "ratio": _ratio(ratio)}
    return _("%(what)s是过去 24 小时平均每小时的 %(ratio)s 倍") % {"what": what, "ratio": _ratio(ratio)}


def _ratio(ratio: float) -> str:
    return f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}"


def findings(counts: Counts, since: datetime, rule: AlertRule, end: datetime, tz: ZoneInfo) -> list[Finding]:
    """The spikes of the hour ending at `end` (that also held `min_duration` minutes earlier).
    `rule` needs only its thresholds (an unsaved AlertRule will do)."""
    out = []
    for at in (end, end - timedelta(minutes=rule.min_duration)):
        base = baseline(counts, since, at)
        if base is None:
            return []
        usual_volume, usual_negative, how = base
        volume, negative = counts.total(at - WINDOW, at)
        found = []
        if volume >= rule.min_volume and volume >= rule.factor * max(usual_volume, 1.0):
            ratio = volume / max(usual_volume, 1.0)
            found.append(Finding(AlertKind.VOLUME, severity(ratio), volume, usual_volume,
                                 _reason(AlertKind.VOLUME, ratio, how, at, tz)))  # fmt: skip
        if (negative >= max(1, rule.min_volume // 2) and volume and negative / volume >= rule.negative_share
                and negative >= rule.factor * max(usual_negative, 1.0)):  # fmt: skip
            ratio = negative / max(usual_negative, 1.0)
            found.append(Finding(AlertKind.NEGATIVE, severity(ratio), negative, usual_negative,
                                 _reason(AlertKind.NEGATIVE, ratio, how, at, tz)))  # fmt: skip
        if at == end:
            out = found
        else:
            held = {f.kind for f in found}
            out = [f for f in out if f.kind in held]
    return out


def _quiet(rule: AlertRule, now: datetime, tz: ZoneInfo) -> bool:
    if rule.quiet_start is None or rule.quiet_end is None:
        return False
    local: time = now.astimezone(tz).time()
    if rule.quiet_start <= rule.quiet_end:
        return rule.quiet_start <= local < rule.quiet_end
    return local >= rule.quiet_start or local < rule.quiet_end  # across midnight, e.g. 23:00–07:00


def check(monitor: Monitor, now: datetime | None = None) -> list[Alert]:
    """Raise (and send) the monitor's new alerts for the hour ending now. Written in Chinese,
    the language of the enterprise's people (a channel message has one language)."""
    with translation.override("zh-hans"):
        return _check(monitor, now or clock.now())


def _check(monitor: Monitor, now: datetime) -> list[Alert]:
    rule, _created = AlertRule.objects.get_or_create(monitor=monitor)
    if not rule.is_active:
        return []
    tz = ZoneInfo(monitor.enterprise.time_zone)
    raised = []
    for finding in findings(StoredCounts(monitor), monitor.rule_since, rule, now.replace(second=0, microsecond=0), tz):
        last = Alert.objects.filter(monitor=monitor, kind=finding.kind).order_by("-created_at").first()
        if last and now - last.created_at < timedelta(minutes=rule.cooldown) and finding.severity < last.severity + 2:
            continue
        quiet = _quiet(rule, now, tz) and finding.severity < QUIET_BYPASS
        with transaction.atomic():
            alert = Alert.objects.create(
                enterprise_id=monitor.enterprise_id, monitor=monitor, kind=finding.kind, severity=finding.severity,
                reason=finding.reason[:300], volume=finding.volume, baseline=finding.baseline, window_end=now,
                sent=not quiet, created_at=now,
            )  # fmt: skip
            if not quiet:
                targets = list(rule.channels.filter(is_active=True)) or None
                title = _("【%(name)s】%(kind)s · 严重度 %(n)d") % {
                    "name": monitor.name, "kind": AlertKind(finding.kind).label, "n": finding.severity}
                channels.send(monitor.enterprise, "alert.raised", channels.Message(
                    title=title, text=finding.reason, url=absolute_url(f"/monitoring/{monitor.pk}/"),
                    level="error" if finding.severity >= 6 else "warning",
                    data={"monitor_id": monitor.pk, "alert_id": alert.pk, "kind": finding.kind,
                          "severity": finding.severity, "volume": finding.volume, "baseline": round(finding.baseline, 2)},
                ), channels=targets)  # fmt: skip
        raised.append(alert)
    return raised


@task()
def detect() -> dict[str, int]:
    """monitoring.detect — every active monitor, the hour ending now."""
    raised = 0
    for monitor in Monitor.objects.filter(is_active=True).select_related("enterprise"):
        raised += len(check(monitor))
    return {"raised": raised}

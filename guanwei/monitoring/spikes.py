"""Spike detection (the job `monitoring.detect`, every minute): is a monitor's last hour far
above what is usual for it?

* **Window.** The last WINDOW (one hour) of a monitor's minute counters.
* **Baseline.** The same hour of the week in earlier weeks (up to 4) where the monitor's rule
  already covered them; with fewer than 2 such weeks, the same hour of the previous days (up to
  7; a monitor's day has a shape: mornings are not nights); with fewer than 2 such days, the
  mean hour of the previous 24 hours. With less than 6 hours of history there is no baseline,
  and no alert. A new level: when the median of the same hour on the last 3 days is 1.5× those
  baselines or more, it is the baseline, so growth held for days stops being a storm.
* **Elevated.** Volume: the hour has at least the rule's `min_volume` and `factor` × the
  baseline. Negative: negative mentions at least `factor` × their baseline, a share of the hour
  of at least `negative_share`, and at least min_volume / 2 of them.
* **A storm, not a blip.** A kind is *found* when it is elevated now, was elevated
  `min_duration` minutes ago, and is still going: the last TAIL minutes hold at least
  `factor` × their usual share (and one mention). A burst that has ended does not alert after
  the fact; one that lasts does.
* **Episodes.** A finding opens an episode of its kind, which lasts while the kind stays
  above half the rule's thresholds (1 + (factor − 1) / 2 × the baseline, half the minimum
  volume and share — hysteresis, so that a storm hovering at the threshold is one storm): one alert per episode, and another only if it gets worse by 2 or more in severity.
  A new episode within the rule's cooldown of the last alert of its kind is not told again
  (a storm that flickers). When volume and negative open together, one alert tells both (the
  negative one: it says more).
* **Severity** 1–10 grows with the ratio (3× → 2, 10× → 6, 50× and more → 10).
* **Telling.** In quiet hours an alert below severity 8 is recorded, not sent. Each alert goes
  through the outbound channels (`alert.raised`), each delivery visible on the channel's page.

`assess` and `decide` are pure (no database): bench/detector_eval.py runs them on replayed and
synthetic timelines; `check` is them on the stored counters, with the episodes kept on the
monitor's AlertRule. A kind above its thresholds that has not held `min_duration` yet ripens
with time, not with a mention: `check` then asks for itself again in SOON_S seconds.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from types import SimpleNamespace
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import transaction
from django.db.models import Sum
from django.utils import translation
from django.utils.translation import gettext as _
from django_tasks import task

from guanwei.core import channels, clock
from guanwei.core.links import absolute_url
from guanwei.monitoring.models import Alert, AlertKind, AlertRule, MinuteCount, Monitor

log = logging.getLogger("guanwei.monitoring.spikes")

WINDOW = timedelta(hours=1)
TAIL = timedelta(minutes=5)
WEEKS = 4
DAYS = 7
RECENT_DAYS = 3  # a level held on most of the last 3 days at this hour is usual…
LEVEL_SHIFT = 1.5  # …when it is this far above the weeks' (or days') own (not for noise)
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


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def baseline(counts: Counts, since: datetime, end: datetime) -> tuple[float, float, str] | None:
    """(usual volume, usual negatives, how it was reckoned) for the hour ending at `end`, from
    the counters since `since` (the monitor's rule_since: earlier ones came from another rule).

    A level the monitor has held at this hour on most of the last RECENT_DAYS days is usual
    too, whatever the weeks before say: when the median of those days is LEVEL_SHIFT × the
    weekly (or daily) baseline or more, it is the baseline (a brand that has grown, a daily live
    show: news once, not every day for the weeks until the weekly baseline catches up). One
    day's storm does not move a median of three; below LEVEL_SHIFT the two differ by noise."""
    start = end - WINDOW
    days = [(start - timedelta(days=k), end - timedelta(days=k)) for k in range(1, DAYS + 1)]
    covered_days = [(a, b) for a, b in days if a >= since]
    # the last RECENT_DAYS first (the weekly baseline needs only them); the rest if it is not enough
    day_sums = [counts.total(a, b) for a, b in covered_days[:RECENT_DAYS]]
    recent = None
    if len(day_sums) >= RECENT_DAYS:
        recent = (_median([v for v, _n in day_sums]), _median([n for _v, n in day_sums]))
    weeks = [(start - timedelta(weeks=k), end - timedelta(weeks=k)) for k in range(1, WEEKS + 1)]
    covered = [(a, b) for a, b in weeks if a >= since]
    if len(covered) >= 2:
        sums = [counts.total(a, b) for a, b in covered]
        week = (sum(v for v, _n in sums) / len(sums), sum(n for _v, n in sums) / len(sums))
        if recent is not None and recent[0] >= LEVEL_SHIFT * max(week[0], 1.0):
            return (recent[0], max(week[1], recent[1]), "day")
        return (*week, "week")
    day_sums += [counts.total(a, b) for a, b in covered_days[RECENT_DAYS:]]
    if len(day_sums) >= 2:
        mean = (sum(v for v, _n in day_sums) / len(day_sums), sum(n for _v, n in day_sums) / len(day_sums))
        if recent is not None and recent[0] >= LEVEL_SHIFT * max(mean[0], 1.0):
            return (recent[0], max(mean[1], recent[1]), "day")
        return (*mean, "day")
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
    if how == "day":
        return _("%(what)s是前几天同一时段（%(hour)s）的 %(ratio)s 倍") % {
            "what": what, "hour": local.strftime("%H:%M"), "ratio": _ratio(ratio)}
    return _("%(what)s是过去 24 小时平均每小时的 %(ratio)s 倍") % {"what": what, "ratio": _ratio(ratio)}


def _ratio(ratio: float) -> str:
    return f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}"


@dataclass
class Assessment:
    findings: list[Finding]  # storms found now (held min_duration minutes, still going)
    elevated: set[str]  # kinds above the relaxed thresholds now (an open episode goes on while they are)
    # kinds above the thresholds now but not `min_duration` ago: storms if they hold (a burst
    # that has ended — above then, quiet now — is not pending)
    pending: set[str] = field(default_factory=set)


def _elevated(rule: AlertRule, base: tuple[float, float, str], volume: int, negative: int, at: datetime,
              tz: ZoneInfo) -> list[Finding]:  # fmt: skip
    usual_volume, usual_negative, how = base
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
    return found


def assess(counts: Counts, since: datetime, rule: AlertRule, end: datetime, tz: ZoneInfo) -> Assessment:
    """The hour ending at `end`: which kinds are elevated, and which of them are storms found
    (elevated `min_duration` minutes earlier too, and still going in the last TAIL minutes).
    `rule` needs only its thresholds (an unsaved AlertRule will do)."""
    base = baseline(counts, since, end)
    if base is None:
        return Assessment([], set())
    hour = counts.total(end - WINDOW, end)
    now = _elevated(rule, base, *hour, end, tz)
    # An episode goes on while its kind stays above half the rule's excess (hysteresis): a storm
    # hovering at the threshold is one storm, not one per flicker.
    relaxed = SimpleNamespace(min_volume=max(1, rule.min_volume // 2), factor=1 + (rule.factor - 1) / 2,
                              negative_share=rule.negative_share / 2)  # fmt: skip
    elevated = {f.kind for f in _elevated(relaxed, base, *hour, end, tz)}  # type: ignore[arg-type]
    if not now:
        return Assessment([], elevated)
    earlier_at = end - timedelta(minutes=rule.min_duration)
    earlier_base = baseline(counts, since, earlier_at)
    earlier = (
        {f.kind for f in _elevated(rule, earlier_base, *counts.total(earlier_at - WINDOW, earlier_at), earlier_at, tz)}
        if earlier_base else set()
    )  # fmt: skip
    tail_volume, tail_negative = counts.total(end - TAIL, end)
    share = TAIL / WINDOW

    def going(f: Finding) -> bool:
        """The last TAIL minutes above the usual rate and carrying at least a quarter of the
        hour's own average: a burst that is over leaves a quiet tail."""
        tail, usual = (tail_volume, base[0]) if f.kind == AlertKind.VOLUME else (tail_negative, base[1])
        return tail >= max(1.0, rule.factor * usual * share) and tail >= f.volume * share / 4

    found = [f for f in now if f.kind in earlier and going(f)]
    return Assessment(found, elevated, {f.kind for f in now if f.kind not in earlier})


def findings(counts: Counts, since: datetime, rule: AlertRule, end: datetime, tz: ZoneInfo) -> list[Finding]:
    """The storms found in the hour ending at `end` (see `assess`)."""
    return assess(counts, since, rule, end, tz).findings


# Episodes, per kind: {"at": ISO time of its last alert, "severity": n, "open": bool}
Episodes = dict[str, dict[str, Any]]


def decide(episodes: Episodes, assessment: Assessment, now: datetime, cooldown_min: int) -> tuple[list[Finding], Episodes]:
    """Which findings to tell, and the episodes after them (see the module's docstring)."""
    state = {kind: dict(e) for kind, e in episodes.items()}
    for kind, episode in state.items():
        if episode.get("open") and kind not in assessment.elevated:
            episode["open"] = False  # the storm of this kind is over
    tell: list[Finding] = []
    for finding in assessment.findings:
        episode = state.get(finding.kind)
        if episode and episode.get("open"):
            if finding.severity < episode["severity"] + 2:
                continue  # the same storm, not worse enough to tell again
        elif episode and now - datetime.fromisoformat(episode["at"]) < timedelta(minutes=cooldown_min) and (
            finding.severity < episode["severity"] + 2
        ):
            state[finding.kind] = {**episode, "open": True}  # flickered back: the same storm
            continue
        state[finding.kind] = {"at": now.isoformat(), "severity": finding.severity, "open": True}
        tell.append(finding)
    kinds = {f.kind for f in tell}
    if kinds == {AlertKind.VOLUME, AlertKind.NEGATIVE}:  # one alert tells both
        volume, negative = (next(f for f in tell if f.kind == kind) for kind in (AlertKind.VOLUME, AlertKind.NEGATIVE))
        tell = [Finding(negative.kind, max(negative.severity, volume.severity), negative.volume, negative.baseline,
                        f"{negative.reason}；{volume.reason}")]  # fmt: skip
    return tell, state


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
    # The hour ends with the minute under way: its counts so far are in (a count only grows, so a
    # storm is seen as soon as the counted mentions show it, not when the minute is over).
    minute = now.replace(second=0, microsecond=0)
    end = minute + timedelta(minutes=1) if now > minute else minute
    assessment = assess(StoredCounts(monitor), monitor.rule_since, rule, end, tz)
    if assessment.pending:
        _check_again_soon(monitor.pk, now)
    if not assessment.elevated and not any(e.get("open") for e in rule.episodes.values()):
        return []
    tell, episodes = decide(rule.episodes, assessment, now, rule.cooldown)
    if episodes != rule.episodes:
        AlertRule.objects.filter(pk=rule.pk).update(episodes=episodes)
    raised = []
    for finding in tell:
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


SOON_S = 15  # a monitor is checked at most this often between the job's runs


def _check_again_soon(monitor_id: int, now: datetime) -> None:
    """A kind above its thresholds waits out the rule's duration: the storm ripens with time,
    not with a new mention, so the monitor is checked again in SOON_S seconds rather than at the
    job's next minute (or when more mentions happen to be counted). One follow-up at a time."""
    if not detect_monitors.get_backend().supports_defer:  # the immediate backend cannot wait
        return
    try:  # best effort: the cache down must not stop this check from telling what it found
        first = cache.add(f"monitoring:again:{monitor_id}", 1, timeout=SOON_S - 2)  # gone when it runs
    except Exception:  # noqa: BLE001 - any cache backend's error; logged, the minute job remains
        log.warning("monitoring.check_again_failed monitor=%s", monitor_id, exc_info=True)
        return
    if first:
        transaction.on_commit(lambda: detect_monitors.using(
            run_after=now + timedelta(seconds=SOON_S)).enqueue([monitor_id]))  # fmt: skip


def detect_soon(monitor_ids: set[int]) -> None:
    """After new matches are counted (monitoring.matching, on commit): check those monitors
    now rather than at the job's next minute — the alert goes out seconds after the storm is
    counted. At most once per SOON_S per monitor (a cache key per monitor)."""
    due = [pk for pk in sorted(monitor_ids) if cache.add(f"monitoring:soon:{pk}", 1, timeout=SOON_S)]
    if due:
        detect_monitors.enqueue(due)


@task()
def detect_monitors(monitor_ids: list[int]) -> dict[str, int]:
    """monitoring.detect_monitors — the monitors whose counters just grew."""
    return _check_each(Monitor.objects.filter(pk__in=monitor_ids, is_active=True))


@task()
def detect() -> dict[str, int]:
    """monitoring.detect — every active monitor, the hour ending now."""
    return _check_each(Monitor.objects.filter(is_active=True))


def _check_each(monitors: Any) -> dict[str, int]:
    """Check each monitor; one that fails (logged with its traceback) does not stop the others:
    a bug in one monitor's counters must not silence every other alert."""
    raised = failed = 0
    for monitor in monitors.select_related("enterprise"):
        try:
            raised += len(check(monitor))
        except Exception:  # isolation, see above
            log.exception("monitoring.check_failed monitor=%s", monitor.pk)
            failed += 1
    return {"raised": raised, "failed": failed}

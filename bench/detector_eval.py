"""Evaluate the spike detector (`guanwei.monitoring.spikes`, the job `monitoring.detect`) on
synthetic, CED and COVID timelines whose storms are known.

    .venv/bin/python bench/detector_eval.py [--quick] [--part synthetic|ced|covid|all]
                                            [--step 1] [--ced-rate 20] [--seed 7]

One process, no database rows: Django is set up (GUANWEI_ENV=development, a temporary
GUANWEI_VAR_DIR and SQLite DATABASE_URL; nothing is migrated or stored) and every timeline is
replayed through the project's own pure entry points `spikes.assess(counts, since, rule, end,
tz)` and `spikes.decide` with an unsaved default `AlertRule()` (min_volume 10, factor 3, negative_share 0.5,
min_duration 10, cooldown 60) and tz Asia/Shanghai. `counts` is a subclass of
`spikes.SeriesCounts` whose `total()` uses prefix sums (checked against `SeriesCounts.total` on
every timeline before it is replayed); the detection logic is the project's, untouched.
`--quick` (a subset of each part, under a minute) — full run about 5 minutes on 2 vCPUs.
CED and COVID are skipped, with a message, when their files are absent.

**The job.** `end` steps every minute (`--step N`: every N minutes) from `since` to the end of
a timeline, through the job's own logic: `spikes.assess` (elevated kinds; storms found: held
`min_duration` minutes and still going) then `spikes.decide` (one alert per episode of a kind,
again only if 2 or more worse; a new episode within `cooldown` (60) minutes of the last alert
of its kind is not told; volume and negative opening together make one alert). Quiet hours
are off (they only decide whether an alert is sent).

**Timelines** (minute counters of one monitor; `since` = the first minute, the rule's start):

1. *synthetic*. Background: Poisson counts at a base rate of 2, 20 or 200 mentions an hour
   (weekly mean), shaped by time of day (0.15 at night, peaks near 12:00 and 21:00 local) with
   weekends at 0.8; each mention negative with probability 0.2. Storms: size 3×, 5×, 10× or
   30× the usual rate of that minute (rate during the storm = size × the shaped background),
   lasting 30, 120 or 360 minutes, *neutral* (extra mentions negative with p 0.2) or
   *all-negative*: 24 per rate (`--quick`: 3×, 10×, 30× and 30, 120 min: 12). Decoys: a
   10-minute *blip* at 10× and one at 30×. Per rate these are shuffled (seeded) and split over
   two "storms" monitors: *-a* starts on Monday 2026-01-05 00:00 local with a *cold-start*
   storm (10×, 120 min, 2 hours in) and its events from day 1.5 (so the first two weeks use
   the "recent" 24-hour baseline, later ones the weekly one); *-b* has two weeks of background
   first (weekly baseline throughout). `--quick`: one monitor per rate, as *-a*. Events are 26
   hours or more apart (the 24-hour baseline never holds an earlier one) and never at the same
   hours of the week as another one (no weekly baseline does either). A *growth* monitor per
   rate (`--quick`: 20/h only), 42 days, has no storm: from day 28 its rate grows linearly to
   4× over 4 days and stays there — a gradual-growth decoy.
2. *ced*. CED rumour cascades (`$GUANWEI_DATA_DIR/ced/cascades.jsonl.gz`, streamed line by
   line, only the chosen ones parsed): a cascade is used when int(md5(id), 16) % 4 == 0 (856 of
   3,387; `--quick` % 160: 20). Its source post and reposts (minute offsets from the source, 0
   to 70 hours; earlier ones dropped) are laid onto a synthetic background of `--ced-rate` (20)
   an hour, as above: 20 cascades per monitor in file order (rumours come first in the file),
   after 14 days of background, one every 3 days, each on its own time of day (shifted by whole
   days). Negative: every mention of a *rumor* cascade, none of a *non-rumor* one (the
   background keeps its 20 %).
3. *covid*. CHECKED (`$GUANWEI_DATA_DIR/covid/`), replayed at the real times (minutes, +08:00),
   each event (comment or repost) one mention. *covid-official*: the events of the 1,760 "real"
   posts, all by one official news account — what a monitor of that account sees; nothing is
   negative. *covid-rumours*: the events of the 342 "fake" posts (297 have any) — a rumour watch;
   everything negative. `since` = local midnight of the first post's day. `--quick`: posts
   before 2020-02-10 and events before 2020-02-17 only.

**Events and storms.** Synthetic: the injected storms are the storms (all of them count, even
those that cannot reach the thresholds); blips and the growth are *decoys*. CED/COVID: each
cascade / post is an *event*; `peak` = its own mentions in its busiest 60 minutes of the first
48 hours; it is a *storm* when peak ≥ max(min_volume, 2 × usual), usual = the timeline's mean
hourly volume over the 7 days before the event (over less when `since` is nearer, 0 without
history) — the event alone at least triples an average hour. Smaller events are *minor*: not
in the recall, but an alert during one is not false.

**Spans.** An alert at minute `end` (the job's run) belongs to an event when start < end ≤ span
end. Synthetic storms and blips: span end = start + length + 60 (the hour window has let go of
it); growth: the end of the timeline. CED/COVID: the event's volume has fallen off for good —
the span ends with the last hour (ending within 48 h of the start) in which its own mentions
reached 10 % of its peak or the usual hour, whichever is lower, plus one minute.

**Figures** (pooled over the timelines of a part). `storms`; `detected` = storms with an alert
(either kind) in their span; `missed`; `suppressed` = missed storms that had a finding in their
span but no alert (cooldown); `alerts`; `false_alerts` = alerts outside every storm's and minor
event's span, plus all alerts in a decoy's span; `precision` = (alerts − false_alerts) / alerts
(repeat alerts during a long storm count as true: they were sent); `recall` = detected /
storms; `ttd` = minutes from the storm's first minute to its first alert, median (`p50`) and
nearest-rank 90th percentile (`p90`) over detected storms (at least 11 by construction: the
hour ending 10 minutes earlier must already spike); `ttd_cross` = minutes from the *crossing*,
the first minute of the span whose hour alone meets the thresholds (`findings` with the same
rule but min_duration 0), to that first alert. False alerts outside decoys are split into
*noise* (the background without any event raises it too at that minute), *tails* (it does
not: events' mentions outside their spans do) and *unexplained* (COVID: no background to
replay). `span_share` = share of the minutes inside some storm's or minor event's span. For
missed storms: the best hour volume / baseline (`spikes.baseline`) and the best hour volume in
their span, every 5 minutes.

The last line is `RESULT {json}` (the figures above prefixed with the part's name).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

REPO = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
MINUTE = timedelta(minutes=1)
HOUR = 60
DAY = 1440
WEEK = 7 * DAY
# Monday 2026-01-05 00:00 in Asia/Shanghai (UTC+8 all year): index 0 of synthetic/CED timelines.
EPOCH = datetime(2026, 1, 5, tzinfo=TZ).astimezone(UTC)
NEG_SHARE = 0.2  # background share of negative mentions
CED_PER_MONITOR = 20
CED_WARMUP_DAYS = 14
CED_SLOT_DAYS = 3
CED_TRUNCATE = 70 * HOUR
OUTBREAK_CAP = 48 * HOUR


def data_dir() -> Path:
    env = os.environ.get("GUANWEI_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


def _setup_django(tmp: str) -> None:
    os.environ.update(
        GUANWEI_ENV="development", GUANWEI_VAR_DIR=tmp, DATABASE_URL=f"sqlite:///{tmp}/bench.db",
        GUANWEI_LOG_LEVEL="WARNING", GUANWEI_DEBUG="false",
    )  # fmt: skip
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanwei.settings")
    import django

    django.setup()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- timelines ------------------------------------------------------------------------------


@dataclass
class Event:
    label: str
    start: int  # minute index of its first minute
    span_end: int  # alerts at start < end <= span_end belong to it
    storm: bool = True  # counts in recall
    decoy: bool = False  # an alert in its span is a false alert
    negative: bool = False
    peak: int = 0  # own mentions in the busiest 60 minutes
    tags: dict[str, Any] = field(default_factory=dict)


@dataclass
class Timeline:
    name: str
    t0: datetime  # UTC, minute index 0 (= since)
    volume: np.ndarray
    negative: np.ndarray
    events: list[Event]
    bg: tuple[np.ndarray, np.ndarray] | None = None  # the counters without the events' mentions

    @property
    def minutes(self) -> int:
        return len(self.volume)


@functools.cache
def _prefix_counts_class() -> type:
    from guanwei.monitoring.spikes import SeriesCounts

    class PrefixCounts(SeriesCounts):
        """SeriesCounts answered from prefix sums (same totals, O(1) a call)."""

        def __init__(self, t0: datetime, volume: np.ndarray, negative: np.ndarray) -> None:
            super().__init__({})
            self.t0 = t0
            self.n = len(volume)
            self.cv = [0, *np.cumsum(volume, dtype=np.int64).tolist()]
            self.cn = [0, *np.cumsum(negative, dtype=np.int64).tolist()]

        def _index(self, at: datetime) -> int:
            i = (at - self.t0) // MINUTE
            return 0 if i < 0 else (self.n if i > self.n else i)

        def total(self, start: datetime, end: datetime) -> tuple[int, int]:
            a, b = self._index(start), self._index(end)
            if b <= a:
                return 0, 0
            return self.cv[b] - self.cv[a], self.cn[b] - self.cn[a]

    return PrefixCounts


def counts_of(tl: Timeline, background_only: bool = False) -> Any:
    volume, negative = tl.bg if background_only and tl.bg else (tl.volume, tl.negative)
    return _prefix_counts_class()(tl.t0, volume, negative)


def check_counts(tl: Timeline, rng: np.random.Generator) -> None:
    """PrefixCounts.total must equal the project's SeriesCounts.total."""
    from guanwei.monitoring.spikes import SeriesCounts

    n = min(tl.minutes, 3 * DAY)
    plain = SeriesCounts(
        {tl.t0 + i * MINUTE: (int(tl.volume[i]), int(tl.negative[i])) for i in range(n)}
    )
    fast = counts_of(tl)
    for _ in range(200):
        a, b = sorted(int(x) for x in rng.integers(-30, n + 1, size=2))
        start, end = tl.t0 + a * MINUTE, tl.t0 + b * MINUTE
        assert plain.total(start, end) == fast.total(start, end), (a, b)


def _shape(local: np.ndarray) -> np.ndarray:
    """Unnormalised rate at local minutes of the week (0 = Monday 00:00)."""
    hour = (local % DAY) / 60.0

    def bump(center: float, width: float) -> np.ndarray:
        d = np.abs(hour - center)
        return np.exp(-((np.minimum(d, 24 - d) / width) ** 2))

    return (0.15 + 1.0 * bump(12.0, 3.5) + 1.3 * bump(21.0, 2.5)) * np.where(
        local // DAY >= 5, 0.8, 1.0
    )


def usual_rate(t0: datetime, minutes: int) -> np.ndarray:
    """Relative rate per minute (weekly mean 1): daily shape, weekends 0.8×."""
    offset = int((t0 - EPOCH) // MINUTE)  # EPOCH is a local Monday midnight; Shanghai has no DST
    local = np.arange(offset, offset + minutes) % WEEK
    return _shape(local) / _shape(np.arange(WEEK)).mean()


def background(
    rate: float, t0: datetime, minutes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lam = rate / 60.0 * usual_rate(t0, minutes)
    volume = rng.poisson(lam).astype(np.int64)
    negative = rng.binomial(volume, NEG_SHARE).astype(np.int64)
    return lam, volume, negative


def _inject(tl: Timeline, lam: np.ndarray, start: int, length: int, extra_factor: np.ndarray | float,
            all_negative: bool, rng: np.random.Generator) -> None:  # fmt: skip
    seg = slice(start, start + length)
    extra = rng.poisson(np.asarray(extra_factor) * lam[seg]).astype(np.int64)
    tl.volume[seg] += extra
    tl.negative[seg] += extra if all_negative else rng.binomial(extra, NEG_SHARE)


def _week_overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Do [a0, a1) and [b0, b1) overlap modulo a week (hours of the week)?"""
    for shift in (-WEEK, 0, WEEK):
        a0, a1 = a[0] % WEEK + shift, a[0] % WEEK + shift + (a[1] - a[0])
        b0, b1 = b[0] % WEEK, b[0] % WEEK + (b[1] - b[0])
        if a0 < b1 and b0 < a1:
            return True
    return False


def _storms_timeline(name: str, rate: int, plan: list[tuple[str, int, int, bool]], cold_start: bool,
                     rng: np.random.Generator) -> Timeline:  # fmt: skip
    """One monitor: background, then `plan`'s storms and blips from day 1.5 (`cold_start`: with
    a cold-start storm at hour 2) or day 15 (after two weeks of background)."""
    placed: list[tuple[int, int]] = [(2 * HOUR, 4 * HOUR)] if cold_start else []  # [first, end)
    cursor = DAY + DAY // 2 if cold_start else 15 * DAY
    starts: list[int] = []
    for _label, _size, length, _neg in plan:
        for _try in range(1000):
            s = cursor + int(rng.integers(0, 12 * HOUR))
            # at the same hours of the week, neither event's minutes may fall in the other's
            # windows (70 minutes before it to 60 after): no baseline may contain an event
            if not any(_week_overlap((s, s + length), (a - 70, b + HOUR)) for a, b in placed):
                break
            cursor += HOUR
        else:
            raise RuntimeError("could not place a synthetic event")
        starts.append(s)
        placed.append((s, s + length))
        cursor = s + length + 26 * HOUR
    minutes = cursor + DAY
    lam, volume, negative = background(rate, EPOCH, minutes, rng)
    tl = Timeline(name, EPOCH, volume, negative, [], (volume.copy(), negative.copy()))
    if cold_start:
        cold = Event("cold-start storm 10x 120min neutral", 2 * HOUR, 2 * HOUR + 120 + HOUR,
                     tags={"rate": rate, "size": 10, "length": 120, "cold": True})  # fmt: skip
        _inject(tl, lam, cold.start, 120, 9.0, False, rng)
        tl.events.append(cold)
    for (label, size, length, neg), s in zip(plan, starts, strict=True):
        _inject(tl, lam, s, length, float(size - 1), neg, rng)
        blip = label.startswith("blip")
        tl.events.append(Event(label, s, s + length + HOUR, storm=not blip, decoy=blip, negative=neg,
                               tags={"rate": rate, "size": size, "length": length}))  # fmt: skip
    return tl


def synthetic_timelines(quick: bool, seed: int) -> list[Timeline]:
    rng = np.random.default_rng(seed)
    sizes, lengths = ((3, 10, 30), (30, 120)) if quick else ((3, 5, 10, 30), (30, 120, 360))
    out = []
    for rate in (2, 20, 200):
        plan: list[tuple[str, int, int, bool]] = [
            (f"storm {s}x {n}min {'negative' if neg else 'neutral'}", s, n, neg)
            for s in sizes for n in lengths for neg in (False, True)
        ]  # fmt: skip
        plan += [("blip 10x 10min", 10, 10, False), ("blip 30x 10min", 30, 10, False)]
        plan = [plan[k] for k in rng.permutation(len(plan))]
        chunks = (
            [plan[i : i + 14] for i in range(0, len(plan), 14)]
            if quick
            else [plan[0::2], plan[1::2]]
        )
        for j, chunk in enumerate(chunks):
            out.append(
                _storms_timeline(f"synthetic-storms-{rate}/h-{'ab'[j]}", rate, chunk, j == 0, rng)
            )
    for rate in (20,) if quick else (2, 20, 200):
        minutes = 42 * DAY
        lam, volume, negative = background(rate, EPOCH, minutes, rng)
        tl = Timeline(
            f"synthetic-growth-{rate}/h",
            EPOCH,
            volume,
            negative,
            [],
            (volume.copy(), negative.copy()),
        )
        ramp_start, ramp = 28 * DAY, 4 * DAY
        g = np.clip((np.arange(minutes - ramp_start)) / ramp, 0.0, 1.0) * 3.0
        _inject(tl, lam, ramp_start, minutes - ramp_start, g, False, rng)
        tl.events.append(Event("growth 1x→4x over 4 days", ramp_start, minutes, storm=False, decoy=True,
                               tags={"rate": rate}))  # fmt: skip
        out.append(tl)
    return out


def own_profile(offsets: np.ndarray, usual: float) -> tuple[int, int]:
    """(peak = its own mentions in its busiest 60 minutes of the first 48 h, span end offset) of
    one event, given its mentions' minute offsets from its start (≥ 0): the span ends when its
    volume has fallen off for good — the first minute from which, up to 48 h after the start,
    its own last 60 minutes never again hold 10 % of its peak or the usual hour (the lower)."""
    own = np.bincount(offsets[offsets < OUTBREAK_CAP + HOUR], minlength=OUTBREAK_CAP + HOUR)
    csum = np.concatenate([[0], np.cumsum(own)])
    t = np.arange(1, len(own) + 1)
    trailing = csum[t] - csum[np.maximum(t - HOUR, 0)]  # own mentions in [t-60, t)
    first48 = trailing[:OUTBREAK_CAP]
    peak = int(first48.max())
    above = np.nonzero(first48 >= min(0.1 * peak, max(usual, 1.0)))[0]
    # trailing[k] is the hour ending at offset k + 1: the last one above ends at above[-1] + 1,
    # the first one below (for good) at above[-1] + 2.
    return peak, min(int(above[-1]) + 2, OUTBREAK_CAP)


def classify_storms(tl: Timeline, rule: Any, offsets: list[np.ndarray]) -> None:
    """CED/COVID: peak and span of each event (its own mentions at `offsets`), and whether it is
    a storm: peak ≥ max(min_volume, 2 × usual), usual = the timeline's mean hourly volume over
    the 7 days before the event (less when `since` is nearer; 0 without history)."""
    csum = np.concatenate([[0], np.cumsum(tl.volume)])
    for ev, off in zip(tl.events, offsets, strict=True):
        a = max(0, ev.start - WEEK)
        hours = (ev.start - a) / 60.0
        usual = float(csum[ev.start] - csum[a]) / hours if hours else 0.0
        ev.peak, end = own_profile(off, usual)
        ev.span_end = ev.start + end
        ev.tags["usual"] = round(usual, 1)
        ev.storm = ev.peak >= max(rule.min_volume, 2 * usual)


def ced_cascades(quick: bool) -> tuple[list[tuple[str, str, int, list[int]]], dict[str, int]]:
    """(id, label, source minute of day (local), offsets) of the selected cascades, streamed."""
    modulo = 160 if quick else 4
    chosen = []
    stats = {"cascades": 0}
    with gzip.open(data_dir() / "ced" / "cascades.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            stats["cascades"] += 1
            head = line[:60]
            cid = head.split('"id":', 1)[1].split('"')[1]
            if int(hashlib.md5(cid.encode()).hexdigest(), 16) % modulo:
                continue
            cascade = json.loads(line)
            src = datetime.fromisoformat(cascade["source"]["time"])
            s = int(src.timestamp() // 60)
            offsets = [0]
            for r in cascade["reposts"]:
                o = int(datetime.fromisoformat(r["time"]).timestamp() // 60) - s
                if 0 <= o < CED_TRUNCATE:
                    offsets.append(o)
            local = src.astimezone(TZ)
            chosen.append((cid, cascade["label"], local.hour * 60 + local.minute, offsets))
    return chosen, stats


def ced_timelines(quick: bool, seed: int, rate: float, rule: Any) -> list[Timeline]:
    cascades, stats = ced_cascades(quick)
    log(f"ced: {len(cascades)} of {stats['cascades']} cascades selected")
    rng = np.random.default_rng(seed + 1)
    out = []
    for m in range(0, len(cascades), CED_PER_MONITOR):
        group = cascades[m : m + CED_PER_MONITOR]
        minutes = (CED_WARMUP_DAYS + CED_SLOT_DAYS * len(group) + 1) * DAY
        lam, volume, negative = background(rate, EPOCH, minutes, rng)
        tl = Timeline(
            f"ced-{m // CED_PER_MONITOR + 1}",
            EPOCH,
            volume,
            negative,
            [],
            (volume.copy(), negative.copy()),
        )
        offs: list[np.ndarray] = []
        for j, (cid, label, tod, offsets) in enumerate(group):
            start = (CED_WARMUP_DAYS + CED_SLOT_DAYS * j) * DAY + tod
            own = np.bincount(offsets, minlength=CED_TRUNCATE)
            seg = slice(start, start + CED_TRUNCATE)
            n = len(tl.volume[seg])
            tl.volume[seg] += own[:n]
            if label == "rumor":
                tl.negative[seg] += own[:n]
            tl.events.append(Event(f"cascade {cid} ({label})", start, start, negative=label == "rumor",
                                   tags={"label": label, "size": len(offsets)}))  # fmt: skip
            offs.append(np.asarray(offsets, dtype=np.int64))
        classify_storms(tl, rule, offs)
        out.append(tl)
    return out


def covid_timelines(quick: bool, rule: Any) -> list[Timeline]:
    base = data_dir() / "covid"
    post_cut = datetime(2020, 2, 10, tzinfo=TZ) if quick else None
    event_cut = "2020-02-17" if quick else None
    posts: dict[str, tuple[str, str, int]] = {}
    users: dict[str, int] = defaultdict(int)
    with gzip.open(base / "checked_posts.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            p = json.loads(line)
            at = datetime.fromisoformat(p["time"])
            if post_cut and at >= post_cut:
                continue
            posts[p["id"]] = (p["label"], p["user_id"], int(at.timestamp() // 60))
            users[p["user_id"]] += 1
    official = max(users, key=users.get)  # type: ignore[arg-type]
    minute_of: dict[str, int] = {}
    events: dict[str, list[int]] = defaultdict(list)
    with gzip.open(base / "checked_events.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            pid = line[9:41]
            i = line.index('"time":"', 41) + 8
            ts = line[i : i + 25]
            if event_cut and ts >= event_cut:
                break
            if pid not in posts:
                continue
            m = minute_of.get(ts)
            if m is None:
                m = minute_of[ts] = int(datetime.fromisoformat(ts).timestamp() // 60)
            events[pid].append(m)
    out = []
    for name, pick, neg in (
        ("covid-official", lambda p: p[0] == "real" and p[1] == official, False),
        ("covid-rumours", lambda p: p[0] == "fake", True),
    ):
        ids = [pid for pid, p in posts.items() if pick(p) and events.get(pid)]
        if not ids:
            continue
        first = min(posts[pid][2] for pid in ids)
        local = datetime.fromtimestamp(first * 60, TZ)
        since = local.replace(hour=0, minute=0).astimezone(UTC)
        s0 = int(since.timestamp() // 60)
        last = max(max(events[pid]) for pid in ids)
        minutes = last - s0 + 2 * HOUR
        volume = np.zeros(minutes, dtype=np.int64)
        tl = Timeline(name, since, volume, volume if neg else np.zeros(minutes, dtype=np.int64), [])
        offs: list[np.ndarray] = []
        for pid in sorted(ids, key=lambda i: posts[i][2]):
            label, _user, at = posts[pid]
            mins = np.asarray(events[pid], dtype=np.int64)
            np.add.at(volume, mins[(mins >= s0) & (mins < s0 + minutes)] - s0, 1)
            offsets = mins[mins >= at] - at
            if not len(offsets):
                continue
            tl.events.append(Event(f"post {pid} ({label})", at - s0, at - s0, negative=neg,
                                   tags={"label": label, "size": len(offsets)}))  # fmt: skip
            offs.append(offsets)
        classify_storms(tl, rule, offs)
        log(
            f"{name}: {len(tl.events)} posts, {int(volume.sum()):,} events, {minutes / DAY:.0f} days"
        )
        out.append(tl)
    return out


# --- the job and the scoring ----------------------------------------------------------------


@dataclass
class Alert:
    at: int  # minute index of the job's `end`
    kind: str
    severity: int


def simulate(tl: Timeline, rule: Any, step: int) -> tuple[list[Alert], bytearray]:
    """Step `end` over the timeline like monitoring.detect: spikes.assess, then spikes.decide
    (episodes, cooldown, one alert for volume and negative together) — the job's own logic."""
    from guanwei.monitoring.spikes import assess, decide

    counts = counts_of(tl)
    found = bytearray(tl.minutes + 1)
    episodes: dict[str, dict[str, Any]] = {}
    alerts: list[Alert] = []
    for e in range(step, tl.minutes + 1, step):
        end = tl.t0 + e * MINUTE
        assessment = assess(counts, tl.t0, rule, end, TZ)
        if assessment.findings:
            found[e] = 1
        if not assessment.elevated and not any(x.get("open") for x in episodes.values()):
            continue
        tell, episodes = decide(episodes, assessment, end, rule.cooldown)
        alerts.extend(Alert(e, str(f.kind), f.severity) for f in tell)
    return alerts, found


@dataclass
class StormResult:
    event: Event
    timeline: str
    ttd: int | None = None
    ttd_cross: int | None = None
    kind: str | None = None
    severity: int | None = None
    negative_alert: bool = False
    suppressed: bool = False
    baseline: str | None = None
    both_kinds: bool = False
    best_ratio: float | None = None  # missed storms: the highest hour volume / baseline in the span
    best_volume: int | None = None  # ... and the highest hour volume


def score(tl: Timeline, alerts: list[Alert], found: bytearray, rule: Any,
          instant: Any) -> tuple[list[StormResult], dict[str, int], list[str]]:  # fmt: skip
    from guanwei.monitoring.spikes import WINDOW, baseline, findings

    counts = counts_of(tl)
    bg_counts = counts_of(tl, background_only=True)
    notes: list[str] = []
    true_alerts = false_alerts = decoy_alerts = 0
    why: dict[str, int] = defaultdict(int)  # the other false alerts, by circumstance
    decoys_hit: dict[int, list[int]] = defaultdict(list)
    minor_hit: set[int] = set()
    events = tl.events
    for a in alerts:
        inside = [i for i, ev in enumerate(events) if ev.start < a.at <= ev.span_end]
        if any(events[i].decoy for i in inside):
            false_alerts += 1
            decoy_alerts += 1
            for i in inside:
                if events[i].decoy:
                    decoys_hit[i].append(a.at)
        elif inside:
            true_alerts += 1
            minor_hit.update(i for i in inside if not events[i].storm)
        else:
            false_alerts += 1
            why[f"false_{a.kind}"] += 1
            if a.at <= DAY:
                why["false_first_day"] += 1
            if tl.bg is None:
                why["false_unexplained"] += 1
            elif any(
                f.kind == a.kind
                for f in findings(bg_counts, tl.t0, rule, tl.t0 + a.at * MINUTE, TZ)
            ):
                why["false_noise"] += 1  # the background alone raises it too
            else:
                why["false_tail"] += 1  # events' mentions outside their spans raise it
    for i, ats in decoys_hit.items():
        ev = events[i]
        notes.append(f"decoy {ev.label} ({tl.name}): {len(ats)} alerts, the first {ats[0] - ev.start} min "
                     f"after its start, the last {(ats[-1] - ev.start) / DAY:.1f} days after")  # fmt: skip
    results = []
    for ev in events:
        if not ev.storm:
            continue
        r = StormResult(ev, tl.name)
        base = baseline(counts, tl.t0, tl.t0 + (ev.start + HOUR) * MINUTE)
        r.baseline = base[2] if base else "none"
        mine = [a for a in alerts if ev.start < a.at <= ev.span_end]
        if mine:
            first = mine[0]
            r.ttd, r.kind, r.severity = first.at - ev.start, first.kind, first.severity
            r.negative_alert = any(a.kind == "negative" for a in mine)
            r.both_kinds = len({a.kind for a in mine}) == 2
            for e in range(ev.start + 1, first.at + 1):
                if findings(counts, tl.t0, instant, tl.t0 + e * MINUTE, TZ):
                    r.ttd_cross = first.at - e
                    break
        else:
            end = min(ev.span_end, tl.minutes)
            r.suppressed = any(found[ev.start + 1 : end + 1])
            r.best_ratio, r.best_volume = 0.0, 0
            for e in range(ev.start + 5, end + 1, 5):  # every 5 minutes is enough here
                at = tl.t0 + e * MINUTE
                base = baseline(counts, tl.t0, at)
                volume = counts.total(at - WINDOW, at)[0]
                r.best_volume = max(r.best_volume, volume)
                if base:
                    r.best_ratio = max(r.best_ratio, volume / max(base[0], 1.0))
        results.append(r)
    n_minor = sum(1 for ev in events if not ev.storm and not ev.decoy)
    covered = np.zeros(tl.minutes + 1, dtype=bool)
    for ev in events:
        if not ev.decoy:
            covered[ev.start + 1 : ev.span_end + 1] = True
    tally = {
        "alerts": len(alerts), "true_alerts": true_alerts, "false_alerts": false_alerts,
        "decoy_alerts": decoy_alerts, "decoys": sum(1 for ev in events if ev.decoy),
        "decoys_alerted": len(decoys_hit), "minor_events": n_minor, "minor_alerted": len(minor_hit),
        "background_false_alerts": false_alerts - decoy_alerts, "false_first_day": 0, "false_noise": 0,
        "false_tail": 0, "false_unexplained": 0, "false_volume": 0, "false_negative": 0, **why,
        "span_minutes": int(covered.sum()), "minutes": tl.minutes,
    }  # fmt: skip
    return results, tally, notes


def pct(values: list[int], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return float(s[max(0, math.ceil(q * len(s)) - 1)])


def summarise(results: list[StormResult], tally: dict[str, int], min_volume: int) -> dict[str, Any]:
    """The figures of a set of storms and the alert tally of their timelines."""
    detected = [r for r in results if r.ttd is not None]
    ttd = [r.ttd for r in detected if r.ttd is not None]
    cross = [r.ttd_cross for r in detected if r.ttd_cross is not None]
    neg = [r for r in results if r.event.negative]
    ratios = [r.best_ratio for r in results if r.best_ratio is not None]
    volumes = [r.best_volume for r in results if r.best_volume is not None]
    return {
        "storms": len(results),
        "detected": len(detected),
        "missed": len(results) - len(detected),
        "suppressed": sum(1 for r in results if r.suppressed),
        **tally,
        "precision": round((tally["alerts"] - tally["false_alerts"]) / tally["alerts"], 3)
        if tally["alerts"]
        else None,
        "recall": round(len(detected) / len(results), 3) if results else None,
        "ttd_p50_min": statistics.median(ttd) if ttd else None,
        "ttd_p90_min": pct(ttd, 0.9),
        "ttd_cross_p50_min": statistics.median(cross) if cross else None,
        "ttd_cross_p90_min": pct(cross, 0.9),
        "negative_storms": len(neg),
        "negative_storms_negative_alert": sum(1 for r in neg if r.negative_alert),
        "storms_both_kinds": sum(1 for r in results if r.both_kinds),
        "missed_best_ratio_p50": round(statistics.median(ratios), 2) if ratios else None,
        "missed_best_volume_p50": statistics.median(volumes) if volumes else None,
        "missed_below_min_volume": sum(
            1 for r in results if r.best_volume is not None and r.best_volume < min_volume
        ),
    }


def add_tally(total: dict[str, int], part: dict[str, int]) -> None:
    for k, v in part.items():
        total[k] = total.get(k, 0) + v


def run_kind(
    name: str, timelines: list[Timeline], rule: Any, instant: Any, step: int
) -> tuple[dict[str, Any], list[StormResult], dict[str, dict[str, Any]]]:
    t0 = time.perf_counter()
    results: list[StormResult] = []
    tally: dict[str, int] = {}
    per_timeline: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    rng = np.random.default_rng(0)
    for tl in timelines:
        check_counts(tl, rng)
        alerts, found = simulate(tl, rule, step)
        res, tal, tl_notes = score(tl, alerts, found, rule, instant)
        notes += tl_notes
        per_timeline[tl.name] = summarise(res, tal, rule.min_volume)
        per_timeline[tl.name]["days"] = round(tl.minutes / DAY, 1)
        results += res
        add_tally(tally, tal)
        log(f"  {tl.name}: {tl.minutes / DAY:.0f} days, {len(alerts)} alerts, "
            f"{sum(1 for r in res if r.ttd is not None)}/{len(res)} storms ({time.perf_counter() - t0:.0f} s)")  # fmt: skip
    summary = summarise(results, tally, rule.min_volume)
    summary["span_share"] = round(tally["span_minutes"] / tally["minutes"], 3)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    summary["timelines"] = len(timelines)
    summary["minutes_replayed"] = sum(tl.minutes for tl in timelines) // step
    summary["notes"] = notes
    return summary, results, per_timeline


# --- report ---------------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    return "—" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


def print_summary(
    name: str, summary: dict[str, Any], per_timeline: dict[str, dict[str, Any]]
) -> None:
    cols = ["days", "storms", "detected", "missed", "suppressed", "alerts", "false_alerts", "precision",
            "recall", "ttd_p50_min", "ttd_p90_min", "ttd_cross_p50_min", "ttd_cross_p90_min"]  # fmt: skip
    print(f"\n## {name}\n")
    print("| timeline | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for tl, s in per_timeline.items():
        print(f"| {tl} | " + " | ".join(_fmt(s.get(c)) for c in cols) + " |")
    print("| **all** | " + " | ".join(_fmt(summary.get(c)) for c in cols) + " |")
    print(
        f"\nalerts in a decoy's span: {summary['decoy_alerts']} ({summary['decoys_alerted']} of "
        f"{summary['decoys']} decoys); other false alerts: {summary['background_false_alerts']}; "
        f"minor events alerted: {summary['minor_alerted']} of {summary['minor_events']}; negative storms "
        f"with a negative alert: {summary['negative_storms_negative_alert']} of {summary['negative_storms']}"
    )
    print(
        f"other false alerts: the background alone raises them too (noise) {summary['false_noise']}, "
        f"raised by events' mentions outside their spans (tails) {summary['false_tail']}, no background "
        f"to tell {summary['false_unexplained']}; in the first 24 h {summary['false_first_day']}; "
        f"by kind: volume {summary['false_volume']}, negative {summary['false_negative']}; share of "
        f"the timelines' minutes inside a storm's or minor event's span: {summary.get('span_share')}"
    )
    if summary["alerts"]:
        ok = (
            summary["alerts"]
            - summary["decoy_alerts"]
            - summary["false_noise"]
            - summary["false_unexplained"]
        )
        print(f"precision counting tail alerts as true: {ok / summary['alerts']:.3f}")
    print(
        f"storms with alerts of both kinds: {summary['storms_both_kinds']}; missed storms: best hour "
        f"volume / baseline p50 {_fmt(summary['missed_best_ratio_p50'])}, best hour volume p50 "
        f"{_fmt(summary['missed_best_volume_p50'])}, best hour below min_volume: {summary['missed_below_min_volume']}"
    )
    for note in summary["notes"]:
        print(f"- {note}")


def breakdown(title: str, results: list[StormResult], key: Any) -> None:
    groups: dict[Any, list[StormResult]] = defaultdict(list)
    for r in results:
        groups[key(r)].append(r)
    print(f"\n{title}\n")
    print("| group | storms | detected | ttd p50 | ttd p90 | first alert kinds |")
    print("|---|---:|---:|---:|---:|---|")
    for g in sorted(groups, key=str):
        rs = groups[g]
        ttd = [r.ttd for r in rs if r.ttd is not None]
        kinds: dict[str, int] = defaultdict(int)
        for r in rs:
            if r.kind:
                kinds[r.kind] += 1
        print(f"| {g} | {len(rs)} | {len(ttd)} | {_fmt(statistics.median(ttd) if ttd else None)} | "
              f"{_fmt(pct(ttd, 0.9))} | {', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))} |")  # fmt: skip


def bucket(peak: int) -> str:
    for hi, name in (
        (20, "a) <20"),
        (40, "b) 20–39"),
        (100, "c) 40–99"),
        (300, "d) 100–299"),
        (1000, "e) 300–999"),
    ):
        if peak < hi:
            return name
    return "f) ≥1000"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--part", choices=["synthetic", "ced", "covid", "all"], default="all")
    parser.add_argument(
        "--step", type=int, default=1, help="run the job every N minutes (default 1)"
    )
    parser.add_argument(
        "--ced-rate", type=float, default=20.0, help="CED background mentions an hour"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-detector-") as tmp:
        _setup_django(tmp)
        from guanwei.monitoring.models import AlertRule

        rule = AlertRule()
        instant = AlertRule(min_volume=rule.min_volume, factor=rule.factor, negative_share=rule.negative_share,
                            min_duration=0)  # fmt: skip
        result: dict[str, Any] = {"quick": args.quick, "step_min": args.step}
        print(f"rule: min_volume={rule.min_volume} factor={rule.factor} negative_share={rule.negative_share} "
              f"min_duration={rule.min_duration} cooldown={rule.cooldown}; job every {args.step} min")  # fmt: skip
        parts = ["synthetic", "ced", "covid"] if args.part == "all" else [args.part]
        for part in parts:
            if part == "synthetic":
                log("synthetic: building")
                tls = synthetic_timelines(args.quick, args.seed)
                summary, results, per = run_kind(part, tls, rule, instant, args.step)
                print_summary("synthetic", summary, per)
                breakdown("by base rate and size", results,
                          lambda r: f"{r.event.tags['rate']:>3}/h × {r.event.tags['size']:>2}")  # fmt: skip
                breakdown("by length and sign (cold start apart)", results,
                          lambda r: "cold start" if r.event.tags.get("cold")
                          else f"{r.event.tags['length']:>3} min {'negative' if r.event.negative else 'neutral'}")  # fmt: skip
                breakdown("by baseline at the storm's first hour", results, lambda r: r.baseline)
            elif part == "ced":
                if not (data_dir() / "ced" / "cascades.jsonl.gz").exists():
                    print("\n## ced\n\nskipped: no CED data (set GUANWEI_DATA_DIR)")
                    result.update(
                        {"ced_precision": None, "ced_recall": None, "ced_ttd_p50_min": None}
                    )
                    continue
                tls = ced_timelines(args.quick, args.seed, args.ced_rate, rule)
                summary, results, per = run_kind(part, tls, rule, instant, args.step)
                summary["background_per_hour"] = args.ced_rate
                print_summary(
                    f"ced (background {args.ced_rate:g}/h)", summary, per if len(per) <= 6 else {}
                )
                breakdown(
                    "by the cascade's peak hour (own mentions)",
                    results,
                    lambda r: bucket(r.event.peak),
                )
                breakdown("by label", results, lambda r: r.event.tags["label"])
                breakdown("by baseline at the storm's first hour", results, lambda r: r.baseline)
            else:
                if not (data_dir() / "covid" / "checked_events.jsonl.gz").exists():
                    print("\n## covid\n\nskipped: no COVID data (set GUANWEI_DATA_DIR)")
                    result.update(
                        {"covid_precision": None, "covid_recall": None, "covid_ttd_p50_min": None}
                    )
                    continue
                tls = covid_timelines(args.quick, rule)
                summary, results, per = run_kind(part, tls, rule, instant, args.step)
                print_summary("covid", summary, per)
                breakdown("by timeline and the post's peak hour", results,
                          lambda r: f"{r.timeline} {bucket(r.event.peak)}")  # fmt: skip
            for k, v in summary.items():
                if k != "notes":
                    result[f"{part}_{k}"] = v
            sys.stdout.flush()
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()

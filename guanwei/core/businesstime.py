"""Business-time arithmetic for SLA clocks (工作时间): how much working time passed, and when a
target falls due, given a team's weekly hours, Chinese public holidays and 调休 working days.

Pure functions: time is always passed in, never read from the clock. Durations are real elapsed
seconds (a 09:00-18:00 day on a DST switch is 8 or 10 hours long), computed in UTC."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

Interval = tuple[time, time]
Weekly = dict[int, tuple[Interval, ...]]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEARCH_DAYS = 400  # this many closed days in a row means the hours never open
END_OF_DAY = time.max  # "24:00": an interval may run until midnight, but never across it


@dataclass(frozen=True)
class Hours:
    """A team's business hours: per weekday (0=Monday) a list of (start, end) local times, the zone,
    and whether Chinese public holidays are off and 调休 weekend working days are on."""

    weekly: Weekly
    zone: str = "Asia/Shanghai"
    china_holidays: bool = True
    extra_off: frozenset[date] = frozenset()  # the team's own days off
    extra_on: frozenset[date] = frozenset()  # the team's own extra working days
    always: bool = False  # 24×7 (then everything is business time)

    def __post_init__(self) -> None:
        ZoneInfo(self.zone)  # an unknown zone fails here, not in the middle of a computation
        for day, intervals in self.weekly.items():
            if day not in range(7):
                raise ValueError(f"weekday {day!r} is not 0 (Monday) to 6 (Sunday)")
            for i, (start, end) in enumerate(intervals):
                if start >= end:
                    raise ValueError(
                        f"{DAYS[day]}: {start}-{end} is empty or "
                        "crosses midnight; split it across two days"
                    )
                if i and intervals[i - 1][1] > start:
                    raise ValueError(f"{DAYS[day]}: intervals must be sorted and not overlap")
        if both := self.extra_on & self.extra_off:
            raise ValueError(f"{min(both)} is both an extra day off and an extra working day")


def nine_to_six() -> Hours:
    """Monday to Friday 09:00-18:00 in Beijing time, Chinese holidays and 调休 observed."""
    return Hours(weekly={day: ((time(9), time(18)),) for day in range(5)})


# ---------------------------------------------------------------- text form of the weekly hours

_NAMES = {name: i for i, name in enumerate(DAYS)} | {
    name: i
    for i, name in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
}
_DAY_ITEM = re.compile(r"([a-z]+)(?:-([a-z]+))?$")
_INTERVAL = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def _fmt(t: time) -> str:
    if t == END_OF_DAY:
        return "24:00"
    if t.second or t.microsecond:
        raise ValueError(f"{t} has seconds; business hours are whole minutes")
    return f"{t.hour:02d}:{t.minute:02d}"


def _parse_days(text: str, pos: int) -> list[int]:
    days: list[int] = []
    for m in re.finditer(r"[^,]+", text):
        item = _DAY_ITEM.match(m.group())
        names = [n for n in item.groups() if n] if item else [m.group()]
        if not item or any(n not in _NAMES for n in names):
            raise ValueError(
                f"at character {pos + m.start()}: expected days like mon-fri or "
                f"sat,sun (mon tue wed thu fri sat sun), got {m.group()!r}"
            )
        first, last = _NAMES[names[0]], _NAMES[names[-1]]
        days += [(first + i) % 7 for i in range((last - first) % 7 + 1)]  # fri-mon wraps
    return days


def _parse_interval(text: str, pos: int) -> Interval:
    m = _INTERVAL.match(text)
    if not m:
        raise ValueError(f"at character {pos}: expected hours like 09:00-18:00, got {text!r}")
    (h1, m1, h2, m2) = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"at character {pos}: {text!r} is not a pair of times of day")
    start, end = time(h1, m1), END_OF_DAY if (h2, m2) in {(24, 0), (0, 0)} else time(h2, m2)
    if start >= end:
        raise ValueError(
            f"at character {pos}: {text} crosses midnight; split it across two "
            "days (…-24:00, then 00:00-… on the next)"
        )
    return start, end


def parse_weekly(text: str) -> Weekly:
    """ "mon-fri 09:00-12:00,13:00-18:00; sat 10:00-16:00" → {0: ((09:00, 12:00), …), …}.

    Days are mon…sun (or full names), ranges ("fri-mon" wraps) and lists ("sat,sun"); an end of
    24:00 or 00:00 means midnight. Raises ValueError naming the character position and the
    problem: an unknown day, a bad time, overlapping intervals, an interval across midnight."""
    weekly: dict[int, list[Interval]] = {}
    base = 0
    for clause in text.lower().split(";"):
        tokens = [
            (base + m.start(), m.group()) for m in re.finditer(r"[^\s,]+(?:,[^\s,]+)*", clause)
        ]
        base += len(clause) + 1
        if not tokens:
            continue
        (days_pos, days_text), rest = tokens[0], tokens[1:]
        if not rest:
            raise ValueError(
                f"at character {days_pos}: {days_text!r} has no hours "
                "(write e.g. 'mon-fri 09:00-18:00')"
            )
        days = _parse_days(days_text, days_pos)
        for group_pos, group in rest:
            for m in re.finditer(r"[^,]+", group):
                start, end = _parse_interval(m.group(), group_pos + m.start())
                for day in days:
                    for s, e in weekly.setdefault(day, []):
                        if start < e and s < end:
                            raise ValueError(
                                f"at character {group_pos + m.start()}: "
                                f"{m.group()} overlaps {_fmt(s)}-{_fmt(e)} "
                                f"on {DAYS[day]}"
                            )
                    weekly[day].append((start, end))
    return {day: tuple(sorted(weekly[day])) for day in sorted(weekly)}


def format_weekly(weekly: Weekly) -> str:
    """The text parse_weekly reads back into the same hours; runs of days alike become ranges."""
    clauses: list[str] = []
    day = 0
    while day < 7:
        intervals = weekly.get(day, ())
        last = day
        while last + 1 < 7 and intervals and weekly.get(last + 1, ()) == intervals:
            last += 1
        if intervals:
            names = DAYS[day] if last == day else f"{DAYS[day]}-{DAYS[last]}"
            clauses.append(f"{names} " + ",".join(f"{_fmt(s)}-{_fmt(e)}" for s, e in intervals))
        day = last + 1
    return "; ".join(clauses)


# ---------------------------------------------------------------- the calendar, day by day


@lru_cache(maxsize=64)
def china_year(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(days off, 调休 weekend working days) of a year. `holidays.China` lists the days moved off
    by 调休 among its holidays; its weekend_workdays holds every year's, so keep this year's."""
    import holidays

    china = holidays.country_holidays("CN", years=year)
    on = frozenset(d for d in getattr(china, "weekend_workdays", ()) if d.year == year)
    return frozenset(china), on


def _day_hours(hours: Hours, day: date) -> tuple[Interval, ...]:
    own = hours.weekly.get(day.weekday(), ())
    if day in hours.extra_off:
        return ()
    if day in hours.extra_on:
        return own or _fallback(hours)
    if hours.china_holidays:
        off, on = china_year(day.year)
        if day in off:
            return ()
        if day in on:
            return own or _fallback(hours)
    return own


def _fallback(hours: Hours) -> tuple[Interval, ...]:
    """An extra working day on a day the team does not usually work: Monday's hours, or the
    first weekday's that has any (a Tuesday-to-Saturday team)."""
    return next((hours.weekly[d] for d in range(7) if hours.weekly.get(d)), ())


def _spans(hours: Hours, day: date, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The day's open intervals as UTC instants (fold=0 decides a wall time a DST switch skips
    or repeats)."""
    out = []
    for start, end in _day_hours(hours, day):
        a = datetime.combine(day, start, tzinfo=tz)
        b = (
            datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
            if end == END_OF_DAY
            else datetime.combine(day, end, tzinfo=tz)
        )
        a, b = a.astimezone(UTC), b.astimezone(UTC)
        if a < b:
            out.append((a, b))
    return out


def _aware(at: datetime, name: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {at.isoformat()}")
    return at.astimezone(UTC)


def _open_between(hours: Hours, tz: ZoneInfo, start: datetime, end: datetime) -> timedelta:
    """Open time in [start, end), both UTC, one local day at a time."""
    if hours.always:
        return max(end - start, timedelta(0))
    total = timedelta(0)
    day, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    while day <= last:
        for a, b in _spans(hours, day, tz):
            if a < end and start < b:
                total += min(b, end) - max(a, start)
        day += timedelta(days=1)
    return total


# ---------------------------------------------------------------- the public questions


def is_open(hours: Hours, at: datetime) -> bool:
    """Whether `at` is business time (an interval includes its start, not its end)."""
    at = _aware(at, "at")
    if hours.always:
        return True
    tz = ZoneInfo(hours.zone)
    return any(a <= at < b for a, b in _spans(hours, at.astimezone(tz).date(), tz))


def business_seconds(
    hours: Hours,
    start: datetime,
    end: datetime,
    pauses: Iterable[tuple[datetime, datetime]] = (),
) -> float:
    """Business time between start and end, less the parts inside any pause (e.g. waiting for the
    customer). Pauses may overlap each other and closed time; nothing is taken off twice.
    0.0 when end is not after start."""
    start, end = _aware(start, "start"), _aware(end, "end")
    tz = ZoneInfo(hours.zone)
    merged: list[list[datetime]] = []
    for p_start, p_end in sorted(
        (_aware(a, "pause start"), _aware(b, "pause end")) for a, b in pauses
    ):
        p_start, p_end = max(p_start, start), min(p_end, end)
        if p_start >= p_end:
            continue
        if merged and p_start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], p_end)
        else:
            merged.append([p_start, p_end])
    total, cursor = timedelta(0), start
    for p_start, p_end in [*merged, [end, end]]:
        if cursor < p_start:
            total += _open_between(hours, tz, cursor, p_start)
        cursor = max(cursor, p_end)
    return total.total_seconds()


def add_business(hours: Hours, start: datetime, seconds: float) -> datetime:
    """The moment `seconds` of business time have passed after start (the deadline), in the
    hours' zone. Outside hours the clock starts at the next opening, so seconds=0 gives the next
    open moment at or after start; a deadline may fall on a closing time (18:00, not 09:00)."""
    at = _aware(start, "start")
    if seconds < 0:
        raise ValueError(f"seconds must not be negative, got {seconds}")
    tz = ZoneInfo(hours.zone)
    remaining = timedelta(seconds=seconds)
    if hours.always:
        return (at + remaining).astimezone(tz)
    if not any(hours.weekly.values()):
        raise ValueError("no business hours")
    day = first = at.astimezone(tz).date()
    closed_days = 0
    while closed_days <= SEARCH_DAYS:
        closed_days += 1
        for a, b in _spans(hours, day, tz):
            a = max(a, at)
            if a >= b:
                continue
            closed_days = 0
            if b - a >= remaining:
                return (a + remaining).astimezone(tz)
            remaining -= b - a
        day += timedelta(days=1)
    raise ValueError(f"no business hours in {SEARCH_DAYS} days in a row ({first} to {day})")


def next_open(hours: Hours, at: datetime) -> datetime:
    """`at` itself when open, else the next opening (in the hours' zone)."""
    return add_business(hours, at, 0)

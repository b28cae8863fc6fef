"""The content calendar's days: grids of weeks, Chinese public holidays and 调休 working days (the
maintained `holidays` package, not a hand-typed table), marketing days, and "on this date in
earlier years" from the hot-search history when GUANWEI_DATA_DIR has it."""

from __future__ import annotations

import calendar as pycal
import gzip
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

log = logging.getLogger("guanwei.publishing")


@dataclass
class Day:
    date: date
    in_month: bool = True
    holiday: str = ""  # a public holiday (法定节假日) or a day off moved by 调休
    workday: bool = False  # a weekend day that is a working day (调休上班)
    marketing: list[str] = field(default_factory=list)
    posts: list = field(default_factory=list)

    @property
    def weekend(self) -> bool:
        return self.date.weekday() >= 5

    @property
    def off(self) -> bool:
        return bool(self.holiday) or (self.weekend and not self.workday)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def marketing_days(year: int) -> dict[date, list[str]]:
    """Days brands plan for (营销节点). Gregorian rules only: lunar ones (七夕, 元宵) are
    missing until a lunar calendar is wired in; the public lunar holidays come from `holidays`."""
    days = {
        date(year, 2, 14): _("情人节"),
        date(year, 3, 8): _("妇女节"),
        date(year, 3, 15): _("3·15 消费者权益日"),
        date(year, 5, 20): _("520"),
        _nth_weekday(year, 5, 6, 2): _("母亲节"),
        date(year, 6, 1): _("儿童节"),
        _nth_weekday(year, 6, 6, 3): _("父亲节"),
        date(year, 6, 18): _("618 年中大促"),
        date(year, 9, 10): _("教师节"),
        date(year, 11, 11): _("双11"),
        _nth_weekday(year, 11, 3, 4) + timedelta(days=1): _("黑色星期五"),
        date(year, 12, 12): _("双12"),
        date(year, 12, 24): _("平安夜"),
        date(year, 12, 25): _("圣诞节"),
    }
    out: dict[date, list[str]] = {}
    for day, name in days.items():
        out.setdefault(day, []).append(str(name))
    return out


def _china(years: list[int]):  # type: ignore[no-untyped-def]
    import holidays

    language = "en_US" if (get_language() or "").startswith("en") else "zh_CN"
    return holidays.China(years=years, language=language)


def mark(days: list[Day]) -> None:
    """Holidays, 调休 working days and marketing days on each day."""
    if not days:
        return
    years = sorted({d.date.year for d in days})
    china = _china(years)
    workdays = set(getattr(china, "weekend_workdays", ()))
    marketing: dict[date, list[str]] = {}
    for year in years:
        marketing.update(marketing_days(year))
    for day in days:
        day.holiday = china.get(day.date) or ""
        day.workday = day.date in workdays
        day.marketing = marketing.get(day.date, [])


def month_grid(year: int, month: int) -> list[list[Day]]:
    """The weeks (Monday first) covering a month, days of the next and last month included."""
    weeks = pycal.Calendar(firstweekday=0).monthdatescalendar(year, month)
    grid = [[Day(d, in_month=d.month == month) for d in week] for week in weeks]
    mark([d for week in grid for d in week])
    return grid


def week_days(start: date) -> list[Day]:
    monday = start - timedelta(days=start.weekday())
    days = [Day(monday + timedelta(days=i)) for i in range(7)]
    mark(days)
    return days


# ---------------------------------------------------------------- on this date in earlier years

HOURLY = "hot_search/hot_search.jsonl.gz"
DAILY = "hot_search/daily_titles.jsonl.gz"
PER_DAY = 8
_index: dict[str, dict[str, list[str]]] | None = None
_index_key: tuple = ()
_lock = threading.Lock()


def _data_dir() -> Path | None:
    return Path(settings.DATA_DIR) if settings.DATA_DIR else None


def _build(hourly: Path, daily: Path) -> dict[str, dict[str, list[str]]]:
    """{"MM-DD": {"YYYY": [top titles]}}: by peak heat from the hourly snapshots; in the source's
    order (it has no rank) from the daily lists before them."""
    peak: dict[str, dict[str, int]] = {}
    if hourly.exists():
        with gzip.open(hourly, "rt", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                if row.get("ad"):
                    continue
                day = row["snapshot"][:10]
                titles = peak.setdefault(day, {})
                titles[row["title"]] = max(titles.get(row["title"], 0), int(row.get("heat") or 0))
    index: dict[str, dict[str, list[str]]] = {}
    for day, titles in peak.items():
        top = sorted(titles, key=lambda t: -titles[t])[:PER_DAY]
        index.setdefault(day[5:], {})[day[:4]] = top
    if daily.exists():
        with gzip.open(daily, "rt", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                day = row["date"]
                if day in peak:
                    continue
                titles_of_day = index.setdefault(day[5:], {}).setdefault(day[:4], [])
                if len(titles_of_day) < PER_DAY:
                    titles_of_day.append(row["title"])
    return index


def on_this_date(day: date) -> dict[str, list[str]] | None:
    """Hot-search titles on this month-day in earlier years, newest year first; None when the
    history is not available (GUANWEI_DATA_DIR unset or without hot_search/). The first call
    reads the files (a few seconds); later calls use the index held by the process."""
    global _index, _index_key
    root = _data_dir()
    if root is None:
        return None
    hourly, daily = root / HOURLY, root / DAILY
    if not hourly.exists() and not daily.exists():
        return None
    key = tuple(p.stat().st_mtime if p.exists() else 0 for p in (hourly, daily))
    with _lock:
        if _index is None or _index_key != key:
            _index = _build(hourly, daily)
            _index_key = key
        years = _index.get(day.strftime("%m-%d"), {})
    return {y: years[y] for y in sorted(years, reverse=True) if int(y) < day.year}

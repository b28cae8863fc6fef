"""Business time for SLA clocks (core.businesstime): working hours, the Chinese holidays and 调休
working days of 2025 and 2026 as the `holidays` package reports them, pauses, DST, the text form."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guanwei.core.businesstime import (
    END_OF_DAY,
    Hours,
    add_business,
    business_seconds,
    format_weekly,
    is_open,
    next_open,
    nine_to_six,
    parse_weekly,
)

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600


def bj(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


# ---------------------------------------------------------------- the calendar


def test_nine_to_six_is_open_on_weekday_office_hours_in_beijing_time():
    h = nine_to_six()
    assert is_open(h, bj(2026, 3, 10, 9, 0))  # a Tuesday, opening included
    assert not is_open(h, bj(2026, 3, 10, 18, 0))  # closing excluded
    assert not is_open(h, bj(2026, 3, 14, 11, 0))  # a Saturday
    # 02:00 UTC is 10:00 in Beijing: the zone of the hours decides, not the datetime's
    assert is_open(h, datetime(2026, 3, 10, 2, 0, tzinfo=ZoneInfo("UTC")))


def test_a_night_and_a_weekend_are_skipped():
    h = nine_to_six()
    friday_evening = bj(2026, 3, 13, 17, 30)
    assert add_business(h, friday_evening, HOUR) == bj(2026, 3, 16, 9, 30)
    assert business_seconds(h, friday_evening, bj(2026, 3, 16, 9, 30)) == HOUR


def test_a_clock_started_the_evening_before_national_day_lands_after_the_holiday():
    h = nine_to_six()
    # 2026: 10-01..10-07 off (10-06, 10-07 moved by 调休); Thursday 10-08 is the first working day
    assert add_business(h, bj(2026, 9, 30, 17, 30), HOUR) == bj(2026, 10, 8, 9, 30)
    # 2025: 国庆 and 中秋 together, 10-01..10-08 off
    assert add_business(h, bj(2025, 9, 30, 17, 30), HOUR) == bj(2025, 10, 9, 9, 30)
    # a Thursday evening before 中秋 (Friday 2026-09-25): the weekend follows, so Monday
    assert add_business(h, bj(2026, 9, 24, 17, 30), HOUR) == bj(2026, 9, 28, 9, 30)


def test_a_tiaoxiu_weekend_working_day_counts_with_mondays_hours():
    h = nine_to_six()
    assert add_business(h, bj(2026, 10, 9, 17, 30), HOUR) == bj(2026, 10, 10, 9, 30)  # 调休 Sat
    assert is_open(h, bj(2026, 9, 20, 10, 0))  # 调休 Sunday before 国庆
    assert is_open(h, bj(2025, 1, 26, 17, 59))  # 调休 Sunday before 春节 2025
    assert not is_open(h, bj(2026, 10, 17, 10, 0))  # an ordinary Saturday


def test_days_moved_off_by_tiaoxiu_are_off():
    h = nine_to_six()
    assert not is_open(h, bj(2026, 2, 23, 10, 0))  # Monday after 春节 2026
    assert not is_open(h, bj(2025, 2, 4, 10, 0))  # Tuesday after 春节 2025
    assert next_open(h, bj(2025, 1, 27, 18, 0)) == bj(2025, 2, 5, 9, 0)


def test_a_year_of_nine_to_six_in_2025_is_248_working_days():
    # 261 weekdays − 18 weekday holidays + 5 调休 weekend working days
    year = business_seconds(nine_to_six(), bj(2025, 1, 1), bj(2026, 1, 1))
    assert year == 248 * 9 * HOUR


def test_without_china_holidays_only_the_weekly_hours_count():
    h = Hours(weekly=nine_to_six().weekly, china_holidays=False)
    assert is_open(h, bj(2026, 10, 1, 10, 0))
    assert not is_open(h, bj(2026, 10, 10, 10, 0))


def test_the_teams_own_days_off_and_extra_working_days():
    weekly = parse_weekly("mon 09:00-18:00; tue-fri 10:00-19:00; sat 12:00-14:00")
    h = Hours(
        weekly=weekly,
        extra_off=frozenset({date(2026, 3, 10)}),  # a Tuesday: team outing
        extra_on=frozenset({date(2026, 3, 15), date(2026, 3, 21)}),  # a Sunday, a Saturday
    )
    assert not is_open(h, bj(2026, 3, 10, 11, 0))
    assert is_open(h, bj(2026, 3, 15, 9, 0))  # Sunday has no hours: Monday's
    assert not is_open(h, bj(2026, 3, 21, 9, 0))  # Saturday has its own hours: 12:00-14:00
    assert is_open(h, bj(2026, 3, 21, 13, 0))
    # the team's choice wins over the national calendar
    on_holiday = Hours(weekly=weekly, extra_on=frozenset({date(2026, 10, 1)}))
    assert is_open(on_holiday, bj(2026, 10, 1, 10, 30))


def test_a_day_both_off_and_on_is_refused():
    day = frozenset({date(2026, 3, 10)})
    with pytest.raises(ValueError, match="both"):
        Hours(weekly=nine_to_six().weekly, extra_off=day, extra_on=day)


# ---------------------------------------------------------------- pauses, 24×7, DST, bad input


def test_pauses_subtract_from_business_time():
    h = nine_to_six()
    pause = (bj(2026, 3, 9, 10, 0), bj(2026, 3, 9, 10, 30))
    assert business_seconds(h, bj(2026, 3, 9, 9), bj(2026, 3, 9, 12), [pause]) == 2.5 * HOUR


def test_overlapping_pauses_and_pauses_outside_hours_are_not_subtracted_twice():
    h = nine_to_six()
    pauses = [
        (bj(2026, 3, 9, 10, 0), bj(2026, 3, 9, 11, 0)),
        (bj(2026, 3, 9, 10, 30), bj(2026, 3, 9, 11, 30)),  # overlaps the first
        (bj(2026, 3, 9, 10, 45), bj(2026, 3, 9, 11, 15)),  # inside both
        (bj(2026, 3, 9, 17, 0), bj(2026, 3, 10, 9, 30)),  # over the night
        (bj(2026, 3, 9, 6, 0), bj(2026, 3, 9, 8, 0)),  # before opening and before start
    ]
    elapsed = business_seconds(h, bj(2026, 3, 9, 9), bj(2026, 3, 10, 10), pauses)
    assert elapsed == (9 - 1.5 - 1) * HOUR + 0.5 * HOUR


def test_round_the_clock_hours_count_everything_holidays_included():
    h = Hours(weekly={}, always=True)
    assert is_open(h, bj(2026, 10, 1, 3, 0))
    assert business_seconds(h, bj(2026, 9, 30, 22), bj(2026, 10, 2, 22)) == 48 * HOUR
    assert add_business(h, bj(2026, 10, 1, 23, 30), HOUR) == bj(2026, 10, 2, 0, 30)


def test_a_dst_zone_counts_real_hours_across_the_switch():
    berlin = Hours(weekly=nine_to_six().weekly, zone="Europe/Berlin", china_holidays=False)
    friday = datetime(2026, 3, 27, 17, 0, tzinfo=BERLIN)  # clocks go forward on Sunday 03-29
    monday = datetime(2026, 3, 30, 10, 0, tzinfo=BERLIN)
    assert add_business(berlin, friday, 2 * HOUR) == monday
    assert business_seconds(berlin, friday, monday) == 2 * HOUR
    round_the_week = Hours(weekly=parse_weekly("mon-sun 00:00-24:00"), zone="Europe/Berlin")
    saturday = datetime(2026, 3, 28, tzinfo=BERLIN)
    assert business_seconds(round_the_week, saturday, saturday + timedelta(days=2)) == 47 * HOUR
    night_shift = Hours(weekly=parse_weekly("sun 01:00-04:00"), zone="Europe/Berlin")
    sunday = datetime(2026, 3, 29, tzinfo=BERLIN)
    assert business_seconds(night_shift, sunday, sunday + timedelta(days=1)) == 2 * HOUR


def test_naive_datetimes_are_refused():
    h, naive = nine_to_six(), datetime(2026, 3, 9, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(h, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business(h, naive, 60)
    with pytest.raises(ValueError, match="timezone-aware"):
        business_seconds(h, bj(2026, 3, 9), bj(2026, 3, 10), [(naive, bj(2026, 3, 9, 11))])


def test_hours_that_never_open_raise_instead_of_searching_forever():
    empty = Hours(weekly={})
    with pytest.raises(ValueError, match="no business hours"):
        next_open(empty, bj(2026, 3, 9))
    assert business_seconds(empty, bj(2026, 3, 9), bj(2026, 4, 9)) == 0.0
    mondays = frozenset(date(2026, 3, 2) + timedelta(weeks=n) for n in range(120))
    every_monday_off = Hours(
        weekly={0: ((time(9), time(18)),)}, china_holidays=False, extra_off=mondays
    )
    with pytest.raises(ValueError, match="no business hours in 400 days in a row"):
        add_business(every_monday_off, bj(2026, 3, 1), 60)


# ---------------------------------------------------------------- the text form


def test_weekly_hours_are_written_as_day_ranges_and_intervals():
    weekly = parse_weekly("mon-fri 09:00-12:00,13:00-18:00; sat 10:00-16:00")
    assert weekly[0] == weekly[4] == ((time(9), time(12)), (time(13), time(18)))
    assert weekly[5] == ((time(10), time(16)),) and 6 not in weekly
    assert parse_weekly("Friday-Mon 08:00-20:00")[6] == ((time(8), time(20)),)
    assert parse_weekly("sat,sun 18:00-24:00, 06:00-08:00")[6] == (
        (time(6), time(8)),
        (time(18), END_OF_DAY),
    )
    text = "mon-thu 09:00-18:00; fri 09:00-18:00,19:00-20:00; sun 00:00-24:00"
    assert (
        format_weekly(parse_weekly("mon-fri 09:00-18:00; fri 19:00-20:00; sun 0:00-0:00")) == text
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mon 22:00-02:00", "at character 4: 22:00-02:00 crosses midnight; split it across two"),
        ("mon-fri 09:00-18:00; mun 10:00-12:00", "at character 21: expected days .* 'mun'"),
        ("mon 9am-6pm", "at character 4: expected hours like 09:00-18:00, got '9am-6pm'"),
        ("mon 09:00-25:00", "at character 4: '09:00-25:00' is not a pair of times"),
        ("mon-fri 09:00-12:00,11:00-13:00", "at character 20: 11:00-13:00 overlaps 09:00-12:00"),
        ("mon-fri", "at character 0: 'mon-fri' has no hours"),
    ],
)
def test_bad_weekly_hours_say_where_and_what(text, message):
    with pytest.raises(ValueError, match=message):
        parse_weekly(text)


minutes = st.lists(st.integers(0, 24 * 60), min_size=2, max_size=6, unique=True)


def _intervals(marks: list[int]) -> tuple[tuple[time, time], ...]:
    def clock(m: int) -> time:
        return END_OF_DAY if m == 24 * 60 else time(m // 60, m % 60)

    marks = sorted(marks)[: len(marks) // 2 * 2]
    return tuple((clock(a), clock(b)) for a, b in zip(marks[::2], marks[1::2], strict=True))


weeklies = st.dictionaries(st.integers(0, 6), minutes.map(_intervals), max_size=7)


@given(weeklies)
def test_format_and_parse_round_trip(weekly):
    assert parse_weekly(format_weekly(weekly)) == weekly


# ---------------------------------------------------------------- properties of the clock

SPLIT_BERLIN = Hours(
    weekly=parse_weekly("mon-fri 08:30-12:00,13:00-17:30; sat 10:00-14:00"),
    zone="Europe/Berlin",
    extra_off=frozenset({date(2026, 3, 30)}),
)
HOURS = st.sampled_from([nine_to_six(), SPLIT_BERLIN])
MOMENTS = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2026, 12, 31),
    timezones=st.sampled_from([SH, BERLIN]),
    allow_imaginary=False,
)


@settings(deadline=None)
@given(HOURS, MOMENTS, st.floats(0, 2e6, allow_nan=False))
def test_the_deadline_is_exactly_the_target_of_business_time_later(hours, start, seconds):
    deadline = add_business(hours, start, seconds)
    assert deadline >= start
    assert abs(business_seconds(hours, start, deadline) - seconds) < 1e-6


@settings(deadline=None)
@given(HOURS, MOMENTS, st.floats(0, 4e6), st.floats(0, 1))
def test_business_time_adds_up_over_a_split(hours, start, span_s, fraction):
    end = start + timedelta(seconds=span_s)
    middle = start + timedelta(seconds=span_s * fraction)
    whole = business_seconds(hours, start, end)
    assert whole == pytest.approx(
        business_seconds(hours, start, middle) + business_seconds(hours, middle, end), abs=1e-6
    )
    assert 0 <= whole <= span_s + 1e-6


@settings(deadline=None)
@given(HOURS, MOMENTS)
def test_the_next_opening_is_open_and_nothing_opens_before_it(hours, at):
    opening = next_open(hours, at)
    assert is_open(hours, opening)
    assert business_seconds(hours, at, opening) == 0

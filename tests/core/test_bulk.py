"""core.bulk: the raw bulk writes of the hot paths, on the database the suite runs on (SQLite, and
PostgreSQL in `make test-postgres`, where rows go as one array per column)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from guanwei.core.bulk import datetime_adapter, db_datetime, insert_add, insert_ignore
from guanwei.listening.models import Author
from guanwei.monitoring.models import COUNTERS, MinuteCount, Monitor

AT = datetime(2026, 12, 5, 12, 30, 15, 123456, tzinfo=UTC)
COLUMNS = ["enterprise_id", "platform", "remote_id", "screen_name", "verified_type", "followers_count", "region",
           "gender", "refreshed_at"]  # fmt: skip


def test_insert_ignore_keeps_every_value_and_skips_what_is_stored(personas) -> None:
    e = personas.enterprise.pk
    adapt = datetime_adapter()
    awkward = ['引号"和\'撇号', "反斜杠\\n{花括号,逗号}", "NULL", "", "😀 emoji"]
    rows = [(e, "weibo", f"u{i}", name, i if i % 2 else None, None if i == 3 else i * 1000, "北京", "m", adapt(AT))
            for i, name in enumerate(awkward)]  # fmt: skip
    insert_ignore(Author, COLUMNS, rows)
    insert_ignore(Author, COLUMNS, [(e, "weibo", "u0", "改了名", None, None, "", "", adapt(AT)), *rows[:1]])
    stored = {a.remote_id: a for a in Author.objects.filter(enterprise_id=e, platform="weibo")}
    assert [stored[f"u{i}"].screen_name for i in range(5)] == awkward  # u0 not overwritten
    assert stored["u1"].verified_type == 1 and stored["u0"].verified_type is None
    assert stored["u3"].followers_count is None and stored["u4"].followers_count == 4000
    assert all(a.refreshed_at == AT for a in stored.values())


def test_insert_add_adds_to_the_stored_counters(personas) -> None:
    monitor = Monitor.objects.create(enterprise=personas.enterprise, name="m", rule="示例", rule_since=AT)
    minute = AT.replace(second=0, microsecond=0)
    other = minute + timedelta(minutes=1)

    def row(at: datetime, volume: int, reach: int) -> tuple:
        values = {"volume": volume, "reach": reach}
        return (monitor.pk, db_datetime(at), *(values.get(k, 0) for k in COUNTERS))

    insert_add(MinuteCount, ["monitor_id", "minute"], COUNTERS, [row(minute, 2, 10**10)])
    insert_add(MinuteCount, ["monitor_id", "minute"], COUNTERS, [row(minute, 3, 5), row(other, 1, 0)])
    counts = {c.minute: (c.volume, c.reach) for c in MinuteCount.objects.filter(monitor=monitor)}
    assert counts == {minute: (5, 10**10 + 5), other: (1, 0)}


def test_the_adapter_is_the_databases_own_conversion() -> None:
    adapt = datetime_adapter()
    east = timezone(timedelta(hours=8))
    for value in (AT, AT.astimezone(east), datetime(2026, 1, 1, 0, 0, tzinfo=east)):
        assert adapt(value) == db_datetime(value)

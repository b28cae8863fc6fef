"""The hot-search watch: the sandbox's replayed board read as weibo.com's web endpoint, each
board stored once, every monitor matched against its titles, an alert when a monitored title
enters the board and when it climbs into a higher tier — once, through the channels; an
imported history records hits without telling."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from guanwei.core.models import Channel, Delivery
from guanwei.monitoring import hotsearch
from guanwei.monitoring.models import Alert, HotSearchHit, HotTopic, Monitor

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def monitor(personas):  # type: ignore[no-untyped-def]
    return Monitor.objects.create(enterprise=personas.enterprise, name="品牌", rule="示例乳业 OR 示例牛奶")


def _board(*titles: str) -> list[hotsearch.Entry]:
    return [hotsearch.Entry(rank=i + 1, title=t, heat=1000 - i) for i, t in enumerate(titles)]


def test_a_monitored_title_entering_and_climbing_is_told_once_per_tier(personas, monitor):
    channel = Channel.objects.create(enterprise=personas.enterprise, name="PR", kind=Channel.Kind.WEBHOOK,
                                     url="https://hooks.example.com/pr")  # fmt: skip
    filler = [f"别的话题{i}" for i in range(30)]
    board = filler[:14] + ["示例乳业回应异物事件"] + filler[14:]
    (entered,) = hotsearch.record(T0, _board(*board))
    assert (entered.kind, entered.severity, entered.volume) == ("hot_search", 6, 15)
    assert entered.reason == "“示例乳业回应异物事件”登上热搜，第 15 位"
    assert hotsearch.record(T0, _board(*board)) == []  # the same board again: nothing
    assert hotsearch.record(T0 + timedelta(minutes=10), _board(*(filler[:12] + ["示例乳业回应异物事件"]))) == []
    (climbed,) = hotsearch.record(T0 + timedelta(minutes=20), _board(*(filler[:8] + ["示例乳业回应异物事件"])))
    assert (climbed.severity, climbed.reason) == (7, "“示例乳业回应异物事件”在热搜升至第 9 位")
    assert hotsearch.record(T0 + timedelta(minutes=30), _board(*(filler[:6] + ["示例乳业回应异物事件"]))) == []
    (top,) = hotsearch.record(T0 + timedelta(minutes=40), _board("示例乳业回应异物事件", *filler[:5]))
    assert top.severity == 9
    hit = HotSearchHit.objects.get(monitor=monitor)
    assert (hit.first_rank, hit.best_rank, hit.last_rank, hit.told_rank) == (15, 1, 1, 1)
    assert HotTopic.objects.filter(title="示例乳业回应异物事件").count() == 5
    deliveries = Delivery.objects.filter(channel=channel, event="alert.raised")
    assert deliveries.count() == 3
    assert "登上热搜" in deliveries.order_by("pk").first().payload["title"]


def test_an_imported_history_records_without_telling(personas, monitor, tmp_path):
    from django.core.management import call_command

    rows = [
        {"snapshot": "2024-05-20T20:00:00+08:00", "rank": 1, "title": "伊朗总统遇难", "heat": 9},
        {"snapshot": "2024-05-20T20:00:00+08:00", "rank": 2, "title": "示例牛奶降价", "heat": 8},
        {"snapshot": "2024-05-20T21:00:00+08:00", "rank": 1, "title": "示例牛奶降价", "heat": 9},
        {"snapshot": "2024-05-20T21:00:00+08:00", "rank": 2, "title": "广告", "heat": 1, "ad": True},
    ]
    path = tmp_path / "hot.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    call_command("import_hot_search", str(path))
    hit = HotSearchHit.objects.get(monitor=monitor)
    assert (hit.title, hit.first_rank, hit.best_rank) == ("示例牛奶降价", 2, 1)
    assert not Alert.objects.exists()
    assert HotTopic.objects.count() == 3  # the ad is not a title


def test_the_sandbox_feed_has_weibos_shape_and_parses(client, personas):
    from guanwei.sandbox.models_runs import HotSearchEntry

    HotSearchEntry.objects.create(snapshot_at=T0, rank=1, title="示例乳业上热搜", heat=123)
    HotSearchEntry.objects.create(snapshot_at=T0, rank=0, title="置顶", heat=0)
    HotSearchEntry.objects.create(snapshot_at=T0 - timedelta(hours=1), rank=1, title="旧的", heat=1)
    body = client.get("/sandbox/ajax/side/hotSearch").json()
    assert body["ok"] == 1 and [r["word"] for r in body["data"]["realtime"]] == ["示例乳业上热搜"]
    seen, entries = hotsearch.parse_feed(body)
    assert seen == T0 and entries == [hotsearch.Entry(1, "示例乳业上热搜", 123, "")]
    for bad in ({"ok": 0}, [], {"ok": 1, "data": {"realtime": "x"}}, None):
        with pytest.raises(ValueError):
            hotsearch.parse_feed(bad)
    _seen, junk = hotsearch.parse_feed({"ok": 1, "data": {"realtime": [{"realpos": "x"}, 5, {"word": "广告", "is_ad": 1}]}})
    assert junk == []


def test_the_dashboard_shows_the_monitors_titles_with_their_ranks(personas, monitor, client_for):
    from guanwei.core import clock

    now = clock.now()
    hotsearch.record(now - timedelta(minutes=20), _board("别的", "示例乳业新品发布"))
    hotsearch.record(now - timedelta(minutes=10), _board("示例乳业新品发布"))
    response = client_for("frank").get(f"/monitoring/{monitor.pk}/")
    page = response.content.decode()
    assert "示例乳业新品发布" in page and ">#2</span> → <span" in page  # its ranks over time
    # … and drawn beside the volume: the best rank per hour of the chart, none where it was off
    (line,) = json.loads(response.context["volume_chart"])["ranks"]["series"]
    assert line["name"] == "#示例乳业新品发布#" and min(v for v in line["data"] if v) == 1
    assert 1 <= len([v for v in line["data"] if v is not None]) <= 2  # the hour(s) it was on the board
    assert client_for("mallory").get(f"/monitoring/{monitor.pk}/").status_code == 404

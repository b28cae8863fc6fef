"""The monitor dashboard, share of voice and their charts: the filters (sentiment, emotion, source,
verified, the author's region) are strict and the same in the page, the CSV export and the API;
hostile values are a 4xx that says why; the top terms of a known set; the charts' data on the
pages; outsiders get 404."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import time_machine

from guanwei.core import clock
from guanwei.listening import consumers
from guanwei.listening.models import Mention
from guanwei.listening.store import Incoming, store
from guanwei.monitoring import actions, queries
from guanwei.monitoring.models import Alert

API = "/api/v1"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


def _say(personas, rows):  # type: ignore[no-untyped-def]
    """rows: (remote id, text, minutes ago, extra Incoming fields); each from its own author."""
    store(personas.enterprise, [
        Incoming(platform="sandbox:builtin", remote_id=rid, kind="status", text=text,
                 created_at=clock.now() - timedelta(minutes=ago), author_id=f"a-{rid}", author_name=f"网友{rid}",
                 account_id=personas.parent_account.pk, **extra)
        for rid, text, ago, extra in rows
    ])  # fmt: skip
    with time_machine.travel(clock.now() + timedelta(seconds=consumers.SETTLE_S + 1), tick=False):
        consumers.dispatch("monitoring")


@pytest.fixture
def monitor(personas):  # type: ignore[no-untyped-def]
    monitor = actions.do_create_monitor(personas.frank, name="品牌", group="brand", rule="示例乳业")
    _say(personas, [
        ("bj1", "示例乳业的新品在北京卖得很好", 30, {"author_region": "北京 朝阳区", "author_verified_type": 0}),
        ("sh1", "示例乳业客服太差，投诉无门", 40, {"author_region": "上海 浦东新区", "source": Mention.Source.IMPORT}),
        ("bj2", "北京海淀也能买到示例乳业了", 50, {"author_region": "北京 海淀区", "source": Mention.Source.PUSH}),
        ("nx1", "示例乳业的广告又来了", 60, {}),
    ])  # fmt: skip
    return monitor


def _listed(response) -> list[str]:  # type: ignore[no-untyped-def]
    """The remote ids of the mentions the page's list shows (its <ul class="notice-list">)."""
    section = response.content.decode().split('id="mentions"', 1)[1]
    return sorted(re.findall(r"@网友(\w+)", section))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"region": "北京"}, ["bj1", "bj2"]),
        ({"region": " 北京   朝阳区 "}, ["bj1"]),  # spaces as typed are one space
        ({"region": "北"}, ["bj1", "bj2"]),  # a prefix
        ({"region": "广东"}, []),  # a region nobody is from: an empty list that says so
        ({"source": "import"}, ["sh1"]),
        ({"source": "push", "region": "北京"}, ["bj2"]),
        ({"verified": "true"}, ["bj1"]),
        ({"verified": "false", "source": "poll"}, ["nx1"]),
    ],
)
def test_the_filters_agree_in_the_page_the_export_and_the_api(
    personas, client_for, monitor, query, expected
):
    frank = client_for("frank")
    page = frank.get(f"/monitoring/{monitor.pk}/", {"period": "24h", **query})
    assert page.status_code == 200 and _listed(page) == expected
    said = page.content.decode()
    assert f"符合筛选的提及共 {len(expected)} 条" in said
    if not expected:
        assert "没有符合筛选的提及" in said
    csv = b"".join(
        frank.get("/monitoring/export", {"monitor": monitor.pk, **query}).streaming_content
    ).decode("utf-8-sig")
    assert sorted(re.findall(r"网友(\w+)", csv)) == expected
    api = frank.get(f"{API}/monitors/{monitor.pk}/mentions", query).json()
    assert sorted(item["author"].removeprefix("网友") for item in api["items"]) == expected


HOSTILE = [
    ("sentiment", "nope"), ("emotion", "x" * 100_000), ("source", "rss"), ("verified", "maybe"),
    ("region", "北京%"), ("region", "北京_朝阳"), ("region", "北" * 61), ("region", "<script>"),
    ("region", "%ED%A0%80"), ("source", "POLL"),  # a lone surrogate, as a browser sends it: not UTF-8
]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), HOSTILE, ids=lambda v: str(v)[:12])
def test_a_hostile_filter_is_refused_and_said_never_listed(
    personas, client_for, monitor, field, value
):
    frank = client_for("frank")
    query = f"{field}={value}" if value.startswith("%") else urlencode({field: value})
    page = frank.get(f"/monitoring/{monitor.pk}/?{query}")
    assert page.status_code == 400
    said = page.content.decode()
    assert 'role="alert"' in said and "请改正筛选条件" in said and _listed(page) == []
    export = frank.get(f"/monitoring/export?monitor={monitor.pk}&{query}", follow=True)
    assert export.redirect_chain[0][1] == 302 and 'class="flash-error"' in export.content.decode()
    api = frank.get(f"{API}/monitors/{monitor.pk}/mentions?{query}")
    assert api.status_code == 422 and api.json()["detail"][0]["field"] == field


def test_a_nul_byte_in_a_filter_is_a_400_everywhere(personas, client_for, monitor):
    frank = client_for("frank")
    assert frank.get(f"/monitoring/{monitor.pk}/", {"region": "北京\x00"}).status_code == 400
    assert (
        frank.get("/monitoring/export", {"monitor": monitor.pk, "region": "\x00"}).status_code
        == 400
    )
    assert frank.get(f"{API}/monitors/{monitor.pk}/mentions", {"region": "\x00"}).status_code == 400


def test_an_outsider_gets_404_for_the_dashboard_its_filters_and_its_mentions(
    personas, client_for, monitor
):
    mallory = client_for("mallory")
    assert mallory.get(f"/monitoring/{monitor.pk}/", {"region": "北京"}).status_code == 404
    assert (
        mallory.get(f"{API}/monitors/{monitor.pk}/mentions", {"region": "北京"}).status_code == 404
    )
    refused = mallory.get(
        "/monitoring/export", {"monitor": monitor.pk, "region": "北京"}, follow=True
    )
    assert "示例乳业" not in refused.content.decode()


def _charts(response) -> list[dict]:  # type: ignore[no-untyped-def]
    return [
        json.loads(html.unescape(raw))
        for raw in re.findall(r'data-chart="([^"]*)"', response.content.decode())
    ]


def test_the_dashboard_carries_its_charts_data_and_scripts_from_our_own_static_files(
    personas, client_for, monitor
):
    Alert.objects.create(enterprise=personas.enterprise, monitor=monitor, kind="negative", severity=7, reason="负面激增",
                         volume=9, baseline=1, window_end=clock.now() - timedelta(minutes=20))  # fmt: skip
    response = client_for("frank").get(f"/monitoring/{monitor.pk}/")
    volume, emotions = _charts(response)
    assert (
        volume["kind"] == "volume" and len(volume["labels"]) == 25
    )  # 24 hours and the current one
    assert [s["name"] for s in volume["series"]] == ["正面", "中性", "负面"]
    assert sum(sum(s["data"]) for s in volume["series"]) == 4
    assert volume["labels"][-1] == "12-05 20:00"  # Asia/Shanghai
    (mark,) = volume["marks"]
    assert mark["kind"] == "alert" and mark["at"] == "12-05 19:00" and "严重度 7" in mark["detail"]
    assert emotions["kind"] == "emotions" and sum(i["value"] for i in emotions["items"]) == 4
    page = response.content.decode()
    scripts = re.findall(r"<script\b([^>]*)>", page)
    assert scripts and all(
        "src=" in s for s in scripts
    )  # no inline script: the CSP allows 'self' only
    assert "/static/vendor/echarts/echarts.min.js" in page and "/static/web/charts.js" in page
    assert (
        "<svg" in page and "查看数据表" in page
    )  # the bars and the table stay for readers without the chart


def test_the_top_terms_of_a_known_set_count_each_voice_once_and_mark_the_rule(personas, client_for):
    monitor = actions.do_create_monitor(
        personas.frank, name="乳业", group="brand", rule="示例乳业 -广告"
    )
    _say(personas, [
        ("t1", "示例乳业酸奶变质，喝完肚子疼了一晚上", 10, {}),
        ("t2", "昨天刚买的示例乳业酸奶变质了，退货无门", 11, {}),
        ("t3", "示例乳业客服态度差，酸奶变质不给退", 12, {}),
        ("t4", "示例乳业新品上市，门店排队", 13, {}),
        ("t5", "周末去看了，示例乳业门店排队的人好多啊，等了半小时", 14, {}),
    ])  # fmt: skip
    _say(
        personas, [("t6", "示例乳业酸奶变质，喝完肚子疼了一晚上", 5, {})]
    )  # a copy: the same voice as t1
    _, since, _ = queries.period_of("24h")
    found = queries.top_terms(monitor, since, "24h")
    assert (found.matches, found.texts, found.capped) == (6, 5, False)
    assert [(t["term"], t["count"], t["is_rule"]) for t in found.terms] == [
        ("示例乳业", 5, True), ("酸奶变质", 3, False), ("门店排队", 2, False),
    ]  # fmt: skip
    page = client_for("frank").get(f"/monitoring/{monitor.pk}/").content.decode()
    terms = page.split('id="top-terms"', 1)[1].split("</section>", 1)[0]
    assert terms.index("示例乳业") < terms.index("酸奶变质") < terms.index("门店排队")
    assert "规则词" in terms and "共 5 个独立声音" in terms and "最新的 6 条匹配" in terms


def test_the_top_terms_read_at_most_the_sample(personas, monkeypatch):
    monitor = actions.do_create_monitor(personas.frank, name="乳业", group="brand", rule="示例乳业")
    _say(personas, [(f"s{i}", f"示例乳业第{i}条", i, {}) for i in range(4)])
    monkeypatch.setattr(queries, "TERM_SAMPLE", 3)
    _, since, _ = queries.period_of("24h")
    found = queries.top_terms(monitor, since, "24h")
    assert (found.matches, found.capped) == (3, True)


def test_share_of_voice_draws_us_against_competitors_in_total_and_over_time(personas, client_for):
    actions.do_create_monitor(personas.frank, name="我们", group="brand", rule="示例乳业")
    actions.do_create_monitor(personas.frank, name="竞品甲", group="competitor", rule="别家乳业")
    _say(personas, [("o1", "示例乳业好", 10, {}), ("o2", "示例乳业差", 70, {}), ("o3", "示例乳业一般", 130, {}),
                    ("c1", "别家乳业好", 70, {})])  # fmt: skip
    ring, over_time = _charts(client_for("frank").get("/monitoring/share", {"period": "24h"}))
    assert [(d["name"], d["value"]) for d in ring["inner"]] == [("我们", 3), ("竞品", 1)]
    assert [(d["name"], d["value"], d["side"]) for d in ring["outer"]] == [
        ("我们", 3, "ours"),
        ("竞品甲", 1, "theirs"),
    ]
    ours, theirs = over_time["series"]
    assert (sum(ours["data"]), sum(theirs["data"])) == (3, 1)
    hour = over_time["labels"].index("12-05 18:00")  # 10:50 UTC, both sides
    assert (ours["data"][hour], theirs["data"][hour], over_time["line"]["data"][hour]) == (
        1,
        1,
        0.5,
    )
    assert client_for("mallory").get("/monitoring/share").content.decode().count("竞品甲") == 0


def test_the_charts_speak_english_after_the_switch(personas, client_for, monitor):
    client = client_for("frank")
    client.post("/i18n/setlang/", {"language": "en"})
    response = client.get(f"/monitoring/{monitor.pk}/", {"region": "北京%"})
    volume, _emotions = _charts(response)
    assert [s["name"] for s in volume["series"]] == ["Positive", "Neutral", "Negative"]
    page = response.content.decode()
    assert "Top terms" in page and "Author's region" in page and "fix the filters" in page

"""Monitors: rules checked with their position, matched in one pass as a listening consumer,
stored once per mention × monitor and counted per minute (the counters equal a recount from the
matches); a changed rule rebuilds the matcher and re-matches the last 7 days; the pages and the
API, as insiders, a lower role and an outsider."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from guanwei.core import clock
from guanwei.listening import consumers
from guanwei.listening.models import Mention
from guanwei.listening.store import Incoming, store
from guanwei.monitoring import actions, matching
from guanwei.monitoring.models import MinuteCount, Monitor, MonitorMatch

API = "/api/v1"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


def _mentions(personas, texts, minutes_ago=0, **extra):  # type: ignore[no-untyped-def]
    base = len(list(MonitorMatch.objects.all())) + int(clock.now().timestamp())
    items = [
        Incoming(platform="sandbox:builtin", remote_id=f"m{base}-{i}-{minutes_ago}", kind="status", text=text,
                 created_at=clock.now() - timedelta(minutes=minutes_ago), author_id=f"u{i % 7}",
                 author_name=f"网友{i % 7}", author_followers=100 * (i + 1),
                 author_verified_type=extra.get("verified_type"), account_id=personas.parent_account.pk)
        for i, text in enumerate(texts)
    ]  # fmt: skip
    store(personas.enterprise, items)


def _consume() -> int:
    with time_machine.travel(clock.now() + timedelta(seconds=consumers.SETTLE_S + 1), tick=False):
        return consumers.dispatch("monitoring")


def _recount(monitor: Monitor) -> Counter:
    """The counters, recounted from the raw match rows."""
    total: Counter = Counter()
    for m in MonitorMatch.objects.filter(monitor=monitor):
        total["volume"] += 1
        total[m.sentiment] += 1
        total["reach"] += m.followers
    return total


def test_a_rule_that_does_not_parse_is_refused_with_its_position(personas, client_for):
    from guanwei.core.actions import do_create_api_token

    api = client_for("frank")  # 舆情 analyst
    token = do_create_api_token(personas.frank, "scripts").token
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    ok = api.post(f"{API}/monitors", {"name": "品牌", "group": "brand", "rule": "示例乳业 -广告"},
                  content_type="application/json", **headers)  # fmt: skip
    assert ok.status_code == 201 and ok.json()["rule"] == "示例乳业 -广告"
    bad = api.post(f"{API}/monitors", {"name": "坏规则", "group": "brand", "rule": "示例乳业 AND (变质"},
                   content_type="application/json", **headers)  # fmt: skip
    assert bad.status_code == 422
    (detail,) = bad.json()["detail"]
    assert detail["field"] == "rule" and isinstance(detail["position"], int) and detail["reason"]
    unknown = api.post(f"{API}/monitors", {"name": "字段", "group": "brand", "rule": "colour:red 示例乳业"},
                       content_type="application/json", **headers)  # fmt: skip
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["position"] == 0
    assert Monitor.objects.count() == 1
    with pytest.raises(Exception, match="第 1 个字符"):
        actions.do_create_monitor(personas.frank, name="x", group="brand", rule=")")


def test_mentions_are_matched_once_and_counted_per_minute(personas):
    brand = actions.do_create_monitor(personas.frank, name="品牌", group="brand", rule="示例乳业 -广告")
    crisis = actions.do_create_monitor(personas.frank, name="危机", group="custom", rule="示例乳业 NEAR/10 (变质 OR 投诉)")
    _mentions(personas, ["示例乳业的酸奶变质了，投诉！", "示例乳业新品好喝", "示例乳业广告抽奖", "别家的牛奶"], minutes_ago=3)
    _mentions(personas, ["示例乳業的牛奶变质了"], minutes_ago=1)  # traditional 業
    assert _consume() == 5
    assert MonitorMatch.objects.filter(monitor=brand).count() == 3
    assert MonitorMatch.objects.filter(monitor=crisis).count() == 2
    assert _consume() == 0  # each mention is handed over once
    for monitor in (brand, crisis):
        counts = MinuteCount.objects.filter(monitor=monitor)
        summed = Counter()
        for row in counts:
            summed.update({"volume": row.volume, "positive": row.positive, "neutral": row.neutral,
                           "negative": row.negative, "reach": row.reach})  # fmt: skip
        expected = _recount(monitor)
        assert {k: summed[k] for k in expected} == dict(expected)
        assert counts.count() == 2  # two minutes


def _run_queued_backfills() -> None:
    """What the worker does with the queued `monitoring.backfill_monitor` tasks."""
    from django_tasks_db.models import DBTaskResult

    for task in DBTaskResult.objects.filter(task_path="guanwei.monitoring.matching.backfill_monitor", status="READY"):
        matching.backfill_monitor.call(*task.args_kwargs["args"])
        task.delete()


def test_a_changed_rule_rebuilds_the_matcher_and_rematches_the_last_7_days(personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        monitor = actions.do_create_monitor(personas.frank, name="产品", group="product", rule="低糖酸奶")
    _run_queued_backfills()
    _mentions(personas, ["低糖酸奶上市", "高钙牛奶上市"], minutes_ago=60 * 24 * 2)
    _mentions(personas, ["高钙牛奶太贵"], minutes_ago=60 * 24 * 9)  # older than 7 days
    _consume()
    assert MonitorMatch.objects.filter(monitor=monitor).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_change_monitor(personas.frank, monitor, rule="高钙牛奶")
    _run_queued_backfills()
    texts = sorted(MonitorMatch.objects.filter(monitor=monitor).values_list("mention__text", flat=True))
    assert texts == ["高钙牛奶上市"]  # re-matched within 7 days; the 9-day-old one is not touched
    assert sum(MinuteCount.objects.filter(monitor=monitor).values_list("volume", flat=True)) == 1
    _mentions(personas, ["高钙牛奶好评", "低糖酸奶好评"])
    _consume()
    assert MonitorMatch.objects.filter(monitor=monitor).count() == 2  # the new rule, from now on
    assert matching.matcher_for(personas.enterprise.pk) is matching.matcher_for(personas.enterprise.pk)


def test_the_pages_check_rules_live_and_show_the_dashboard(personas, client_for):
    monitor = actions.do_create_monitor(personas.frank, name="品牌声量", group="brand", rule="示例乳业")
    _mentions(personas, ["示例乳业真好喝", "示例乳业太差了，投诉", "示例乳业 还行"], minutes_ago=30)
    _consume()
    frank = client_for("frank")
    assert "品牌声量" in frank.get("/monitoring/").content.decode()
    page = frank.get(f"/monitoring/{monitor.pk}/").content.decode()
    assert "示例乳业太差了" in page and "<svg" in page and "独立声音" in page
    for period in ("7d", "30d", "junk"):
        assert frank.get(f"/monitoring/{monitor.pk}/?period={period}").status_code == 200
    refused = frank.get(f"/monitoring/{monitor.pk}/?sentiment=nope")  # said on the page, nothing listed
    assert refused.status_code == 400 and "没有这种情感" in refused.content.decode()
    check = frank.post("/monitoring/check", {"rule": "示例乳业 AND (投诉"}).content.decode()
    assert "<mark>" in check and "error" in check
    preview = frank.post("/monitoring/check", {"rule": "示例乳业 投诉", "preview": "1"}).content.decode()
    assert "匹配 1 条" in preview
    assert frank.post("/monitoring/new", {"name": "坏", "group": "brand", "rule": "("}).status_code == 422
    assert client_for("carol").get("/monitoring/").status_code == 403  # an editor
    assert client_for("mallory").get(f"/monitoring/{monitor.pk}/").status_code == 404


def test_the_api_lists_counts_and_mentions_with_strict_filters(personas, client_for):
    monitor = actions.do_create_monitor(personas.frank, name="品牌", group="brand", rule="示例乳业")
    _mentions(personas, ["示例乳业真好", "示例乳业很差"], minutes_ago=5)
    _consume()
    frank = client_for("frank")
    counts = frank.get(f"{API}/monitors/{monitor.pk}/counts?period=24h").json()
    assert counts["bucket"] == "hour" and sum(r["volume"] for r in counts["rows"]) == 2 and counts["voices"] == 2
    listed = frank.get(f"{API}/monitors/{monitor.pk}/mentions").json()
    assert listed["count"] == 2 if isinstance(listed, dict) else len(listed) == 2
    assert frank.get(f"{API}/monitors/{monitor.pk}/mentions?sentiment=nope").status_code == 422
    assert frank.get(f"{API}/monitors/{monitor.pk}/counts?period=7d&bucket=minute").status_code == 422
    test = frank.post(f"{API}/monitors/test", {"rule": "示例乳业 很差"}, content_type="application/json").json()
    assert test["matched"] == 1
    assert client_for("mallory").get(f"{API}/monitors/{monitor.pk}").status_code == 404
    assert client_for("carol").get(f"{API}/monitors").status_code == 403


def test_share_of_voice_and_the_csv_export(personas, client_for):
    ours = actions.do_create_monitor(personas.frank, name="我们", group="brand", rule="示例乳业")
    actions.do_create_monitor(personas.frank, name="竞品", group="competitor", rule="别家乳业")
    _mentions(personas, ["示例乳业好", "示例乳业差", "示例乳业一般", "别家乳业好"], minutes_ago=10)
    _consume()
    frank = client_for("frank")
    page = frank.get("/monitoring/share?period=24h").content.decode()
    assert "75%" in page and "我们 3 条，竞品 1 条" in page
    exported = b"".join(frank.get(f"/monitoring/export?monitor={ours.pk}").streaming_content).decode("utf-8-sig")
    assert exported.splitlines()[0].startswith("created_at,author") and exported.count("示例乳业") == 3
    negative = b"".join(frank.get(f"/monitoring/export?monitor={ours.pk}&sentiment=negative").streaming_content)
    assert negative.decode("utf-8-sig").count("\n") <= 3
    assert frank.get("/monitoring/export?monitor=999999").status_code == 302  # said, not a 500
    assert client_for("mallory").get(f"/monitoring/export?monitor={ours.pk}").status_code == 302
    assert "示例乳业" not in client_for("mallory").get(f"/monitoring/export?monitor={ours.pk}", follow=True).content.decode()


@pytest.mark.parametrize("rule", ["NOT 广告", "示例酸奶 AND NOT 示例酸奶", "示例 and 酸奶", "/.*/"])
def test_a_rule_with_warnings_is_checked_and_saved_with_them_said(personas, client_for, rule):
    """A rule that parses but is suspicious (matches everything or nothing, a lower-case
    operator) is allowed, with the warning shown — never a server error."""
    client = client_for("frank")
    check = client.post("/monitoring/check", {"rule": rule, "preview": "1"})
    assert check.status_code == 200 and 'class="warn"' in check.content.decode()
    response = client.post("/monitoring/new", {"name": f"可疑 {rule[:8]}", "group": "custom", "rule": rule, "is_active": "on"})
    assert response.status_code == 302


def test_a_batch_planned_before_a_rule_change_is_matched_again_under_the_lock(personas):
    monitor = actions.do_create_monitor(personas.frank, name="产品", group="product", rule="低糖酸奶")
    _mentions(personas, ["低糖酸奶上市", "高钙牛奶上市"], minutes_ago=1)
    rows = matching.rows_of(Mention.objects.order_by("pk"))
    planned = matching.prepare(rows)  # as listening does, before the consumer's transaction
    assert len(planned.matches) == 1
    with time_machine.travel(clock.now() + timedelta(seconds=1), tick=False):
        actions.do_change_monitor(personas.frank, monitor, rule="高钙牛奶")
    matching.handle(rows, planned)
    texts = list(MonitorMatch.objects.filter(monitor=monitor).values_list("mention__text", flat=True))
    assert texts == ["高钙牛奶上市"]  # the rule in force when the batch was written, not the old plan
    assert MinuteCount.objects.get(monitor=monitor).volume == 1

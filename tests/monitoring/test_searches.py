"""Keyword search streams for monitors: where a connection may search (Weibo's commercial
contract), each keyword that covers a rule gets one listening stream, shared by the monitors that
need it, stopped when none does; a rule no keyword covers is said to be unsearchable."""

from __future__ import annotations

import pytest

from guanwei.listening.models import Stream, StreamKind
from guanwei.monitoring import actions, searches
from guanwei.monitoring.models import Monitor
from guanwei.textkit.query import parse, search_terms


@pytest.mark.parametrize(("rule", "terms"), [
    ("示例乳业 OR 示例酸奶 -抽奖", ("示例乳业", "示例酸奶")),
    ("(示例乳业 OR 示例酸奶) NEAR/20 (异味 OR 超标 OR 变质)", ("示例乳业", "示例酸奶")),
    ("示例酸奶 AND (投诉 OR 退款 OR 差评)", ("示例酸奶",)),
    ("示例酸奶 AND region:北京", ("示例酸奶",)),
    ("NOT 广告", None),
    ("/示例.{0,3}奶/", None),
    ("示例酸奶 OR /示例.{0,3}奶/", None),  # the regex side matches posts without the keyword
    ("verified:blue", None),
])  # fmt: skip
def test_the_keywords_that_cover_a_rule(rule, terms):
    assert search_terms(parse(rule)) == terms


def _searches(account=None) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    qs = Stream.objects.filter(kind=StreamKind.SEARCH)
    return dict(qs.filter(account=account).values_list("target", "is_active") if account else qs.values_list("target", "is_active"))


def test_streams_follow_the_rules_where_the_connection_may_search(personas):
    frank = personas.members["frank"]
    actions.do_create_monitor(frank, name="品牌", group="brand", rule="示例乳业 OR 示例酸奶")
    assert _searches() == {}  # an ordinary app: no search, the page says so
    assert not searches.coverage(Monitor.objects.get()).searching

    personas.connection.commercial = True
    personas.connection.save()
    assert searches.sync_all.call() == {"added": 2, "started": 0, "stopped": 0}
    assert _searches(personas.parent_account) == {"示例乳业": True, "示例酸奶": True}  # the parent searches
    crisis = actions.do_create_monitor(frank, name="危机", group="custom", rule="示例酸奶 NEAR/10 (变质 OR 异味)")
    assert len(_searches()) == 2  # 示例酸奶 is searched once for both
    actions.do_change_monitor(frank, crisis, rule="示例纯牛奶 AND 变质")
    assert _searches() == {"示例乳业": True, "示例酸奶": True, "示例纯牛奶": True}
    actions.do_delete_monitor(frank, Monitor.objects.get(name="品牌"))
    assert _searches() == {"示例乳业": False, "示例酸奶": False, "示例纯牛奶": True}
    coverage = searches.coverage(crisis)
    assert coverage.searching and coverage.terms == coverage.searched == ("示例纯牛奶",)

    blind = actions.do_create_monitor(frank, name="排除", group="custom", rule="NOT 广告")
    assert searches.coverage(blind).terms is None

    personas.connection.commercial = False  # the contract ended
    personas.connection.save()
    searches.sync_all.call()
    assert not any(_searches().values())
    assert Stream.objects.filter(kind=StreamKind.SEARCH, enterprise=personas.outsider_account.enterprise).count() == 0


def test_the_monitor_page_says_where_its_mentions_come_from(personas, client_for):
    frank = personas.members["frank"]
    personas.connection.commercial = True
    personas.connection.save()
    searched = actions.do_create_monitor(frank, name="品牌", group="brand", rule="示例乳业 OR 示例酸奶")
    blind = actions.do_create_monitor(frank, name="排除", group="custom", rule="/示例.奶/")
    client = client_for("frank")
    page = client.get(f"/monitoring/{searched.pk}/").content.decode()
    assert 'id="search-terms"' in page and "示例酸奶</span>" in page
    assert "没有能用来搜索的关键词" in client.get(f"/monitoring/{blind.pk}/").content.decode()

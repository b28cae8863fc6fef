"""The inbox consumer: what customers say to our accounts becomes items, once per conversation,
triaged, routed, timed in business hours and assigned — and nothing else does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from guanwei.inbox import actions, intake
from guanwei.inbox.models import Item, RoutingRule, Team
from guanwei.listening.models import Mention, Stream, StreamKind
from guanwei.listening.store import Incoming, store

_n = iter(range(1, 10**6))


def say(personas, text: str, *, author: str = "c1", kind: str = "comment", thread: str = "5001",
        account: str = "service", verified: int | None = None, followers: int = 10, **kw) -> list[Mention]:  # type: ignore[no-untyped-def]
    from guanwei.core import clock

    rid = f"m{next(_n)}"
    store(personas.enterprise, [Incoming(
        platform="sandbox:builtin", remote_id=rid, kind=kind, text=text, created_at=clock.now(), author_id=author,
        author_name=f"顾客{author}", author_verified_type=verified, author_followers=followers,
        in_reply_to_id=thread if kind == "comment" else "", account_id=personas.accounts[account].pk, **kw)])  # fmt: skip
    mentions = list(Mention.objects.filter(remote_id=rid).select_related("author", "account__connection"))
    intake.handle(mentions)
    return mentions


@pytest.fixture
def team(personas):  # type: ignore[no-untyped-def]
    team = Team.objects.create(enterprise=personas.enterprise, name="客服一组", hours="mon-fri 09:00-18:00")
    team.members.set([personas.members["erin"], personas.members["bob"]])
    RoutingRule.objects.create(enterprise=personas.enterprise, name="全部", position=10, team=team)
    return team


def test_a_complaint_becomes_an_urgent_item_routed_assigned_and_timed(personas, team):
    with time_machine.travel(datetime(2026, 12, 7, 2, 0, tzinfo=UTC)):  # Monday 10:00 in Shanghai
        say(personas, "@示例乳业客服 买的酸奶变质了，我要投诉到12315！", verified=0, followers=20000)
    item = Item.objects.get()
    assert (item.category, item.priority, item.team, item.status) == ("complaint", "urgent", team, "open")
    assert item.assignee is not None and "kw:" in item.reasons
    # 30 business minutes for an urgent first response: Monday 10:30 Shanghai
    assert item.first_response_due == datetime(2026, 12, 7, 2, 30, tzinfo=UTC)


def test_the_clock_skips_the_night_and_the_weekend(personas, team):
    with time_machine.travel(datetime(2026, 12, 4, 9, 30, tzinfo=UTC)):  # Friday 17:30 in Shanghai
        say(personas, "请问你们的酸奶保质期多久？")
    item = Item.objects.get()
    assert item.category == "inquiry" and item.priority == "normal"
    # 120 business minutes: 30 on Friday, 90 from Monday 09:00 → Monday 10:30 Shanghai
    assert item.first_response_due == datetime(2026, 12, 7, 2, 30, tzinfo=UTC)


def test_a_conversation_is_one_item_until_solved(personas, team):
    say(personas, "请问怎么退货？", author="c7")
    say(personas, "还在吗？", author="c7")
    assert Item.objects.count() == 1
    item = Item.objects.get()
    actions.do_set_status(personas.members["erin"], item, "pending")
    say(personas, "订单号 123456", author="c7")  # the customer answered: the item opens again
    item.refresh_from_db()
    assert item.status == "open" and item.paused_at is None and Item.objects.count() == 1
    actions.do_set_status(personas.members["erin"], item, "solved")
    say(personas, "又坏了一盒，请问怎么处理？", author="c7")
    assert Item.objects.count() == 2


def test_round_robin_under_the_cap(personas, team):
    team.max_open_per_agent = 2
    team.save()
    for i in range(5):
        say(personas, f"请问第{i}个问题怎么办？", author=f"r{i}")
    by = sorted(Item.objects.values_list("assignee__user__username", flat=True), key=str)
    assert by.count("erin") == 2 and by.count("bob") == 2 and by.count(None) == 1


def test_rules_route_by_keyword_account_and_category(personas, team):
    vip = Team.objects.create(enterprise=personas.enterprise, name="危机组", assign_mode="manual")
    RoutingRule.objects.create(enterprise=personas.enterprise, name="律师", position=1, rule="律师 OR 起诉", team=vip)
    say(personas, "我已经找了律师，准备起诉", author="x1")
    say(personas, "你们的服务很好，点赞", author="x2")
    assert Item.objects.get(author__remote_id="x1").team == vip
    assert Item.objects.get(author__remote_id="x1").assignee is None  # manual: nobody yet
    assert Item.objects.get(author__remote_id="x2").team == team


def test_what_is_not_for_the_inbox(personas, team):
    parent = personas.accounts["parent"]
    say(personas, "我们的回复", author=parent.platform_uid, account="parent")  # our own words
    say(personas, "导入的投诉", author="i1", source=Mention.Source.IMPORT)  # an import
    search = Stream.objects.create(enterprise=personas.enterprise, account=parent, kind=StreamKind.SEARCH, target="酸奶")
    say(personas, "搜索到的帖子", author="s1", kind="status", stream_id=search.pk)  # a search's find
    assert Item.objects.count() == 0


def test_items_escalated_to_pr_show_in_the_incident_room(personas, team, client_for):
    say(personas, "喝了你们的酸奶住院了，已经联系媒体", author="e1", verified=0, followers=50000)
    item = Item.objects.get()
    incident = actions.do_escalate(personas.members["bob"], [item], title="顾客住院")
    item.refresh_from_db()
    assert item.incident == incident
    page = client_for("frank").get(f"/monitoring/incidents/{incident.pk}/").content.decode()
    assert f"/inbox/items/{item.pk}/" in page


@pytest.mark.django_db(transaction=True)
def test_two_agents_taking_one_item_at_once_one_wins(personas, team):
    """The take is a conditional update (assignee still empty): of two agents racing, one gets
    the item and the other is told who has it."""
    from django.db import connection

    from guanwei.core.errors import ActionError
    from tests.races import at_once

    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent connections (the in-memory SQLite test DB shares one cache)")
    say(personas, "请问怎么开发票？", author="race")
    item = Item.objects.get()
    Item.objects.filter(pk=item.pk).update(assignee=None)
    agents = ("erin", "bob")
    results = at_once(*(lambda name=name: actions.do_take(personas.members[name], Item.objects.get(pk=item.pk))
                        for name in agents))  # fmt: skip
    outcomes = [f"refused: {r.message}" if isinstance(r, ActionError) else name for name, r in zip(agents, results, strict=True)]
    winners = [o for o in outcomes if not o.startswith("refused")]
    assert len(winners) == 1 and len(outcomes) == 2
    item.refresh_from_db()
    assert item.assignee == personas.members[winners[0]]
    assert personas.members[winners[0]].display_name in next(o for o in outcomes if o.startswith("refused"))


def test_an_item_someone_else_handles_is_not_answered_twice(personas, team):
    from guanwei.core.errors import ActionError

    say(personas, "请问怎么开发票？", author="twice")
    item = Item.objects.get()
    holder = item.assignee
    other = personas.members["bob"] if holder != personas.members["bob"] else personas.members["erin"]
    with pytest.raises(ActionError, match=holder.display_name):
        actions.do_reply(other, item, "您好，请提供订单号。")
    assert not item.replies.exists()
    actions.do_reply(holder, item, "您好，请提供订单号。")
    assert item.replies.count() == 1

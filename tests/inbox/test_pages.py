"""The inbox's pages: the agent's list with its filters and refresh, one item (conversation,
customer panel, take/assign, status, notes, replies, canned answers), the breached list, the
reports, canned replies and teams — and who may not see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from guanwei.inbox import intake
from guanwei.inbox.models import CannedReply, Item, ItemNote, Reply, Team
from guanwei.listening.models import Mention
from guanwei.listening.store import Incoming, store

_n = iter(range(1, 10**6))
MONDAY_MORNING = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def say(personas, text: str, *, author: str = "c1", kind: str = "comment", thread: str = "5001",
        account: str = "service", followers: int = 10, verified: int | None = None, **kw) -> Item:  # type: ignore[no-untyped-def]
    """A customer says `text` to one of the insider's accounts; the item it joined or made."""
    from guanwei.core import clock

    rid = f"p{next(_n)}"
    store(personas.enterprise, [Incoming(
        platform="sandbox:builtin", remote_id=rid, kind=kind, text=text, created_at=clock.now(), author_id=author,
        author_name=f"顾客{author}", author_verified_type=verified, author_followers=followers, author_region="上海 浦东",
        in_reply_to_id=thread if kind == "comment" else "", account_id=personas.accounts[account].pk, **kw)])  # fmt: skip
    mentions = list(Mention.objects.filter(remote_id=rid).select_related("author", "account__connection"))
    intake.handle(mentions)
    return Item.objects.get(conversation=intake.conversation_of(mentions[0]), status__in=["open", "pending"])


def make_items(personas) -> dict[str, Item]:  # type: ignore[no-untyped-def]
    """A complaint to the service account, then an inquiry to the product account, on a Monday morning."""
    with time_machine.travel(MONDAY_MORNING, tick=False):
        complaint = say(personas, "买的酸奶变质了，我要投诉！", author="angry")
    with time_machine.travel(MONDAY_MORNING + timedelta(minutes=5), tick=False):
        inquiry = say(personas, "请问你们的酸奶保质期多久？", author="asker", account="product")
    return {"complaint": complaint, "inquiry": inquiry}


@pytest.fixture
def items(personas):  # type: ignore[no-untyped-def]
    return make_items(personas)


def page(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


# ------------------------------------------------------------------ the list


def test_the_inbox_lists_open_items_newest_first(personas, client_for, items):
    response = client_for("erin").get("/inbox/")
    assert response.status_code == 200
    body = page(response)
    assert body.index("请问你们的酸奶保质期多久") < body.index("买的酸奶变质了")
    assert 'hx-get="/inbox/list' in body and 'hx-trigger="every 15s"' in body


@pytest.mark.parametrize(("query", "shown", "hidden"), [
    ("category=complaint", "买的酸奶变质了", "保质期多久"),
    ("priority=urgent", "买的酸奶变质了", "保质期多久"),
    ("q=保质期", "保质期多久", "买的酸奶变质了"),
    ("assignee=unassigned", "保质期多久", "—nothing hidden—"),
])  # fmt: skip
def test_the_inbox_filters(personas, client_for, items, query, shown, hidden):
    body = page(client_for("erin").get(f"/inbox/?{query}"))
    assert shown in body and hidden not in body


def test_filters_by_account_and_mine(personas, client_for, items):
    erin = client_for("erin")
    product = personas.accounts["product"].pk
    assert "买的酸奶变质了" not in page(erin.get(f"/inbox/?account={product}"))
    erin.post(f"/inbox/items/{items['complaint'].pk}/", {"action": "take"})
    mine = page(erin.get("/inbox/?assignee=mine"))
    assert "买的酸奶变质了" in mine and "保质期多久" not in mine


@pytest.mark.parametrize("query", ["status=bogus", "category=weather", "priority=%E7%B4%A7", "account=99999999999",
                                   "account=99999999999999999999999", "assignee=somebody", "breached=maybe",
                                   "team=12", "q=" + "长" * 200])  # fmt: skip
def test_an_unknown_filter_is_a_400_with_a_message_never_a_500(personas, client_for, items, query):
    response = client_for("erin").get(f"/inbox/?{query}")
    assert response.status_code == 400
    assert "没有列出工单" in page(response)
    assert client_for("erin").get(f"/inbox/list?{query}").status_code == 400


def test_the_refresh_partial_is_just_the_rows_and_keeps_the_filters(personas, client_for, items):
    response = client_for("erin").get("/inbox/list?category=inquiry")
    body = page(response)
    assert response.status_code == 200 and "<html" not in body and "<tr" in body
    assert "保质期多久" in body and "买的酸奶变质了" not in body
    assert 'hx-get="/inbox/list?category=inquiry"' in page(client_for("erin").get("/inbox/?category=inquiry"))


def test_bulk_status_and_escalation(personas, client_for, items):
    bob = client_for("bob")
    ids = [items["complaint"].pk, items["inquiry"].pk]
    response = bob.post("/inbox/bulk", {"items": ids, "action": "status", "status": "solved", "query": "category=complaint"})
    assert response.status_code == 302 and response["Location"] == "/inbox/?category=complaint"
    assert set(Item.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"solved"}
    bob.post("/inbox/bulk", {"items": ids[:1], "action": "escalate", "incident": "", "title": "变质投诉"})
    assert Item.objects.get(pk=ids[0]).incident.title == "变质投诉"


def test_bulk_refuses_nonsense_with_a_message(personas, client_for, items):
    erin = client_for("erin")
    response = erin.post("/inbox/bulk", {"items": [items["complaint"].pk], "action": "status", "status": "gone"}, follow=True)
    assert "没有这个状态" in page(response)
    # an agent may not open an incident: told to pick an open one, nothing changed
    response = erin.post("/inbox/bulk", {"items": [items["complaint"].pk], "action": "escalate", "incident": ""}, follow=True)
    assert response.status_code == 200 and Item.objects.get(pk=items["complaint"].pk).incident is None


def test_breached_list(personas, client_for, items):
    with time_machine.travel(MONDAY_MORNING + timedelta(days=3)):
        body = page(client_for("erin").get("/inbox/breached"))
    assert "买的酸奶变质了" in body and "已超时" in body


# ------------------------------------------------------------------ one item


def test_the_item_page_shows_the_conversation_and_the_customer(personas, client_for):
    with time_machine.travel(MONDAY_MORNING - timedelta(days=2), tick=False):
        earlier = say(personas, "上次的快递太慢了", author="vip", account="product", followers=12345, verified=0)
    with time_machine.travel(MONDAY_MORNING, tick=False):
        item = say(personas, "酸奶漏了一地，怎么退？", author="vip", followers=12345, verified=0)
        say(personas, "还在吗？等回复", author="vip", followers=12345, verified=0)
        response = client_for("erin").get(f"/inbox/items/{item.pk}/")
    body = page(response)
    assert response.status_code == 200
    assert "酸奶漏了一地" in body and "还在吗？等回复" in body  # the conversation
    assert "12345" in body and "上海 浦东" in body and "verified-person" in body  # who they are
    assert f"/inbox/items/{earlier.pk}/" in body and "上次的快递太慢了" in body  # what they said before


def test_two_agents_taking_one_item_one_wins_the_other_is_told_who(personas, client_for, items):
    item = items["inquiry"]
    assert item.assignee is None
    erin, bob = client_for("erin"), client_for("bob")
    assert erin.post(f"/inbox/items/{item.pk}/", {"action": "take"}).status_code == 302
    response = bob.post(f"/inbox/items/{item.pk}/", {"action": "take"}, follow=True)
    assert "这条工单刚被 Erin 客服 接手了" in page(response)
    item.refresh_from_db()
    assert item.assignee == personas.erin
    assert "Erin 客服 正在处理这条工单" in page(bob.get(f"/inbox/items/{item.pk}/"))


def test_assign_status_and_note(personas, client_for, items):
    item = items["complaint"]
    bob = client_for("bob")
    bob.post(f"/inbox/items/{item.pk}/", {"action": "assign", "assignee": personas.erin.pk})
    bob.post(f"/inbox/items/{item.pk}/", {"action": "status", "status": "pending"})
    bob.post(f"/inbox/items/{item.pk}/", {"action": "note", "text": "@Erin 客服 请跟进"})
    item.refresh_from_db()
    assert (item.assignee, item.status) == (personas.erin, "pending")
    assert ItemNote.objects.get(item=item).text == "@Erin 客服 请跟进"
    response = bob.post(f"/inbox/items/{item.pk}/", {"action": "assign", "assignee": personas.heidi.pk}, follow=True)
    assert "没有这个成员" in page(response)  # heidi may not reply: not someone to give items to


def test_a_reply_is_queued(personas, client_for, items):
    item = items["complaint"]
    response = client_for("erin").post(f"/inbox/items/{item.pk}/", {"action": "reply", "text": "您好，已为您登记退换。"})
    assert response.status_code == 302
    reply = Reply.objects.get(item=item)
    assert (reply.state, reply.text, reply.member) == ("queued", "您好，已为您登记退换。", personas.erin)
    assert "待发送" in page(client_for("erin").get(f"/inbox/items/{item.pk}/"))


def test_a_refused_reply_keeps_the_typed_text(personas, client_for, items):
    text = "非常抱歉给您带来不便" * 30  # far over 140 characters
    response = client_for("erin").post(f"/inbox/items/{items['complaint'].pk}/", {"action": "reply", "text": text})
    assert response.status_code == 422
    body = page(response)
    assert text in body and "140 字" in body
    assert not Reply.objects.exists()


def test_a_closed_dm_window_disables_sending_and_says_why(personas, client_for):
    with time_machine.travel(MONDAY_MORNING, tick=False):
        item = say(personas, "私信：请问怎么退货", author="dm1", kind="dm")
    with time_machine.travel(MONDAY_MORNING + timedelta(hours=49)):
        body = page(client_for("erin").get(f"/inbox/items/{item.pk}/"))
        assert "私信回复窗口已关闭" in body
        response = client_for("erin").post(f"/inbox/items/{item.pk}/", {"action": "reply", "text": "您好"})
    assert response.status_code == 422 and "48 小时" in page(response)


def test_canned_reply_created_and_filled_into_the_reply(personas, client_for, items):
    erin = client_for("erin")
    response = erin.post("/inbox/canned/", {"title": "退换", "text": "{customer} 您好，订单 {order} 已为您退换。", "category": "complaint"})
    assert response.status_code == 302
    canned = CannedReply.objects.get(title="退换")
    assert "退换" in page(erin.get("/inbox/canned/?q=订单"))
    assert "退换" not in page(erin.get("/inbox/canned/?q=不存在的词"))
    body = page(erin.get(f"/inbox/items/{items['complaint'].pk}/?canned={canned.pk}&order=A123"))
    assert "顾客angry 您好，订单 A123 已为您退换。" in body
    erin.post(f"/inbox/items/{items['complaint'].pk}/", {"action": "reply", "text": "顾客angry 您好", "canned": canned.pk})
    canned.refresh_from_db()
    assert canned.uses == 1
    erin.post(f"/inbox/canned/{canned.pk}/delete")
    assert not CannedReply.objects.exists()


def test_viewers_may_not_open_the_inbox(personas, client_for, items):
    heidi = client_for("heidi")
    for url in ("/inbox/", "/inbox/list", "/inbox/breached", "/inbox/reports", "/inbox/canned/",
                f"/inbox/items/{items['complaint'].pk}/"):
        assert heidi.get(url).status_code == 403, url
    assert client_for("erin").get("/inbox/teams/").status_code == 403  # teams: admins only


def test_the_outsider_gets_404_for_every_item_url(personas, client_for, items):
    mallory = client_for("mallory")
    url = f"/inbox/items/{items['complaint'].pk}/"
    assert mallory.get(url).status_code == 404
    for action in ("take", "assign", "status", "note", "reply", "escalate"):
        assert mallory.post(url, {"action": action, "text": "x", "status": "solved"}).status_code == 404
    mallory.post("/inbox/bulk", {"items": [items["complaint"].pk], "action": "status", "status": "solved"})
    assert Item.objects.get(pk=items["complaint"].pk).status == "open"
    assert "买的酸奶变质了" not in page(mallory.get("/inbox/?status=all"))


def test_nul_and_huge_input_is_refused_never_a_500(personas, client_for, items):
    erin = client_for("erin")
    url = f"/inbox/items/{items['complaint'].pk}/"
    assert erin.post(url, {"action": "note", "text": "a\x00b"}).status_code == 400
    assert erin.post(url, {"action": "reply", "text": "长" * 100_000}).status_code == 422
    assert erin.post(url, {"action": "note", "text": "长" * 100_000}).status_code == 422
    assert erin.post(url, {"action": "nonsense"}).status_code == 404
    assert erin.get("/inbox/items/99999999999999999999999/").status_code == 404
    assert erin.get(f"{url}?canned=99999999999999999999999&order=x").status_code == 200
    assert erin.post("/inbox/bulk", {"items": ["1" * 40], "action": "status", "status": "solved"}).status_code == 302


# ------------------------------------------------------------------ reports, teams


def test_reports_page_and_csv(personas, client_for, items):
    erin = client_for("erin")
    erin.post(f"/inbox/items/{items['complaint'].pk}/", {"action": "take"})
    Item.objects.filter(pk=items["complaint"].pk).update(first_responded_at=MONDAY_MORNING + timedelta(minutes=12))
    with time_machine.travel(MONDAY_MORNING + timedelta(hours=1)):
        body = page(erin.get("/inbox/reports?period=30d"))
        csv = b"".join(erin.get("/inbox/reports?period=7d&format=csv").streaming_content).decode()
    assert "投诉" in body and "@示例乳业客服" in body and "Erin 客服" in body and "12.0" in body
    assert csv.startswith("\ufeffid,said_at") and f"{items['complaint'].pk}," in csv and ",yes" in csv


def test_teams_page_shows_a_bad_hours_string_on_its_field(personas, client_for):
    bob = client_for("bob")
    response = bob.post("/inbox/teams/", {"form": "team", "name": "夜班", "hours": "mon-fri 25:00-26:00",
                                          "assign_mode": "round_robin", "max_open_per_agent": 10})  # fmt: skip
    assert response.status_code == 422
    assert "营业时间：" in page(response)
    assert not Team.objects.exists()
    response = bob.post("/inbox/teams/", {"form": "team", "name": "白班", "hours": "mon-fri 09:00-18:00",
                                          "assign_mode": "least_open", "max_open_per_agent": 10, "first_urgent": 15,
                                          "members": [personas.erin.pk]})  # fmt: skip
    assert response.status_code == 302
    team = Team.objects.get(name="白班")
    assert team.first_response_min == {"urgent": 15} and list(team.members.all()) == [personas.erin]
    response = bob.post("/inbox/teams/", {"form": "rule", "name": "退货", "position": 1, "team": team.pk, "rule": "退货 OR ("})
    assert response.status_code == 422 and "关键词规则：" in page(response)
    bob.post("/inbox/teams/", {"form": "rule", "name": "退货", "position": 1, "team": team.pk, "rule": "退货 OR 退款"})
    rule = team.rules.get()
    assert bob.get(f"/inbox/teams/{team.pk}/").status_code == 200
    assert bob.post(f"/inbox/rules/{rule.pk}/", {"action": "delete"}).status_code == 302
    assert not team.rules.exists()


def test_the_inbox_is_in_the_service_navigation(personas, client_for):
    body = page(client_for("erin").get("/"))
    assert 'href="/inbox/"' in body and 'href="/inbox/teams/"' not in body
    assert 'href="/inbox/teams/"' in page(client_for("bob").get("/"))


def test_english_on_switch(personas, client_for, items):
    erin = client_for("erin")
    erin.post("/i18n/setlang/", {"language": "en", "next": "/inbox/"})
    body = page(erin.get(f"/inbox/items/{items['complaint'].pk}/"))
    assert "Take it" in body and "我来处理" not in body


def test_a_reply_in_review_is_approved_or_returned_on_the_item_page(personas, client_for, items):
    from guanwei.inbox.models import ReplyApproval

    item = next(iter(items.values()))
    ReplyApproval.objects.create(enterprise=personas.enterprise)  # every reply
    url = f"/inbox/items/{item.pk}/"
    erin = client_for("erin")
    erin.post(url, {"action": "reply", "text": "您好，已登记。"})
    reply = Reply.objects.get()
    assert reply.state == "in_review" and 'value="review"' not in page(erin.get(url))  # not her own
    dave = client_for("dave")  # a publishing reviewer has no inbox
    assert dave.post(url, {"action": "review", "reply": reply.pk, "verdict": "approve"}).status_code == 403
    bob = client_for("bob")
    assert 'value="review"' in page(bob.get(url))
    bob.post(url, {"action": "review", "reply": reply.pk, "verdict": "approve"})
    reply.refresh_from_db()
    assert reply.state == "queued" and reply.approved_by == personas.members["bob"]
    assert bob.post(url, {"action": "review", "reply": "99999999", "verdict": "approve"}).status_code == 404


def test_a_spam_comment_is_marked_and_solved(personas, client_for, items):
    item = next(i for i in items.values() if i.kind == "comment")
    client_for("erin").post(f"/inbox/items/{item.pk}/", {"action": "spam"})
    item.refresh_from_db()
    assert item.category == "spam" and item.status == "solved"


def test_two_agents_on_one_item_see_each_other(personas, client_for, items):
    item = next(iter(items.values()))
    url = f"/inbox/items/{item.pk}/"
    erin, bob = client_for("erin"), client_for("bob")
    assert "也在查看" not in page(erin.get(url))  # alone
    assert "Erin 客服 也在查看" in page(bob.get(url))
    assert "Bob 管理员 也在查看" in page(erin.get(url + "presence"))  # the poll
    assert client_for("mallory").get(url + "presence").status_code == 404


def test_the_customer_keeps_tags_and_a_note_across_their_items(personas, client_for, items):
    item = items["complaint"]
    url = f"/inbox/items/{item.pk}/"
    erin = client_for("erin")
    erin.post(url, {"action": "customer", "tags": "VIP，多次投诉", "note": "上月已补发一箱"})
    html = page(erin.get(url))
    assert "VIP，多次投诉" in html and "上月已补发一箱" in html
    assert erin.post(url, {"action": "customer", "tags": "标" * 30, "note": ""}).status_code == 302  # refused, said
    from guanwei.inbox.models import CustomerNote

    assert CustomerNote.objects.get().tags == ["VIP", "多次投诉"]
    assert client_for("mallory").post(url, {"action": "customer", "tags": "x"}).status_code == 404

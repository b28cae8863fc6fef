"""The service path, in the browser, on the seeded demo: the sandbox's customer scenario writes
questions and complaints; listening reads them and the inbox makes items; the agent takes a
complaint under one of our posts, answers it with a canned reply, the worker sends it, the reply
shows under the customer's comment on the sandbox's own status page, and the item shows its SLA
met."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from guanwei.core import clock
from guanwei.core.models import Member
from guanwei.inbox import actions as inbox_actions
from guanwei.inbox import replies
from guanwei.inbox.models import Item
from guanwei.listening import consumers, polling
from guanwei.listening.models import Stream
from guanwei.matrix.models import Account
from guanwei.ops.seed import DEMO_PASSWORD, seed_demo
from guanwei.sandbox import runs
from guanwei.sandbox import store as sandbox
from guanwei.sandbox.models import Comment, SandboxUser
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_agent_answers_a_complaint_with_a_canned_reply(live_server, browser, page, settings, screenshots):
    import time_machine

    settings.BASE_URL = live_server.url
    report = seed_demo(live_server.url, with_history=False)
    for account in Account.objects.filter(enterprise=report.enterprise):  # something to comment on
        sandbox.post_status(SandboxUser.objects.get(pk=int(account.platform_uid)), f"{account.screen_name}：今天的新鲜事")
    polling.poll_due()  # the streams start from what is there
    crowd = runs.scenario_run("customer_service", minutes=90, fast_forward=True, seed=3, intensity=3)
    runs.execute(crowd)
    crowd.refresh_from_db()
    assert crowd.state == "done", crowd.error
    with time_machine.travel(clock.now() + timedelta(minutes=1)):
        for _ in range(3):  # a few of the worker's rounds: read everything
            Stream.objects.update(next_poll_at=clock.now())
            polling.poll_due()
    with time_machine.travel(clock.now() + timedelta(minutes=2)):
        consumers.dispatch("inbox")  # settled: handed to the inbox
    comments = Item.objects.filter(kind="comment", status="open")
    assert comments.exists(), list(Item.objects.values_list("kind", "account__screen_name"))
    comments = comments.order_by("-said_at")
    complaint = comments.filter(category="complaint").first() or comments.first()  # the newest
    agent = Member.objects.get(user__username="chenjing")
    if complaint.assignee_id != agent.pk:  # round-robin with the admin gave it to the admin: hers now
        complaint = inbox_actions.do_assign(agent, complaint, agent)

    login(page, live_server.url, "chenjing", DEMO_PASSWORD)  # 客服
    # her queue of that category, newest first (the whole inbox is longer than a page)
    page.goto(f"{live_server.url}/inbox/?assignee=mine&category={complaint.category}")
    assert complaint.excerpt[:10] in page.inner_text("main")
    page.goto(f"{live_server.url}/inbox/items/{complaint.pk}/")
    page.select_option("#reply select[name=canned]", label="致歉并登记")
    page.click("#reply form[method=get] button[type=submit]")
    text = page.input_value("#r-text")
    customer = complaint.author.screen_name
    assert text.startswith(f"{customer}您好") and "{" not in text  # the variables filled in
    page.click("#reply form[method=post] button[type=submit]")
    assert "回复已排队" in page.inner_text("main")

    assert replies.run.call() == {"sent": 1}  # what the worker does every 5 s
    page.reload()
    main = page.inner_text("main")
    assert "已发送" in main and "已在时限内首次回复" in main
    page.screenshot(path=screenshots / "inbox-item-1280-zh.png", full_page=True)

    # on the sandbox: the reply under the customer's comment, as Weibo would show it
    ours = SandboxUser.objects.get(pk=int(complaint.account.platform_uid))
    landed = Comment.objects.get(reply_to_id=int(complaint.mention.remote_id), user=ours)
    assert landed.text.endswith(text)
    page.goto(f"{live_server.url}/sandbox/status/{landed.status_id}/")
    assert re.search(re.escape(text[:12]), page.inner_text("body"))

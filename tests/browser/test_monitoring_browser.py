"""In the browser, on the seeded demo: the analyst writes a rule with a mistake, sees where it
is, fixes it, tries it on the last 7 days, saves it, and reads the monitor's dashboard — on a
computer and on a phone."""

from datetime import timedelta

import pytest

from guanwei.core import clock
from guanwei.listening import consumers
from guanwei.listening.store import Incoming, store
from guanwei.ops.seed import DEMO_PASSWORD, seed_demo
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_write_a_rule_and_read_the_dashboard(live_server, new_page, page, settings, screenshots):
    import time_machine

    settings.BASE_URL = live_server.url
    report = seed_demo(live_server.url, with_history=False)
    texts = ["示例酸奶喝出异味，投诉！", "示例酸奶真好喝", "示例酸奶还行吧", "示例酸奶过期了还在卖", "别家的牛奶"]
    store(report.enterprise, [
        Incoming(platform="sandbox:builtin", remote_id=f"b{i}", kind="status", text=texts[i % len(texts)],
                 created_at=clock.now() - timedelta(minutes=3 * i), author_id=f"u{i % 9}", author_name=f"网友{i % 9}",
                 author_followers=50 * i)
        for i in range(60)
    ])  # fmt: skip
    with time_machine.travel(clock.now() + timedelta(seconds=consumers.SETTLE_S + 1)):
        consumers.dispatch("monitoring")

    analyst = [u for u, _p, label in report.logins if "舆情" in label][0]
    login(page, live_server.url, analyst, DEMO_PASSWORD)
    page.goto(live_server.url + "/monitoring/new")
    page.fill("#id_name", "酸奶投诉")
    page.fill("#id_rule", "示例酸奶 AND (投诉 OR 过期")
    page.wait_for_selector("#rule-check .error")
    assert "<mark>" in page.inner_html("#rule-check")
    page.fill("#id_rule", "示例酸奶 NEAR/10 (投诉 OR 过期 OR 异味)")
    page.wait_for_selector("#rule-check >> text=规则可以使用")
    page.click("button:has-text('在最近 7 天上试一试')")
    page.wait_for_selector("#rule-check >> text=匹配")
    page.click("button:has-text('保存')")
    page.wait_for_url(live_server.url + "/monitoring/*/")
    page.goto(live_server.url + "/monitoring/")
    page.click("text=品牌：示例乳业")
    assert page.locator("svg.bars rect.bar-neg").count() > 0
    assert "独立声音" in page.inner_text("main")
    page.screenshot(path=screenshots / "monitor-1280-zh.png", full_page=True)
    phone = new_page(375)
    login(phone, live_server.url, analyst, DEMO_PASSWORD)
    phone.goto(page.url)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    phone.screenshot(path=screenshots / "monitor-375-zh.png", full_page=True)
    phone.context.close()

"""In the browser, on the seeded demo: an editor composes for two accounts and submits, the
reviewer approves, the worker publishes to the sandbox, the post shows on the sandbox's
timeline, and the editor sees it published with its link."""

import pytest

from guanwei.matrix.models import Account
from guanwei.ops.seed import DEMO_PASSWORD, seed_demo
from guanwei.publishing import dispatch
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TEXT = "示例乳业低糖酸奶今日上市，欢迎品尝 https://demo.guanwei.local/launch"


def test_compose_review_publish_and_see_it_on_the_platform(live_server, new_page, page, settings, screenshots):
    settings.BASE_URL = live_server.url
    seed_demo(live_server.url, with_history=False)
    parent = Account.objects.get(screen_name="示例乳业官方微博")
    product = Account.objects.get(screen_name="示例乳业产品")

    login(page, live_server.url, "wangfang", DEMO_PASSWORD)  # 内容编辑
    page.goto(live_server.url + "/publishing/compose/")
    page.fill("#id_text", TEXT)
    page.wait_for_selector("#length >> text=还可输入")  # the server's live count
    page.check(f"input[name=accounts][value='{parent.pk}']")
    page.check(f"input[name=accounts][value='{product.pk}']")
    page.click("text=保存并送审")
    page.wait_for_url(live_server.url + "/publishing/posts/*/")
    post_url = page.url
    assert "待审核" in page.inner_text("main")

    reviewer = new_page(375)
    login(reviewer, live_server.url, "liuyang", DEMO_PASSWORD)  # 审核
    reviewer.goto(post_url)
    reviewer.click("main button:has-text('批准')")
    assert "已批准并排期" in reviewer.inner_text("main")
    reviewer.context.close()

    assert dispatch.run() == {"published": 2}  # what the worker does every 5 s

    page.goto(live_server.url + "/sandbox/")
    assert "示例乳业低糖酸奶今日上市" in page.inner_text("body")
    page.goto(post_url)
    main = page.inner_text("main")
    assert main.count("已发布") >= 2
    link = page.locator("main table a").first.get_attribute("href")
    assert link and "/sandbox/" in link
    page.screenshot(path=screenshots / "post-published-1280-zh.png", full_page=True)


def test_the_composer_suggests_autosaves_and_the_calendar_moves_a_post_by_drag(live_server, page, settings, screenshots):
    from datetime import datetime, timedelta

    from django.utils import timezone

    from guanwei.core.models import Member
    from guanwei.publishing import actions
    from guanwei.publishing.models import Post

    settings.BASE_URL = live_server.url
    seed_demo(live_server.url, with_history=False)
    product = Account.objects.get(screen_name="示例乳业产品")
    editor = Member.objects.get(user__username="wangfang")
    actions.do_create_post(editor, text=f"#冬季新品# 上市 {TEXT}", accounts=[product.pk])
    login(page, live_server.url, "wangfang", DEMO_PASSWORD)

    # the live panel suggests a topic used before; a click completes it; autosave keeps the draft
    page.goto(live_server.url + "/publishing/compose/")
    page.check(f"input[name=accounts][value='{product.pk}']")
    page.fill("#id_text", "今天的 #冬")
    page.click("button[data-insert='#冬季新品#']")
    assert page.input_value("#id_text") == "今天的 #冬季新品#"
    page.wait_for_selector("#autosave-status >> text=已自动保存", timeout=10_000)
    assert Post.objects.filter(text="今天的 #冬季新品#", author=editor).exists()
    page.wait_for_selector(".weibo-card .wb-topic >> text=#冬季新品#")
    page.screenshot(path=screenshots / "composer-1280-zh.png", full_page=True)

    # drag a scheduled post to another day of a month ahead; it keeps its time of day
    month = (timezone.localdate() + timedelta(days=40)).replace(day=1)
    at = timezone.make_aware(datetime(month.year, month.month, 10, 10, 0))
    post = actions.do_create_post(editor, text=f"拖动我 {TEXT}", accounts=[product.pk], scheduled_at=at)
    day = month.replace(day=13)
    page.goto(f"{live_server.url}/publishing/?view=month&date={month:%Y-%m-%d}")
    page.locator(f"#chip-{post.pk}").drag_to(page.locator(f"td[data-date='{day:%Y-%m-%d}']"))
    page.wait_for_selector(f"td[data-date='{day:%Y-%m-%d}'] #chip-{post.pk}")
    post.refresh_from_db()
    moved = timezone.localtime(post.scheduled_at)
    assert (moved.date(), moved.hour) == (day, 10)
    page.screenshot(path=screenshots / "calendar-month-1280-zh.png", full_page=True)

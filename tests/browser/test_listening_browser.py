"""In the browser, on the seeded demo: a netizen's question to the service account is read by
listening and shows on the account's listening page, with its sentiment. (Pushed DMs:
tests/listening/test_pushes.py.)"""

import pytest

from guanwei.core import clock
from guanwei.listening import polling
from guanwei.listening.models import Mention, Stream
from guanwei.matrix.models import Account
from guanwei.ops.seed import DEMO_PASSWORD, seed_demo
from guanwei.sandbox import store as sandbox
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_customer_question_becomes_a_mention_on_the_listening_page(live_server, page, settings, screenshots):
    settings.BASE_URL = live_server.url
    seed_demo(live_server.url, with_history=False)
    service = Account.objects.get(screen_name="示例乳业客服")
    polling.poll_due()  # what the worker does every 15 s: the streams start from what is there

    (fan,) = sandbox.bulk_create_users([{"screen_name": "着急的顾客"}])
    sandbox.post_status(fan, "@示例乳业客服 订单 20261205 三天了还没发货，怎么回事？")
    Stream.objects.update(next_poll_at=clock.now())  # due now, as 30 s later
    polling.poll_due()
    question = Mention.objects.get(text__contains="三天了还没发货")
    assert question.account_id == service.pk and question.sentiment == "negative"

    login(page, live_server.url, "zhangwei", DEMO_PASSWORD)
    page.goto(live_server.url + "/listening/")
    page.click(f"a[href='/listening/accounts/{service.pk}/']")
    main = page.inner_text("main")
    assert "着急的顾客" in main and "三天了还没发货" in main and "负面" in main
    assert "@我的微博" in main and "正常" in main
    page.screenshot(path=screenshots / "listening-account-1280-zh.png", full_page=True)

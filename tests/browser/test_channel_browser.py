"""In the browser: an admin adds a webhook channel, keeps its secret, sends a test message, and
the receiver gets it signed (Standard Webhooks); the page shows it delivered."""

import pytest

from guanwei.core import channels
from guanwei.core.models import Channel, Delivery
from tests.browser.conftest import login
from tests.core.test_channels import Receiver
from tests.personas import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_test_message_to_a_webhook_is_delivered_and_signed(personas, live_server, page, settings, screenshots):
    from standardwebhooks.webhooks import Webhook

    receiver = Receiver()
    try:
        settings.BASE_URL = live_server.url
        settings.OUTBOUND_ALLOW = ["127.0.0.1"]
        login(page, live_server.url, "bob", PASSWORD)
        page.goto(live_server.url + "/settings/channels/")
        page.fill("#id_name", "运维 webhook")
        page.select_option("#id_kind", "webhook")
        page.fill("#id_url", receiver.base + "/hooks/guanwei")
        page.click("main form button[type=submit]:has-text(\"添加\")")
        secret = page.input_value("input.secret")
        assert secret.startswith("whsec_")
        page.click("text=完成")
        page.click("text=发送测试消息")
        assert "测试消息已排队发送" in page.inner_text("main")

        delivery = Delivery.objects.get(channel=Channel.objects.get(name="运维 webhook"))
        assert channels.attempt(delivery.pk) == "delivered"  # what the worker does
        page.reload()
        assert "已送达" in page.inner_text("main")
        page.screenshot(path=screenshots / "channel-1280-zh.png", full_page=True)

        (request,) = receiver.requests
        verified = Webhook(secret).verify(request["body"], request["headers"])
        assert verified["type"] == "channel.test" and "Bob 管理员" in verified["data"]["text"]
    finally:
        receiver.close()

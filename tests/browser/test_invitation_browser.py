"""In the browser: an admin invites a reviewer, the invitee joins through the one-time link,
and the link refuses a second use."""

import pytest

from guanwei.core.models import AuditEntry, Member, Role
from tests.browser.conftest import login
from tests.personas import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_invites_and_the_invitee_joins_once(personas, live_server, new_page, page, settings):
    base = live_server.url
    settings.BASE_URL = base  # links are built from GUANWEI_BASE_URL: this server's address
    login(page, base, "bob", PASSWORD)
    page.goto(base + "/members/")
    page.fill("#id_email", "zoe@example.com")
    page.select_option("#id_role", Role.REVIEWER)
    page.click("text=生成邀请链接")
    link = page.input_value("input.secret")
    assert link.startswith(base + "/invite/inv_")

    invitee = new_page(375)
    invitee.goto(link)
    assert "加入 示例乳业" in invitee.inner_text("main h1")
    invitee.fill("#id_username", "zoe")
    invitee.fill("#id_display_name", "Zoe 新人")
    invitee.fill("#id_password1", "milk-and-honey-2026")
    invitee.fill("#id_password2", "milk-and-honey-2026")
    invitee.click("main form button[type=submit]")
    invitee.wait_for_url(base + "/")
    assert Member.objects.get(user__username="zoe").role == Role.REVIEWER

    invitee.context.clear_cookies()
    invitee.goto(link)
    assert "该邀请链接已被使用" in invitee.inner_text("main")
    invitee.context.close()

    page.goto(base + "/audit/")
    assert "成员加入" in page.inner_text("main table")
    assert AuditEntry.objects.filter(action="member.joined").count() == 1

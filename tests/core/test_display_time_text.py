"""Text stored once stays readable in every language: audit summaries, actor "system" and
notifications are rendered when shown, from a code and parameters, in the reader's language."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.utils import translation

from guanwei.core.actions import do_change_role, do_invite_member
from guanwei.core.models import Notification, Role
from guanwei.matrix.health import set_health
from guanwei.matrix.models import Health
from guanwei.ops.seed import seed_demo

pytestmark = pytest.mark.django_db
CJK = re.compile(r"[\u4e00-\u9fff]")
RAW_CODES = ("member.added", "enterprise.created", "member.role_changed", "account.health_changed")


def _english(client):  # type: ignore[no-untyped-def]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_entries_written_in_chinese_read_in_english_and_show_no_raw_codes(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    with translation.override("zh-hans"):
        do_invite_member(personas.alice, "zoe@example.com", Role.EDITOR)
        do_change_role(personas.alice, personas.carol, Role.REVIEWER)
        set_health(personas.parent_account, Health.TOKEN_EXPIRED, detail="auth_expired")
    zh = client_for("alice").get("/audit/").content.decode()
    assert "Carol 编辑：内容编辑 → 审核" in zh and "系统" in zh
    en = _english(client_for("alice")).get("/audit/").content.decode()
    assert "Invited zoe@example.com as Editor" in en or "Invited zoe@example.com as" in en
    assert "Carol 编辑: Editor → Reviewer" in en
    assert "System" in en and ">system<" not in en
    table = en[en.index("<tbody"):en.index("</tbody>")]
    for code in RAW_CODES:
        assert f">{code}<" not in table
    # only the names people chose remain Chinese in the English table
    for name in [m.display_name for m in personas.members.values()] + [
        a.screen_name for a in personas.accounts.values()
    ]:
        table = table.replace(name, "")
    assert not CJK.findall(table), CJK.findall(table)


def test_a_notice_written_once_reads_in_each_readers_language(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    with translation.override("zh-hans"):
        set_health(personas.parent_account, Health.TOKEN_EXPIRED, detail="auth_expired")
    notice = Notification.objects.get(code="account.health")
    assert notice.params["health"] == Health.TOKEN_EXPIRED
    zh = client_for("alice").get("/notifications/").content.decode()
    assert "授权已失效" in zh
    en = _english(client_for("alice")).get("/notifications/").content.decode()
    assert "no longer" in en.lower() or "expired" in en.lower()
    assert "授权已失效" not in en


def test_the_demo_seeds_audit_reads_in_english(client_for) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    from guanwei.core.models import Member

    seed_demo(with_history=False)
    owner = Member.objects.get(user__username="zhangwei")
    client = Client()
    client.force_login(owner.user)
    en = _english(client).get("/audit/").content.decode()
    table = en[en.index("<tbody"):en.index("</tbody>")]
    assert "Member 张伟 (Owner) added" in table and "System" in table
    for code in ("member.added", "enterprise.created", "connection.created", "account.connected"):
        assert f">{code}<" not in table

"""The interface shell: navigation by the five strategies, the language switch, the bell, the
dashboard, the areas' landing pages and the error pages."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import Client

from guanwei.core import clock
from guanwei.core.models import Notification

pytestmark = pytest.mark.django_db


def _notice(enterprise, action: str, title: str, **kw) -> Notification:  # type: ignore[no-untyped-def]
    return Notification.objects.create(
        enterprise=enterprise, action=action, title=title, created_at=clock.now(), **kw
    )


def test_anonymous_visitor_is_sent_to_login() -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_dashboard_shows_the_five_strategies_in_chinese_by_default(personas, client_for) -> None:
    response = client_for("carol").get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="zh-Hans">' in html
    for label in ("组合", "传播", "销售", "服务", "管理", "总览"):
        assert label in html
    assert "示例乳业" in html  # the enterprise in the top bar
    assert "django_htmx/htmx-2" in html and "cdn" not in html.lower()


def test_language_switch_sets_a_cookie_and_the_pages_speak_english(personas, client_for) -> None:
    client = client_for("carol")
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/matrix/"})
    assert response.status_code == 302 and response["Location"] == "/matrix/"
    assert response.cookies["django_language"].value == "en"

    html = client.get("/").content.decode()
    assert '<html lang="en">' in html
    assert "Dashboard" in html and "Combination" in html and "总览" not in html
    html = client.get("/matrix/").content.decode()
    assert "Account matrix" in html

    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "总览" in client.get("/").content.decode()


def test_navigation_shows_only_pages_the_role_may_open(personas, client_for) -> None:
    editor = client_for("carol").get("/").content.decode()
    admin = client_for("bob").get("/").content.decode()
    assert 'href="/matrix/"' in editor and 'href="/matrix/"' in admin
    assert 'href="/matrix/connections/"' not in editor
    assert 'href="/matrix/connections/"' in admin
    assert 'href="/members/"' in admin and 'href="/members/"' not in editor


def test_bell_lists_open_notices_the_role_may_see(personas, client_for) -> None:
    ent = personas.enterprise
    _notice(ent, "account.manage", "授权即将过期：示例乳业客服")
    _notice(ent, "post.review", "有 3 篇内容待审核")
    _notice(ent, "account.manage", "早已解决的问题", resolved_at=clock.now())
    _notice(personas.outsider_enterprise, "account.manage", "别家的通知")

    admin = client_for("bob").get("/notifications/bell").content.decode()
    assert "授权即将过期：示例乳业客服" in admin
    assert "有 3 篇内容待审核" in admin  # admins may review too
    assert "早已解决的问题" not in admin and "别家的通知" not in admin
    assert 'class="bell-count">2<' in admin

    reviewer = client_for("dave").get("/notifications/bell").content.decode()
    assert "有 3 篇内容待审核" in reviewer and "授权即将过期" not in reviewer

    editor = client_for("carol").get("/").content.decode()
    assert "bell-count" not in editor and "没有需要处理的通知" in editor

    page = client_for("bob").get("/notifications/").content.decode()
    assert "授权即将过期：示例乳业客服" in page and "别家的通知" not in page


def test_area_page_says_plainly_what_is_not_built(personas, client_for) -> None:
    html = client_for("bob").get("/s/communication/").content.decode()
    assert "传播策略" in html and "撰稿" in html and "舆情监控" in html and "尚未构建" not in html
    html = client_for("bob").get("/s/sales/").content.decode()
    assert "尚未构建" in html

    html = client_for("bob").get("/s/combination/").content.decode()
    assert 'href="/matrix/"' in html and "已有功能" in html


def test_area_page_marks_built_pages_the_role_may_not_use(personas, client_for) -> None:
    html = client_for("carol").get("/s/management/").content.decode()
    assert "你的角色无权使用" in html
    assert 'href="/members/"' not in html


def test_unknown_area_gets_the_helpful_404_page(personas, client_for) -> None:
    response = client_for("carol").get("/s/nonsense/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "找不到这个页面" in html and "回到总览" in html


def test_403_page_says_which_role_and_whom_to_ask(personas, client_for) -> None:
    response = client_for("carol").get("/matrix/connections/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "内容编辑" in html and "管理员" in html


def test_500_page_renders_without_a_request_and_says_what_to_do() -> None:
    html = render_to_string("500.html")
    assert "刷新页面再试" in html and "try again" in html


def test_navigation_marks_exactly_the_current_page(personas, client_for) -> None:
    html = client_for("bob").get("/matrix/connections/").content.decode()
    assert html.count('aria-current="page"') == 1
    assert 'href="/matrix/connections/" class="active" aria-current="page"' in html


@pytest.mark.parametrize("app", ["web", "matrix", "sandbox"])
def test_english_catalogue_is_complete(app: str) -> None:
    """Every Chinese msgid of the app has an English translation (none empty, none fuzzy)."""
    from pathlib import Path

    import guanwei

    po = Path(guanwei.__file__).parent / app / "locale/en/LC_MESSAGES/django.po"
    text = po.read_text(encoding="utf-8")
    entries = text.split("\n\n")[1:]  # the first block is the header
    assert entries
    untranslated = [
        e for e in entries if 'msgstr ""\n' in e + "\n" and '\n"' not in e.split("msgstr", 1)[1]
    ]
    assert untranslated == []
    assert "#, fuzzy" not in text


def test_expired_form_gets_a_page_that_says_to_reload(personas) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.bob.user)
    response = client.post("/matrix/connections/new", {"name": "x"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "表单已过期" in html and "刷新后重新填写" in html


@pytest.mark.parametrize("slug", ["combination", "communication", "sales", "service", "management"])
def test_every_strategy_has_a_landing_page(personas, client_for, slug: str) -> None:
    from guanwei.web.navigation import AREAS_BY_SLUG

    response = client_for("heidi").get(f"/s/{slug}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert str(AREAS_BY_SLUG[slug].title) in html
    assert f'href="/s/{slug}/"' in html  # its entry in the navigation

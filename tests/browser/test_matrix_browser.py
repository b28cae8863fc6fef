"""The flows a person clicks through: the editor signs in, switches to English and reads the
matrix (at 1280 px and on a 375 px phone); an admin connects a sandbox account through the
platform's OAuth consent page."""

from __future__ import annotations

import pytest

from guanwei.matrix.models import Account, Connection
from tests.browser.conftest import login
from tests.personas import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _no_horizontal_overflow(page) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_editor_logs_in_switches_to_english_and_opens_the_matrix(
    personas, live_server, page, screenshots
) -> None:
    base = live_server.url
    login(page, base, "carol", PASSWORD)
    assert page.inner_text("main h1") == "总览"
    assert page.get_attribute("html", "lang") == "zh-Hans"
    page.screenshot(path=screenshots / "dashboard-1280-zh.png", full_page=True)

    page.click(".lang-switch button")  # "English"
    page.wait_for_selector("html[lang=en]", state="attached")
    assert page.inner_text("main h1") == "Dashboard"
    assert "Combination" in page.inner_text("#sidenav")

    page.click("#sidenav >> text=Account matrix")
    page.wait_for_url(base + "/matrix/")
    assert page.inner_text("main h1") == "Account matrix"
    tree = page.locator("#matrix-tree")
    parent = tree.locator(":scope > li").first
    assert "@示例乳业官方微博" in parent.locator(".acct-name").first.inner_text()
    children = parent.locator("ul .acct-name a")
    assert children.all_inner_texts() == [
        "@示例乳业产品",
        "@示例乳业活动",
        "@示例乳业客服",
        "@示例乳业社区",
        "@示例乳业商城",
    ]
    assert tree.locator(".badge.health-ok").count() == 6
    assert "Parent (official)" in parent.inner_text()
    page.screenshot(path=screenshots / "matrix-1280-en.png", full_page=True)

    # the tree collapses: clicking the parent hides its children
    parent.locator("summary").first.click()
    assert not children.first.is_visible()
    parent.locator("summary").first.click()
    assert children.first.is_visible()

    # a phone: the navigation folds away behind the menu button, nothing is wider than the screen
    page.set_viewport_size({"width": 375, "height": 812})
    page.reload()
    assert not page.is_visible("#sidenav")
    assert _no_horizontal_overflow(page)
    assert children.first.is_visible()
    page.screenshot(path=screenshots / "matrix-375-en.png", full_page=True)
    page.click("[data-nav-toggle]")
    assert page.is_visible("#sidenav >> text=Account matrix")
    page.screenshot(path=screenshots / "nav-375-en.png")
    page.click("[data-nav-toggle]")
    assert not page.is_visible("#sidenav")

    page.click(".lang-switch button")  # back to 中文
    page.wait_for_selector("html[lang=zh-Hans]", state="attached")
    assert page.inner_text("main h1") == "账号矩阵"
    assert _no_horizontal_overflow(page)
    page.screenshot(path=screenshots / "matrix-375-zh.png", full_page=True)
    page.goto(base + "/")
    assert _no_horizontal_overflow(page)
    page.screenshot(path=screenshots / "dashboard-375-zh.png", full_page=True)


def test_admin_connects_a_sandbox_account_through_the_consent_page(
    personas, live_server, page, screenshots, settings
) -> None:
    from guanwei.sandbox.models import SandboxUser
    from guanwei.sandbox.world import DEMO_PASSWORD, ensure_demo_world

    base = live_server.url
    settings.BASE_URL = base  # the built-in sandbox is this server's, where it listens
    world = ensure_demo_world(base)
    Connection.objects.filter(pk=personas.connection.pk).update(
        base_url=f"{base}/sandbox", app_key=world.app_key, app_secret=world.app_secret
    )
    # 示例乳业华南 is one of the demo world's unconnected official accounts (README).
    SandboxUser.objects.filter(screen_name="示例乳业华南").update(followers_count=8800)

    login(page, base, "bob", PASSWORD)
    page.goto(base + "/matrix/connections/")
    page.click(f"a[href='/matrix/connections/{personas.connection.pk}/connect']")
    page.select_option("#id_matrix_role", "region")
    assert page.input_value("#id_parent") == str(personas.parent_account.pk)
    page.screenshot(path=screenshots / "connect-1280-zh.png", full_page=True)
    page.click("button.primary")  # 去平台授权

    # the platform's consent page (the sandbox plays Weibo, with its own look)
    page.wait_for_url(f"{base}/sandbox/oauth2/authorize?*")
    page.fill("#screen_name", "示例乳业华南")
    page.fill("#password", DEMO_PASSWORD)
    page.screenshot(path=screenshots / "consent-1280-zh.png", full_page=True)
    page.click("button[value=allow]")

    page.wait_for_url(f"{base}/matrix/accounts/*/")
    assert "已连接账号 @示例乳业华南" in page.inner_text(".flash")
    assert page.inner_text("main h1") == "@示例乳业华南"
    account = Account.objects.get(screen_name="示例乳业华南")
    assert account.matrix_role == "region" and account.parent_id == personas.parent_account.pk
    assert account.token and account.followers_count == 8800

    page.goto(base + "/matrix/")
    node = page.locator(f"li[data-account='{account.pk}']")
    assert node.is_visible()
    assert "8800" in node.inner_text()


def test_admin_pages_fit_a_phone_and_a_desktop(personas, live_server, page, screenshots) -> None:
    """Every page of the shell and the matrix is readable at 375 px without sideways scrolling."""
    from guanwei.core import clock
    from guanwei.core.notifications import notify

    base = live_server.url
    account = personas.accounts["service"]
    notify(
        personas.enterprise,
        action="account.manage",
        title="账号 @示例乳业客服 的授权已失效",
        url=f"/matrix/accounts/{account.pk}/",
        level="error",
        condition_key=f"account:{account.pk}:token_expired",
    )
    Account.objects.filter(pk=account.pk).update(
        health="token_expired", token_expires_at=clock.now()
    )
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(base + "/login/")
    assert _no_horizontal_overflow(page)
    page.screenshot(path=screenshots / "login-375-zh.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, base, "bob", PASSWORD)
    pages = {
        "dashboard": "/",
        "area": "/s/communication/",
        "connections": "/matrix/connections/",
        "connection": f"/matrix/connections/{personas.connection.pk}/",
        "account": f"/matrix/accounts/{account.pk}/",
        "access": "/matrix/access/",
        "access-edit": f"/matrix/access/{personas.ivan.pk}/",
        "notifications": "/notifications/",
        "404": "/s/nowhere/",
        # other apps' pages in this shell (their markup, this stylesheet)
        "members": "/members/",
        "audit": "/audit/",
        "tokens": "/settings/tokens/",
        "ops-status": "/ops/status",
    }
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            page.goto(base + path)
            assert _no_horizontal_overflow(page), f"{name} overflows at {width}px"
            page.screenshot(path=screenshots / f"{name}-{width}-zh.png", full_page=True)
    # the bell shows the incident and leads to the account
    page.set_viewport_size({"width": 375, "height": 900})
    page.goto(base + "/")
    assert page.inner_text(".bell-count") == "1"
    page.click(".bell summary")
    page.screenshot(path=screenshots / "bell-375-zh.png")
    page.click(".bell-item")
    page.wait_for_url(f"{base}/matrix/accounts/{account.pk}/")
    assert page.is_visible("text=重新授权")


def test_a_folded_branch_opens_with_its_children(personas, live_server, page) -> None:  # type: ignore[no-untyped-def]
    region = Account.objects.create(
        enterprise=personas.enterprise, connection=personas.connection, platform_uid="r-1",
        screen_name="大区", matrix_role="region", parent=personas.accounts["product"],
    )  # fmt: skip
    Account.objects.bulk_create([
        Account(enterprise=personas.enterprise, connection=personas.connection,
                platform_uid=f"s-{i}", screen_name=f"门店{i:03d}", matrix_role="region", parent=region)
        for i in range(30)
    ])  # fmt: skip
    base = live_server.url
    login(page, base, "alice", PASSWORD)
    page.goto(base + "/matrix/")
    assert page.locator("text=@门店000").count() == 0
    page.locator(f"#account-{region.pk} > details > summary").click()
    page.wait_for_selector("text=@门店029", timeout=10_000)
    assert page.locator("text=@门店000").count() == 1

"""The matrix pages: the tree, connections with a write-only secret, account edits without
cycles, removal, and who may act for which accounts."""

from __future__ import annotations

import re

import pytest

from guanwei.core.models import AuditEntry
from guanwei.matrix.models import Account, AccountAccess, Connection, Health, MatrixRole

pytestmark = pytest.mark.django_db


def _tree_order(html: str) -> list[str]:
    return re.findall(r'href="/matrix/accounts/\d+/">@([^<]+)</a>', html)


def test_matrix_page_draws_parent_above_children_grouped_by_role(personas, client_for) -> None:
    html = client_for("carol").get("/matrix/").content.decode()
    order = _tree_order(html)
    assert order[0] == "示例乳业官方微博"
    # children in the playbook's order of matrix roles
    assert order[1:] == [
        "示例乳业产品",
        "示例乳业活动",
        "示例乳业客服",
        "示例乳业社区",
        "示例乳业商城",
    ]
    assert html.count('class="role-group"') == 5
    assert "别家饮料官方微博" not in html


def test_matrix_page_shows_health_followers_and_expiry_in_shanghai_time(
    personas, client_for
) -> None:
    from datetime import UTC, datetime

    product = personas.accounts["product"]
    Account.objects.filter(pk=product.pk).update(
        health=Health.TOKEN_EXPIRING,
        followers_count=123456,
        token_expires_at=datetime(2026, 12, 1, 16, 30, tzinfo=UTC),
    )
    html = client_for("carol").get("/matrix/").content.decode()
    assert 'class="badge health-token_expiring"' in html and "授权即将过期" in html
    assert "粉丝 12.3万" in html
    assert "授权至 2026-12-02 00:30" in html  # 16:30 UTC is 00:30 next day in Asia/Shanghai


def test_limited_member_sees_only_their_accounts(personas, client_for) -> None:
    html = client_for("ivan").get("/matrix/").content.decode()
    assert sorted(_tree_order(html)) == ["示例乳业产品", "示例乳业客服"]
    parent = personas.parent_account
    assert client_for("ivan").get(f"/matrix/accounts/{parent.pk}/").status_code == 404


def test_outsider_gets_404_for_every_insider_object(personas, client_for) -> None:
    mallory = client_for("mallory")
    account, connection = personas.accounts["product"], personas.connection
    urls = [
        f"/matrix/accounts/{account.pk}/",
        f"/matrix/accounts/{account.pk}/remove",
        f"/matrix/connections/{connection.pk}/",
        f"/matrix/connections/{connection.pk}/connect",
        f"/matrix/connections/{connection.pk}/callback?code=x&state=y",
        f"/matrix/access/{personas.carol.pk}/",
    ]
    for url in urls:
        assert mallory.get(url).status_code == 404, url
    assert mallory.post(f"/matrix/accounts/{account.pk}/reconnect").status_code == 404
    assert mallory.post(f"/matrix/accounts/{account.pk}/remove").status_code == 404
    for url in ("/matrix/", "/matrix/connections/", "/matrix/access/"):
        html = mallory.get(url).content.decode()
        assert not any(name in html for name in personas.insider_names), url


def test_roles_without_manage_right_cannot_change_the_matrix(personas, client_for) -> None:
    carol = client_for("carol")
    account = personas.accounts["product"]
    assert carol.get("/matrix/connections/").status_code == 403
    assert carol.get("/matrix/access/").status_code == 403
    assert (
        carol.post(f"/matrix/accounts/{account.pk}/", {"matrix_role": "parent"}).status_code == 403
    )
    assert carol.post(f"/matrix/accounts/{account.pk}/remove").status_code == 403
    account.refresh_from_db()
    assert account.matrix_role == MatrixRole.PRODUCT


def test_create_connection_names_the_bad_fields(personas, client_for) -> None:
    bob = client_for("bob")
    response = bob.post(
        "/matrix/connections/new",
        {
            "name": "示例乳业沙盒",
            "kind": "myspace",
            "base_url": "ftp://x",
            "app_key": "",
            "new_secret": "",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"name", "kind", "base_url", "app_key", "new_secret"}
    assert "同名" in errors["name"][0]
    html = response.content.decode()
    assert f"接口地址：{errors['base_url'][0]}" in html
    assert "名称：已有同名的平台连接" in html
    assert Connection.objects.filter(enterprise=personas.enterprise).count() == 1


def test_app_secret_is_stored_encrypted_and_never_shown_again(personas, client_for) -> None:
    bob = client_for("bob")
    response = bob.post(
        "/matrix/connections/new",
        {
            "name": "微博正式",
            "kind": "weibo",
            "base_url": "https://api.weibo.com/",
            "app_key": "123456",
            "new_secret": "s3cret-value-xyz",
        },
    )
    assert response.status_code == 302
    connection = Connection.objects.get(name="微博正式")
    assert connection.app_secret == "s3cret-value-xyz"
    assert connection.base_url == "https://api.weibo.com"
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("SELECT app_secret FROM matrix_connection WHERE id = %s", [connection.pk])
        (stored,) = cursor.fetchone()
    assert "s3cret-value-xyz" not in stored

    for url in ("/matrix/connections/", f"/matrix/connections/{connection.pk}/"):
        assert "s3cret-value-xyz" not in bob.get(url).content.decode()

    # saving the edit form without a new secret keeps the secret
    edit = {
        "name": "微博正式",
        "kind": "weibo",
        "base_url": "https://api.weibo.com",
        "app_key": "654321",
        "new_secret": "",
    }
    assert bob.post(f"/matrix/connections/{connection.pk}/", edit).status_code == 302
    connection.refresh_from_db()
    assert (connection.app_key, connection.app_secret) == ("654321", "s3cret-value-xyz")

    # filling "replace secret" replaces it
    assert (
        bob.post(f"/matrix/connections/{connection.pk}/", {**edit, "new_secret": "n3w"}).status_code
        == 302
    )
    connection.refresh_from_db()
    assert connection.app_secret == "n3w"

    audits = AuditEntry.objects.filter(
        object_type="matrix.connection", object_id=str(connection.pk)
    )
    assert [a.action for a in audits.order_by("id")] == [
        "connection.created",
        "connection.updated",
        "connection.updated",
    ]
    assert all("s3cret" not in str(a.detail) and "n3w" not in str(a.detail) for a in audits)
    assert audits.order_by("id").last().detail == {"changed": ["app_secret"]}


def test_account_cannot_be_put_under_its_own_child(personas, client_for) -> None:
    parent, child = personas.parent_account, personas.accounts["product"]
    response = client_for("bob").post(
        f"/matrix/accounts/{parent.pk}/", {"matrix_role": "parent", "parent": child.pk}
    )
    assert response.status_code == 400
    assert "循环" in response.context["form"].errors["parent"][0]
    parent.refresh_from_db()
    assert parent.parent_id is None


def test_second_parent_account_is_allowed_with_a_warning(personas, client_for) -> None:
    bob = client_for("bob")
    campaign = personas.accounts["campaign"]
    response = bob.post(
        f"/matrix/accounts/{campaign.pk}/", {"matrix_role": "parent", "parent": ""}, follow=True
    )
    assert response.status_code == 200
    assert "建议只设一个母微博" in response.content.decode()
    campaign.refresh_from_db()
    assert (campaign.matrix_role, campaign.parent_id) == ("parent", None)
    entry = AuditEntry.objects.get(action="account.updated", object_id=str(campaign.pk))
    assert entry.detail["before"]["matrix_role"] == "campaign"


def test_removing_an_account_moves_its_children_up(personas, client_for) -> None:
    bob = client_for("bob")
    parent, product, campaign = (
        personas.parent_account,
        personas.accounts["product"],
        personas.accounts["campaign"],
    )
    Account.objects.filter(pk=campaign.pk).update(parent=product)
    assert bob.get(f"/matrix/accounts/{product.pk}/remove").status_code == 200
    assert bob.post(f"/matrix/accounts/{product.pk}/remove").status_code == 302
    assert not Account.objects.filter(pk=product.pk).exists()
    campaign.refresh_from_db()
    assert campaign.parent_id == parent.pk
    assert AuditEntry.objects.filter(action="account.removed", object_id=str(product.pk)).exists()


def test_admin_sets_which_accounts_a_limited_member_may_act_for(personas, client_for) -> None:
    bob = client_for("bob")
    ivan = personas.ivan
    html = bob.get("/matrix/access/").content.decode()
    assert "Ivan 受限编辑" in html and "@示例乳业产品" in html

    community = personas.accounts["community"]
    response = bob.post(f"/matrix/access/{ivan.pk}/", {"limited": "on", "accounts": [community.pk]})
    assert response.status_code == 302
    assert list(AccountAccess.objects.filter(member=ivan).values_list("account_id", flat=True)) == [
        community.pk
    ]
    entry = AuditEntry.objects.get(action="member.account_access_changed")
    assert entry.detail["added"] == [community.pk]
    assert sorted(_tree_order(client_for("ivan").get("/matrix/").content.decode())) == [
        "示例乳业社区"
    ]


def test_access_form_refuses_accounts_of_another_enterprise(personas, client_for) -> None:
    response = client_for("bob").post(
        f"/matrix/access/{personas.ivan.pk}/", {"accounts": [personas.outsider_account.pk]}
    )
    assert response.status_code == 200
    assert "accounts" in response.context["form"].errors
    assert AccountAccess.objects.filter(member=personas.ivan).count() == 2


def test_account_with_a_dead_token_offers_reconnect(personas, client_for) -> None:
    account = personas.accounts["service"]
    Account.objects.filter(pk=account.pk).update(health=Health.TOKEN_EXPIRED)
    html = client_for("bob").get(f"/matrix/accounts/{account.pk}/").content.decode()
    assert f'action="/matrix/accounts/{account.pk}/reconnect"' in html and "重新授权" in html
    html = client_for("carol").get(f"/matrix/accounts/{account.pk}/").content.decode()
    assert "请联系企业管理员重新授权" in html and "/reconnect" not in html


def test_matrix_page_queries_do_not_grow_with_the_matrix(personas, client_for) -> None:
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    from tests.personas import make_account

    client = client_for("bob")
    with CaptureQueriesContext(db) as small:
        client.get("/matrix/")
    for i in range(30):
        make_account(
            personas.connection, f"示例乳业地区{i}", MatrixRole.REGION, personas.parent_account
        )
    with CaptureQueriesContext(db) as large:
        assert "示例乳业地区29" in client.get("/matrix/").content.decode()
    assert len(large) == len(small)


def test_renaming_a_connection_onto_a_taken_name_is_a_name_error_and_not_audited(
    personas,
) -> None:
    # Past the form's own check (two admins saving at once): the unique constraint answers.
    from guanwei.core.errors import ActionError
    from guanwei.matrix import actions

    second = actions.do_create_connection(
        personas.bob, name="微博正式", kind="weibo", base_url="https://api.weibo.com",
        app_key="1", app_secret="s",
    )  # fmt: skip
    audited = AuditEntry.objects.count()
    with pytest.raises(ActionError) as exc:
        actions.do_update_connection(personas.bob, second, name=personas.connection.name)
    assert "同名" in exc.value.message and exc.value.field == "name"
    assert AuditEntry.objects.count() == audited
    assert Connection.objects.get(pk=second.pk).name == "微博正式"


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:6379", "http://localhost:5432", "http://169.254.169.254", "http://10.1.2.3:22"],
)
def test_a_connection_cannot_point_at_an_internal_address(personas, client_for, base_url) -> None:  # type: ignore[no-untyped-def]
    """An admin could set base_url to an internal host and read back different errors per port."""
    response = client_for("bob").post(
        "/matrix/connections/new",
        {"name": "内网", "kind": "weibo", "base_url": base_url, "app_key": "1", "new_secret": "s"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["base_url"]
    assert errors == [str(errors[0])] and "GUANWEI_OUTBOUND_ALLOW" in errors[0]  # one message
    assert not Connection.objects.filter(name="内网").exists()


def test_an_operator_allowance_admits_a_platform_on_the_own_network(personas, client_for, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOW = ["10.20.0.0/16"]
    response = client_for("bob").post(
        "/matrix/connections/new",
        {"name": "内网 Mastodon", "kind": "mastodon", "base_url": "http://10.20.0.7",
         "app_key": "1", "new_secret": "s"},  # fmt: skip
    )
    assert response.status_code == 302


def _grow_branch(personas, n: int) -> Account:  # type: ignore[no-untyped-def]
    """A region under the product account with `n` store accounts below it."""
    region = Account.objects.create(
        enterprise=personas.enterprise, connection=personas.connection, platform_uid="r-1",
        screen_name="大区", matrix_role="region", parent=personas.accounts["product"],
    )  # fmt: skip
    Account.objects.bulk_create([
        Account(enterprise=personas.enterprise, connection=personas.connection,
                platform_uid=f"s-{i}", screen_name=f"门店{i:03d}", matrix_role="region", parent=region)
        for i in range(n)
    ])  # fmt: skip
    return region


def test_a_big_branch_is_folded_and_its_children_come_when_opened(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    region = _grow_branch(personas, 40)
    client = client_for("alice")
    page = client.get("/matrix/").content.decode()
    assert "门店000" not in page and f"?children_of={region.pk}" in page  # folded
    assert "40 个下属账号" in page
    fragment = client.get("/matrix/", {"children_of": region.pk}, HTTP_HX_REQUEST="true").content.decode()
    assert "门店000" in fragment and "门店039" in fragment and "<html" not in fragment
    # without JavaScript: the link expands that branch on the whole page
    expanded = client.get("/matrix/", {"expand": region.pk}).content.decode()
    assert "门店039" in expanded
    # another tenant cannot open it; a bad id is no 500
    assert client_for("mallory").get("/matrix/", {"children_of": region.pk}).status_code == 404
    assert client.get("/matrix/", {"children_of": "x\u202e"}).status_code == 200


def test_the_parent_is_chosen_by_search_not_from_every_account(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    region = _grow_branch(personas, 40)
    store = Account.objects.get(screen_name="门店007")
    client = client_for("bob")
    page = client.get(f"/matrix/accounts/{store.pk}/").content.decode()
    # Only the current parent is an option; the rest come from the search.
    assert f'<option value="{region.pk}" selected>@大区' in page and "门店012" not in page
    assert 'hx-get="/matrix/accounts/choose"' in page
    options = client.get("/matrix/accounts/choose", {"parent_q": "门店", "field": "parent"}).content.decode()
    assert options.count("<option") == 1 + 20  # the empty choice and at most 20 matches
    assert "（无，作为顶层账号）" in options
    assert "别家" not in client.get("/matrix/accounts/choose", {"q": "别家"}).content.decode()
    # Choosing a match the page never listed works; another tenant's account is refused.
    other = Account.objects.get(screen_name="门店012")
    response = client.post(f"/matrix/accounts/{store.pk}/", {"matrix_role": "region", "parent": other.pk})
    assert response.status_code == 302
    store.refresh_from_db()
    assert store.parent_id == other.pk
    outsider = personas.outsider_account
    response = client.post(f"/matrix/accounts/{store.pk}/", {"matrix_role": "region", "parent": outsider.pk})
    assert response.status_code == 400 and "parent" in response.context["form"].errors

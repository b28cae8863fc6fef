"""Connecting an account through the platform's OAuth2 flow (issue 3, connectors item 4), with the
built-in sandbox as the platform, reached over real HTTP (live_server)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from guanwei.core.models import AuditEntry, Notification
from guanwei.matrix.health import record_platform_error
from guanwei.matrix.models import Account, Connection, Health
from guanwei.platforms.base import PlatformError
from guanwei.sandbox import store
from guanwei.sandbox.world import DEMO_PASSWORD, ensure_demo_world

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(personas, live_server, settings):  # type: ignore[no-untyped-def]
    """The sandbox's demo app, registered for the test client's host, and the personas'
    connection pointed at the live sandbox."""
    settings.BASE_URL = live_server.url
    demo = ensure_demo_world(live_server.url)  # registers the app's redirect_uri on this server  # the built-in sandbox is this server's, where it listens
    Connection.objects.filter(pk=personas.connection.pk).update(
        base_url=f"{live_server.url}/sandbox", app_key=demo.app_key, app_secret=demo.app_secret
    )
    personas.connection.refresh_from_db()
    return demo


def _start(client: Client, connection: Connection, **form: str) -> str:
    response = client.post(
        f"/matrix/connections/{connection.pk}/connect", {"matrix_role": "region", **form}
    )
    assert response.status_code == 302
    return response["Location"]


def _consent(client: Client, authorize_url: str, screen_name: str, action: str = "allow") -> str:
    """Play the person on the platform's consent page (the sandbox is served by this process)."""
    parts = urlsplit(authorize_url)
    page = client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200 and "授权" in page.content.decode()
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    response = client.post(
        parts.path,
        {**params, "screen_name": screen_name, "password": DEMO_PASSWORD, "action": action},
    )
    assert response.status_code == 302
    return response["Location"]


def test_admin_connects_a_new_account_end_to_end(personas, world, client_for) -> None:
    store.create_user("示例乳业华东", password=DEMO_PASSWORD, followers_count=4321, verified_type=2)
    bob = client_for("bob")
    authorize_url = _start(bob, personas.connection, parent=str(personas.parent_account.pk))
    assert authorize_url.startswith(personas.connection.base_url + "/oauth2/authorize?")
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["client_id"] == [world.app_key]
    assert query["redirect_uri"] == [
        f"{settings.BASE_URL}/matrix/connections/{personas.connection.pk}/callback"
    ]

    callback = _consent(bob, authorize_url, "示例乳业华东")
    assert callback.startswith(query["redirect_uri"][0] + "?")
    response = bob.get(callback)
    assert response.status_code == 302

    account = Account.objects.get(screen_name="示例乳业华东")
    assert response["Location"] == f"/matrix/accounts/{account.pk}/"
    assert account.enterprise == personas.enterprise
    assert (account.matrix_role, account.parent_id) == ("region", personas.parent_account.pk)
    assert account.followers_count == 4321 and account.verified_type == 2
    assert account.token.startswith("2.00") and account.token_expires_at is not None
    assert account.connected_at is not None and account.health == Health.OK
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("SELECT token FROM matrix_account WHERE id = %s", [account.pk])
        assert account.token not in cursor.fetchone()[0]  # encrypted at rest

    entry = AuditEntry.objects.get(action="account.connected", object_id=str(account.pk))
    assert entry.actor == personas.bob and entry.detail["created"] is True
    assert account.token not in str(entry.detail)
    html = bob.get(response["Location"]).content.decode()
    assert "已连接账号 @示例乳业华东" in html

    # the attempt is used up: replaying the callback is refused with a clear message
    again = bob.get(callback)
    assert again.status_code == 400
    assert "不属于当前会话" in again.content.decode()


def test_reconnect_renews_a_dead_token_and_closes_the_incident(personas, world, client_for) -> None:
    product = personas.accounts["product"]
    sandbox_uid = world.account("product").uid
    Account.objects.filter(pk=product.pk).update(platform_uid=sandbox_uid, token="dead")
    product.refresh_from_db()
    record_platform_error(product, PlatformError("auth_expired", code="21327"))
    assert Notification.objects.filter(
        resolved_at__isnull=True, condition_key=f"account:{product.pk}:token_expired"
    ).exists()

    bob = client_for("bob")
    response = bob.post(f"/matrix/accounts/{product.pk}/reconnect")
    assert response.status_code == 302
    response = bob.get(_consent(bob, response["Location"], "示例乳业产品"))
    assert response["Location"] == f"/matrix/accounts/{product.pk}/"

    product.refresh_from_db()
    assert product.health == Health.OK and product.token.startswith("2.00")
    assert not Notification.objects.filter(
        resolved_at__isnull=True, condition_key__startswith=f"account:{product.pk}:"
    ).exists()
    entry = AuditEntry.objects.get(action="account.connected", object_id=str(product.pk))
    assert entry.detail["reconnected"] is True
    assert Account.objects.filter(enterprise=personas.enterprise).count() == 6  # no duplicate


def test_reconnecting_as_the_wrong_platform_user_is_refused(personas, world, client_for) -> None:
    product = personas.accounts["product"]
    Account.objects.filter(pk=product.pk).update(platform_uid=world.account("product").uid)
    bob = client_for("bob")
    response = bob.post(f"/matrix/accounts/{product.pk}/reconnect")
    response = bob.get(_consent(bob, response["Location"], "示例乳业客服"))
    assert response.status_code == 400
    assert "你授权的是 @示例乳业客服，而要重新授权的是 @示例乳业产品" in response.content.decode()
    # "try again" is that account's reconnect, not the generic connect form
    assert f'href="/matrix/accounts/{product.pk}/"' in response.content.decode()


def test_denied_consent_says_so_and_connects_nothing(personas, world, client_for) -> None:
    bob = client_for("bob")
    callback = _consent(bob, _start(bob, personas.connection), "示例乳业社区", action="deny")
    response = bob.get(callback)
    assert response.status_code == 400
    assert "拒绝了授权" in response.content.decode()
    assert not AuditEntry.objects.filter(action="account.connected").exists()


def test_callback_with_a_forged_state_is_refused(personas, world, client_for) -> None:
    bob = client_for("bob")
    url = f"/matrix/connections/{personas.connection.pk}/callback?code=abc&state=forged"
    response = bob.get(url)
    assert response.status_code == 400
    assert "state 参数无效" in response.content.decode()


def test_callback_in_another_session_is_refused(personas, world, client_for) -> None:
    """A state started by bob cannot be completed in alice's browser (login CSRF)."""
    callback = _consent(
        client_for("bob"), _start(client_for("bob"), personas.connection), "示例乳业社区"
    )
    response = client_for("alice").get(callback)
    assert response.status_code == 400
    assert "不属于当前会话" in response.content.decode()


def test_platform_error_during_exchange_is_explained(personas, world, client_for) -> None:
    bob = client_for("bob")
    callback = _consent(bob, _start(bob, personas.connection), "示例乳业社区")
    Connection.objects.filter(pk=personas.connection.pk).update(app_secret="wrong-secret")
    response = bob.get(callback)
    assert response.status_code == 400
    html = response.content.decode()
    assert "平台返回错误" in html and "21324" in html and "App Secret" in html
    assert "wrong-secret" not in html


def test_connecting_new_lands_on_an_account_already_in_the_matrix_and_changes_nothing(
    personas, world, client_for
) -> None:  # type: ignore[no-untyped-def]
    """Connecting with a chosen matrix role re-authorised an already connected account and
    dropped the role that was chosen; now nothing changes and the page says what to do."""
    product = personas.accounts["product"]
    remote = world.account("product")
    Account.objects.filter(pk=product.pk).update(platform_uid=remote.uid, token="old-token")
    bob = client_for("bob")
    authorize_url = _start(bob, personas.connection, matrix_role="region")
    callback = _consent(bob, authorize_url, remote.screen_name)
    response = bob.get(callback)
    assert response.status_code == 400
    html = response.content.decode()
    assert "已经在账号矩阵中" in html
    assert f"/matrix/accounts/{product.pk}/" in html  # "try again" leads to that account
    product.refresh_from_db()
    assert product.matrix_role == "product" and product.token == "old-token"


def test_the_demo_world_has_unconnected_official_accounts_to_connect(personas, world) -> None:  # type: ignore[no-untyped-def]
    from guanwei.sandbox.models import SandboxUser
    from guanwei.sandbox.world import UNCONNECTED_ACCOUNTS

    names = [n for n, _ in UNCONNECTED_ACCOUNTS]
    assert SandboxUser.objects.filter(screen_name__in=names, is_official=True).count() == 2
    assert not {a.screen_name for a in world.accounts} & set(names)

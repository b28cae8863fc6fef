"""/api/v1/: bearer and session auth, the read endpoints with the pages' permission checks,
pagination, JSON errors, no secrets in any response, OpenAPI and docs without a CDN."""

import json
import re

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from guanwei.core import clock
from guanwei.core.actions import do_create_api_token, do_deactivate_member, do_revoke_api_token

API = "/api/v1"


@pytest.fixture
def api_as(personas):
    """`api_as("carol").get("/members")`: a client sending carol's personal token."""

    class Caller:
        def __init__(self, member):
            self.token = do_create_api_token(member, "tests").token
            self.client = Client()

        def get(self, path, **extra):
            return self.client.get(API + path, HTTP_AUTHORIZATION=f"Bearer {self.token}", **extra)

    def make(who):
        member = personas.mallory if who == "mallory" else personas.members[who]
        return Caller(member)

    return make


def test_requests_without_credentials_get_401_json(personas):
    response = Client().get(f"{API}/enterprise")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_bearer_token_identifies_the_member(personas, api_as):
    response = api_as("carol").get("/enterprise")
    assert response.status_code == 200
    assert response.json()["name"] == "示例乳业"


def test_revoked_or_deactivated_tokens_get_401(personas, api_as):
    caller = api_as("carol")
    do_deactivate_member(personas.alice, personas.carol)
    assert caller.get("/enterprise").status_code == 401
    other = api_as("dave")
    from guanwei.core.models import ApiToken

    do_revoke_api_token(personas.dave, ApiToken.objects.get(member=personas.dave))
    assert other.get("/enterprise").status_code == 401


def test_session_auth_works_for_same_origin_pages(personas, client_for):
    response = client_for("carol").get(f"{API}/accounts")
    assert response.status_code == 200
    assert response.json()["count"] == 6


@pytest.mark.parametrize(
    ("who", "status"),
    [("alice", 200), ("bob", 200), ("carol", 403), ("dave", 403), ("erin", 403), ("frank", 403),
     ("grace", 403), ("heidi", 403)],
)
def test_member_list_has_the_same_rule_as_the_members_page(personas, api_as, client_for, who, status):
    assert api_as(who).get("/members").status_code == status
    assert client_for(who).get("/members/").status_code == status


def test_forbidden_is_json_with_detail(personas, api_as):
    response = api_as("carol").get("/members")
    assert response.status_code == 403
    assert response.json() == {"detail": "权限不足"}


def test_members_list_query_count_does_not_grow_with_members(personas, api_as):
    from tests.personas import make_members

    caller = api_as("alice")

    def queries_for_members_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert caller.get("/members?page_size=200").status_code == 200
        return len(captured)

    with time_machine.travel(clock.now(), tick=False):  # the token's last_used_at is written once
        caller.get("/members")
        before = queries_for_members_list()
        make_members(personas.enterprise, [(f"extra{i}", "viewer", f"Extra {i}") for i in range(30)])
        assert queries_for_members_list() == before


def test_members_are_paginated_and_filtered(personas, api_as):
    caller = api_as("alice")
    page = caller.get("/members?page_size=4").json()
    assert page["count"] == 9 and len(page["items"]) == 4
    page3 = caller.get("/members?page_size=4&page=3").json()
    assert len(page3["items"]) == 1
    editors = caller.get("/members?role=editor").json()
    assert {m["username"] for m in editors["items"]} == {"carol", "ivan"}
    one = caller.get(f"/members/{personas.carol.pk}").json()
    assert one["display_name"] == "Carol 编辑" and one["role"] == "editor"
    assert "password" not in json.dumps(one)


def test_invalid_parameters_get_422_naming_field_and_reason(personas, api_as):
    response = api_as("alice").get("/members?page=0&role=emperor")
    assert response.status_code == 422
    fields = {e["field"]: e for e in response.json()["detail"]}
    assert set(fields) == {"page", "role"}
    assert fields["page"]["in"] == "query" and fields["page"]["reason"]


def test_limited_editor_sees_only_their_accounts(personas, api_as):
    caller = api_as("ivan")
    names = {a["screen_name"] for a in caller.get("/accounts").json()["items"]}
    assert names == {"示例乳业产品", "示例乳业客服"}
    assert caller.get(f"/accounts/{personas.accounts['campaign'].pk}").status_code == 404
    assert caller.get(f"/accounts/{personas.accounts['product'].pk}").status_code == 200


def test_accounts_and_connections_never_return_secrets(personas, api_as):
    caller = api_as("alice")
    bodies = [
        caller.get("/accounts").content.decode(),
        caller.get(f"/accounts/{personas.parent_account.pk}").content.decode(),
        caller.get("/connections").content.decode(),
        caller.get(f"/connections/{personas.connection.pk}").content.decode(),
    ]
    for body in bodies:
        assert "must-never-leak" not in body
        assert "app_secret" not in body and '"token"' not in body
    account = json.loads(bodies[1])
    assert account["has_token"] is True and account["matrix_role"] == "parent"


def test_accounts_filter_by_matrix_role(personas, api_as):
    items = api_as("heidi").get("/accounts?matrix_role=service").json()["items"]
    assert [a["screen_name"] for a in items] == ["示例乳业客服"]


def test_outsider_gets_404_for_insider_objects(personas, api_as):
    caller = api_as("mallory")
    for path in (f"/members/{personas.carol.pk}", f"/accounts/{personas.parent_account.pk}",
                 f"/connections/{personas.connection.pk}"):
        response = caller.get(path)
        assert response.status_code == 404, path
        assert response.json()["detail"].startswith("未找到：")
        english = caller.get(path, HTTP_ACCEPT_LANGUAGE="en").json()["detail"]
        assert english.startswith("Not found: ") and not any("\u4e00" <= c <= "\u9fff" for c in english)


def test_openapi_schema_lists_the_endpoints(db):
    schema = Client().get(f"{API}/openapi.json").json()
    for path in ("/enterprise", "/members", "/members/{member_id}", "/accounts", "/accounts/{account_id}",
                 "/connections"):
        assert API + path in schema["paths"]
    assert schema["components"]["securitySchemes"]["PersonalToken"] == {"type": "http", "scheme": "bearer"}


def test_docs_page_loads_swagger_from_local_static_files(db):
    html = Client().get(f"{API}/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    # Random tokens on the page (CSRF) can spell "cdn" by chance: look at addresses only.
    addresses = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert not [a for a in addresses if "cdn" in a.lower() or a.startswith(("http:", "https:", "//"))]
    assert "https://" not in html
    bundle = Client().get("/static/ninja/swagger-ui-bundle.js")
    assert bundle.status_code == 200


def test_unknown_api_paths_answer_json_404(personas, api_as):
    response = api_as("alice").get("/no/such/endpoint", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found"}


def test_a_wrong_method_on_the_api_is_json_too(personas, api_as):
    response = api_as("alice").client.delete(f"{API}/members", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 405
    assert response.json()["detail"] == "Method not allowed" and "GET" in response["Allow"]


@pytest.mark.parametrize("who", ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"])
def test_every_role_reads_the_enterprise_and_the_accounts_it_may_see(personas, api_as, who):
    caller = api_as(who)
    assert caller.get("/enterprise").json()["slug"] == "shili"
    expected = 2 if who == "ivan" else 6
    assert caller.get("/accounts").json()["count"] == expected
    connections = caller.get("/connections")
    if who in ("alice", "bob"):
        assert connections.json()["count"] == 1
    else:  # app keys and base URLs: admins only, like the page
        assert connections.status_code == 403


@pytest.mark.parametrize("who", ["carol", "dave", "erin", "frank", "grace", "heidi"])
def test_connections_answer_the_same_roles_as_their_page(personas, client_for, who) -> None:  # type: ignore[no-untyped-def]
    client = client_for(who)
    assert client.get("/matrix/connections/").status_code == 403
    assert client.get("/api/v1/connections").status_code == 403
    detail = client.get(f"/api/v1/connections/{personas.connection.pk}")
    assert detail.status_code == 403


def test_admins_see_connections_on_the_page_and_in_the_api(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    for who in ("alice", "bob"):
        assert client_for(who).get("/matrix/connections/").status_code == 200
        assert client_for(who).get("/api/v1/connections").status_code == 200


def test_an_admin_limits_a_member_to_some_accounts_through_the_api(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    admin = client_for("bob")
    carol = personas.carol
    product = personas.accounts["product"]
    url = f"/api/v1/members/{carol.pk}/accounts"
    assert admin.get(url).json() == {"limited": False, "account_ids": []}
    r = admin.put(url, {"limited": True, "account_ids": [product.pk]}, content_type="application/json")
    assert r.status_code == 200 and r.json() == {"limited": True, "account_ids": [product.pk]}
    carol.refresh_from_db()
    assert carol.is_limited_to_accounts
    seen = client_for("carol").get("/api/v1/accounts").json()
    assert [a["id"] for a in seen["items"]] == [product.pk]


def test_another_enterprises_account_ids_are_refused_and_nothing_is_written(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    admin = client_for("bob")
    url = f"/api/v1/members/{personas.carol.pk}/accounts"
    body = {"limited": True, "account_ids": [personas.outsider_account.pk]}
    r = admin.put(url, body, content_type="application/json")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "account_ids"
    personas.carol.refresh_from_db()
    assert not personas.carol.is_limited_to_accounts
    # and another enterprise's member is simply not found
    r = client_for("mallory").put(url, {"limited": True, "account_ids": []}, content_type="application/json")
    assert r.status_code == 404
    assert client_for("carol").put(url, {"limited": False, "account_ids": []},
                                   content_type="application/json").status_code == 403  # fmt: skip


def test_the_access_page_sets_the_limit(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    product = personas.accounts["product"]
    r = client_for("bob").post(f"/matrix/access/{personas.carol.pk}/",
                               {"limited": "on", "accounts": [product.pk]})  # fmt: skip
    assert r.status_code == 302
    personas.carol.refresh_from_db()
    assert personas.carol.is_limited_to_accounts
    page = client_for("carol").get("/matrix/").content.decode()
    assert personas.accounts["service"].screen_name not in page

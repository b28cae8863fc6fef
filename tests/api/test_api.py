"""/api/v1/: bearer and session auth, the read endpoints with the pages' permission checks,
pagination, JSON errors, no secrets in any response, OpenAPI and docs without a CDN."""

import json

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
        assert response.json() == {"detail": "Not Found"}


def test_openapi_schema_lists_the_endpoints(db):
    schema = Client().get(f"{API}/openapi.json").json()
    for path in ("/enterprise", "/members", "/members/{member_id}", "/accounts", "/accounts/{account_id}",
                 "/connections"):
        assert API + path in schema["paths"]
    assert schema["components"]["securitySchemes"]["PersonalToken"] == {"type": "http", "scheme": "bearer"}


def test_docs_page_loads_swagger_from_local_static_files(db):
    html = Client().get(f"{API}/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "https://" not in html
    bundle = Client().get("/static/ninja/swagger-ui-bundle.js")
    assert bundle.status_code == 200


def test_unknown_api_paths_answer_json_404(personas, api_as):
    response = api_as("alice").get("/no/such/endpoint")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize("who", ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"])
def test_every_role_reads_the_enterprise_and_the_accounts_it_may_see(personas, api_as, who):
    caller = api_as(who)
    assert caller.get("/enterprise").json()["slug"] == "shili"
    expected = 2 if who == "ivan" else 6
    assert caller.get("/accounts").json()["count"] == expected
    assert caller.get("/connections").json()["count"] == 1

"""Bad input never gives a 500: each named case gets a clear 4xx in the shape of its surface —
a page with the field's message, API JSON naming the field, Weibo's error JSON in the sandbox."""

from __future__ import annotations

import pytest
from django.test import Client

from guanwei.sandbox.world import make_app_and_user

pytestmark = pytest.mark.django_db


def test_a_huge_api_page_number_is_a_422_naming_the_field(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    response = client_for("alice").get("/api/v1/members", {"page": "99999999999999999999"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == ["page"]


@pytest.mark.parametrize("query", [{"until": "9999-12-31"}, {"since": "0001-01-01"}])
def test_audit_dates_at_the_ends_of_the_calendar_are_a_field_error(personas, client_for, query) -> None:  # type: ignore[no-untyped-def]
    response = client_for("alice").get("/audit/", query)
    assert response.status_code == 400
    (field,) = query
    assert response.context["form"].errors[field]
    assert "2000-01-01" in response.content.decode()
    assert client_for("alice").get("/audit/export.csv", query).status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("get", "/sandbox/2/users/show.json", {"screen_name": "a\x00b"}),
        ("get", "/sandbox/2/statuses/user_timeline.json", {"access_token": "2.00\x00x"}),
        ("post", "/sandbox/oauth2/access_token", {"client_id": "1", "client_secret": "s",
                                                   "grant_type": "authorization_code",
                                                   "code": "x\x00y", "redirect_uri": "https://x/"}),
        ("post", "/sandbox/oauth2/get_token_info", {"access_token": "\x00"}),
    ],
)
def test_a_nul_byte_in_the_sandbox_is_weibo_error_json(client, method, path, params) -> None:  # type: ignore[no-untyped-def]
    response = getattr(client, method)(path, params)
    assert response.status_code == 400
    assert response.json()["error_code"] == 10008


def test_a_nul_byte_on_the_consent_page_is_an_error_page(client) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = make_app_and_user()
    response = client.get("/sandbox/oauth2/authorize", {"client_id": app.app_key + "\x00"})
    assert response.status_code == 400


def test_a_5_mb_body_to_access_token_is_weibo_error_json(client) -> None:  # type: ignore[no-untyped-def]
    body = "client_id=1&client_secret=" + "x" * (5 * 1024 * 1024)
    response = client.post("/sandbox/oauth2/access_token", body,
                           content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.status_code == 400 and response.json()["error_code"] == 10018


@pytest.mark.parametrize(
    ("path", "params"),
    [("/audit/", {"action": "x\x00"}), ("/members/", {"role": "\x00"}), ("/matrix/", {"q": "\x00"})],
)
def test_a_nul_byte_in_a_page_query_is_a_400_page(personas, client_for, path, params) -> None:  # type: ignore[no-untyped-def]
    assert client_for("alice").get(path, params).status_code == 400


def test_a_nul_byte_in_a_form_post_is_a_400(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    response = client_for("alice").post("/members/invite/", {"email": "a\x00@example.com", "role": "editor"})
    assert response.status_code == 400


def test_a_nul_byte_in_the_api_is_json_naming_the_field(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    response = client_for("alice").get("/api/v1/members", {"role": "x\x00"})
    assert response.status_code == 400
    assert response.json()["detail"][0]["field"] == "role"


def test_login_with_a_nul_byte_is_a_400_not_a_500() -> None:
    assert Client().post("/login/", {"username": "a\x00", "password": "x"}).status_code == 400


def test_a_30_digit_account_id_in_a_multiple_choice_is_a_field_error(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    """Integer `in` lookups overflowed the driver (found by the page fuzz of branch h/badinput)."""
    response = client_for("bob").post(
        f"/matrix/access/{personas.carol.pk}/", {"limited": "on", "accounts": ["1" * 30]}
    )
    assert response.status_code == 200 and "accounts" in response.context["form"].errors


def test_a_huge_fault_count_is_a_field_error(operator_client) -> None:  # type: ignore[no-untyped-def]
    form = {"action": "add", "endpoint": "*", "kind": "http_5xx", "probability": "1",
            "delay_s": "1", "http_status": "503", "times": "9" * 30}  # fmt: skip
    assert operator_client.post("/sandbox/faults/", form).status_code == 400


@pytest.mark.parametrize("moment", ["0820-06-29T03:23:44.50+22:34", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_api_date_times_with_offsets_postgresql_cannot_store_are_taken_in_utc_or_refused(personas, client_for, moment) -> None:  # type: ignore[no-untyped-def]
    """ISO 8601 allows an offset like +22:34; PostgreSQL stores ±15:59 at most: the API keeps
    input date-times in UTC, and one that has no UTC time in years 1–9999 is a 422 — never a 500."""
    client = client_for("bob")
    response = client.get("/api/v1/mentions", {"since": moment})
    assert response.status_code in (200, 422), response.content[:300]
    post = client.post("/api/v1/posts", {"text": "新品上市", "accounts": [personas.parent_account.pk], "scheduled_at": moment},
                       content_type="application/json")  # fmt: skip
    assert post.status_code in (201, 422), post.content[:300]

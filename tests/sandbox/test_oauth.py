"""OAuth2 (§1): consent page, one-time codes, token info and revocation, lifetimes per level."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from guanwei.core.clock import now
from guanwei.sandbox import store
from guanwei.sandbox.models import AppLevel, Token
from guanwei.sandbox.world import make_app_and_user
from tests.sandbox.api_helpers import assert_error, call

pytestmark = pytest.mark.django_db

CALLBACK = "http://testserver/matrix/callback"


@pytest.fixture
def app_user():
    app, user, _ = make_app_and_user(screen_name="示例乳业官方微博", password="牛奶好喝123")
    return app, user


def authorize_params(app, **extra):
    return {
        "client_id": app.app_key,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "state": "xyz-123",
        **extra,
    }


def get_code(client, app, password="牛奶好喝123", **extra):
    r = client.post(
        "/sandbox/oauth2/authorize",
        {
            **authorize_params(app, **extra),
            "screen_name": "示例乳业官方微博",
            "password": password,
            "action": "allow",
        },
    )
    assert r.status_code == 302, r.content
    query = parse_qs(urlsplit(r["Location"]).query)
    return query["code"][0], r["Location"]


def exchange(client, app, code, redirect_uri=CALLBACK, **extra):
    return client.post(
        "/sandbox/oauth2/access_token",
        {
            "client_id": app.app_key,
            "client_secret": app.app_secret,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            **extra,
        },
    )


def test_consent_page_shows_the_app_and_a_sign_in_form(client, app_user):
    app, _ = app_user
    r = client.get("/sandbox/oauth2/authorize", authorize_params(app, scope="all,email"))
    assert r.status_code == 200
    html = r.content.decode()
    assert app.name in html and 'name="password"' in html and "示例乳业官方微博" in html
    assert "email" in html
    assert 'value="xyz-123"' in html  # state carried through the form


def test_full_flow_echoes_state_and_returns_a_token(client, app_user):
    app, user = app_user
    code, location = get_code(client, app)
    assert location.startswith(CALLBACK + "?")
    assert parse_qs(urlsplit(location).query)["state"] == ["xyz-123"]
    r = exchange(client, app, code)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["uid"] == str(user.pk)
    assert body["expires_in"] == 7 * 24 * 3600 and body["remind_in"] == str(7 * 24 * 3600)
    assert "refresh_token" not in body  # web apps get none
    assert call(client, "GET", "account/get_uid", body["access_token"]).json() == {"uid": user.pk}


def test_wrong_password_stays_on_the_page(client, app_user):
    app, _ = app_user
    r = client.post(
        "/sandbox/oauth2/authorize",
        {
            **authorize_params(app),
            "screen_name": "示例乳业官方微博",
            "password": "nope",
            "action": "allow",
        },
    )
    assert r.status_code == 400
    assert "昵称或密码错误" in r.content.decode()


def test_signed_in_user_is_remembered_unless_forcelogin(client, app_user):
    app, _ = app_user
    get_code(client, app)
    r = client.get("/sandbox/oauth2/authorize", authorize_params(app))
    assert "当前账号" in r.content.decode() and 'name="password"' not in r.content.decode()
    again = client.post("/sandbox/oauth2/authorize", {**authorize_params(app), "action": "allow"})
    assert again.status_code == 302 and "code=" in again["Location"]
    forced = client.get("/sandbox/oauth2/authorize", authorize_params(app, forcelogin="true"))
    assert 'name="password"' in forced.content.decode()


def test_code_is_one_time_21325(client, app_user):
    app, _ = app_user
    code, _ = get_code(client, app)
    assert exchange(client, app, code).status_code == 200
    r = exchange(client, app, code)
    body = r.json()
    assert r.status_code == 400
    assert body["error_code"] == 21325 and body["error"] == "invalid_grant"
    assert body["request"] == "/oauth2/access_token" and "error_description" in body


def test_code_expires_after_ten_minutes(client, app_user):
    app, _ = app_user
    code, _ = get_code(client, app)
    with time_machine.travel(now() + timedelta(minutes=11), tick=False):
        assert exchange(client, app, code).json()["error_code"] == 21325


def test_parameters_in_the_query_string_with_an_empty_body(client, app_user):
    app, _ = app_user
    code, _ = get_code(client, app)
    query = (
        f"client_id={app.app_key}&client_secret={app.app_secret}&grant_type=authorization_code"
        f"&code={code}&redirect_uri={CALLBACK}"
    )
    r = client.post(f"/sandbox/oauth2/access_token?{query}")
    assert r.status_code == 200 and r.json()["access_token"].startswith("2.00")


def test_redirect_uri_must_match_at_authorize_21322_without_redirecting(client, app_user):
    app, _ = app_user
    r = client.get(
        "/sandbox/oauth2/authorize",
        authorize_params(app, redirect_uri="http://evil.example.com/steal"),
    )
    assert r.status_code == 400 and "Location" not in r
    assert "21322" in r.content.decode()


def test_redirect_uri_must_match_the_code_at_access_token_21322(client, app_user):
    app, _ = app_user
    code, _ = get_code(client, app)
    body = exchange(client, app, code, redirect_uri="http://testserver/other").json()
    assert body["error_code"] == 21322 and body["error"] == "redirect_uri_mismatch"


def test_bad_client_and_missing_parameters(client, app_user):
    app, _ = app_user
    r = client.post("/sandbox/oauth2/access_token", {"client_id": app.app_key})
    assert r.json()["error_code"] == 21323
    r = client.post(
        "/sandbox/oauth2/access_token",
        {
            "client_id": app.app_key,
            "client_secret": "x",
            "grant_type": "authorization_code",
            "code": "c",
        },
    )
    assert r.json()["error_code"] == 21324
    r = client.get("/sandbox/oauth2/authorize", {"client_id": "0000", "redirect_uri": CALLBACK})
    assert r.status_code == 401 and "21324" in r.content.decode()


def test_refresh_grant_is_unsupported_for_web_apps(client, app_user):
    app, _ = app_user
    r = client.post(
        "/sandbox/oauth2/access_token",
        {
            "client_id": app.app_key,
            "client_secret": app.app_secret,
            "grant_type": "refresh_token",
            "refresh_token": "anything",
        },
    )
    assert r.json()["error_code"] == 21328


def test_deny_redirects_with_the_error_and_state(client, app_user):
    app, _ = app_user
    r = client.post("/sandbox/oauth2/authorize", {**authorize_params(app), "action": "deny"})
    assert r.status_code == 302
    q = parse_qs(urlsplit(r["Location"]).query)
    assert (
        q["error"] == ["access_denied"]
        and q["error_code"] == ["21330"]
        and q["state"] == ["xyz-123"]
    )


def test_unsupported_response_type_redirects_with_21329(client, app_user):
    app, _ = app_user
    r = client.get("/sandbox/oauth2/authorize", authorize_params(app, response_type="token"))
    q = parse_qs(urlsplit(r["Location"]).query)
    assert q["error_code"] == ["21329"] and q["state"] == ["xyz-123"]


def test_unaudited_app_admits_only_test_accounts(client):
    app, user, _ = make_app_and_user(screen_name="测试号主", password="pw-123456")
    store.update_app(app, is_audited=False)
    r = client.post(
        "/sandbox/oauth2/authorize",
        {
            "client_id": app.app_key,
            "redirect_uri": CALLBACK,
            "screen_name": "测试号主",
            "password": "pw-123456",
            "action": "allow",
        },
    )
    assert "error_code=21321" in r["Location"]
    store.add_test_user(app, user)
    r = client.post(
        "/sandbox/oauth2/authorize",
        {"client_id": app.app_key, "redirect_uri": CALLBACK, "action": "allow"},
    )
    assert "code=" in r["Location"]


def test_get_token_info_counts_down_in_numbers(client, app_user):
    app, _ = app_user
    code, _ = get_code(client, app, scope="all")
    token = exchange(client, app, code).json()["access_token"]
    info = client.post("/sandbox/oauth2/get_token_info", {"access_token": token}).json()
    assert isinstance(info["uid"], int) and info["appkey"] == int(app.app_key)
    assert isinstance(info["create_at"], int) and isinstance(info["expire_in"], int)
    assert info["scope"] == "all"
    with time_machine.travel(now() + timedelta(hours=1), tick=False):
        later = client.post("/sandbox/oauth2/get_token_info", {"access_token": token}).json()
    assert info["expire_in"] - later["expire_in"] == 3600
    with time_machine.travel(now() + timedelta(days=8), tick=False):
        expired = client.post("/sandbox/oauth2/get_token_info", {"access_token": token}).json()
    assert expired["expire_in"] < 0


def test_revoke_answers_result_true_and_kills_the_token(client, app_user):
    app, _ = app_user
    code, _ = get_code(client, app)
    token = exchange(client, app, code).json()["access_token"]
    r = client.post("/sandbox/oauth2/revokeoauth2", {"access_token": token})
    assert r.json() == {"result": "true"}
    assert_error(call(client, "GET", "statuses/mentions", token), 21332)
    info = client.post("/sandbox/oauth2/get_token_info", {"access_token": token})
    assert info.json()["error_code"] == 21332


@pytest.mark.parametrize(
    "level,seconds",
    [
        (AppLevel.TEST, 24 * 3600),
        (AppLevel.NORMAL, 7 * 24 * 3600),
        (AppLevel.MONTHLY, 30 * 24 * 3600),
        (AppLevel.DEVELOPER, 5 * 365 * 24 * 3600),
    ],
)
def test_token_lifetime_follows_the_app_level(level, seconds):
    app, _, token = make_app_and_user(level=level)
    assert round((token.expires_at - token.created_at).total_seconds()) == seconds


def test_lifetime_can_be_set_per_app(client):
    app, user, _ = make_app_and_user()
    store.update_app(app, token_lifetime_s=600)
    token = store.grant_token(app, store.create_user("新号"))
    assert round((token.expires_at - token.created_at).total_seconds()) == 600


def test_reauthorising_within_validity_extends_the_same_token(client, app_user):
    app, user = app_user
    first = exchange(client, app, get_code(client, app)[0]).json()
    with time_machine.travel(now() + timedelta(days=3), tick=False):
        second = exchange(client, app, get_code(client, app)[0]).json()
    assert second["access_token"] == first["access_token"]
    assert second["expires_in"] == 7 * 24 * 3600
    # One live token per user and app: the helper's own token was the one extended.
    assert Token.objects.filter(app=app, user=user, revoked_at=None).count() == 1


def test_consent_page_in_english_with_language_en(client, app_user):
    app, _ = app_user
    html = client.get(
        "/sandbox/oauth2/authorize", authorize_params(app, language="en")
    ).content.decode()
    assert "Authorize" in html and "Password" in html


def test_a_bug_in_access_token_is_weibo_json_not_a_stack_trace(client, app_user, monkeypatch):
    app, _ = app_user
    code, _ = get_code(client, app)

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(store, "grant_token", broken)
    r = exchange(client, app, code)
    assert r.status_code == 500
    assert r.json()["error_code"] == 10001 and "secret detail" not in r.content.decode()

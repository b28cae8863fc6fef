"""Weibo's error JSON for every malformed request, tokens, users/show and commercial search."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from guanwei.core.clock import now
from guanwei.sandbox import api_views, store
from guanwei.sandbox.world import make_app_and_user
from tests.sandbox.api_helpers import LINK, assert_error, call, share

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return make_app_and_user()


def test_unknown_api_is_10020(client, world):
    _, _, token = world
    body = assert_error(call(client, "GET", "statuses/nope", token), 10020, 404)
    assert body["request"] == "/2/statuses/nope.json"
    assert_error(client.get("/sandbox/2/statuses/share"), 10020, 404)  # no .json
    assert_error(client.get("/sandbox/2/"), 10020)
    assert_error(client.get("/sandbox/oauth2/nope"), 10020)


def test_wrong_method_is_10021(client, world):
    _, _, token = world
    assert_error(call(client, "GET", "statuses/share", token, status="x"), 10021, 405)
    assert_error(call(client, "POST", "statuses/mentions", token), 10021, 405)
    assert_error(client.get("/sandbox/oauth2/access_token"), 10021)


def test_missing_token_is_10006(client):
    body = assert_error(client.get("/sandbox/2/statuses/mentions.json"), 10006)
    assert body["error"] == "source paramter(appkey) is missing"


def test_unknown_or_revoked_token_is_21332(client, world):
    _, _, token = world
    body = assert_error(call(client, "GET", "statuses/mentions", "2.00bogus"), 21332)
    assert body["error"] == "invalid_access_token"
    store.revoke_token(token)
    assert_error(call(client, "GET", "statuses/mentions", token), 21332)


def test_expired_token_is_21327(client):
    _, _, token = make_app_and_user(lifetime_s=60)
    assert call(client, "GET", "statuses/mentions", token).status_code == 200
    with time_machine.travel(now() + timedelta(seconds=61), tick=False):
        body = assert_error(call(client, "GET", "statuses/mentions", token), 21327)
    assert body["error"] == "expired_token"


def test_token_as_parameter_or_header(client, world):
    _, _, token = world
    assert call(client, "GET", "account/get_uid", token, header=True).status_code == 200
    assert call(client, "GET", "account/get_uid", token, header=False).status_code == 200
    r = share(client, token, f"表单里的令牌 {LINK}", access_token=token.token)
    assert r.status_code == 200


def test_missing_parameter_is_10016_naming_it(client, world):
    _, _, token = world
    body = assert_error(call(client, "GET", "statuses/show", token), 10016, 400)
    assert "(id)" in body["error"]


def test_bad_integer_is_10017_naming_it(client, world):
    _, _, token = world
    body = assert_error(call(client, "GET", "statuses/show", token, id="12abc"), 10017, 400)
    assert "(id)" in body["error"] and "12abc" in body["error"]
    assert_error(call(client, "GET", "statuses/show", token, id="99999999999999999999999"), 10017)
    assert_error(call(client, "POST", "statuses/repost", token, id="1", is_comment="7"), 10017)


def test_a_bug_is_answered_with_10001_not_a_stack_trace(client, world, monkeypatch):
    _, _, token = world

    def broken(call):
        raise ZeroDivisionError("oops")

    monkeypatch.setitem(
        api_views.REGISTRY,
        "account/get_uid",
        api_views.Endpoint("account/get_uid", ("GET",), broken),
    )
    r = call(client, "GET", "account/get_uid", token)
    assert_error(r, 10001, 500)
    assert "Traceback" not in r.content.decode() and "oops" not in r.content.decode()


def test_malformed_multipart_is_weibo_json(client, world):
    _, _, token = world
    r = client.post(
        "/sandbox/2/statuses/share.json",
        data=b'--xx\r\nContent-Disposition: form-data; name="status"\r\n\r\nunterminated',
        content_type="multipart/form-data; boundary=xx",
        headers={"Authorization": f"OAuth2 {token.token}"},
    )
    assert r.status_code >= 400
    body = r.json()
    assert isinstance(body["error_code"], int)


def test_users_show_withholds_for_users_who_did_not_authorise(client, world):
    _, official, token = world
    stranger = store.create_user("路人甲", description="我的简介", verified_reason="某某认证")
    store.bulk_follow([(stranger, official)])
    mine = call(client, "GET", "users/show", token, uid=official.pk).json()
    assert mine["followers_count"] == 1 and "statuses_count" in mine
    theirs = call(client, "GET", "users/show", token, screen_name="路人甲").json()
    assert theirs["id"] == stranger.pk and theirs["screen_name"] == "路人甲"
    assert "followers_count" not in theirs and "status" not in theirs
    assert theirs["description"] == "" and theirs["verified_reason"] == ""
    assert theirs["follow_me"] is True


def test_users_show_unknown_user_is_20003_and_needs_a_parameter(client, world):
    _, _, token = world
    assert_error(call(client, "GET", "users/show", token, uid=1234567890), 20003)
    assert_error(call(client, "GET", "users/show", token, screen_name="不存在的人"), 20003)
    assert_error(call(client, "GET", "users/show", token), 10016)


def test_users_show_carries_the_latest_status_for_the_authorised_user(client, world):
    _, official, token = world
    s = store.post_status(official, "最新一条")
    body = call(client, "GET", "users/show", token, uid=official.pk).json()
    assert body["status"]["id"] == s.pk
    assert body["verified_type"] == 2 and body["verified"] is True


def test_commercial_search_only_for_commercial_apps(client, world):
    _, official, token = world
    assert_error(call(client, "GET", "search/statuses/limited", token, q="奶"), 10014, 403)
    _, _, ctoken = make_app_and_user(is_commercial=True)
    fan = store.create_user("搜索网友", verified=True, verified_type=0, province="31")
    hit = store.post_status(fan, "示例乳业的酸奶真好喝")
    store.post_status(fan, "今天天气不错")
    body = call(client, "GET", "search/statuses/limited", ctoken, q="示例乳业 酸奶").json()
    assert [s["id"] for s in body["statuses"]] == [hit.pk]
    assert body["total_number"] == 1
    assert (
        call(client, "GET", "search/statuses/limited", ctoken, q="酸奶", province="11").json()[
            "statuses"
        ]
        == []
    )
    later = int((now() + timedelta(hours=1)).timestamp())
    assert (
        call(client, "GET", "search/statuses/limited", ctoken, q="酸奶", starttime=later).json()[
            "statuses"
        ]
        == []
    )
    assert_error(call(client, "GET", "search/statuses/limited", ctoken), 10016)
    assert_error(call(client, "GET", "search/statuses/limited", ctoken, q="x", sort="bad"), 10017)


def test_rate_limit_status_shape(client, world):
    _, _, token = world
    body = call(client, "GET", "account/rate_limit_status", token).json()
    assert body["limit_time_unit"] == "HOURS"
    assert set(body) >= {
        "ip_limit",
        "remaining_ip_hits",
        "remaining_user_hits",
        "reset_time",
        "reset_time_in_seconds",
        "user_limit",
        "api_rate_limits",
    }


def test_follow_and_unfollow(client, world):
    _, official, token = world
    fan = store.create_user("互动网友")
    r = call(client, "POST", "friendships/create", token, screen_name="互动网友")
    assert r.status_code == 200 and r.json()["id"] == fan.pk and r.json()["following"] is True
    fan.refresh_from_db()
    assert fan.followers_count == 1
    assert_error(call(client, "POST", "friendships/create", token, uid=fan.pk), 20506)
    assert_error(call(client, "POST", "friendships/create", token, uid=official.pk), 20504)
    assert (
        call(client, "POST", "friendships/destroy", token, uid=fan.pk).json()["following"] is False
    )
    assert_error(call(client, "POST", "friendships/destroy", token, uid=fan.pk), 20522)
    assert_error(call(client, "POST", "friendships/create", token, uid=42), 20003)

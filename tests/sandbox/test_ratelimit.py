"""Rate limits per user per app (total and per kind) and per IP, in hourly windows (§4.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from guanwei.sandbox import ratelimit, store
from guanwei.sandbox.world import make_app_and_user
from tests.sandbox.api_helpers import LINK, assert_error, call, share

pytestmark = pytest.mark.django_db


# A moment of the tests' own choosing, a minute into an hour in the middle of a (UTC and
# Beijing) day, so no test straddles an hourly or a daily window whenever CI happens to run.
# (The next hour of the *current* time crossed midnight in the last hour of the day.)
FROZEN_AT = datetime(2026, 3, 10, 5, 1, tzinfo=UTC)


def at_start_of_hour():
    """Freeze time a minute into an hour so a test never straddles a window boundary."""
    return time_machine.travel(FROZEN_AT, tick=False)


def test_normal_tier_is_weibos_table():
    app, _, _ = make_app_and_user(limits={})
    limits = ratelimit.limits_for(app)
    assert (
        limits["ip_hourly"],
        limits["user_hourly"],
        limits["posts_hourly"],
        limits["comments_hourly"],
        limits["follows_daily"],
    ) == (10000, 150, 30, 60, 200)
    store.update_app(app, limits={"tier": "advanced", "posts_hourly": 7})
    limits = ratelimit.limits_for(app)
    assert limits["user_hourly"] == 450 and limits["posts_hourly"] == 7


def test_posts_per_hour_is_10024_and_resets_next_hour(client):
    _, _, token = make_app_and_user(limits={"tier": "unlimited", "posts_hourly": 2})
    with at_start_of_hour() as traveller:
        assert share(client, token, f"一 {LINK}").status_code == 200
        assert share(client, token, f"二 {LINK}").status_code == 200
        body = assert_error(share(client, token, f"三 {LINK}"), 10024, 403)
        assert body["error"] == "User requests for (update_status) out of rate limit!"
        # Reading is still fine: only the posting bucket is full.
        assert call(client, "GET", "statuses/mentions", token).status_code == 200
        traveller.shift(timedelta(hours=1))
        assert share(client, token, f"三 {LINK}").status_code == 200


def test_comments_have_their_own_bucket(client):
    _, user, token = make_app_and_user(limits={"tier": "unlimited", "comments_hourly": 1})
    s = store.post_status(user, "原")
    with at_start_of_hour():
        assert (
            call(client, "POST", "comments/create", token, id=s.pk, comment="a").status_code == 200
        )
        body = assert_error(
            call(client, "POST", "comments/create", token, id=s.pk, comment="b"), 10024
        )
        assert "create_comment" in body["error"]
        assert share(client, token, f"发微博不受影响 {LINK}").status_code == 200


def test_user_total_is_10023_per_app(client):
    app, user, token = make_app_and_user(limits={"tier": "unlimited", "user_hourly": 3})
    other_app, _, _ = make_app_and_user()
    other_token = store.issue_token(other_app, user)
    with at_start_of_hour():
        for _ in range(3):
            assert call(client, "GET", "account/get_uid", token).status_code == 200
        assert_error(call(client, "GET", "account/get_uid", token), 10023, 403)
        # The same user through another app has its own bucket.
        assert call(client, "GET", "account/get_uid", other_token).status_code == 200


def test_ip_limit_is_10022_across_apps_and_users(client):
    _, _, a = make_app_and_user(limits={"tier": "unlimited", "ip_hourly": 2})
    _, _, b = make_app_and_user(limits={"tier": "unlimited", "ip_hourly": 2})
    with at_start_of_hour():
        assert call(client, "GET", "account/get_uid", a).status_code == 200
        assert call(client, "GET", "account/get_uid", b).status_code == 200
        assert_error(call(client, "GET", "account/get_uid", a), 10022, 403)
        other_ip = call_from(client, "10.0.0.9", "account/get_uid", b)
        assert other_ip.status_code == 200


def call_from(client, ip, name, token):
    return client.get(
        f"/sandbox/2/{name}.json",
        REMOTE_ADDR=ip,
        headers={"Authorization": f"OAuth2 {token.token}"},
    )


def test_refused_calls_do_not_use_up_the_bucket(client):
    _, _, token = make_app_and_user(limits={"tier": "unlimited", "user_hourly": 1})
    with at_start_of_hour():
        call(client, "GET", "account/get_uid", token)
        for _ in range(3):
            assert_error(call(client, "GET", "account/get_uid", token), 10023)
        status = call(client, "GET", "account/rate_limit_status", token).json()
        assert status["remaining_user_hits"] == 0 and status["user_limit"] == 1


def test_rate_limit_status_mirrors_the_buckets(client):
    _, user, token = make_app_and_user(limits={})
    with at_start_of_hour():
        share(client, token, f"计数 {LINK}")
        call(client, "GET", "statuses/mentions", token)
        body = call(client, "GET", "account/rate_limit_status", token).json()
    assert body["user_limit"] == 150 and body["remaining_user_hits"] == 148
    assert body["ip_limit"] == 10000 and body["remaining_ip_hits"] == 9998
    assert body["reset_time_in_seconds"] == 59 * 60
    posts = next(a for a in body["api_rate_limits"] if a["api"] == "update_status")
    assert posts == {
        "api": "update_status",
        "limit": 30,
        "limit_time_unit": "HOURS",
        "remaining_hits": 29,
    }


def test_old_windows_are_forgotten():
    from guanwei.sandbox.models import RateCounter

    app, user, _ = make_app_and_user(limits={})
    with at_start_of_hour() as traveller:
        ratelimit.check(app, user.pk, "1.1.1.1")
        traveller.shift(timedelta(days=3))
        ratelimit.check(app, user.pk, "1.1.1.1")
    windows = set(RateCounter.objects.values_list("window_start", flat=True))
    assert len(windows) == 1


def test_follows_per_hour_and_per_day(client):
    _, _, token = make_app_and_user(
        limits={"tier": "unlimited", "follows_hourly": 2, "follows_daily": 3}
    )
    people = store.bulk_create_users([{"screen_name": f"被关注{i}"} for i in range(5)])

    def follow(user):
        return call(client, "POST", "friendships/create", token, uid=user.pk)

    with at_start_of_hour() as traveller:
        assert follow(people[0]).status_code == 200
        assert follow(people[1]).status_code == 200
        body = assert_error(follow(people[2]), 10024)
        assert "follow_app" in body["error"]
        traveller.shift(timedelta(hours=1))
        assert follow(people[2]).status_code == 200
        assert_error(follow(people[3]), 20521)  # the day's 3 are used
        traveller.shift(timedelta(days=1))
        assert follow(people[3]).status_code == 200

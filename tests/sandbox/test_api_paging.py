"""Weibo paging: since_id exclusive, max_id inclusive, count/page, cursors, empty pages."""

from __future__ import annotations

import pytest

from guanwei.sandbox import store
from guanwei.sandbox.world import make_app_and_user
from tests.sandbox.api_helpers import assert_error, call

pytestmark = pytest.mark.django_db

#: Token, limits and faults, the page of followers and their newest statuses: not one per follower.
QUERIES_FOR_A_FOLLOWER_PAGE = 8


@pytest.fixture
def timeline():
    """An official account mentioned by 12 statuses (ids ascending in time)."""
    app, official, token = make_app_and_user()
    fans = store.bulk_create_users([{"screen_name": f"粉丝{i}"} for i in range(12)])
    made = store.bulk_create_statuses(
        [{"user": f, "text": f"@{official.screen_name} 第{i}条"} for i, f in enumerate(fans)]
    )
    return token, [s.pk for s in made]


def ids(client, token, **params):
    body = call(client, "GET", "statuses/mentions", token, **params).json()
    return [s["id"] for s in body["statuses"]], body


def test_newest_first_with_count(client, timeline):
    token, made = timeline
    got, body = ids(client, token, count=5)
    assert got == made[::-1][:5]
    assert body["total_number"] == 12


def test_since_id_is_exclusive(client, timeline):
    token, made = timeline
    got, _ = ids(client, token, since_id=made[8])
    assert got == [made[11], made[10], made[9]]


def test_max_id_is_inclusive_so_the_boundary_comes_back(client, timeline):
    token, made = timeline
    first, body = ids(client, token, count=4)
    # Paging with max_id = last id repeats it (the duplicate clients must drop)…
    again, _ = ids(client, token, count=4, max_id=first[-1])
    assert again[0] == first[-1]
    # …and max_id = last id - 1 continues cleanly.
    nxt, _ = ids(client, token, count=4, max_id=first[-1] - 1)
    assert nxt == made[::-1][4:8]


def test_next_cursor_is_the_next_max_id(client, timeline):
    token, made = timeline
    seen = []
    max_id = 0
    for _ in range(10):
        got, body = ids(client, token, count=5, max_id=max_id)
        seen += got
        if not body["next_cursor"]:
            break
        max_id = body["next_cursor"]
    assert seen == made[::-1]


def test_page_and_count(client, timeline):
    token, made = timeline
    newest = made[::-1]
    assert ids(client, token, count=5, page=2)[0] == newest[5:10]
    assert ids(client, token, count=5, page=3)[0] == newest[10:12]


def test_empty_pages_are_empty_lists_not_errors(client, timeline):
    token, made = timeline
    got, body = ids(client, token, count=5, page=4)
    assert got == [] and body["next_cursor"] == 0 and body["total_number"] == 12
    got, body = ids(client, token, since_id=made[-1])
    assert got == [] and body["total_number"] == 0
    got, _ = ids(client, token, max_id=made[0] - 1)
    assert got == []


def test_since_and_max_together_bound_a_window(client, timeline):
    token, made = timeline
    got, _ = ids(client, token, since_id=made[2], max_id=made[5])
    assert got == [made[5], made[4], made[3]]


def test_count_above_the_maximum_is_clamped(client, timeline):
    token, made = timeline
    got, _ = ids(client, token, count=100000)
    assert len(got) == 12


@pytest.mark.parametrize(
    "param,value",
    [("count", "abc"), ("count", "0"), ("since_id", "-1"), ("max_id", "1.5"), ("page", "0")],
)
def test_bad_paging_values_are_10017(client, timeline, param, value):
    token, _ = timeline
    body = assert_error(
        call(client, "GET", "statuses/mentions", token, **{param: value}), 10017, 400
    )
    assert param in body["error"]


def test_follower_cursor_walks_every_follower_once(client):
    _, official, token = make_app_and_user()
    fans = store.bulk_create_users([{"screen_name": f"关注者{i}"} for i in range(7)])
    store.bulk_follow([(f, official) for f in fans])
    seen, cursor, pages = [], 0, 0
    while True:
        body = call(client, "GET", "friendships/followers", token, count=3, cursor=cursor).json()
        assert body["total_number"] == 7
        seen += [u["id"] for u in body["users"]]
        pages += 1
        if body["next_cursor"] == 0:
            break
        assert (
            body["previous_cursor"] == max(cursor - 3, 0)
            if cursor
            else body["previous_cursor"] == 0
        )
        cursor = body["next_cursor"]
    assert pages == 3
    assert seen == [f.pk for f in reversed(fans)]
    assert "status" not in body["users"][0]  # trim_status defaults to 1


def test_followers_ids_allow_5000_and_no_more(client):
    _, official, token = make_app_and_user()
    fans = store.bulk_create_users([{"screen_name": f"id粉{i}"} for i in range(30)])
    store.bulk_follow([(f, official) for f in fans])
    body = call(client, "GET", "friendships/followers/ids", token, count=99999).json()
    assert len(body["ids"]) == 30 and body["next_cursor"] == 0
    assert all(isinstance(i, int) for i in body["ids"])
    body = call(client, "GET", "friendships/followers/ids", token, count=10, cursor=20).json()
    assert body["ids"] == [f.pk for f in reversed(fans)][20:30]
    assert body["previous_cursor"] == 10 and body["next_cursor"] == 0
    assert (
        call(client, "GET", "friendships/followers/ids", token, count=10, cursor=40).json()["ids"]
        == []
    )


def test_followers_of_another_user_are_refused(client):
    _, _, token = make_app_and_user()
    other = store.create_user("别的账号")
    assert_error(call(client, "GET", "friendships/followers", token, uid=other.pk), 21335)


def test_followers_ids_pages_hold_at_most_5000(client):
    _, official, token = make_app_and_user()
    fans = store.bulk_create_users([{"screen_name": f"大量粉丝{i}"} for i in range(5003)])
    store.bulk_follow([(f, official) for f in fans])
    body = call(client, "GET", "friendships/followers/ids", token, count=6000).json()
    assert len(body["ids"]) == 5000 and body["next_cursor"] == 5000
    assert body["total_number"] == 5003
    rest = call(client, "GET", "friendships/followers/ids", token, count=6000, cursor=5000).json()
    assert len(rest["ids"]) == 3 and rest["next_cursor"] == 0
    assert set(body["ids"]) | set(rest["ids"]) == {f.pk for f in fans}


def test_followers_with_status_carry_each_followers_newest_status_in_few_queries(
    client, django_assert_max_num_queries
):
    _, official, token = make_app_and_user()
    fans = store.bulk_create_users([{"screen_name": f"有微博的粉丝{i}"} for i in range(20)])
    store.bulk_follow([(f, official) for f in fans])
    store.bulk_create_statuses([{"user": f, "text": "旧的一条"} for f in fans[1:]])
    newest = store.bulk_create_statuses([{"user": f, "text": "新的一条"} for f in fans[1:]])
    with django_assert_max_num_queries(QUERIES_FOR_A_FOLLOWER_PAGE):
        body = call(client, "GET", "friendships/followers", token, count=50, trim_status=0).json()
    by_user = {u["id"]: u.get("status", {}).get("id") for u in body["users"]}
    assert by_user == {fans[0].pk: None} | {s.user_id: s.pk for s in newest}

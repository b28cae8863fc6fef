"""comments/*: create, reply, destroy, show, to_me, mentions — and the counters they move."""

from __future__ import annotations

import pytest

from guanwei.sandbox import store
from guanwei.sandbox.world import make_app_and_user
from tests.sandbox.api_helpers import assert_error, call

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene():
    app, official, token = make_app_and_user(screen_name="示例乳业客服")
    fan = store.create_user("爱喝奶的小王")
    status = store.post_status(official, "新品试饮报名开始")
    return official, token, fan, status


def test_create_returns_a_comment_with_its_status(client, scene):
    official, token, fan, status = scene
    r = call(
        client, "POST", "comments/create", token, id=status.pk, comment="欢迎报名", rip="1.2.3.4"
    )
    assert r.status_code == 200, r.content
    c = r.json()
    assert len(c["idstr"]) == 16 and c["mid"] == c["idstr"] == str(c["id"])
    assert c["text"] == "欢迎报名"
    assert c["user"]["id"] == official.pk
    assert c["status"]["id"] == status.pk
    assert "reply_comment" not in c
    status.refresh_from_db()
    assert status.comments_count == 1


def test_create_on_missing_status_is_20101_and_empty_text_20008(client, scene):
    _, token, _, status = scene
    assert_error(call(client, "POST", "comments/create", token, id=1, comment="x"), 20101)
    assert_error(call(client, "POST", "comments/create", token, id=status.pk, comment="   "), 20008)
    assert_error(call(client, "POST", "comments/create", token, id=status.pk), 10016)
    assert_error(
        call(client, "POST", "comments/create", token, id=status.pk, comment="长" * 141), 20012
    )


def test_reply_prefixes_the_mention_unless_without_mention(client, scene):
    official, token, fan, status = scene
    question = store.comment(fan, status, "请问在哪里报名？")
    r = call(
        client, "POST", "comments/reply", token, id=status.pk, cid=question.pk, comment="点链接即可"
    )
    assert r.status_code == 200, r.content
    c = r.json()
    assert c["text"] == "回复@爱喝奶的小王:点链接即可"
    assert c["reply_comment"]["id"] == question.pk
    plain = call(
        client,
        "POST",
        "comments/reply",
        token,
        id=status.pk,
        cid=question.pk,
        comment="补充一句",
        without_mention=1,
    ).json()
    assert plain["text"] == "补充一句"
    status.refresh_from_db()
    assert status.comments_count == 3


def test_reply_to_missing_comment_is_20201(client, scene):
    _, token, _, status = scene
    r = call(
        client, "POST", "comments/reply", token, id=status.pk, cid=4960000000077777, comment="x"
    )
    assert_error(r, 20201)


def test_destroy_only_own_comment(client, scene):
    official, token, fan, status = scene
    theirs = store.comment(fan, status, "网友的评论")
    assert_error(call(client, "POST", "comments/destroy", token, cid=theirs.pk), 20203, 403)
    mine = store.comment(official, status, "官方的评论")
    r = call(client, "POST", "comments/destroy", token, cid=mine.pk)
    assert r.status_code == 200 and r.json()["id"] == mine.pk
    status.refresh_from_db()
    assert status.comments_count == 1
    assert_error(call(client, "POST", "comments/destroy", token, cid=mine.pk), 20201)


def test_show_lists_comments_of_a_status(client, scene):
    _, token, fan, status = scene
    made = store.bulk_create_comments(
        [{"user": fan, "status": status, "text": f"评论{i}"} for i in range(3)]
    )
    body = call(client, "GET", "comments/show", token, id=status.pk).json()
    assert [c["id"] for c in body["comments"]] == [c.pk for c in reversed(made)]
    assert body["total_number"] == 3
    assert_error(call(client, "GET", "comments/show", token, id=123), 20101)


def test_to_me_has_comments_on_my_statuses_and_replies_to_my_comments(client, scene):
    official, token, fan, status = scene
    on_mine = store.comment(fan, status, "评论官方微博")
    elsewhere = store.post_status(fan, "网友自己的微博")
    my_comment = store.comment(official, elsewhere, "官方去评论")
    reply = store.comment(fan, elsewhere, "回复官方", reply_to=my_comment)
    store.comment(official, status, "自己评论自己")
    body = call(client, "GET", "comments/to_me", token).json()
    assert [c["id"] for c in body["comments"]] == [reply.pk, on_mine.pk]


def test_mentions_are_comments_that_at_the_user(client, scene):
    official, token, fan, status = scene
    other = store.post_status(fan, "随便发发")
    hit = store.comment(fan, other, f"@{official.screen_name} 快来看")
    store.comment(fan, other, "没有@")
    body = call(client, "GET", "comments/mentions", token).json()
    assert [c["id"] for c in body["comments"]] == [hit.pk]


def test_follower_only_comments_are_20206(client):
    _, strict, _ = make_app_and_user(allow_all_comment=False)
    status = store.post_status(strict, "只允许关注的人评论")
    _, fan, fan_token = make_app_and_user(screen_name="没被关注的人")
    assert_error(
        call(client, "POST", "comments/create", fan_token, id=status.pk, comment="hi"), 20206
    )
    store.follow(strict, fan)
    ok = call(client, "POST", "comments/create", fan_token, id=status.pk, comment="hi")
    assert ok.status_code == 200


def test_like_and_counters_via_store(scene):
    official, _, fan, status = scene
    assert store.like(fan, status) is True
    assert store.like(fan, status) is False
    status.refresh_from_db()
    assert status.attitudes_count == 1
    store.unlike(fan, status)
    status.refresh_from_db()
    assert status.attitudes_count == 0

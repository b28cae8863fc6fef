"""statuses/*: share, update, repost, destroy, show, user_timeline, mentions, repost_timeline."""

from __future__ import annotations

import io
import re

import pytest

from guanwei.sandbox import store
from guanwei.sandbox.models import Status
from guanwei.sandbox.world import make_app_and_user
from tests.sandbox.api_helpers import LINK, assert_error, call, share

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
WEIBO_TIME = re.compile(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} \+0800 \d{4}$")


@pytest.fixture
def world():
    app, user, token = make_app_and_user()
    return app, user, token


def test_share_returns_a_weibo_status_with_16_digit_ids(client, world):
    app, user, token = world
    r = share(client, token, f"新品上市，快来看看 {LINK}")
    assert r.status_code == 200, r.content
    s = r.json()
    assert isinstance(s["id"], int) and len(str(s["id"])) == 16
    assert s["idstr"] == str(s["id"]) == s["mid"]
    assert WEIBO_TIME.match(s["created_at"])
    assert s["text"] == f"新品上市，快来看看 {LINK}"
    assert s["user"]["id"] == user.pk and s["user"]["idstr"] == str(user.pk)
    assert s["user"]["screen_name"] == user.screen_name
    assert s["reposts_count"] == s["comments_count"] == s["attitudes_count"] == 0
    assert s["visible"] == {"type": 0, "list_id": 0}
    assert app.name in s["source"]
    assert "retweeted_status" not in s and "original_pic" not in s
    user.refresh_from_db()
    assert user.statuses_count == 1


def test_share_ids_increase_monotonically(client, world):
    _, _, token = world
    ids = [
        share(client, token, f"第{i}条完全不同的内容{'啊' * i} {LINK}").json()["id"]
        for i in range(3)
    ]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_share_needs_a_link_under_the_safe_domain(client, world):
    _, _, token = world
    body = assert_error(share(client, token, "没有链接的微博"), 10017, 400)
    assert body["error"] == "appkey not bind domain!"
    assert body["request"] == "/2/statuses/share.json"
    assert_error(share(client, token, "别人的域名 http://evil.example.com/x"), 10017)
    ok = share(client, token, "子域名也算 http://m.demo.guanwei.local/x")
    assert ok.status_code == 200


def test_share_requires_rip(client, world):
    _, _, token = world
    r = call(client, "POST", "statuses/share", token, status=f"hi {LINK}")
    body = assert_error(r, 10016, 400)
    assert "rip" in body["error"]
    assert_error(share(client, token, f"hi {LINK}", rip="not-an-ip"), 10017)


def test_share_counts_140_characters_with_links_as_ten(client, world):
    _, _, token = world
    # 130 CJK characters + a link (counted as 10) = 140: allowed.
    text_ok = "好" * 129 + " " + LINK  # 129 + 0.5 (space) + 10 → ceil(139.5) ≤ 140
    assert share(client, token, text_ok).status_code == 200
    too_long = "长" * 131 + LINK  # 131 + 10 = 141
    assert_error(share(client, token, too_long), 20012, 400)
    # A long URL still counts as 10 characters.
    long_link = LINK + "?" + "x" * 100
    assert share(client, token, "链接很长但只算十个字" + long_link).status_code == 200


def test_share_strips_topics(client, world):
    _, _, token = world
    s = share(client, token, f"#新品上市# 示例乳业新品 {LINK}").json()
    assert "#" not in s["text"]
    assert s["text"] == f"示例乳业新品 {LINK}"


def test_share_refuses_identical_then_similar_text(client, world):
    _, _, token = world
    text = f"今天的牧场直播开始啦，欢迎大家来看奶牛吃早餐 {LINK}"
    assert share(client, token, text).status_code == 200
    assert_error(share(client, token, text), 20019)
    similar = f"今天的牧场直播开始啦，欢迎大家来看奶牛吃早饭 {LINK}"
    app, _, _ = world
    store.update_app(app, limits={"tier": "unlimited", "similar_ratio": 0.9})
    assert_error(share(client, token, similar), 20017)
    assert share(client, token, f"完全不同的另一条：周末亲子活动报名 {LINK}").status_code == 200


def test_share_too_often_is_out_of_limit(client):
    _, _, token = make_app_and_user(
        limits={"tier": "unlimited", "burst_posts": 2, "burst_window_s": 60}
    )
    assert share(client, token, f"一 {LINK}").status_code == 200
    assert share(client, token, f"二二 {LINK}").status_code == 200
    body = assert_error(share(client, token, f"三三三 {LINK}"), 20016)
    assert body["error"] == "Out of limit!"


def test_share_with_picture_multipart(client, world):
    _, _, token = world
    pic = io.BytesIO(PNG)
    pic.name = "a.png"
    r = share(client, token, f"配图 {LINK}", pic=pic)
    assert r.status_code == 200, r.content
    s = r.json()
    assert s["original_pic"].endswith(".jpg") and s["pic_urls"][0]["thumbnail_pic"]
    served = client.get(s["original_pic"].replace("http://testserver", ""))
    assert served.status_code == 200 and served.content == PNG
    assert served["Content-Type"] == "image/png"


def test_share_refuses_unsupported_or_oversized_pictures(client, world):
    _, _, token = world
    bmp = io.BytesIO(b"BM" + b"\x00" * 100)
    bmp.name = "a.bmp"
    assert_error(share(client, token, f"图 {LINK}", pic=bmp), 20005)
    big = io.BytesIO(b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024))
    big.name = "big.jpg"
    assert_error(share(client, token, f"大图 {LINK}", pic=big), 20006)
    assert_error(share(client, token, f"不是文件 {LINK}", pic="abc"), 20007)
    assert Status.objects.count() == 0


def test_update_is_insufficient_app_permissions(client, world):
    _, _, token = world
    r = call(client, "POST", "statuses/update", token, status=f"x {LINK}")
    assert_error(r, 10014, 403)


def test_repost_nests_the_original_and_chains_text(client, world):
    app, official, token = world
    fan = store.create_user("热心网友")
    original = store.post_status(official, f"原微博 {LINK}")
    first = store.repost(fan, original, "支持")
    r = call(client, "POST", "statuses/repost", token, id=first.pk, status="转给大家", is_comment=3)
    assert r.status_code == 200, r.content
    s = r.json()
    assert s["retweeted_status"]["id"] == original.pk
    assert s["text"] == "转给大家//@热心网友:支持"
    original.refresh_from_db()
    first.refresh_from_db()
    assert original.reposts_count == 2  # the fan's repost and ours, down the chain
    assert first.reposts_count == 1
    assert first.comments_count == 1 and original.comments_count == 1  # is_comment=3


def test_repost_of_missing_status_is_20101(client, world):
    _, _, token = world
    assert_error(call(client, "POST", "statuses/repost", token, id=4960000000099999), 20101)


def test_destroy_only_own_status(client, world):
    _, official, token = world
    other = store.create_user("别人")
    theirs = store.post_status(other, "别人的微博")
    assert_error(call(client, "POST", "statuses/destroy", token, id=theirs.pk), 20102, 403)
    mine = share(client, token, f"要删的 {LINK}").json()
    r = call(client, "POST", "statuses/destroy", token, id=mine["id"])
    assert r.status_code == 200 and r.json()["id"] == mine["id"]
    official.refresh_from_db()
    assert official.statuses_count == 0
    assert_error(call(client, "POST", "statuses/destroy", token, id=mine["id"]), 20101)
    assert_error(call(client, "GET", "statuses/show", token, id=mine["id"]), 20101)


def test_show_only_statuses_of_users_who_authorised_the_app(client, world):
    _, official, token = world
    mine = store.post_status(official, "我的")
    stranger = store.create_user("路人")
    theirs = store.post_status(stranger, "路人的")
    assert call(client, "GET", "statuses/show", token, id=mine.pk).json()["idstr"] == str(mine.pk)
    assert_error(call(client, "GET", "statuses/show", token, id=theirs.pk), 20101)


def test_user_timeline_is_the_authorised_users_latest_five(client, world):
    _, official, token = world
    made = store.bulk_create_statuses([{"user": official, "text": f"第{i}条"} for i in range(8)])
    r = call(client, "GET", "statuses/user_timeline", token)
    ids = [s["id"] for s in r.json()["statuses"]]
    assert ids == [s.pk for s in reversed(made)][:5]
    other = store.create_user("其他人")
    assert_error(call(client, "GET", "statuses/user_timeline", token, uid=other.pk), 21335)
    assert call(client, "GET", "statuses/user_timeline", token, uid=official.pk).status_code == 200


def test_mentions_are_statuses_that_at_the_user(client, world):
    _, official, token = world
    fan = store.create_user("小明")
    hit = store.post_status(fan, f"@{official.screen_name} 你们的奶真好喝")
    store.post_status(fan, "没有提到谁")
    r = call(client, "GET", "statuses/mentions", token)
    body = r.json()
    assert [s["id"] for s in body["statuses"]] == [hit.pk]
    assert body["total_number"] == 1
    assert set(body) >= {"previous_cursor", "next_cursor", "total_number", "hasvisible"}


def test_mentions_filter_by_author_and_type(client, world):
    _, official, token = world
    friend = store.create_user("朋友")
    stranger = store.create_user("陌生人")
    store.follow(official, friend)
    a = store.post_status(friend, f"@{official.screen_name} 朋友说")
    b = store.post_status(stranger, f"@{official.screen_name} 陌生人说")
    c = store.repost(stranger, a, f"@{official.screen_name} 转一下")

    def ids(**p):
        return [
            s["id"] for s in call(client, "GET", "statuses/mentions", token, **p).json()["statuses"]
        ]

    assert ids(filter_by_author=1) == [a.pk]
    assert ids(filter_by_author=2) == [c.pk, b.pk]
    assert ids(filter_by_type=1) == [b.pk, a.pk]


def test_repost_timeline_uses_the_reposts_key(client, world):
    _, official, token = world
    original = store.post_status(official, "原")
    fans = store.bulk_create_users([{"screen_name": f"转发者{i}"} for i in range(3)])
    reposts = store.bulk_create_statuses(
        [{"user": f, "text": "转", "repost_of": original} for f in fans]
    )
    body = call(client, "GET", "statuses/repost_timeline", token, id=original.pk).json()
    assert "reposts" in body and "statuses" not in body
    assert [s["id"] for s in body["reposts"]] == [s.pk for s in reversed(reposts)]
    assert body["total_number"] == 3
    original.refresh_from_db()
    assert original.reposts_count == 3


def test_unaudited_app_posts_are_seen_only_by_its_test_accounts(client):
    app, tester, token = make_app_and_user(screen_name="测试账号甲")
    store.update_app(app, is_audited=False)
    store.add_test_user(app, tester)
    post = share(client, token, f"@旁观者 未审核应用发的 {LINK}").json()
    assert Status.objects.get(pk=post["id"]).is_test_only is True
    # Another test account of the app sees it; an ordinary user (through another app) does not.
    second_tester = store.create_user("测试账号乙")
    store.add_test_user(app, second_tester)
    second_token = store.issue_token(app, second_tester)
    other_app, outsider, outsider_token = make_app_and_user(screen_name="旁观者")
    store.issue_token(other_app, tester)  # the author has authorised the other app too
    assert call(client, "GET", "statuses/show", second_token, id=post["id"]).status_code == 200
    assert_error(call(client, "GET", "statuses/show", outsider_token, id=post["id"]), 20101)
    assert call(client, "GET", "statuses/mentions", outsider_token).json()["statuses"] == []
    assert_error(
        call(client, "POST", "comments/create", outsider_token, id=post["id"], comment="看不到"),
        20101,
    )
    # Audited apps post for everyone.
    _, _, normal_token = make_app_and_user()
    public = share(client, normal_token, f"@旁观者 审核过的应用 {LINK}").json()
    mentions = call(client, "GET", "statuses/mentions", outsider_token).json()["statuses"]
    assert [s["id"] for s in mentions] == [public["id"]]


def test_unaudited_app_has_at_most_15_test_accounts():
    app, _, _ = make_app_and_user()
    store.update_app(app, is_audited=False)
    users = store.bulk_create_users([{"screen_name": f"测试号{i}"} for i in range(16)])
    for u in users[:15]:
        store.add_test_user(app, u)
    with pytest.raises(ValueError):
        store.add_test_user(app, users[15])

"""The one ingest stage (listening.store): each item once per enterprise, with its processing."""

from __future__ import annotations

from datetime import UTC, datetime

from guanwei.listening.models import Author, Mention, Voice
from guanwei.listening.store import Incoming, signed64, store

AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def item(remote_id: str, text: str, author: str = "u1", **kw) -> Incoming:  # type: ignore[no-untyped-def]
    return Incoming(platform="sandbox:builtin", remote_id=remote_id, kind="status", text=text,
                    created_at=AT, author_id=author, author_name=kw.pop("name", "网友甲"), **kw)  # fmt: skip


def test_each_item_is_stored_once_with_its_processing(personas):
    result = store(personas.enterprise, [
        item("1", "示例乳业的牛奶喝出了异物，太恶心了，要投诉！"),
        item("1", "示例乳业的牛奶喝出了异物，太恶心了，要投诉！"),  # twice in one batch
        item("2", "喜欢示例乳业的新品酸奶，味道很好", author="u2", name="网友乙"),
    ])  # fmt: skip
    assert (result.received, result.stored, result.duplicates) == (3, 2, 1)
    again = store(personas.enterprise, [item("1", "示例乳业的牛奶喝出了异物")])
    assert (again.stored, again.duplicates) == (0, 1)
    complaint = Mention.objects.get(remote_id="1")
    assert complaint.sentiment == "negative" and complaint.emotion in {"angry", "sad", "fear", "surprise"}
    assert complaint.thread_id == "1" and complaint.normalized and complaint.author.screen_name == "网友甲"
    assert Mention.objects.get(remote_id="2").sentiment == "positive"
    # the same item seen by another enterprise is that enterprise's own mention
    assert store(personas.outsider_enterprise, [item("1", "同一条")]).stored == 1


def test_copies_share_a_voice_and_authors_are_refreshed(personas):
    text = "示例乳业牛奶质量问题严重，大家千万别买了，转发扩散让更多人知道！"
    store(personas.enterprise, [
        item("10", text, author="a"), item("11", "转发微博//@网友:" + text, author="b"),
        item("12", text + " http://t.cn/abc", author="c"), item("13", "今天天气不错，出门散步", author="d"),
    ])  # fmt: skip
    voices = dict(Mention.objects.values_list("remote_id", "voice_id"))
    assert voices["10"] == voices["11"] == voices["12"] != voices["13"]
    assert Voice.objects.get(pk=voices["10"]).size == 3
    store(personas.enterprise, [item("14", text, author="a", name="网友甲（改名）", author_followers=99)])
    assert Voice.objects.get(pk=voices["10"]).size == 4  # a later exact copy joins the voice
    author = Author.objects.get(remote_id="a")
    assert (author.screen_name, author.followers_count) == ("网友甲（改名）", 99)
    # a DM push knows only the sender's id: what we knew stays
    store(personas.enterprise, [Incoming(platform="sandbox:builtin", remote_id="dm1", kind="dm",
                                         text="你好", created_at=AT, author_id="a")])  # fmt: skip
    assert Author.objects.get(remote_id="a").screen_name == "网友甲（改名）"


def test_fingerprints_fit_a_signed_bigint():
    assert signed64(2**64 - 1) == -1 and signed64(5) == 5


def test_a_reply_is_threaded_under_its_status(personas):
    store(personas.enterprise, [item("c1", "什么时候退款？", in_reply_to_id="s9", reply_to_comment_id="c0")])
    mention = Mention.objects.get(remote_id="c1")
    assert (mention.thread_id, mention.in_reply_to_id, mention.reply_to_comment_id) == ("s9", "s9", "c0")


def test_the_api_lists_mentions_and_streams_within_the_callers_accounts(personas, client_for):
    from guanwei.listening.models import Stream

    service, parent = personas.accounts["service"], personas.parent_account
    store(personas.enterprise, [item("s1", "客服怎么还不回复", account_id=service.pk),
                                item("p1", "新品真好喝", account_id=parent.pk)])  # fmt: skip
    Stream.objects.create(enterprise=personas.enterprise, account=service, kind="mentions")
    body = client_for("alice").get("/api/v1/mentions").json()
    assert body["count"] == 2 and body["items"][0]["author"]["screen_name"] == "网友甲"
    only = client_for("alice").get(f"/api/v1/mentions?account={service.pk}&kind=status").json()
    assert [m["remote_id"] for m in only["items"]] == ["s1"]
    streams = client_for("alice").get("/api/v1/streams").json()
    assert streams["count"] == 1 and streams["items"][0]["lag_s"] is None
    # ivan is limited to the product and service accounts: not the parent's mention
    limited = {m["remote_id"] for m in client_for("ivan").get("/api/v1/mentions").json()["items"]}
    assert limited == {"s1"}
    assert client_for("ivan").get(f"/api/v1/mentions?account={parent.pk}").status_code == 404
    outsider = client_for("alice").get(f"/api/v1/mentions?account={personas.outsider_account.pk}")
    assert outsider.status_code == 404
    assert client_for("alice").get("/api/v1/mentions?kind=" + "x" * 50).status_code == 422

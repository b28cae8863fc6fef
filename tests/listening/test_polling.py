"""Streams read against the built-in sandbox over real HTTP (live_server): what a netizen writes
becomes a Mention once; the cursor moves only with what was stored; errors leave coverage."""

from __future__ import annotations

from unittest import mock

import pytest

from guanwei.core import clock
from guanwei.listening import consumers, polling
from guanwei.listening.models import Mention, Stream, StreamRun
from guanwei.matrix.models import Account, Connection
from guanwei.sandbox import store as sandbox
from guanwei.sandbox.models import SandboxUser
from guanwei.sandbox.world import ensure_demo_world

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(personas, live_server, settings):  # type: ignore[no-untyped-def]
    demo = ensure_demo_world("http://testserver")
    settings.BASE_URL = live_server.url
    Connection.objects.filter(pk=personas.connection.pk).update(
        base_url=f"{live_server.url}/sandbox", app_key=demo.app_key, app_secret=demo.app_secret,
        app_level="partner",
    )
    for role in ("parent", "product", "service"):
        remote = demo.account(role)
        Account.objects.filter(pk=personas.accounts[role].pk).update(
            platform_uid=remote.uid, token=remote.token, token_expires_at=None
        )
    # only the three accounts connected to the live sandbox are read here
    Account.objects.exclude(pk__in=[personas.accounts[r].pk for r in ("parent", "product", "service")]).update(token="")
    return demo


def _netizen(name: str) -> SandboxUser:
    (user,) = sandbox.bulk_create_users([{"screen_name": name}])
    return user


def _poll_all() -> dict[str, int]:
    Stream.objects.update(next_poll_at=clock.now())
    return polling.poll_due()


def test_a_netizens_mention_and_comment_become_mentions_once(personas, world):
    polling.ensure_streams()
    parent = personas.accounts["parent"]
    kinds = set(Stream.objects.filter(account=parent).values_list("kind", flat=True))
    assert kinds == {"mentions", "comment_mentions", "comments_to_me"}  # DMs come as pushes
    assert Stream.objects.filter(account=parent).first().interval_s == 30  # partner level

    _poll_all()  # reads what the demo world already holds
    before = Mention.objects.count()
    fan = _netizen("较真的网友")
    sandbox.post_status(fan, "@示例乳业官方微博 你们的牛奶喝出了异物，要求给个说法！")
    own = sandbox.post_status(SandboxUser.objects.get(pk=int(world.account("parent").uid)), "新品上市")
    sandbox.comment(fan, own, "新品什么时候到超市？")
    outcomes = _poll_all()
    assert outcomes.get("ok") and not outcomes.get("crashed")
    new = Mention.objects.filter(pk__gt=0).order_by("pk")[before:]
    texts = {m.text: m for m in new}
    complaint = texts["@示例乳业官方微博 你们的牛奶喝出了异物，要求给个说法！"]
    assert complaint.kind == "status" and complaint.account_id == parent.pk
    assert complaint.author.screen_name == "较真的网友" and complaint.sentiment == "negative"
    question = texts["新品什么时候到超市？"]
    assert question.kind == "comment" and question.thread_id == str(own.pk)

    count = Mention.objects.count()
    _poll_all()
    assert Mention.objects.count() == count  # nothing new, nothing twice
    stream = Stream.objects.get(account=parent, kind="mentions")
    assert stream.cursor and stream.last_success_at and stream.newest_item_at
    assert StreamRun.objects.filter(stream=stream, outcome="ok").count() >= 3


def test_a_crash_while_storing_leaves_the_cursor_where_it_was(personas, world):
    polling.ensure_streams()
    _poll_all()
    stream = Stream.objects.get(account=personas.accounts["parent"], kind="mentions")
    cursor = stream.cursor
    sandbox.post_status(_netizen("网友丙"), "@示例乳业官方微博 在吗？")
    with mock.patch("guanwei.listening.polling.store", side_effect=RuntimeError("disk full")):
        outcomes = _poll_all()
    assert outcomes.get("crashed")
    stream.refresh_from_db()
    assert stream.cursor == cursor and not Mention.objects.filter(text="@示例乳业官方微博 在吗？").exists()
    _poll_all()  # the next read gets it
    assert Mention.objects.filter(text="@示例乳业官方微博 在吗？").count() == 1


def test_an_expired_token_is_a_gap_with_its_cause(personas, world):
    polling.ensure_streams()
    Account.objects.filter(pk=personas.accounts["parent"].pk).update(token="not-a-live-token")
    _poll_all()
    stream = Stream.objects.get(account=personas.accounts["parent"], kind="mentions")
    assert stream.last_error in {"auth_expired", "auth_invalid"}
    run = StreamRun.objects.filter(stream=stream).latest("pk")
    assert run.outcome == "auth_expired" and stream.next_poll_at > clock.now()
    personas.accounts["parent"].refresh_from_db()
    assert personas.accounts["parent"].health == "token_expired"


def test_consumers_see_every_mention_once_in_id_order(personas, world, settings):
    seen: list[int] = []
    consumers.register("test-consumer", lambda batch: seen.extend(m.pk for m in batch))
    try:
        polling.ensure_streams()
        _poll_all()
        with mock.patch.object(consumers, "SETTLE_S", 0):
            consumers.dispatch("test-consumer", batch=7)
            sandbox.post_status(_netizen("网友丁"), "@示例乳业官方微博 第二批")
            _poll_all()
            consumers.dispatch("test-consumer", batch=7)
            consumers.dispatch("test-consumer", batch=7)
        assert seen == sorted(seen) and len(seen) == len(set(seen))
        assert seen == list(Mention.objects.order_by("pk").values_list("pk", flat=True))

        def failing(batch):  # type: ignore[no-untyped-def]
            raise RuntimeError("consumer bug")

        consumers.register("test-consumer", failing)
        sandbox.post_status(_netizen("网友戊"), "@示例乳业官方微博 第三批")
        _poll_all()
        with mock.patch.object(consumers, "SETTLE_S", 0), pytest.raises(RuntimeError):
            consumers.dispatch("test-consumer")
        from guanwei.listening.models import ConsumerCursor

        assert ConsumerCursor.objects.get(name="test-consumer").last_id == seen[-1]  # not moved
        # the job goes on past a failing consumer: the others are still handed their mentions
        with mock.patch.object(consumers, "SETTLE_S", 0):
            given = consumers.dispatch_all()
        assert given["test-consumer"] == -1 and given["monitoring"] > 0
        assert ConsumerCursor.objects.get(name="test-consumer").last_id == seen[-1]
    finally:
        consumers.CONSUMERS.pop("test-consumer", None)


def test_a_posts_comments_and_reposts_are_streams_of_their_own(personas, world):
    parent = personas.accounts["parent"]
    official = SandboxUser.objects.get(pk=int(world.account("parent").uid))
    launch = sandbox.post_status(official, "新品发布：示例乳业低糖酸奶")
    for kind in ("post_comments", "post_reposts"):
        Stream.objects.create(enterprise=personas.enterprise, account=parent, kind=kind, target=str(launch.pk))
    fan = _netizen("尝鲜的网友")
    sandbox.comment(fan, launch, "已下单，期待")
    sandbox.repost(fan, launch, "推荐给大家")
    _poll_all()
    comment = Mention.objects.get(text="已下单，期待")
    assert comment.kind == "comment" and comment.thread_id == str(launch.pk)
    assert Stream.objects.get(account=parent, kind="post_comments").cursor
    assert Mention.objects.filter(kind="repost", text__contains="推荐给大家").count() == 1


def test_a_consumer_that_prepares_gets_rows_and_never_a_batch_another_worker_took(personas, world):
    from guanwei.listening.models import ConsumerCursor

    handled: list[tuple[list[int], list[int]]] = []
    prepared_calls: list[list[int]] = []

    def prepare(batch):  # type: ignore[no-untyped-def]
        ids = [row.id for row in batch]
        prepared_calls.append(ids)
        if len(prepared_calls) == 1:  # another worker handles this batch meanwhile
            ConsumerCursor.objects.filter(name="test-prepared").update(last_id=ids[-1])
        return ids

    consumers.register("test-prepared", lambda batch, ids: handled.append(([r.id for r in batch], ids)),
                       fields=("text",), prepare=prepare)  # fmt: skip
    try:
        for n in range(7):
            sandbox.post_status(_netizen(f"网友{n}"), f"@示例乳业官方微博 第{n}条")
        polling.ensure_streams()
        _poll_all()
        every = list(Mention.objects.order_by("pk").values_list("pk", flat=True))
        assert len(every) >= 7
        with mock.patch.object(consumers, "SETTLE_S", 0):
            consumers.dispatch("test-prepared", batch=3)
        taken = prepared_calls[0]
        # the first batch was prepared but not handled (the cursor had moved); the rest was
        handed = [pk for ids, _prepared in handled for pk in ids]
        assert not set(taken) & set(handed)
        assert sorted(taken + handed) == every
        assert all(ids == prepared for ids, prepared in handled)
        assert ConsumerCursor.objects.get(name="test-prepared").last_id == every[-1]
    finally:
        for registry in (consumers.CONSUMERS, consumers.FIELDS, consumers.PREPARE):
            registry.pop("test-prepared", None)

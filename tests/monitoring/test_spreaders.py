"""Key spreaders in the incident room: who carried it, from the reposts and comments we stored —
Weibo's one level plus the "//@" chain, an import's true parents, the first hour — and what the
page says the numbers can and cannot tell; outsiders see nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from guanwei.core import clock
from guanwei.listening import consumers
from guanwei.listening.store import Incoming, store
from guanwei.monitoring import actions, incidents, spreaders
from guanwei.monitoring.spreaders import Post, credit

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
T0 = NOW - timedelta(hours=3)


@pytest.fixture(autouse=True)
def _now():  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        yield


def _post(key, author, name, minutes, parent=None, kind="status", text="", followers=None):  # type: ignore[no-untyped-def]
    return Post(key=("weibo", key), parent=("weibo", parent) if parent else None, kind=kind, author_id=author,
                author_name=name, created_at=T0 + timedelta(minutes=minutes), text=text, followers=followers)  # fmt: skip


def _table(spread):  # type: ignore[no-untyped-def]
    return [(s.name, s.downstream, s.depth, s.first_hour, s.followers) for s in spread.spreaders]


def test_weibo_reposts_point_at_the_original_and_the_chain_names_the_reposts_in_between():
    posts = [
        _post("p1", 1, "甲", 0, followers=90000),
        _post("r1", 2, "乙", 10, "p1", "repost", "转发微博", followers=500),
        _post("r2", 3, "丙", 20, "p1", "repost", "说得对//@乙:转发微博", followers=20),
        _post("r3", 4, "丁", 90, "p1", "repost", "//@丙:说得对//@乙:转发微博"),
        _post("c1", 5, "戊", 30, "p1", "comment", "真的吗"),
        _post(
            "r4", 1, "甲", 40, "p1", "repost", "大家看看"
        ),  # 甲 reposting their own post spreads nothing
    ]
    spread = credit({p.key: p for p in posts})
    # 甲: everything below p1 (r1 r2 r3 c1), three levels deep (丁 ← 丙 ← 乙 ← 甲); in the first
    # hour the reposts r1 and r2 (r3 came after 90 minutes, c1 is a comment).
    assert _table(spread) == [("甲", 4, 3, 2, 90000), ("乙", 2, 2, 1, 500), ("丙", 1, 1, 0, 20)]
    assert spread.deepest == 3 and spread.by_chain and not spread.by_parent
    assert spread.posts == 6 and spread.downstream == 5


def test_an_import_points_at_the_true_parent_and_shows_every_level():
    posts = [
        _post("p1", 1, "甲", 0),
        _post("r1", 2, "乙", 5, "p1", "repost"),
        _post("r2", 3, "丙", 30, "r1", "repost"),
        _post("r3", 4, "丁", 50, "r2", "repost"),
        _post("r4", 5, "戊", 200, "r1", "repost"),
    ]
    spread = credit({p.key: p for p in posts})
    assert _table(spread) == [("甲", 4, 3, 3, None), ("乙", 3, 2, 2, None), ("丙", 1, 1, 1, None)]
    assert spread.by_parent and not spread.by_chain


def test_a_name_in_the_chain_without_a_stored_post_is_credited_by_name_only():
    posts = [
        _post("p1", 1, "甲", 0),
        _post("r1", 2, "乙", 10, "p1", "repost", "好//@没存下的人:转发"),
    ]
    found = {s.name: s for s in credit({p.key: p for p in posts}).spreaders}
    assert (
        found["没存下的人"].author_id,
        found["没存下的人"].first_hour,
        found["没存下的人"].depth,
    ) == (None, None, 1)
    assert (found["甲"].downstream, found["甲"].depth, found["甲"].first_hour) == (1, 2, 1)


def test_comments_alone_show_one_level_and_a_missing_parent_credits_nobody():
    posts = [_post("p1", 1, "甲", 0), _post("c1", 2, "乙", 5, "p1", "comment"),
             _post("c2", 3, "丙", 5, "gone", "comment")]  # fmt: skip
    spread = credit({p.key: p for p in posts})
    assert _table(spread) == [("甲", 1, 1, 0, None)]
    assert spread.deepest == 1 and not spread.by_chain and not spread.by_parent


def _incoming(remote_id, author, minutes, text, kind="status", parent="", followers=None, **extra):  # type: ignore[no-untyped-def]
    return Incoming(platform="sandbox:builtin", remote_id=remote_id, kind=kind, text=text,
                    created_at=T0 + timedelta(minutes=minutes), author_id=f"u-{author}", author_name=author,
                    author_followers=followers, in_reply_to_id=parent, **extra)  # fmt: skip


def _incident_with_a_cascade(personas):  # type: ignore[no-untyped-def]
    monitor = actions.do_create_monitor(
        personas.frank, name="变质", group="brand", rule="示例乳业 变质"
    )
    store(personas.enterprise, [
        _incoming("p1", "甲", 0, "示例乳业酸奶变质，大家别买了", followers=90000),
        _incoming("r1", "乙", 10, "转发微博", "repost", "p1", followers=500),
        _incoming("r2", "丙", 20, "说得对//@乙:转发微博", "repost", "p1", followers=20),
        _incoming("r3", "丁", 90, "//@丙:说得对//@乙:转发微博", "repost", "p1"),
        _incoming("c1", "戊", 30, "真的吗", "comment", "p1"),
        _incoming("x1", "己", 30, "别家的牛奶不错"),  # not about us, nothing below it
        _incoming("old", "庚", -60 * 30, "一个月前的转发", "repost", "p1"),  # before the incident's window
    ])  # fmt: skip
    with time_machine.travel(clock.now() + timedelta(seconds=consumers.SETTLE_S + 1), tick=False):
        consumers.dispatch("monitoring")
    return incidents.do_open_incident(
        personas.frank, title="酸奶变质传闻", severity=6, monitor=monitor
    )


def test_the_incident_room_names_who_carried_it(
    personas, client_for, django_assert_max_num_queries
):
    incident = _incident_with_a_cascade(personas)
    start, end = incidents.window(incident)
    with django_assert_max_num_queries(
        6
    ):  # seeds, parents, two levels down, one empty: never per post
        spread = spreaders.spreaders(incident.monitor, start, end)
    assert _table(spread) == [("甲", 4, 3, 2, 90000), ("乙", 2, 2, 1, 500), ("丙", 1, 1, 0, 20)]
    assert spread.seeds == 1 and spread.posts == 5 and not spread.truncated
    page = client_for("frank").get(f"/monitoring/incidents/{incident.pk}/").content.decode()
    assert "关键传播者" in page and "@甲" in page and "90000" in page
    assert "“//@昵称”转发链" in page  # says where the levels come from
    review = client_for("frank").get(f"/monitoring/incidents/{incident.pk}/review").content.decode()
    assert "关键传播者" in review and "@乙" in review
    mallory = client_for("mallory")
    assert mallory.get(f"/monitoring/incidents/{incident.pk}/").status_code == 404
    assert mallory.get(f"/monitoring/incidents/{incident.pk}/review").status_code == 404


def test_one_level_is_said_to_be_all_the_data_tells(personas, client_for):
    monitor = actions.do_create_monitor(personas.frank, name="品牌", group="brand", rule="示例乳业")
    store(
        personas.enterprise,
        [
            _incoming("p1", "甲", 0, "示例乳业新品"),
            _incoming("c1", "乙", 5, "好喝吗", "comment", "p1"),
        ],
    )
    with time_machine.travel(clock.now() + timedelta(seconds=consumers.SETTLE_S + 1), tick=False):
        consumers.dispatch("monitoring")
    incident = incidents.do_open_incident(
        personas.frank, title="新品讨论", severity=2, monitor=monitor
    )
    page = client_for("frank").get(f"/monitoring/incidents/{incident.pk}/").content.decode()
    assert "只能看出一层" in page
    client = client_for("frank")
    client.post("/i18n/setlang/", {"language": "en"})
    english = client.get(f"/monitoring/incidents/{incident.pk}/").content.decode()
    assert "Key spreaders" in english and "only one level" in english

"""Replay of real data: time order, parent links and chains, pseudonymous users, the
hot-search board — and bad files stopping with file, line and reason, nothing half-loaded."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from guanwei.sandbox import replay, runs
from guanwei.sandbox.models import Comment, SandboxUser, Status
from guanwei.sandbox.models_runs import HotSearchEntry, Run, RunState

from .life_helpers import FakeTime

pytestmark = pytest.mark.django_db


def write_gz(path: Path, rows: list[object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n")
    return path


def cascade(
    mid: str, t: str, reposts: list[tuple[str, str | None, str, str]], uid: str = "100"
) -> dict:
    return {
        "id": mid,
        "label": "rumor",
        "source": {"mid": mid, "uid": uid, "text": f"原微博{mid}：据说示例奶有问题", "time": t,
                   "user": {"verified": True, "verified_type": 0, "gender": "f", "followers": 227833,
                            "friends": 907, "statuses": 5653, "location": "上海", "has_description": True,
                            "created": "2011-07-31T19:38:24+08:00"}},
        "reposts": [{"mid": m, "parent": p, "uid": u, "text": text, "time": tt} for m, p, u, text, tt in
                    [(m, p, u, x, tt) for (m, p, u, x), tt in zip(reposts, _times(t, len(reposts)), strict=True)]],
    }  # fmt: skip


def _times(t0: str, n: int) -> list[str]:
    from datetime import datetime, timedelta

    base = datetime.fromisoformat(t0)
    return [(base + timedelta(minutes=i + 1)).isoformat() for i in range(n)]


def run_replay(dataset: str, data_dir: Path, **kw: object) -> Run:
    run = runs.replay_run(dataset, **kw)  # type: ignore[arg-type]
    run.params["data_dir"] = str(data_dir)
    run.save()
    return runs.execute(run)


def ced_dir(tmp_path: Path) -> Path:
    write_gz(tmp_path / "ced/cascades.jsonl.gz", [
        cascade("A", "2012-09-11T11:34:22+08:00", [
            ("a1", None, "u1", "[泪]"),
            ("a2", "a1", "u2", "太可怕了//@真名用户:[泪]"),
            ("a3", "a2", "u3", ""),
            ("a4", None, "u1", "转发"),
        ]),
        cascade("B", "2012-09-11T11:40:00+08:00", [("b1", None, "u2", "假的吧")], uid="200"),
    ])  # fmt: skip
    return tmp_path


def test_ced_cascades_replay_in_time_order_with_parent_links_and_chains(tmp_path: Path) -> None:
    run = run_replay("ced", ced_dir(tmp_path))
    assert run.state == RunState.DONE, run.error
    assert run.done == run.total == 7
    source = Status.objects.get(text__startswith="原微博A")
    assert source.reposts_count == 4  # every repost in the cascade counts for the original
    a2 = Status.objects.get(text__startswith="太可怕了")
    assert a2.retweeted_status_id == source.pk
    a1 = Status.objects.get(pk=a2.repost_parent_id)
    assert a1.text == "[泪]" and a1.repost_parent_id == source.pk
    # the chain names the sandbox users, never the real ones quoted in the data
    assert a2.text == f"太可怕了//@{a1.user.screen_name}:[泪]" and "真名用户" not in a2.text
    a3 = Status.objects.get(repost_parent=a2)
    assert a3.text == f"转发微博//@{a2.user.screen_name}:{a2.text}"  # a plain repost of a repost
    assert a1.reposts_count == 1 and a2.reposts_count == 1  # direct reposts; the root counts all
    ids_by_time = list(Status.objects.order_by("created_at", "id").values_list("id", flat=True))
    assert ids_by_time == sorted(ids_by_time)  # written in time order
    assert run.summary == {"skipped": 0, "status": 2, "repost": 5}


def test_replayed_users_are_pseudonymous_with_the_source_profile_and_reused(tmp_path: Path) -> None:
    data = ced_dir(tmp_path)
    run_replay("ced", data)
    author = SandboxUser.objects.get(screen_name=replay.pseudonym("ced", "100"))
    assert author.screen_name.startswith("网友") and "100" not in author.screen_name
    assert (
        author.followers_count == 227833 and author.verified_type == 0 and author.location == "上海"
    )
    users = SandboxUser.objects.count()
    run_replay("ced", data)
    assert SandboxUser.objects.count() == users  # the same people again
    assert Status.objects.count() == 14


def test_a_repost_stamped_before_its_parent_is_written_after_it(tmp_path: Path) -> None:
    row = cascade(
        "C", "2013-01-01T10:00:00+08:00", [("c1", None, "u1", "先"), ("c2", "c1", "u2", "后")]
    )
    row["reposts"][1]["time"] = "2013-01-01T09:00:00+08:00"  # crawl noise: before the source
    write_gz(tmp_path / "ced/cascades.jsonl.gz", [row])
    run = run_replay("ced", tmp_path, original_times=True)
    assert run.state == RunState.DONE, run.error
    c1 = Status.objects.get(text="先")
    c2 = Status.objects.get(repost_parent=c1)
    assert c2.created_at >= c1.created_at and c2.pk > c1.pk


@pytest.mark.parametrize(
    "bad_line, reason",
    [
        ('{"id": "X", "source": ', "not JSON"),
        (json.dumps({"id": "X", "source": {"mid": "X", "uid": "9", "text": "t", "time": "昨天"}, "reposts": []}), "bad time"),
        (json.dumps({"id": "X", "source": {"mid": "X", "uid": "9", "text": "t", "time": "2012-01-01T00:00:00+08:00"},
                     "reposts": [{"mid": "x1", "parent": "nope", "uid": "1", "text": "", "time": "2012-01-01T00:01:00+08:00"}]}),
         "not in the cascade"),
        (json.dumps({"id": "X", "source": {"mid": "X", "uid": "9", "text": "t", "time": "2012-01-01T00:00:00+08:00"}}), "reposts"),
    ],
)  # fmt: skip
def test_a_bad_line_stops_the_replay_with_file_line_and_reason_and_nothing_loaded(
    tmp_path: Path, bad_line: str, reason: str
) -> None:
    good = cascade("A", "2012-09-11T11:34:22+08:00", [("a1", None, "u1", "[泪]")])
    path = write_gz(tmp_path / "ced/cascades.jsonl.gz", [good, good | {"id": "B"}, bad_line])
    with pytest.raises(replay.ReplayFileError) as caught:
        replay.select("ced", None, str(tmp_path))
    assert (
        caught.value.path == str(path) and caught.value.line == 3 and reason in caught.value.reason
    )
    run = run_replay("ced", tmp_path)
    assert run.state == RunState.FAILED
    assert f"{path}:3:" in run.error and reason in run.error
    assert Status.objects.count() == 0 and SandboxUser.objects.count() == 0  # nothing half-loaded


def test_the_command_names_the_bad_file_and_line(tmp_path: Path) -> None:
    path = write_gz(tmp_path / "ced/cascades.jsonl.gz", ["not json at all"])
    with pytest.raises(CommandError, match=f"{path}:1: not JSON"):
        call_command("sandbox", "replay", "ced", "--data-dir", str(tmp_path))


def test_a_missing_data_directory_is_reported_not_crashed(tmp_path: Path) -> None:
    run = run_replay("ced", tmp_path / "absent")
    assert run.state == RunState.FAILED and "file not found" in run.error


def covid_dir(tmp_path: Path) -> Path:
    p1, p2, other = "a" * 32, "b" * 32, "c" * 32
    write_gz(
        tmp_path / "covid/checked_posts.jsonl.gz",
        [
            {
                "id": p1,
                "label": "real",
                "time": "2020-01-20T10:00:00+08:00",
                "user_id": "f" * 32,
                "text": "【通报】新增病例",
            },
            {
                "id": p2,
                "label": "fake",
                "time": "2020-01-20T11:00:00+08:00",
                "user_id": "e" * 32,
                "text": "网传消息",
            },
            {
                "id": other,
                "label": "real",
                "time": "2020-01-21T11:00:00+08:00",
                "user_id": "e" * 32,
                "text": "不在选择里",
            },
        ],
    )
    write_gz(tmp_path / "covid/checked_events.jsonl.gz", [
        {"post": p1, "type": "repost", "time": "2019-10-04T16:28:00+08:00"},  # dated before its post
        {"post": p1, "type": "comment", "time": "2020-01-20T10:01:00+08:00"},  # text not kept: skipped
        {"post": p1, "type": "comment", "time": "2020-01-20T10:02:00+08:00", "id": "x", "user_id": "d" * 32, "text": "加油武汉"},
        {"post": p2, "type": "repost", "time": "2020-01-20T11:05:00+08:00"},
        {"post": other, "type": "repost", "time": "2020-01-21T11:05:00+08:00"},
    ])  # fmt: skip
    return tmp_path


def test_covid_posts_replay_with_their_comments_and_reposts(tmp_path: Path) -> None:
    run = run_replay("covid", covid_dir(tmp_path), limit=2)
    assert run.state == RunState.DONE, run.error
    assert run.summary == {"skipped": 1, "status": 2, "repost": 2, "comment": 1}
    post = Status.objects.get(text="【通报】新增病例")
    assert post.comments_count == 1 and post.reposts_count == 1
    assert Comment.objects.get(status=post).text == "加油武汉"
    crowd = Status.objects.get(repost_parent=post).user
    assert crowd.screen_name.startswith("围观网友")
    assert not Status.objects.filter(text="不在选择里").exists()


def test_hot_search_fills_the_board_and_posts_titles_that_enter_it(tmp_path: Path) -> None:
    snap1, snap2 = "2024-05-20T20:00:00+08:00", "2024-05-20T21:00:00+08:00"
    write_gz(tmp_path / "hot_search/hot_search.jsonl.gz", [
        {"snapshot": snap1, "rank": 1, "title": "示例话题一", "heat": 1000, "category": "社会", "ad": False},
        {"snapshot": snap1, "rank": None, "title": "置顶话题", "heat": 0, "category": "社会", "ad": False},
        {"snapshot": snap1, "rank": 2, "title": "某广告", "heat": 0, "category": "", "ad": True},
        {"snapshot": snap2, "rank": 1, "title": "示例话题一", "heat": 2000, "category": "社会", "ad": False},
        {"snapshot": snap2, "rank": 2, "title": "新上榜", "heat": 900, "category": "娱乐", "ad": False},
        {"snapshot": "2024-05-20T22:00:00+08:00", "rank": 1, "title": "第三个快照", "heat": 1, "category": "", "ad": False},
    ])  # fmt: skip
    run = run_replay("hot_search", tmp_path, limit=2)
    assert run.state == RunState.DONE, run.error
    assert HotSearchEntry.objects.count() == 5
    posts = list(
        Status.objects.filter(user__screen_name=replay.HOT_SEARCH_ACCOUNT).values_list(
            "text", flat=True
        )
    )
    assert sorted(posts) == sorted(
        [
            "#示例话题一# 登上热搜第1名，热度1000",
            "#置顶话题# 热搜置顶",
            "#新上榜# 登上热搜第2名，热度900",
        ]
    )


def test_live_replay_writes_as_time_passes_at_the_chosen_speed(tmp_path: Path) -> None:
    time = FakeTime()
    seen: list[tuple[float, int]] = []
    time.on_sleep = lambda t: seen.append((t, Status.objects.count()))
    run = runs.replay_run("ced", speed=60, limit=1)  # a minute of the data per real second
    run.params["data_dir"] = str(ced_dir(tmp_path))
    run.save()
    runs.execute(run, sleep=time.sleep, clock=time.clock)
    assert run.state == RunState.DONE, run.error
    assert Status.objects.count() == 5
    # reposts come one per minute of data: one per real second at speed 60
    assert 3 <= time.t <= 5  # four minutes of data, written in one-second ticks
    counts = [n for _t, n in seen]
    assert counts == sorted(counts) and counts[0] < 5


@pytest.mark.needs_data
def test_real_ced_sample_replays(settings) -> None:  # type: ignore[no-untyped-def]
    if not settings.DATA_DIR:
        pytest.skip("GUANWEI_DATA_DIR is not set")
    run = runs.replay_run("ced", limit=2)
    runs.execute(run)
    assert run.state == RunState.DONE, run.error
    assert run.done == run.total == Status.objects.count() > 2
    assert Status.objects.filter(text__contains="//@").exists()


def test_a_live_replay_on_a_worker_resumes_after_handing_the_worker_back(
    tmp_path: Path,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    time = FakeTime()
    run = runs.replay_run("ced", speed=60, limit=2)
    run.params["data_dir"] = str(ced_dir(tmp_path))
    run.save()
    slices = 0
    while True:
        with django_capture_on_commit_callbacks(execute=False) as queued:
            runs.execute(run, sleep=time.sleep, clock=time.clock, slice_s=2)
        slices += 1
        run.refresh_from_db()
        if run.state != RunState.QUEUED:
            break
        assert len(queued) == 1 and run.params["checkpoint"]["index"] > 0
    assert run.state == RunState.DONE, run.error
    assert slices >= 3
    assert Status.objects.count() == run.done == run.total == 7  # each event once
    a2 = Status.objects.get(text__startswith="太可怕了")
    a1 = Status.objects.get(pk=a2.repost_parent_id)
    assert a2.text == f"太可怕了//@{a1.user.screen_name}:[泪]"  # chains across slices
    assert Status.objects.get(text__startswith="原微博A").reposts_count == 4
    assert run.summary["repost"] == 5 and run.summary["status"] == 2

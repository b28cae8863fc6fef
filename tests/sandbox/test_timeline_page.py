"""The public timeline (广场) as a person on the platform sees it, and the runs page from which
the server operator starts scenarios and replays and watches their progress."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from guanwei.core.models import AuditEntry
from guanwei.sandbox import runs, store
from guanwei.sandbox.models_runs import HotSearchEntry, Run, RunState
from guanwei.sandbox.pages import PAGE_SIZE

from .life_helpers import make_accounts

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():  # type: ignore[no-untyped-def]
    accounts = make_accounts()
    fan = store.create_user(
        "爱喝奶的小王", location="北京 朝阳区", gender="f", description="二胎宝妈"
    )
    kol = store.create_user("上海育儿小鹿", verified_type=0, verified_reason="育儿博主")
    return accounts, fan, kol


def test_timeline_shows_latest_statuses_with_user_time_text_and_counts(people) -> None:  # type: ignore[no-untyped-def]
    accounts, fan, _kol = people
    old = store.post_status(fan, "第一条微博")
    new = store.post_status(
        accounts["parent"], "早安！今天你喝奶了吗？ http://demo.guanwei.local/a"
    )
    store.comment(fan, new, "喝了！")
    store.like(fan, new)
    html = Client().get("/sandbox/").content.decode()
    assert html.index("早安！今天你喝奶了吗？") < html.index("第一条微博")  # newest first
    assert "示例乳业官方微博" in html and f"/sandbox/u/{accounts['parent'].pk}/" in html
    assert f"/sandbox/status/{new.pk}/" in html and f"/sandbox/status/{old.pk}/" in html
    assert "评论 1" in html and "赞 1" in html and "转发 0" in html
    shown = new.created_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%m月%d日 %H:%M")
    assert shown in html  # China time, as Weibo shows it
    assert 'href="http://demo.guanwei.local/a"' in html


def test_repost_chain_shows_the_original_and_links_every_user_in_the_chain(people) -> None:  # type: ignore[no-untyped-def]
    accounts, fan, kol = people
    original = store.post_status(accounts["product"], "新品上市 http://demo.guanwei.local/n")
    first = store.repost(kol, original, "强烈推荐")
    store.repost(fan, first, "冲")
    html = Client().get("/sandbox/").content.decode()
    assert "冲//<a" in html and "@上海育儿小鹿</a>:强烈推荐" in html
    assert 'class="sbx-quote"' in html and "@示例乳业产品</a>" in html
    page = Client().get(f"/sandbox/status/{original.pk}/?tab=reposts").content.decode()
    assert (
        "强烈推荐" in page and "转发 1" in page
    )  # direct reposts listed; the chain counts on the root
    assert Client().get("/sandbox/n/上海育儿小鹿/").url == f"/sandbox/u/{kol.pk}/"


def test_timeline_is_paginated_by_id(people) -> None:  # type: ignore[no-untyped-def]
    _accounts, fan, _kol = people
    statuses = store.bulk_create_statuses(
        [{"user": fan, "text": f"第{i}条"} for i in range(PAGE_SIZE + 5)]
    )
    first = Client().get("/sandbox/")
    assert first.context["next_max"] == statuses[4].pk
    assert (
        f"第{PAGE_SIZE + 4}条" in first.content.decode() and "第4条<" not in first.content.decode()
    )
    second = Client().get(f"/sandbox/?max_id={first.context['next_max']}").content.decode()
    assert "第4条" in second and "第0条" in second and f"第{PAGE_SIZE + 4}条" not in second
    assert Client().get("/sandbox/?max_id=abc").status_code == 200  # bad input: first page


def test_only_originals_filter_and_deleted_statuses_are_hidden(people) -> None:  # type: ignore[no-untyped-def]
    accounts, fan, _kol = people
    s = store.post_status(accounts["parent"], "原创一条")
    store.repost(fan, s, "转发一条")
    store.destroy_status(store.post_status(fan, "删掉的一条"))
    assert "删掉的一条" not in Client().get("/sandbox/").content.decode()
    only = Client().get("/sandbox/?original=1").content.decode()
    assert "原创一条" in only and "转发一条" not in only


def test_private_and_unaudited_app_statuses_are_not_public(people) -> None:  # type: ignore[no-untyped-def]
    _accounts, fan, _kol = people
    unaudited = store.create_app("未审核应用", is_audited=False)
    store.bulk_create_statuses([
        {"user": fan, "text": "测试账号才看得到", "app": unaudited},
        {"user": fan, "text": "仅自己可见", "visible": 1},
        {"user": fan, "text": "大家都看得到"},
    ])  # fmt: skip
    html = Client().get("/sandbox/").content.decode()
    assert "大家都看得到" in html
    assert "测试账号才看得到" not in html and "仅自己可见" not in html
    assert "测试账号才看得到" not in Client().get(f"/sandbox/u/{fan.pk}/").content.decode()


def test_user_page_shows_profile_and_only_their_statuses(people) -> None:  # type: ignore[no-untyped-def]
    accounts, fan, kol = people
    store.post_status(fan, "我的微博")
    store.post_status(kol, "别人的微博")
    store.follow(fan, accounts["parent"])
    html = Client().get(f"/sandbox/u/{fan.pk}/").content.decode()
    assert "爱喝奶的小王" in html and "北京 朝阳区" in html and "二胎宝妈" in html
    assert "我的微博" in html and "别人的微博" not in html
    assert Client().get(f"/sandbox/u/{kol.pk}/").content.decode().count("育儿博主") >= 1
    assert Client().get("/sandbox/u/1/").status_code == 404


def test_text_is_escaped(people) -> None:  # type: ignore[no-untyped-def]
    _accounts, fan, _kol = people
    store.post_status(fan, '<script>alert("x")</script> @爱喝奶的小王 #话题#')
    html = Client().get("/sandbox/").content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert 'class="sbx-topic">#话题#' in html


def test_hot_search_board_shows_the_latest_snapshot(people) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    HotSearchEntry.objects.create(
        snapshot_at=datetime(2024, 5, 20, 12, tzinfo=UTC), rank=1, title="旧热搜"
    )
    HotSearchEntry.objects.create(
        snapshot_at=datetime(2024, 5, 20, 13, tzinfo=UTC), rank=1, title="新热搜"
    )
    html = Client().get("/sandbox/").content.decode()
    assert "新热搜" in html and "旧热搜" not in html


# --- the runs page ------------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [True, False])
def test_runs_are_the_server_operators_alone_in_every_mode(  # type: ignore[no-untyped-def]
    client_for, operator_client, settings, debug
) -> None:
    """A member of one enterprise started the crisis scenario and cancelled others' runs; now
    no tenant role reaches the runs, whatever DEBUG says."""
    settings.DEBUG = debug
    theirs = runs.scenario_run("crisis", minutes=30)
    form = {"kind": "scenario", "s-name": "crisis", "s-minutes": "30", "s-speed": "60",
            "s-intensity": "1"}  # fmt: skip
    assert Client().get("/sandbox/runs/").status_code == 302  # to the login page
    for who in ("alice", "bob", "frank", "heidi", "mallory"):
        web = client_for(who)
        assert web.get("/sandbox/runs/").status_code == 403
        assert web.post("/sandbox/runs/", form).status_code == 403
        assert web.get(f"/sandbox/runs/{theirs.pk}/progress/").status_code == 403
        assert web.post(f"/sandbox/runs/{theirs.pk}/cancel/").status_code == 403
    assert Run.objects.count() == 1
    theirs.refresh_from_db()
    assert not theirs.cancel_requested
    assert operator_client.get("/sandbox/runs/").status_code == 200


def test_the_runs_page_offers_no_way_to_post_as_an_official_account(operator_client) -> None:  # type: ignore[no-untyped-def]
    html = operator_client.get("/sandbox/runs/").content.decode()
    assert "official_posts" not in html and "statement_after" not in html


def test_starting_a_scenario_queues_a_run_whose_progress_is_polled(  # type: ignore[no-untyped-def]
    operator_client, people, django_capture_on_commit_callbacks
) -> None:
    frank = operator_client
    form = {
        "kind": "scenario",
        "s-name": "lottery",
        "s-minutes": "30",
        "s-speed": "60",
        "s-intensity": "1",
        "s-fast_forward": "on",
    }
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = frank.post("/sandbox/runs/", form)
    assert response.status_code == 302 and len(callbacks) == 1  # handed to the worker after commit
    run = Run.objects.get()
    assert (run.kind, run.name, run.state, run.requested_by, run.enterprise_id) == (
        "scenario",
        "lottery",
        "queued",
        "operator olga",
        None,
    )
    assert not AuditEntry.objects.filter(action="sandbox.run_started").exists()  # no tenant's act
    row = frank.get(f"/sandbox/runs/{run.pk}/progress/").content.decode()
    assert 'hx-trigger="every 1s"' in row and "0%" in row
    runs.execute(run)  # what the worker does
    row = frank.get(f"/sandbox/runs/{run.pk}/progress/").content.decode()
    assert "hx-trigger" not in row and "100%" in row and f"关注 {run.summary['follow']}" in row
    assert "lottery" in frank.get("/sandbox/runs/").content.decode()


def test_bad_run_input_is_shown_and_nothing_is_queued(operator_client) -> None:  # type: ignore[no-untyped-def]
    frank = operator_client
    response = frank.post(
        "/sandbox/runs/",
        {
            "kind": "scenario",
            "s-name": "crisis",
            "s-minutes": "0",
            "s-speed": "60",
            "s-intensity": "1",
        },
    )
    assert response.status_code == 200 and Run.objects.count() == 0
    assert response.context["scenario_form"].errors["minutes"]
    response = frank.post("/sandbox/runs/", {"kind": "replay", "r-dataset": "nope", "r-speed": "0"})
    assert response.context["replay_form"].errors["dataset"] and Run.objects.count() == 0


def test_a_running_run_can_be_cancelled(operator_client) -> None:  # type: ignore[no-untyped-def]
    run = runs.scenario_run("crisis", minutes=30)
    Run.objects.filter(pk=run.pk).update(state=RunState.RUNNING)
    response = operator_client.post(f"/sandbox/runs/{run.pk}/cancel/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.cancel_requested



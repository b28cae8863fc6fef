"""Imports of mention files: every layout (CED, weibo-search CSV, WeiboSpider JSON, our own),
every format (CSV, JSON Lines, a JSON array, gzipped), checked whole first (one bad record loads
nothing and is named file:line:reason), idempotent on re-import, and the page and the API as an
analyst, a lower role and an outsider — with hostile files."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile

from guanwei.core.errors import ActionError
from guanwei.listening import imports
from guanwei.listening.models import Import, Mention

API = "/api/v1"


def _run_queued() -> None:
    """What the worker does with queued `listening.run_import` tasks."""
    from django_tasks_db.models import DBTaskResult

    for task in DBTaskResult.objects.filter(task_path="guanwei.listening.imports.run_import_task", status="READY"):
        imports.run_import_task.call(*task.args_kwargs["args"])
        task.delete()


def _import(personas, name: str, data: bytes, capture) -> Import:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        job = imports.do_start_import(personas.frank, SimpleUploadedFile(name, data))
    _run_queued()
    job.refresh_from_db()
    return job


CED = {
    "id": "yBmepBtUB", "label": "rumor",
    "source": {"mid": "yBmepBtUB", "uid": "2279086572", "text": "示例乳业的酸奶喝出了异物", "time": "2024-09-11T11:34:22+08:00",
               "user": {"verified_type": 0, "followers": 227833, "location": "上海", "gender": "f"}},
    "reposts": [
        {"mid": "yBmeZkX5D", "parent": None, "uid": "2330750195", "text": "[泪]", "time": "2024-09-11T11:35:48+08:00"},
        {"mid": "yBmf50feJ", "parent": "yBmeZkX5D", "uid": "virica8534", "text": "", "time": "2024-09-11T11:36:00+08:00"},
    ],
}  # fmt: skip


def test_a_ced_file_loads_every_item_once_and_again_adds_nothing(personas, django_capture_on_commit_callbacks):
    data = gzip.compress((json.dumps(CED, ensure_ascii=False) + "\n").encode())
    job = _import(personas, "ced.jsonl.gz", data, django_capture_on_commit_callbacks)
    assert (job.state, job.layout, job.rows, job.stored, job.duplicates, job.percent) == ("done", "ced", 1, 3, 0, 100)
    mentions = {m.remote_id: m for m in Mention.objects.filter(enterprise=personas.enterprise)}
    assert set(mentions) == {"yBmepBtUB", "yBmeZkX5D", "yBmf50feJ"}
    source = mentions["yBmepBtUB"]
    assert (source.kind, source.source, source.platform) == ("status", "import", imports.PLATFORM)
    assert source.created_at == datetime(2024, 9, 11, 3, 34, 22, tzinfo=UTC)
    assert (source.author.followers_count, source.author.region, source.author.verified_type) == (227833, "上海", 0)
    assert mentions["yBmf50feJ"].in_reply_to_id == "yBmeZkX5D"  # the repost of a repost
    assert mentions["yBmeZkX5D"].in_reply_to_id == "yBmepBtUB"
    assert not Path(job.path).exists()  # the upload is removed once loaded

    again = _import(personas, "ced-again.jsonl", json.dumps(CED, ensure_ascii=False).encode(), django_capture_on_commit_callbacks)
    assert (again.state, again.stored, again.duplicates) == ("done", 0, 3)
    assert Mention.objects.filter(enterprise=personas.enterprise).count() == 3


SEARCH_CSV = (
    "id,bid,user_id,用户昵称,微博正文,头条文章url,发布位置,艾特用户,话题,转发数,评论数,点赞数,发布时间,发布工具,微博图片url,微博视频url,retweet_id,ip,user_authentication\n"
    '4900000000000001,Mabc1,1001,吃货小王,"示例乳业新品,好喝",,,,,1,2,3,2024-03-14 00:57,iPhone,,,,发布于 北京,蓝V\n'
    "4900000000000002,Mabc2,1002,路人,转发：示例乳业,,,,,0,0,0,2024-03-14 01:00,,,,4900000000000001,广东,普通用户\n"
)


def test_a_weibo_search_csv_maps_its_chinese_columns(personas, django_capture_on_commit_callbacks):
    job = _import(personas, "search.csv", SEARCH_CSV.encode("utf-8-sig"), django_capture_on_commit_callbacks)
    assert (job.state, job.layout, job.stored) == ("done", "weibo-search", 2)
    first = Mention.objects.get(remote_id="4900000000000001")
    assert first.text == "示例乳业新品,好喝"
    assert first.url == "https://weibo.com/1001/Mabc1"
    assert (first.author.screen_name, first.author.region, first.author.verified_type) == ("吃货小王", "北京", 1)
    assert first.created_at == datetime(2024, 3, 13, 16, 57, tzinfo=UTC)  # 00:57 in Shanghai
    second = Mention.objects.get(remote_id="4900000000000002")
    assert (second.kind, second.in_reply_to_id) == ("repost", "4900000000000001")


def test_weibospider_json_array_and_our_own_columns(personas, django_capture_on_commit_callbacks):
    spider = [
        {"_id": "4800000000000001", "mblogid": "Lx1", "created_at": "Tue Mar 14 00:57:00 +0800 2023",
         "content": "示例乳业客服态度差", "ip_location": "发布于 上海",
         "user": {"_id": "2001", "nick_name": "消费者A", "verified_type": -1, "followers_count": 12}},
    ]  # fmt: skip
    job = _import(personas, "spider.json", json.dumps(spider, ensure_ascii=False, indent=2).encode(),
                  django_capture_on_commit_callbacks)  # fmt: skip
    assert (job.state, job.layout, job.stored) == ("done", "weibospider", 1)
    m = Mention.objects.get(remote_id="4800000000000001")
    assert (m.url, m.author.screen_name, m.author.region) == ("https://weibo.com/2001/Lx1", "消费者A", "上海")

    own = "id,text,created_at,kind,in_reply_to_id,author_id,followers\nc1,评论一条,2024-01-02T03:04:05Z,comment,4800000000000001,u9,5\n"
    job = _import(personas, "own.csv", own.encode(), django_capture_on_commit_callbacks)
    assert (job.state, job.layout, job.stored) == ("done", "guanwei", 1)
    assert Mention.objects.get(remote_id="c1").thread_id == "4800000000000001"


def test_one_bad_record_rejects_the_whole_file_and_names_file_line_and_reason(personas, django_capture_on_commit_callbacks):
    bad = SEARCH_CSV + "4900000000000003,Mabc3,1003,某人,正文,,,,,0,0,0,昨天下午,,,,,,普通用户\n"
    job = _import(personas, "bad.csv", bad.encode(), django_capture_on_commit_callbacks)
    assert job.state == "rejected"
    assert len(job.errors) == 1
    assert job.errors[0].startswith("bad.csv:4: ")
    assert "昨天下午" in job.errors[0]
    assert Mention.objects.filter(enterprise=personas.enterprise).count() == 0  # nothing half-loaded

    # a JSON array: the line where the bad record starts
    records = [{"id": "a1", "text": "x", "created_at": "2024-01-01T00:00:00Z"},
               {"id": "bad id!", "text": "y", "created_at": "2024-01-01T00:00:00Z"}]  # fmt: skip
    job = _import(personas, "arr.json", json.dumps(records, indent=1).encode(), django_capture_on_commit_callbacks)
    assert job.state == "rejected"
    assert job.errors[0].startswith("arr.json:7: "), job.errors
    assert Mention.objects.filter(enterprise=personas.enterprise).count() == 0


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("garbage.csv", b"\xff\xfe\x00\x01binary\x00", "UTF-8"),
        ("unknown.jsonl", b'{"colour": "red"}\n', "docs/imports.md"),
        ("not-json.jsonl", b'{"id": "a", \n', "JSON"),
        ("open.json", b'[{"id": "a1", "text": "x", "created_at": "2024-01-01T00:00:00Z"}', "]"),
        ("future.csv", b"id,text,created_at\na1,x,2099-01-01 00:00\n", "2099"),
        ("columns.csv", b"id,text,created_at\na1,x\n", "3"),
        ("blank.csv", b"   \n\n", "\u6ca1\u6709\u8bb0\u5f55"),
    ],
)
def test_hostile_and_broken_files_are_rejected_with_a_reason(personas, django_capture_on_commit_callbacks, name, data, reason):
    job = _import(personas, name, data, django_capture_on_commit_callbacks)
    assert job.state == "rejected", job.errors
    assert reason in " ".join(job.errors)
    assert Mention.objects.filter(enterprise=personas.enterprise).count() == 0


def test_nul_and_huge_text_are_cleaned_not_fatal(personas, django_capture_on_commit_callbacks):
    record = {"id": "n1", "text": "示例\x00乳业" + "长" * 20_000, "created_at": "2024-01-01T00:00:00+08:00"}
    job = _import(personas, "nul.jsonl", json.dumps(record).encode(), django_capture_on_commit_callbacks)
    assert job.state == "done"
    text = Mention.objects.get(remote_id="n1").text
    assert text.startswith("示例乳业") and len(text) == 5000


def test_the_upload_is_refused_when_empty_or_too_large_or_not_allowed(personas, settings):
    with pytest.raises(ActionError):
        imports.do_start_import(personas.frank, SimpleUploadedFile("empty.csv", b""))
    settings.IMPORT_MAX_MB = 0
    with pytest.raises(ActionError):
        imports.do_start_import(personas.frank, SimpleUploadedFile("a.csv", b"id\n"))
    with pytest.raises(PermissionDenied):
        imports.do_start_import(personas.members["carol"], SimpleUploadedFile("a.csv", b"id\n"))  # an editor


def test_the_page_and_the_api_as_analyst_lower_role_and_outsider(personas, client_for, django_capture_on_commit_callbacks):
    from guanwei.core.actions import do_create_api_token

    frank = client_for("frank")
    assert frank.get("/listening/imports/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = frank.post("/listening/imports/", {"file": SimpleUploadedFile("search.csv", SEARCH_CSV.encode())})
    assert response.status_code == 302
    _run_queued()
    job = Import.objects.get(enterprise=personas.enterprise)
    row = frank.get(f"/listening/imports/{job.pk}/")
    assert row.status_code == 200 and "100%" in row.content.decode()
    assert client_for("carol").get("/listening/imports/").status_code == 403
    assert client_for("mallory").get(f"/listening/imports/{job.pk}/").status_code == 404
    assert frank.post("/listening/imports/", {}).status_code == 302  # no file: a message, not a 500

    token = do_create_api_token(personas.frank, "scripts").token
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    with django_capture_on_commit_callbacks(execute=True):
        created = frank.post(f"{API}/imports", {"file": SimpleUploadedFile("ced.jsonl", json.dumps(CED).encode())}, **headers)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["state"] == "queued" and body["name"] == "ced.jsonl"
    _run_queued()
    detail = frank.get(f"{API}/imports/{body['id']}", **headers).json()
    assert (detail["state"], detail["stored"], detail["layout"]) == ("done", 3, "ced")
    assert len(frank.get(f"{API}/imports", **headers).json()["items"]) == 2
    mallory = do_create_api_token(personas.mallory, "x").token
    assert frank.get(f"{API}/imports/{body['id']}", HTTP_AUTHORIZATION=f"Bearer {mallory}").status_code == 404
    assert frank.post(f"{API}/imports", {}, **headers).status_code in (400, 422)


def test_the_command_imports_a_file_on_the_server_and_leaves_it(personas, tmp_path):
    from django.core.management import call_command

    path = tmp_path / "feed.csv"
    path.write_text(SEARCH_CSV, encoding="utf-8")
    call_command("import_mentions", str(path), enterprise=personas.enterprise.slug, member="frank")
    assert path.exists()
    assert Import.objects.get(enterprise=personas.enterprise).stored == 2

"""Exports (core.exports): small lists stream in the request; large ones run in the worker with
progress, and only their requester downloads the file, until it expires."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import time_machine

from guanwei.core import audit, clock, exports
from guanwei.core.actions import do_change_role, do_deactivate_member
from guanwei.core.models import AuditEntry, Export


@pytest.fixture
def small_inline_limit(monkeypatch):
    """Three rows are "large": the background path without writing thousands of entries."""
    monkeypatch.setattr(exports, "INLINE_MAX_ROWS", 3)


def _log(personas, n: int, action: str = "member.invited") -> None:
    for i in range(n):
        audit.record(personas.enterprise, personas.alice, action, summary=f"row-{i}")


def _rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _request_in_background(client, query: str = "") -> Export:
    response = client.post("/audit/export.csv" + (f"?{query}" if query else ""))
    assert response.status_code == 302
    export = Export.objects.latest("pk")
    assert response["Location"] == f"/exports/{export.pk}/"
    return export


def test_a_small_export_streams_in_the_request_and_is_audited(personas, client_for):
    _log(personas, 2)
    response = client_for("alice").get("/audit/export.csv")
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert 'filename="guanwei-audit-' in response["Content-Disposition"]
    # header, the two entries, and the entry of this export itself (written before the rows)
    assert len(_rows(b"".join(response.streaming_content))) == 1 + 2 + 1
    assert not Export.objects.exists()
    entry = AuditEntry.objects.get(action="export.created")
    assert entry.params == {"kind": "audit", "background": False}
    assert entry.summary_text == "审计日志（直接下载）"


def test_a_large_export_asks_first_and_a_get_changes_nothing(personas, client_for, small_inline_limit):
    _log(personas, 5)
    response = client_for("alice").get("/audit/export.csv?action=member.invited")
    assert response.status_code == 200 and not getattr(response, "streaming", False)
    html = response.content.decode()
    assert "在后台生成 CSV" in html and 'action="?action=member.invited"' in html
    assert not Export.objects.exists()
    assert not AuditEntry.objects.filter(action="export.created").exists()


def test_the_worker_writes_the_same_rows_the_request_would_have(
    personas, client_for, small_inline_limit, django_capture_on_commit_callbacks
):
    _log(personas, 5)
    _log(personas, 2, action="member.role_changed")
    client = client_for("alice")
    with django_capture_on_commit_callbacks() as callbacks:
        export = _request_in_background(client, "action=member.invited")
    assert export.state == Export.State.QUEUED and export.params == {"action": ["member.invited"]}
    assert len(callbacks) == 1  # the task is enqueued once the row is committed
    assert AuditEntry.objects.get(action="export.created").object_id == str(export.pk)

    assert exports.run(export.pk) == Export.State.DONE
    export.refresh_from_db()
    assert (export.rows_total, export.rows_done, export.percent) == (5, 5, 100)
    assert export.finished_at and export.size > 0

    body = b"".join(client.get(f"/exports/{export.pk}/download").streaming_content)
    rows = _rows(body)
    assert rows[0][:3] == ["time", "actor", "action"]
    assert sorted(r[5] for r in rows[1:]) == [f"row-{i}" for i in range(5)]
    # The same filter, streamed (no limit), gives the same file.
    exports.INLINE_MAX_ROWS = 100
    inline = b"".join(client.get("/audit/export.csv?action=member.invited").streaming_content)
    assert _rows(inline)[1:] == rows[1:]


def test_progress_is_written_while_the_file_grows(personas, client_for, small_inline_limit, monkeypatch):
    monkeypatch.setattr(exports, "PROGRESS_EVERY", 2)
    _log(personas, 5)
    export = _request_in_background(client_for("alice"))
    seen: list[int] = []
    original = exports.KINDS["audit"].lines

    def watching(qs, member):  # type: ignore[no-untyped-def]
        for line in original(qs, member):
            seen.append(Export.objects.get(pk=export.pk).rows_done)
            yield line

    monkeypatch.setitem(exports.KINDS, "audit", exports.ExportKind(**{**exports.KINDS["audit"].__dict__, "lines": watching}))
    exports.run(export.pk)
    assert seen == [0, 0, 0, 2, 2, 4, 4]  # header, then a write every two rows


def test_the_progress_page_polls_while_running_and_offers_the_file_when_done(
    personas, client_for, small_inline_limit
):
    _log(personas, 4)
    client = client_for("alice")
    export = _request_in_background(client)
    page = client.get(f"/exports/{export.pk}/").content.decode()
    assert "排队等待后台任务" in page and 'hx-trigger="every 2s"' in page
    Export.objects.filter(pk=export.pk).update(state="running", rows_total=4, rows_done=2)
    fragment = client.get(f"/exports/{export.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and "已写入 2 / 4 行" in fragment and 'value="50"' in fragment
    exports.run(export.pk)
    fragment = client.get(f"/exports/{export.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in fragment and f"/exports/{export.pk}/download" in fragment
    listing = client.get("/exports/").content.decode()
    assert "审计日志" in listing and f"/exports/{export.pk}/download" in listing


def test_only_the_requester_downloads(personas, client_for, small_inline_limit):
    _log(personas, 4)
    export = _request_in_background(client_for("alice"))
    exports.run(export.pk)
    assert client_for("alice").get(f"/exports/{export.pk}/download").status_code == 200
    # A colleague who may read the audit log too, and another tenant's owner: not theirs.
    for who in ("bob", "mallory"):
        assert client_for(who).get(f"/exports/{export.pk}/").status_code == 404
        assert client_for(who).get(f"/exports/{export.pk}/download").status_code == 404
    anonymous = client_for("alice").__class__()
    assert anonymous.get(f"/exports/{export.pk}/download").status_code == 302  # to sign-in


def test_a_requester_who_lost_the_right_gets_nothing(personas, client_for, small_inline_limit):
    _log(personas, 4)
    client = client_for("bob")
    done = _request_in_background(client)
    exports.run(done.pk)
    queued = _request_in_background(client)
    do_change_role(personas.alice, personas.bob, "editor")  # editors may not read the audit log
    assert exports.run(queued.pk) == Export.State.FAILED
    queued.refresh_from_db()
    assert queued.error == "forbidden" and not queued.file_name
    assert client.get(f"/exports/{done.pk}/download").status_code == 404
    do_deactivate_member(personas.alice, personas.bob)
    assert not exports.downloadable(Export.objects.get(pk=done.pk))


def test_filters_that_no_longer_hold_fail_the_export_with_a_reason(personas, client_for, small_inline_limit):
    _log(personas, 4)
    client = client_for("alice")
    export = _request_in_background(client, f"actor={personas.carol.pk}")
    personas.carol.user.delete()  # the chosen actor is gone by the time the worker runs
    assert exports.run(export.pk) == Export.State.FAILED
    page = client.get(f"/exports/{export.pk}/").content.decode()
    assert "筛选条件已失效" in page


def test_invalid_filters_are_refused_before_anything_is_recorded(personas, client_for, small_inline_limit):
    _log(personas, 4)
    for method in ("get", "post"):
        response = getattr(client_for("alice"), method)("/audit/export.csv?since=9999-99-99")
        assert response.status_code == 422
    assert not Export.objects.exists()


def test_one_member_may_have_three_unfinished_exports(personas, client_for, small_inline_limit):
    _log(personas, 4)
    client = client_for("alice")
    for _ in range(exports.MAX_UNFINISHED_PER_MEMBER):
        _request_in_background(client)
    response = client.post("/audit/export.csv")
    assert response.status_code == 429 and "正在生成" in response.content.decode()
    assert Export.objects.count() == exports.MAX_UNFINISHED_PER_MEMBER


def test_a_lost_run_is_written_again_from_the_start(personas, client_for, small_inline_limit):
    """The task is in ops.recovery.RERUN_SAFE: a second run (after a worker died) starts over."""
    from guanwei.ops.recovery import RERUN_SAFE

    assert "guanwei.core.exports.run_export" in RERUN_SAFE
    _log(personas, 4)
    export = _request_in_background(client_for("alice"))
    Export.objects.filter(pk=export.pk).update(state="running", rows_done=3)
    assert exports.run(export.pk) == Export.State.DONE
    assert Export.objects.get(pk=export.pk).rows_done == 4 + 1  # and the export's own entry
    assert exports.run(export.pk) == "skipped"  # a finished export is not written twice


def test_expired_exports_are_deleted_with_their_files(personas, client_for, small_inline_limit):
    from django.core.files.storage import storages

    _log(personas, 4)
    client = client_for("alice")
    export = _request_in_background(client)
    exports.run(export.pk)
    export.refresh_from_db()
    assert storages["exports"].exists(export.file_name)
    with time_machine.travel(clock.now() + timedelta(hours=25), tick=False):
        assert client.get(f"/exports/{export.pk}/download").status_code == 404
        assert exports.prune() == 1
    assert not storages["exports"].exists(export.file_name)
    assert not Export.objects.exists()


def test_hostile_export_ids_are_404(personas, client_for):
    client = client_for("alice")
    for raw in ("99999999999999999999999999", "0"):
        assert client.get(f"/exports/{raw}/").status_code == 404
        assert client.get(f"/exports/{raw}/download").status_code == 404

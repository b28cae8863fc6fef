"""In the browser: a large audit export is offered in the background, its page follows the
worker's progress without a reload (htmx), and the file downloads."""

import pytest

from guanwei.core import audit, exports
from guanwei.core.models import Export
from tests.browser.conftest import login
from tests.personas import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_large_export_runs_in_the_background_and_downloads(personas, live_server, page, settings, monkeypatch, screenshots):
    base = live_server.url
    settings.BASE_URL = base
    monkeypatch.setattr(exports, "INLINE_MAX_ROWS", 3)  # the server thread shares this module
    for i in range(6):
        audit.record(personas.enterprise, personas.alice, "member.invited", summary=f"row-{i}")
    login(page, base, "alice", PASSWORD)
    page.goto(base + "/audit/?action=member.invited")
    page.click("text=导出 CSV")
    assert "超过 3 条" in page.inner_text("main")
    page.click("text=在后台生成 CSV")
    page.wait_for_url(base + "/exports/*/")
    assert "排队等待后台任务" in page.inner_text("main")
    export = Export.objects.get()
    assert export.params == {"action": ["member.invited"]}

    exports.run(export.pk)  # what the worker does
    page.wait_for_selector("text=下载 CSV")  # the page polled and saw it finish
    assert "已完成：6 行" in page.inner_text("main")
    page.screenshot(path=screenshots / "export-done-1280-zh.png", full_page=True)
    with page.expect_download() as info:
        page.click("text=下载 CSV")
    download = info.value
    assert download.suggested_filename.startswith("guanwei-audit-")
    body = open(download.path(), encoding="utf-8-sig").read()
    assert body.count("\n") == 7 and "row-5" in body

    page.goto(base + "/exports/")
    assert "审计日志" in page.inner_text("main")

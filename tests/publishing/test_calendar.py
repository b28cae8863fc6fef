"""The content calendar: month and week views with holidays, 调休 and marketing days; drag to
reschedule; filters; CSV export and import (a bad row imports nothing); on this date in hot search."""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from guanwei.publishing import actions, calendar, rules
from guanwei.publishing.models import Post

LINK = "https://demo.guanwei.local/p/1"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _setup(personas):  # type: ignore[no-untyped-def]
    personas.connection.safe_domain = "demo.guanwei.local"
    personas.connection.save()
    with time_machine.travel(datetime(2026, 9, 1, 9, 0, tzinfo=SHANGHAI), tick=False):
        yield


def _post(personas, text: str, at: datetime, **extra):  # type: ignore[no-untyped-def]
    return actions.do_create_post(personas.carol, text=f"{text} {LINK}", accounts=[personas.accounts["product"].pk],
                                  scheduled_at=at, **extra)  # fmt: skip


def test_holidays_and_adjusted_working_days_come_from_the_holidays_package():
    days = {d.date: d for week in calendar.month_grid(2026, 10) for d in week}
    assert days[date(2026, 10, 1)].holiday and days[date(2026, 10, 1)].off
    assert days[date(2026, 10, 10)].workday and not days[date(2026, 10, 10)].off  # a Saturday, 调休上班
    assert not days[date(2026, 10, 9)].off
    assert "双11" in calendar.marketing_days(2026)[date(2026, 11, 11)]
    assert "母亲节" in calendar.marketing_days(2027)[date(2027, 5, 9)]  # second Sunday of May


def test_month_and_week_views_place_posts_on_their_local_day(personas, client_for):
    _post(personas, "国庆预热", datetime(2026, 10, 1, 0, 30, tzinfo=SHANGHAI))  # 30 Sep 16:30 UTC
    heidi = client_for("heidi")
    month = heidi.get("/publishing/?view=month&date=2026-10-01").content.decode()
    day = month.split('data-date="2026-10-01"', 1)[1].split("</td>", 1)[0]
    assert "国庆预热" in day and "00:30" in day and "国庆节" in day
    assert "调休上班" in month
    week = heidi.get("/publishing/?view=week&date=2026-09-30").content.decode()
    assert "国庆预热" in week and "draggable" not in week  # a viewer cannot drag
    assert 'draggable="true"' in client_for("carol").get("/publishing/?view=week&date=2026-09-30").content.decode()
    assert "国庆预热" not in client_for("mallory").get("/publishing/?view=month&date=2026-10-01").content.decode()
    # junk in the query never breaks the page
    for query in ("view=year", "date=2026-13-45", "account=abc", "state=nope", "series=1" + "0" * 30,
                  "date=9999-12-01", "view=week&date=9999-12-27", "date=0001-01-01", "view=week&date=0001-01-07"):
        assert heidi.get(f"/publishing/?{query}").status_code == 200


def test_drag_to_another_day_keeps_the_time_and_the_approval(personas, client_for):
    post = _post(personas, "周末活动", datetime(2026, 9, 10, 20, 0, tzinfo=SHANGHAI))
    actions.do_submit(personas.carol, post)
    actions.do_approve(personas.dave, post)
    carol = client_for("carol")
    response = carol.post(f"/publishing/posts/{post.pk}/move", {"date": "2026-09-12"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "周末活动" in response.content.decode()
    post.refresh_from_db()
    assert post.scheduled_at == datetime(2026, 9, 12, 20, 0, tzinfo=SHANGHAI)
    assert {t.state for t in post.targets.all()} == {"scheduled"}
    assert post.targets.get().due_at == datetime(2026, 9, 12, 20, 0, tzinfo=SHANGHAI)
    past = carol.post(f"/publishing/posts/{post.pk}/move", {"date": "2026-08-01"}, HTTP_HX_REQUEST="true")
    assert past.status_code == 422 and "过去" in past.content.decode()
    assert carol.post(f"/publishing/posts/{post.pk}/move", {"date": "junk"}).status_code == 302
    far = carol.post(f"/publishing/posts/{post.pk}/move", {"date": "2099-12-31"}, HTTP_HX_REQUEST="true")
    assert far.status_code == 422 and "三年" in far.content.decode()
    assert client_for("heidi").post(f"/publishing/posts/{post.pk}/move", {"date": "2026-09-13"}).status_code == 403
    assert client_for("mallory").post(f"/publishing/posts/{post.pk}/move", {"date": "2026-09-13"}).status_code == 404


def test_filters_by_series_and_campaign(personas, client_for):
    series = rules.do_add_tag(personas.alice, "series", "过去现在未来")
    _post(personas, "系列第一篇", datetime(2026, 9, 5, 10, 0, tzinfo=SHANGHAI), series=series.pk)
    _post(personas, "普通一篇", datetime(2026, 9, 6, 10, 0, tzinfo=SHANGHAI))
    page = client_for("heidi").get(f"/publishing/?view=month&date=2026-09-01&series={series.pk}").content.decode()
    assert "系列第一篇" in page and "普通一篇" not in page
    assert client_for("heidi").post("/publishing/tags/", {"kind": "series", "name": "x"}).status_code == 403


def test_the_plan_exports_and_a_bad_row_imports_nothing(personas, client_for):
    _post(personas, "导出这条", datetime(2026, 9, 5, 10, 0, tzinfo=SHANGHAI))
    carol = client_for("carol")
    exported = b"".join(carol.get("/publishing/export?view=list").streaming_content).decode("utf-8-sig")
    assert exported.splitlines()[0].startswith("scheduled_at,accounts,text,content_type,series,campaign")
    assert "导出这条" in exported and "2026-09-05T10:00:00+08:00" in exported
    bad = (
        "scheduled_at,accounts,text,content_type\n"
        f"2026-09-20 09:00,示例乳业产品,好的一行 {LINK},general\n"
        f"2026-09-21 09:00,不存在的账号,坏账号 {LINK},general\n"
        f"明天早上,示例乳业产品,坏时间 {LINK},general\n"
        f"2026-09-22 09:00,示例乳业产品,{'长' * 150} {LINK},general\n"
    ).encode()
    response = carol.post("/publishing/import/", {"file": io.BytesIO(bad)})
    page = response.content.decode()
    assert response.status_code == 422 and "不存在的账号" in page and "明天早上" in page
    impossible = carol.post("/publishing/import/", {"file": io.BytesIO(
        f"scheduled_at,accounts,text\n2026-99-99 25:00,示例乳业产品,x {LINK}\n".encode())}).content.decode()  # fmt: skip
    assert "看不懂" in impossible and "month must be" not in impossible
    assert Post.objects.count() == 1  # nothing imported
    first_pass = [line for line in ("<td data-label=\"行\">3</td>", "<td data-label=\"行\">4</td>") if line in page]
    assert len(first_pass) == 2
    over = bad.replace("不存在的账号".encode(), "示例乳业产品".encode()).replace("明天早上".encode(), b"2026-09-23 09:00")
    page = carol.post("/publishing/import/", {"file": io.BytesIO(over)}).content.decode()
    assert "140" in page and Post.objects.count() == 1  # the composer's own rules, row 5
    good = over.replace(("长" * 150).encode(), "第四行".encode())
    response = carol.post("/publishing/import/", {"file": io.BytesIO(good)})
    assert response.status_code == 302 and Post.objects.count() == 5
    assert Post.objects.get(text__startswith="好的一行").scheduled_at == datetime(2026, 9, 20, 9, 0, tzinfo=SHANGHAI)
    for junk in (b"\xff\xfe\x00", b"a,b\n1,2\n", b""):
        assert carol.post("/publishing/import/", {"file": io.BytesIO(junk), "name": "x.csv"}).status_code == 422


def test_on_this_date_says_when_the_history_is_missing(client_for, settings):
    settings.DATA_DIR = ""
    html = client_for("heidi").get("/publishing/on-this-date?date=2026-10-01").content.decode()
    assert "GUANWEI_DATA_DIR" in html


@pytest.mark.needs_data
def test_on_this_date_lists_earlier_years_hot_search(client_for, settings):
    from pathlib import Path

    if not settings.DATA_DIR or not Path(settings.DATA_DIR, "hot_search").exists():
        pytest.skip("GUANWEI_DATA_DIR (with hot_search/) is not set")
    years = calendar.on_this_date(date(2026, 10, 1))
    assert years and set(years) >= {"2024", "2025"} and all(len(t) <= calendar.PER_DAY for t in years.values())
    html = client_for("heidi").get("/publishing/on-this-date?date=2026-10-01").content.decode()
    assert "2025" in html and years["2025"][0] in html


def test_an_enterprise_that_observes_summer_time_keeps_its_local_hours(personas, client_for):
    """Berlin moves its clocks on 28 March 2027: 09:00 local is 08:00 UTC before, 07:00 after —
    typed in the composer, and kept when the post is dragged across the change."""
    from datetime import UTC

    personas.enterprise.time_zone = "Europe/Berlin"
    personas.enterprise.save()
    product = personas.accounts["product"].pk
    with time_machine.travel(datetime(2027, 3, 1, 12, 0, tzinfo=UTC), tick=False):
        carol = client_for("carol")  # signed in now: a session from September would have expired
        r = carol.post("/publishing/compose/", {"text": f"冬令时 {LINK}", "accounts": [product], "scheduled_at": "2027-03-27T09:00"})
        assert r.status_code == 302, r.context["form"].errors
        carol.post("/publishing/compose/", {"text": f"夏令时 {LINK}", "accounts": [product], "scheduled_at": "2027-03-29T09:00"})
        winter, summer = Post.objects.get(text__startswith="冬令时"), Post.objects.get(text__startswith="夏令时")
        assert winter.scheduled_at == datetime(2027, 3, 27, 8, 0, tzinfo=UTC)
        assert summer.scheduled_at == datetime(2027, 3, 29, 7, 0, tzinfo=UTC)
        carol.post(f"/publishing/posts/{winter.pk}/move", {"date": "2027-03-30"})
        winter.refresh_from_db()
        assert winter.scheduled_at == datetime(2027, 3, 30, 7, 0, tzinfo=UTC)  # still 09:00 in Berlin
        export = b"".join(carol.get("/publishing/export").streaming_content).decode("utf-8-sig")
        assert "2027-03-30T09:00:00+02:00" in export and "2027-03-29T09:00:00+02:00" in export

"""The audit log: append-only down to the database, filtered and paginated page, CSV export."""

import csv
import io
import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import DatabaseError, connection, transaction

from guanwei.core import audit
from guanwei.core.db_guards import AUDIT_COLUMNS
from guanwei.core.models import AuditEntry


def entry_at(personas, when: datetime, action: str, actor=None, summary: str = "") -> AuditEntry:
    with time_machine.travel(when, tick=False):
        return audit.record(personas.enterprise, actor or personas.alice, action, actor or personas.alice,
                            summary=summary)


def test_orm_refuses_to_update_or_delete_entries(personas):
    entry = audit.record(personas.enterprise, personas.alice, "test.thing")
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).update(summary="rewritten")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE core_auditentry SET summary = 'rewritten'",
        "UPDATE core_auditentry SET actor_id = NULL, summary = 'rewritten'",
        "DELETE FROM core_auditentry",
    ],
)
def test_database_refuses_raw_update_and_delete(personas, sql):
    audit.record(personas.enterprise, personas.alice, "test.thing", summary="original")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEntry.objects.get().summary == "original"


def test_erasing_a_user_keeps_their_entries_with_the_name(personas):
    """The one change the database allows: ON DELETE SET NULL of the actor."""
    audit.record(personas.enterprise, personas.erin, "test.thing")
    personas.erin.user.delete()
    entry = AuditEntry.objects.get(action="test.thing")
    assert entry.actor is None and entry.actor_label == "Erin 客服"


def test_sqlite_trigger_lists_every_audit_column():
    columns = {f.column for f in AuditEntry._meta.concrete_fields} - {"actor_id"}
    assert columns == set(AUDIT_COLUMNS), "update core/db_guards.py AUDIT_COLUMNS (and add a migration)"


def test_no_route_edits_or_deletes_audit_entries():
    from django.urls import get_resolver

    def names(patterns, prefix=""):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                yield from names(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern), getattr(p.callback, "__name__", "")

    audit_routes = {route for route, _view in names(get_resolver().url_patterns) if "audit" in route}
    # Equal, not a subset: the walk must find the two read routes, or it proves nothing.
    assert audit_routes == {"audit/", "audit/export.csv"}


@pytest.mark.parametrize(("who", "status"), [("alice", 200), ("bob", 200), ("heidi", 200), ("carol", 403),
                                             ("dave", 403), ("erin", 403), ("frank", 403), ("grace", 403)])
def test_audit_page_is_for_owners_admins_and_management(personas, client_for, who, status):
    assert client_for(who).get("/audit/").status_code == status
    assert client_for(who).get("/audit/export.csv").status_code == status


def test_audit_page_filters_by_actor_action_type_and_dates_in_the_enterprise_zone(personas, client_for):
    # 2026-03-01 23:30 in Shanghai is 15:30 UTC the same day; 2026-03-02 00:30 Shanghai is 03-01 16:30 UTC.
    entry_at(personas, datetime(2026, 3, 1, 15, 30, tzinfo=UTC), "member.invited", summary="march-first")
    entry_at(personas, datetime(2026, 3, 1, 16, 30, tzinfo=UTC), "member.role_changed", personas.dave,
             summary="march-second")
    entry_at(personas, datetime(2026, 4, 1, 0, 0, tzinfo=UTC), "member.invited", summary="april")
    audit.record(personas.outsider_enterprise, personas.mallory, "member.invited", summary="outsider-entry")
    client = client_for("heidi")

    def shown(query: str) -> set[str]:
        html = client.get("/audit/?" + query).content.decode()
        return {s for s in ("march-first", "march-second", "april", "outsider-entry") if s in html}

    assert shown("") == {"march-first", "march-second", "april"}
    assert "2026-03-01 23:30:00" in client.get("/audit/").content.decode()  # Asia/Shanghai
    assert shown("action=member.invited") == {"march-first", "april"}
    assert shown(f"actor={personas.dave.pk}") == {"march-second"}
    assert shown("since=2026-03-01&until=2026-03-01") == {"march-first"}
    assert shown("since=2026-03-02&until=2026-03-31") == {"march-second"}
    assert shown("object_type=core.member") == {"march-first", "march-second", "april"}
    # Another enterprise's member is not a choice: the filter says so and leaks nothing.
    outsider_filter = client.get(f"/audit/?actor={personas.mallory.pk}").content.decode()
    assert "操作人：" in outsider_filter and "outsider-entry" not in outsider_filter


def test_bad_date_range_names_the_field(personas, client_for):
    html = client_for("alice").get("/audit/?since=2026-05-02&until=2026-05-01").content.decode()
    assert "结束日期：结束日期不能早于开始日期" in html


def test_audit_page_is_paginated_in_the_database(personas, client_for, django_assert_max_num_queries):
    for i in range(120):
        audit.record(personas.enterprise, personas.alice, "member.deactivated", summary=f"row-{i:03d}")
    client = client_for("alice")
    with django_assert_max_num_queries(12):
        first = client.get("/audit/?action=member.deactivated").content.decode()
    assert "row-119" in first and "row-070" in first and "row-069" not in first
    assert "COUNT(" not in str(connection.queries)  # keyset pages count nothing

    def older(html: str) -> str:
        (link,) = re.findall(r'href="\?([^"]*before=[^"]+)"', html)
        assert "action=member.deactivated" in link  # the filters are kept
        return "/audit/?" + link.replace("&amp;", "&")

    second = client.get(older(first)).content.decode()
    assert "row-069" in second and "row-020" in second and "row-070" not in second
    third = client.get(older(second)).content.decode()
    assert "row-019" in third and "row-000" in third and "row-020" not in third
    assert not re.findall(r'href="\?([^"]*before=[^"]+)"', third)  # the last page: no "older"
    newer = re.findall(r'href="\?([^"]*after=[^"]+)"', third)[0].replace("&amp;", "&")
    assert "row-069" in client.get("/audit/?" + newer).content.decode()


def test_a_malformed_page_cursor_shows_the_first_page(personas, client_for):
    audit.record(personas.enterprise, personas.alice, "member.invited", summary="only-row")
    for cursor in ("x", "%00", "MjAyNi0xMy0wMXwx", "a" * 5000):
        response = client_for("alice").get("/audit/", {"before": cursor})
        assert response.status_code == 200 and "only-row" in response.content.decode()


def test_csv_export_streams_the_filtered_set(personas, client_for):
    audit.record(personas.enterprise, personas.alice, "member.invited", summary="=HYPERLINK(\"x\")")
    audit.record(personas.enterprise, personas.bob, "member.role_changed", summary="changed")
    audit.record(personas.outsider_enterprise, personas.mallory, "member.invited", summary="outsider")
    response = client_for("alice").get("/audit/export.csv?action=member.invited")
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["time", "actor", "action", "object_type", "object_id", "summary", "ip", "detail"]
    assert [(r[1], r[2], r[5]) for r in rows[1:]] == [("Alice 所有者", "member.invited", "'=HYPERLINK(\"x\")")]
    assert rows[1][0].endswith("+08:00")  # shown in the enterprise's time zone


def test_audit_page_names_actions_and_object_types(personas, client_for):
    from guanwei.core.actions import do_change_role

    do_change_role(personas.alice, personas.carol, "reviewer")
    html = client_for("alice").get("/audit/").content.decode()
    assert "更改角色" in html and "member.role_changed" in html
    assert f"成员 #{personas.carol.pk}" in html


@pytest.mark.django_db(transaction=True)
def test_test_database_flush_empties_the_audit_log_and_keeps_it_guarded():
    """Transactional tests (live_server) flush tables between tests; the audit table refuses
    DELETE, so conftest lets the flush through — and the guard must be back afterwards."""
    from django.core.management import call_command

    from tests import personas as P

    p = P.build()
    audit.record(p.enterprise, p.alice, "test.thing")
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEntry.objects.exists()
    p = P.build()
    audit.record(p.enterprise, p.alice, "test.thing", summary="original")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE core_auditentry SET summary = 'rewritten'")


def test_the_actor_filter_is_a_bounded_searchable_chooser(personas, client_for):
    from guanwei.core.models import Member
    from tests.personas import make_members

    make_members(personas.enterprise, [(f"m{i:03d}", "viewer", f"批量成员{i:03d}") for i in range(60)])
    client = client_for("alice")
    page = client.get("/audit/").content.decode()
    assert "批量成员" not in page  # no <option> per member on the page
    chosen = Member.objects.get(display_name="批量成员007")
    page = client.get("/audit/", {"actor": chosen.pk}).content.decode()
    assert page.count("批量成员") == 1  # only the selected one is rendered
    options = client.get("/members/choose", {"q": "批量成员0"}).content.decode()
    assert options.count("<option") == 1 + 20  # "all" + at most 20
    assert "批量成员" in client.get("/members/choose", {"actor_q": "007", "field": "actor"}).content.decode()
    theirs = client_for("mallory").get("/members/choose", {"q": "批量"}).content.decode()
    assert "批量成员" not in theirs  # another tenant searches only its own members

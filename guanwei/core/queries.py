"""Reads that take more than one line: the member list, the filtered audit log and its CSV
rows."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from guanwei.core.models import AuditEntry, Member


def members_of(member: Member) -> Any:
    """The enterprise's members as the members page and the API list them: by name, with the
    user joined (both show the username)."""
    return Member.objects.for_member(member).select_related("user").order_by("display_name", "pk")


def audit_entries(member: Member, filters: dict[str, Any]) -> Any:
    """The member's enterprise's entries, newest first, filtered in the database. Dates are
    days in the enterprise's time zone; `until` includes its whole day."""
    qs = AuditEntry.objects.for_member(member)
    tz = ZoneInfo(member.enterprise.time_zone)
    if filters.get("actor"):
        qs = qs.filter(actor=filters["actor"])
    if filters.get("action"):
        qs = qs.filter(action=filters["action"])
    if filters.get("object_type"):
        qs = qs.filter(object_type=filters["object_type"])
    since: date | None = filters.get("since")
    until: date | None = filters.get("until")
    if since:
        qs = qs.filter(created_at__gte=datetime.combine(since, time.min, tz))
    if until:
        qs = qs.filter(created_at__lt=datetime.combine(until + timedelta(days=1), time.min, tz))
    return qs.order_by("-created_at", "-id")


def audit_choices(member: Member) -> tuple[list[str], list[str]]:
    """The filter's choices: every action the code can write (core.audit.ACTION_LABELS, which
    apps extend) and every guanwei model — from the code, not from the log: SELECT DISTINCT
    over millions of rows is a full scan on PostgreSQL (it has no loose index scan)."""
    from django.apps import apps

    from guanwei.core.audit import ACTION_LABELS

    types = sorted(
        m._meta.label_lower
        for m in apps.get_models()
        if m._meta.app_config.name.startswith("guanwei.") and not m._meta.label_lower.startswith("sandbox.")
    )
    return sorted(ACTION_LABELS), types


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    """Neutralise spreadsheet formulas (CSV injection): a cell may hold user-typed text."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


CSV_HEADER = ["time", "actor", "action", "object_type", "object_id", "summary", "ip", "detail"]


def audit_csv_rows(qs: Any, tz_name: str) -> Iterator[str]:
    """CSV lines for a queryset, read in chunks (the export streams; memory stays flat)."""
    writer = csv.writer(_Echo())
    tz = ZoneInfo(tz_name)
    yield "\ufeff" + writer.writerow(CSV_HEADER)  # BOM: spreadsheets then read the UTF-8
    for e in qs.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                e.created_at.astimezone(tz).isoformat(timespec="seconds"),
                _cell(e.actor_text),
                _cell(e.action),
                _cell(e.object_type),
                _cell(e.object_id),
                _cell(e.summary_text),
                _cell(e.ip),
                _cell(json.dumps(e.detail, ensure_ascii=False) if e.detail else ""),
            ]
        )

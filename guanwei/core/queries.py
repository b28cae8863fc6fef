"""Reads that take more than one line: the member list, the filtered audit log and its CSV
export (declared to core.exports in CoreConfig.ready)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from guanwei.core.errors import ActionError
from guanwei.core.exports import csv_lines
from guanwei.core.forms import AuditFilterForm
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


AUDIT_CSV_HEADER = ["time", "actor", "action", "object_type", "object_id", "summary", "ip", "detail"]


def audit_filtered(member: Member, data: Any) -> Any:
    """The audit export's rows: the log filtered as the page's form reads `data` (a QueryDict);
    ActionError when the filters are invalid."""
    actions_, types = audit_choices(member)
    form = AuditFilterForm(data or None, member=member, actions=actions_, object_types=types)
    if form.is_bound and not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        raise ActionError(str(errors[0]), "" if field == "__all__" else field)
    return audit_entries(member, form.cleaned_data if form.is_bound else {})


def audit_csv_lines(qs: Any, member: Member) -> Iterator[str]:
    """CSV lines for the audit export, read in chunks (memory stays flat), times in the
    enterprise's zone."""
    tz = ZoneInfo(member.enterprise.time_zone)
    rows = (
        [
            e.created_at.astimezone(tz).isoformat(timespec="seconds"),
            e.actor_text,
            e.action,
            e.object_type,
            e.object_id,
            e.summary_text,
            e.ip,
            json.dumps(e.detail, ensure_ascii=False) if e.detail else "",
        ]
        for e in qs.iterator(chunk_size=2000)
    )
    return csv_lines(AUDIT_CSV_HEADER, rows)

"""The content plan as a list: the filters every view of the calendar shares (and its CSV
export), and the import of a plan from CSV — checked whole first; one bad row imports nothing
and the report says, row by row, what is wrong."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from guanwei.core import audit
from guanwei.core.errors import ActionError
from guanwei.core.exports import csv_lines as _csv_lines
from guanwei.core.models import Member
from guanwei.core.permissions import require
from guanwei.matrix.models import Account
from guanwei.publishing.models import Campaign, ContentKind, Post, Series, TargetState

COLUMNS = ["scheduled_at", "accounts", "text", "content_type", "series", "campaign"]
MAX_ROWS = 1000
MAX_BYTES = 2 * 1024 * 1024


def _int(params: QueryDict, name: str) -> int | None:
    value = params.get(name, "")
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise ActionError(_("筛选条件无效。"), name)
    return int(value)


def filtered(member: Member, params: QueryDict) -> QuerySet[Post]:
    """The member's posts under the calendar's filters: account, series, campaign, state, author,
    content type and a date range (`from`, `to`: YYYY-MM-DD, on the post's time)."""
    qs = Post.objects.for_member(member)
    for name, lookup in (("account", "targets__account_id"), ("series", "series_id"),
                         ("campaign", "campaign_id"), ("author", "author_id")):  # fmt: skip
        value = _int(params, name)
        if value is not None:
            qs = qs.filter(**{lookup: value})
    state = params.get("state", "")
    if state:
        if state not in TargetState.values:
            raise ActionError(_("筛选条件无效。"), "state")
        qs = qs.filter(targets__state=state)
    kind = params.get("content_type", "")
    if kind:
        if kind not in ContentKind.values:
            raise ActionError(_("筛选条件无效。"), "content_type")
        qs = qs.filter(content_type=kind)
    for name, lookup in (("from", "scheduled_at__date__gte"), ("to", "scheduled_at__date__lte")):
        value = params.get(name, "")
        if value:
            day = parse_date(value) if len(value) == 10 else None
            if day is None:
                raise ActionError(_("日期格式应为 YYYY-MM-DD。"), name)
            qs = qs.filter(**{lookup: day})
    return qs.distinct() if params.get("account") or state else qs


def csv_lines(posts: QuerySet[Post], member: Member) -> Iterable[str]:
    """The plan as CSV: the import's columns first (a file exported can be edited and imported
    as new drafts), then what the plan says about each post."""
    rows = posts.select_related("series", "campaign", "author").prefetch_related("targets__account").order_by(
        "scheduled_at", "pk"
    )

    # The enterprise's zone, not the request's: the lines are written after the view returns
    # (a streamed response) or in the worker (a background export).
    tz = ZoneInfo(member.enterprise.time_zone)

    def lines() -> Iterator[list[object]]:
        for post in rows.iterator(chunk_size=500):
            targets = list(post.targets.all())
            yield [
                post.scheduled_at.astimezone(tz).isoformat() if post.scheduled_at else "",
                ";".join(t.account.screen_name for t in targets if t.account), post.text, post.content_type,
                post.series.name if post.series else "", post.campaign.name if post.campaign else "",
                post.pk, post.state, post.author.display_name,
            ]  # fmt: skip

    return _csv_lines([*COLUMNS, "id", "state", "author"], lines())


class PlanImportError(ActionError):
    """A plan that was not imported, with every bad row: [(line number, reason)]."""

    def __init__(self, rows: list[tuple[int, str]]) -> None:
        super().__init__(_("排期文件有 %(n)d 处错误，没有导入任何内容。") % {"n": len(rows)}, "file")
        self.rows = rows


def _parse_time(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        moment = parse_datetime(value.replace(" ", "T", 1)) if "T" not in value else parse_datetime(value)
    except ValueError:  # well-formed but impossible, e.g. month 99
        moment = None
    if moment is None:
        raise ValueError(_("时间“%(v)s”看不懂，请写成 2026-12-05 09:00 或带时区的 ISO-8601。") % {"v": value[:30]})
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)  # the enterprise's zone (the request's)
    return moment


def _rows(data: bytes) -> list[tuple[int, dict[str, str]]]:
    if len(data) > MAX_BYTES:
        raise ActionError(_("文件超过 2 MB。"), "file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ActionError(_("文件不是 UTF-8 编码。"), "file") from None
    if "\x00" in text:
        raise ActionError(_("文件含有 NUL 字符，不是文本文件。"), "file")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("scheduled_at", "accounts", "text") if c not in header]
    if missing:
        raise ActionError(_("第 1 行（列名）缺少：%(cols)s") % {"cols": ", ".join(missing)}, "file")
    rows = []
    for row in reader:
        if len(rows) >= MAX_ROWS:
            raise ActionError(_("一次最多导入 %(n)d 行。") % {"n": MAX_ROWS}, "file")
        clean = {(k or "").strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in row.items()}
        if any(clean.values()):
            rows.append((reader.line_num, clean))
    if not rows:
        raise ActionError(_("文件里没有内容行。"), "file")
    return rows


def do_import_plan(member: Member, data: bytes, request: Any = None) -> list[Post]:
    """Each row becomes a draft post (the composer's rules, every one of them). Checked whole
    first; if any row is bad, nothing is saved and PlanImportError lists every bad row."""
    from guanwei.publishing.actions import do_create_post

    require(member, "post.edit")
    rows = _rows(data)
    accounts = {a.screen_name: a.pk for a in Account.objects.for_member(member).exclude(token="")}
    series = {s.name: s.pk for s in Series.objects.filter(enterprise_id=member.enterprise_id)}
    campaigns = {c.name: c.pk for c in Campaign.objects.filter(enterprise_id=member.enterprise_id)}
    plans, errors = [], []
    for line, row in rows:
        try:
            names = [n.strip().lstrip("@") for n in row.get("accounts", "").replace("；", ";").split(";") if n.strip()]
            unknown = [n for n in names if n not in accounts]
            if not names:
                raise ValueError(_("没有账号。"))
            if unknown:
                raise ValueError(_("没有这个账号，或你无权代表它发布：%(n)s") % {"n": "、".join(unknown[:5])})
            kind = row.get("content_type") or ContentKind.GENERAL
            if kind not in ContentKind.values:
                raise ValueError(_("内容类型“%(v)s”不存在（可用：%(all)s）。") % {"v": kind[:20], "all": ", ".join(ContentKind.values)})
            tag_s, tag_c = row.get("series", ""), row.get("campaign", "")
            if tag_s and tag_s not in series:
                raise ValueError(_("没有内容系列“%(v)s”，请先建立。") % {"v": tag_s[:30]})
            if tag_c and tag_c not in campaigns:
                raise ValueError(_("没有营销活动“%(v)s”，请先建立。") % {"v": tag_c[:30]})
            plans.append((line, {
                "text": row.get("text", ""), "accounts": [accounts[n] for n in names],
                "scheduled_at": _parse_time(row.get("scheduled_at", "")), "content_type": kind,
                "series": series.get(tag_s), "campaign": campaigns.get(tag_c),
            }))  # fmt: skip
        except ValueError as exc:
            errors.append((line, str(exc)))
    if errors:
        raise PlanImportError(errors)
    posts: list[Post] = []
    # The composer's own checks, row by row, in one transaction: one refusal undoes them all.
    with transaction.atomic():
        for line, plan in plans:
            try:
                posts.append(do_create_post(member, request=request, **plan))
            except ActionError as exc:
                errors.append((line, exc.message))
        if errors:
            transaction.set_rollback(True)
            raise PlanImportError(errors)
        audit.record(member.enterprise, member, "plan.imported", None, request=request, params={"posts": len(posts)})
    return posts

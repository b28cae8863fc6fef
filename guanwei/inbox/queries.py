"""The inbox's reads: which items a member may see (their enterprise's, on the accounts they may
act for), the list's filters (an unknown value is an ActionError, never a quiet empty list), an
item's conversation and customer panel, the breached list, and the service reports."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.http import Http404, QueryDict
from django.utils.translation import gettext as _

from guanwei.core import clock
from guanwei.core.errors import ActionError
from guanwei.core.models import Member
from guanwei.core.permissions import PERMISSIONS, require
from guanwei.inbox.actions import REPLY
from guanwei.inbox.models import Category, Item, ItemStatus, Priority, Team
from guanwei.listening.models import Mention
from guanwei.matrix.models import Account

FILTERS = ("status", "category", "priority", "account", "team", "assignee", "breached", "q")
MAX_QUERY = 100
MAX_ID = 2**63 - 1
PERIODS = {"7d": timedelta(days=7), "30d": timedelta(days=30)}
REPORT_ROWS = 50_000  # items read for a report, at most
OPEN_STATES = (ItemStatus.OPEN, ItemStatus.PENDING)


def visible(member: Member) -> QuerySet[Item]:
    """The member's enterprise's items on the accounts the member may act for."""
    return Item.objects.filter(enterprise_id=member.enterprise_id, account__in=Account.objects.for_member(member))


def as_id(value: Any) -> int | None:
    """A positive database id from a parameter, or None (a huge number is not an id either)."""
    text = str(value or "").strip()
    if not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def item_for(member: Member, item_id: Any, action: str = REPLY) -> Item:
    """The item as `member` may see it: 404 alike for a missing item, another enterprise's and one
    outside the member's accounts; 403 when the right is missing."""
    pk = as_id(item_id)
    found = visible(member).select_related("account__connection", "author", "assignee", "team", "mention", "incident")
    item = found.filter(pk=pk).first() if pk else None
    if item is None:
        raise Http404(_("客服工单"))
    require(member, action)
    return item


def agents(member: Member) -> QuerySet[Member]:
    """Who may be given items: the enterprise's active members who may reply."""
    return Member.objects.filter(enterprise_id=member.enterprise_id, is_active=True,
                                 role__in=PERMISSIONS[REPLY]).order_by("display_name")  # fmt: skip


def is_overdue(item: Item, now: datetime | None = None) -> bool:
    """Breached, or the first response is late and still missing (before the SLA watch marks it)."""
    now = now or clock.now()
    return item.breached or bool(item.first_response_due and item.first_responded_at is None
                                 and item.first_response_due < now and item.status in OPEN_STATES)  # fmt: skip


def breached_q(now: datetime) -> Q:
    return Q(status__in=OPEN_STATES) & (Q(breached=True) | Q(first_response_due__lt=now, first_responded_at__isnull=True))


def filtered(member: Member, params: QueryDict) -> QuerySet[Item]:
    """The inbox list's items for the filters in `params` (status open unless asked otherwise).
    An unknown value raises ActionError naming the filter."""
    qs = visible(member)
    status = params.get("status", "") or ItemStatus.OPEN
    if status != "all":
        if status not in ItemStatus.values:
            raise ActionError(_("没有这个状态：%(v)s") % {"v": status[:20]}, "status")
        qs = qs.filter(status=status)
    for name, choices in (("category", Category.values), ("priority", Priority.values)):
        value = params.get(name, "")
        if value:
            if value not in choices:
                raise ActionError(_("筛选条件“%(name)s”的值无效：%(v)s") % {"name": name, "v": value[:20]}, name)
            qs = qs.filter(**{name: value})
    if account := params.get("account", ""):
        pk = as_id(account)
        if pk is None or not Account.objects.for_member(member).filter(pk=pk).exists():
            raise ActionError(_("没有这个账号。"), "account")
        qs = qs.filter(account_id=pk)
    if team := params.get("team", ""):
        pk = as_id(team)
        if pk is None or not Team.objects.filter(enterprise_id=member.enterprise_id, pk=pk).exists():
            raise ActionError(_("没有这个客服组。"), "team")
        qs = qs.filter(team_id=pk)
    assignee = params.get("assignee", "")
    if assignee == "mine":
        qs = qs.filter(assignee=member)
    elif assignee == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    elif assignee:
        pk = as_id(assignee)
        if pk is None or not Member.objects.filter(enterprise_id=member.enterprise_id, pk=pk).exists():
            raise ActionError(_("没有这个成员。"), "assignee")
        qs = qs.filter(assignee_id=pk)
    breached = params.get("breached", "")
    if breached:
        if breached not in ("1", "true"):
            raise ActionError(_("筛选条件“%(name)s”的值无效：%(v)s") % {"name": "breached", "v": breached[:20]}, "breached")
        qs = qs.filter(breached_q(clock.now()))
    if text := params.get("q", "").strip():
        if len(text) > MAX_QUERY or "\x00" in text:
            raise ActionError(_("搜索词最长 %(n)d 个字，且不能含控制字符。") % {"n": MAX_QUERY}, "q")
        qs = qs.filter(excerpt__icontains=text)
    return qs.select_related("account", "author", "assignee", "team")


def mark_overdue(items: list[Item]) -> list[Item]:
    now = clock.now()
    for item in items:
        item.is_overdue = is_overdue(item, now)
    return items


def breached(member: Member) -> QuerySet[Item]:
    return visible(member).filter(breached_q(clock.now())).select_related("account", "author", "assignee", "team")


# ------------------------------------------------------------------ one item


def conversation(item: Item, limit: int = 100) -> list[Mention]:
    """What the customer said on this thread (or in their DMs) to this account, oldest first."""
    if item.author_id is None:
        return [item.mention]
    same = Mention.objects.filter(enterprise_id=item.enterprise_id, account_id=item.account_id, author_id=item.author_id)
    same = same.filter(kind="dm") if item.kind == "dm" else same.filter(thread_id=item.mention.thread_id)
    rows = list(same.order_by("-created_at", "-pk")[:limit])
    return list(reversed(rows))


@dataclass
class Customer:
    """The customer panel: who they are and what they said to us before."""

    author: Any
    is_verified: bool = False
    items: list[Item] = field(default_factory=list)
    sentiment: dict[str, int] = field(default_factory=dict)
    by_day: list[dict[str, Any]] = field(default_factory=list)


def customer(member: Member, item: Item, days: int = 30) -> Customer:
    author = item.author
    panel = Customer(author=author)
    if author is None:
        return panel
    panel.is_verified = author.verified_type not in (None, -1)
    panel.items = list(visible(member).filter(author_id=author.pk).exclude(pk=item.pk)
                       .select_related("account").order_by("-said_at")[:20])  # fmt: skip
    mentions = Mention.objects.filter(enterprise_id=item.enterprise_id, author_id=author.pk,
                                      account__in=Account.objects.for_member(member))  # fmt: skip
    panel.sentiment = {"positive": 0, "neutral": 0, "negative": 0}
    for row in mentions.values("sentiment").annotate(n=Count("pk")):
        panel.sentiment[row["sentiment"]] = row["n"]
    tz = ZoneInfo(member.enterprise.time_zone)
    days_seen: dict[str, Counter[str]] = {}
    since = clock.now() - timedelta(days=days)
    for said, sentiment in mentions.filter(created_at__gte=since).order_by("created_at").values_list("created_at", "sentiment")[:1000]:
        days_seen.setdefault(said.astimezone(tz).strftime("%m-%d"), Counter())[sentiment] += 1
    panel.by_day = [{"day": day, **{k: c[k] for k in ("positive", "neutral", "negative")}} for day, c in days_seen.items()]
    return panel


# ------------------------------------------------------------------ reports


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def period_of(value: str) -> tuple[str, timedelta]:
    name = value if value in PERIODS else "7d"
    return name, PERIODS[name]


REPORT_FIELDS = ("pk", "said_at", "created_at", "account_id", "account__screen_name", "category", "priority", "status",
                 "team_id", "team__name", "assignee_id", "assignee__display_name", "first_response_due",
                 "first_responded_at", "solved_at", "breached")  # fmt: skip


def report_rows(member: Member, since: datetime) -> list[dict[str, Any]]:
    return list(visible(member).filter(said_at__gte=since).order_by("-said_at", "-pk").values(*REPORT_FIELDS)[:REPORT_ROWS])


def sla_met(row: dict[str, Any], now: datetime) -> bool | None:
    """Was the first response in time? None while it is still running (no answer, not yet due)."""
    due, answered = row["first_response_due"], row["first_responded_at"]
    if due is None:
        return None
    if answered is not None:
        return answered <= due
    return None if due >= now and not row["breached"] else False


def _minutes(values: list[float]) -> dict[str, float | None]:
    p50, p90 = percentile(values, 0.5), percentile(values, 0.9)
    return {"count": len(values), "p50": None if p50 is None else round(p50 / 60, 1),
            "p90": None if p90 is None else round(p90 / 60, 1)}  # fmt: skip


def _attainment(rows: list[dict[str, Any]], key: str, label: str, now: datetime) -> list[dict[str, Any]]:
    groups: dict[Any, dict[str, Any]] = {}
    for row in rows:
        met = sla_met(row, now)
        if met is None:
            continue
        group = groups.setdefault(row[key], {"name": row[label] or "—", "met": 0, "total": 0})
        group["total"] += 1
        group["met"] += met
    out = [{**g, "share": g["met"] / g["total"]} for g in groups.values()]
    return sorted(out, key=lambda g: (-g["total"], str(g["name"])))


def report(member: Member, period: str) -> dict[str, Any]:
    """Volume by category and account, first-response and resolution times (p50/p90, minutes),
    SLA attainment per agent and team, and today's queue of open items by the hour they came."""
    name, span = period_of(period)
    now = clock.now()
    rows = report_rows(member, now - span)
    categories = dict(Category.choices)
    by_category = Counter(row["category"] for row in rows)
    by_account = Counter(row["account__screen_name"] for row in rows)
    first = [(r["first_responded_at"] - r["said_at"]).total_seconds() for r in rows if r["first_responded_at"]]
    solved = [(r["solved_at"] - r["said_at"]).total_seconds() for r in rows if r["solved_at"]]
    tz = ZoneInfo(member.enterprise.time_zone)
    local_now = now.astimezone(tz)
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    hours = Counter(  # by when the customer said it (an item stored late counts in its hour)
        said.astimezone(tz).hour
        for said in visible(member).filter(said_at__gte=midnight, status=ItemStatus.OPEN)
        .values_list("said_at", flat=True)[:REPORT_ROWS]
    )  # fmt: skip
    return {
        "period": name, "periods": list(PERIODS), "total": len(rows), "truncated": len(rows) >= REPORT_ROWS,
        "by_category": [(categories.get(k, k), n) for k, n in by_category.most_common()],
        "by_account": by_account.most_common(50),
        "first_response": _minutes(first), "resolution": _minutes(solved),
        "by_agent": _attainment(rows, "assignee_id", "assignee__display_name", now),
        "by_team": _attainment(rows, "team_id", "team__name", now),
        "queue": [(h, hours[h]) for h in range(local_now.hour + 1)],
        "rows": rows,
    }  # fmt: skip


CSV_HEADER = ["id", "said_at", "account", "category", "priority", "status", "team", "assignee",
              "first_response_min", "resolution_min", "sla_met"]  # fmt: skip


def csv_rows(rows: list[dict[str, Any]]) -> list[list[object]]:
    now = clock.now()
    out = []
    for r in rows:
        first = round((r["first_responded_at"] - r["said_at"]).total_seconds() / 60, 1) if r["first_responded_at"] else ""
        solve = round((r["solved_at"] - r["said_at"]).total_seconds() / 60, 1) if r["solved_at"] else ""
        met = sla_met(r, now)
        out.append([r["pk"], r["said_at"].isoformat(), r["account__screen_name"], r["category"], r["priority"], r["status"],
                    r["team__name"] or "", r["assignee__display_name"] or "", first, solve,
                    "" if met is None else ("yes" if met else "no")])  # fmt: skip
    return out

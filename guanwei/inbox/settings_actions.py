"""Changes to the inbox's settings (core's `do_*` convention): canned replies (anyone who may
reply), teams with their hours and SLA targets, and routing rules (admins: "inbox.manage")."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from guanwei.core import audit, businesstime
from guanwei.core.errors import ActionError
from guanwei.core.models import Member
from guanwei.core.permissions import require
from guanwei.inbox.actions import REPLY
from guanwei.inbox.models import CannedReply, Category, Priority, RoutingRule, Team
from guanwei.matrix.models import Account

MANAGE = "inbox.manage"
ASSIGN_MODES = ("round_robin", "least_open", "manual")
MAX_MINUTES = 60 * 24 * 60  # sixty days of business minutes


def _text(value: str, field: str, most: int, *, required: bool = True) -> str:
    value = (value or "").strip()
    if "\x00" in value or len(value) > most or (required and not value):
        raise ActionError(_("请填写（最长 %(n)d 个字，不能含控制字符）。") % {"n": most}, field)
    return value


def do_save_canned(member: Member, canned: CannedReply | None, *, title: str, text: str, category: str = "",
                   request: Any = None) -> CannedReply:  # fmt: skip
    """Create (canned None) or change a canned reply; its title is unique in the enterprise."""
    require(member, REPLY)
    title = _text(title, "title", 60)
    text = _text(text, "text", 2000)
    if category and category not in Category.values:
        raise ActionError(_("没有这个类别。"), "category")
    taken = CannedReply.objects.filter(enterprise_id=member.enterprise_id, title=title)
    if canned is not None:
        taken = taken.exclude(pk=canned.pk)
    if taken.exists():
        raise ActionError(_("已有同名的快捷回复。"), "title")
    with transaction.atomic():
        if canned is None:
            canned = CannedReply(enterprise_id=member.enterprise_id)
        canned.title, canned.text, canned.category = title, text, category
        canned.save()
        audit.record(member.enterprise, member, "inbox.canned_changed", canned, request=request, params={"name": title})
    return canned


def do_delete_canned(member: Member, canned: CannedReply, request: Any = None) -> None:
    require(member, REPLY)
    with transaction.atomic():
        audit.record(member.enterprise, member, "inbox.canned_changed", canned, request=request,
                     params={"name": canned.title}, detail={"deleted": True})  # fmt: skip
        canned.delete()


def _minutes(values: dict[str, Any], field: str) -> dict[str, int]:
    out = {}
    for priority in Priority.values:
        value = values.get(priority)
        if value in (None, ""):
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ActionError(_("请填写分钟数。"), f"{field}_{priority}") from None
        if not 1 <= number <= MAX_MINUTES:
            raise ActionError(_("分钟数须在 1 到 %(n)d 之间。") % {"n": MAX_MINUTES}, f"{field}_{priority}")
        out[priority] = number
    return out


def do_save_team(member: Member, team: Team | None, *, name: str, hours: str, always_open: bool = False,
                 china_holidays: bool = True, first_response_min: dict[str, Any] | None = None,
                 resolution_min: dict[str, Any] | None = None, assign_mode: str = "round_robin",
                 max_open_per_agent: int = 30, members: list[Member] | None = None, request: Any = None) -> Team:  # fmt: skip
    """Create (team None) or change a service team. Its hours must parse (core.businesstime)."""
    require(member, MANAGE)
    name = _text(name, "name", 60)
    hours = _text(hours, "hours", 300)
    try:
        businesstime.parse_weekly(hours)
    except ValueError as exc:
        raise ActionError(_("营业时间写法不对（%(reason)s）。请按“星期 开始-结束”写，时间在 00:00 到 24:00 之间，例如 mon-fri 09:00-12:00,13:00-18:00; sat 10:00-16:00。") % {"reason": str(exc)[:120]}, "hours") from None
    if assign_mode not in ASSIGN_MODES:
        raise ActionError(_("没有这种分派方式。"), "assign_mode")
    if not 1 <= int(max_open_per_agent) <= 1000:
        raise ActionError(_("每人最多未结工单须在 1 到 1000 之间。"), "max_open_per_agent")
    first = _minutes(first_response_min or {}, "first")
    solve = _minutes(resolution_min or {}, "resolve")
    chosen = list(members or [])
    if any(m.enterprise_id != member.enterprise_id for m in chosen):
        raise ActionError(_("没有这个成员。"), "members")
    taken = Team.objects.filter(enterprise_id=member.enterprise_id, name=name)
    if team is not None:
        taken = taken.exclude(pk=team.pk)
    if taken.exists():
        raise ActionError(_("已有同名的客服组。"), "name")
    with transaction.atomic():
        if team is None:
            team = Team(enterprise_id=member.enterprise_id)
        team.name, team.hours, team.always_open, team.china_holidays = name, hours, always_open, china_holidays
        team.first_response_min, team.resolution_min = first, solve
        team.assign_mode, team.max_open_per_agent = assign_mode, int(max_open_per_agent)
        team.save()
        team.members.set(chosen)
        audit.record(member.enterprise, member, "inbox.team_changed", team, request=request, params={"name": name})
    return team


def do_save_rule(member: Member, rule: RoutingRule | None, *, name: str, team: Team, position: int = 0,
                 account: Account | None = None, category: str = "", text: str = "", verified_only: bool = False,
                 urgent_only: bool = False, request: Any = None) -> RoutingRule:  # fmt: skip
    """Create (rule None) or change a routing rule; its keywords must parse (the monitor language)."""
    from guanwei.monitoring.actions import check_rule

    require(member, MANAGE)
    name = _text(name, "name", 60)
    text = (text or "").strip()
    if text:
        check_rule(text)  # ActionError on "rule" with the position
    if category and category not in Category.values:
        raise ActionError(_("没有这个类别。"), "category")
    if team.enterprise_id != member.enterprise_id:
        raise ActionError(_("没有这个客服组。"), "team")
    if account is not None and account.enterprise_id != member.enterprise_id:
        raise ActionError(_("没有这个账号。"), "account")
    if not 0 <= int(position) <= 10_000:
        raise ActionError(_("顺序须在 0 到 10000 之间。"), "position")
    with transaction.atomic():
        if rule is None:
            rule = RoutingRule(enterprise_id=member.enterprise_id)
        rule.name, rule.team, rule.position, rule.account, rule.category = name, team, int(position), account, category
        rule.rule, rule.verified_only, rule.urgent_only = text, verified_only, urgent_only
        rule.save()
        audit.record(member.enterprise, member, "inbox.rule_changed", rule, request=request, params={"name": name})
    return rule


def do_delete_rule(member: Member, rule: RoutingRule, request: Any = None) -> None:
    require(member, MANAGE)
    with transaction.atomic():
        audit.record(member.enterprise, member, "inbox.rule_changed", rule, request=request,
                     params={"name": rule.name}, detail={"deleted": True})  # fmt: skip
        rule.delete()

"""Changes to monitors (core's `do_*` convention): create, change, delete. A rule that does not
parse is an ActionError on the field `rule` with the position, in the reader's language; a new or
changed rule is applied to the last 7 days in the background (matching.backfill_monitor)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from guanwei.core import audit, clock
from guanwei.core.errors import ActionError
from guanwei.core.models import Member
from guanwei.core.permissions import require
from guanwei.monitoring import searches
from guanwei.monitoring.models import Monitor, MonitorGroup
from guanwei.textkit.query import QuerySyntaxError, compile_rules

MANAGE = "monitor.manage"
MAX_RULE = 2000
MAX_MONITORS = 200


def check_rule(rule: str) -> list[str]:
    """The rule's warnings (in the reader's language); an ActionError with the position if it
    does not parse."""
    rule = rule.strip()
    if not rule:
        raise ActionError(_("请填写规则。"), "rule", 0)
    if len(rule) > MAX_RULE or "\x00" in rule:
        raise ActionError(_("规则最长 %(n)d 个字符，且不能含控制字符。") % {"n": MAX_RULE}, "rule", 0)
    english = (get_language() or "").startswith("en")
    try:
        matcher = compile_rules({0: rule})
    except QuerySyntaxError as exc:
        reason = exc.message_en if english else exc.message_zh
        raise ActionError(_("第 %(pos)d 个字符处：%(reason)s") % {"pos": exc.position + 1, "reason": reason},
                          "rule", exc.position) from None  # fmt: skip
    return [w.message_en if english else w.message_zh for w in matcher.warnings.get(0, [])]


def _clean(name: str, group: str) -> str:
    name = name.strip()
    if not name or "\x00" in name or len(name) > 60:
        raise ActionError(_("请填写名称（最长 60 个字）。"), "name")
    if group not in MonitorGroup.values:
        raise ActionError(_("没有这个分组。"), "group")
    return name


def do_create_monitor(member: Member, *, name: str, group: str, rule: str, request: Any = None) -> Monitor:
    from guanwei.monitoring.matching import backfill_monitor

    require(member, MANAGE)
    name = _clean(name, group)
    check_rule(rule)
    if Monitor.objects.filter(enterprise_id=member.enterprise_id).count() >= MAX_MONITORS:
        raise ActionError(_("最多 %(n)d 个监控。") % {"n": MAX_MONITORS})
    try:
        with transaction.atomic():
            monitor = Monitor.objects.create(enterprise=member.enterprise, name=name, group=group,
                                             rule=rule.strip(), created_by=member)  # fmt: skip
            audit.record(member.enterprise, member, "monitor.created", monitor, request=request,
                         params={"name": name}, detail={"group": group, "rule": rule.strip()})  # fmt: skip
            searches.sync(member.enterprise_id)
    except IntegrityError:
        raise ActionError(_("已有同名的监控。"), "name") from None
    transaction.on_commit(lambda: backfill_monitor.enqueue(monitor.pk))
    return monitor


def do_change_monitor(member: Member, monitor: Monitor, *, name: str | None = None, group: str | None = None,
                      rule: str | None = None, is_active: bool | None = None, request: Any = None) -> Monitor:  # fmt: skip
    """Change a monitor. A changed rule applies from now on, and again to the last 7 days."""
    from guanwei.monitoring.matching import backfill_monitor

    require(member, MANAGE)
    new_name = _clean(name if name is not None else monitor.name, group if group is not None else monitor.group)
    changed = {}
    if new_name != monitor.name:
        changed["name"] = new_name
    if group is not None and group != monitor.group:
        changed["group"] = group
    if rule is not None and rule.strip() != monitor.rule:
        check_rule(rule)
        changed["rule"] = rule.strip()
    if is_active is not None and is_active != monitor.is_active:
        changed["is_active"] = is_active
    if not changed:
        return monitor
    now = clock.now()
    try:
        with transaction.atomic():
            for key, value in changed.items():
                setattr(monitor, key, value)
            monitor.updated_at = now
            if "rule" in changed:
                monitor.rule_since = now
            monitor.save()
            audit.record(member.enterprise, member, "monitor.changed", monitor, request=request,
                         params={"name": monitor.name}, detail={"changed": sorted(changed)})  # fmt: skip
            if "rule" in changed or "is_active" in changed:
                searches.sync(member.enterprise_id)
    except IntegrityError:
        raise ActionError(_("已有同名的监控。"), "name") from None
    if "rule" in changed or changed.get("is_active") is True:
        transaction.on_commit(lambda: backfill_monitor.enqueue(monitor.pk))
    return monitor


def do_delete_monitor(member: Member, monitor: Monitor, request: Any = None) -> None:
    require(member, MANAGE)
    with transaction.atomic():
        audit.record(member.enterprise, member, "monitor.deleted", monitor, request=request, params={"name": monitor.name})
        monitor.delete()
        searches.sync(member.enterprise_id)


def do_set_alert_rule(member: Member, monitor: Monitor, *, values: dict[str, Any], channels: list[Any],
                      request: Any = None) -> Any:  # fmt: skip
    """Change when the monitor alerts and whom it tells."""
    from guanwei.monitoring.models import AlertRule

    require(member, MANAGE)
    if any(c.enterprise_id != member.enterprise_id for c in channels):
        raise ActionError(_("没有这个通知渠道。"), "channels")
    if not 1.5 <= float(values.get("factor", 3)) <= 100:
        raise ActionError(_("倍数须在 1.5 到 100 之间。"), "factor")
    if not 0 < float(values.get("negative_share", 0.5)) <= 1:
        raise ActionError(_("负面占比须在 0 到 1 之间。"), "negative_share")
    if (values.get("quiet_start") is None) != (values.get("quiet_end") is None):
        raise ActionError(_("免打扰须同时填写开始和结束。"), "quiet_end")
    with transaction.atomic():
        rule, _created = AlertRule.objects.get_or_create(monitor=monitor)
        for key, value in values.items():
            setattr(rule, key, value)
        rule.save()
        rule.channels.set(channels)
        audit.record(member.enterprise, member, "monitor.alert_rule_changed", monitor, request=request,
                     params={"name": monitor.name}, detail={k: str(v) for k, v in values.items()})  # fmt: skip
    return rule

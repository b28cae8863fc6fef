"""The SLA watch (inbox.watch_sla, every minute): items whose first response is due within
WARN_BEFORE are told once (`item.warning` to the assignee's bell and the channels); items past a
deadline without it met are marked breached and told (`item.breached`). Clocks run in the team's
business hours (core.businesstime): deadlines were computed so, and a pending item's wait was
added back when the customer wrote again (actions.resume_clock)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django_tasks import task

from guanwei.core import businesstime, channels, clock
from guanwei.core.links import absolute_url
from guanwei.inbox.models import FIRST_RESPONSE_MIN, RESOLUTION_MIN, Item, ItemStatus, Team

WARN_BEFORE = timedelta(minutes=10)


def hours_of(team: Team | None) -> businesstime.Hours:
    if team is None:
        return businesstime.nine_to_six()
    try:
        weekly = businesstime.parse_weekly(team.hours)
    except ValueError:
        weekly = businesstime.nine_to_six().weekly
    return businesstime.Hours(weekly=weekly, always=team.always_open, china_holidays=team.china_holidays,
                              zone=team.enterprise.time_zone if team.enterprise_id else "Asia/Shanghai")  # fmt: skip


def targets_of(team: Team | None, priority: str) -> tuple[int, int]:
    """(first response, resolution) in business minutes."""
    first = (team.first_response_min if team else {}).get(priority) or FIRST_RESPONSE_MIN[priority]
    solve = (team.resolution_min if team else {}).get(priority) or RESOLUTION_MIN[priority]
    return int(first), int(solve)


def deadlines(team: Team | None, priority: str, start: datetime) -> tuple[datetime, datetime]:
    hours = hours_of(team)
    first, solve = targets_of(team, priority)
    return businesstime.add_business(hours, start, first * 60), businesstime.add_business(hours, start, solve * 60)

OPEN = [ItemStatus.OPEN]  # a pending item waits on the customer: its clock is paused


def _message(item: Item, title: str) -> channels.Message:
    return channels.Message(
        title=title, text=item.excerpt, url=absolute_url(f"/inbox/items/{item.pk}/"),
        level="error" if item.priority == "urgent" else "warning",
        data={"item_id": item.pk, "priority": item.priority, "category": item.category,
              "assignee_id": item.assignee_id, "first_response_due": item.first_response_due.isoformat()
              if item.first_response_due else None},
    )  # fmt: skip


def overdue_q(now) -> Q:  # type: ignore[no-untyped-def]
    return Q(first_responded_at__isnull=True, first_response_due__lt=now) | Q(solved_at__isnull=True, resolution_due__lt=now)


@task()
def watch(limit: int = 500) -> dict[str, int]:
    now = clock.now()
    warned = breached = 0
    soon = (Item.objects.filter(status__in=OPEN, warned=False, breached=False, first_responded_at__isnull=True,
                                first_response_due__lte=now + WARN_BEFORE, first_response_due__gte=now)
            .select_related("enterprise", "assignee")[:limit])  # fmt: skip
    for item in soon:
        with transaction.atomic():
            if Item.objects.filter(pk=item.pk, warned=False).update(warned=True):
                channels.send(item.enterprise, "item.warning", _message(item, _("客服工单即将超时：%(m)s 分钟内须首次回复") % {
                    "m": max(0, int((item.first_response_due - now).total_seconds() // 60))}), member=item.assignee)  # fmt: skip
                warned += 1
    late = Item.objects.filter(overdue_q(now), status__in=OPEN, breached=False).select_related("enterprise", "assignee")[:limit]
    for item in late:
        with transaction.atomic():
            if Item.objects.filter(pk=item.pk, breached=False).update(breached=True):
                channels.send(item.enterprise, "item.breached", _message(item, _("客服工单已超时（SLA）")), member=item.assignee)
                breached += 1
    return {"warned": warned, "breached": breached}

"""The notifications bell: open core.Notification rows the member's role may act on."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from guanwei.core.models import Member, Notification
from guanwei.core.permissions import PERMISSIONS


@dataclass
class Bell:
    count: int = 0
    items: list[Notification] = field(default_factory=list)


def visible_actions(member: Member) -> list[str]:
    """The actions whose notices `member` sees: those their role may do (`can`), computed once
    from the permission table so the filter runs in the database."""
    if member is None or not member.is_active:
        return []
    return [action for action, roles in PERMISSIONS.items() if member.role in roles]


def open_for(member: Member) -> QuerySet[Notification]:
    """The member's open notices: those for a right their role has, and their personal ones."""
    return Notification.objects.for_member(member).filter(
        Q(member__isnull=True, action__in=visible_actions(member)) | Q(member=member),
        resolved_at__isnull=True,
    )


BELL_COUNT_CAP = 99  # the badge says "99+" beyond: a bounded count, however many are open


def open_notifications(member: Member | None, limit: int = 10) -> Bell:
    if member is None:
        return Bell()
    qs = open_for(member)
    items = list(qs.order_by("-created_at")[:limit])
    count = len(items) if len(items) < limit else qs[: BELL_COUNT_CAP + 1].count()
    return Bell(count=count, items=items)

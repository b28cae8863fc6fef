"""In-app notifications, one per incident: `notify` opens it, `resolve` closes it.

A notice is stored as a message code and its parameters and rendered in each reader's language
when shown (`Notification.title_text`, `core.messages`); apps register their codes' renderers (`register_messages`, in their
AppConfig.ready). Title and body are stored too, in the writer's language, as the fallback."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from guanwei.core import clock
from guanwei.core.messages import MESSAGES, Renderer
from guanwei.core.models import Enterprise, Member, Notification


def register_messages(renderers: dict[str, Renderer]) -> None:
    MESSAGES.update(renderers)


def notify(
    enterprise: Enterprise,
    *,
    action: str,
    title: str,
    body: str = "",
    url: str = "",
    level: str = "warning",
    condition_key: str = "",
    code: str = "",
    params: dict[str, Any] | None = None,
    member: Member | None = None,
) -> Notification | None:
    """Open a notice for members allowed `action`. Returns None when the same incident is
    already open (so a failing call repeated a hundred times gives one notice)."""
    try:
        with transaction.atomic():
            return Notification.objects.create(
                enterprise=enterprise, action=action, title=title, body=body, url=url,
                level=level, condition_key=condition_key, created_at=clock.now(),
                code=code, params=params, member=member,
            )
    except IntegrityError:
        return None


def resolve(enterprise: Enterprise, condition_key: str) -> int:
    return Notification.objects.filter(
        enterprise=enterprise, condition_key=condition_key, resolved_at__isnull=True
    ).update(resolved_at=clock.now())

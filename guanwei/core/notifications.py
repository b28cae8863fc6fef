"""In-app notifications, one per incident: `notify` opens it, `resolve` closes it."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from guanwei.core import clock
from guanwei.core.models import Enterprise, Notification


def notify(
    enterprise: Enterprise,
    *,
    action: str,
    title: str,
    body: str = "",
    url: str = "",
    level: str = "warning",
    incident_key: str = "",
) -> Notification | None:
    """Open a notice for members allowed `action`. Returns None when the same incident is
    already open (so a failing call repeated a hundred times gives one notice)."""
    try:
        with transaction.atomic():
            return Notification.objects.create(
                enterprise=enterprise, action=action, title=title, body=body, url=url,
                level=level, incident_key=incident_key, created_at=clock.now(),
            )
    except IntegrityError:
        return None


def resolve(enterprise: Enterprise, incident_key: str) -> int:
    return Notification.objects.filter(
        enterprise=enterprise, incident_key=incident_key, resolved_at__isnull=True
    ).update(resolved_at=clock.now())

"""The one audit writer. Every state change calls `record` inside its own transaction."""

from __future__ import annotations

import logging
from typing import Any

from django.db import models

from guanwei.core import clock
from guanwei.core.models import AuditEntry, Enterprise, Member

log = logging.getLogger("guanwei.audit")


def client_ip(request) -> str | None:  # type: ignore[no-untyped-def]
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    enterprise: Enterprise,
    actor: Member | None,
    action: str,
    obj: models.Model | None = None,
    summary: str = "",
    detail: dict[str, Any] | None = None,
    request=None,  # type: ignore[no-untyped-def]
    actor_label: str = "",
) -> AuditEntry:
    """Append one entry. `action` is dotted, e.g. `member.role_changed`, `account.connected`."""
    entry = AuditEntry(
        enterprise=enterprise,
        actor=actor,
        actor_label=actor_label or (actor.display_name if actor else "system"),
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        summary=summary[:300],
        detail=detail or {},
        ip=client_ip(request),
        created_at=clock.now(),
    )
    entry.save()
    log.info(
        "audit enterprise=%s actor=%s action=%s object=%s:%s",
        enterprise.pk, actor.pk if actor else "-", action, entry.object_type, entry.object_id,
    )
    return entry

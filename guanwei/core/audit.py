"""The one audit writer. Every state change calls `record` inside its own transaction."""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.db import models
from django.utils.translation import gettext_lazy as _

from guanwei.core import clock
from guanwei.core.models import AuditEntry, Enterprise, Member

log = logging.getLogger("guanwei.audit")

# How the audit page names an action. Apps add theirs with `register_action_labels` (in their
# AppConfig.ready); an action without a label is shown by its code.
ACTION_LABELS: dict[str, Any] = {
    "auth.login": _("登录"),
    "auth.login_failed": _("登录失败"),
    "auth.password_changed": _("修改密码"),
    "member.invited": _("邀请成员"),
    "member.invitation_revoked": _("撤销邀请"),
    "member.joined": _("成员加入"),
    "member.role_changed": _("更改角色"),
    "member.deactivated": _("停用成员"),
    "member.reactivated": _("重新启用成员"),
    "apitoken.created": _("创建 API 令牌"),
    "apitoken.revoked": _("撤销 API 令牌"),
}


def register_action_labels(labels: dict[str, Any]) -> None:
    ACTION_LABELS.update(labels)


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def object_type_label(object_type: str) -> str:
    """`core.member` → the model's verbose name (成员); unknown types as they are."""
    try:
        return str(apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return object_type


def client_ip(request) -> str | None:  # type: ignore[no-untyped-def]
    from guanwei.core.throttle import client_ip as address_of

    return address_of(request)


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

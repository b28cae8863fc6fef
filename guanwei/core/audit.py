"""The one audit writer. Every state change calls `record` inside its own transaction."""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.db import models
from django.utils.translation import gettext_lazy as _

from guanwei.core import clock
from guanwei.core.messages import SUMMARIES, SYSTEM_ACTOR, Summary, role_label
from guanwei.core.models import AuditEntry, Enterprise, Member

log = logging.getLogger("guanwei.audit")

# How the audit page names an action. Apps add theirs with `register_action_labels` (in their
# AppConfig.ready); an action without a label is shown by its code.
ACTION_LABELS: dict[str, Any] = {
    "enterprise.created": _("创建企业"),
    "member.added": _("添加成员"),
    "sandbox.run_started": _("启动沙盒运行"),
    "sandbox.run_cancelled": _("取消沙盒运行"),
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
    "channel.created": _("添加通知渠道"),
    "channel.updated": _("修改通知渠道"),
    "channel.tested": _("发送测试消息"),
}


def _role(code: object) -> str:
    return role_label(code)


SUMMARIES.update({
    "enterprise.created": lambda p: str(_("企业 %(name)s 已创建")) % p,
    "member.added": lambda p: str(_("成员 %(name)s（%(role)s）已添加")) % {**p, "role": _role(p["role"])},
    "auth.login_failed": lambda p: str(_("登录失败：%(username)s")) % p,
    "member.invited": lambda p: str(_("邀请 %(email)s 成为%(role)s")) % {**p, "role": _role(p["role"])},
    "member.invitation_revoked": lambda p: str(_("撤销发给 %(email)s 的邀请")) % p,
    "member.joined": lambda p: str(_("%(name)s 以%(role)s身份加入")) % {**p, "role": _role(p["role"])},
    "member.role_changed": lambda p: str(_("%(name)s：%(old)s → %(new)s"))
    % {**p, "old": _role(p["old"]), "new": _role(p["new"])},
    "member.deactivated": lambda p: str(p["name"]),
    "member.reactivated": lambda p: str(p["name"]),
    "apitoken.created": lambda p: str(p["name"]),
    "apitoken.revoked": lambda p: str(p["name"]),
    "channel.created": lambda p: str(p["name"]),
    "channel.updated": lambda p: str(p["name"]),
    "channel.tested": lambda p: str(p["name"]),
})  # fmt: skip


def register_action_labels(
    labels: dict[str, Any], summaries: dict[str, Summary] | None = None
) -> None:
    ACTION_LABELS.update(labels)
    SUMMARIES.update(summaries or {})


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
    params: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. `action` is dotted, e.g. `member.role_changed`, `account.connected`."""
    entry = AuditEntry(
        enterprise=enterprise,
        actor=actor,
        actor_label=actor_label or (actor.display_name if actor else SYSTEM_ACTOR),
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        summary=summary[:300],
        detail=detail or {},
        params=params,
        ip=client_ip(request),
        created_at=clock.now(),
    )
    entry.save()
    log.info(
        "audit enterprise=%s actor=%s action=%s object=%s:%s",
        enterprise.pk, actor.pk if actor else "-", action, entry.object_type, entry.object_id,
    )
    return entry

"""Every state change of core (Zulip's `do_*` actions): each checks the actor's right, changes
state and writes its audit entry in one transaction. Views and the API only parse and call these.

Rule violations a user can fix raise `ActionError` (core.errors: the one convention, with the form
field it concerns, if any);
a missing right raises PermissionDenied (403); another enterprise's object is 404 via get_for.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from guanwei.core import audit, clock
from guanwei.core.errors import ActionError
from guanwei.core.models import ApiToken, Channel, Enterprise, Invitation, Member, Role
from guanwei.core.permissions import require

TOKEN_PREFIX = "gw_"
INVITATION_PREFIX = "inv_"
EMAIL_MAX_LENGTH = 254  # RFC 5321's limit on a usable address
# A used token's last_used_at is written at most this often (one UPDATE per minute, not per call).
TOKEN_TOUCH_INTERVAL_S = 60


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# --- sign-in ---------------------------------------------------------------------------------


def do_record_login(member: Member, request=None) -> None:  # type: ignore[no-untyped-def]
    audit.record(member.enterprise, member, "auth.login", member, request=request)


def do_record_failed_login(username: str, reason: str, request=None) -> None:  # type: ignore[no-untyped-def]
    """Audit a failed sign-in, but only when the username belongs to a member: the entry goes
    to that member's enterprise. Unknown usernames leave no trace in any tenant's log."""
    member = (
        Member.objects.select_related("enterprise")
        .filter(user__username__iexact=username.strip())
        .first()
    )
    if member is None:
        return
    audit.record(
        member.enterprise,
        None,
        "auth.login_failed",
        member,
        summary=_("登录失败：%(username)s") % {"username": username},
        params={"username": username[:150]},
        detail={"reason": reason},
        request=request,
        actor_label=username[:150],
    )


def do_change_password(member: Member, old_password: str, new_password: str, request=None) -> None:  # type: ignore[no-untyped-def]
    user = member.user
    if not user.check_password(old_password):
        raise ActionError(_("当前密码不正确"), "old_password")
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise ActionError(" ".join(exc.messages), "new_password1") from None
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        audit.record(member.enterprise, member, "auth.password_changed", member, request=request)
    if request is not None:
        update_session_auth_hash(request, user)


# --- invitations -----------------------------------------------------------------------------


@dataclass
class IssuedInvitation:
    invitation: Invitation
    token: str  # shown once; only its SHA-256 is stored


def _require_may_grant(actor: Member, role: str) -> None:
    if role not in Role.values:
        raise ActionError(_("未知角色"), "role")
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise ActionError(_("只有所有者可以授予所有者角色"), "role")


def do_invite_member(actor: Member, email: str, role: str, request=None) -> IssuedInvitation:  # type: ignore[no-untyped-def]
    require(actor, "member.manage")
    _require_may_grant(actor, role)
    email = email.strip()
    if len(email) > EMAIL_MAX_LENGTH:
        raise ActionError(_("邮箱地址太长（最多 %(n)d 个字符）") % {"n": EMAIL_MAX_LENGTH}, "email")
    token = INVITATION_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    with transaction.atomic():
        pending = Invitation.objects.filter(
            enterprise=actor.enterprise, email__iexact=email, accepted_at__isnull=True,
            revoked_at__isnull=True, expires_at__gt=now,
        )  # fmt: skip
        if pending.exists():
            raise ActionError(
                _("已向这个邮箱发出邀请，尚未接受：可在下方撤销后重新邀请。"), "email"
            )
        if Member.objects.filter(
            enterprise=actor.enterprise, user__email__iexact=email, is_active=True
        ).exists():
            raise ActionError(_("这个邮箱已是本企业的成员。"), "email")
        invitation = Invitation.objects.create(
            enterprise=actor.enterprise,
            email=email,
            role=role,
            token_hash=hash_secret(token),
            invited_by=actor,
            expires_at=now + timedelta(seconds=settings.INVITATION_TTL_S),
        )
        audit.record(
            actor.enterprise, actor, "member.invited", invitation,
            summary=f"{email} ({role})", detail={"email": email, "role": role}, request=request,
            params={"email": email, "role": role},
        )
    return IssuedInvitation(invitation, token)


def do_revoke_invitation(actor: Member, invitation: Invitation, request=None) -> None:  # type: ignore[no-untyped-def]
    require(actor, "member.manage")
    with transaction.atomic():
        updated = Invitation.objects.filter(
            pk=invitation.pk, enterprise=actor.enterprise, accepted_at=None, revoked_at=None
        ).update(revoked_at=clock.now())
        if not updated:
            raise ActionError(_("该邀请已被使用或撤销"))
        audit.record(actor.enterprise, actor, "member.invitation_revoked", invitation,
                     summary=invitation.email, request=request,
                     params={"email": invitation.email})


class InvitationState:
    UNKNOWN = "unknown"
    USED = "used"
    REVOKED = "revoked"
    EXPIRED = "expired"
    OPEN = "open"


def find_invitation(token: str) -> tuple[Invitation | None, str]:
    """The invitation for a raw token and whether it can still be accepted."""
    invitation = (
        Invitation.objects.select_related("enterprise").filter(token_hash=hash_secret(token)).first()
    )
    if invitation is None:
        return None, InvitationState.UNKNOWN
    if invitation.accepted_at is not None:
        return invitation, InvitationState.USED
    if invitation.revoked_at is not None:
        return invitation, InvitationState.REVOKED
    if invitation.expires_at <= clock.now():
        return invitation, InvitationState.EXPIRED
    return invitation, InvitationState.OPEN


INVITATION_ERRORS = {
    InvitationState.UNKNOWN: lambda: _("邀请链接无效"),
    InvitationState.USED: lambda: _("该邀请链接已被使用，每个链接只能使用一次"),
    InvitationState.REVOKED: lambda: _("该邀请已被撤销"),
    InvitationState.EXPIRED: lambda: _("该邀请链接已过期，请联系管理员重新邀请"),
}


def do_accept_invitation(
    token: str, username: str, display_name: str, password: str, request=None  # type: ignore[no-untyped-def]
) -> Member:
    """Create the user and member for an open invitation. The claim is a conditional UPDATE,
    so two people racing with the same link get one account between them."""
    invitation, state = find_invitation(token)
    if state != InvitationState.OPEN or invitation is None:
        raise ActionError(INVITATION_ERRORS[state]())
    username = username.strip()
    if not username:
        raise ActionError(_("请填写用户名"), "username")
    candidate = User(username=username, email=invitation.email)
    try:
        validate_password(password, candidate)
    except ValidationError as exc:
        raise ActionError(" ".join(exc.messages), "password1") from None
    now = clock.now()
    with transaction.atomic():
        claimed = Invitation.objects.filter(
            pk=invitation.pk, accepted_at=None, revoked_at=None, expires_at__gt=now
        ).update(accepted_at=now)
        if not claimed:
            raise ActionError(INVITATION_ERRORS[InvitationState.USED]())
        if User.objects.filter(username__iexact=username).exists():
            raise ActionError(_("该用户名已被占用"), "username")
        try:
            with transaction.atomic():
                user = User.objects.create_user(username, invitation.email, password)
        except IntegrityError:
            raise ActionError(_("该用户名已被占用"), "username") from None
        member = Member.objects.create(
            enterprise=invitation.enterprise, user=user, role=invitation.role,
            display_name=display_name.strip() or username,
        )
        audit.record(
            invitation.enterprise, member, "member.joined", member,
            summary=f"{member.display_name} ({member.role})",
            detail={"invitation_id": invitation.pk, "role": member.role}, request=request,
            params={"name": member.display_name, "role": member.role},
        )
    return member


# --- roles and activity ----------------------------------------------------------------------


def _lock_active_owner_count(enterprise: Enterprise) -> int:
    """Counted under row locks (PostgreSQL) / the write lock (SQLite IMMEDIATE), so two owners
    demoting each other at once cannot leave the enterprise without one."""
    return len(
        list(
            Member.objects.select_for_update()
            .filter(enterprise=enterprise, role=Role.OWNER, is_active=True)
            .values_list("pk", flat=True)
        )
    )


def _require_may_manage(actor: Member, target: Member) -> None:
    require(actor, "member.manage")
    if target.enterprise_id != actor.enterprise_id:
        raise PermissionDenied("other enterprise")
    if target.role == Role.OWNER and actor.role != Role.OWNER:
        raise ActionError(_("管理员不能更改所有者"))


def do_change_role(actor: Member, target: Member, role: str, request=None) -> None:  # type: ignore[no-untyped-def]
    _require_may_manage(actor, target)
    _require_may_grant(actor, role)
    if role == target.role:
        return
    with transaction.atomic():
        if target.role == Role.OWNER and target.is_active:
            if _lock_active_owner_count(target.enterprise) <= 1:
                raise ActionError(_("企业至少需要一位所有者，不能降级最后一位所有者"), "role")
        old = target.role
        target.role = role
        target.save(update_fields=["role"])
        audit.record(
            actor.enterprise, actor, "member.role_changed", target,
            summary=f"{target.display_name}: {old} → {role}",
            detail={"from": old, "to": role}, request=request,
            params={"name": target.display_name, "old": old, "new": role},
        )


def do_deactivate_member(actor: Member, target: Member, request=None) -> None:  # type: ignore[no-untyped-def]
    """A deactivated member can neither sign in nor use the API: their sessions are deleted and
    their personal tokens revoked, so reactivating them later revives neither (they sign in
    again and make new tokens)."""
    _require_may_manage(actor, target)
    if target.pk == actor.pk:
        raise ActionError(_("不能停用自己"))
    if not target.is_active:
        return
    with transaction.atomic():
        if target.role == Role.OWNER and _lock_active_owner_count(target.enterprise) <= 1:
            raise ActionError(_("企业至少需要一位所有者，不能停用最后一位所有者"))
        target.is_active = False
        target.save(update_fields=["is_active"])
        User.objects.filter(pk=target.user_id).update(is_active=False)
        revoked = ApiToken.objects.filter(member=target, revoked_at__isnull=True).update(
            revoked_at=clock.now()
        )
        ended = _end_sessions_of(target.user_id)
        audit.record(actor.enterprise, actor, "member.deactivated", target,
                     summary=target.display_name, request=request,
                     detail={"sessions_ended": ended, "tokens_revoked": revoked},
                     params={"name": target.display_name})


def _end_sessions_of(user_id: int) -> int:
    """Delete every live session of one user. Sessions are opaque rows, so each is decoded: a
    scan of the live sessions, acceptable for a rare admin action."""
    from django.contrib.sessions.models import Session

    doomed = [
        s.pk
        for s in Session.objects.filter(expire_date__gt=clock.now()).iterator(chunk_size=500)
        if str(s.get_decoded().get("_auth_user_id")) == str(user_id)
    ]
    Session.objects.filter(pk__in=doomed).delete()
    return len(doomed)


def do_reactivate_member(actor: Member, target: Member, request=None) -> None:  # type: ignore[no-untyped-def]
    _require_may_manage(actor, target)
    if target.is_active:
        return
    with transaction.atomic():
        target.is_active = True
        target.save(update_fields=["is_active"])
        User.objects.filter(pk=target.user_id).update(is_active=True)
        audit.record(actor.enterprise, actor, "member.reactivated", target,
                     summary=target.display_name, request=request,
                     params={"name": target.display_name})


# --- personal API tokens ---------------------------------------------------------------------


@dataclass
class IssuedToken:
    api_token: ApiToken
    token: str  # shown once


def do_create_api_token(member: Member, name: str, request=None) -> IssuedToken:  # type: ignore[no-untyped-def]
    require(member, "apitoken.manage")
    name = name.strip()
    if not name:
        raise ActionError(_("请填写名称"), "name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        api_token = ApiToken.objects.create(
            enterprise_id=member.enterprise_id, member=member, name=name[:100],
            prefix=token[:10], token_hash=hash_secret(token),
        )
        audit.record(member.enterprise, member, "apitoken.created", api_token,
                     summary=api_token.name, request=request, params={"name": api_token.name})
    return IssuedToken(api_token, token)


def do_revoke_api_token(member: Member, api_token: ApiToken, request=None) -> None:  # type: ignore[no-untyped-def]
    require(member, "apitoken.manage")
    if api_token.member_id != member.pk:
        raise PermissionDenied("not your token")
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=api_token.pk, revoked_at=None).update(
            revoked_at=clock.now()
        )
        if updated:
            audit.record(member.enterprise, member, "apitoken.revoked", api_token,
                         summary=api_token.name, request=request, params={"name": api_token.name})


def authenticate_token(raw: str) -> Member | None:
    """The active member a bearer token belongs to, or None (unknown, revoked, or the member
    or their user deactivated). Touches last_used_at at most once a minute."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    api_token = (
        ApiToken.objects.select_related("member__enterprise", "member__user")
        .filter(token_hash=hash_secret(raw), revoked_at=None)
        .first()
    )
    if api_token is None:
        return None
    member = api_token.member
    if not (member.is_active and member.user.is_active):
        return None
    now = clock.now()
    if api_token.last_used_at is None or now - api_token.last_used_at >= timedelta(
        seconds=TOKEN_TOUCH_INTERVAL_S
    ):
        # Conditional, so concurrent requests in the same minute write once.
        ApiToken.objects.filter(pk=api_token.pk).filter(
            Q(last_used_at=None) | Q(last_used_at__lte=now - timedelta(seconds=TOKEN_TOUCH_INTERVAL_S))
        ).update(last_used_at=now)
    return member


# --- outbound channels ------------------------------------------------------------------------


@dataclass
class SavedChannel:
    channel: Channel
    webhook_secret: str  # a new webhook signing secret, shown once ("" when none was made)


def do_save_channel(actor: Member, channel: Channel | None, data: dict, request=None) -> SavedChannel:  # type: ignore[no-untyped-def]
    """Create (`channel` None) or change a channel. An empty url/secret on edit keeps the stored
    one; a new webhook gets a generated signing secret (returned once)."""
    from guanwei.core.channels import new_webhook_secret

    require(actor, "channel.manage")
    creating = channel is None
    if channel is None:
        channel = Channel(enterprise=actor.enterprise)
    elif channel.kind != data["kind"]:
        raise ActionError(_("渠道类型不能修改；请新建一个渠道。"), "kind")
    changed = [f for f in ("name", "events", "bell_action", "is_active") if getattr(channel, f) != data[f]]
    channel.name, channel.kind = data["name"].strip(), data["kind"]
    channel.events, channel.bell_action, channel.is_active = data["events"], data["bell_action"], data["is_active"]
    if data["url"]:
        if not creating and channel.url != data["url"]:
            changed.append("url")
        channel.url = data["url"]
    issued = ""
    if channel.kind == Channel.Kind.WEBHOOK:
        if creating or data.get("rotate_secret"):
            issued = channel.secret = new_webhook_secret()
            changed.append("secret")
    elif data.get("secret"):
        channel.secret = data["secret"]
        changed.append("secret")
    try:
        with transaction.atomic():
            channel.save()
            audit.record(
                actor.enterprise, actor, "channel.created" if creating else "channel.updated", channel,
                summary=channel.name, request=request,
                detail={"kind": channel.kind, "changed": sorted(set(changed))},  # never the url or secret
                params={"name": channel.name},
            )  # fmt: skip
    except IntegrityError:
        raise ActionError(_("已有同名的渠道，请换一个名称。"), "name") from None
    return SavedChannel(channel, issued)


def do_send_test_message(actor: Member, channel: Channel, request=None):  # type: ignore[no-untyped-def]
    """Queue a test message to `channel` (whatever events it wants); the worker sends it."""
    from guanwei.core.channels import Message, send
    from guanwei.core.links import absolute_url

    require(actor, "channel.manage")
    if not channel.is_active:
        raise ActionError(_("渠道已停用，请先启用再发送测试消息。"))
    with transaction.atomic():
        (delivery,) = send(
            actor.enterprise, "channel.test",
            Message(
                title=_("官微测试消息"),
                text=_("这是 %(who)s 从官微发出的测试消息：渠道“%(name)s”可以收到通知。")
                % {"who": actor.display_name, "name": channel.name},
                url=absolute_url("/"), level="info",
            ),
            channels=[channel],
        )  # fmt: skip
        audit.record(actor.enterprise, actor, "channel.tested", channel, summary=channel.name,
                     request=request, params={"name": channel.name})  # fmt: skip
    return delivery

"""Every change to the matrix (组合策略): connections, accounts, access limits, and connecting an
account through the platform's OAuth2 flow. Each `do_*` action checks the right, writes, and audits
in one transaction, and raises core.errors.ActionError (ConnectError is one) for what a person can
fix; views only parse input and call these."""

from __future__ import annotations

import logging
import secrets
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from guanwei.core import audit, clock
from guanwei.core.errors import ActionError
from guanwei.core.links import absolute_url
from guanwei.core.models import Member
from guanwei.core.permissions import require
from guanwei.matrix import connectors
from guanwei.matrix.health import expiry_health, set_health
from guanwei.matrix.models import Account, AccountAccess, Connection, MatrixRole

log = logging.getLogger("guanwei.matrix")

MANAGE = "account.manage"


# --- connections ----------------------------------------------------------------------------


def do_create_connection(member: Member, *, request: Any = None, **fields: Any) -> Connection:
    """Add a platform connection. `fields`: name, kind, base_url, app_key, app_secret, safe_domain."""
    require(member, MANAGE)
    connection = Connection(enterprise=member.enterprise, **fields)
    _save_connection(
        member,
        connection,
        "connection.created",
        summary=f"{connection.name} ({connection.kind})",
        detail={"kind": connection.kind, "base_url": connection.base_url},
        request=request,
        params={"name": connection.name, "kind": connection.kind},
    )
    return connection


def do_update_connection(
    member: Member,
    connection: Connection,
    *,
    new_secret: str = "",
    request: Any = None,
    **fields: Any,
) -> Connection:
    """Change a connection. The secret is write-only: an empty `new_secret` keeps the old one."""
    require(member, MANAGE)
    changed = sorted(k for k, v in fields.items() if getattr(connection, k) != v)
    for key, value in fields.items():
        setattr(connection, key, value)
    if new_secret:
        connection.app_secret = new_secret
        changed.append("app_secret")
    _save_connection(
        member,
        connection,
        "connection.updated",
        summary=connection.name,
        detail={"changed": changed},  # names of the changed fields only: never the secret's value
        request=request,
    )
    return connection


def _save_connection(
    member: Member,
    connection: Connection,
    action: str,
    *,
    summary: str,
    detail: dict[str, Any],
    request: Any,
    params: dict[str, Any] | None = None,
) -> None:
    """Save and audit in one transaction; a name already used in the enterprise (the unique
    constraint) comes back as the form's error on ``name``."""
    try:
        with transaction.atomic():
            connection.save()
            audit.record(
                member.enterprise,
                member,
                action,
                connection,
                summary=summary,
                detail=detail,
                request=request,
                params=params,
            )
    except IntegrityError:
        raise ActionError(_("已有同名的平台连接，请换一个名称。"), "name") from None


# --- accounts -------------------------------------------------------------------------------


def _would_cycle(account: Account, parent: Account | None) -> bool:
    seen = {account.pk}
    node = parent
    while node is not None:
        if node.pk in seen:
            return True
        seen.add(node.pk)
        node = node.parent
    return False


def do_update_account(
    member: Member,
    account: Account,
    *,
    matrix_role: str,
    parent: Account | None,
    request: Any = None,
) -> list[str]:
    """Set an account's role in the matrix and its parent. Returns warnings (not errors), e.g.
    when the enterprise ends up with more than one parent account (母微博)."""
    require(member, MANAGE)
    if matrix_role not in MatrixRole.values:
        raise ActionError(_("未知的矩阵角色。"), "matrix_role")
    if parent is not None:
        if parent.enterprise_id != account.enterprise_id:
            raise ActionError(_("上级账号必须属于同一企业。"), "parent")
        if _would_cycle(account, parent):
            raise ActionError(
                _("不能把账号挂在自己或自己的下级账号之下（会形成循环）。"), "parent"
            )
    before = {"matrix_role": account.matrix_role, "parent": account.parent_id}
    with transaction.atomic():
        account.matrix_role = matrix_role
        account.parent = parent
        account.save(update_fields=["matrix_role", "parent"])
        audit.record(
            member.enterprise,
            member,
            "account.updated",
            account,
            summary=account.screen_name,
            detail={
                "before": before,
                "after": {"matrix_role": matrix_role, "parent": account.parent_id},
            },
            request=request,
        )
    return matrix_warnings(account.enterprise_id)


def matrix_warnings(enterprise_id: int) -> list[str]:
    parents = Account.objects.filter(
        enterprise_id=enterprise_id, matrix_role=MatrixRole.PARENT
    ).count()
    if parents > 1:
        return [
            _("企业有 %(n)d 个母微博账号。建议只设一个母微博，其余账号作为它的子账号。")
            % {"n": parents}
        ]
    return []


def do_remove_account(member: Member, account: Account, *, request: Any = None) -> None:
    """Remove an account from the matrix. Its children move up to its parent."""
    require(member, MANAGE)
    with transaction.atomic():
        Account.objects.filter(parent=account).update(parent=account.parent_id)
        audit.record(
            member.enterprise,
            member,
            "account.removed",
            account,
            summary=f"{account.screen_name} (uid {account.platform_uid})",
            detail={"platform_uid": account.platform_uid, "connection": account.connection_id},
            request=request,
        )
        account.delete()


def do_set_account_access(
    member: Member,
    target: Member,
    accounts: list[Account],
    *,
    limited: bool | None = None,
    request: Any = None,
) -> None:
    """Replace the accounts `target` may act for, and (with `limited`) whether they are limited
    to them at all (Member.is_limited_to_accounts): unlimited members act for every account."""
    require(member, MANAGE)
    if target.enterprise_id != member.enterprise_id or any(
        a.enterprise_id != member.enterprise_id for a in accounts
    ):
        raise ActionError(_("只能选择本企业的账号。"), "accounts")
    wanted = {a.pk for a in accounts}
    with transaction.atomic():
        current = set(
            AccountAccess.objects.filter(member=target).values_list("account_id", flat=True)
        )
        AccountAccess.objects.filter(member=target, account_id__in=current - wanted).delete()
        was_limited = target.is_limited_to_accounts
        if limited is not None and limited != was_limited:
            Member.objects.filter(pk=target.pk).update(is_limited_to_accounts=limited)
            target.is_limited_to_accounts = limited
        AccountAccess.objects.bulk_create(
            [
                AccountAccess(enterprise_id=member.enterprise_id, member=target, account_id=pk)
                for pk in sorted(wanted - current)
            ]
        )
        audit.record(
            member.enterprise,
            member,
            "member.account_access_changed",
            target,
            summary=target.display_name,
            detail={
                "added": sorted(wanted - current),
                "removed": sorted(current - wanted),
                "limited": target.is_limited_to_accounts,
            },
            request=request,
        )


# --- connecting an account (OAuth2) -------------------------------------------------------

STATE_SALT = "guanwei.matrix.oauth-state"
STATE_MAX_AGE_S = 15 * 60
SESSION_KEY = "matrix_oauth_pending"


class ConnectError(ActionError):
    """A connect attempt that cannot finish; the message says what happened and what to do.
    `account` is the account the attempt was about (a reconnect), so "try again" goes back to
    that account's reconnect rather than the generic connect form."""

    def __init__(self, message: str, account: Account | None = None) -> None:
        super().__init__(message)
        self.account = account


@dataclass
class ConnectResult:
    account: Account
    created: bool
    warnings: list[str]


def callback_url(request: Any, connection: Connection) -> str:
    """The OAuth redirect_uri: from GUANWEI_BASE_URL (https behind a TLS proxy)."""
    return absolute_url(reverse("matrix:callback", args=[connection.pk]))


def do_begin_connect(
    request: Any,
    member: Member,
    connection: Connection,
    *,
    matrix_role: str = MatrixRole.PRODUCT,
    parent: Account | None = None,
    account: Account | None = None,
) -> str:
    """Start connecting (or, with `account`, re-authorising) an account: remember the attempt in
    the session and return the platform's authorize URL. The `state` is signed and names the
    connection and a nonce kept in this session, so a callback from another browser, for another
    connection, or replayed after use is refused."""
    require(member, MANAGE)
    nonce = secrets.token_urlsafe(16)
    pending = dict(request.session.get(SESSION_KEY, {}))
    # keep the few most recent attempts (several tabs), drop older ones
    for old in sorted(pending, key=lambda k: pending[k]["at"])[:-4]:
        del pending[old]
    pending[nonce] = {
        "connection": connection.pk,
        "member": member.pk,
        "matrix_role": account.matrix_role if account else matrix_role,
        "parent": parent.pk if parent else None,
        "account": account.pk if account else None,
        "at": clock.now().timestamp(),
    }
    request.session[SESSION_KEY] = pending
    state = signing.dumps({"c": connection.pk, "n": nonce}, salt=STATE_SALT, compress=True)
    from guanwei.platforms.base import PlatformError

    try:
        with closing(connectors.for_connection(connection)) as app:
            url = app.authorize_url(callback_url(request, connection), state)
    except PlatformError as exc:  # e.g. a base URL the outbound policy refuses
        raise ConnectError(_platform_message(exc), account=account) from None
    log.info(
        "account.connect_started enterprise=%s connection=%s member=%s reconnect=%s",
        member.enterprise_id,
        connection.pk,
        member.pk,
        account.pk if account else "-",
    )
    return str(url)


def _take_pending(request: Any, connection: Connection, state: str) -> dict[str, Any]:
    try:
        data = signing.loads(state, salt=STATE_SALT, max_age=STATE_MAX_AGE_S)
    except signing.SignatureExpired:
        raise ConnectError(
            _("授权请求已超时（超过 15 分钟）。请回到账号矩阵重新点“连接账号”。")
        ) from None
    except signing.BadSignature:
        raise ConnectError(
            _(
                "授权回调的 state 参数无效，可能被篡改或不是本站发起的。请回到账号矩阵重新点“连接账号”。"
            )
        ) from None
    pending = dict(request.session.get(SESSION_KEY, {}))
    attempt = pending.pop(data.get("n"), None)
    if attempt is None or data.get("c") != connection.pk or attempt["connection"] != connection.pk:
        raise ConnectError(
            _(
                "这个授权回调不属于当前会话（可能已用过，或在另一个浏览器中发起）。请重新点“连接账号”。"
            )
        )
    request.session[SESSION_KEY] = pending
    return attempt


def _platform_message(error: Any) -> str:
    detail = str(error) or error.__class__.__name__
    return _(
        "平台返回错误：%(detail)s。请稍后重试；若一直失败，请检查平台连接的 App Key、App Secret 和接口地址。"
    ) % {"detail": detail[:200]}


def do_complete_connect(
    request: Any,
    member: Member,
    connection: Connection,
    *,
    code: str,
    state: str,
    error: str = "",
    error_description: str = "",
) -> ConnectResult:
    """Finish the OAuth2 flow at the callback: check state, exchange the code, read the user,
    create or update the Account (token encrypted), audit `account.connected`."""
    require(member, MANAGE)
    attempt = _take_pending(request, connection, state)
    if attempt.get("member") != member.pk:
        raise ConnectError(
            _(
                "这个授权回调不属于当前会话（可能已用过，或在另一个浏览器中发起）。请重新点“连接账号”。"
            )
        )
    if error:
        if error in {"access_denied", "21330", "10032"}:
            raise ConnectError(
                _(
                    "你在平台的授权页上拒绝了授权，账号没有连接。若要连接，请重新点“连接账号”并选择“授权”。"
                )
            )
        raise ConnectError(
            _("平台拒绝了授权请求：%(error)s。") % {"error": (error_description or error)[:200]}
        )
    if not code:
        raise ConnectError(_("平台的回调中没有授权码（code）。请重新点“连接账号”。"))

    from guanwei.platforms.base import PlatformError

    redirect_uri = callback_url(request, connection)
    try:
        with closing(connectors.for_connection(connection)) as app:
            grant = app.exchange_code(code, redirect_uri)
        with closing(
            connectors.for_connection(
                connection, access_token=grant.access_token, uid=str(grant.uid)
            )
        ) as as_user:
            remote = as_user.user_show(str(grant.uid))
    except PlatformError as exc:
        log.warning(
            "account.connect_failed enterprise=%s connection=%s error=%s",
            member.enterprise_id,
            connection.pk,
            getattr(exc, "kind", "?"),
        )
        raise ConnectError(_platform_message(exc)) from None

    uid = str(getattr(remote, "id", "") or grant.uid)
    now = clock.now()
    expires_at = now + timedelta(seconds=int(grant.expires_in_s)) if grant.expires_in_s else None

    reconnect = None
    if attempt.get("account"):
        reconnect = Account.objects.for_member(member).filter(pk=attempt["account"]).first()
        if reconnect is not None and (
            reconnect.connection_id != connection.pk or reconnect.platform_uid != uid
        ):
            raise ConnectError(
                _(
                    "你授权的是 @%(got)s，而要重新授权的是 @%(want)s。请在平台上切换到正确的账号后再试。"
                )
                % {"got": getattr(remote, "screen_name", uid), "want": reconnect.screen_name},
                account=reconnect,
            )
    else:
        # A new connection that lands on an account already in the matrix: the person meant
        # another account (or the platform remembered a sign-in). Change nothing — neither its
        # token nor its place — and say how to do either on purpose.
        existing = Account.objects.for_member(member).filter(
            connection=connection, platform_uid=uid
        ).first()
        if existing is not None:
            raise ConnectError(
                _(
                    "@%(name)s 已经在账号矩阵中（%(role)s），没有做任何更改。要连接另一个账号，请在平台的授权页上换一个账号登录；要更新它的授权，请在它的账号页点“重新授权”。"
                )
                % {"name": existing.screen_name, "role": existing.get_matrix_role_display()},
                account=existing,
            )

    parent = None
    if attempt.get("parent"):
        parent = Account.objects.for_member(member).filter(pk=attempt["parent"]).first()

    with transaction.atomic():
        account = (
            Account.objects.select_for_update()
            .filter(connection=connection, platform_uid=uid)
            .first()
        )
        created = account is None
        if created:
            account = Account(
                enterprise=connection.enterprise,
                connection=connection,
                platform_uid=uid,
                matrix_role=attempt["matrix_role"],
                parent=parent,
            )
        assert account is not None
        account.screen_name = str(getattr(remote, "screen_name", "") or uid)[:100]
        verified_type = getattr(remote, "verified_type", None)
        # 0 is a real value (orange/yellow V); only a missing one means ordinary (-1).
        account.verified_type = -1 if verified_type is None else int(verified_type)
        account.followers_count = max(0, int(getattr(remote, "followers_count", 0) or 0))
        account.token = grant.access_token
        account.refresh_token = getattr(grant, "refresh_token", None) or ""
        account.token_expires_at = expires_at
        account.connected_at = now
        account.save()
        audit.record(
            member.enterprise,
            member,
            "account.connected",
            account,
            summary=f"@{account.screen_name} (uid {uid})",
            params={"name": account.screen_name, "matrix_role": account.matrix_role},
            detail={
                "connection": connection.pk,
                "created": created,
                "reconnected": not created,
                "token_expires_at": expires_at.isoformat() if expires_at else None,
            },
            request=request,
        )
        target_health = expiry_health(account)
        if account.health != target_health:
            set_health(account, target_health)
    log.info(
        "account.connected enterprise=%s connection=%s account=%s created=%s",
        member.enterprise_id,
        connection.pk,
        account.pk,
        created,
    )
    return ConnectResult(account, created, matrix_warnings(member.enterprise_id) if created else [])

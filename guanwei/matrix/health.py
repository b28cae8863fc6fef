"""Account health (账号状态): what the last platform calls and the token's expiry say about an account.

Callers report every platform call's outcome with `record_platform_error(account, error)` or
`record_platform_ok(account)`; both end in `set_health`, the one path, which moves health through
the account's state machine (core.states: `UPDATE … WHERE health=<seen>`), so when a hundred calls
fail at once exactly one of them performs the change and that one writes the StateEvent, the audit
entry and the notification; the others change nothing. The notification's
incident key `account:<id>:<health>` makes it one notice per incident, resolved when health moves on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import override

from guanwei.core import channels, clock
from guanwei.core.links import absolute_url
from guanwei.core.notifications import notify, resolve
from guanwei.core.states import transition
from guanwei.matrix.models import Account, Health

log = logging.getLogger("guanwei.matrix.health")

# Weibo counts calls per hour (PLATFORM_APIS §4): after this long an hourly limit has lifted
# (a daily limit is met again by the next call, which re-opens the incident).
RATE_LIMIT_WINDOW_S = 3600

# Who is told about an account's trouble: those who can reconnect or reconfigure it.
NOTIFY_ACTION = "account.manage"

# PlatformError.kind values (guanwei.platforms.base.ErrorKind) that say something about the account.
# Anything else (a post too long, a duplicate, a missing status) is the caller's business.
_KIND_TO_HEALTH = {
    "rate_limited": Health.RATE_LIMITED,
    "auth_expired": Health.TOKEN_EXPIRED,
    "auth_invalid": Health.TOKEN_EXPIRED,
    # a timed-out write may have been delivered (the caller reconciles); for health it is
    # the same as no answer at all
    "timeout": Health.UNREACHABLE,
    "unavailable": Health.UNREACHABLE,
}


def health_for_error(error: Any) -> str | None:
    """The health a platform error implies, or None when it is not about the account."""
    kind = str(getattr(error, "kind", "") or "").lower()
    return _KIND_TO_HEALTH.get(kind)


def condition_key(account: Account, health: str) -> str:
    return f"account:{account.pk}:{health}"


def expiry_health(account: Account) -> str:
    """What the token's expiry alone says: ok, expiring soon, or expired."""
    if not account.token:
        return Health.TOKEN_EXPIRED
    if account.token_expires_at is None:
        return Health.OK
    left = account.token_expires_at - clock.now()
    if left <= timedelta(0):
        return Health.TOKEN_EXPIRED
    if left <= timedelta(seconds=settings.TOKEN_EXPIRY_WARNING_S):
        return Health.TOKEN_EXPIRING
    return Health.OK


LEVELS = {Health.TOKEN_EXPIRING: "warning", Health.RATE_LIMITED: "warning"}


def notice_params(account: Account, health: str) -> dict[str, object]:
    """What a health notice says, as plain data (rendered in each reader's language)."""
    return {
        "name": account.screen_name,
        "health": health,
        "expires_at": account.token_expires_at.isoformat() if account.token_expires_at else None,
        "time_zone": account.enterprise.time_zone,
    }


def notice_text(params: dict[str, object]) -> tuple[str, str]:
    """Title and body of a health notice, in the current language (core.notifications)."""
    name, health = params["name"], params["health"]
    if health == Health.TOKEN_EXPIRING:
        when = ""
        if params.get("expires_at"):
            tz = ZoneInfo(str(params.get("time_zone") or "Asia/Shanghai"))
            at = datetime.fromisoformat(str(params["expires_at"])).astimezone(tz)
            zone = _("北京时间") if tz.key == "Asia/Shanghai" else tz.key
            when = f"{at:%Y-%m-%d %H:%M} ({zone})"
        return (
            _("账号 @%(name)s 的授权即将过期") % {"name": name},
            _("授权将于 %(when)s 到期。请在到期前点“重新授权”，否则将无法发布和接收消息。")
            % {"when": when},
        )
    if health == Health.TOKEN_EXPIRED:
        return (
            _("账号 @%(name)s 的授权已失效") % {"name": name},
            _("平台不再接受该账号的令牌。请在账号矩阵中点“重新授权”。"),
        )
    if health == Health.RATE_LIMITED:
        return (
            _("账号 @%(name)s 被平台限流") % {"name": name},
            _("平台暂时拒绝该账号的调用（频次超限）。系统会在限流解除后自动恢复，无需操作。"),
        )
    return (
        _("无法连接账号 @%(name)s 的平台") % {"name": name},
        _(
            "调用平台接口失败（超时或服务器错误）。系统会继续重试；若持续出现，请检查平台连接的接口地址。"
        ),
    )


def set_health(account: Account, health: str, detail: str = "") -> bool:
    """Move `account` to `health` through the state machine (core.states: a conditional update,
    the StateEvent and the audit entry in one transaction; the notification with them). Returns
    True when this call made the change, False when the account was already there — or another
    caller moved it first to this same health."""
    for _attempt in range(2):
        previous = account.health
        if previous == health:
            return False
        moved = transition(
            account,
            health,
            field="health",
            expected=previous,
            reason=detail[:300],
            updates={"health_detail": detail[:300], "health_changed_at": clock.now()},
            summary=f"{account.screen_name}: {previous} → {health}",
            detail={"detail": detail[:300]},
            audit_params={"name": account.screen_name},
            after=lambda frm: _on_health_changed(account, health),
        )
        if moved:
            log.info(
                "account.health enterprise=%s account=%s from=%s to=%s",
                account.enterprise_id, account.pk, previous, health,
            )  # fmt: skip
            return True
        # Someone moved it meanwhile: the latest report wins, from what the row says now.
        account.health = Account.objects.values_list("health", flat=True).get(pk=account.pk)
    return False


def _on_health_changed(account: Account, health: str) -> None:
    """In the transition's transaction: close the notices of other healths, open this one's."""
    for old in Health.values:
        if old != health:
            resolve(account.enterprise, condition_key(account, old))
    if health != Health.OK:
        params = notice_params(account, health)
        title, body = notice_text(params)  # the fallback text, in the writer's language
        # …and to the enterprise's channels (a dead token at 2 a.m. reaches the DingTalk group).
        channels.send(
            account.enterprise, "account.health",
            channels.Message(
                title=title, text=body, level=LEVELS.get(health, "error"),
                url=absolute_url(reverse("matrix:account", args=[account.pk])),
                data={"account_id": account.pk, "screen_name": account.screen_name, "health": health},
            ),
        )  # fmt: skip
        notify(
            account.enterprise,
            action=NOTIFY_ACTION,
            title=title,
            body=body,
            url=reverse("matrix:account", args=[account.pk]),
            level=LEVELS.get(health, "error"),
            condition_key=condition_key(account, health),
            code="account.health",
            params=params,
        )


def record_platform_error(account: Account, error: Any) -> str | None:
    """Report a failed platform call for `account`. Returns the health it implies (None if the
    error says nothing about the account, e.g. a rejected post)."""
    health = health_for_error(error)
    if health is None:
        return None
    with override(settings.LANGUAGE_CODE):
        set_health(account, health, detail=str(error)[:300])
    return health


def record_platform_ok(account: Account) -> None:
    """Report a successful platform call: the account is reachable and its token works, so any
    rate-limit / unreachable / expired incident is over (an expiring token stays a warning)."""
    if account.health == Health.OK:
        # The common case costs no query. A stale in-memory OK can hide a recovery for a
        # moment; the next call (or the periodic check) settles it.
        return
    health = expiry_health(account)
    if health == Health.TOKEN_EXPIRED:
        # The call worked, so the platform still accepts the token (clock skew or a renewed grant).
        health = Health.OK
    with override(settings.LANGUAGE_CODE):
        set_health(account, health)


def check_token_expiry(accounts: Any = None) -> dict[str, int]:
    """Mark accounts whose tokens expire within TOKEN_EXPIRY_WARNING_S as token_expiring and
    those past expiry as token_expired; an account renewed since goes back to ok. Accounts that
    are rate-limited or unreachable keep that state unless their token has expired meanwhile.
    A rate limit is over once its window has passed (Weibo's limits are per hour): an account
    rate-limited for longer than RATE_LIMIT_WINDOW_S with no newer failure goes back to what its
    token says, so an idle account does not stay "rate-limited" for ever.
    Returns how many accounts moved to each state."""
    now = clock.now()
    warn_until = now + timedelta(seconds=settings.TOKEN_EXPIRY_WARNING_S)
    limit_over = now - timedelta(seconds=RATE_LIMIT_WINDOW_S)
    qs = accounts if accounts is not None else Account.objects.all()
    # Only accounts whose health may be out of date need looking at.
    candidates = (
        qs.filter(token_expires_at__lte=warn_until)  # expiring or expired tokens
        | qs.filter(health__in=[Health.TOKEN_EXPIRING, Health.TOKEN_EXPIRED])  # maybe renewed
        | qs.filter(health=Health.RATE_LIMITED, health_changed_at__lte=limit_over)
    ).select_related("enterprise")
    moved: dict[str, int] = {}
    with override(settings.LANGUAGE_CODE):
        for account in candidates.distinct().iterator():
            target = expiry_health(account)
            if account.health == target:
                continue
            limit_passed = account.health == Health.RATE_LIMITED and (
                account.health_changed_at is None or account.health_changed_at <= limit_over
            )
            if (
                target != Health.TOKEN_EXPIRED
                and account.health in (Health.RATE_LIMITED, Health.UNREACHABLE)
                and not limit_passed
            ):
                continue  # a live incident outranks a warning; record_platform_ok settles it
            if account.health == Health.TOKEN_EXPIRED and account.health_detail:
                # Declared dead by the platform (21327/21332), not by the clock: only a
                # reconnect or a successful call clears it.
                continue
            if set_health(account, target):
                moved[target] = moved.get(target, 0) + 1
    return moved

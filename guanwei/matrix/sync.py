"""Keeping an account's facts in step with the platform (账号同步).

An Account's followers, screen name, verification and token expiry are copied from the platform
when it is connected; after that they drift (the sandbox's 示例乳业官方微博 gains followers, a
Weibo account is renamed or loses its blue V, a token is re-authorised elsewhere). The periodic job
`matrix.refresh_accounts` (tasks.py, every 30 minutes) calls `refresh_account` for every account
with a token.

`refresh_account` makes two read calls as the account — `users/show` and `get_token_info` — and:

* reports the outcome through `matrix.health` (`record_platform_ok` / `record_platform_error`), so a
  dead token or an unreachable platform becomes health plus **one** notification by the existing
  conditional update, and a recovered platform resolves it;
* writes the changed fields in **one** conditional UPDATE, and nothing when nothing changed. The
  UPDATE only lands if the token it read is still the account's token (`connected_at` and
  `token_expires_at` unchanged): a reconnect or a seed renewing the token between the read and the
  write wins, and the next refresh catches up;
* writes an audit entry `account.synced` only for *material* changes: the screen name, the
  verification type, or the token's expiry. Followers alone are not audited: they change on
  nearly every run, the audit log is append-only (it cannot be pruned), and a count is a metric,
  not an act — at 48 runs a day per account it would bury the entries people read the log for.
"""

from __future__ import annotations

import logging
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction

from guanwei.core import audit, clock
from guanwei.matrix import connectors
from guanwei.matrix.health import record_platform_error, record_platform_ok
from guanwei.matrix.models import Account, AccountSnapshot

log = logging.getLogger("guanwei.matrix.sync")

# get_token_info answers the *remaining* lifetime in whole seconds, so `now + expire_in` moves by a
# second or so from one run to the next; a smaller difference than this is the same expiry.
EXPIRY_TOLERANCE = timedelta(seconds=60)

# Fields whose change is worth an audit entry (see the module docstring).
MATERIAL_FIELDS = ("screen_name", "verified_type", "token_expires_at")


@dataclass
class RefreshResult:
    """What one refresh did. `outcome`: "updated", "unchanged", "skipped" (no token),
    "conflict" (the token changed while we read; nothing written) or "error" (a PlatformError,
    reported to health; `error` is its kind)."""

    outcome: str
    changed: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    health: str = ""


def _expiry(now: datetime, expires_in_s: int | None) -> datetime | None:
    return None if expires_in_s is None else now + timedelta(seconds=int(expires_in_s))


def _changes(account: Account, remote: Any, expires_at: datetime | None) -> dict[str, Any]:
    """The fields that differ from what the platform says (only those the platform told us)."""
    changed: dict[str, Any] = {}
    if remote.followers_count is not None:
        followers = max(0, int(remote.followers_count))
        if followers != account.followers_count:
            changed["followers_count"] = followers
    name = str(remote.screen_name or "")[:100]
    if name and name != account.screen_name:
        changed["screen_name"] = name
    # 0 is a real verified type (Weibo: an individual's yellow V), so no `or -1` here.
    if remote.verified_type is not None and int(remote.verified_type) != account.verified_type:
        changed["verified_type"] = int(remote.verified_type)
    seen = account.token_expires_at
    if (seen is None) != (expires_at is None) or (
        seen is not None and expires_at is not None and abs(expires_at - seen) > EXPIRY_TOLERANCE
    ):
        changed["token_expires_at"] = expires_at
    return changed


def take_snapshot(account: Account, remote: Any) -> None:
    """Today's counts of `account` (one row per account per day; a later refresh the same day
    overwrites it), so insight has history and not only the latest figure."""
    now = clock.now()
    AccountSnapshot.objects.update_or_create(
        account=account,
        day=now.astimezone(ZoneInfo(account.enterprise.time_zone)).date(),
        defaults={
            "enterprise_id": account.enterprise_id,
            "followers_count": _count(getattr(remote, "followers_count", None)),
            "friends_count": _count(getattr(remote, "friends_count", None)),
            "statuses_count": _count(getattr(remote, "statuses_count", None)),
            "taken_at": now,
        },
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None


def refresh_account(account: Account) -> RefreshResult:
    """Read `account` from its platform (users/show + get_token_info) and bring followers, screen
    name, verified type and token expiry up to date; report the calls' outcome to health.

    Never raises a PlatformError: it is recorded (health, one notification per incident) and
    returned in the result, so one account's trouble does not stop a batch."""
    from guanwei.platforms.base import PlatformError

    if not account.token:
        return RefreshResult("skipped")
    try:
        with closing(connectors.for_account(account)) as connector:
            remote = connector.user_show(account.platform_uid)
            info = connector.token_info()
    except PlatformError as error:
        health = record_platform_error(account, error) or ""
        log.warning(
            "account.refresh_failed enterprise=%s account=%s error=%s code=%s health=%s",
            account.enterprise_id,
            account.pk,
            error.kind,
            error.code,
            health or account.health,
        )
        return RefreshResult("error", error=error.kind, health=health or account.health)

    if info.expires_in_s is not None and info.expires_in_s <= 0:
        # The platform still knows the token but says its time is up (the sandbox answers a
        # negative expire_in): the same as a call refused with expired_token.
        expired = PlatformError(
            "auth_expired", "token expired", code="expire_in", endpoint="oauth2/get_token_info"
        )
        health = record_platform_error(account, expired) or ""
        return RefreshResult("error", error=expired.kind, health=health)

    changed = _changes(account, remote, _expiry(clock.now(), info.expires_in_s))
    outcome = "unchanged"
    if changed:
        with transaction.atomic():
            written = Account.objects.filter(
                pk=account.pk,
                connected_at=account.connected_at,
                token_expires_at=account.token_expires_at,
            ).update(**changed)
            if written:
                material = {k: v for k, v in changed.items() if k in MATERIAL_FIELDS}
                previous = {k: getattr(account, k) for k in changed}
                for name, value in changed.items():
                    setattr(account, name, value)
                if material:
                    audit.record(
                        account.enterprise,
                        None,
                        "account.synced",
                        account,
                        summary=f"@{account.screen_name}: " + ", ".join(sorted(material)),
                        detail={
                            name: {"from": _plain(previous[name]), "to": _plain(value)}
                            for name, value in changed.items()
                        },
                    )
        outcome = "updated" if written else "conflict"
    take_snapshot(account, remote)
    # The calls worked: any unreachable / rate-limited / expired incident is over. Done after the
    # write so a renewed expiry (in memory now) decides between ok and token expiring.
    record_platform_ok(account)
    log.info(
        "account.refreshed enterprise=%s account=%s outcome=%s changed=%s followers=%s health=%s",
        account.enterprise_id,
        account.pk,
        outcome,
        ",".join(sorted(changed)) or "-",
        account.followers_count,
        account.health,
    )
    return RefreshResult(
        outcome, changed=changed if outcome == "updated" else {}, health=account.health
    )


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value

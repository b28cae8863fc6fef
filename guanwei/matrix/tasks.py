"""Background entry points of the matrix (run by `guanwei worker`; scheduled in ops/schedule.py)."""

from __future__ import annotations

import logging

from django_tasks import task

from guanwei.matrix.health import check_token_expiry

log = logging.getLogger("guanwei.matrix.tasks")


@task()
def check_tokens() -> dict[str, int]:
    """matrix.check_tokens — mark tokens expiring within TOKEN_EXPIRY_WARNING_S, and expired ones,
    so the bell and the matrix page warn before publishing starts failing."""
    moved = check_token_expiry()
    log.info("matrix.check_tokens moved=%s", moved)
    return moved


@task()
def refresh_accounts() -> dict[str, int]:
    """matrix.refresh_accounts — bring every connected account's followers, screen name, verified
    type and token expiry up to date from its platform, and let the platform's answer set health
    (a dead token or an unreachable platform: one notification per incident).

    Cost: two read calls per account per run (users/show + oauth2/get_token_info), so every 30
    minutes at most 4 calls an hour per account against Weibo's classic budget of ~150 calls per
    user per app per hour (PLATFORM_APIS §4.1): under 3 %, leaving publishing and listening their
    budget. (The wiki's current revision also gives "100 calls/day per user" as an example; our
    local buckets count only users/show, 48 a day. A deployment held to such a daily limit should
    lengthen the interval in ops/schedule.py.)

    Each account is refreshed on its own: a failure (recorded to health, or an unexpected bug,
    logged with its traceback) does not stop the others. One log line per account. Returns how
    many accounts ended with each outcome."""
    from guanwei.matrix.models import Account
    from guanwei.matrix.sync import refresh_account

    counts: dict[str, int] = {}
    accounts = (
        Account.objects.exclude(token="").select_related("enterprise", "connection").order_by("pk")
    )
    for account in accounts.iterator(chunk_size=200):
        try:
            outcome = refresh_account(account).outcome
        except Exception:  # isolation: one account's bug must not starve the rest
            log.exception(
                "matrix.refresh_accounts enterprise=%s account=%s outcome=crashed",
                account.enterprise_id,
                account.pk,
            )
            outcome = "crashed"
        counts[outcome] = counts.get(outcome, 0) + 1
    log.info("matrix.refresh_accounts done=%s", counts)
    return counts


@task()
def prune_rate_use() -> int:
    """matrix.prune_rate_use — forget rate-budget windows older than two hours."""
    from guanwei.matrix.budget import prune

    return prune()

"""Keeping accounts in step with the platform (matrix.sync, the job matrix.refresh_accounts),
against the built-in sandbox over real HTTP (live_server). The sandbox is arranged through its own
seeding functions (sandbox.world, .store, .faults); guanwei only ever speaks HTTP to it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from guanwei.core import clock
from guanwei.core.models import AuditEntry, Notification
from guanwei.matrix import sync, tasks
from guanwei.matrix.models import Account, Connection, Health
from guanwei.ops.schedule import job_named
from guanwei.sandbox import faults, store
from guanwei.sandbox.models import App, Token
from guanwei.sandbox.world import ensure_demo_world

pytestmark = pytest.mark.django_db(transaction=True)

# What guanwei knew when the accounts were connected; the platform has moved on since.
STALE_FOLLOWERS = 42


@pytest.fixture
def world(personas, live_server, settings):  # type: ignore[no-untyped-def]
    """The sandbox's demo matrix; the personas' connection points at the live sandbox with the
    demo app, and the parent and product accounts are the sandbox's, with their live tokens (as
    connecting them would leave them, except for the facts this job is meant to correct)."""
    demo = ensure_demo_world("http://testserver")
    settings.BASE_URL = live_server.url  # the built-in sandbox is this server's, where it listens
    Connection.objects.filter(pk=personas.connection.pk).update(
        base_url=f"{live_server.url}/sandbox", app_key=demo.app_key, app_secret=demo.app_secret
    )
    for role in ("parent", "product"):
        remote = demo.account(role)
        Account.objects.filter(pk=personas.accounts[role].pk).update(
            platform_uid=remote.uid,
            token=remote.token,
            token_expires_at=None,
            followers_count=STALE_FOLLOWERS,
        )
        personas.accounts[role].refresh_from_db()
    return demo


def _open_notices(account: Account) -> list[Notification]:
    return list(
        Notification.objects.filter(
            resolved_at__isnull=True, condition_key__startswith=f"account:{account.pk}:"
        )
    )


def _new_fans(n: int, followee_uid: str) -> None:
    """n netizens follow the account on the platform."""
    fans = store.bulk_create_users([{"screen_name": f"同步测试粉丝{i}"} for i in range(n)])
    store.bulk_follow([(fan, int(followee_uid)) for fan in fans])


def _token(remote_token: str) -> Token:
    return Token.matching(remote_token).get()


def test_followers_name_verification_and_expiry_follow_the_platform(personas, world) -> None:
    parent = personas.accounts["parent"]  # STALE_FOLLOWERS, verified_type 7
    remote = world.account("parent")

    result = sync.refresh_account(parent)

    assert result.outcome == "updated"
    parent.refresh_from_db()
    assert parent.followers_count == remote.followers_count
    assert parent.screen_name == "示例乳业官方微博" and parent.verified_type == 2
    assert parent.token_expires_at is not None
    assert abs(parent.token_expires_at - (clock.now() + timedelta(seconds=remote.expires_in))) < (
        timedelta(seconds=30)
    )
    audit = AuditEntry.objects.get(action="account.synced", object_id=str(parent.pk))
    assert audit.detail["verified_type"] == {"from": 7, "to": 2}
    assert audit.detail["followers_count"] == {
        "from": STALE_FOLLOWERS,
        "to": remote.followers_count,
    }
    assert parent.token not in str(audit.detail)

    _new_fans(3, remote.uid)
    result = sync.refresh_account(parent)

    assert (result.outcome, result.changed) == (
        "updated",
        {"followers_count": remote.followers_count + 3},
    )
    parent.refresh_from_db()
    assert parent.followers_count == remote.followers_count + 3
    # followers alone are a metric, not an act: no second audit entry
    assert AuditEntry.objects.filter(action="account.synced").count() == 1
    assert parent.health == Health.OK and _open_notices(parent) == []


def test_nothing_changed_writes_nothing(personas, world) -> None:
    parent = personas.accounts["parent"]
    assert sync.refresh_account(parent).outcome == "updated"
    audits = AuditEntry.objects.count()
    parent = Account.objects.get(pk=parent.pk)

    result = sync.refresh_account(parent)

    # get_token_info's remaining seconds tick down between runs; that is not a change
    assert (result.outcome, result.changed) == ("unchanged", {})
    assert AuditEntry.objects.count() == audits


@pytest.mark.parametrize(
    "renewal",
    ["reconnect", "seed renewed the token", "reconnect, token without expiry (Mastodon)"],
)
def test_a_token_renewed_during_the_refresh_wins(personas, world, renewal) -> None:
    parent = personas.accounts["parent"]
    stale = Account.objects.get(pk=parent.pk)  # read before the renewal, as the job would
    fields = {
        "reconnect": {
            "connected_at": clock.now(),
            "token_expires_at": clock.now() + timedelta(days=30),
        },
        "seed renewed the token": {"token_expires_at": clock.now() + timedelta(days=30)},
        "reconnect, token without expiry (Mastodon)": {"connected_at": clock.now()},
    }[renewal]
    Account.objects.filter(pk=parent.pk).update(**fields)

    assert sync.refresh_account(stale).outcome == "conflict"

    parent.refresh_from_db()
    assert parent.token_expires_at == fields.get("token_expires_at")
    assert parent.followers_count == STALE_FOLLOWERS
    assert not AuditEntry.objects.filter(action="account.synced").exists()


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_a_dead_token_is_token_expired_with_one_notification(personas, world, how) -> None:
    product = personas.accounts["product"]
    token = _token(world.account("product").token)
    if how == "revoked":
        store.revoke_token(token)
    else:
        store.expire_token(token)

    first = sync.refresh_account(product)
    second = sync.refresh_account(Account.objects.get(pk=product.pk))

    assert (first.outcome, first.error, first.health) == (
        "error",
        "auth_invalid" if how == "revoked" else "auth_expired",
        Health.TOKEN_EXPIRED,
    )
    assert second.outcome == "error"
    product.refresh_from_db()
    assert product.health == Health.TOKEN_EXPIRED and product.followers_count == STALE_FOLLOWERS
    notices = _open_notices(product)
    assert [n.condition_key for n in notices] == [f"account:{product.pk}:token_expired"]
    assert (
        AuditEntry.objects.filter(action="account.health_changed", object_id=str(product.pk))
    ).count() == 1


def test_platform_down_is_unreachable_then_recovers_and_resolves(personas, world) -> None:
    parent = personas.accounts["parent"]
    app = App.objects.get(app_key=world.app_key)
    faults.add_fault("http_5xx", "users/show", app=app, http_status=503)  # until removed

    assert sync.refresh_account(parent).health == Health.UNREACHABLE
    assert sync.refresh_account(Account.objects.get(pk=parent.pk)).outcome == "error"
    parent.refresh_from_db()
    assert parent.health == Health.UNREACHABLE and parent.followers_count == STALE_FOLLOWERS
    (notice,) = _open_notices(parent)
    assert notice.condition_key == f"account:{parent.pk}:unreachable"

    faults.clear_faults(app)
    result = sync.refresh_account(parent)

    assert (result.outcome, result.health) == ("updated", Health.OK)
    parent.refresh_from_db()
    assert (
        parent.health == Health.OK
        and parent.followers_count == world.account("parent").followers_count
    )
    notice.refresh_from_db()
    assert notice.resolved_at is not None and _open_notices(parent) == []


def test_the_job_refreshes_every_account_with_a_token_each_on_its_own(
    personas, world, monkeypatch, caplog
) -> None:
    job = job_named("matrix.refresh_accounts")
    assert job.interval == timedelta(minutes=30) and job.load_task() is tasks.refresh_accounts

    parent, product = personas.accounts["parent"], personas.accounts["product"]
    service = personas.accounts["service"]
    # no token: nothing to ask the platform (and the outsider's points at no platform at all)
    Account.objects.filter(pk__in=[service.pk, personas.outsider_account.pk]).update(token="")
    store.revoke_token(_token(world.account("product").token))
    # a bug while refreshing one account must not stop the others
    real = sync.refresh_account
    crashing = personas.accounts["campaign"]

    def refresh(account):  # type: ignore[no-untyped-def]
        if account.pk == crashing.pk:
            raise RuntimeError("bug")
        return real(account)

    monkeypatch.setattr(sync, "refresh_account", refresh)
    _new_fans(2, world.account("parent").uid)

    with caplog.at_level("INFO", logger="guanwei.matrix"):
        counts = tasks.refresh_accounts.call()

    # parent: updated; product: revoked; community + ecommerce: personas' made-up tokens, which
    # the sandbox refuses; campaign: crashed; service and the outsider: skipped (no token)
    assert counts == {"updated": 1, "error": 3, "crashed": 1}
    parent.refresh_from_db()
    assert parent.followers_count == world.account("parent").followers_count + 2
    assert Account.objects.get(pk=product.pk).health == Health.TOKEN_EXPIRED
    assert Account.objects.get(pk=service.pk).health == Health.OK
    # one line per account it asked about, naming the account
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name in ("guanwei.matrix.sync", "guanwei.matrix.tasks")
    ]
    for account in Account.objects.exclude(token="").exclude(pk=crashing.pk):
        assert sum(f" account={account.pk} " in line for line in lines) == 1, account
    assert sum(f"account={crashing.pk} outcome=crashed" in line for line in lines) == 1


def test_each_refresh_keeps_the_days_counts_as_a_snapshot(personas, world) -> None:
    import time_machine

    from guanwei.matrix.models import AccountSnapshot

    parent = personas.accounts["parent"]
    remote = world.account("parent")
    sync.refresh_account(parent)
    _new_fans(2, remote.uid)
    sync.refresh_account(parent)  # the same day: the row is brought up to date
    (today,) = AccountSnapshot.objects.filter(account=parent)
    assert today.followers_count == remote.followers_count + 2
    assert today.statuses_count is not None and today.friends_count is not None
    with time_machine.travel(clock.now() + timedelta(days=1)):
        sync.refresh_account(parent)
    days = list(AccountSnapshot.objects.filter(account=parent).order_by("day").values_list("day", flat=True))
    assert len(days) == 2 and days[1] - days[0] == timedelta(days=1)

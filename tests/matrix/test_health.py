"""Account health: one notification per incident, resolved when the account recovers; the
periodic token check warns before expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings

from guanwei.core import clock
from guanwei.core.models import AuditEntry, Notification
from guanwei.matrix import tasks
from guanwei.matrix.health import check_token_expiry, record_platform_error, record_platform_ok
from guanwei.matrix.models import Account, Health
from guanwei.ops.schedule import job_named
from guanwei.platforms.base import PlatformError

pytestmark = pytest.mark.django_db


def _open_notices(account: Account) -> list[Notification]:
    return list(
        Notification.objects.filter(
            enterprise=account.enterprise,
            resolved_at__isnull=True,
            condition_key__startswith=f"account:{account.pk}:",
        )
    )


def _health_audits(account: Account) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(action="account.health_changed", object_id=str(account.pk))
    )


def test_hundred_failing_calls_open_one_notification(personas) -> None:
    account = personas.accounts["service"]
    for _ in range(100):
        record_platform_error(account, PlatformError("unavailable", "HTTP 503", http_status=503))
        # each caller may hold its own copy of the row, as concurrent workers would
        account = Account.objects.get(pk=account.pk)

    assert account.health == Health.UNREACHABLE
    notices = _open_notices(account)
    assert len(notices) == 1
    assert notices[0].condition_key == f"account:{account.pk}:unreachable"
    assert notices[0].action == "account.manage"
    assert notices[0].url == f"/matrix/accounts/{account.pk}/"
    assert len(_health_audits(account)) == 1


def test_stale_copies_of_the_account_still_give_one_notification(personas) -> None:
    """Many workers holding the account loaded before the first failure (health still ok)."""
    copies = [Account.objects.get(pk=personas.accounts["product"].pk) for _ in range(20)]
    for copy in copies:
        record_platform_error(copy, PlatformError("rate_limited", code="10023"))
    account = Account.objects.get(pk=copies[0].pk)
    assert account.health == Health.RATE_LIMITED
    assert len(_open_notices(account)) == 1
    assert len(_health_audits(account)) == 1


def test_recovery_resolves_the_notification_and_a_new_incident_opens_a_new_one(personas) -> None:
    account = personas.accounts["campaign"]
    record_platform_error(account, PlatformError("rate_limited", code="10022"))
    (first,) = _open_notices(account)

    record_platform_ok(account)
    account.refresh_from_db()
    assert account.health == Health.OK
    assert _open_notices(account) == []
    first.refresh_from_db()
    assert first.resolved_at is not None

    record_platform_error(account, PlatformError("rate_limited", code="10022"))
    (second,) = _open_notices(account)
    assert second.pk != first.pk
    assert [a.detail["to"] for a in _health_audits(account)] == [
        "rate_limited",
        "ok",
        "rate_limited",
    ]


def test_a_new_kind_of_trouble_replaces_the_old_notice(personas) -> None:
    account = personas.accounts["community"]
    record_platform_error(account, PlatformError("timeout", "read timeout"))
    record_platform_error(account, PlatformError("auth_expired", code="21327"))
    account.refresh_from_db()
    assert account.health == Health.TOKEN_EXPIRED
    (notice,) = _open_notices(account)
    assert notice.condition_key.endswith(":token_expired")
    assert notice.level == "error"
    assert "重新授权" in notice.body


def test_errors_about_the_content_leave_health_alone(personas) -> None:
    account = personas.accounts["ecommerce"]
    for kind in ("invalid", "duplicate", "not_found", "forbidden", "unknown"):
        assert record_platform_error(account, PlatformError(kind)) is None
    account.refresh_from_db()
    assert account.health == Health.OK
    assert _open_notices(account) == []
    assert _health_audits(account) == []


def test_ok_call_on_a_healthy_account_writes_nothing(personas, django_assert_num_queries) -> None:
    account = personas.accounts["product"]
    with django_assert_num_queries(0):
        record_platform_ok(account)


def test_token_check_warns_before_expiry_then_marks_expired(personas) -> None:
    account = personas.accounts["product"]
    now = clock.now()
    window = timedelta(seconds=settings.TOKEN_EXPIRY_WARNING_S)
    Account.objects.filter(pk=account.pk).update(token_expires_at=now + window + timedelta(hours=1))

    with time_machine.travel(now, tick=False) as traveller:
        assert check_token_expiry() == {}
        traveller.shift(timedelta(hours=2))  # now inside the warning window
        assert check_token_expiry() == {"token_expiring": 1}
        assert check_token_expiry() == {}  # the next run changes nothing
        account.refresh_from_db()
        assert account.health == Health.TOKEN_EXPIRING
        (warning,) = _open_notices(account)
        assert warning.level == "warning"
        assert "(北京时间)" in warning.body  # the expiry is said in the enterprise's zone

        traveller.shift(window)  # past expiry
        assert check_token_expiry() == {"token_expired": 1}
        account.refresh_from_db()
        assert account.health == Health.TOKEN_EXPIRED
        (expired,) = _open_notices(account)
        assert expired.condition_key.endswith(":token_expired")
        warning.refresh_from_db()
        assert warning.resolved_at is not None


def test_token_check_clears_the_warning_after_renewal(personas) -> None:
    account = personas.accounts["service"]
    now = clock.now()
    Account.objects.filter(pk=account.pk).update(token_expires_at=now + timedelta(hours=1))
    check_token_expiry()
    Account.objects.filter(pk=account.pk).update(token_expires_at=now + timedelta(days=30))
    assert check_token_expiry() == {"ok": 1}
    account.refresh_from_db()
    assert account.health == Health.OK
    assert _open_notices(account) == []


def test_token_check_does_not_hide_a_live_rate_limit_behind_a_warning(personas) -> None:
    account = personas.accounts["campaign"]
    record_platform_error(account, PlatformError("rate_limited", code="10023"))
    Account.objects.filter(pk=account.pk).update(token_expires_at=clock.now() + timedelta(hours=1))
    assert check_token_expiry() == {}
    account.refresh_from_db()
    assert account.health == Health.RATE_LIMITED


def test_token_declared_dead_by_the_platform_stays_dead_until_reconnected(personas) -> None:
    account = personas.accounts["community"]
    Account.objects.filter(pk=account.pk).update(token_expires_at=clock.now() + timedelta(days=30))
    account.refresh_from_db()
    record_platform_error(account, PlatformError("auth_invalid", code="21332"))
    assert check_token_expiry() == {}
    account.refresh_from_db()
    assert account.health == Health.TOKEN_EXPIRED


def test_check_tokens_is_a_scheduled_task(personas) -> None:
    job = job_named("matrix.check_tokens")
    assert job.load_task() is tasks.check_tokens
    Account.objects.filter(pk=personas.accounts["product"].pk).update(
        token_expires_at=clock.now() - timedelta(minutes=1)
    )
    assert tasks.check_tokens.call() == {"token_expired": 1}


def test_health_moves_through_the_state_machine_with_its_event_and_audit(personas) -> None:
    from guanwei.core.models import AuditEntry, StateEvent
    from guanwei.matrix.health import record_platform_error, record_platform_ok

    account = personas.accounts["service"]
    assert record_platform_error(account, PlatformError("unavailable", http_status=502)) == Health.UNREACHABLE
    record_platform_ok(account)
    account.refresh_from_db()
    assert account.health == Health.OK
    events = StateEvent.objects.filter(object_type="matrix.account", object_id=str(account.pk))
    assert [(e.field, e.from_state, e.to_state) for e in events.order_by("pk")] == [
        ("health", "ok", "unreachable"), ("health", "unreachable", "ok"),
    ]
    entries = AuditEntry.objects.filter(action="account.health_changed", object_id=str(account.pk))
    assert [e.params for e in entries.order_by("pk")] == [
        {"name": account.screen_name, "from": "ok", "to": "unreachable"},
        {"name": account.screen_name, "from": "unreachable", "to": "ok"},
    ]


def test_a_stale_copy_of_the_account_still_reports_the_latest_health(personas) -> None:
    """Another worker moved the row meanwhile: the report applies from what the row says now."""
    from guanwei.matrix.health import set_health

    account = personas.accounts["service"]
    stale = Account.objects.get(pk=account.pk)
    assert set_health(account, Health.RATE_LIMITED)
    assert set_health(stale, Health.UNREACHABLE)  # stale still says "ok"
    assert Account.objects.get(pk=account.pk).health == Health.UNREACHABLE
    assert not set_health(stale, Health.UNREACHABLE)  # already there: no change, no event


@pytest.mark.django_db(transaction=True)
def test_concurrent_failing_calls_from_many_workers_open_one_notification(personas) -> None:
    """Eight threads, each with its own database connection and its own copy of the account,
    report 12 failures each at the same time: one health change, one notice, one audit entry."""
    import threading

    from django.db import connection as db

    if db.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race this guards against needs PostgreSQL")
    account_id = personas.accounts["product"].pk
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            copy = Account.objects.select_related("enterprise").get(pk=account_id)
            start.wait()
            for _ in range(12):
                record_platform_error(copy, PlatformError("rate_limited", code="10023"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            from django.db import connections

            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    account = Account.objects.get(pk=account_id)
    assert account.health == Health.RATE_LIMITED
    assert len(_open_notices(account)) == 1
    assert len(_health_audits(account)) == 1


def test_rate_limit_is_over_after_its_window_even_without_new_calls(personas) -> None:
    from guanwei.matrix.health import RATE_LIMIT_WINDOW_S

    account = personas.accounts["campaign"]
    now = clock.now()
    with time_machine.travel(now, tick=False) as traveller:
        record_platform_error(account, PlatformError("rate_limited", code="10023"))
        traveller.shift(timedelta(seconds=RATE_LIMIT_WINDOW_S - 60))
        assert check_token_expiry() == {}
        traveller.shift(timedelta(seconds=120))
        assert check_token_expiry() == {"ok": 1}
    account.refresh_from_db()
    assert account.health == Health.OK
    assert _open_notices(account) == []

"""The rate budget every worker shares (matrix.budget): counted where all processes see it,
writes before reads, a platform's "wait" honoured by everyone."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection, connections

from guanwei.matrix import budget
from guanwei.matrix.budget import READ_SHARE, CacheStore, DatabaseStore, SharedRateLimiter
from guanwei.platforms.http import Rate

HOURLY = Rate(10, 3600)


@pytest.fixture(autouse=True)
def _mid_hour():  # type: ignore[no-untyped-def]
    """Budgets are counted by clock hour: a test that crossed one would see its counts reset."""
    with time_machine.travel(datetime(2026, 12, 5, 10, 30, tzinfo=UTC), tick=False):
        yield
READ = [("total", HOURLY)]
WRITE = [("total", HOURLY), ("post", Rate(3, 3600))]


@pytest.fixture(params=["database", "cache"])
def two_workers(request, db):  # type: ignore[no-untyped-def]
    """Two limiters, as two worker processes would hold, over one store."""
    make = DatabaseStore if request.param == "database" else CacheStore
    return SharedRateLimiter(make()), SharedRateLimiter(make())


def test_reads_stop_at_their_share_and_writes_may_use_the_rest(two_workers):
    first, second = two_workers
    reads = int(10 * READ_SHARE)
    for i in range(reads):
        assert (first if i % 2 else second).reserve("weibo:app:1", READ) == 0.0
    assert first.reserve("weibo:app:1", READ) > 0  # the read share is spent, in both workers
    assert second.reserve("weibo:app:1", READ) > 0
    for _ in range(3):  # a publish still goes out
        assert second.reserve("weibo:app:1", WRITE) == 0.0
    assert first.reserve("weibo:app:1", WRITE) > 0  # "post" is at its 3 an hour
    assert first.reserve("weibo:app:2", READ) == 0.0  # another account has its own budget


def test_a_platform_block_stops_every_worker(two_workers):
    first, second = two_workers
    first.block("weibo:app:1", READ, 120)
    wait = second.reserve("weibo:app:1", READ)
    assert 100 < wait <= 120


def test_a_call_that_cannot_take_every_class_takes_none(db):
    limiter = SharedRateLimiter(DatabaseStore())
    for _ in range(3):
        assert limiter.reserve("k", WRITE) == 0.0
    assert limiter.reserve("k", WRITE) > 0  # post is full…
    window, _ = budget.window_now()
    assert DatabaseStore().used("k:total", window) == 3  # …and total was not counted for it


@pytest.mark.django_db(transaction=True)
def test_many_workers_at_once_spend_exactly_the_budget():
    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent connections (the in-memory SQLite test DB shares one cache)")
    granted: list[bool] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        limiter = SharedRateLimiter(DatabaseStore())
        try:
            barrier.wait()
            for _ in range(5):
                granted.append(limiter.reserve("weibo:app:race", WRITE[:1] + [("post", Rate(40, 3600))]) == 0.0)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(True) == 10 and len(granted) == 40  # "total" is 10 an hour


def test_the_matrix_page_shows_each_accounts_remaining_calls(personas, client_for, settings):
    from guanwei.matrix.models import Account

    Account.objects.filter(pk=personas.parent_account.pk).update(token="t0ken")
    html = client_for("alice").get("/matrix/").content.decode()
    assert "本小时剩余调用 150/150" in html  # ordinary level: 150 calls an hour

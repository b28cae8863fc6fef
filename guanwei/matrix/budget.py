"""The rate budget every worker shares (issue 13 §5).

The connectors' own buckets (platforms.http.RateLimiter) live in one process's memory: two
workers would each spend an account's hourly calls in full, and Weibo blacklists apps that go
over. `SharedRateLimiter` keeps the count where every process sees it — in Redis when REDIS_URL
is set (Django's cache), else in the database (`RateUse`, one row per key and hour, changed only
by conditional updates) — per app, per account and per endpoint class ("total", "post",
"comment", "dm": the connector's groups with Weibo's hourly limits from PLATFORM_APIS §4.1).

Weibo counts per hour, so the budget is a fixed window per clock hour. Writes come first: a read
(a call that draws only on "total") may use READ_SHARE of the hour's "total"; writes (a crisis
statement, a reply) may use all of it, so a busy listening schedule never starves a publish.
When a platform says "rate limited", the key is blocked for the time it gave, for everyone.

It plugs into the connectors (matrix.connectors passes it as their `limiter`); platforms keeps
knowing nothing of Django.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F

from guanwei.platforms.http import Rate, RateLimiter

READ_SHARE = 0.7  # of the hourly "total" that reads may take; the rest is kept for writes
WRITE_GROUPS = frozenset({"post", "comment", "dm"})


def _window(now: float) -> tuple[int, float]:
    """The clock hour `now` falls in (its start, epoch seconds) and the seconds left in it."""
    start = int(now // 3600 * 3600)
    return start, start + 3600 - now


def window_now() -> tuple[int, float]:
    return _window(time.time())


def _limit(rate: Rate, group: str, write: bool) -> int:
    per_hour = math.floor(rate.count * 3600 / rate.period_s)
    if group == "total" and not write:
        return max(1, math.floor(per_hour * READ_SHARE))
    return per_hour


class _Store:
    def take(self, keys: list[tuple[str, int]], window: int) -> bool: ...
    def used(self, key: str, window: int) -> int: ...
    def set_used(self, key: str, window: int, used: int) -> None: ...
    def block(self, key: str, until: float) -> None: ...
    def blocked_until(self, key: str) -> float: ...


    def used_many(self, keys: list[str], window: int) -> dict[str, int]:
        return {key: self.used(key, window) for key in keys}


class CacheStore(_Store):
    """Redis (through Django's cache): INCR is atomic across processes."""

    def _k(self, key: str, window: int) -> str:
        return f"budget:{window}:{key}"

    def take(self, keys: list[tuple[str, int]], window: int) -> bool:
        taken: list[str] = []
        for key, limit in keys:
            k = self._k(key, window)
            cache.add(k, 0, timeout=7200)
            if cache.incr(k) > limit:
                cache.decr(k)
                for done in taken:
                    cache.decr(done)
                return False
            taken.append(k)
        return True

    def used(self, key: str, window: int) -> int:
        return int(cache.get(self._k(key, window)) or 0)

    def used_many(self, keys: list[str], window: int) -> dict[str, int]:
        found = cache.get_many([self._k(k, window) for k in keys])
        return {k: int(found.get(self._k(k, window)) or 0) for k in keys}

    def set_used(self, key: str, window: int, used: int) -> None:
        cache.set(self._k(key, window), used, timeout=7200)

    def block(self, key: str, until: float) -> None:
        cache.set(f"budget:block:{key}", until, timeout=max(1, int(until - time.time()) + 1))

    def blocked_until(self, key: str) -> float:
        return float(cache.get(f"budget:block:{key}") or 0.0)


class DatabaseStore(_Store):
    """The database (no Redis): `UPDATE … SET used = used + 1 WHERE … AND used < limit` per key,
    all keys of a call in one transaction (all or none)."""

    def take(self, keys: list[tuple[str, int]], window: int) -> bool:
        from guanwei.matrix.models import RateUse

        at = datetime.fromtimestamp(window, UTC)
        try:
            with transaction.atomic():
                for key, limit in keys:
                    for _attempt in range(2):
                        if RateUse.objects.filter(key=key, window=at, used__lt=limit).update(used=F("used") + 1):
                            break
                        if RateUse.objects.filter(key=key, window=at).exists():
                            raise _Full
                        try:
                            with transaction.atomic():
                                RateUse.objects.create(key=key, window=at, used=1)
                            break
                        except IntegrityError:
                            continue  # another process made the row first: count on it
                    else:
                        raise _Full
        except _Full:
            return False
        return True

    def used(self, key: str, window: int) -> int:
        from guanwei.matrix.models import RateUse

        at = datetime.fromtimestamp(window, UTC)
        return RateUse.objects.filter(key=key, window=at).values_list("used", flat=True).first() or 0

    def used_many(self, keys: list[str], window: int) -> dict[str, int]:
        from guanwei.matrix.models import RateUse

        at = datetime.fromtimestamp(window, UTC)
        found = dict(RateUse.objects.filter(key__in=keys, window=at).values_list("key", "used"))
        return {k: found.get(k, 0) for k in keys}

    def set_used(self, key: str, window: int, used: int) -> None:
        from guanwei.matrix.models import RateUse

        at = datetime.fromtimestamp(window, UTC)
        RateUse.objects.update_or_create(key=key, window=at, defaults={"used": used})

    def block(self, key: str, until: float) -> None:
        from guanwei.matrix.models import RateUse

        at = datetime.fromtimestamp(until, UTC)
        RateUse.objects.update_or_create(key=f"block:{key}", window=datetime(1970, 1, 1, tzinfo=UTC),
                                         defaults={"used": 0, "blocked_until": at})  # fmt: skip

    def blocked_until(self, key: str) -> float:
        from guanwei.matrix.models import RateUse

        at = (
            RateUse.objects.filter(key=f"block:{key}").values_list("blocked_until", flat=True).first()
        )
        return at.timestamp() if at else 0.0


class _Full(Exception):
    pass


def store() -> _Store:
    return CacheStore() if settings.REDIS_URL else DatabaseStore()


class SharedRateLimiter(RateLimiter):
    """A RateLimiter whose counts every process shares (see the module's docstring)."""

    def __init__(self, backend: _Store | None = None) -> None:
        super().__init__(clock=time.time)
        self.backend = backend or store()

    def reserve(self, account: str, groups: Sequence[tuple[str, Rate]]) -> float:
        now = time.time()
        blocked = max((self.backend.blocked_until(f"{account}:{g}") for g, _r in groups), default=0.0)
        if blocked > now:
            return blocked - now
        write = any(g in WRITE_GROUPS for g, _r in groups)
        window, left = _window(now)
        keys = [(f"{account}:{g}", _limit(r, g, write)) for g, r in groups]
        return 0.0 if self.backend.take(keys, window) else left

    def block(self, account: str, groups: Sequence[tuple[str, Rate]], seconds: float) -> None:
        for g, _r in groups:
            self.backend.block(f"{account}:{g}", time.time() + seconds)

    def observe(self, account: str, groups: Sequence[tuple[str, Rate]], remaining: int,
                reset_in_s: float | None) -> None:  # fmt: skip
        """The platform's own count (Mastodon's X-RateLimit-Remaining) overrides ours."""
        window, _left = _window(time.time())
        for g, r in groups:
            per_hour = math.floor(r.count * 3600 / r.period_s)
            self.backend.set_used(f"{account}:{g}", window, max(0, per_hour - max(remaining, 0)))
            if remaining <= 0 and reset_in_s:
                self.backend.block(f"{account}:{g}", time.time() + reset_in_s)


@dataclass
class Remaining:
    limit: int | None  # calls this hour for the account ("total"); None: no overall cap
    used: int
    resets_in_s: int

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


def prune(now: datetime | None = None) -> int:
    """Forget windows older than two hours (database store)."""
    from guanwei.matrix.models import RateUse

    before = (now or datetime.now(UTC)) - timedelta(hours=2)
    deleted, _ = RateUse.objects.filter(window__lt=before, blocked_until__isnull=True).delete()
    RateUse.objects.filter(blocked_until__lt=before).delete()
    return deleted

"""Failed-login throttling, per username and per client IP, counted in the cache.

A window opens at the first failure and lasts LOGIN_FAILURE_WINDOW_S; once LOGIN_FAILURE_LIMIT
failures are counted in it, every attempt (even with the right password) is refused until the
window closes. A successful login clears the username's count but not the IP's, so one valid
account cannot be used to reset an address that is guessing other people's passwords.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from guanwei.core import clock


@dataclass(frozen=True)
class Verdict:
    is_blocked: bool
    retry_after_s: int = 0

    @property
    def retry_after_minutes(self) -> int:
        return max(1, math.ceil(self.retry_after_s / 60))


def _keys(username: str, ip: str | None) -> list[str]:
    keys = [f"login-fail:user:{username.strip().lower()}"]
    if ip:
        keys.append(f"login-fail:ip:{ip}")
    return keys


def check(username: str, ip: str | None) -> Verdict:
    limit = settings.LOGIN_FAILURE_LIMIT
    now = clock.now().timestamp()
    retry_after = 0.0
    for key in _keys(username, ip):
        count = cache.get(key + ":n", 0)
        started_at = cache.get(key + ":t")
        if count >= limit and started_at is not None:
            left = started_at + settings.LOGIN_FAILURE_WINDOW_S - now
            if left > 0:
                retry_after = max(retry_after, left)
    return Verdict(retry_after > 0, math.ceil(retry_after))


def record_failure(username: str, ip: str | None) -> None:
    window = settings.LOGIN_FAILURE_WINDOW_S
    now = clock.now().timestamp()
    for key in _keys(username, ip):
        # add() only sets when absent: the first failure opens the window for both keys.
        cache.add(key + ":t", now, timeout=window)
        cache.add(key + ":n", 0, timeout=window)
        try:
            cache.incr(key + ":n")
        except ValueError:  # expired between add and incr
            cache.set(key + ":n", 1, timeout=window)


def clear_username(username: str) -> None:
    key = _keys(username, None)[0]
    cache.delete_many([key + ":n", key + ":t"])

"""Failed-sign-in throttling, counted in the cache (Redis when REDIS_URL is set, so every web
process shares the counts; per process otherwise).

Three counters, each a window that opens at its first failure and lasts
LOGIN_FAILURE_WINDOW_S; an attempt is refused (even with the right password) while any of them
is full:

* username + address — LOGIN_FAILURE_LIMIT (5): one person guessing one account;
* username — LOGIN_FAILURE_USER_LIMIT (20): one account guessed from many addresses;
* address — LOGIN_FAILURE_ADDRESS_LIMIT (200): one address guessing many accounts. Much higher
  than the others, because behind a reverse proxy or an office NAT one address is everyone:
  thirty wrong passwords for one username must not lock out every colleague.

A successful sign-in clears that username's counters, never the address's, so one valid account
cannot reset an address that is guessing other people's passwords.

`client_ip` is the one place that decides a request's address: REMOTE_ADDR, or — with
GUANWEI_TRUSTED_PROXY_COUNT = N > 0 — the address N hops from the right of X-Forwarded-For, so a
client cannot choose its own address by sending the header.

Why not django-axes: it is well kept, but it writes a database row per attempt and keys its
lockout on one configurable combination; guanwei needs three counters at once, one audit entry
per burst in the tenant's append-only log, and its own sign-in page (the sandbox's consent page
uses the same counters). Sixty lines on the cache do that.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from guanwei.core import clock


@dataclass(frozen=True)
class Verdict:
    is_blocked: bool
    retry_after_s: int = 0
    #: True for the first refused attempt of a burst (the one worth an audit entry).
    is_new_burst: bool = False

    @property
    def retry_after_minutes(self) -> int:
        return max(1, math.ceil(self.retry_after_s / 60))


def client_ip(request) -> str | None:  # type: ignore[no-untyped-def]
    """The client's address, trusting X-Forwarded-For only through GUANWEI_TRUSTED_PROXY_COUNT
    proxies (each appends the address it received the request from)."""
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR") or None
    trusted = settings.TRUSTED_PROXY_COUNT
    if not trusted:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    chain = [*hops, remote] if remote else hops
    # chain[-1] is our proxy; the client is the hop the N-th trusted proxy received it from.
    candidate = chain[-(trusted + 1)] if len(chain) > trusted else (chain[0] if chain else None)
    try:
        return str(ipaddress.ip_address(candidate)) if candidate else remote
    except ValueError:  # a forged, malformed header: fall back to what we saw ourselves
        return remote


def _keys(username: str, ip: str | None) -> list[tuple[str, int]]:
    name = username.strip().lower()[:150]
    keys = [(f"login-fail:user:{name}", settings.LOGIN_FAILURE_USER_LIMIT)]
    if ip:
        keys.append((f"login-fail:pair:{name}|{ip}", settings.LOGIN_FAILURE_LIMIT))
        keys.append((f"login-fail:ip:{ip}", settings.LOGIN_FAILURE_ADDRESS_LIMIT))
    return keys


def check(username: str, ip: str | None, *, scope: str = "login") -> Verdict:
    """Whether this attempt may go ahead. `scope` keeps separate sign-in pages apart (guanwei's
    own and the sandbox's consent page) in the burst bookkeeping."""
    now = clock.now().timestamp()
    retry_after = 0.0
    full = ""
    for key, limit in _keys(username, ip):
        count = cache.get(key + ":n", 0)
        started_at = cache.get(key + ":t")
        if count >= limit and started_at is not None:
            left = started_at + settings.LOGIN_FAILURE_WINDOW_S - now
            if left > retry_after:
                retry_after, full = left, key
    if retry_after <= 0:
        return Verdict(False)
    # One burst = one full window of one counter: only its first refusal is "new".
    is_new = cache.add(f"{scope}:burst:{full}", 1, timeout=math.ceil(retry_after))
    return Verdict(True, math.ceil(retry_after), is_new_burst=is_new)


def record_failure(username: str, ip: str | None) -> None:
    window = settings.LOGIN_FAILURE_WINDOW_S
    now = clock.now().timestamp()
    for key, _ in _keys(username, ip):
        # add() only sets when absent: the first failure opens the window.
        cache.add(key + ":t", now, timeout=window)
        cache.add(key + ":n", 0, timeout=window)
        try:
            cache.incr(key + ":n")
        except ValueError:  # expired between add and incr
            cache.set(key + ":n", 1, timeout=window)


def clear_username(username: str, ip: str | None = None) -> None:
    """After a successful sign-in: the username's counters go, the address's stays."""
    keys = [key for key, _ in _keys(username, ip) if not key.startswith("login-fail:ip:")]
    cache.delete_many([k + suffix for k in keys for suffix in (":n", ":t")])

"""The one HTTP seam for every platform call: httpx with connect/read timeouts, token buckets per
account and endpoint group, retries only where a retry cannot duplicate a write, and logs that
name the endpoint but never a token, secret or query string."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from .base import PlatformError

log = logging.getLogger("guanwei.platforms.http")

_SECRET_PARAM = re.compile(
    r"((?:access_token|client_secret|refresh_token|code|token|app_secret)=)[^&\s\"']*", re.I
)


def redact(text: str) -> str:
    """Blank the values of secret-bearing query parameters in a URL or log line."""
    return _SECRET_PARAM.sub(r"\1***", text)


class _RedactHttpxUrls(logging.Filter):
    """httpx logs every request URL at INFO; OAuth calls carry secrets in the query string (Weibo
    wants them there, see PLATFORM_APIS §1.2), so scrub them before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(
                redact(str(a)) if isinstance(a, httpx.URL | str) else a for a in args
            )
        return True


def _install_httpx_filter() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactHttpxUrls) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactHttpxUrls())


_install_httpx_filter()


# --- where outbound requests may go -----------------------------------------------------------

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class OutboundRefused(httpx.ConnectError):
    """The address is not one guanwei may call. Deliberately a ConnectError: whoever typed the
    URL sees exactly what a closed port or a dead host gives (no scanning of the inside network
    by reading error messages); only the operator's log says it was the policy."""


@dataclass(frozen=True)
class OutboundPolicy:
    """Where outbound requests may go (the one check, applied in the transport, after DNS).

    * ``require_https``: refuse plain http (production).
    * Internal addresses — loopback, private, link-local, shared (CGNAT), multicast, reserved,
      unspecified, and IPv4 addresses inside IPv6 (mapped, 6to4, NAT64) — are refused unless
      ``allowed_networks`` holds them or the host is in ``allowed_hosts`` (a platform on the
      user's own network, set explicitly).
    * ``trusted_origins``: ``scheme://host:port`` origins that skip every check: the server's
      own address, where the built-in sandbox answers.
    """

    require_https: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[Network, ...] = ()
    trusted_origins: frozenset[str] = frozenset()

    def is_trusted_origin(self, url: httpx.URL) -> bool:
        return origin_of(url) in self.trusted_origins

    def static_problem(self, url: str) -> str | None:
        """What is wrong with `url` before any DNS (for forms); None when it may be tried."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            return "malformed"
        if self.is_trusted_origin(parsed):
            return None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            return "scheme"
        if self.require_https and parsed.scheme != "https":
            return "scheme"
        host = parsed.host.lower().rstrip(".")
        if host in self.allowed_hosts:
            return None
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            return "address"
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None  # a name: decided after resolution
        return None if self.address_allowed(address) else "address"

    def address_allowed(self, address: Address) -> bool:
        if any(address in net for net in self.allowed_networks if net.version == address.version):
            return True
        for candidate in _embedded(address):
            if (
                not candidate.is_global
                or candidate.is_multicast
                or candidate.is_reserved
                or candidate.is_unspecified
            ):
                return False
        return True

    def resolve(self, url: httpx.URL) -> str | None:
        """The address to connect to (pinned: the one that was checked, so a second DNS answer
        cannot swap in an internal one), or None to connect as usual (trusted origin, allowed
        host). Raises OutboundRefused."""
        if self.is_trusted_origin(url):
            return None
        problem = self.static_problem(str(url))
        if problem:
            raise OutboundRefused(f"outbound request refused ({problem})")
        host = url.host.lower().rstrip(".")
        if host in self.allowed_hosts:
            return None
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise OutboundRefused("outbound request refused (name does not resolve)") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not addresses or not all(self.address_allowed(a) for a in addresses):
            raise OutboundRefused("outbound request refused (address)")
        return str(addresses[0])


def origin_of(url: httpx.URL) -> str:
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.scheme}://{(url.host or '').lower()}:{port}"


def _embedded(address: Address) -> list[Address]:
    """The address and any IPv4 address carried inside an IPv6 one."""
    found: list[Address] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        for inner in (address.ipv4_mapped, address.sixtofour):
            if inner is not None:
                found.append(inner)
        if address in ipaddress.ip_network("64:ff9b::/96"):  # NAT64
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process. Building one loads the whole CA bundle (tens of
    milliseconds — most of a send's cost when each connector built its own); a context is safe
    to share between clients and threads."""
    return httpx.create_ssl_context()


class GuardedTransport(httpx.BaseTransport):
    """httpx's transport behind an :class:`OutboundPolicy`: every request's host is resolved,
    checked, and the connection made to that checked address (TLS still verifies the name)."""

    def __init__(self, policy: OutboundPolicy, inner: httpx.BaseTransport | None = None) -> None:
        self.policy = policy
        self._inner = inner or httpx.HTTPTransport(verify=tls_context())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            pinned = self.policy.resolve(request.url)
        except OutboundRefused:
            log.warning("outbound request refused by policy host=%s", request.url.host)
            raise
        if pinned is not None and pinned != request.url.host:
            request.extensions = {**request.extensions, "sni_hostname": request.url.host}
            request.url = request.url.copy_with(host=pinned)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``period_s`` seconds (a bucket of ``count`` tokens refilled evenly)."""

    count: int
    period_s: float

    @property
    def per_s(self) -> float:
        return self.count / self.period_s


class TokenBucket:
    """A token bucket that also remembers when the platform told us to stop (``block_until``)."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self.tokens = float(rate.count)
        self._updated = clock()
        self.blocked_until = 0.0

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self.tokens = min(float(self.rate.count), self.tokens + elapsed * self.rate.per_s)
        self._updated = now

    def wait_s(self) -> float:
        """Seconds until one token is available (0.0: available now). Takes nothing."""
        now = self._clock()
        self._refill(now)
        blocked = max(0.0, self.blocked_until - now)
        short = 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate.per_s
        return max(blocked, short)

    def take(self) -> None:
        self._refill(self._clock())
        self.tokens -= 1.0

    def block_for(self, seconds: float) -> None:
        now = self._clock()
        self.blocked_until = max(self.blocked_until, now + seconds)

    def observe_remaining(self, remaining: int, reset_in_s: float | None) -> None:
        """Align with what the platform reports (Mastodon's ``X-RateLimit-*``)."""
        self._refill(self._clock())
        self.tokens = min(self.tokens, float(max(remaining, 0)))
        if remaining <= 0 and reset_in_s is not None and reset_in_s > 0:
            self.block_for(reset_in_s)


class RateLimiter:
    """Token buckets keyed by (account, endpoint group), shared by every connector in a process
    that uses the same limiter, so two tasks posting for one account draw from one bucket."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, account: str, group: str, rate: Rate) -> TokenBucket:
        key = (account, group)
        b = self._buckets.get(key)
        if b is None or b.rate != rate:
            b = TokenBucket(rate, self._clock)
            self._buckets[key] = b
        return b

    def reserve(self, account: str, groups: Sequence[tuple[str, Rate]]) -> float:
        """Take one token from every group's bucket if all have one; otherwise take nothing and
        return the seconds to wait."""
        with self._lock:
            buckets = [self.bucket(account, g, r) for g, r in groups]
            wait = max((b.wait_s() for b in buckets), default=0.0)
            if wait <= 0.0:
                for b in buckets:
                    b.take()
            return wait

    def block(self, account: str, groups: Sequence[tuple[str, Rate]], seconds: float) -> None:
        with self._lock:
            for g, r in groups:
                self.bucket(account, g, r).block_for(seconds)

    def observe(
        self,
        account: str,
        groups: Sequence[tuple[str, Rate]],
        remaining: int,
        reset_in_s: float | None,
    ) -> None:
        with self._lock:
            for g, r in groups:
                self.bucket(account, g, r).observe_remaining(remaining, reset_in_s)


#: The process-wide limiter connectors use unless given their own.
DEFAULT_LIMITER = RateLimiter()

#: Maps a response to the platform's error (None = success). Given by each connector.
ErrorMapper = Callable[[httpx.Response, str], "PlatformError | None"]


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: an integer, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HttpClient:
    """One account's door to one platform.

    - Timeouts: ``connect_timeout_s`` and ``timeout_s`` (read/write/pool).
    - Token buckets: each request names its endpoint groups (``("total", "post")``); the
      limiter keeps a bucket per (account, group) at the rate given in ``rates``. When a bucket
      is empty the call waits up to ``max_wait_s``, else raises ``rate_limited`` with
      ``retry_after_s`` **without touching the network**. A ``rate_limited`` answer from the
      platform blocks the buckets of that call for ``retry_after_s``.
    - Retries: only where a second attempt cannot duplicate an effect — connection failures
      (nothing was sent), and for ``idempotent`` requests (reads; writes carrying an
      idempotency key) also timeouts and ``unavailable`` answers, with backoff.
      **A non-idempotent write that times out is never retried**: it raises
      ``PlatformError(kind="timeout")``, meaning "maybe delivered", and reconciling (reading the
      timeline before trying again) is the caller's job (DESIGN rule 3).
    - Logging: one line per attempt with method, endpoint name, status and duration; never URLs,
      parameters, headers or bodies.
    - Tests inject ``transport`` (an ``httpx.MockTransport`` or any ``httpx.BaseTransport``).
    """

    def __init__(
        self,
        *,
        account: str,
        error_mapper: ErrorMapper,
        rates: Mapping[str, Rate] | None = None,
        limiter: RateLimiter | None = None,
        timeout_s: float = 15.0,
        connect_timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        max_wait_s: float = 2.0,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account = account
        self.rates: dict[str, Rate] = dict(rates or {})
        self.limiter = limiter if limiter is not None else DEFAULT_LIMITER
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s
        self._map_error = error_mapper
        self._sleep = sleep
        timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self._client = httpx.Client(
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": "guanwei/0.1", **(headers or {})},
            follow_redirects=False,
            # No HTTPS_PROXY & co. from the environment: a proxy mount would bypass the
            # transport, and with it the outbound policy's check of the real destination.
            trust_env=False,
        )

    def close(self) -> None:
        self._client.close()

    def _groups(self, groups: Sequence[str]) -> list[tuple[str, Rate]]:
        return [(g, self.rates[g]) for g in groups if g in self.rates]

    def _acquire(self, endpoint: str, groups: list[tuple[str, Rate]]) -> None:
        if not groups:
            return
        waited = 0.0
        while True:
            wait = self.limiter.reserve(self.account, groups)
            if wait <= 0.0:
                return
            if waited + wait > self.max_wait_s:
                raise PlatformError(
                    "rate_limited",
                    "local rate limit for this account reached (not sent)",
                    code="local_bucket",
                    endpoint=endpoint,
                    retry_after_s=wait,
                )
            self._sleep(wait)
            waited += wait

    def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        groups: Sequence[str] = ("total",),
    ) -> httpx.Response:
        """Send one logical request; returns the successful response or raises PlatformError."""
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD", "OPTIONS")
        bucket_groups = self._groups(groups)
        attempt = 0
        while True:
            attempt += 1
            self._acquire(endpoint, bucket_groups)
            started = time.monotonic()
            try:
                response = self._client.request(
                    method, url, params=params, data=data, files=files, headers=headers
                )
            except httpx.HTTPError as exc:
                error = _transport_error(exc, endpoint, idempotent)
                log.warning(
                    "platform request failed: %s %s account=%s attempt=%d kind=%s (%s)",
                    method,
                    endpoint,
                    self.account,
                    attempt,
                    error.kind,
                    type(exc).__name__,
                )
                safe = error.kind == "unavailable" and error.code == "connect"
                if attempt <= self.retries and (safe or idempotent):
                    self._sleep(self.backoff_s * attempt)
                    continue
                raise error from exc
            elapsed_ms = (time.monotonic() - started) * 1000
            log.info(
                "platform request: %s %s account=%s status=%d ms=%.0f attempt=%d",
                method,
                endpoint,
                self.account,
                response.status_code,
                elapsed_ms,
                attempt,
            )
            self._observe_rate_headers(response, bucket_groups)
            mapped = self._map_error(response, endpoint)
            if mapped is None:
                return response
            error = _maybe_delivered(mapped, idempotent)
            if error.kind == "rate_limited":
                if error.retry_after_s is not None and bucket_groups:
                    # Close the most specific bucket only: Weibo's 10024 (posting) must not stop
                    # mention polling; a user-wide 10023 closes "total" when a read meets it.
                    self.limiter.block(self.account, bucket_groups[-1:], error.retry_after_s)
                # A refused request was not carried out, so waiting briefly and resending is safe.
                if (
                    attempt <= self.retries
                    and error.retry_after_s is not None
                    and error.retry_after_s <= self.max_wait_s
                ):
                    self._sleep(error.retry_after_s)
                    continue
                raise error
            if idempotent and not error.permanent and attempt <= self.retries:
                if error.kind in ("unavailable", "timeout"):
                    self._sleep(self.backoff_s * attempt)
                    continue
            raise error

    def _observe_rate_headers(
        self, response: httpx.Response, groups: list[tuple[str, Rate]]
    ) -> None:
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is None or not groups:
            return
        try:
            remaining_n = int(remaining)
        except ValueError:
            return
        reset_in = seconds_until_reset(response.headers.get("X-RateLimit-Reset"))
        self.limiter.observe(self.account, groups[-1:], remaining_n, reset_in)


class HttpConnector:
    """What every HTTP connector shares: who it speaks for, its :class:`HttpClient` (keyed for
    the rate limiter by account), the bearer token check and the JSON decoding. Subclasses add
    the platform's paths, parsing and error mapping."""

    def __init__(
        self,
        *,
        kind: str,
        base_url: str,
        app_key: str,
        app_secret: str,
        access_token: str | None,
        uid: str | None,
        error_mapper: ErrorMapper,
        rates: Mapping[str, Rate],
        limiter: RateLimiter | None,
        timeout_s: float,
        connect_timeout_s: float,
        retries: int,
        backoff_s: float,
        max_wait_s: float,
        transport: httpx.BaseTransport | None,
        sleep: Callable[[float], None] | None,
    ) -> None:
        self.kind = kind
        self.base_url = base_url.rstrip("/")
        self.app_key = app_key
        self._app_secret = app_secret
        self._access_token = access_token
        self.uid = uid
        self._sleep = sleep or time.sleep
        self._http = HttpClient(
            account=self._account_key(),
            error_mapper=error_mapper,
            rates=rates,
            limiter=limiter,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            retries=retries,
            backoff_s=backoff_s,
            max_wait_s=max_wait_s,
            transport=transport,
            sleep=self._sleep,
        )

    def _rate_scope(self) -> str:
        """Whose limits the buckets count against, besides the account (see subclasses)."""
        return self.base_url

    @property
    def rate_key(self) -> str:
        """The key this connector's calls are counted under (app and account)."""
        return self._http.account

    @property
    def rates(self) -> dict[str, Rate]:
        """The hourly limits per endpoint class the buckets enforce."""
        return dict(self._http.rates)

    def _account_key(self) -> str:
        who = self.uid or (
            hashlib.sha256(self._access_token.encode()).hexdigest()[:12]
            if self._access_token
            else "app"
        )
        return f"{self.kind}:{self._rate_scope()}:{who}"

    def _adopt_token(self, token: str, uid: str | None) -> None:
        """After a code exchange: speak for the new account, and draw from its buckets."""
        self._access_token = token
        self.uid = uid
        self._http.account = self._account_key()

    def _token(self, endpoint: str) -> str:
        if not self._access_token:
            raise PlatformError(
                "auth_invalid",
                "no access token for this account",
                code="no_token",
                endpoint=endpoint,
            )
        return self._access_token

    @staticmethod
    def _json(response: httpx.Response, endpoint: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise PlatformError(
                "unavailable",
                "answer is not JSON",
                code="not_json",
                http_status=response.status_code,
                endpoint=endpoint,
                permanent=False,
            ) from None

    def close(self) -> None:
        self._http.close()


def seconds_until_reset(value: str | None, now: datetime | None = None) -> float | None:
    """``X-RateLimit-Reset`` as seconds from now: Mastodon sends an ISO 8601 time (with
    microseconds); tolerate epoch seconds too."""
    if not value:
        return None
    now = now or datetime.now(UTC)
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            epoch = float(value)
        except ValueError:
            return None
        return max(0.0, epoch - now.timestamp())
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _maybe_delivered(error: PlatformError, idempotent: bool) -> PlatformError:
    """A gateway's own 502/504 page (not the platform's error JSON) after a write leaves the
    write's fate unknown — the platform may have done it and the answer died on the way back —
    so for non-idempotent requests it is reported like a lost response: ``timeout``."""
    gateway = error.http_status in (502, 504) and error.code == str(error.http_status)
    if idempotent or error.kind != "unavailable" or not gateway:
        return error
    return PlatformError(
        "timeout",
        f"gateway answered {error.http_status} after the request was sent; "
        "the write may have been carried out — reconcile",
        code=f"gateway_{error.http_status}",
        http_status=error.http_status,
        endpoint=error.endpoint,
        permanent=False,
    )


def _transport_error(exc: httpx.HTTPError, endpoint: str, idempotent: bool) -> PlatformError:
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError | httpx.PoolTimeout):
        # Nothing reached the platform: definitely not delivered, safe to send again.
        return PlatformError(
            "unavailable",
            f"could not connect ({type(exc).__name__}); the request was not sent",
            code="connect",
            endpoint=endpoint,
            permanent=False,
        )
    if isinstance(exc, httpx.TimeoutException):
        return PlatformError(
            "timeout",
            "no response in time"
            + ("" if idempotent else "; the write may have been carried out — reconcile"),
            code="timeout",
            endpoint=endpoint,
            permanent=False,
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        # The connection dropped after the request went out: same uncertainty as a timeout.
        return PlatformError(
            "timeout",
            f"connection lost before the response ({type(exc).__name__})",
            code="connection_lost",
            endpoint=endpoint,
            permanent=False,
        )
    return PlatformError(
        "unavailable", f"{type(exc).__name__}", code="transport", endpoint=endpoint, permanent=False
    )

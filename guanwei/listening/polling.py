"""Reading streams: which streams an account has, which are due, and one read of one stream.

`poll(stream)` asks the account's connector for everything newer than the stream's cursor
(newest pages first, at most MAX_PAGES requests), stores it through `listening.store` and moves
the cursor — in one transaction, so a crash re-reads and never skips. Every read leaves a
StreamRun (coverage). A platform error is reported to the account's health (one notice per
condition), recorded on the stream and the run, and the stream waits: a rate limit until the
platform's reset, other errors with a backoff up to an hour.
"""

from __future__ import annotations

import logging
import math
from contextlib import closing
from datetime import timedelta
from urllib.parse import urlsplit

from django.db import transaction

from guanwei.core import clock
from guanwei.listening.models import DEFAULT_KINDS, READS, Stream, StreamKind, StreamRun
from guanwei.listening.store import Incoming, prepare, store
from guanwei.matrix import connectors
from guanwei.matrix.health import record_platform_error, record_platform_ok
from guanwei.matrix.models import HOURLY_CALLS, Account

log = logging.getLogger("guanwei.listening")

MAX_PAGES = 5
MIN_INTERVAL_S = 30
LISTENING_SHARE = 0.6
MAX_BACKOFF_S = 3600
OUTCOMES = {o.value for o in StreamRun.Outcome}


def platform_of(account: Account) -> str:
    """Which platform an item id belongs to: the kind and the API's host (ids are per platform
    — per instance on Mastodon)."""
    connection = account.connection
    host = urlsplit(connectors.base_url_of(connection)).hostname or ""
    if connection.kind == "sandbox":
        host = "builtin"  # the built-in sandbox is one platform wherever the server listens
    return f"{connection.kind}:{host}"


def ensure_streams(accounts=None) -> int:  # type: ignore[no-untyped-def]
    """Give every connected account the default streams its platform allows (idempotent)."""
    # Every 15 s this must stay cheap with a thousand accounts: only accounts without any stream
    # yet are looked at (one query); pass `accounts` to look again at some (e.g. after a change
    # of the connection's level).
    qs = accounts if accounts is not None else Account.objects.exclude(token="").filter(streams__isnull=True)
    made = 0
    for account in qs.select_related("connection").iterator(chunk_size=200):
        have = set(Stream.objects.filter(account=account, target="").values_list("kind", flat=True))
        missing = [kind for kind in DEFAULT_KINDS if kind not in have]
        if not missing:
            continue
        try:
            with closing(connectors.for_account(account)) as connector:
                capabilities = connector.capabilities
        except Exception:  # noqa: BLE001 - a connection that cannot even be built polls nothing
            log.warning("listening.ensure_streams account=%s connector unavailable", account.pk)
            continue
        pushed = account.connection.kind in ("weibo", "sandbox")  # Weibo pushes DMs (fans service)
        kinds = [
            kind for kind in missing
            if capabilities.has(READS[kind][1]) and not (pushed and kind == StreamKind.DIRECT_MESSAGES)
        ]  # fmt: skip
        interval = interval_for(account, len(have) + len(kinds))
        rows = [
            Stream(enterprise_id=account.enterprise_id, account=account, kind=kind, interval_s=interval)
            for kind in kinds
        ]
        Stream.objects.bulk_create(rows, ignore_conflicts=True)
        made += len(rows)
    return made


def interval_for(account: Account, streams: int) -> int:
    """Seconds between reads of each of an account's `streams` streams, so that listening spends
    at most LISTENING_SHARE of the app level's hourly calls per user (each read may take a few
    pages; the rest is for publishing, replies and refreshes). Never below MIN_INTERVAL_S."""
    if account.connection.kind == "mastodon":
        hourly: int | None = 3600  # Mastodon's default: 300 requests per 5 minutes per account
    else:
        hourly = HOURLY_CALLS.get(account.connection.app_level)
    if not hourly or streams <= 0:
        return MIN_INTERVAL_S
    return max(MIN_INTERVAL_S, math.ceil(3600 * streams / (hourly * LISTENING_SHARE)))


def _read(connector, stream: Stream) -> list:  # type: ignore[no-untyped-def]
    method, _capability = READS[StreamKind(stream.kind)]
    since = stream.cursor or None
    if stream.kind in (StreamKind.POST_COMMENTS, StreamKind.POST_REPOSTS):
        return getattr(connector, method)(stream.target, since_id=since, max_pages=MAX_PAGES)
    if stream.kind == StreamKind.SEARCH:
        return connector.search(stream.target, since=stream.newest_item_at, max_pages=MAX_PAGES)
    return getattr(connector, method)(since_id=since, max_pages=MAX_PAGES)


def _newer(a: str, b: str) -> bool:
    """Is id `a` newer than `b`? Numeric ids compare as numbers (Weibo's, Mastodon's)."""
    if not b:
        return True
    if a.isdigit() and b.isdigit():
        return int(a) > int(b)
    return a > b


def poll(stream: Stream) -> StreamRun:
    """One read of `stream` (see the module's docstring)."""
    from guanwei.platforms.base import PlatformError

    account = stream.account
    started = clock.now()
    try:
        with closing(connectors.for_account(account)) as connector:
            items = _read(connector, stream)
    except PlatformError as error:
        record_platform_error(account, error)
        return _failed(stream, started, error)
    record_platform_ok(account)
    platform = platform_of(account)
    incoming = [
        Incoming.from_remote(platform, item, account_id=account.pk, stream_id=stream.pk)
        for item in items
    ]
    newest = None
    for item in items:
        if newest is None or _newer(str(item.id), str(newest.id)):
            newest = item
    prepared = prepare(account.enterprise, incoming)  # the CPU work, outside the transaction
    now = clock.now()
    with transaction.atomic():
        result = store(account.enterprise, prepared)
        fields = {
            "last_polled_at": now, "last_success_at": now, "last_error": "", "last_error_detail": "",
            "next_poll_at": now + timedelta(seconds=stream.interval_s),
        }  # fmt: skip
        if newest is not None and _newer(str(newest.id), stream.cursor):
            fields.update(cursor=str(newest.id)[:64], newest_item_at=newest.created_at)
        # The cursor moves only from what this read started from: two workers never both move it.
        Stream.objects.filter(pk=stream.pk, cursor=stream.cursor).update(**fields)
        run = StreamRun.objects.create(
            enterprise_id=stream.enterprise_id, stream=stream, started_at=started, finished_at=now,
            outcome=StreamRun.Outcome.OK, fetched=len(items), stored=result.stored,
        )  # fmt: skip
    log.info(
        "listening.polled enterprise=%s account=%s stream=%s kind=%s fetched=%s stored=%s",
        stream.enterprise_id, account.pk, stream.pk, stream.kind, len(items), result.stored,
    )  # fmt: skip
    return run


def _failed(stream: Stream, started, error) -> StreamRun:  # type: ignore[no-untyped-def]
    now = clock.now()
    since = stream.last_success_at or started - timedelta(days=1)
    failures = StreamRun.objects.filter(stream=stream, started_at__gt=since).count()  # in a row
    wait = min(MAX_BACKOFF_S, stream.interval_s * (2 ** min(failures, 6)))
    if error.retry_after_s:
        wait = max(wait, int(error.retry_after_s))
    kind = error.kind if error.kind in OUTCOMES else StreamRun.Outcome.ERROR
    if error.kind == "auth_invalid":
        kind = StreamRun.Outcome.TOKEN_EXPIRED
    with transaction.atomic():
        Stream.objects.filter(pk=stream.pk).update(
            last_polled_at=now, last_error=error.kind[:40], last_error_detail=str(error)[:300],
            next_poll_at=now + timedelta(seconds=wait),
        )  # fmt: skip
        run = StreamRun.objects.create(
            enterprise_id=stream.enterprise_id, stream=stream, started_at=started, finished_at=now,
            outcome=kind, detail=str(error)[:300],
        )  # fmt: skip
    log.warning(
        "listening.poll_failed enterprise=%s account=%s stream=%s kind=%s error=%s wait_s=%s",
        stream.enterprise_id, stream.account_id, stream.pk, stream.kind, error.kind, wait,
    )  # fmt: skip
    return run


def due_streams(limit: int = 200):  # type: ignore[no-untyped-def]
    """Active streams of connected accounts whose next read is due, oldest first."""
    return (
        Stream.objects.filter(is_active=True, next_poll_at__lte=clock.now())
        .exclude(account__token="")
        .select_related("account__connection", "account__enterprise")
        .order_by("next_poll_at")[:limit]
    )


def claim(stream: Stream) -> bool:
    """Take a due stream for this worker: move its next read on first (a conditional update),
    so two workers polling at once read it once."""
    return bool(
        Stream.objects.filter(pk=stream.pk, next_poll_at=stream.next_poll_at).update(
            next_poll_at=clock.now() + timedelta(seconds=max(stream.interval_s, 60))
        )
    )


def poll_due(limit: int = 200) -> dict[str, int]:
    """Read every due stream once (the job listening.poll). Returns runs by outcome."""
    ensure_streams()
    outcomes: dict[str, int] = {}
    for stream in list(due_streams(limit)):
        if not claim(stream):
            continue
        try:
            run = poll(stream)
            outcome = str(run.outcome)
        except Exception:  # isolation: one stream's bug must not starve the others (logged)
            log.exception("listening.poll_crashed stream=%s", stream.pk)
            outcome = "crashed"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes

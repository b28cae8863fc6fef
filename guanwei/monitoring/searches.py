"""Keyword search streams for monitors (关键词搜索), where the platform app may search.

Listening reads what reaches our accounts (mentions, comments, DMs) for every account; what the
rest of Weibo says about the brand comes only from keyword search — Weibo's commercial
`search/statuses/limited` (PLATFORM_APIS §5: a contract, the connection's `commercial` flag) or
Mastodon's search. For each active monitor, `textkit.query.search_terms` finds keywords that
cover its rule (every post the rule matches contains one); `sync` keeps one listening Stream of
kind `search` per keyword on one account of each connection that may search, and stops the ones
no monitor needs any more. Whatever a search brings in is matched by every monitor like any other
mention, so a keyword shared by monitors is searched once.

A rule no keyword covers (a NOT, a regex or a field alone) cannot be searched: its page says so.
At most MAX_TERMS keywords per enterprise and connection (each is a call per interval)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django_tasks import task

from guanwei.listening.models import Stream, StreamKind
from guanwei.matrix.connectors import capabilities_of
from guanwei.matrix.models import Account, Connection, MatrixRole
from guanwei.monitoring.models import Monitor
from guanwei.textkit.query import QuerySyntaxError, parse, search_terms

MAX_TERMS = 50  # search streams per connection
INTERVAL_S = 60  # a search is read every minute (the commercial budget is per IP: 50,000 an hour)


@dataclass(frozen=True)
class Coverage:
    """What a monitor's page says about where its mentions come from."""

    searching: bool  # some connection of the enterprise may search
    terms: tuple[str, ...] | None  # the keywords its rule is searched by (None: not searchable)
    searched: tuple[str, ...] = ()  # those of them a stream reads now (the rest: over the cap)


def terms_for(rule: str) -> tuple[str, ...] | None:
    try:
        return search_terms(parse(rule))
    except QuerySyntaxError:
        return None


def search_accounts(enterprise_id: int) -> list[Account]:
    """One connected account per connection that may search (the parent first: any of the
    connection's users may, the search is the app's)."""
    out: dict[int, Account] = {}
    connections = Connection.objects.filter(enterprise_id=enterprise_id)
    may = {c.pk for c in connections if capabilities_of(c).has("search")}
    if not may:
        return []
    for account in (Account.objects.filter(connection_id__in=may).exclude(token="")
                    .order_by("connection_id", "-matrix_role", "pk")):  # fmt: skip
        if account.connection_id not in out or account.matrix_role == MatrixRole.PARENT:
            out.setdefault(account.connection_id, account)
            if account.matrix_role == MatrixRole.PARENT:
                out[account.connection_id] = account
    return list(out.values())


def wanted(enterprise_id: int) -> list[str]:
    """Every keyword the enterprise's active monitors need, the oldest monitors' first."""
    out: list[str] = []
    for rule in Monitor.objects.filter(enterprise_id=enterprise_id, is_active=True).order_by("pk").values_list("rule", flat=True):
        for term in terms_for(rule) or ():
            term = term.strip()[:200]
            if term and term not in out:
                out.append(term)
    return out


def sync(enterprise_id: int) -> dict[str, int]:
    """Make the search streams match what the monitors need: new keywords get a stream, ones no
    monitor needs stop (kept, inactive: their cursor is kept if a rule brings them back)."""
    accounts = search_accounts(enterprise_id)
    terms = wanted(enterprise_id)[:MAX_TERMS]
    added = started = stopped = 0
    with transaction.atomic():
        for account in accounts:
            have = {s.target: s for s in Stream.objects.filter(account=account, kind=StreamKind.SEARCH)}
            new = [Stream(enterprise_id=enterprise_id, account=account, kind=StreamKind.SEARCH, target=t,
                          interval_s=INTERVAL_S) for t in terms if t not in have]  # fmt: skip
            Stream.objects.bulk_create(new, ignore_conflicts=True)
            added += len(new)
            started += Stream.objects.filter(pk__in=[s.pk for t, s in have.items() if t in terms and not s.is_active]).update(is_active=True)
            stopped += Stream.objects.filter(pk__in=[s.pk for t, s in have.items() if t not in terms and s.is_active]).update(is_active=False)
        # a connection that lost its search (contract ended): its streams stop
        stopped += (
            Stream.objects.filter(enterprise_id=enterprise_id, kind=StreamKind.SEARCH, is_active=True)
            .exclude(account__in=accounts).update(is_active=False)
        )  # fmt: skip
    return {"added": added, "started": started, "stopped": stopped}


@task()
def sync_all() -> dict[str, int]:
    """monitoring.sync_searches: every enterprise with monitors (a connection may have gained or
    lost its search since the last change of a rule)."""
    total = {"added": 0, "started": 0, "stopped": 0}
    for enterprise_id in Monitor.objects.values_list("enterprise_id", flat=True).distinct():
        for key, n in sync(enterprise_id).items():
            total[key] += n
    return total


def coverage(monitor: Monitor) -> Coverage:
    searching = Stream.objects.filter(enterprise_id=monitor.enterprise_id, kind=StreamKind.SEARCH, is_active=True)
    terms = terms_for(monitor.rule)
    if not searching.exists():
        return Coverage(searching=bool(search_accounts(monitor.enterprise_id)), terms=terms)
    read = set(searching.filter(target__in=terms or ()).values_list("target", flat=True))
    return Coverage(searching=True, terms=terms, searched=tuple(t for t in terms or () if t in read))

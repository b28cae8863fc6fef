"""The shared pieces of long list pages: keyset pagination ("older / newer" by a sortable key and
the id, one indexed range scan however deep the page) and the query string that keeps a page's
filters. Page-number pagination (Django's Paginator) counts the whole filtered set and walks an
OFFSET: fine for short lists (members of one enterprise), not for logs and streams that grow
without bound — those use `keyset_page`. Pages render `web/_keyset_pager.html`."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest


@dataclass
class KeysetPage:
    items: list[Any]
    older: str | None  # cursor of the next page back in time (None: this is the last)
    newer: str | None  # cursor of the page before this one (None: this is the newest)
    query: str  # the other parameters (filters), urlencoded, for the pager's links


def _encode(at: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{pk}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int] | None:
    """A cursor back into (time, id); None for anything malformed (the first page is shown)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, pk = raw.split("|", 1)
        return datetime.fromisoformat(at), int(pk)
    except (ValueError, UnicodeDecodeError, TypeError):
        return None


def keyset_page(
    qs: QuerySet[Any], request: HttpRequest, *, per_page: int = 50, field: str = "created_at"
) -> KeysetPage:
    """One page of `qs`, newest first by (`field`, id). `?before=` pages back, `?after=` forward.
    Needs an index on (…, -field, -id) for the filters the page applies."""
    params = request.GET.copy()
    before = _decode(params.pop("before", [""])[-1] or "")
    after = _decode(params.pop("after", [""])[-1] or "")
    params.pop("page", None)
    query = params.urlencode()
    if after is not None:
        at, pk = after
        rows = list(
            # The plain range first: the planner walks the index from there (an OR alone made
            # PostgreSQL read 25,000 rows to find a deep page).
            qs.filter(**{f"{field}__gte": at})
            .filter(Q(**{f"{field}__gt": at}) | Q(**{field: at, "pk__gt": pk}))
            .order_by(field, "pk")[: per_page + 1]
        )
        has_newer = len(rows) > per_page
        items = list(reversed(rows[:per_page]))
        newer = _encode(getattr(items[0], field), items[0].pk) if has_newer and items else None
        older = _encode(getattr(items[-1], field), items[-1].pk) if items else None
        return KeysetPage(items, older, newer, query)
    if before is not None:
        at, pk = before
        qs = qs.filter(**{f"{field}__lte": at}).filter(
            Q(**{f"{field}__lt": at}) | Q(**{field: at, "pk__lt": pk})
        )
    rows = list(qs.order_by(f"-{field}", "-pk")[: per_page + 1])
    items = rows[:per_page]
    older = _encode(getattr(items[-1], field), items[-1].pk) if len(rows) > per_page else None
    newer = _encode(getattr(items[0], field), items[0].pk) if before is not None and items else None
    return KeysetPage(items, older, newer, query)

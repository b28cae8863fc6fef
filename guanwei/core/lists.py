"""The one pager of list pages: keyset pagination. A page is the next `per_page` rows after (or
before) a cursor — the sort key of the row where the last page ended, plus its id — so every
page, however deep, is one indexed range scan: no COUNT(*) of the whole filtered set, no OFFSET
walking thousands of rows. The query string keeps the page's filters. Pages render
`web/_pager.html`; long lists of choices use `core.choosers`, big downloads `core.exports`.

`keyset_page(qs, request, order=("-created_at",))` — `order` names non-null fields, each
ascending or "-"descending; the id is always the last key (in the first field's direction), so
the order is total. The list needs an index matching the filters and the order (e.g.
`(enterprise, -created_at, -id)`).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest

MAX_CURSOR_LENGTH = 2000  # a cursor carries a few short values; anything longer is not ours


@dataclass
class KeysetPage:
    items: list[Any]
    following: str | None  # cursor of the next page (None: this is the last)
    preceding: str | None  # cursor of the page before this one (None: this is the first)
    query: str  # the other parameters (filters), urlencoded, for the pager's links
    by_time: bool  # newest first by a time: the pager says "older / newer"

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _field_names(order: tuple[str, ...]) -> list[tuple[str, bool]]:
    """[(field, descending)], with the id last in the first field's direction."""
    keys = [(name.lstrip("-"), name.startswith("-")) for name in order]
    return [*keys, ("pk", keys[0][1])]


def _encode(row: Any, keys: list[tuple[str, bool]]) -> str:
    values = []
    for name, _desc in keys:
        value = getattr(row, name)
        values.append({"t": value.isoformat()} if isinstance(value, datetime) else value)
    raw = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, keys: list[tuple[str, bool]]) -> list[Any] | None:
    """A cursor back into the key values; None for anything malformed (the first page is shown)."""
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        if not isinstance(values, list) or len(values) != len(keys):
            return None
        decoded = []
        for value in values:
            if isinstance(value, dict):
                value = datetime.fromisoformat(value["t"])
            elif value is None or isinstance(value, list | dict | float):
                return None
            decoded.append(value)
        if not isinstance(decoded[-1], int) or isinstance(decoded[-1], bool):
            return None
        return decoded
    except (ValueError, UnicodeDecodeError, TypeError, KeyError):
        return None


def _beyond(keys: list[tuple[str, bool]], values: list[Any], forward: bool) -> Q:
    """Rows after `values` in the order (forward) or before them: (a, b, id) > (x, y, p) as
    a > x OR (a = x AND b > y) OR (a = x AND b = y AND id > p), each > flipped where descending."""
    condition = Q()
    equal: dict[str, Any] = {}
    for (name, desc), value in zip(keys, values, strict=True):
        op = "lt" if desc == forward else "gt"
        condition |= Q(**equal, **{f"{name}__{op}": value})
        equal[name] = value
    return condition


def _ordering(keys: list[tuple[str, bool]], reverse: bool) -> list[str]:
    return [("-" if desc != reverse else "") + name for name, desc in keys]


def keyset_page(
    qs: QuerySet[Any],
    request: HttpRequest,
    *,
    per_page: int = 50,
    order: tuple[str, ...] = ("-created_at",),
) -> KeysetPage:
    """One page of `qs` in `order`. `?before=` continues forward (older rows, in a list newest
    first), `?after=` goes back."""
    keys = _field_names(order)
    params = request.GET.copy()
    forward_from = _decode(params.pop("before", [""])[-1] or "", keys)
    back_from = _decode(params.pop("after", [""])[-1] or "", keys)
    params.pop("page", None)
    query = params.urlencode()
    first_name, first_desc = keys[0]
    by_time = first_desc and order[0].lstrip("-").endswith("_at")

    def start_at(values: list[Any], forward: bool) -> QuerySet[Any]:
        # The plain range on the first key first: the planner walks the index from there (the OR
        # alone made PostgreSQL read 25,000 rows to find a deep page).
        op = "lte" if first_desc == forward else "gte"
        return qs.filter(**{f"{first_name}__{op}": values[0]}).filter(_beyond(keys, values, forward))

    if back_from is not None:
        rows = list(start_at(back_from, False).order_by(*_ordering(keys, True))[: per_page + 1])
        has_preceding = len(rows) > per_page
        items = list(reversed(rows[:per_page]))
        preceding = _encode(items[0], keys) if has_preceding and items else None
        following = _encode(items[-1], keys) if items else None
        return KeysetPage(items, following, preceding, query, by_time)
    if forward_from is not None:
        qs = start_at(forward_from, True)
    rows = list(qs.order_by(*_ordering(keys, False))[: per_page + 1])
    items = rows[:per_page]
    following = _encode(items[-1], keys) if len(rows) > per_page else None
    preceding = _encode(items[0], keys) if forward_from is not None and items else None
    return KeysetPage(items, following, preceding, query, by_time)

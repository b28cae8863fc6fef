"""Bulk writes of plain rows, for the hot paths that take thousands of rows a second (the
listening store, monitoring's matches and counters). The ORM's bulk_create spends most of such a
stage's time building model instances and per-field SQL; these send one executemany. SQLite
(≥ 3.24) and PostgreSQL both take the statements.

* `insert_ignore(model, columns, rows)` — INSERT … ON CONFLICT DO NOTHING: a row that breaks a
  unique constraint (a concurrent writer stored it) is skipped, not an error.
* `insert_add(model, key, columns, rows)` — INSERT … ON CONFLICT (key) DO UPDATE adding each
  counter column to the stored one: counters incremented in one statement per batch.
* `db_datetime(value)` — a datetime as the database column takes it in raw SQL.

On SQLite the rows go through one executemany (in-process: no round trips). On PostgreSQL,
executemany is one statement per row in a pipeline, and the server's per-statement work was a
quarter of the monitoring bench's time: rows are sent as multi-row VALUES lists instead, up to
PG_PARAMS parameters a statement.

Values are passed as parameters; only column names from the caller's code (never input) are
put in the statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection

PG_PARAMS = 30_000  # well under PostgreSQL's 65,535 parameters per statement


def _run(head: str, tail: str, width: int, rows: Sequence[tuple[Any, ...]]) -> None:
    """`head` VALUES (…), (…) `tail`, for every row."""
    one = "(" + ", ".join(["%s"] * width) + ")"
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.executemany(f"{head} VALUES {one} {tail}", rows)
            return
        step = max(1, PG_PARAMS // width)
        for i in range(0, len(rows), step):
            chunk = rows[i : i + step]
            params = [value for row in chunk for value in row]
            cursor.execute(f"{head} VALUES {', '.join([one] * len(chunk))} {tail}", params)


def _names(columns: Sequence[str]) -> str:
    return ", ".join(connection.ops.quote_name(c) for c in columns)


def insert_ignore(model: Any, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    marks = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({_names(columns)}) VALUES ({marks}) ON CONFLICT DO NOTHING", rows
        )


def insert_add(
    model: Any, key: Sequence[str], columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Rows of (*key values, *counter values); `key` must be a unique constraint of the table."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    marks = ", ".join(["%s"] * (len(key) + len(columns)))
    adds = ", ".join(
        f"{n} = {table}.{n} + excluded.{n}" for n in (connection.ops.quote_name(c) for c in columns)
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({_names([*key, *columns])}) VALUES ({marks}) "
            f"ON CONFLICT ({_names(key)}) DO UPDATE SET {adds}",
            rows,
        )


def db_datetime(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)

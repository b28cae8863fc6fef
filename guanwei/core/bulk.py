"""Bulk writes of plain rows, for the hot paths that take thousands of rows a second (the
listening store, monitoring's matches and counters). The ORM's bulk_create spends most of such a
stage's time building model instances and per-field SQL; these send a batch in one call.
SQLite (≥ 3.24) and PostgreSQL both take the statements.

* `insert_ignore(model, columns, rows)` — INSERT … ON CONFLICT DO NOTHING: a row that breaks a
  unique constraint (a concurrent writer stored it) is skipped, not an error.
* `insert_add(model, key, columns, rows)` — INSERT … ON CONFLICT (key) DO UPDATE adding each
  counter column to the stored one: counters incremented in one statement per batch.
* `db_datetime(value)` — a datetime as the database column takes it in raw SQL;
  `datetime_adapter()` — the same conversion for many values.

On SQLite the rows go through one executemany (in-process: no round trips). On PostgreSQL,
executemany is one statement per row in a pipeline (the server's per-statement work was a
quarter of the monitoring bench's time), and a multi-row VALUES list costs psycopg a parse of a
statement with tens of thousands of placeholders each time (half the store stage's time): the
rows are sent as one array per column instead, `INSERT … SELECT * FROM unnest(%b::type[], …)`,
one statement and a few parameters per batch, bound apart from the statement and in binary. (A
cast to `varchar(n)[]` cuts a longer string where SQLite would keep it: callers cut their values
to the column's length, as they must for a unique key to mean the same on both.)

Values are passed as parameters; only column names from the caller's code (never input) are
put in the statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection


def _run(model: Any, head: str, tail: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """`head` + the rows + `tail`: VALUES (…) through executemany on SQLite, SELECT * FROM
    unnest(arrays) on PostgreSQL (see the module's docstring)."""
    if connection.vendor != "postgresql":
        marks = ", ".join(["%s"] * len(columns))
        with connection.cursor() as cursor:
            cursor.executemany(f"{head} VALUES ({marks}) {tail}", rows)
        return
    types = [model._meta.get_field(c).db_type(connection) for c in columns]
    arrays = ", ".join(f"%b::{t}[]" for t in types)  # %b: sent in binary
    columns_of_rows = [list(values) for values in zip(*rows, strict=True)]
    # Django's psycopg cursors bind parameters on the client (into the statement's text); a
    # plain psycopg cursor on the same connection (so in the same transaction) sends them apart,
    # in binary: no quoting of every string of the arrays.
    connection.ensure_connection()
    # Django's error wrapper: its exceptions (IntegrityError…), and a broken connection noticed
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as raw:
        raw.execute(f"{head} SELECT * FROM unnest({arrays}) {tail}", columns_of_rows)


def _names(columns: Sequence[str]) -> str:
    return ", ".join(connection.ops.quote_name(c) for c in columns)


def insert_ignore(model: Any, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    _run(model, f"INSERT INTO {table} ({_names(columns)})", "ON CONFLICT DO NOTHING", columns, rows)


def insert_add(
    model: Any, key: Sequence[str], columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Rows of (*key values, *counter values); `key` must be a unique constraint of the table,
    and each key must come once in `rows` (PostgreSQL refuses to update a row twice in one
    statement)."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    adds = ", ".join(
        f"{n} = {table}.{n} + excluded.{n}" for n in (connection.ops.quote_name(c) for c in columns)
    )
    _run(
        model,
        f"INSERT INTO {table} ({_names([*key, *columns])})",
        f"ON CONFLICT ({_names(key)}) DO UPDATE SET {adds}",
        [*key, *columns],
        rows,
    )


def db_datetime(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def datetime_adapter() -> Callable[[datetime], Any]:
    """`db_datetime` for many values: the database's conversion looked up once. (Django's, per
    value, was a fifth of the monitoring consumer's time.) SQLite takes the naive text of the
    moment in the connection's time zone, as Django writes it; PostgreSQL the aware datetime."""
    if connection.vendor != "sqlite":
        return connection.ops.adapt_datetimefield_value
    tz = connection.timezone

    def adapt(value: datetime) -> str:
        if value.tzinfo is not None and value.utcoffset() is not None:
            value = value.astimezone(tz).replace(tzinfo=None)
        return str(value)

    return adapt

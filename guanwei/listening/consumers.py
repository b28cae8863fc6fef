"""Consumers: the areas that read Mentions (monitoring, the inbox, campaigns…). Listening never
imports them; each registers itself in its AppConfig.ready::

    consumers.register("inbox", handle)   # handle(mentions: list[Mention]) -> None

and `dispatch(name)` hands it the mentions after its cursor, in id order, in batches — inside
one transaction with the cursor's move (the cursor row is locked), so what the handler writes and
the cursor commit together: each consumer sees every mention exactly once. A consumer on the hot
path (monitoring) may ask for light rows instead of objects and do its CPU work before that
transaction (`register(fields=…, prepare=…)`).

Ids are handed out in insert order, but on PostgreSQL a transaction that took a lower id may
commit after one that took a higher id. A consumer therefore reads only mentions received more
than SETTLE_S ago (a store transaction is far shorter), so a slow commit is not jumped over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction

from guanwei.core import clock
from guanwei.listening.models import ConsumerCursor, Mention

log = logging.getLogger("guanwei.listening.consumers")

Handler = Callable[..., None]
CONSUMERS: dict[str, Handler] = {}
FIELDS: dict[str, tuple[str, ...]] = {}
PREPARE: dict[str, Callable[[list[Any]], Any]] = {}
BATCH = 500
SETTLE_S = 5


def register(
    name: str, handler: Handler, fields: tuple[str, ...] = (), prepare: Callable[[list[Any]], Any] | None = None
) -> None:
    """`fields`: the handler is given light rows (named tuples of `id` and these fields,
    author__… and account__… included) instead of Mention objects — building whole Mention,
    Author and Account objects was a third of monitoring's cost. Empty: Mention objects.

    `prepare(batch)`: the handler's reads and CPU work, run before the transaction that holds
    the cursor (on SQLite that transaction holds the one write lock: the store stage must not
    wait for a consumer's matching); the handler is then called as `handler(batch, prepared)`.
    If the cursor moved meanwhile (another worker), the batch is read and prepared again."""
    CONSUMERS[name] = handler
    FIELDS[name] = fields
    if prepare is None:
        PREPARE.pop(name, None)
    else:
        PREPARE[name] = prepare


def _batch(name: str, after_id: int, size: int) -> list[Any]:
    """The next mentions after `after_id` that have settled, as the consumer wants them."""
    after = Mention.objects.filter(
        pk__gt=after_id, received_at__lte=clock.now() - timedelta(seconds=SETTLE_S)
    ).order_by("pk")
    fields = FIELDS.get(name, ())
    if fields:
        return list(after.values_list("id", *fields, named=True)[:size])
    return list(after.select_related("author", "account")[:size])


def dispatch(name: str, *, batch: int = BATCH, max_batches: int = 20) -> int:
    """Hand consumer `name` its next mentions. Returns how many it was given."""
    handler = CONSUMERS[name]
    prepare = PREPARE.get(name)
    ConsumerCursor.objects.get_or_create(name=name)
    given = 0
    for _ in range(max_batches):
        prepared = None
        if prepare is not None:
            seen = ConsumerCursor.objects.values_list("last_id", flat=True).get(name=name)
            mentions = _batch(name, seen, batch)
            if not mentions:
                break
            prepared = prepare(mentions)
        with transaction.atomic():
            cursor = ConsumerCursor.objects.select_for_update().get(name=name)
            if prepare is None:
                mentions = _batch(name, cursor.last_id, batch)
                if not mentions:
                    break
                handler(mentions)
            elif cursor.last_id != seen:  # another worker handled these meanwhile
                continue
            else:
                handler(mentions, prepared)
            last = mentions[-1]
            cursor.last_id = last.pk if isinstance(last, Mention) else last.id
            cursor.updated_at = clock.now()
            cursor.save(update_fields=["last_id", "updated_at"])
        given += len(mentions)
        log.info("listening.dispatched consumer=%s mentions=%s up_to=%s", name, len(mentions), cursor.last_id)
        if len(mentions) < batch:
            break
    return given


def dispatch_all() -> dict[str, int]:
    """Every registered consumer, one after another (the job listening.dispatch). A consumer
    that fails keeps its cursor (it is given the same mentions next time) and does not hold up
    the others: the inbox's bug must not silence monitoring's alerts."""
    given: dict[str, int] = {}
    for name in sorted(CONSUMERS):
        try:
            given[name] = dispatch(name)
        except Exception:  # isolation: logged with its traceback, retried at the next run
            log.exception("listening.dispatch_failed consumer=%s", name)
            given[name] = -1
    return given

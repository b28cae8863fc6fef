"""Consumers: the areas that read Mentions (monitoring, the inbox, campaigns…). Listening never
imports them; each registers itself in its AppConfig.ready::

    consumers.register("inbox", handle)   # handle(mentions: list[Mention]) -> None

and `dispatch(name)` hands it the mentions after its cursor, in id order, in batches — inside
one transaction with the cursor's move (the cursor row is locked), so what the handler writes and
the cursor commit together: each consumer sees every mention exactly once.

Ids are handed out in insert order, but on PostgreSQL a transaction that took a lower id may
commit after one that took a higher id. A consumer therefore reads only mentions received more
than SETTLE_S ago (a store transaction is far shorter), so a slow commit is not jumped over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction

from guanwei.core import clock
from guanwei.listening.models import ConsumerCursor, Mention

log = logging.getLogger("guanwei.listening.consumers")

Handler = Callable[[list[Mention]], None]
CONSUMERS: dict[str, Handler] = {}
FIELDS: dict[str, tuple[str, ...]] = {}
BATCH = 500
SETTLE_S = 5


def register(name: str, handler: Handler, fields: tuple[str, ...] = ()) -> None:
    """`fields`: the only fields the handler reads (as for QuerySet.only, author__… and
    account__… included) — loading whole rows of mentions, authors and accounts was a third of
    monitoring's cost. Empty: every field."""
    CONSUMERS[name] = handler
    FIELDS[name] = fields


def dispatch(name: str, *, batch: int = BATCH, max_batches: int = 20) -> int:
    """Hand consumer `name` its next mentions. Returns how many it was given."""
    handler = CONSUMERS[name]
    ConsumerCursor.objects.get_or_create(name=name)
    given = 0
    fields = FIELDS.get(name, ())
    for _ in range(max_batches):
        with transaction.atomic():
            cursor = ConsumerCursor.objects.select_for_update().get(name=name)
            after = Mention.objects.filter(
                pk__gt=cursor.last_id, received_at__lte=clock.now() - timedelta(seconds=SETTLE_S)
            ).select_related("author", "account")
            if fields:
                after = after.only(*fields)
            mentions = list(after.order_by("pk")[:batch])
            if not mentions:
                break
            handler(mentions)
            cursor.last_id = mentions[-1].pk
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

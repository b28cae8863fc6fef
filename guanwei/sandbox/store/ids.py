"""Weibo-like ids from a row-locked sequence, and the counter-bump helper of the store."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import F

from ..models import (
    Sequence,
)

SEQUENCE_START = {"uid": 5_600_000_000, "mid": 4_960_000_000_000_000, "pic": 1_000_000}


def allocate_ids(name: str, n: int = 1) -> range:
    """Reserve `n` consecutive ids of sequence `name` with one row-locking UPDATE."""
    if n <= 0:
        return range(0)
    with transaction.atomic():
        if not Sequence.objects.filter(name=name).update(value=F("value") + n):
            try:
                with transaction.atomic():
                    Sequence.objects.create(name=name, value=SEQUENCE_START[name] + n)
                first = SEQUENCE_START[name] + 1
                return range(first, first + n)
            except IntegrityError:  # another process created the row first
                Sequence.objects.filter(name=name).update(value=F("value") + n)
        last = Sequence.objects.values_list("value", flat=True).get(name=name)
    return range(last - n + 1, last + 1)


def _bump(model: type[models.Model], field: str, deltas: Counter[int] | dict[int, int]) -> None:
    """Add deltas to a counter column: one UPDATE per distinct delta, not per row."""
    by_delta: dict[int, list[int]] = {}
    for pk, delta in deltas.items():
        if delta:
            by_delta.setdefault(delta, []).append(pk)
    for delta, pks in by_delta.items():
        for i in range(0, len(pks), 500):
            model.objects.filter(pk__in=pks[i : i + 500]).update(**{field: F(field) + delta})


def _pk(obj: Any) -> int:
    return obj if isinstance(obj, int) else obj.pk

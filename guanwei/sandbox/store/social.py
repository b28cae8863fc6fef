"""The follower graph: follows (single and bulk) with followers/friends/mutual counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F

from guanwei.core.clock import now

from ..models import (
    Follow,
    SandboxUser,
)
from .ids import _bump, _pk
from .messages import _record_event


@transaction.atomic
def bulk_follow(
    pairs: Iterable[tuple[Any, Any]], *, created_at: datetime | None = None, notify: bool = False
) -> int:
    """(follower, followee) pairs; self-follows and existing follows are skipped. Keeps
    followers_count, friends_count and bi_followers_count. Returns how many were new."""
    pairs = list(dict.fromkeys((_pk(a), _pk(b)) for a, b in pairs if _pk(a) != _pk(b)))
    if not pairs:
        return 0
    followers = {a for a, _ in pairs}
    followees = {b for _, b in pairs}
    existing = set(
        Follow.objects.filter(follower_id__in=followers, followee_id__in=followees).values_list(
            "follower_id", "followee_id"
        )
    )
    new = [p for p in pairs if p not in existing]
    at = created_at or now()
    Follow.objects.bulk_create(
        [Follow(follower_id=a, followee_id=b, created_at=at) for a, b in new], batch_size=500
    )
    _bump(SandboxUser, "followers_count", Counter(b for _, b in new))
    _bump(SandboxUser, "friends_count", Counter(a for a, _ in new))
    # Mutual follows (互粉): a pair becomes mutual when its second edge is new (count it once
    # even when both edges arrive in this batch).
    reverse = set(
        Follow.objects.filter(follower_id__in=followees, followee_id__in=followers).values_list(
            "follower_id", "followee_id"
        )
    )
    pairs_now_mutual = {frozenset((a, b)) for a, b in new if (b, a) in reverse}
    mutual: Counter[int] = Counter()
    for pair in pairs_now_mutual:
        for uid in pair:
            mutual[uid] += 1
    _bump(SandboxUser, "bi_followers_count", mutual)
    if notify:
        for a, b in new:
            _record_event(a, b, "follow", at)
    return len(new)


def follow(
    follower: SandboxUser, followee: SandboxUser, *, created_at: datetime | None = None
) -> bool:
    """Follow; an account with a fans service gets a `follow` event push."""
    return bulk_follow([(follower, followee)], created_at=created_at, notify=True) == 1


@transaction.atomic
def unfollow(follower: SandboxUser, followee: SandboxUser) -> bool:
    deleted, _ = Follow.objects.filter(follower=follower, followee=followee).delete()
    if not deleted:
        return False
    SandboxUser.objects.filter(pk=followee.pk).update(followers_count=F("followers_count") - 1)
    SandboxUser.objects.filter(pk=follower.pk).update(friends_count=F("friends_count") - 1)
    if Follow.objects.filter(follower=followee, followee=follower).exists():
        SandboxUser.objects.filter(pk__in=[follower.pk, followee.pk]).update(
            bi_followers_count=F("bi_followers_count") - 1
        )
    _record_event(follower.pk, followee.pk, "unfollow", now())
    return True


def is_following(follower: Any, followee: Any) -> bool:
    return Follow.objects.filter(follower_id=_pk(follower), followee_id=_pk(followee)).exists()

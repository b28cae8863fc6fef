"""Who else has an item open (two agents on one item see each other): each view of the item page,
and its poll every PRESENCE_POLL_S, marks the member as looking at it for SEEN_S. Kept in the
cache — the local one of a single `guanwei run`; several web processes need the shared cache
(REDIS_URL) for agents on different processes to see each other. Display only: the one reply
and the one assignee are settled by conditional updates in `actions`, not by this."""

from __future__ import annotations

import time

from django.core.cache import cache

from guanwei.core.models import Member

SEEN_S = 30
PRESENCE_POLL_S = 10


def looking(item_id: int, member: Member) -> list[str]:
    """Mark `member` as looking at the item; the names of the others looking at it now."""
    key = f"inbox:viewers:{item_id}"
    now = time.time()
    viewers: dict[int, tuple[str, float]] = cache.get(key) or {}
    viewers = {pk: (name, at) for pk, (name, at) in viewers.items() if now - at < SEEN_S}
    viewers[member.pk] = (member.display_name, now)
    cache.set(key, viewers, timeout=SEEN_S * 2)
    return sorted(name for pk, (name, _at) in viewers.items() if pk != member.pk)

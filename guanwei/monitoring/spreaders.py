"""Key spreaders (关键传播者) of an incident: whose posts were carried furthest, as far as the
mentions we stored tell. A stored repost or comment points at the post it belongs to
(`Mention.in_reply_to_id`, also its `thread_id`): Weibo's API gives a repost's *original*
(`retweeted_status`), never the repost in between, so on polled data every cascade is one level
deep and the reposts in between are named only by the text's "//@name:" chain; imported
cascades (CED) point at the true parent and show every level.

Each downstream post credits every author above it once: the author of the post it points at,
that post's own parent's author, and so on — and, for a repost that points at an original, the
names in its "//@" chain (nearest first), matched to a stored post of that name in the cascade
where there is one. Per spreader: how many stored posts came downstream of theirs, how many
levels deep, and how many reposts came within an hour of their post.

`credit` is pure (plain data in and out, tested without a database); `spreaders` reads the
incident's cascade: the monitor's newest matches of the period (the seeds), their parents, and
every stored repost or comment below them, level by level — each step one indexed query per
500 posts, never one per post.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from guanwei.monitoring.models import Monitor, MonitorMatch

SEEDS = 5_000  # the newest matches of the period that start the walk
MAX_POSTS = 50_000  # posts read in all; more and the page says the walk was cut short
MAX_LEVELS = 10  # levels walked up (to the originals) and down (to the reposts of reposts)
CHUNK = 500  # keys per query (SQLite's parameter limit)
FIRST_HOUR = timedelta(hours=1)
TOP = 10
CACHED_S = 60

# "…//@某人: 说的话//@另一人:…" — Weibo's repost chain, nearest reposter first.
_CHAIN = re.compile(r"//\s?@([^:：/\s@]{1,30})[:：]")
_FIELDS = ("platform", "remote_id", "kind", "in_reply_to_id", "author_id", "author__screen_name",
           "author__followers_count", "author__verified_type", "created_at", "text")  # fmt: skip

Key = tuple[str, str]  # (platform, remote id)


@dataclass(frozen=True)
class Post:
    """A stored mention in a cascade, as plain data."""

    key: Key
    parent: Key | None
    kind: str  # status | comment | repost
    author_id: int | None
    author_name: str
    created_at: datetime
    text: str = ""
    followers: int | None = None
    verified_type: int | None = None


@dataclass
class Spreader:
    name: str
    author_id: int | None  # None: known only by the name in a "//@" chain
    downstream: int = 0  # stored posts below theirs (reposts and comments, every level)
    depth: int = 0  # levels below their post, as far as the data tells
    first_hour: int | None = None  # reposts within an hour of their post (None: post not stored)
    followers: int | None = None
    verified_type: int | None = None


@dataclass
class Spread:
    spreaders: list[Spreader]
    posts: int  # stored posts in the walked cascades
    downstream: int  # of them, reposts and comments that point at another stored post
    deepest: int  # the most levels any spreader's cascade showed
    by_parent: bool  # some levels come from stored parents below an original (imports)
    by_chain: bool  # some levels come from "//@" chains in repost texts
    truncated: bool = False
    seeds: int = 0


def credit(posts: dict[Key, Post], *, top: int = TOP) -> Spread:
    """The spreaders of a set of stored posts (see the module docstring), most downstream first."""
    # who a "//@name" stands for: their posts by time, in all and in each cascade
    by_name: dict[Any, list[Post]] = defaultdict(list)
    for post in posts.values():
        if post.author_name:
            by_name[post.author_name].append(post)
            by_name[(post.author_name, post.parent)].append(post)
    for candidates in by_name.values():
        candidates.sort(key=lambda p: (p.created_at, p.key))
    found: dict[Any, Spreader] = {}
    deepest, downstream, by_parent, by_chain = 0, 0, False, False
    for post in posts.values():
        if post.parent is None:
            continue
        parent = posts.get(post.parent)
        if parent is not None:
            downstream += 1
        # who is above it, nearest first: (who, name, author id, their post if stored)
        above: list[tuple[Any, str, int | None, Post | None]] = []
        if post.kind == "repost" and (parent is None or parent.kind != "repost"):
            # pointed at the original: the reposts in between are named by the "//@" chain only
            for name in _CHAIN.findall(post.text):
                theirs = _latest(by_name.get((name, post.parent), []), post) or _latest(
                    by_name.get(name, []), post
                )
                who = (
                    ("author", theirs.author_id) if theirs and theirs.author_id else ("name", name)
                )
                above.append((who, name, theirs.author_id if theirs else None, theirs))
                by_chain = True
        walked = {post.key}
        node = parent
        while node is not None and node.key not in walked:
            walked.add(node.key)
            who = ("author", node.author_id) if node.author_id else ("post", node.key)
            above.append((who, node.author_name, node.author_id, node))
            node = posts.get(node.parent) if node.parent else None
        by_parent = by_parent or len(walked) > 2
        mine = ("author", post.author_id) if post.author_id else ("post", post.key)
        credited = {mine}  # nobody spreads their own post
        for level, (who, name, author_id, theirs) in enumerate(above, start=1):
            if who in credited:
                continue
            credited.add(who)
            spreader = found.get(who)
            if spreader is None:
                spreader = found[who] = Spreader(name=name or "—", author_id=author_id)
            if theirs is not None:
                spreader.followers = theirs.followers
                spreader.verified_type = theirs.verified_type
                if spreader.first_hour is None:
                    spreader.first_hour = 0
                soon = theirs.created_at <= post.created_at <= theirs.created_at + FIRST_HOUR
                if post.kind == "repost" and soon:
                    spreader.first_hour += 1
            spreader.downstream += 1
            spreader.depth = max(spreader.depth, level)
            deepest = max(deepest, level)
    ranked = sorted(
        found.values(), key=lambda s: (-s.downstream, -(s.first_hour or 0), -s.depth, s.name)
    )
    return Spread(ranked[:top], len(posts), downstream, deepest, by_parent, by_chain)


def _latest(candidates: list[Post], post: Post) -> Post | None:
    """The newest of `candidates` (sorted by time) posted before `post`: the post a "//@name"
    in its chain stands for."""
    i = bisect.bisect_right(
        candidates, (post.created_at, post.key), key=lambda p: (p.created_at, p.key)
    )
    while i > 0:
        i -= 1
        if candidates[i].key != post.key:
            return candidates[i]
    return None


# ---------------------------------------------------------------- reading the cascade


def _post(row: dict[str, Any]) -> Post:
    parent = row["in_reply_to_id"]
    return Post(
        key=(row["platform"], row["remote_id"]), parent=(row["platform"], parent) if parent else None,
        kind=row["kind"], author_id=row["author_id"], author_name=row["author__screen_name"] or "",
        created_at=row["created_at"], text=row["text"] or "", followers=row["author__followers_count"],
        verified_type=row["author__verified_type"],
    )  # fmt: skip


def _chunks(keys: set[Key]) -> Any:
    by_platform: dict[str, list[str]] = defaultdict(list)
    for platform, remote_id in keys:
        by_platform[platform].append(remote_id)
    for platform, ids in by_platform.items():
        ids.sort()
        for i in range(0, len(ids), CHUNK):
            yield platform, ids[i : i + CHUNK]


def spreaders(monitor: Monitor, start: datetime, end: datetime, *, top: int = TOP) -> Spread:
    """The key spreaders of the monitor's period (an incident's window), from stored mentions;
    kept a minute (the room is reloaded often during a storm, and a big cascade takes a second)."""
    from django.core.cache import cache

    key = (
        f"monitoring:spread:{monitor.pk}:{start.timestamp():.0f}:{end.timestamp() // 60:.0f}:{top}"
    )
    spread = cache.get(key)
    if spread is None:
        spread = _spreaders(monitor, start, end, top)
        cache.set(key, spread, CACHED_S)
    return spread


def _spreaders(monitor: Monitor, start: datetime, end: datetime, top: int) -> Spread:
    from guanwei.listening.models import Mention

    enterprise_id = monitor.enterprise_id
    seeds = list(
        MonitorMatch.objects.filter(monitor=monitor, created_at__gte=start, created_at__lte=end)
        .order_by("-created_at", "-id").values(*(f"mention__{f}" for f in _FIELDS))[:SEEDS]
    )  # fmt: skip
    posts: dict[Key, Post] = {}
    for row in seeds:
        post = _post({f: row[f"mention__{f}"] for f in _FIELDS})
        posts[post.key] = post
    truncated = False
    # up: the posts the seeds point at (the originals, and the reposts in between on imports)
    wanted = {p.parent for p in posts.values() if p.parent and p.parent not in posts}
    for _level in range(MAX_LEVELS):
        if not wanted:
            break
        found: list[Post] = []
        for platform, ids in _chunks(wanted):  # type: ignore[arg-type]
            rows = Mention.objects.filter(
                enterprise_id=enterprise_id, platform=platform, remote_id__in=ids
            )
            found += [_post(r) for r in rows.values(*_FIELDS)]
        for post in found:
            posts.setdefault(post.key, post)
        wanted = {p.parent for p in found if p.parent and p.parent not in posts}
    # down: every stored repost or comment of a post we hold, level by level
    frontier = set(posts)
    for _level in range(MAX_LEVELS):
        if not frontier or truncated:
            break
        fresh: set[Key] = set()
        for platform, ids in _chunks(frontier):
            rows = (
                Mention.objects.filter(enterprise_id=enterprise_id, platform=platform, thread_id__in=ids,
                                       created_at__gte=start, created_at__lte=end)
                .exclude(in_reply_to_id="").values(*_FIELDS)[: MAX_POSTS + 1]
            )  # fmt: skip
            for row in rows:
                post = _post(row)
                if post.key not in posts:
                    if len(posts) >= MAX_POSTS:
                        truncated = True
                        break
                    posts[post.key] = post
                    fresh.add(post.key)
            if truncated:
                break
        frontier = fresh
    spread = credit(posts, top=top)
    spread.truncated = truncated
    spread.seeds = len(seeds)
    return spread

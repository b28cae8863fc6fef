"""The engine of the sandbox's simulated life: who can act (`Actor`, `Cast`), what they do
(`Event`, targets as earlier events, status ids or `Latest(account)`), the `Context` of a run,
and `Scenario`, a non-homogeneous Poisson process (thinning) plus scripted events that yields a
timeline lazily and in time order. The concrete scenarios are in `scenarios.py`; writing events
into the sandbox is `enact.py`. Pure: no database.
"""

from __future__ import annotations

import heapq
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .texts import TextSource

CHINA = ZoneInfo("Asia/Shanghai")

STATUS, REPOST, COMMENT, LIKE, FOLLOW, DM = "status", "repost", "comment", "like", "follow", "dm"

#: Words by which a post of the parent account counts as the enterprise's statement in a crisis.
STATEMENT_RE = re.compile(r"致歉|道歉|声明|情况说明|说明|召回|回应")

# Relative activity per hour of the day in China (0–23 h), peak = 1.
DIURNAL = (
    0.45, 0.28, 0.16, 0.10, 0.07, 0.08, 0.15, 0.35, 0.60, 0.72, 0.78, 0.85,
    0.95, 0.88, 0.75, 0.72, 0.74, 0.78, 0.84, 0.90, 0.97, 1.00, 0.92, 0.68,
)  # fmt: skip


@dataclass(frozen=True)
class Actor:
    """Someone who can act: a netizen or a demo account, as the store knows them."""

    uid: int
    name: str
    kind: str = "ordinary"  # ordinary / kol / media / bot / account
    activity: float = 1.0
    followers: int = 0


@dataclass
class Cast:
    """The netizens and the demo accounts (by matrix role: parent, product, campaign, service,
    community, ecommerce). Missing roles fall back to the parent account."""

    netizens: list[Actor]
    accounts: dict[str, Actor]
    #: netizen uid → uids of the accounts they follow (makes followers likelier to interact).
    follows: dict[int, frozenset[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "parent" not in self.accounts:
            raise ValueError("a cast needs a parent account")
        if not self.netizens:
            raise ValueError("a cast needs netizens")
        self.ordinary = [a for a in self.netizens if a.kind == "ordinary"] or self.netizens
        self.bots = [a for a in self.netizens if a.kind == "bot"]
        self.leaders = [a for a in self.netizens if a.kind in ("kol", "media")]
        self._weights = [max(a.activity, 0.01) for a in self.ordinary]
        # Accounts that post on their own (others are mentioned, followed and messaged).
        self.posting_accounts = [
            self.accounts[r] for r in ("parent", "product", "community") if r in self.accounts
        ]

    def account(self, role: str) -> Actor:
        return self.accounts.get(role) or self.accounts["parent"]

    def pick(self, rng: random.Random, *, fan_of: Actor | None = None) -> Actor:
        """An ordinary netizen, weighted by activity (×3 if they follow `fan_of`)."""
        if fan_of is None or not self.follows:
            return rng.choices(self.ordinary, weights=self._weights)[0]
        for _ in range(3):
            a = rng.choices(self.ordinary, weights=self._weights)[0]
            if fan_of.uid in self.follows.get(a.uid, ()) or rng.random() < 0.35:
                return a
        return a

    def friends(self, rng: random.Random, actor: Actor, n: int = 2) -> list[str]:
        return [
            a.name for a in rng.sample(self.ordinary, k=min(n, len(self.ordinary))) if a != actor
        ]


@dataclass(frozen=True)
class Latest:
    """Target: the newest status of an account at the moment the event is enacted."""

    uid: int


@dataclass(eq=False)
class Event:
    """One thing a netizen or account does, `at` seconds after the scenario started."""

    at: float
    kind: str  # status / repost / comment / like / follow / dm
    actor: Actor
    text: str = ""
    #: repost/comment/like: an earlier Event (its status), a status id, or Latest(account uid).
    target: Event | int | Latest | None = None
    reply_to: Event | None = None  # comment replying to an earlier comment Event
    to: Actor | None = None  # dm receiver, follow followee
    tone: str = "neutral"  # negative / positive / neutral — for tests and the runs page
    tag: str = ""  # what role it plays: trigger, statement, launch, lottery, bot, complaint…
    key: int = -1  # position in the timeline, set when yielded


@dataclass
class Context:
    """Everything a scenario needs besides the cast."""

    rng: random.Random
    texts: TextSource
    duration_s: float
    #: Simulated wall time of the start (aware); drives the diurnal rhythm.
    start: datetime
    #: Whether the scenario posts as the demo accounts (launch/lottery post, crisis statement,
    #: daily posts). On in fast-forward and seeding; live runs react to what guanwei publishes.
    official_posts: bool = True
    intensity: float = 1.0
    #: crisis, fast-forward: seconds after start at which the parent posts a statement.
    statement_after_s: float | None = None
    #: Set when the enterprise's statement is seen (by the scenario itself or the live runner).
    statement_at: float | None = None

    def hour(self, t: float) -> int:
        return (self.start + timedelta(seconds=t)).astimezone(CHINA).hour


class Scenario:
    """Base: a non-homogeneous Poisson process (thinning) plus scripted events."""

    name = ""
    title = ""
    peak_per_min = 1.0

    def __init__(self, cast: Cast, ctx: Context) -> None:
        self.cast, self.ctx, self.rng, self.texts = cast, ctx, ctx.rng, ctx.texts
        self.posts: list[Event] = []  # statuses created so far that others may repost/comment
        self.comments: list[Event] = []

    # -- to override ---------------------------------------------------------------------------
    def rate(self, t: float) -> float:
        """Events per simulated second at `t` (must stay ≤ max_rate())."""
        raise NotImplementedError

    def max_rate(self) -> float:
        return self.peak_per_min * self.ctx.intensity / 60.0

    def scripted(self) -> list[Event]:
        return []

    def spawn(self, t: float) -> list[Event]:
        raise NotImplementedError

    # -- the engine ----------------------------------------------------------------------------
    def timeline(self) -> Iterator[Event]:
        """All events in time order, lazily (a live crisis changes course as it goes)."""
        heap: list[tuple[float, int, Event]] = []
        n = 0

        def push(e: Event) -> None:
            nonlocal n
            heapq.heappush(heap, (e.at, n, e))
            n += 1

        for e in self.scripted():
            push(e)
        key = 0
        t = 0.0
        lam = self.max_rate()
        while True:
            t += self.rng.expovariate(lam) if lam > 0 else math.inf
            horizon = min(t, self.ctx.duration_s)
            while heap and heap[0][0] <= horizon:
                e = heapq.heappop(heap)[2]
                e.key, key = key, key + 1
                self._remember(e)
                yield e
            if t > self.ctx.duration_s:
                return
            if self.rng.random() * lam <= self.rate(t):
                for e in self.spawn(t):
                    push(e)

    def _remember(self, e: Event) -> None:
        if e.tag == "statement" and self.ctx.statement_at is None:
            self.ctx.statement_at = e.at
        if e.kind in (STATUS, REPOST):
            self.posts.append(e)
        elif e.kind == COMMENT:
            self.comments.append(e)

    # -- helpers -------------------------------------------------------------------------------
    def _parent_post(self, t: float, origin: Event | Latest) -> Event | Latest:
        """What a repost reposts: mostly the origin, else an earlier repost in its cascade,
        likelier the more followers its author has — so chains form through opinion leaders."""
        cascade = [p for p in self.posts[-300:] if p.kind == REPOST and _root(p) is origin]
        if not cascade or self.rng.random() < 0.55:
            return origin
        weights = [math.log10(10 + p.actor.followers) ** 2 for p in cascade]
        return self.rng.choices(cascade, weights=weights)[0]

    def _reply(self, t: float, tone: str = "neutral") -> Event | None:
        recent = [c for c in self.comments[-50:] if c.actor.kind != "account"]
        if not recent:
            return None
        parent = self.rng.choice(recent)
        me = self.cast.pick(self.rng)
        if me == parent.actor:
            return None
        text = f"回复@{parent.actor.name}:{self.texts.text('reply')}"
        return Event(
            t, COMMENT, me, text, target=parent.target, reply_to=parent, tone=tone, tag="reply"
        )

    def _official(self, t: float, role: str, kind: str, tag: str, **slots: object) -> Event:
        account = self.cast.account(role)
        return Event(t, STATUS, account, self.texts.text(kind, **slots), tone="neutral", tag=tag)


def _root(e: Event) -> Event | Latest | int | None:
    while isinstance(e.target, Event) and e.kind == REPOST and e.target.kind == REPOST:
        e = e.target
    return e.target if e.kind == REPOST else e

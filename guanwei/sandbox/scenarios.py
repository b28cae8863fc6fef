"""Scenarios: what the sandbox's netizens do, as timed events.

A scenario is a generator of `Event`s in time order (seconds after its start): statuses,
reposts (with chains `//@a: …`), comments and replies, likes, follows and DMs, by netizens and
sometimes by the demo accounts. Generation is pure — it needs a `Cast` (who may act) and a
`Context` (random source, texts, duration, clock), never the database — so tests can check the
shapes (bursts, decay, who acts) without a server. `enact` writes events through
`guanwei.sandbox.store` in batches; `guanwei.sandbox.runs` plays them in real time (with a speed-up)
from a worker, or fast-forwards them with past timestamps for tests and the demo's history.

Shapes (rates are events per simulated minute at intensity 1, for a cast of a few hundred):

* `ordinary_day` — chatter, praise, questions and a few complaints following the Chinese diurnal
  rhythm (quiet 2–7 h, peaks at lunch and 20–23 h); comments and likes on the accounts' posts.
* `product_launch` — the Nokia N8 shape: the launch post, then a burst of reposts that rises in
  minutes and decays over the hour, cascading through opinion leaders (reposts of reposts).
* `crisis` — a complaint about a product issue, amplified by an opinion leader and the media,
  grows to a negative surge. It REACTS to the enterprise: once the parent account posts a
  statement (致歉/声明/说明/召回…), volume and the negative share decay (the Mengniu pattern);
  without one they stay up.
* `lottery` — a lottery post, a participation burst with @-friend chains, and bot clusters that
  repost near-identical texts within seconds of each other.
* `customer_service` — questions and complaints with order numbers: mentions of the service
  account, comments, DMs and follow-ups.

REQUEST to the store's owner (guanwei/sandbox/store.py): `bulk_send_dms(rows, *, notify=True)`
with rows {"sender", "receiver", "text", "created_at"} (users as objects or ids), writing the
messages in one go like the other bulk writers (pushes only when notify). DMs are about a tenth
of a scenario's events but, sent one by one through `send_dm`, half of the demo history's seeding
time. `enact` uses it as soon as it exists and falls back to `send_dm` until then.
"""

from __future__ import annotations

import heapq
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .texts import TextSource, batch_number

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


class OrdinaryDay(Scenario):
    name, title, peak_per_min = "ordinary_day", "平常的一天", 2.0

    def rate(self, t: float) -> float:
        return self.max_rate() * DIURNAL[self.ctx.hour(t)]

    def scripted(self) -> list[Event]:
        if not self.ctx.official_posts:
            return []
        events = []
        day = 0.0
        start_local = self.ctx.start.astimezone(CHINA)
        midnight = start_local.replace(hour=0, minute=0, second=0, microsecond=0)
        offset = (midnight - start_local).total_seconds()
        while offset + day < self.ctx.duration_s:
            for hour, role in (
                (8.5, "parent"),
                (12.2, "product"),
                (20.5, "parent"),
                (15.0, "community"),
            ):
                at = offset + day + hour * 3600 + self.rng.uniform(-900, 900)
                if 0 <= at < self.ctx.duration_s:
                    events.append(self._official(at, role, "official_daily", "daily"))
            day += 86400
        return events

    def spawn(self, t: float) -> list[Event]:
        rng, cast, texts = self.rng, self.cast, self.texts
        parent = cast.account("parent")
        roll = rng.random()
        if roll < 0.36:
            me = cast.pick(rng)
            return [Event(t, STATUS, me, texts.text("chatter"), tag="chatter")]
        if roll < 0.50:
            me = cast.pick(rng, fan_of=parent)
            at = rng.choice([parent, cast.account("product"), None])
            return [
                Event(
                    t,
                    STATUS,
                    me,
                    texts.text("praise", at=at.name if at else ""),
                    tone="positive",
                    tag="praise",
                )
            ]
        if roll < 0.57:
            me = cast.pick(rng)
            at = rng.choice([parent, cast.account("service")])
            return [Event(t, STATUS, me, texts.text("question", at=at.name), tag="question")]
        if roll < 0.61:
            me = cast.pick(rng)
            return [
                Event(
                    t,
                    STATUS,
                    me,
                    texts.text("complaint", at=cast.account("service").name),
                    tone="negative",
                    tag="complaint",
                )
            ]
        account = rng.choice(cast.posting_accounts)
        if roll < 0.75:
            me = cast.pick(rng, fan_of=account)
            kind = rng.choices(("praise", "question", "repost_comment"), weights=(5, 3, 2))[0]
            return [
                Event(
                    t,
                    COMMENT,
                    me,
                    texts.text(kind),
                    target=Latest(account.uid),
                    tone="positive" if kind == "praise" else "neutral",
                    tag="comment",
                )
            ]
        if roll < 0.81:
            me = cast.pick(rng, fan_of=account)
            return [
                Event(
                    t,
                    REPOST,
                    me,
                    texts.text("repost_comment"),
                    target=Latest(account.uid),
                    tag="repost",
                )
            ]
        if roll < 0.92:
            me = cast.pick(rng, fan_of=account)
            return [Event(t, LIKE, me, target=Latest(account.uid), tag="like")]
        if roll < 0.95:
            reply = self._reply(t)
            if reply:
                return [reply]
        if roll < 0.98:
            me = cast.pick(rng)
            kind = rng.choice(("dm_question", "dm_question", "dm_complaint"))
            return [
                Event(
                    t,
                    DM,
                    me,
                    texts.text(kind),
                    to=cast.account("service"),
                    tone="negative" if kind == "dm_complaint" else "neutral",
                    tag="dm",
                )
            ]
        me = cast.pick(rng)
        return [Event(t, FOLLOW, me, to=rng.choice(list(cast.accounts.values())), tag="follow")]


class ProductLaunch(Scenario):
    """A launch burst: rises within minutes of the launch post, decays over about an hour."""

    name, title, peak_per_min = "product_launch", "新品发布", 60.0
    launch_at_share = 0.05

    def __init__(self, cast: Cast, ctx: Context) -> None:
        super().__init__(cast, ctx)
        self.launch_at = ctx.duration_s * self.launch_at_share
        self.product = self.rng.choice(self.texts.brand.products)
        self.origin: Event | Latest = Latest(cast.account("product").uid)
        # burst shape: (t/τ1)·exp(1 − t/τ1) for the rise, slower decay after the peak
        self.rise_s = max(120.0, ctx.duration_s * 0.06)
        self.decay_s = max(600.0, ctx.duration_s * 0.35)

    def scripted(self) -> list[Event]:
        events = []
        if self.ctx.official_posts:
            self.origin = self._official(
                self.launch_at, "product", "official_launch", "launch", product=self.product
            )
            events.append(self.origin)
            # the parent account reposts its product account a minute later (矩阵联动)
            events.append(
                Event(
                    self.launch_at + 60,
                    REPOST,
                    self.cast.account("parent"),
                    "新品来了，快去看看[鼓掌]",
                    target=self.origin,
                    tag="matrix",
                )
            )
        for i, leader in enumerate(self.cast.leaders[:3]):  # opinion leaders try it and post
            at = self.launch_at + self.rise_s * (0.8 + 0.6 * i)
            if at < self.ctx.duration_s:
                events.append(
                    Event(
                        at,
                        REPOST,
                        leader,
                        self.texts.text("launch_hype", product=self.product),
                        target=self.origin,
                        tone="positive",
                        tag="kol",
                    )
                )
        return events

    def intensity_at(self, t: float) -> float:
        d = t - self.launch_at
        if d < 0:
            return 0.04
        if d < self.rise_s:
            return 0.04 + 0.96 * (d / self.rise_s)
        return 0.04 + 0.96 * math.exp(-(d - self.rise_s) / self.decay_s)

    def rate(self, t: float) -> float:
        return self.max_rate() * self.intensity_at(t)

    def spawn(self, t: float) -> list[Event]:
        rng, cast, texts = self.rng, self.cast, self.texts
        product_account = cast.account("product")
        if t < self.launch_at:
            me = cast.pick(rng)
            return [Event(t, STATUS, me, texts.text("chatter"), tag="chatter")]
        roll = rng.random()
        if roll < 0.45:
            me = cast.pick(rng, fan_of=product_account)
            kind = rng.choices(("repost_comment", "launch_hype", ""), weights=(3, 4, 3))[0]
            text = texts.text(kind, product=self.product) if kind else ""
            return [
                Event(
                    t,
                    REPOST,
                    me,
                    text,
                    target=self._parent_post(t, self.origin),
                    tone="positive" if kind == "launch_hype" else "neutral",
                    tag="repost",
                )
            ]
        if roll < 0.65:
            me = cast.pick(rng, fan_of=product_account)
            kind = rng.choices(("launch_hype", "question"), weights=(3, 2))[0]
            return [
                Event(
                    t,
                    COMMENT,
                    me,
                    texts.text(kind, product=self.product),
                    target=self.origin,
                    tone="positive" if kind == "launch_hype" else "neutral",
                    tag="comment",
                )
            ]
        if roll < 0.80:
            me = cast.pick(rng)
            return [
                Event(
                    t,
                    STATUS,
                    me,
                    texts.text(
                        "launch_hype",
                        product=self.product,
                        at=product_account.name if rng.random() < 0.5 else "",
                    ),
                    tone="positive",
                    tag="hype",
                )
            ]
        if roll < 0.94:
            me = cast.pick(rng)
            return [Event(t, LIKE, me, target=self.origin, tag="like")]
        if roll < 0.97:
            me = cast.pick(rng)
            return [Event(t, FOLLOW, me, to=product_account, tag="follow")]
        me = cast.pick(rng)
        return [
            Event(
                t,
                DM,
                me,
                texts.text("dm_question", product=self.product),
                to=cast.account("service"),
                tag="dm",
            )
        ]


class Crisis(Scenario):
    """A negative surge about a product issue that reacts to the enterprise's statement."""

    name, title, peak_per_min = "crisis", "危机：产品质量问题", 40.0
    #: Negative share before a statement, and its floor long after one.
    negative_before, negative_after = 0.85, 0.22
    #: How fast the negative share and the volume fall after a statement (simulated seconds).
    calm_s, fade_s = 1200.0, 1800.0

    def __init__(self, cast: Cast, ctx: Context) -> None:
        super().__init__(cast, ctx)
        self.product = self.rng.choice(self.texts.brand.products)
        self.issue = self.rng.choice(self.texts.brand.issues)
        self.grow_mid = ctx.duration_s * 0.22
        self.grow_width = max(60.0, ctx.duration_s * 0.05)
        self.trigger: Event | None = None
        self.statement: Event | Latest | None = None

    def negative_share(self, t: float) -> float:
        s = self.ctx.statement_at
        if s is None or t < s:
            return self.negative_before
        return self.negative_after + (self.negative_before - self.negative_after) * math.exp(
            -(t - s) / self.calm_s
        )

    def volume(self, t: float) -> float:
        """Share of peak volume at t: logistic growth, then decay after the statement."""
        grow = 1 / (1 + math.exp(-(t - self.grow_mid) / self.grow_width))
        level = 0.05 + 0.95 * grow
        s = self.ctx.statement_at
        if s is not None and t > s:
            level_at_s = 0.05 + 0.95 / (1 + math.exp(-(s - self.grow_mid) / self.grow_width))
            level = min(level, level_at_s) * (0.15 + 0.85 * math.exp(-(t - s) / self.fade_s))
        return level

    def rate(self, t: float) -> float:
        return self.max_rate() * self.volume(t)

    def scripted(self) -> list[Event]:
        rng, cast, texts = self.rng, self.cast, self.texts
        first = cast.pick(rng)
        text = (
            f"@{cast.account('parent').name} 刚买的{self.product}{self.issue}，孩子喝了一口就吐了，"
            f"批次{batch_number(rng)}，照片在这，大家看看这是正常的吗？{rng.choice(('[怒]', '[抓狂]', '[泪]'))}"
        )
        self.trigger = Event(
            self.ctx.duration_s * 0.02, STATUS, first, text, tone="negative", tag="trigger"
        )
        events = [self.trigger]
        for i, leader in enumerate(cast.leaders[:2]):
            at = self.ctx.duration_s * (0.10 + 0.08 * i)
            text = texts.text("crisis_angry", product=self.product, issue=self.issue)
            events.append(
                Event(at, REPOST, leader, text, target=self.trigger, tone="negative", tag="kol")
            )
        if self.ctx.official_posts and self.ctx.statement_after_s is not None:
            self.statement = self._official(
                self.ctx.statement_after_s,
                "parent",
                "official_statement",
                "statement",
                product=self.product,
                issue=self.issue,
            )
            events.append(self.statement)
        return events

    def spawn(self, t: float) -> list[Event]:
        rng, cast, texts = self.rng, self.cast, self.texts
        parent = cast.account("parent")
        assert self.trigger is not None
        if t < self.trigger.at:  # before it starts, an ordinary quiet time
            return [Event(t, STATUS, cast.pick(rng), texts.text("chatter"), tag="chatter")]
        negative = rng.random() < self.negative_share(t)
        after = self.ctx.statement_at is not None and t >= self.ctx.statement_at
        tone = "negative" if negative else "neutral"
        if negative:
            kind = rng.choices(("crisis_angry", "crisis_fear", "rumour"), weights=(6, 3, 1))[0]
        else:
            kind = "crisis_calm" if after else rng.choice(("question", "reply", "chatter"))
        if kind == "crisis_calm":
            tone = "positive"
        slots = {"product": self.product, "issue": self.issue}
        statement = self.statement or (Latest(parent.uid) if after else None)
        roll = rng.random()
        me = cast.pick(rng)
        if roll < 0.35:
            origin: Event | Latest = self.trigger
            if after and statement is not None and rng.random() < 0.5:
                origin = statement
            text = texts.text(kind, **slots) if rng.random() < 0.7 else ""
            return [
                Event(
                    t,
                    REPOST,
                    me,
                    text,
                    target=self._parent_post(t, origin),
                    tone=tone if text else "neutral",
                    tag="repost",
                )
            ]
        if roll < 0.60:
            target: Event | Latest = (
                statement if (after and statement is not None) else Latest(parent.uid)
            )
            if rng.random() < 0.3:
                target = self.trigger
            return [
                Event(
                    t,
                    COMMENT,
                    me,
                    texts.text(kind, **slots),
                    target=target,
                    tone=tone,
                    tag="comment",
                )
            ]
        if roll < 0.85:
            at = parent.name if rng.random() < 0.6 else ""
            return [
                Event(
                    t,
                    STATUS,
                    me,
                    texts.text(kind, at=at, **slots),
                    tone=tone,
                    tag="rumour" if kind == "rumour" else "post",
                )
            ]
        if roll < 0.90:
            reply = self._reply(t, tone="neutral")
            if reply:
                return [reply]
        if roll < 0.94:
            return [
                Event(
                    t,
                    DM,
                    me,
                    texts.text("dm_complaint", **slots),
                    to=cast.account("service"),
                    tone="negative",
                    tag="dm",
                )
            ]
        return [Event(t, LIKE, me, target=self.trigger, tag="like")]


class Lottery(Scenario):
    """Lottery participation, with bot clusters that act within seconds of each other."""

    name, title, peak_per_min = "lottery", "转发抽奖", 50.0

    def __init__(self, cast: Cast, ctx: Context) -> None:
        super().__init__(cast, ctx)
        self.post_at = ctx.duration_s * 0.03
        self.origin: Event | Latest = Latest(cast.account("campaign").uid)
        self.decay_s = max(900.0, ctx.duration_s * 0.3)

    def scripted(self) -> list[Event]:
        events: list[Event] = []
        campaign = self.cast.account("campaign")
        if self.ctx.official_posts:
            self.origin = self._official(
                self.post_at, "campaign", "official_lottery", "lottery", account=campaign.name
            )
            events.append(self.origin)
        # bot clusters (水军): every few minutes a group of 5–15 bots, seconds apart
        bots = self.cast.bots
        if bots:
            t = self.post_at + self.rng.uniform(60, 240)
            while t < self.ctx.duration_s:
                events.extend(self._bot_cluster(t))
                t += self.rng.uniform(180, 600)
        return events

    def _bot_cluster(self, t: float) -> list[Event]:
        rng = self.rng
        members = rng.sample(self.cast.bots, k=min(len(self.cast.bots), rng.randint(5, 15)))
        base = self.texts.text("bot_lottery", friends=self.cast.friends(rng, members[0], 2))
        events = []
        at = t
        for bot in members:
            at += rng.uniform(0.3, 4.0)
            if at >= self.ctx.duration_s:
                break
            # near-identical: the same line, sometimes with a trailing mark
            text = base + rng.choice(("", "", "", " ", "！", "~", "[心]"))
            events.append(Event(at, FOLLOW, bot, to=self.cast.account("campaign"), tag="bot"))
            events.append(Event(at + 0.2, REPOST, bot, text, target=self.origin, tag="bot"))
        return events

    def rate(self, t: float) -> float:
        d = t - self.post_at
        if d < 0:
            return self.max_rate() * 0.02
        return self.max_rate() * (0.05 + 0.95 * math.exp(-d / self.decay_s))

    def spawn(self, t: float) -> list[Event]:
        rng, cast, texts = self.rng, self.cast, self.texts
        if t < self.post_at:
            return [Event(t, STATUS, cast.pick(rng), texts.text("chatter"), tag="chatter")]
        me = cast.pick(rng, fan_of=cast.account("campaign"))
        roll = rng.random()
        if roll < 0.70:
            text = texts.text("lottery", friends=cast.friends(rng, me, rng.choice((1, 2, 2, 3))))
            return [
                Event(
                    t,
                    REPOST,
                    me,
                    text,
                    target=self._parent_post(t, self.origin),
                    tone="positive",
                    tag="entry",
                )
            ]
        if roll < 0.85:
            return [
                Event(
                    t,
                    COMMENT,
                    me,
                    texts.text("lottery", friends=cast.friends(rng, me, 1)),
                    target=self.origin,
                    tone="positive",
                    tag="entry",
                )
            ]
        if roll < 0.93:
            return [Event(t, FOLLOW, me, to=cast.account("campaign"), tag="follow")]
        return [Event(t, LIKE, me, target=self.origin, tag="like")]


class CustomerService(Scenario):
    """Questions and complaints that need an answer: mentions, comments, DMs, follow-ups."""

    name, title, peak_per_min = "customer_service", "客户咨询与投诉", 4.0

    def rate(self, t: float) -> float:
        return self.max_rate() * max(0.15, DIURNAL[self.ctx.hour(t)])

    def spawn(self, t: float) -> list[Event]:
        rng, cast, texts = self.rng, self.cast, self.texts
        service, parent = cast.account("service"), cast.account("parent")
        me = cast.pick(rng)
        complaint = rng.random() < 0.45
        tone = "negative" if complaint else "neutral"
        roll = rng.random()
        if roll < 0.30:
            kind = "complaint" if complaint else "question"
            return [
                Event(
                    t,
                    STATUS,
                    me,
                    texts.text(kind, at=rng.choice((service, parent)).name),
                    tone=tone,
                    tag=kind,
                )
            ]
        if roll < 0.55:
            kind = "complaint" if complaint else "question"
            account = rng.choice(cast.posting_accounts)
            return [
                Event(
                    t,
                    COMMENT,
                    me,
                    texts.text(kind),
                    target=Latest(account.uid),
                    tone=tone,
                    tag=kind,
                )
            ]
        if roll < 0.85:
            kind = "dm_complaint" if complaint else "dm_question"
            events = [Event(t, DM, me, texts.text(kind), to=service, tone=tone, tag="dm")]
            if complaint and rng.random() < 0.25:  # no answer yet: the same person asks again
                events.append(
                    Event(
                        t + rng.uniform(600, 3600),
                        DM,
                        me,
                        "在吗？怎么还没人回复？" + texts.text("dm_complaint"),
                        to=service,
                        tone="negative",
                        tag="follow_up",
                    )
                )
            return [e for e in events if e.at < self.ctx.duration_s]
        if roll < 0.92:
            reply = self._reply(t, tone=tone)
            if reply:
                return [reply]
        text = texts.text("complaint" if complaint else "question")
        return [Event(t, REPOST, me, text, target=Latest(parent.uid), tone=tone, tag="repost")]


SCENARIOS: dict[str, type[Scenario]] = {
    cls.name: cls for cls in (OrdinaryDay, ProductLaunch, Crisis, Lottery, CustomerService)
}


def build(name: str, cast: Cast, ctx: Context) -> Scenario:
    try:
        return SCENARIOS[name](cast, ctx)
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}") from None


def generate(
    name: str,
    cast: Cast,
    *,
    minutes: float,
    start: datetime,
    seed: int = 1,
    texts: TextSource | None = None,
    intensity: float = 1.0,
    official_posts: bool = True,
    statement_after_min: float | None = None,
) -> list[Event]:
    """The whole timeline at once (fast-forward). For `crisis`, `statement_after_min` makes the
    parent account post a statement at that minute; without it the surge goes on."""
    rng = random.Random(seed)
    ctx = Context(
        rng=rng,
        texts=texts or TextSource(rng=rng),
        duration_s=minutes * 60,
        start=start,
        official_posts=official_posts,
        intensity=intensity,
        statement_after_s=None if statement_after_min is None else statement_after_min * 60,
    )
    return list(build(name, cast, ctx).timeline())


# --- writing events into the sandbox -----------------------------------------------------------


@dataclass
class EnactResult:
    created: Counter[str] = field(default_factory=Counter)  # by event kind
    skipped: int = 0  # a target that no longer exists (deleted status, account without posts)


def enact(
    events: list[Event],
    *,
    time_of: Callable[[Event], datetime],
    made: dict[int, object] | None = None,
    notify: bool = True,
) -> EnactResult:
    """Write a batch of events (in time order) through the store. `made` maps event keys to the
    statuses/comments created so far (shared across batches of one run). Events whose target is
    in this same batch are written after it, in order, so references always resolve."""
    from . import store
    from .models import SandboxUser, Status

    made = {} if made is None else made
    result = EnactResult()
    latest_cache: dict[int, int | None] = {}

    def latest(uid: int) -> int | None:
        if uid not in latest_cache:
            latest_cache[uid] = (
                Status.objects.filter(user_id=uid, deleted_at=None, retweeted_status=None)
                .order_by("-id")
                .values_list("id", flat=True)
                .first()
            )
        return latest_cache[uid]

    def status_of(target: object) -> object | None:
        if isinstance(target, Event):
            obj = made.get(target.key)
            if obj is None:
                return None
            return obj.pk if isinstance(obj, Status) else obj.status_id  # type: ignore[attr-defined]
        if isinstance(target, Latest):
            return latest(target.uid)
        return target

    pending: list[Event] = []

    def flush() -> None:
        statuses = [e for e in pending if e.kind in (STATUS, REPOST)]
        rows, row_events = [], []
        for e in statuses:
            row: dict[str, object] = {"user": e.actor.uid, "text": e.text, "created_at": time_of(e)}
            if e.kind == REPOST:
                parent = status_of(e.target)
                if parent is None:
                    result.skipped += 1
                    continue
                row["repost_of"] = parent
            rows.append(row)
            row_events.append(e)
        for e, s in zip(row_events, store.bulk_create_statuses(rows, notify=notify), strict=True):
            made[e.key] = s
            result.created[e.kind] += 1
        crows, cevents = [], []
        for e in (e for e in pending if e.kind == COMMENT):
            status = status_of(e.target)
            if status is None:
                result.skipped += 1
                continue
            crow: dict[str, object] = {
                "user": e.actor.uid,
                "status": status,
                "text": e.text,
                "created_at": time_of(e),
            }
            if e.reply_to is not None and e.reply_to.key in made:
                crow["reply_to"] = made[e.reply_to.key]
            crows.append(crow)
            cevents.append(e)
        for e, c in zip(cevents, store.bulk_create_comments(crows, notify=notify), strict=True):
            made[e.key] = c
            result.created[COMMENT] += 1
        likes = [(e.actor.uid, status_of(e.target)) for e in pending if e.kind == LIKE]
        result.skipped += sum(1 for _, s in likes if s is None)
        result.created[LIKE] += store.bulk_like([(u, s) for u, s in likes if s is not None])
        follows = [(e.actor.uid, e.to.uid) for e in pending if e.kind == FOLLOW and e.to]
        result.created[FOLLOW] += store.bulk_follow(follows, notify=notify)
        dms = [e for e in pending if e.kind == DM and e.to]
        bulk_send_dms = getattr(store, "bulk_send_dms", None)  # see the request at the top
        if dms and bulk_send_dms is not None:
            rows = [
                {
                    "sender": e.actor.uid,
                    "receiver": e.to.uid,
                    "text": e.text,
                    "created_at": time_of(e),
                }
                for e in dms
                if e.to
            ]
            result.created[DM] += len(bulk_send_dms(rows, notify=notify))
        elif dms:
            users = SandboxUser.objects.in_bulk(
                {e.actor.uid for e in dms} | {e.to.uid for e in dms if e.to}
            )
            for e in dms:
                assert e.to is not None
                store.send_dm(users[e.actor.uid], users[e.to.uid], e.text, created_at=time_of(e))
                result.created[DM] += 1
        pending.clear()

    in_batch: set[int] = set()
    for e in events:
        refs = [r for r in (e.target, e.reply_to) if isinstance(r, Event)]
        if any(r.key in in_batch for r in refs):
            flush()
            in_batch.clear()
        pending.append(e)
        in_batch.add(e.key)
    flush()
    return result


# --- from the sandbox's own data ---------------------------------------------------------------


def cast_from_store(account_names: list[str] | None = None) -> Cast:
    """The cast as the sandbox holds it: its simulated netizens (created on first use) and the
    demo accounts (the named ones, or every official account)."""
    from .models import Follow
    from .netizens import account_roles, ensure_netizens, official_accounts

    accounts = official_accounts(account_names)
    if not accounts:
        raise ValueError("the sandbox has no official accounts yet: seed the demo world first")
    users = ensure_netizens(accounts=accounts)
    roles = account_roles(accounts)
    cast_accounts = {
        role: Actor(u.pk, u.screen_name, "account", followers=u.followers_count)
        for role, u in roles.items()
    }
    account_ids = [a.pk for a in accounts]
    follows: dict[int, set[int]] = {}
    for follower, followee in Follow.objects.filter(followee_id__in=account_ids).values_list(
        "follower_id", "followee_id"
    ):
        follows.setdefault(follower, set()).add(followee)
    netizens = [
        Actor(
            u.pk,
            u.screen_name,
            u.persona,
            float((u.traits or {}).get("activity", 1.0)),
            u.followers_count,
        )
        for u in users
    ]
    return Cast(netizens, cast_accounts, {k: frozenset(v) for k, v in follows.items()})


def seed_demo_history(world: object = None, *, days: float = 3, seed: int = 7) -> dict[str, int]:
    """A lived-in platform for the demo: `days` of ordinary days up to now, customer questions
    and complaints throughout, a lottery, a product launch and a crisis answered by a statement,
    all with past timestamps. Skipped (returns {}) when a seed run has already finished.

    `world` is whatever the demo seeding has (the world object or the sandbox URL); the accounts
    are read from the sandbox itself."""
    from . import runs

    return runs.seed_history(days=days, seed=seed)

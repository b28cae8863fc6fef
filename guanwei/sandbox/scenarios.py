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

The engine (actors, events, the Poisson process) is `simulation.py`; writing events through
the store is `enact.py`. Names of both are re-exported here for callers.
"""

from __future__ import annotations

import math
import random
from datetime import datetime

from .enact import EnactResult, cast_from_store, enact
from .simulation import (
    CHINA,
    COMMENT,
    DIURNAL,
    DM,
    FOLLOW,
    LIKE,
    REPOST,
    STATEMENT_RE,
    STATUS,
    Actor,
    Cast,
    Context,
    Event,
    Latest,
    Scenario,
)
from .texts import TextSource, batch_number

__all__ = [
    "CHINA", "COMMENT", "DIURNAL", "DM", "FOLLOW", "LIKE", "REPOST", "SCENARIOS", "STATEMENT_RE",
    "STATUS", "Actor", "Cast", "Context", "EnactResult", "Event", "Latest", "Scenario",
    "TextSource", "build", "cast_from_store", "enact", "generate", "seed_demo_history",
]  # fmt: skip


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


def seed_demo_history(world: object = None, *, days: float = 3, seed: int = 7) -> dict[str, int]:
    """A lived-in platform for the demo: `days` of ordinary days up to now, customer questions
    and complaints throughout, a lottery, a product launch and a crisis answered by a statement,
    all with past timestamps. Skipped (returns {}) when a seed run has already finished.

    `world` is whatever the demo seeding has (the world object or the sandbox URL); the accounts
    are read from the sandbox itself."""
    from . import runs

    return runs.seed_history(days=days, seed=seed)

"""Listening's consumer `inbox`: what customers say to our accounts becomes items.

A mention is an inbox item when it reached one of our accounts (a comment on our post or to our
comment, an @mention in a post or repost, a direct message) — not a keyword search's find, not an
import, not our own accounts' words. One item per conversation (a customer on a thread of an
account, or a customer's DMs to an account): while it is open or pending, what the customer adds
joins it (a pending item — waiting on the customer — opens again, its clock runs again); after it
is solved, a new item starts.

Each new item is triaged (`textkit.triage`: category, urgency; priority from both), routed (the
first RoutingRule whose conditions hold), timed (the team's SLA targets in its business hours,
`core.businesstime`) and assigned (round-robin or least open load, with a cap per agent)."""

from __future__ import annotations

import logging

from django.db.models import Count, Q

from guanwei.core import clock
from guanwei.core.models import Member
from guanwei.core.permissions import PERMISSIONS
from guanwei.inbox import sla
from guanwei.inbox.actions import resume_clock, tell_created
from guanwei.inbox.models import (
    Category,
    Item,
    ItemStatus,
    Priority,
    RoutingRule,
    Team,
)
from guanwei.listening.models import Mention, Stream, StreamKind
from guanwei.matrix.models import Account
from guanwei.textkit.query import MatchText, compile_rules
from guanwei.textkit.triage import triage

log = logging.getLogger("guanwei.inbox")

KINDS = ("comment", "status", "repost", "dm")
LOW = (Category.PRAISE, Category.SPAM, Category.OTHER)


def conversation_of(mention: Mention) -> str:
    author = mention.author.remote_id if mention.author else "?"
    if mention.kind == "dm":
        return f"dm:{mention.account_id}:{author}"
    return f"t:{mention.account_id}:{mention.thread_id}:{author}"[:140]


def verified(author) -> bool:  # type: ignore[no-untyped-def]
    return author is not None and author.verified_type not in (None, -1)


def priority_of(category: str, urgent: bool) -> str:
    if urgent:
        return Priority.URGENT
    return Priority.LOW if category in LOW else Priority.NORMAL


# ---------------------------------------------------------------- routing and assignment


class Router:
    """An enterprise's routing rules, compiled once per batch."""

    def __init__(self, enterprise_id: int) -> None:
        self.rules = list(RoutingRule.objects.filter(enterprise_id=enterprise_id).select_related("team__enterprise"))
        with_text = {r.pk: r.rule for r in self.rules if r.rule.strip()}
        try:
            self.matcher = compile_rules(with_text) if with_text else None
        except ValueError:  # a rule saved before a stricter parser: it matches nothing, logged
            log.warning("inbox.routing.bad_rule enterprise=%s", enterprise_id)
            self.matcher = None

    def team_for(self, item: Item, mention: Mention) -> Team | None:
        hits: set[int] = set()
        if self.matcher is not None:
            author = mention.author
            hits = set(self.matcher.match_folded(mention.normalized, MatchText(
                mention.text, author=author.screen_name if author else "",
                verified_type=author.verified_type if author else None,
                region=author.region if author else "", account=item.account.screen_name)))  # fmt: skip
        for rule in self.rules:
            if rule.account_id and rule.account_id != item.account_id:
                continue
            if rule.category and rule.category != item.category:
                continue
            if rule.verified_only and not verified(mention.author):
                continue
            if rule.urgent_only and item.priority != Priority.URGENT:
                continue
            if rule.rule.strip() and rule.pk not in hits:
                continue
            return rule.team
        return None


def agents_of(team: Team) -> list[Member]:
    roles = PERMISSIONS["inbox.reply"]
    return list(team.members.filter(is_active=True, role__in=roles).order_by("pk"))


def pick_agent(team: Team) -> Member | None:
    """The next agent of the team under its cap: round-robin after the last one assigned, or the
    one with the fewest open items."""
    if team.assign_mode == "manual":
        return None
    agents = agents_of(team)
    if not agents:
        return None
    load = dict(
        Item.objects.filter(assignee__in=agents, status__in=[ItemStatus.OPEN, ItemStatus.PENDING])
        .values_list("assignee").annotate(n=Count("pk"))
    )  # fmt: skip
    free = [a for a in agents if load.get(a.pk, 0) < team.max_open_per_agent]
    if not free:
        return None
    if team.assign_mode == "least_open":
        return min(free, key=lambda a: (load.get(a.pk, 0), a.pk))
    after = team.last_assigned_id or 0
    return next((a for a in free if a.pk > after), free[0])


# ---------------------------------------------------------------- the consumer


def _ours(mentions: list[Mention]) -> set[tuple[int, str]]:
    """(connection, uid) of our accounts among the mentions' authors: our own words are no items."""
    uids = {m.author.remote_id for m in mentions if m.author}
    return set(Account.objects.filter(platform_uid__in=uids).values_list("connection_id", "platform_uid"))


def handle(mentions: list[Mention]) -> None:
    """Items for the batch (called by listening.dispatch inside its transaction)."""
    candidates = [m for m in mentions if m.account_id and m.kind in KINDS and m.source != Mention.Source.IMPORT]
    if not candidates:
        return
    searched = set(Stream.objects.filter(pk__in={m.stream_id for m in candidates if m.stream_id},
                                         kind=StreamKind.SEARCH).values_list("pk", flat=True))  # fmt: skip
    ours = _ours(candidates)
    routers: dict[int, Router] = {}
    for mention in candidates:
        if mention.stream_id in searched:
            continue
        if mention.author and (mention.account.connection_id, mention.author.remote_id) in ours:
            continue
        take(mention, routers)


def take(mention: Mention, routers: dict[int, Router]) -> Item | None:
    key = conversation_of(mention)
    now = clock.now()
    open_item = (
        Item.objects.filter(enterprise_id=mention.enterprise_id, conversation=key)
        .filter(Q(status=ItemStatus.OPEN) | Q(status=ItemStatus.PENDING)).order_by("-pk").first()
    )  # fmt: skip
    if open_item is not None:
        updates = {"excerpt": mention.text[:140], "updated_at": now}
        if open_item.status == ItemStatus.PENDING:
            resume_clock(open_item, reason="customer wrote")
        Item.objects.filter(pk=open_item.pk).update(**updates)
        return None
    author = mention.author
    found = triage(mention.text, sentiment=mention.sentiment, verified=verified(author),
                   followers=(author.followers_count or 0) if author else 0)  # fmt: skip
    item = Item(
        enterprise_id=mention.enterprise_id, mention=mention, account=mention.account, author=author,
        kind=mention.kind, conversation=key, excerpt=mention.text[:140], category=found.category,
        priority=priority_of(found.category, found.urgent), reasons=",".join(found.reasons)[:200],
        sentiment=mention.sentiment, said_at=min(mention.created_at, now), created_at=now, updated_at=now,
    )  # fmt: skip
    router = routers.get(mention.enterprise_id) or routers.setdefault(mention.enterprise_id, Router(mention.enterprise_id))
    item.team = router.team_for(item, mention)
    item.first_response_due, item.resolution_due = sla.deadlines(item.team, item.priority, item.said_at)
    if item.team is not None:
        agent = pick_agent(item.team)
        if agent is not None:
            item.assignee = agent
            Team.objects.filter(pk=item.team.pk).update(last_assigned=agent)
            item.team.last_assigned = agent
    item.save()
    tell_created(item)
    return item


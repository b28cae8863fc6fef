"""Approval chains (工作流程): which chain a post needs, and how far its approvals have got.

A target's chain is the first ApprovalPolicy (by position) that fits its account and the post's
content type; without one, the default chain — one approval by any member who may review. A
post needs the chains of all its targets. On the emergency path (an owner or admin marked the
post `emergency`) the chain is one approval by any reviewer, whatever the policies say.

Progress is a replay of the approvals of the *current* revision, oldest first: each approval
counts for the first unfinished tier of each chain it is eligible for; one person counts once per
chain (a two-tier chain needs two people). An edit
makes a new revision, so earlier approvals no longer count (approval void when content changes).
Nobody approves their own post.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from guanwei.core.models import Member
from guanwei.core.permissions import can
from guanwei.publishing.models import ApprovalPolicy, Post, Review, TierMode, Verdict


@dataclass
class Tier:
    name: str
    mode: str  # TierMode
    reviewers: frozenset[int]  # member ids; empty: anyone who may review
    approved_by: list[int] = field(default_factory=list)

    def eligible(self, member_id: int) -> bool:
        return not self.reviewers or member_id in self.reviewers

    @property
    def done(self) -> bool:
        if self.mode == TierMode.ALL and self.reviewers:
            return self.reviewers <= set(self.approved_by)
        return bool(self.approved_by)

    @property
    def waiting_for(self) -> frozenset[int]:
        """Named reviewers who have not approved yet (empty for 'anyone')."""
        return self.reviewers - set(self.approved_by)


@dataclass
class Chain:
    name: str
    tiers: list[Tier]
    policy_id: int | None = None
    accounts: list[int] = field(default_factory=list)  # the post's accounts this chain is for

    @property
    def current(self) -> Tier | None:
        return next((t for t in self.tiers if not t.done), None)

    @property
    def approvers(self) -> set[int]:
        """Who approved in this chain: one person passes one tier of a chain, not two."""
        return {m for t in self.tiers for m in t.approved_by}

    @property
    def done(self) -> bool:
        return self.current is None


def _default_chain() -> Chain:
    return Chain(_("默认：任一审核人批准"), [Tier(pgettext("approval tier", "审核"), TierMode.ANY, frozenset())])


def policies_of(enterprise_id: int) -> list[ApprovalPolicy]:
    """The enterprise's chains, in the order they are tried (one read for many posts)."""
    return list(
        ApprovalPolicy.objects.filter(enterprise_id=enterprise_id)
        .prefetch_related("accounts", "tiers__reviewers")
        .order_by("position", "pk")
    )


def chains_for(post: Post, policies: list[ApprovalPolicy] | None = None) -> list[Chain]:
    """The chains `post` needs (without progress)."""
    if post.emergency:
        chain = Chain(_("紧急发布：一人批准"), [Tier(_("紧急审批"), TierMode.ANY, frozenset())])
        chain.accounts = [t.account_id for t in post.targets.all() if t.account_id]
        return [chain]
    policies = policies_of(post.enterprise_id) if policies is None else policies
    chains: dict[int | None, Chain] = {}
    for target in post.targets.all():
        policy = next(
            (p for p in policies
             if p.content_type in ("", post.content_type)
             and (not p.accounts.all() or any(a.pk == target.account_id for a in p.accounts.all()))),
            None,
        )  # fmt: skip
        key = policy.pk if policy else None
        if key not in chains:
            if policy is None or not policy.tiers.all():
                chains[key] = _default_chain()
            else:
                # The author never approves: they are not waited for in an all-of tier, and a
                # tier whose only reviewer is the author falls back to anyone who may review.
                chains[key] = Chain(policy.name, [
                    Tier(t.name or _("第 %(n)d 级") % {"n": i}, t.mode,
                         frozenset(m.pk for m in t.reviewers.all() if m.pk != post.author_id))
                    for i, t in enumerate(policy.tiers.all(), start=1)
                ], policy_id=policy.pk)  # fmt: skip
        if target.account_id:
            chains[key].accounts.append(target.account_id)
    return list(chains.values()) or [_default_chain()]


def approvals_of(posts: list[Post]) -> dict[int, list[int]]:
    """Per post, who approved its current revision, oldest first (one read for many posts)."""
    wanted = {p.pk: p.revision for p in posts}
    out: dict[int, list[int]] = {pk: [] for pk in wanted}
    rows = (
        Review.objects.filter(post_id__in=list(wanted), verdict=Verdict.APPROVE)
        .order_by("created_at", "pk")
        .values_list("post_id", "revision", "member_id")
    )
    for post_id, revision, member_id in rows:
        if wanted[post_id] == revision:
            out[post_id].append(member_id)
    return out


def progress(post: Post, *, policies: list[ApprovalPolicy] | None = None,
             approvals: list[int] | None = None) -> list[Chain]:  # fmt: skip
    """The chains `post` needs, with the approvals of its current revision applied."""
    chains = chains_for(post, policies)
    if approvals is None:
        approvals = approvals_of([post])[post.pk]
    approvals = [m for m in approvals if m != post.author_id]
    for member_id in approvals:
        for chain in chains:
            tier = chain.current
            if tier is not None and tier.eligible(member_id) and member_id not in chain.approvers:
                tier.approved_by.append(member_id)
    return chains


def complete(post: Post) -> bool:
    return all(chain.done for chain in progress(post))


def may_approve_now(member: Member, post: Post, chains: list[Chain] | None = None) -> bool:
    """Is `member` someone whose approval the post is waiting for right now?"""
    if post.author_id == member.pk or not can(member, "post.review"):
        return False
    chains = progress(post) if chains is None else chains
    for chain in chains:
        tier = chain.current
        if tier is not None and tier.eligible(member.pk) and member.pk not in chain.approvers:
            return True
    return False

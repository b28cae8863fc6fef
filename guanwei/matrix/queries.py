"""Reads of the matrix: the tree (母微博 → children by matrix role) and health summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import BooleanField, Count, ExpressionWrapper, Q

from guanwei.core import clock
from guanwei.core.models import Member
from guanwei.matrix.budget import Remaining, store, window_now
from guanwei.matrix.models import Account, Health, MatrixRole

_ROLE_ORDER = {role: i for i, role in enumerate(MatrixRole.values)}


@dataclass
class Node:
    account: Account
    children: list[Node] = field(default_factory=list)
    # A big branch below the top level is shown folded, its children loaded when opened.
    folded: bool = False
    # children grouped by matrix role, in the playbook's order, for the tree display
    groups: list[tuple[str, str, list[Node]]] = field(default_factory=list)
    # this hour's shared rate budget (matrix.budget), for accounts with a token
    budget: Any = None

    @property
    def size(self) -> int:
        return 1 + sum(c.size for c in self.children)


#: Below the top level, a branch with more children than this starts folded: a matrix of 1,000
#: store accounts renders its regions, not every store (the page stays fast as it grows).
FOLD_AT = 12


def matrix_tree(member: Member, *, expand: int | None = None) -> list[Node]:
    """The accounts `member` may see as a forest: roots are accounts without a (visible) parent,
    parent accounts first. One query; cycles (which actions prevent) cannot loop here because each
    account is placed exactly once, under its parent."""
    # Secrets stay sealed: the tree only needs to know whether a token exists, and decrypting
    # every token, refresh token and app secret on each view cost ~56 ms at 1,000 accounts.
    accounts = list(
        Account.objects.for_member(member)
        .select_related("connection")
        .defer("token", "refresh_token", "connection__app_secret")
        .annotate(has_token=ExpressionWrapper(~Q(token=""), output_field=BooleanField()))
        .order_by("screen_name")
    )
    nodes = {a.pk: Node(a) for a in accounts}
    roots: list[Node] = []
    for node in nodes.values():
        parent = nodes.get(node.account.parent_id) if node.account.parent_id else None
        if parent is None or _is_ancestor(node, parent, nodes):
            roots.append(node)
        else:
            parent.children.append(node)
    labels = dict(MatrixRole.choices)
    for node in nodes.values():
        node.children.sort(
            key=lambda n: (_ROLE_ORDER.get(n.account.matrix_role, 99), n.account.screen_name)
        )
        by_role: dict[str, list[Node]] = {}
        for child in node.children:
            by_role.setdefault(child.account.matrix_role, []).append(child)
        node.groups = [(role, str(labels.get(role, role)), kids) for role, kids in by_role.items()]
    roots.sort(
        key=lambda n: (_ROLE_ORDER.get(n.account.matrix_role, 99), -n.size, n.account.screen_name)
    )
    opened = _path_to(nodes.get(expand) if expand else None, nodes)
    for root in roots:
        _fold(root, opened, depth=0)
    return roots


def find_node(roots: list[Node], pk: int) -> Node | None:
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node.account.pk == pk:
            return node
        stack.extend(node.children)
    return None


def _path_to(node: Node | None, nodes: dict[int, Node]) -> set[int]:
    """The node and its ancestors (kept open when someone asked to expand the node)."""
    path: set[int] = set()
    while node is not None and node.account.pk not in path:
        path.add(node.account.pk)
        node = nodes.get(node.account.parent_id) if node.account.parent_id else None
    return path


def _fold(node: Node, opened: set[int], depth: int) -> None:
    node.folded = depth > 0 and len(node.children) > FOLD_AT and node.account.pk not in opened
    for child in node.children:
        _fold(child, opened, depth + 1)


def _is_ancestor(node: Node, candidate: Node, nodes: dict[int, Node]) -> bool:
    """True when `node` is an ancestor of `candidate` (a cycle in stored data)."""
    seen: set[int] = set()
    current: Node | None = candidate
    while current is not None and current.account.pk not in seen:
        if current is node:
            return True
        seen.add(current.account.pk)
        pid = current.account.parent_id
        current = nodes.get(pid) if pid else None
    return False


def health_counts(member: Member) -> list[tuple[str, str, int]]:
    """(health, label, count) for every health state, zero included, for the dashboard."""
    counts = dict(
        Account.objects.for_member(member)
        .values_list("health")
        .annotate(n=Count("id"))
        .values_list("health", "n")
    )
    return [(value, str(label), counts.get(value, 0)) for value, label in Health.choices]


def expiring_soon(member: Member, limit: int = 10) -> list[Account]:
    """Accounts whose tokens expire within the warning window (or already have), soonest first."""
    until = clock.now() + timedelta(seconds=settings.TOKEN_EXPIRY_WARNING_S)
    return list(
        Account.objects.for_member(member)
        .filter(token_expires_at__lte=until)
        .order_by("token_expires_at")[:limit]
    )


def troubled_accounts(member: Member, limit: int = 50) -> list[Account]:
    """The member's accounts whose health is not "ok", longest in trouble first."""
    return list(
        Account.objects.for_member(member)
        .exclude(health=Health.OK)
        .order_by("health_changed_at", "pk")[:limit]
    )


def attach_budgets(tree: list[Node]) -> None:
    """Give each shown node with a token its remaining hourly budget (one read for all)."""
    shown: list[Node] = []

    def walk(nodes: list[Node]) -> None:
        for node in nodes:
            if getattr(node.account, "has_token", False):
                shown.append(node)
            if not node.folded:
                walk(node.children)

    walk(tree)
    budgets = remaining_for([n.account for n in shown]) if shown else {}
    for node in shown:
        node.budget = budgets.get(node.account.pk)


def remaining_for(accounts: Sequence[Any]) -> dict[int, Remaining]:
    """What is left of each account's hourly budget (the "total" class) — one connector per
    connection (for its key and limits), one read of the counts."""
    from contextlib import closing

    from guanwei.matrix import connectors
    from guanwei.platforms.base import PlatformError

    window, left = window_now()
    per_connection: dict[int, tuple[str, Any]] = {}
    keys: dict[int, str] = {}
    for account in accounts:
        if account.connection_id not in per_connection:
            try:
                with closing(connectors.for_connection(account.connection)) as app:
                    # the app's key ends in ":app"; an account's, in ":<uid>"
                    per_connection[account.connection_id] = (
                        app.rate_key.rsplit(":", 1)[0], app.rates.get("total"),
                    )  # fmt: skip
            except PlatformError:
                per_connection[account.connection_id] = ("", None)
        prefix, total = per_connection[account.connection_id]
        if prefix and total is not None:
            keys[account.pk] = f"{prefix}:{account.platform_uid}:total"
    used = store().used_many(list(keys.values()), window) if keys else {}
    out = {}
    for account in accounts:
        _prefix, total = per_connection[account.connection_id]
        limit = math.floor(total.count * 3600 / total.period_s) if total else None
        out[account.pk] = Remaining(limit, used.get(keys.get(account.pk, ""), 0), int(left))
    return out

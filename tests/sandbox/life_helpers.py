"""Shared arrangements for the sandbox's life tests (netizens, scenarios, replay, pages):
the demo accounts as the sandbox holds them, a small cast without a database, fake time."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from guanwei.sandbox import netizens as nz
from guanwei.sandbox import scenarios as sc
from guanwei.sandbox.texts import TextSource

ACCOUNT_NAMES = {
    "parent": "示例乳业官方微博",
    "product": "示例乳业产品",
    "campaign": "示例乳业活动",
    "service": "示例乳业客服",
    "community": "示例乳业社区",
    "ecommerce": "示例乳业商城",
}
# A Thursday, 00:00 in China
START = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


def make_accounts():  # type: ignore[no-untyped-def]
    from guanwei.sandbox import store

    return {
        role: store.create_user(name, is_official=True, verified_type=2, traits={"role": role})
        for role, name in ACCOUNT_NAMES.items()
    }


def pure_cast(n: int = 400, seed: int = 5) -> sc.Cast:
    """A cast with made-up uids (no database)."""
    profiles = nz.generate_profiles(n, seed=seed, now=START)
    netizens = [
        sc.Actor(1000 + i, p.screen_name, p.kind, p.activity, p.followers_count)
        for i, p in enumerate(profiles)
    ]
    accounts = {
        role: sc.Actor(i + 1, name, "account")
        for i, (role, name) in enumerate(ACCOUNT_NAMES.items())
    }
    return sc.Cast(netizens, accounts)


def templates_only(seed: int = 1) -> TextSource:
    return TextSource(rng=random.Random(seed), data_dir="")


class FakeTime:
    """A clock that moves only when slept on, so live runs are deterministic in tests."""

    def __init__(self) -> None:
        self.t = 0.0
        self.on_sleep = None

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.001)
        if self.on_sleep is not None:
            self.on_sleep(self.t)

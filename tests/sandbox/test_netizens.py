"""Simulated netizens: who they are (profiles) and whom they follow (the graph)."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

from guanwei.sandbox import netizens as nz
from guanwei.sandbox.models import Follow, SandboxUser

from .life_helpers import ACCOUNT_NAMES, START, make_accounts


def test_profiles_are_deterministic_for_a_seed_and_names_are_unique() -> None:
    a = nz.generate_profiles(500, seed=3, now=START)
    b = nz.generate_profiles(500, seed=3, now=START)
    assert a == b
    assert len({p.screen_name for p in a}) == 500
    assert nz.generate_profiles(500, seed=4, now=START) != a


def test_most_are_ordinary_users_with_some_opinion_leaders_media_and_bots() -> None:
    kinds = Counter(p.kind for p in nz.generate_profiles(2000, seed=1, now=START, bot_share=0.06))
    assert kinds[nz.ORDINARY] > 0.85 * 2000
    assert 0.04 * 2000 < kinds[nz.BOT] < 0.08 * 2000
    assert kinds[nz.KOL] > 10 and kinds[nz.MEDIA] > 5


def test_profiles_carry_region_gender_verified_type_and_follower_counts() -> None:
    profiles = nz.generate_profiles(1000, seed=2, now=START)
    codes = {code for _name, code, _cities, _w in nz.REGIONS}
    for p in profiles:
        assert p.province in codes and p.location
        assert p.gender in ("m", "f", "n")
        assert p.verified_type in (-1, 0, 3)
        assert p.followers_count >= 0 and p.friends_count > 0
    leaders = [p for p in profiles if p.kind == nz.KOL]
    assert all(p.verified_type == 0 and p.verified for p in leaders)  # orange V
    assert all(p.verified_type == 3 for p in profiles if p.kind == nz.MEDIA)
    genders = Counter(p.gender for p in profiles if p.kind == nz.ORDINARY)
    assert genders["f"] > genders["m"] > 0


def test_follower_counts_are_heavy_tailed() -> None:
    ordinary = [
        p.followers_count
        for p in nz.generate_profiles(2000, seed=5, now=START)
        if p.kind == nz.ORDINARY
    ]
    median = statistics.median(ordinary)
    assert 50 < median < 500
    assert statistics.mean(ordinary) > median  # a long right tail
    assert max(ordinary) > 20 * median


def test_bots_look_like_bots() -> None:
    profiles = nz.generate_profiles(2000, seed=6, now=START)
    bots = [p for p in profiles if p.is_bot]
    ordinary = [p for p in profiles if p.kind == nz.ORDINARY]
    assert bots
    for bot in bots:
        assert bot.description == "" and bot.verified_type == -1
        assert (
            bot.followers_count <= 25 and bot.friends_count >= 800
        )  # follow many, followed by few
        assert (START - bot.created_at).days <= 120  # recently registered
    assert statistics.median(p.friends_count for p in bots) > 2 * statistics.median(
        p.friends_count for p in ordinary
    )


def test_bots_follow_the_demo_accounts_more_than_ordinary_users() -> None:
    profiles = nz.generate_profiles(3000, seed=7, now=START)
    plan = nz.follower_edges(profiles, parent="官方", children=["客服", "活动"], seed=7)
    fans = set(plan.followers_of("官方"))
    share = {
        kind: sum(p.screen_name in fans for p in profiles if p.kind == kind)
        / max(1, sum(p.kind == kind for p in profiles))
        for kind in (nz.BOT, nz.ORDINARY)
    }
    assert share[nz.BOT] > 0.7 and 0.2 < share[nz.ORDINARY] < 0.5
    assert plan.followers_of("客服") and plan.follows_netizens
    assert all(a != b for a, b in plan.follows_netizens)


def test_account_roles_come_from_traits_or_names() -> None:
    class U:
        def __init__(self, name: str, traits: dict | None = None, followers: int = 0) -> None:
            self.screen_name, self.traits, self.followers_count = name, traits or {}, followers

    accounts = [
        U("示例乳业官方微博", followers=9),
        U("示例乳业客服"),
        U("示例乳业活动"),
        U("某号", {"role": "product"}),
    ]
    roles = nz.account_roles(accounts)
    assert roles["parent"] is accounts[0]
    assert roles["service"] is accounts[1] and roles["campaign"] is accounts[2]
    assert roles["product"] is accounts[3]


@pytest.mark.django_db
def test_ensure_netizens_creates_them_once_following_the_demo_accounts() -> None:
    accounts = make_accounts()
    users = nz.ensure_netizens(300, seed=11)
    assert len(users) == 300
    assert {u.persona for u in users} <= set(nz.NETIZEN_KINDS)
    assert any(u.is_bot for u in users)
    parent = SandboxUser.objects.get(pk=accounts["parent"].pk)
    follows = Follow.objects.filter(followee=parent).count()
    assert follows > 50
    assert parent.followers_count == follows  # the store keeps counters true
    # a second call changes nothing
    again = nz.ensure_netizens(300, seed=11)
    assert [u.pk for u in again] == [u.pk for u in users]
    assert Follow.objects.filter(followee=parent).count() == follows
    assert SandboxUser.objects.filter(screen_name__in=ACCOUNT_NAMES.values()).count() == 6

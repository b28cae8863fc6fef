"""Simulated netizens (网友) of the sandbox: profiles and the follower graph.

`generate_profiles` and `follower_edges` are pure and deterministic for a seed; `ensure_netizens`
writes them into the sandbox through `guanwei.sandbox.store` (the one way to change sandbox
state), once — a second call finds them and returns them.

Who they are, roughly as on Weibo: mostly ordinary users (−1) with a few hundred followers
(heavy-tailed), some orange-V opinion leaders (0) and media accounts (3) with many, and a share of
bot-like accounts (default names "用户5839201746", no description, follow thousands, followed by
almost nobody, created recently) that show up in lotteries.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

ORDINARY, KOL, MEDIA, BOT = "ordinary", "kol", "media", "bot"

# Weibo province codes and a few cities/districts each; weight ≈ share of Weibo users.
REGIONS: tuple[tuple[str, int, tuple[str, ...], int], ...] = (
    ("北京", 11, ("朝阳区", "海淀区", "东城区", "丰台区", "昌平区"), 9),
    ("上海", 31, ("浦东新区", "徐汇区", "静安区", "闵行区", "杨浦区"), 8),
    ("广东", 44, ("广州", "深圳", "东莞", "佛山", "珠海"), 14),
    ("浙江", 33, ("杭州", "宁波", "温州", "绍兴"), 7),
    ("江苏", 32, ("南京", "苏州", "无锡", "常州"), 7),
    ("四川", 51, ("成都", "绵阳", "南充"), 5),
    ("湖北", 42, ("武汉", "宜昌", "襄阳"), 4),
    ("山东", 37, ("济南", "青岛", "烟台"), 5),
    ("河南", 41, ("郑州", "洛阳", "开封"), 4),
    ("陕西", 61, ("西安", "宝鸡"), 3),
    ("重庆", 50, ("渝中区", "江北区", "沙坪坝区"), 3),
    ("天津", 12, ("和平区", "南开区"), 2),
    ("湖南", 43, ("长沙", "株洲"), 3),
    ("福建", 35, ("福州", "厦门", "泉州"), 3),
    ("辽宁", 21, ("沈阳", "大连"), 2),
    ("内蒙古", 15, ("呼和浩特", "包头"), 2),
    ("黑龙江", 23, ("哈尔滨", "大庆"), 1),
    ("云南", 53, ("昆明", "大理"), 1),
    ("海外", 400, ("美国", "澳大利亚", "日本"), 1),
)

_NAME_STEMS = (
    "小王", "阿杰", "小雨", "胖虎", "柠檬", "芒果", "奶茶", "布丁", "小鹿", "橘子", "团子", "土豆",
    "大白", "兔兔", "阿花", "小满", "豆豆", "星星", "可乐", "饭团", "小熊", "阿狸", "木木", "七七",
)  # fmt: skip
_NAME_PREFIXES = (
    "爱喝奶的", "不想上班的", "努力搬砖的", "会飞的", "快乐的", "熬夜的", "减肥中的", "佛系",
    "认真生活的", "打工人", "元气", "社恐", "吃不胖的", "一只",
)  # fmt: skip
_NAME_ROLES = (
    "宝妈",
    "奶爸",
    "吃货",
    "打工人",
    "学生党",
    "程序员",
    "设计师",
    "护士",
    "老师",
    "跑者",
)
_LATIN = (
    "lily",
    "momo",
    "kiki",
    "coco",
    "jason",
    "yoyo",
    "lucky",
    "sunny",
    "echo",
    "amber",
    "leo",
    "nana",
)
_KOL_NAMES = (
    "育儿", "营养师", "美食", "健身", "测评", "财经", "生活家", "辣妈", "观察", "科普", "吃播", "种草",
)  # fmt: skip
_MEDIA_NAMES = ("都市快报", "晚报", "新闻", "日报", "财经网", "消费观察", "生活频道", "头条")
_DESCRIPTIONS = (
    "热爱生活，热爱美食", "一个普通的打工人", "认真吃饭，好好睡觉", "二胎宝妈，记录日常",
    "健身｜跑步｜早睡", "喜欢猫，也喜欢狗", "学生党，在线冲浪", "佛系青年", "世界很大，慢慢走",
    "只是来看看", "专注母婴好物分享", "工作日社畜，周末吃货",
)  # fmt: skip


@dataclass(frozen=True)
class Profile:
    """One simulated netizen as the sandbox stores them."""

    screen_name: str
    kind: str  # ordinary / kol / media / bot
    gender: str  # m / f / n
    province: int
    city: str
    location: str  # "北京 朝阳区", as Weibo shows it
    verified_type: int  # −1 ordinary, 0 orange V, 3 media (Weibo's codes)
    verified_reason: str
    followers_count: int
    friends_count: int
    statuses_count: int
    description: str
    created_at: datetime
    #: Rough activity weight (posts per active day); bots are bursty, not frequent.
    activity: float = 1.0

    @property
    def is_bot(self) -> bool:
        return self.kind == BOT

    @property
    def verified(self) -> bool:
        return self.verified_type >= 0


def _heavy_tail(rng: random.Random, median: float, sigma: float, low: int, high: int) -> int:
    return max(low, min(high, int(math.exp(rng.gauss(math.log(median), sigma)))))


def _region(rng: random.Random) -> tuple[str, int, str]:
    weights = [r[3] for r in REGIONS]
    name, code, cities, _w = rng.choices(REGIONS, weights=weights)[0]
    return name, code, rng.choice(cities)


def _ordinary_name(rng: random.Random) -> str:
    pattern = rng.random()
    if pattern < 0.12:
        return f"用户{rng.randint(10**9, 10**10 - 1)}"  # never renamed since sign-up
    if pattern < 0.40:
        return rng.choice(_NAME_PREFIXES) + rng.choice(_NAME_STEMS)
    if pattern < 0.60:
        return f"{rng.choice(REGIONS)[0]}{rng.choice(_NAME_ROLES)}{rng.choice(_NAME_STEMS)}"
    if pattern < 0.80:
        return f"{rng.choice(_LATIN)}_{rng.randint(1, 9999):04d}"
    return f"{rng.choice(_NAME_STEMS)}{rng.choice(_NAME_STEMS)}{rng.randint(1, 99)}"


def generate_profiles(
    count: int, *, seed: int = 2026, bot_share: float = 0.06, now: datetime
) -> list[Profile]:
    """`count` netizens, deterministic for `seed`. About 2 % opinion leaders (橙V), 1 % media
    accounts, `bot_share` bots, the rest ordinary users. Screen names are unique."""
    if count < 0:
        raise ValueError("count must not be negative")
    rng = random.Random(seed)
    profiles: list[Profile] = []
    taken: set[str] = set()

    def unique(name: str) -> str:
        base, n = name, 2
        while name in taken:
            name = f"{base}{n}"
            n += 1
        taken.add(name)
        return name

    for _ in range(count):
        roll = rng.random()
        province_name, code, city = _region(rng)
        location = city if province_name == city else f"{province_name} {city}"
        if roll < bot_share:
            kind = BOT
            name = unique(
                f"用户{rng.randint(10**9, 10**10 - 1)}"
                if rng.random() < 0.6
                else f"{rng.choice(_LATIN)}{rng.randint(10**5, 10**6 - 1)}"
            )
            profile = Profile(
                screen_name=name, kind=kind, gender=rng.choice("mf"), province=code, city=city,
                location=location, verified_type=-1, verified_reason="",
                followers_count=rng.randint(0, 25), friends_count=rng.randint(800, 2000),
                statuses_count=rng.randint(200, 3000), description="",
                created_at=now - timedelta(days=rng.randint(3, 120)), activity=0.2,
            )  # fmt: skip
        elif roll < bot_share + 0.02:
            name = unique(
                f"{rng.choice(REGIONS)[0]}{rng.choice(_KOL_NAMES)}{rng.choice(_NAME_STEMS)}"
            )
            profile = Profile(
                screen_name=name, kind=KOL, gender=rng.choice("mff"), province=code, city=city,
                location=location, verified_type=0,
                verified_reason=f"{rng.choice(_KOL_NAMES)}博主",
                followers_count=_heavy_tail(rng, 300_000, 1.2, 20_000, 20_000_000),
                friends_count=rng.randint(100, 1500),
                statuses_count=_heavy_tail(rng, 8000, 0.8, 500, 80_000),
                description=f"微博{rng.choice(_KOL_NAMES)}博主 合作请私信",
                created_at=now - timedelta(days=rng.randint(1500, 5000)), activity=6.0,
            )  # fmt: skip
        elif roll < bot_share + 0.03:
            name = unique(f"{city}{rng.choice(_MEDIA_NAMES)}")
            profile = Profile(
                screen_name=name, kind=MEDIA, gender="n", province=code, city=city,
                location=location, verified_type=3, verified_reason=f"{name}官方微博",
                followers_count=_heavy_tail(rng, 2_000_000, 1.0, 100_000, 60_000_000),
                friends_count=rng.randint(200, 2000),
                statuses_count=_heavy_tail(rng, 60_000, 0.6, 5000, 400_000),
                description=f"{name}官方微博", created_at=now - timedelta(days=rng.randint(3000, 5400)),
                activity=20.0,
            )  # fmt: skip
        else:
            name = unique(_ordinary_name(rng))
            profile = Profile(
                screen_name=name, kind=ORDINARY, gender="f" if rng.random() < 0.56 else "m",
                province=code, city=city, location=location, verified_type=-1, verified_reason="",
                followers_count=_heavy_tail(rng, 150, 1.3, 0, 50_000),
                friends_count=_heavy_tail(rng, 250, 0.8, 5, 2000),
                statuses_count=_heavy_tail(rng, 700, 1.2, 0, 60_000),
                description=rng.choice(_DESCRIPTIONS) if rng.random() < 0.6 else "",
                created_at=now - timedelta(days=rng.randint(30, 5000)),
                activity=round(rng.lognormvariate(0, 0.9), 3),
            )  # fmt: skip
        profiles.append(profile)
    return profiles


@dataclass
class FollowPlan:
    """Who follows whom, by screen name: netizen → demo account and netizen → netizen."""

    follows_accounts: list[tuple[str, str]] = field(default_factory=list)
    follows_netizens: list[tuple[str, str]] = field(default_factory=list)

    def followers_of(self, account: str) -> list[str]:
        return [f for f, a in self.follows_accounts if a == account]


# Probability that a netizen of a kind follows the parent account / any one child account.
_FOLLOW_PARENT = {ORDINARY: 0.35, KOL: 0.10, MEDIA: 0.30, BOT: 0.90}
_FOLLOW_CHILD = {ORDINARY: 0.10, KOL: 0.03, MEDIA: 0.05, BOT: 0.50}


def follower_edges(
    profiles: list[Profile], *, parent: str, children: list[str], seed: int = 2026
) -> FollowPlan:
    """The follower graph: who follows the demo accounts (bots follow them all to enter
    lotteries; ordinary users mostly the parent 母微博), and who follows whom among netizens
    (ordinary users follow a few opinion leaders and media, and a handful of each other)."""
    rng = random.Random(seed * 7 + 1)
    plan = FollowPlan()
    leaders = [p.screen_name for p in profiles if p.kind in (KOL, MEDIA)]
    ordinary = [p.screen_name for p in profiles if p.kind == ORDINARY]
    for p in profiles:
        if rng.random() < _FOLLOW_PARENT[p.kind]:
            plan.follows_accounts.append((p.screen_name, parent))
        for child in children:
            if rng.random() < _FOLLOW_CHILD[p.kind]:
                plan.follows_accounts.append((p.screen_name, child))
        if p.kind == BOT:
            continue
        picks: set[str] = set()
        if leaders:
            picks.update(rng.sample(leaders, k=min(len(leaders), rng.randint(0, 4))))
        if ordinary:
            picks.update(rng.sample(ordinary, k=min(len(ordinary), rng.randint(0, 6))))
        picks.discard(p.screen_name)
        plan.follows_netizens.extend((p.screen_name, other) for other in sorted(picks))
    return plan


# --- in the sandbox -----------------------------------------------------------------------------

NETIZEN_KINDS = (ORDINARY, KOL, MEDIA, BOT)

# How an official account's matrix role is recognised when its traits do not say
# (traits={"matrix_role": "service"} wins): words in the screen name, first match.
_ROLE_WORDS = (
    ("service", ("客服", "服务")),
    ("campaign", ("活动", "福利")),
    ("community", ("社区", "俱乐部", "粉丝")),
    ("ecommerce", ("商城", "旗舰店", "电商")),
    ("product", ("产品", "纯牛奶", "酸奶", "奶粉")),
    ("parent", ("官方", "官博")),
)


def account_roles(accounts: list) -> dict[str, object]:
    """Official sandbox users by matrix role (parent, product, campaign, service, community,
    ecommerce): from traits (`matrix_role`, as world.py sets it, or `role`), else from the
    name. The parent is the one that says so, else the most followed."""
    roles: dict[str, object] = {}
    for account in accounts:
        traits = account.traits or {}
        role = traits.get("matrix_role") or traits.get("role")
        if not role:
            role = next(
                (r for r, words in _ROLE_WORDS if any(w in account.screen_name for w in words)),
                None,
            )
        if role and role not in roles:
            roles[role] = account
    if "parent" not in roles and accounts:
        roles["parent"] = max(accounts, key=lambda a: a.followers_count)
    return roles


def official_accounts(names: list[str] | None = None) -> list:
    """The demo accounts: the named sandbox users, or every official one."""
    from .models import SandboxUser

    qs = (
        SandboxUser.objects.filter(is_official=True)
        if not names
        else SandboxUser.objects.filter(screen_name__in=names)
    )
    accounts = list(qs.order_by("id"))
    if names:
        missing = set(names) - {a.screen_name for a in accounts}
        if missing:
            raise ValueError(f"no sandbox account named {', '.join(sorted(missing))}")
    return accounts


def ensure_netizens(count: int = 600, *, seed: int = 2026, accounts: list | None = None) -> list:
    """The simulated netizens in the sandbox, created once (with their follows of the demo
    accounts and of each other). A second call returns the existing ones unchanged."""
    from django.db import transaction

    from guanwei.core.clock import now

    from . import store
    from .models import SandboxUser

    existing = list(SandboxUser.objects.filter(persona__in=NETIZEN_KINDS).order_by("id"))
    if existing:
        return existing
    accounts = official_accounts() if accounts is None else accounts
    profiles = generate_profiles(count, seed=seed, now=now())
    taken = set(
        SandboxUser.objects.filter(screen_name__in=[p.screen_name for p in profiles]).values_list(
            "screen_name", flat=True
        )
    )
    profiles = [p for p in profiles if p.screen_name not in taken]
    rows = [
        {
            "screen_name": p.screen_name, "persona": p.kind, "is_bot": p.is_bot, "gender": p.gender,
            "province": str(p.province), "city": "1000", "location": p.location,
            "verified_type": p.verified_type, "verified": p.verified, "verified_reason": p.verified_reason,
            "description": p.description, "created_at": p.created_at,
            "traits": {"activity": p.activity},
            # Their audience outside the sandbox; follows inside it are added by bulk_follow.
            "followers_count": p.followers_count, "friends_count": p.friends_count,
            "statuses_count": p.statuses_count,
        }
        for p in profiles
    ]  # fmt: skip
    with transaction.atomic():
        users = store.bulk_create_users(rows)
        ids = {u.screen_name: u.pk for u in users}
        roles = account_roles(accounts)
        pairs: list[tuple[int, int]] = []
        if roles:
            parent = roles["parent"]
            children = [a for a in accounts if a is not parent]
            ids.update({a.screen_name: a.pk for a in accounts})
            plan = follower_edges(
                profiles,
                parent=parent.screen_name,
                children=[a.screen_name for a in children],
                seed=seed,
            )
            pairs += [(ids[a], ids[b]) for a, b in plan.follows_accounts]
        else:
            plan = follower_edges(profiles, parent="", children=[], seed=seed)
        pairs += [(ids[a], ids[b]) for a, b in plan.follows_netizens]
        store.bulk_follow(pairs, created_at=now())
    return list(SandboxUser.objects.filter(persona__in=NETIZEN_KINDS).order_by("id"))

"""The demo world on the sandbox platform: 示例乳业's app and its official account matrix, with
tokens — what the demo seeding connects guanwei to — and a small helper for tests.

`ensure_demo_world(base_url)` is idempotent: run it again and you get the same app, the same
accounts and their still-valid tokens.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction

from guanwei.core.clock import now

from . import store
from .models import App, AppLevel, SandboxUser, Token

DEMO_APP_NAME = "示例乳业官微"
DEMO_SAFE_DOMAIN = "demo.guanwei.local"
# The consent page's password for every demo account (a local fake platform: no secret).
DEMO_PASSWORD = "sandbox-demo"
VERIFIED_REASON = "示例乳业股份有限公司官方微博"

# (screen_name, matrix role, description). The parent first; the children follow it.
DEMO_ACCOUNTS: list[tuple[str, str, str]] = [
    ("示例乳业官方微博", "parent", "示例乳业官方微博：每一滴好奶，都来自用心的牧场。"),
    ("示例乳业产品", "product", "示例乳业产品中心：新品发布、营养知识、产品答疑。"),
    ("示例乳业活动", "campaign", "示例乳业活动官微：转发抽奖、线下活动、新品试饮。"),
    ("示例乳业客服", "service", "示例乳业官方客服：工作日 9:00–21:00 在线，私信即可。"),
    ("示例乳业社区", "community", "示例乳业粉丝社区：晒单、食谱、亲子话题。"),
    ("示例乳业商城", "ecommerce", "示例乳业官方商城：正品直供，优惠券每周上新。"),
]

# Official accounts of the brand that the demo does NOT connect: to try "连接账号" on a new one.
UNCONNECTED_ACCOUNTS: list[tuple[str, str]] = [
    ("示例乳业华南", "示例乳业华南区官方微博：广东、广西、海南的活动与门店。"),
    ("示例乳业牧场", "示例乳业自有牧场：奶牛、牧草和每天的挤奶时间。"),
]


@dataclass(frozen=True)
class DemoAccount:
    uid: str
    screen_name: str
    matrix_role: str
    parent_uid: str | None
    token: str
    expires_in: int
    verified_type: int
    followers_count: int


@dataclass(frozen=True)
class DemoWorld:
    base_url: str
    app_key: str
    app_secret: str
    safe_domain: str
    accounts: list[DemoAccount] = field(default_factory=list)

    def account(self, role: str) -> DemoAccount:
        return next(a for a in self.accounts if a.matrix_role == role)


def _host(base_url: str) -> str:
    return (urlsplit(base_url).hostname or "").lower()


def _origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/"


def _lines(*values: str) -> list[str]:
    return [v for v in dict.fromkeys(values) if v]


@transaction.atomic
def ensure_demo_world(base_url: str, *, fans_callback_url: str | None = None) -> DemoWorld:
    """Create (or find) the demo app and accounts; give each account a live token.

    `base_url` is guanwei's own address (e.g. http://127.0.0.1:8000): its host becomes a safe
    domain (links to guanwei's tracked-link pages may be shared) and its origin a registered
    callback, so the OAuth flow can come back to any guanwei page. With `fans_callback_url`, the
    accounts' fans service pushes there (marked verified without a handshake: the demo server
    may not be up yet)."""
    host = _host(base_url)
    app = App.objects.filter(name=DEMO_APP_NAME).order_by("pk").first()
    if app is None:
        app = store.create_app(
            DEMO_APP_NAME,
            level=AppLevel.DEVELOPER,
            limits={"tier": "partner"},
        )
    domains = _lines(*app.safe_domains.split(), DEMO_SAFE_DOMAIN, host)
    uris = _lines(*app.redirect_uris.split(), _origin(base_url))
    if domains != app.safe_domains.split() or uris != app.redirect_uris.split():
        store.update_app(app, safe_domains="\n".join(domains), redirect_uris="\n".join(uris))

    existing = {
        u.screen_name: u
        for u in SandboxUser.objects.filter(screen_name__in=[n for n, _, _ in DEMO_ACCOUNTS])
    }
    missing = [
        {
            "screen_name": name,
            "password": DEMO_PASSWORD,
            "description": description,
            "verified": True,
            "verified_type": 2,
            "verified_reason": VERIFIED_REASON,
            "is_official": True,
            "province": "11",
            "city": "5",
            "location": "北京 朝阳区",
            "gender": "n",
            "traits": {"matrix_role": role},
        }
        for name, role, description in DEMO_ACCOUNTS
        if name not in existing
    ]
    for user in store.bulk_create_users(missing):
        existing[user.screen_name] = user
    # Official accounts of the brand that guanwei has not connected yet: sign in as one of them
    # on the consent page to try "连接账号" (README, "Demo logins").
    spare = set(
        SandboxUser.objects.filter(screen_name__in=[n for n, _ in UNCONNECTED_ACCOUNTS])
        .values_list("screen_name", flat=True)
    )
    store.bulk_create_users([
        {"screen_name": name, "password": DEMO_PASSWORD, "description": description,
         "verified": True, "verified_type": 2, "verified_reason": VERIFIED_REASON,
         "is_official": True, "location": "广东 广州", "gender": "n"}
        for name, description in UNCONNECTED_ACCOUNTS if name not in spare
    ])  # fmt: skip
    users = [existing[name] for name, _, _ in DEMO_ACCOUNTS]
    parent = users[0]
    # The matrix follows itself: children follow the parent and the parent follows them back.
    store.bulk_follow([(child, parent) for child in users[1:]] + [(parent, c) for c in users[1:]])
    if fans_callback_url:
        for user in users:
            fs = getattr(user, "fan_service", None)
            if fs is None or fs.callback_url != fans_callback_url:
                store.configure_fan_service(user, app, fans_callback_url, verified=True)

    accounts = []
    at = now()
    for user, (_, role, _) in zip(users, DEMO_ACCOUNTS, strict=True):
        token = store.live_token(app, user)
        if token is None or (token.expires_at - at).total_seconds() < 24 * 3600:
            token = store.issue_token(app, user)
        user.refresh_from_db(fields=["followers_count"])
        accounts.append(
            DemoAccount(
                uid=str(user.pk),
                screen_name=user.screen_name,
                matrix_role=role,
                parent_uid=None if user is parent else str(parent.pk),
                token=token.token,
                expires_in=int((token.expires_at - at).total_seconds()),
                verified_type=user.verified_type,
                followers_count=user.followers_count,
            )
        )
    return DemoWorld(
        base_url=base_url.rstrip("/"),
        app_key=app.app_key,
        app_secret=app.app_secret,
        safe_domain=DEMO_SAFE_DOMAIN,
        accounts=accounts,
    )


_serial = itertools.count(1)


def make_app_and_user(
    *,
    screen_name: str | None = None,
    password: str | None = None,
    level: str = AppLevel.NORMAL,
    limits: dict[str, Any] | None = None,
    safe_domains: str = DEMO_SAFE_DOMAIN,
    redirect_uris: str = "http://testserver/\nhttp://localhost/\nhttp://127.0.0.1/",
    is_commercial: bool = False,
    lifetime_s: int | None = None,
    **user_fields: Any,
) -> tuple[App, SandboxUser, Token]:
    """For tests: an app, a user and that user's token.

    `limits` defaults to the unlimited tier (no throttling, no similarity rule; identical posts
    still give 20019) so tests of other parts are not throttled; pass `{}` for Weibo's normal
    limits. Give `password` to sign in on the consent page."""
    n = next(_serial)
    app = store.create_app(
        f"测试应用{n}",
        level=level,
        safe_domains=safe_domains,
        redirect_uris=redirect_uris,
        is_commercial=is_commercial,
        limits={"tier": "unlimited"} if limits is None else limits,
    )
    user_fields.setdefault("verified_type", 2)
    user_fields.setdefault("is_official", True)
    user = store.create_user(
        screen_name or f"测试官微{n}_{app.app_key[-4:]}", password=password, **user_fields
    )
    token = store.issue_token(app, user, lifetime_s)
    return app, user, token

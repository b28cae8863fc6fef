"""The demo enterprise 示例乳业 (slug `demo`): one member per role, a sandbox connection to the
sandbox served by this same server, and the account matrix with tokens from the sandbox.

Idempotent: a second run finds everything in place and writes nothing (no new rows, no new
password hashes, no re-encrypted tokens, no audit entries). Every row it does create is
audited, attributed to "system".
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import transaction

from guanwei.core import audit, clock
from guanwei.core.models import Enterprise, Member, Role
from guanwei.matrix.models import Account, Connection, MatrixRole, PlatformKind

log = logging.getLogger("guanwei.ops.seed")

DEMO_SLUG = "demo"
DEMO_NAME = "示例乳业"
DEMO_PASSWORD = "guanwei-demo"  # printed on purpose: this is a demo, never a real deployment
CONNECTION_NAME = "沙盒微博"

# (username, role, display name) — distinct from the test personas (alice, bob, …).
DEMO_MEMBERS: list[tuple[str, str, str]] = [
    ("zhangwei", Role.OWNER, "张伟"),
    ("lina", Role.ADMIN, "李娜"),
    ("wangfang", Role.EDITOR, "王芳"),
    ("liuyang", Role.REVIEWER, "刘洋"),
    ("chenjing", Role.AGENT, "陈静"),
    ("zhaolei", Role.ANALYST, "赵磊"),
    ("sunli", Role.CAMPAIGN, "孙丽"),
    ("zhouqiang", Role.VIEWER, "周强"),
]

# Used only when the sandbox cannot provide its demo world (then the accounts have no tokens).
FALLBACK_MATRIX: list[dict[str, Any]] = [
    {"uid": "6100000001", "screen_name": "示例乳业", "matrix_role": MatrixRole.PARENT},
    {"uid": "6100000002", "screen_name": "示例乳业产品", "matrix_role": MatrixRole.PRODUCT},
    {"uid": "6100000003", "screen_name": "示例乳业活动", "matrix_role": MatrixRole.CAMPAIGN},
    {"uid": "6100000004", "screen_name": "示例乳业客服", "matrix_role": MatrixRole.SERVICE},
    {"uid": "6100000005", "screen_name": "示例乳业社区", "matrix_role": MatrixRole.COMMUNITY},
    {"uid": "6100000006", "screen_name": "示例乳业商城", "matrix_role": MatrixRole.ECOMMERCE},
]


@dataclass
class SeedReport:
    enterprise: Enterprise
    logins: list[tuple[str, str, str]]  # (username, password, role label)
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    has_tokens: bool = False
    history: dict[str, int] = field(default_factory=dict)  # sandbox events made, by kind
    notes: list[str] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.updated or self.history)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """The sandbox returns dataclasses or dicts; read either."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def demo_world(base_url: str) -> tuple[Any | None, str]:
    """The sandbox's demo app and accounts with live tokens
    (guanwei.sandbox.world.ensure_demo_world, itself idempotent), or (None, reason) when this
    build has no sandbox world. Called in-process: the server is not up yet while seeding."""
    try:
        from guanwei.sandbox.world import ensure_demo_world
    except ImportError as exc:
        return None, f"sandbox demo world unavailable ({exc}); accounts seeded without tokens"
    return ensure_demo_world(base_url), ""


def seed_demo(base_url: str | None = None, *, with_history: bool = True) -> SeedReport:
    base_url = (base_url or settings.BASE_URL).rstrip("/")
    sandbox_url = f"{base_url}/sandbox"
    world, note = demo_world(base_url)

    with transaction.atomic():
        enterprise, created = Enterprise.objects.get_or_create(
            slug=DEMO_SLUG, defaults={"name": DEMO_NAME, "time_zone": "Asia/Shanghai"}
        )
        report = SeedReport(enterprise=enterprise, logins=[])
        if note:
            report.notes.append(note)
        if created:
            report.created["enterprise"] += 1
            audit.record(enterprise, None, "enterprise.created", enterprise,
                         summary=f"演示企业 {DEMO_NAME} 已创建", detail={"source": "demo seed"},
                         params={"name": DEMO_NAME})
        _seed_members(enterprise, report)
        _seed_operator(report)
        connection = _seed_connection(enterprise, sandbox_url, world, report)
        _seed_accounts(enterprise, connection, world, report)
        _seed_rules(enterprise, report)
        _seed_service(enterprise, report)

    if world is not None:
        # The demo accounts' fans service (私信) pushes to this connection's receiver in listening.
        from guanwei.sandbox.world import ensure_demo_world

        ensure_demo_world(base_url, fans_callback_url=f"{base_url}/listening/push/{connection.pk}/")
    if world is not None and with_history:
        _seed_history(world, report)
    log.info("demo seed enterprise=%s created=%s updated=%s history=%s", enterprise.pk,
             dict(report.created), dict(report.updated), report.history)
    return report


def _seed_members(enterprise: Enterprise, report: SeedReport) -> None:
    labels = dict(Role.choices)
    # One hash for all: hashing is slow on purpose and the password is printed anyway.
    password_hash = make_password(DEMO_PASSWORD)
    for username, role, display_name in DEMO_MEMBERS:
        report.logins.append((username, DEMO_PASSWORD, str(labels[role])))
        user = User.objects.filter(username=username).first()
        if user is None:
            # Only on creation: a second run must not rehash (it would change the row).
            user = User.objects.create(username=username, first_name=display_name, password=password_hash)
        member = Member.objects.filter(user=user).first()
        if member is None:
            member = Member.objects.create(
                enterprise=enterprise, user=user, role=role, display_name=display_name
            )
            report.created["member"] += 1
            audit.record(enterprise, None, "member.added", member,
                         summary=f"演示成员 {display_name}（{labels[role]}）已添加",
                         params={"name": display_name, "role": role},
                         detail={"role": role, "source": "demo seed"})
        elif member.enterprise_id != enterprise.pk:
            report.notes.append(f"user {username} belongs to another enterprise; left alone")


OPERATOR_USERNAME = "operator"


def _seed_operator(report: SeedReport) -> None:
    """The demo server's operator: a Django superuser in no enterprise (sandbox faults and runs,
    the server's status). A real deployment makes its own with `guanwei createsuperuser`."""
    report.logins.append((OPERATOR_USERNAME, DEMO_PASSWORD, "服务器运维 server operator"))
    if User.objects.filter(username=OPERATOR_USERNAME).exists():
        return
    User.objects.create(
        username=OPERATOR_USERNAME, password=make_password(DEMO_PASSWORD),
        is_superuser=True, is_staff=True,
    )  # fmt: skip
    report.created["operator"] += 1
    log.info("demo seed: operator login %s created", OPERATOR_USERNAME)


def _seed_connection(
    enterprise: Enterprise, sandbox_url: str, world: Any, report: SeedReport
) -> Connection:
    app_key = str(_get(world, "app_key", "") or "demo-app") if world is not None else "demo-app"
    app_secret = str(_get(world, "app_secret", "") or "") if world is not None else ""
    connection = Connection.objects.filter(enterprise=enterprise, name=CONNECTION_NAME).first()
    if connection is None:
        connection = Connection.objects.create(
            enterprise=enterprise, name=CONNECTION_NAME, kind=PlatformKind.SANDBOX,
            base_url=sandbox_url, app_key=app_key, app_secret=app_secret or "-",
            safe_domain=str(_get(world, "safe_domain", "") or "") if world is not None else "",
            app_level="partner",  # the sandbox's demo app is at the partner tier (no hourly cap)
        )
        report.created["connection"] += 1
        audit.record(enterprise, None, "connection.created", connection,
                     summary=f"平台连接 {CONNECTION_NAME} 已创建（{sandbox_url}）",
                     params={"name": CONNECTION_NAME, "kind": PlatformKind.SANDBOX},
                     detail={"kind": PlatformKind.SANDBOX, "base_url": sandbox_url, "source": "demo seed"})
        return connection
    changes = {}
    if connection.base_url != sandbox_url:
        changes["base_url"] = sandbox_url
    if world is not None and connection.app_key != app_key:
        changes["app_key"] = app_key
    if world is not None and app_secret and connection.app_secret != app_secret:
        changes["app_secret"] = app_secret
    if changes:
        for key, value in changes.items():
            setattr(connection, key, value)
        connection.save(update_fields=list(changes))
        report.updated["connection"] += 1
        audit.record(enterprise, None, "connection.updated", connection,
                     summary=f"平台连接 {CONNECTION_NAME} 已更新",
                     params={"name": CONNECTION_NAME},
                     detail={"fields": sorted(changes), "source": "demo seed"})
    return connection


def _seed_accounts(
    enterprise: Enterprise, connection: Connection, world: Any, report: SeedReport
) -> None:
    specs = list(_get(world, "accounts", None) or []) if world is not None else []
    report.has_tokens = bool(specs) and all(_get(s, "token") for s in specs)
    if not specs:
        specs = FALLBACK_MATRIX
    now = clock.now()
    parent: Account | None = None
    # Parent first, so the children can point at it.
    specs = sorted(specs, key=lambda s: _get(s, "matrix_role") != MatrixRole.PARENT)
    for spec in specs:
        uid = str(_get(spec, "uid"))
        role = str(_get(spec, "matrix_role") or _get(spec, "role"))
        account = Account.objects.filter(connection=connection, platform_uid=uid).first()
        token = str(_get(spec, "token", "") or "")
        expires_in = _get(spec, "expires_in")
        if account is None:
            account = Account.objects.create(
                enterprise=enterprise, connection=connection, platform_uid=uid,
                screen_name=str(_get(spec, "screen_name")), matrix_role=role,
                parent=None if role == MatrixRole.PARENT else parent,
                verified_type=int(_get(spec, "verified_type", 2)),
                followers_count=int(_get(spec, "followers_count", 0) or 0),
                token=token,
                token_expires_at=now + timedelta(seconds=int(expires_in)) if token and expires_in else None,
            )
            report.created["account"] += 1
            audit.record(enterprise, None, "account.connected", account,
                         summary=f"官方账号 {account.screen_name} 已接入（{account.get_matrix_role_display()}）",
                         params={"name": account.screen_name, "matrix_role": role},
                         detail={"platform_uid": uid, "matrix_role": role, "source": "demo seed"})
        elif token and account.token != token:
            # The sandbox issued a new token (the old one expired or was revoked): take it.
            account.token = token
            account.token_expires_at = now + timedelta(seconds=int(expires_in)) if expires_in else None
            account.save(update_fields=["token", "token_expires_at"])
            report.updated["account"] += 1
            audit.record(enterprise, None, "account.token_renewed", account,
                         summary=f"官方账号 {account.screen_name} 的授权已更新",
                         params={"name": account.screen_name},
                         detail={"source": "demo seed"})
        if role == MatrixRole.PARENT:
            parent = account


DEMO_MONITORS = [
    ("品牌：示例乳业", "brand",
     "示例乳业 OR 示例纯牛奶 OR 示例酸奶 OR 示例有机奶 OR 示例儿童成长奶 OR 示例早餐奶 OR 示例奶粉 -抽奖"),
    ("产品：示例酸奶", "product", "示例酸奶"),
    ("危机词", "custom", "(示例乳业 OR 示例纯牛奶 OR 示例酸奶 OR 示例有机奶 OR 示例奶粉) NEAR/20 "
                        "(异味 OR 超标 OR 变质 OR 过期 OR 异物 OR 投诉)"),
]
# 广告法's absolute terms: a brand's legal team keeps such a list (warn: a person decides).
DEMO_WORDS = [("国家级", "block"), ("最高级", "block"), ("第一品牌", "block"), ("最好", "warn"), ("100%", "warn")]


def _seed_rules(enterprise: Enterprise, report: SeedReport) -> None:
    """A first set of monitors and sensitive words, once (an enterprise that has its own keeps them)."""
    from guanwei.monitoring.matching import backfill_monitor
    from guanwei.monitoring.models import Monitor
    from guanwei.publishing.models import SensitiveWord
    from guanwei.textkit.normalize import fold

    if not Monitor.objects.filter(enterprise=enterprise).exists():
        for name, group, rule in DEMO_MONITORS:
            monitor = Monitor.objects.create(enterprise=enterprise, name=name, group=group, rule=rule)
            # what listening already stored (a demo seeded before monitoring existed) counts too
            transaction.on_commit(lambda pk=monitor.pk: backfill_monitor.enqueue(pk))
            report.created["monitor"] += 1
    if not SensitiveWord.objects.filter(enterprise=enterprise).exists():
        for word, action in DEMO_WORDS:
            SensitiveWord.objects.create(enterprise=enterprise, word=word, folded=fold(word), action=action)
            report.created["sensitive word"] += 1


def _seed_history(world: Any, report: SeedReport) -> None:
    """Give the demo platform a past (posts, followers, comments, a launch, a crisis) when the
    sandbox can. The sandbox skips it when its seed run already finished (idempotent)."""
    try:
        from guanwei.sandbox.scenarios import seed_demo_history
    except ImportError:
        report.notes.append("sandbox history unavailable; the demo platform starts empty")
        return
    try:
        made = seed_demo_history(world)
    except Exception as exc:  # the demo works without a past; say so instead of stopping
        log.exception("demo seed: sandbox history failed")
        report.notes.append(f"sandbox history failed ({exc}); the demo platform starts without a past")
        return
    report.history = {k: v for k, v in dict(made).items() if v}


# (title, text, category) — canned replies with variables, as a service team keeps them.
DEMO_CANNED = [
    ("致歉并登记", "{customer}您好，非常抱歉给您带来不便！我们已登记您的问题，客服会在今天内私信联系您处理。", "complaint"),
    ("请提供订单号", "{customer}您好，麻烦私信我们您的订单号 {order} 和购买渠道，我们马上为您查询。", "inquiry"),
    ("退换货说明", "{customer}您好，示例乳业产品如有质量问题可 7 天内无理由退换，请私信{account}订单号，我们为您安排。", "complaint"),
    ("感谢支持", "谢谢{customer}的支持，我们会继续努力！", "praise"),
]


def _seed_service(enterprise: Enterprise, report: SeedReport) -> None:
    """A service team (the agent and the admin, 9:00–21:00 every day, Chinese holidays off), a
    routing rule for everything, and canned replies — once, written by the system like the demo's
    monitors (an enterprise that has its own keeps them)."""
    from guanwei.inbox.models import CannedReply, RoutingRule, Team

    if Team.objects.filter(enterprise=enterprise).exists():
        return
    team = Team.objects.create(enterprise=enterprise, name="客服中心", hours="mon-sun 09:00-21:00",
                               first_response_min={"urgent": 15, "normal": 60, "low": 240})  # fmt: skip
    team.members.set(Member.objects.filter(enterprise=enterprise, role__in=[Role.AGENT, Role.ADMIN]))
    RoutingRule.objects.create(enterprise=enterprise, name="全部进客服中心", team=team, position=100)
    for title, text, category in DEMO_CANNED:
        CannedReply.objects.get_or_create(enterprise=enterprise, title=title, defaults={"text": text, "category": category})
    report.created["service team"] += 1

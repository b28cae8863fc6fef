"""Named people for tests (Healthchecks style): one enterprise with a member per role, an editor
limited to two accounts, and an outsider enterprise with its own owner and objects.

示例乳业 (slug ``shili``), password for everyone: ``PASSWORD``

============  =================  ==========================================
username      role               notes
============  =================  ==========================================
alice         owner              所有者
bob           admin              管理员
carol         editor             内容编辑
dave          reviewer           审核
erin          agent              客服
frank         analyst            舆情/公关
grace         campaign           活动/电商
heidi         viewer             管理层
ivan          editor             limited to the product and service accounts
============  =================  ==========================================

别家饮料 (slug ``biejia``), the outsider: ``mallory`` (owner), with a connection and an account.

The insider matrix: connection 示例乳业沙盒; parent 示例乳业官方微博 with children 示例乳业产品,
示例乳业活动, 示例乳业客服, 示例乳业社区, 示例乳业商城.

Everything is built with bulk inserts and one precomputed password hash, so the fixture costs a
handful of queries.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User

from guanwei.core.models import Enterprise, Member, Role
from guanwei.matrix.models import Account, AccountAccess, Connection, MatrixRole, PlatformKind

PASSWORD = "correct-horse-battery-9"

INSIDER_ROLES = [
    ("alice", Role.OWNER, "Alice 所有者"),
    ("bob", Role.ADMIN, "Bob 管理员"),
    ("carol", Role.EDITOR, "Carol 编辑"),
    ("dave", Role.REVIEWER, "Dave 审核"),
    ("erin", Role.AGENT, "Erin 客服"),
    ("frank", Role.ANALYST, "Frank 舆情"),
    ("grace", Role.CAMPAIGN, "Grace 活动"),
    ("heidi", Role.VIEWER, "Heidi 管理层"),
    ("ivan", Role.EDITOR, "Ivan 受限编辑"),
]

_uid = itertools.count(1_000_000)
_password_hash: dict[str, str] = {}


def password_hash() -> str:
    """One hash for everyone (hashing is the slow part of creating users)."""
    from django.conf import settings

    key = settings.PASSWORD_HASHERS[0]
    if key not in _password_hash:
        _password_hash[key] = make_password(PASSWORD)
    return _password_hash[key]


def make_members(enterprise: Enterprise, specs: list[tuple[str, str, str]]) -> list[Member]:
    """Users and members for (username, role, display name) triples, in two bulk inserts."""
    users = User.objects.bulk_create(
        [User(username=u, password=password_hash(), email=f"{u}@example.com") for u, _, _ in specs]
    )
    if users[0].pk is None:  # backends without RETURNING ids
        by_name = {u.username: u for u in User.objects.filter(username__in=[s[0] for s in specs])}
        users = [by_name[s[0]] for s in specs]
    members = Member.objects.bulk_create(
        [
            Member(enterprise=enterprise, user=user, role=role, display_name=name)
            for user, (_, role, name) in zip(users, specs, strict=True)
        ]
    )
    for member, user in zip(members, users, strict=True):
        member.user = user
        member.enterprise = enterprise
    return members


def make_connection(enterprise: Enterprise, name: str = "", **kw: object) -> Connection:
    values: dict[str, object] = {
        "name": name or f"{enterprise.name}沙盒",
        "kind": PlatformKind.SANDBOX,
        "base_url": "http://127.0.0.1:8000/sandbox",
        "app_key": f"key-{next(_uid)}",
        "app_secret": "app-secret-must-never-leak",
    }
    values.update(kw)
    return Connection.objects.create(enterprise=enterprise, **values)


def make_account(
    connection: Connection,
    screen_name: str,
    matrix_role: str = MatrixRole.PRODUCT,
    parent: Account | None = None,
    **kw: object,
) -> Account:
    values: dict[str, object] = {
        "platform_uid": str(next(_uid)),
        "token": "account-token-must-never-leak",
        "followers_count": 1000,
    }
    values.update(kw)
    return Account.objects.create(
        enterprise=connection.enterprise,
        connection=connection,
        screen_name=screen_name,
        matrix_role=matrix_role,
        parent=parent,
        **values,
    )


@dataclass
class Personas:
    enterprise: Enterprise
    members: dict[str, Member]
    connection: Connection
    parent_account: Account
    accounts: dict[str, Account]
    outsider_enterprise: Enterprise
    mallory: Member
    outsider_connection: Connection
    outsider_account: Account
    # Strings that belong to the insider only: a page shown to the outsider must contain none.
    insider_names: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Member:
        members = self.__dict__.get("members", {})
        if name in members:
            return members[name]
        raise AttributeError(name)

    @property
    def limited_accounts(self) -> list[Account]:
        return [self.accounts["product"], self.accounts["service"]]


def build() -> Personas:
    enterprise = Enterprise.objects.create(name="示例乳业", slug="shili")
    members = dict(zip([s[0] for s in INSIDER_ROLES], make_members(enterprise, INSIDER_ROLES), strict=True))
    connection = make_connection(enterprise, name="示例乳业沙盒")
    parent = make_account(connection, "示例乳业官方微博", MatrixRole.PARENT, verified_type=7)
    children = {
        "product": make_account(connection, "示例乳业产品", MatrixRole.PRODUCT, parent),
        "campaign": make_account(connection, "示例乳业活动", MatrixRole.CAMPAIGN, parent),
        "service": make_account(connection, "示例乳业客服", MatrixRole.SERVICE, parent),
        "community": make_account(connection, "示例乳业社区", MatrixRole.COMMUNITY, parent),
        "ecommerce": make_account(connection, "示例乳业商城", MatrixRole.ECOMMERCE, parent),
    }
    ivan = members["ivan"]
    ivan.is_limited_to_accounts = True
    ivan.save(update_fields=["is_limited_to_accounts"])
    AccountAccess.objects.bulk_create(
        [
            AccountAccess(enterprise=enterprise, member=ivan, account=children[k])
            for k in ("product", "service")
        ]
    )

    outsider = Enterprise.objects.create(name="别家饮料", slug="biejia")
    (mallory,) = make_members(outsider, [("mallory", Role.OWNER, "Mallory 别家")])
    outsider_connection = make_connection(outsider, name="别家沙盒")
    outsider_account = make_account(outsider_connection, "别家饮料官方微博", MatrixRole.PARENT)

    accounts = {"parent": parent, **children}
    insider_names = ["示例乳业", connection.name, *(a.screen_name for a in accounts.values())]
    insider_names += [m.display_name for m in members.values()]
    return Personas(
        enterprise=enterprise,
        members=members,
        connection=connection,
        parent_account=parent,
        accounts=accounts,
        outsider_enterprise=outsider,
        mallory=mallory,
        outsider_connection=outsider_connection,
        outsider_account=outsider_account,
        insider_names=insider_names,
    )

"""The account matrix (组合策略): platform connections and official accounts with tokens and health."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanwei.core import clock
from guanwei.core.crypto import EncryptedTextField
from guanwei.core.models import Enterprise, Member, TenantQuerySet
from guanwei.core.states import StateMachine


class PlatformKind(models.TextChoices):
    SANDBOX = "sandbox", _("沙盒（内置微博）")
    WEIBO = "weibo", _("新浪微博")
    MASTODON = "mastodon", _("Mastodon")


class AppLevel(models.TextChoices):
    TEST = "test", _("测试")
    ORDINARY = "ordinary", _("普通")
    INTERMEDIATE = "intermediate", _("中级")
    ADVANCED = "advanced", _("高级")
    PARTNER = "partner", _("合作")
    # The built-in sandbox's unlimited tier (or an app with limits agreed apart): no local
    # buckets, no shared budget — the platform's answers alone say when to wait.
    UNLIMITED = "unlimited", _("不限（沙盒/特批）")


# Calls an hour per user (Weibo's classic table, PLATFORM_APIS §4.1); None: no overall cap.
HOURLY_CALLS = {"test": 150, "ordinary": 150, "intermediate": 300, "advanced": 450, "partner": None, "unlimited": None}


class Connection(models.Model):
    """An enterprise's app on one platform: base URL plus app key and (encrypted) secret."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("平台"), max_length=16, choices=PlatformKind.choices)
    base_url = models.URLField(_("接口地址"))
    app_key = models.CharField(_("App Key"), max_length=200)
    app_secret = EncryptedTextField(_("App Secret"))
    safe_domain = models.CharField(_("安全域名"), max_length=200, blank=True)
    # What the platform lets this app do (Weibo's app levels and the commercial contract):
    # the connector's rate buckets, whether keyword search exists, how often listening reads.
    app_level = models.CharField(
        _("应用级别"), max_length=16, choices=AppLevel.choices, default="ordinary",
        help_text=_("微博开放平台给应用的级别，决定调用频次（见开放平台“接口访问频次权限”）。"),
    )  # fmt: skip
    commercial = models.BooleanField(
        _("已签商业接口"), default=False,
        help_text=_("签了微博商业数据接口合同（关键词搜索等）。"),
    )  # fmt: skip
    created_at = models.DateTimeField(default=clock.now, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("平台连接")
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "name"], name="connection_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class MatrixRole(models.TextChoices):
    PARENT = "parent", pgettext_lazy("matrix role", "母微博（官方）")
    PRODUCT = "product", pgettext_lazy("matrix role", "产品")
    CAMPAIGN = "campaign", pgettext_lazy("matrix role", "活动")
    SERVICE = "service", pgettext_lazy("matrix role", "客服")
    COMMUNITY = "community", pgettext_lazy("matrix role", "社区")
    ECOMMERCE = "ecommerce", pgettext_lazy("matrix role", "电商")
    REGION = "region", pgettext_lazy("matrix role", "地区")


class VerifiedType(models.IntegerChoices):
    """Weibo's verified_type (PLATFORM_APIS §users/show)."""

    ORDINARY = -1, pgettext_lazy("verified type", "未认证")
    PERSONAL = 0, pgettext_lazy("verified type", "个人认证（橙 V）")
    GOVERNMENT = 1, pgettext_lazy("verified type", "政府")
    ENTERPRISE = 2, pgettext_lazy("verified type", "企业（蓝 V）")
    MEDIA = 3, pgettext_lazy("verified type", "媒体")
    CAMPUS = 4, pgettext_lazy("verified type", "校园")
    WEBSITE = 5, pgettext_lazy("verified type", "网站")
    APP = 6, pgettext_lazy("verified type", "应用")
    ORGANISATION = 7, pgettext_lazy("verified type", "机构")


class Health(models.TextChoices):
    OK = "ok", _("正常")
    TOKEN_EXPIRING = "token_expiring", _("授权即将过期")
    TOKEN_EXPIRED = "token_expired", _("授权已过期")
    RATE_LIMITED = "rate_limited", _("被限流")
    UNREACHABLE = "unreachable", _("无法连接")


# Any health may follow any other: the platform's answers decide (matrix.health.set_health).
HEALTH_MACHINE = StateMachine(
    "health",
    {health: set(Health.values) - {health} for health in Health.values},
    audit_action="account.health_changed",
)


class AccountQuerySet(TenantQuerySet):
    def for_member(self, member: Member) -> AccountQuerySet:
        qs = self.filter(enterprise_id=member.enterprise_id)
        if member.is_limited_to_accounts:
            qs = qs.filter(access__member=member)
        return qs


class Account(models.Model):
    """官方账号 — one official account on a platform, its place in the matrix and its token."""

    state_machines = {"health": HEALTH_MACHINE}

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="accounts")
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="accounts")
    platform_uid = models.CharField(_("平台 UID"), max_length=64)
    screen_name = models.CharField(_("昵称"), max_length=100)
    matrix_role = models.CharField(_("矩阵角色"), max_length=16, choices=MatrixRole.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    verified_type = models.IntegerField(_("认证类型"), default=-1)
    followers_count = models.PositiveIntegerField(_("粉丝数"), default=0)
    token = EncryptedTextField(_("授权令牌"), blank=True)
    token_expires_at = models.DateTimeField(_("授权到期"), null=True, blank=True)
    health = models.CharField(pgettext_lazy("account health", "状态"), max_length=16, choices=Health.choices, default=Health.OK)
    health_detail = models.CharField(max_length=300, blank=True)
    health_changed_at = models.DateTimeField(null=True, blank=True)
    # Only apps using Weibo's official mobile SDK (and Mastodon) get one; web apps re-authorise.
    refresh_token = EncryptedTextField(_("刷新令牌"), blank=True)
    connected_at = models.DateTimeField(_("授权时间"), null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now, editable=False)

    objects = AccountQuerySet.as_manager()

    class Meta:
        verbose_name = _("官方账号")
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "platform_uid"], name="account_uid_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.screen_name

    @property
    def verified_label(self) -> str:
        """认证类型 as a person reads it ("企业（蓝 V）"), not Weibo's number."""
        try:
            return str(VerifiedType(self.verified_type).label)
        except ValueError:  # a type Weibo added after this list
            return str(self.verified_type)

    @property
    def needs_reconnect(self) -> bool:
        """A dead or missing token can only be fixed by authorising again (重新授权)."""
        return not self.token or self.health == Health.TOKEN_EXPIRED


class AccountAccess(models.Model):
    """Limits a member (with is_limited_to_accounts) to the accounts listed here."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="account_access")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="access")

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "account"], name="account_access_unique")
        ]

    def __str__(self) -> str:
        return f"{self.member_id} → {self.account_id}"


class AccountSnapshot(models.Model):
    """An account's counts as the platform gave them, one row per account per day (the day in
    the enterprise's time zone; the day's last refresh wins): insight's history of followers."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="snapshots")
    day = models.DateField()
    followers_count = models.PositiveIntegerField(null=True, blank=True)
    friends_count = models.PositiveIntegerField(null=True, blank=True)
    statuses_count = models.PositiveIntegerField(null=True, blank=True)
    taken_at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "day"], name="snapshot_one_per_account_day")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day} {self.followers_count}"


class RateUse(models.Model):
    """Calls counted against a platform's hourly limit (matrix.budget, without Redis): one row
    per key (app, account, endpoint class) and clock hour; `block:` rows hold a platform's
    "wait until"."""

    key = models.CharField(max_length=400)
    window = models.DateTimeField()
    used = models.PositiveIntegerField(default=0)
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window"], name="rateuse_key_window")]

    def __str__(self) -> str:
        return f"{self.key} {self.window:%Y-%m-%d %H:00} {self.used}"

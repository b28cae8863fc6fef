"""Tenancy and organisation (组织架构): enterprises, members and their roles, invitations,
personal API tokens and the append-only audit log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanwei.core import clock, messages
from guanwei.core.crypto import EncryptedTextField


class Role(models.TextChoices):
    OWNER = "owner", _("所有者")
    ADMIN = "admin", _("管理员")
    EDITOR = "editor", _("内容编辑")
    REVIEWER = "reviewer", _("审核")
    AGENT = "agent", _("客服")
    ANALYST = "analyst", _("舆情/公关")
    CAMPAIGN = "campaign", _("活动/电商")
    VIEWER = "viewer", _("管理层")


class Enterprise(models.Model):
    """企业 — the tenant. Every other row belongs to exactly one."""

    name = models.CharField(_("名称"), max_length=200)
    slug = models.SlugField(unique=True)
    time_zone = models.CharField(_("时区"), max_length=64, default="Asia/Shanghai")
    created_at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        verbose_name = _("企业")

    def __str__(self) -> str:
        return self.name


class TenantQuerySet(models.QuerySet):
    """Rows of one enterprise. Models below Enterprise use `TenantQuerySet.as_manager()` and may
    override `for_member` to narrow further (e.g. accounts a member is limited to)."""

    def for_member(self, member: Member) -> TenantQuerySet:
        return self.filter(enterprise_id=member.enterprise_id)


class Member(models.Model):
    """成员 — a user in an enterprise with one Role; optionally limited to some accounts
    (the limit itself lives in matrix.AccountAccess, since matrix sits above core)."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="members")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="member")
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices)
    display_name = models.CharField(_("显示名"), max_length=100)
    is_active = models.BooleanField(_("启用"), default=True)
    is_limited_to_accounts = models.BooleanField(_("仅限指定账号"), default=False)
    joined_at = models.DateTimeField(default=clock.now, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = pgettext_lazy("object type", "成员")
        indexes = [
            models.Index(fields=["enterprise", "role"]),
            # The members page and choosers: one enterprise's members by name (core.lists).
            models.Index(fields=["enterprise", "display_name", "id"], name="member_by_name"),
        ]

    def __str__(self) -> str:
        return self.display_name


class Invitation(models.Model):
    """A one-time link that lets someone join an enterprise with a given role."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("邮箱"))
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(Member, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=clock.now, editable=False)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("邀请")

    def __str__(self) -> str:
        return f"{self.email} ({self.role})"


class ApiTokenQuerySet(TenantQuerySet):
    def for_member(self, member: Member) -> TenantQuerySet:
        """Personal: a member sees only their own tokens, so a colleague's is 404 in get_for."""
        return self.filter(enterprise_id=member.enterprise_id, member=member)


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the token is shown once."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=100)
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class AuditQuerySet(TenantQuerySet):
    def update(self, **kwargs):  # noqa: ANN003
        raise PermissionError("the audit log is append-only")

    def delete(self):
        raise PermissionError("the audit log is append-only")


class AuditEntry(models.Model):
    """审计日志 — who did what when. Append-only: written only by core.audit.record()."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(Member, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    # What `summary` says, as a code's parameters: the summary is rendered in the reader's
    # language when shown (core.audit.SUMMARIES). None on entries written before it existed,
    # which show their stored summary.
    params = models.JSONField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("审计记录")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The audit page: one enterprise, a time range, newest first.
            # …and its keyset pages: (created_at, id) below a cursor (core.lists.keyset_page).
            models.Index(fields=["enterprise", "-created_at", "-id"], name="audit_enterprise_time_id"),
            # Its action / object-type filters (the choices come from the code, not the log).
            models.Index(fields=["enterprise", "action"], name="audit_enterprise_action"),
            models.Index(fields=["enterprise", "object_type"], name="audit_enterprise_type"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args, **kwargs):  # noqa: ANN002, ANN003
        if self.pk is not None:
            raise PermissionError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # noqa: ANN002, ANN003
        raise PermissionError("the audit log is append-only")

    @property
    def summary_text(self) -> str:
        """The summary in the reader's language (rendered now from the action and params)."""
        return messages.render_summary(self.action, self.params, self.summary)

    @property
    def actor_text(self) -> str:
        if self.actor_id is None and self.actor_label == messages.SYSTEM_ACTOR:
            return messages.system_label()
        return self.actor_label


class Notification(models.Model):
    """An in-app notice for the members who can act on it (a dying token, a failed job).

    `condition_key` makes it one notice per condition (a dying token, a failing channel): while an
    unresolved notice with the same key exists, core.notifications.notify() does not add another.
    """

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="notifications")
    action = models.CharField(max_length=64, help_text="permission action of who should see it")
    level = models.CharField(max_length=8, default="warning")  # info | warning | error
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    # The notice as a message code and parameters, rendered in each reader's language
    # (core.notifications.MESSAGES); title/body keep the text in the writer's language as a
    # fallback (and for notices written before codes existed).
    code = models.CharField(max_length=64, blank=True, default="")
    params = models.JSONField(null=True, blank=True)
    url = models.CharField(max_length=300, blank=True)
    condition_key = models.CharField(max_length=200, blank=True)
    # A personal notice ("your export is ready"): only this member sees it, and may dismiss it.
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.CASCADE, related_name="personal_notices"
    )
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The bell on every page and the notifications list: one enterprise's open notices,
            # newest first (web.notices.open_for), without reading the resolved ones.
            models.Index(
                fields=["enterprise", "-created_at"],
                condition=models.Q(resolved_at__isnull=True),
                name="notification_open_newest",
            )
        ]
        constraints = [
            # notify() relies on this: at most one open notice per incident.
            models.UniqueConstraint(
                fields=["enterprise", "condition_key"],
                condition=models.Q(resolved_at__isnull=True) & ~models.Q(condition_key=""),
                name="notification_one_open_per_condition",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def title_text(self) -> str:
        return messages.render_message(self.code, self.params, (self.title, self.body))[0]

    @property
    def body_text(self) -> str:
        return messages.render_message(self.code, self.params, (self.title, self.body))[1]


class ExportQuerySet(TenantQuerySet):
    def for_member(self, member: Member) -> TenantQuerySet:
        """Personal: a file holds what its requester was allowed to see, so only they fetch it;
        a colleague's export is 404 in get_for."""
        return self.filter(enterprise_id=member.enterprise_id, member=member)


class Export(models.Model):
    """A CSV export too large to stream within one request: the worker writes the file (through
    the `exports` storage), counting rows as it goes, and its requester downloads it until it
    expires. See core.exports."""

    class State(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("生成中")
        DONE = "done", _("已完成")
        FAILED = "failed", pgettext_lazy("export state", "失败")

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="exports")
    kind = models.CharField(max_length=40)  # a name in core.exports.KINDS
    params = models.JSONField(default=dict)  # the list's filters, as the page's query string held them
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    rows_total = models.PositiveBigIntegerField(null=True, blank=True)
    rows_done = models.PositiveBigIntegerField(default=0)
    file_name = models.CharField(max_length=200, blank=True)  # name within the exports storage
    size = models.PositiveBigIntegerField(default=0)
    error = models.CharField(max_length=40, blank=True)  # a code in core.exports.ERRORS
    created_at = models.DateTimeField(default=clock.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    objects = ExportQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["member", "-created_at"], name="export_member_newest"),
            models.Index(fields=["expires_at"], name="export_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} export #{self.pk}"

    @property
    def percent(self) -> int | None:
        if not self.rows_total:
            return 100 if self.state == self.State.DONE else None
        return min(100, self.rows_done * 100 // self.rows_total)


class StateEvent(models.Model):
    """One change of state made by core.states.transition (any model's machine): the history
    pages and reports read; the audit log says who did it."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    object_type = models.CharField(max_length=100)  # app_label.model
    object_id = models.CharField(max_length=64)
    field = models.CharField(max_length=40)
    from_state = models.CharField(max_length=40)
    to_state = models.CharField(max_length=40)
    actor = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=clock.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["object_type", "object_id", "-created_at"], name="stateevent_object"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type}:{self.object_id} {self.from_state} → {self.to_state}"


class Channel(models.Model):
    """Where guanwei sends messages out for an enterprise (core.channels): a webhook, e-mail
    addresses, a DingTalk / WeCom / Feishu robot, or the in-app bell."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", _("Webhook（签名）")
        EMAIL = "email", _("电子邮件")
        DINGTALK = "dingtalk", _("钉钉机器人")
        WECOM = "wecom", _("企业微信机器人")
        FEISHU = "feishu", _("飞书机器人")
        BELL = "bell", _("站内通知")

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    # The robot's or webhook's URL (robots' URLs carry their access token: encrypted), or the
    # e-mail addresses, comma-separated.
    url = EncryptedTextField(_("地址"), blank=True)
    secret = EncryptedTextField(blank=True)  # signing secret (webhook whsec_…, DingTalk SEC…, Feishu)
    # Events (or areas: "account", "export") this channel wants; empty: every event.
    events = models.JSONField(default=list, blank=True)
    bell_action = models.CharField(max_length=64, blank=True)  # bell: the right that sees it
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(default=clock.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "name"], name="channel_name_unique")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def shown_address(self) -> str:
        """What a page may show of the address: e-mail addresses, or a URL's host only."""
        if self.kind == self.Kind.EMAIL:
            return self.url
        if not self.url:
            return ""
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}/…" if parts.hostname else "…"


class Delivery(models.Model):
    """One message sent (or being sent) to one channel, with its attempts (core.channels)."""

    class State(models.TextChoices):
        PENDING = "pending", _("待发送")
        SENDING = "sending", _("发送中")
        DELIVERED = "delivered", _("已送达")
        FAILED = "failed", pgettext_lazy("delivery state", "失败")

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    msg_id = models.CharField(max_length=40, unique=True)  # webhook-id: the same on every retry
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["channel", "-created_at", "-id"], name="delivery_channel_newest"),
            models.Index(
                fields=["next_attempt_at"], condition=models.Q(state__in=["pending", "sending"]),
                name="delivery_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.channel_id} ({self.state})"

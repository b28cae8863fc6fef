"""The inbox (服务策略): what customers say to our accounts — comments on our posts, replies to
our comments, @mentions, reposts with a comment, direct messages — as items to answer, each
triaged (category, urgency), routed to a team, assigned to an agent and timed against the team's
SLA in business hours; and the replies we send, exactly once."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from guanwei.core import clock
from guanwei.core.models import Enterprise, Member, TenantQuerySet
from guanwei.core.states import StateMachine
from guanwei.listening.models import Author, Mention
from guanwei.matrix.models import Account


class Category(models.TextChoices):
    COMPLAINT = "complaint", _("投诉")
    INQUIRY = "inquiry", _("咨询")
    PRAISE = "praise", _("表扬")
    SUGGESTION = "suggestion", _("建议")
    SPAM = "spam", _("垃圾")
    OTHER = "other", _("其他")


class Priority(models.TextChoices):
    URGENT = "urgent", _("紧急")
    NORMAL = "normal", _("普通")
    LOW = "low", _("低")


class ItemStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    PENDING = "pending", _("等待客户")
    SOLVED = "solved", _("已解决")


IS = ItemStatus
ITEM_MACHINE = StateMachine("status", {
    IS.OPEN: {IS.PENDING, IS.SOLVED},
    IS.PENDING: {IS.OPEN, IS.SOLVED},
    IS.SOLVED: {IS.OPEN},  # the customer wrote again
}, audit_action="item.status_changed")  # fmt: skip


class Team(models.Model):
    """A service team: its business hours (with Chinese holidays and 调休 days) and its SLA
    targets per priority, in business minutes."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("名称"), max_length=60)
    hours = models.CharField(_("营业时间"), max_length=300, default="mon-fri 09:00-18:00")
    always_open = models.BooleanField(_("全天候（7×24）"), default=False)
    china_holidays = models.BooleanField(_("按中国法定节假日与调休"), default=True)
    first_response_min = models.JSONField(default=dict)  # priority -> business minutes
    resolution_min = models.JSONField(default=dict)
    assign_mode = models.CharField(max_length=12, default="round_robin")  # round_robin | least_open | manual
    max_open_per_agent = models.PositiveIntegerField(_("每人最多未结工单"), default=30)
    members = models.ManyToManyField(Member, blank=True, related_name="inbox_teams")
    last_assigned = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["enterprise", "name"], name="inbox_team_name")]

    def __str__(self) -> str:
        return self.name


#: Default SLA targets (business minutes) when a team sets none.
FIRST_RESPONSE_MIN = {"urgent": 30, "normal": 120, "low": 480}
RESOLUTION_MIN = {"urgent": 240, "normal": 1440, "low": 4320}


class RoutingRule(models.Model):
    """Which items go to which team: the first rule (by position) whose every condition holds."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(_("名称"), max_length=60)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=12, blank=True, choices=Category.choices)
    rule = models.CharField(_("关键词规则"), max_length=1000, blank=True)  # textkit's query language
    verified_only = models.BooleanField(_("只限认证用户"), default=False)
    urgent_only = models.BooleanField(_("只限紧急"), default=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="rules")

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class ReplyApproval(models.Model):
    """Replies that need a reviewer's approval before they go out (the enterprise chooses: an
    account, a category, or both; empty means any). A supervisor (the right `inbox.approve`)
    approves; the agent's own approval does not count."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=12, blank=True, choices=Category.choices)

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.account_id or '*'}/{self.category or '*'}"


class Item(models.Model):
    """客服工单 — one thing a customer said to one of our accounts that needs an answer."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    mention = models.OneToOneField(Mention, on_delete=models.CASCADE, related_name="inbox_item")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(Author, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=10)  # comment | status (an @mention) | repost | dm
    conversation = models.CharField(max_length=140)  # items of one conversation share it
    excerpt = models.CharField(max_length=140)
    category = models.CharField(_("类别"), max_length=12, choices=Category.choices, default=Category.OTHER)
    priority = models.CharField(_("优先级"), max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    reasons = models.CharField(max_length=200, blank=True)  # why the triage decided so (codes)
    sentiment = models.CharField(max_length=10, blank=True)
    status = models.CharField(_("状态"), max_length=8, choices=ItemStatus.choices, default=IS.OPEN)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="items")
    assignee = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    incident = models.ForeignKey("monitoring.Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="inbox_items")
    said_at = models.DateTimeField()  # on the platform
    created_at = models.DateTimeField(default=clock.now)
    first_response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)  # waiting on the customer since
    warned = models.BooleanField(default=False)  # told before the breach
    breached = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=clock.now)

    objects = TenantQuerySet.as_manager()
    state_machines = {"status": ITEM_MACHINE}

    class Meta:
        indexes = [
            # the agent's inbox: open items of the enterprise, newest first (and by assignee, team)
            models.Index(fields=["enterprise", "status", "-said_at", "-id"], name="item_status_newest"),
            models.Index(fields=["assignee", "status", "-said_at", "-id"], name="item_assignee_newest"),
            models.Index(fields=["team", "status", "-said_at", "-id"], name="item_team_newest"),
            models.Index(fields=["enterprise", "author", "-said_at"], name="item_customer"),
            models.Index(fields=["enterprise", "conversation"], name="item_conversation"),
            # the SLA watch: open items by their next deadline
            models.Index(fields=["first_response_due"], condition=models.Q(first_responded_at__isnull=True, breached=False),
                         name="item_first_due"),  # fmt: skip
        ]

    def __str__(self) -> str:
        return self.excerpt


class ReplyState(models.TextChoices):
    DRAFT = "draft", _("草稿")
    IN_REVIEW = "in_review", _("待审批")
    QUEUED = "queued", _("待发送")
    SENDING = "sending", _("发送中")
    UNCONFIRMED = "unconfirmed", _("待确认")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")


RS = ReplyState
REPLY_MACHINE = StateMachine("state", {
    RS.DRAFT: {RS.IN_REVIEW, RS.QUEUED},
    RS.IN_REVIEW: {RS.QUEUED, RS.DRAFT},
    RS.QUEUED: {RS.SENDING, RS.DRAFT},
    RS.SENDING: {RS.SENT, RS.UNCONFIRMED, RS.FAILED, RS.QUEUED},
    RS.UNCONFIRMED: {RS.SENT, RS.QUEUED, RS.FAILED},
    RS.FAILED: {RS.DRAFT, RS.QUEUED},
}, audit_action="reply.state_changed")  # fmt: skip


class Reply(models.Model):
    """Our answer to an item, sent through the account's connector as a comment reply, a comment
    or a DM — exactly once: claimed by a conditional update; a timeout is unconfirmed and
    reconciled by reading the platform before any second attempt."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="replies")
    member = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    via = models.CharField(max_length=10)  # reply | comment | dm
    state = models.CharField(max_length=12, choices=ReplyState.choices, default=RS.DRAFT)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    platform_id = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=300, blank=True)
    approved_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=clock.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()
    state_machines = {"state": REPLY_MACHINE}

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"], condition=models.Q(state__in=["queued", "unconfirmed", "sending"]),
                                name="reply_due")]  # fmt: skip

    def __str__(self) -> str:
        return self.text[:30]


class ItemNote(models.Model):
    """An internal note on an item (never sent), with @member mentions told to them."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="notes")
    member = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return self.text[:30]


class CustomerNote(models.Model):
    """What the service team keeps about a customer (a platform user), across accounts: tags
    (VIP, 多次投诉, 媒体 …) and a note. Shown in the customer panel of each of their items."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    author = models.OneToOneField(Author, on_delete=models.CASCADE, related_name="service_note")
    tags = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    updated_by = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=clock.now)

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return ", ".join(self.tags)


class CannedReply(models.Model):
    """A saved answer with variables: {customer}, {account}, {order} …"""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(_("标题"), max_length=60)
    text = models.TextField(_("内容"), max_length=2000)
    category = models.CharField(max_length=12, blank=True, choices=Category.choices)
    uses = models.PositiveIntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["enterprise", "title"], name="canned_title")]

    def __str__(self) -> str:
        return self.title

"""Publishing (内容策略 + 工作流程): a Post is what the enterprise wants to say; a Target is the
Post on one account, with its own state, and its Publication is the record of delivering it.

A Target's state moves only through core.states.transition (TARGET_MACHINE): the conditional
update is what makes a due target go out exactly once however many workers look at it."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanwei.core import clock
from guanwei.core.models import Enterprise, Member, TenantQuerySet
from guanwei.core.states import StateMachine
from guanwei.matrix.models import Account


class TargetState(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("target state", "草稿")
    IN_REVIEW = "in_review", _("待审核")
    APPROVED = "approved", _("已批准")
    SCHEDULED = "scheduled", _("已排期")
    PUBLISHING = "publishing", _("发布中")
    PUBLISHED = "published", _("已发布")
    FAILED = "failed", pgettext_lazy("target state", "失败")
    UNCONFIRMED = "unconfirmed", _("待确认")
    MISSED = "missed", _("已错过")
    CANCELLED = "cancelled", _("已取消")
    DELETED = "deleted", pgettext_lazy("target state", "已删除")


S = TargetState
TARGET_MACHINE = StateMachine(
    "state",
    {
        S.DRAFT: {S.IN_REVIEW, S.CANCELLED},
        S.IN_REVIEW: {S.APPROVED, S.DRAFT, S.CANCELLED},
        S.APPROVED: {S.SCHEDULED, S.DRAFT, S.CANCELLED},
        # scheduled → published: an assisted manual task, confirmed by the person who posted it
        S.SCHEDULED: {S.PUBLISHING, S.MISSED, S.DRAFT, S.CANCELLED, S.SCHEDULED, S.PUBLISHED},
        # publishing → scheduled: a transient error, tried again later
        S.PUBLISHING: {S.PUBLISHED, S.FAILED, S.UNCONFIRMED, S.SCHEDULED},
        # unconfirmed: the platform may have published it; reconciliation settles it
        S.UNCONFIRMED: {S.PUBLISHED, S.SCHEDULED, S.FAILED},
        S.MISSED: {S.SCHEDULED, S.CANCELLED},
        S.FAILED: {S.SCHEDULED, S.CANCELLED},
        S.PUBLISHED: {S.DELETED},  # deleted on the platform through the connector
        S.CANCELLED: set(),
        S.DELETED: set(),
    },
    audit_action="target.state_changed",
)
OPEN_STATES = (S.DRAFT, S.IN_REVIEW, S.APPROVED, S.SCHEDULED, S.MISSED, S.FAILED)


class ContentKind(models.TextChoices):
    """What a post says; approval chains may differ per kind (product claims need legal)."""

    GENERAL = "general", _("日常内容")
    PRODUCT = "product", _("产品宣称")
    PROMOTION = "promotion", _("营销活动")
    SERVICE = "service", _("服务公告")
    CRISIS = "crisis", _("危机声明")


class Series(models.Model):
    """A content series (COFCO's 过去/现在/未来): posts that belong together over time."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("名称"), max_length=60)
    color = models.CharField(_("颜色"), max_length=7, default="#2563eb")

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["enterprise", "name"], name="series_unique_name")]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    """A campaign (营销活动) with its dates; its posts are tagged with it."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("名称"), max_length=60)
    starts_on = models.DateField(pgettext_lazy("campaign", "开始日期"), null=True, blank=True)
    ends_on = models.DateField(pgettext_lazy("campaign", "结束日期"), null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["enterprise", "name"], name="campaign_unique_name")]

    def __str__(self) -> str:
        return self.name


class PublishingSettings(models.Model):
    """An enterprise's publishing settings (absent: the defaults)."""

    DEFAULT_LATE_CUTOFF = 60

    enterprise = models.OneToOneField(Enterprise, on_delete=models.CASCADE, primary_key=True, related_name="+")
    # A target due longer ago than this (and never tried) is `missed`, and its author is told,
    # rather than going out late: a morning greeting at midnight is worse than none.
    late_cutoff_minutes = models.PositiveIntegerField(_("迟发上限（分钟）"), default=DEFAULT_LATE_CUTOFF)

    def __str__(self) -> str:
        return f"{self.enterprise_id}: {self.late_cutoff_minutes} min"


class PostQuerySet(TenantQuerySet):
    def for_member(self, member: Member) -> TenantQuerySet:
        """A member limited to some accounts sees the posts for those accounts only."""
        qs = self.filter(enterprise_id=member.enterprise_id)
        if member.is_limited_to_accounts:
            # The accounts' own limit rule (Account.objects.for_member), not a copy of it.
            qs = qs.filter(pk__in=Target.objects.filter(
                account__in=Account.objects.for_member(member)
            ).values("post_id"))  # fmt: skip
        return qs


class Post(models.Model):
    """What the enterprise wants to publish, for one or more accounts."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="posts")
    text = models.TextField(_("正文"))
    scheduled_at = models.DateTimeField(_("发布时间"), null=True, blank=True)  # None: as soon as approved
    approved_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revision = models.PositiveIntegerField(default=1)
    content_type = models.CharField(_("内容类型"), max_length=12, choices=ContentKind.choices, default=ContentKind.GENERAL)
    # The emergency path (危机声明): an owner or admin marked it so; one approval is enough.
    emergency = models.BooleanField(_("紧急发布"), default=False)
    series = models.ForeignKey(Series, null=True, blank=True, on_delete=models.SET_NULL, related_name="posts")
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="posts")
    # Repost with comment (转发): the platform id of the post this one reposts; the text is the comment.
    repost_of = models.CharField(_("转发的微博"), max_length=64, blank=True)
    # The real IP of the person who wrote it: Weibo's writes require it (`rip`, PLATFORM_APIS §2).
    rip = models.CharField(max_length=45, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)

    objects = PostQuerySet.as_manager()

    def __str__(self) -> str:
        return self.text[:30]

    @property
    def state(self) -> str:
        """The post's state: its targets' when they agree, else the one furthest from done."""
        states = [t.state for t in self.targets.all()]
        if not states:
            return S.DRAFT
        order = [s.value for s in TargetState]
        return min(states, key=order.index)

    @property
    def state_label(self) -> str:
        return str(TargetState(self.state).label)


class Target(models.Model):
    """The Post on one account, with its own state (TARGET_MACHINE)."""

    state_machines = {"state": TARGET_MACHINE}

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="targets")
    # SET_NULL: an account removed from the matrix keeps its posts' history (an open target
    # then fails at send time, saying why).
    account = models.ForeignKey(Account, null=True, on_delete=models.SET_NULL, related_name="targets")
    text = models.TextField(blank=True)  # the per-account variant ('' = the post's text)
    state = models.CharField(max_length=12, choices=TargetState.choices, default=S.DRAFT)
    due_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    first_sent_at = models.DateTimeField(null=True, blank=True)  # the first send began (reconcile from)
    send_started_at = models.DateTimeField(null=True, blank=True)  # this attempt's send began
    # Sent as Mastodon's Idempotency-Key; the same on every attempt of this target.
    idempotency_key = models.UUIDField(default=uuid.uuid4, editable=False)
    # An assisted manual task: what the API cannot carry (see publishing.manual); a person
    # posts it by hand and pastes the post's URL back. `manual_reason` says why.
    manual_reason = models.CharField(max_length=200, blank=True)
    # Deleting a published post from a parent account waits for a reviewer (publishing.actions).
    delete_requested_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "account"], name="target_one_per_account")]
        indexes = [
            models.Index(fields=["due_at"], condition=models.Q(state="scheduled"), name="target_due"),
            models.Index(fields=["state", "claimed_at"], name="target_state_claimed"),
        ]

    def __str__(self) -> str:
        return f"post {self.post_id} → account {self.account_id} ({self.state})"

    @property
    def body(self) -> str:
        return self.text or self.post.text


class Publication(models.Model):
    """The record of delivering one Target: where it landed, and every attempt's error."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    target = models.OneToOneField(Target, on_delete=models.CASCADE, related_name="publication")
    platform_id = models.CharField(max_length=64, blank=True)
    url = models.CharField(max_length=300, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    found_by_reconciliation = models.BooleanField(default=False)
    errors = models.JSONField(default=list, blank=True)  # [{"at", "kind", "code", "message"}]

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.target_id}: {self.platform_id or '—'}"


class PostRevision(models.Model):
    """Every saved version of a post (the diff view, and what a reviewer saw)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    text = models.TextField()
    variants = models.JSONField(default=dict, blank=True)  # {account id (str): text}
    scheduled_at = models.DateTimeField(null=True, blank=True)
    content_type = models.CharField(max_length=12, default=ContentKind.GENERAL)
    member = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)  # autosave refines the latest revision

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "number"], name="revision_unique_number")]

    def __str__(self) -> str:
        return f"{self.post_id} r{self.number}"


class Verdict(models.TextChoices):
    APPROVE = "approve", _("批准")
    CHANGES = "changes", _("退回修改")
    COMMENT = "comment", _("评论")


class Review(models.Model):
    """A reviewer's word on one revision: an approval (which counts only for that revision),
    a request for changes, or a comment."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reviews")
    revision = models.PositiveIntegerField()
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    comment = models.TextField(blank=True)
    emergency = models.BooleanField(default=False)  # given on the emergency path
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        indexes = [models.Index(fields=["post", "revision"], name="review_post_revision")]

    def __str__(self) -> str:
        return f"{self.post_id} r{self.revision} {self.verdict}"


class SeenRevision(models.Model):
    """The last revision of a post a member has looked at (the queue's "what changed")."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    revision = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "post"], name="seen_one_per_member")]

    def __str__(self) -> str:
        return f"{self.member_id} saw {self.post_id} r{self.revision}"


class TierMode(models.TextChoices):
    ANY = "any", _("任一人批准")
    ALL = "all", _("全部批准")


class ApprovalPolicy(models.Model):
    """An approval chain (工作流程) for some accounts and content types: 1–3 tiers, in order.

    The first policy (by `position`) that fits a target's account and the post's content type
    is the target's chain; a post waits until the chains of all its targets are complete.
    Without any fitting policy, one approval by any reviewer other than the author."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("名称"), max_length=60)
    position = models.PositiveSmallIntegerField(_("顺序"), default=10)
    content_type = models.CharField(_("内容类型"), max_length=12, choices=ContentKind.choices, blank=True,
                                    help_text=_("留空表示所有类型。"))  # fmt: skip
    accounts = models.ManyToManyField(Account, blank=True, related_name="+", verbose_name=_("账号"),
                                      help_text=_("不选表示所有账号。"))  # fmt: skip

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class ApprovalTier(models.Model):
    """One tier of a chain: any one of its reviewers, or all of them. Without named reviewers,
    any member who may review (and is not the author)."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="tiers")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(_("名称"), max_length=40, blank=True)
    mode = models.CharField(_("方式"), max_length=3, choices=TierMode.choices, default=TierMode.ANY)
    reviewers = models.ManyToManyField(Member, blank=True, related_name="+", verbose_name=_("审核人"))

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["policy", "position"], name="tier_unique_position")]

    def __str__(self) -> str:
        return f"{self.policy_id}#{self.position}"


class WordAction(models.TextChoices):
    BLOCK = "block", _("禁止发布")
    WARN = "warn", _("提醒")


class SensitiveWord(models.Model):
    """The enterprise's sensitive-word list (敏感词). Matched folded (traditional/simplified,
    full/half width, case), by textkit's automaton; `block` stops a post, `warn` shows it."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    word = models.CharField(_("词"), max_length=50)
    folded = models.CharField(max_length=50)
    action = models.CharField(_("处理"), max_length=5, choices=WordAction.choices, default=WordAction.BLOCK)
    note = models.CharField(_("备注"), max_length=100, blank=True)
    updated_at = models.DateTimeField(default=clock.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["enterprise", "folded"], name="word_unique_folded")]

    def __str__(self) -> str:
        return self.word


def _image_path(instance: PostImage, filename: str) -> str:
    return f"posts/{instance.post.enterprise_id}/{uuid.uuid4().hex}{filename[filename.rfind('.'):][:6]}"


class PostImage(models.Model):
    """One of up to 9 images of a post (checked: type, size, pixels), with its thumbnail.
    Served only through publishing's image view (the post's rights), never as public media."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=_image_path, max_length=200)
    thumb = models.FileField(upload_to=_image_path, max_length=200)
    mime = models.CharField(max_length=20)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name or str(self.pk)

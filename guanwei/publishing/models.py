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


S = TargetState
TARGET_MACHINE = StateMachine(
    "state",
    {
        S.DRAFT: {S.IN_REVIEW, S.CANCELLED},
        S.IN_REVIEW: {S.APPROVED, S.DRAFT, S.CANCELLED},
        S.APPROVED: {S.SCHEDULED, S.DRAFT, S.CANCELLED},
        S.SCHEDULED: {S.PUBLISHING, S.MISSED, S.DRAFT, S.CANCELLED, S.SCHEDULED},
        # publishing → scheduled: a transient error, tried again later
        S.PUBLISHING: {S.PUBLISHED, S.FAILED, S.UNCONFIRMED, S.SCHEDULED},
        # unconfirmed: the platform may have published it; reconciliation settles it
        S.UNCONFIRMED: {S.PUBLISHED, S.SCHEDULED, S.FAILED},
        S.MISSED: {S.SCHEDULED, S.CANCELLED},
        S.FAILED: {S.SCHEDULED, S.CANCELLED},
        S.PUBLISHED: set(),
        S.CANCELLED: set(),
    },
    audit_action="target.state_changed",
)
OPEN_STATES = (S.DRAFT, S.IN_REVIEW, S.APPROVED, S.SCHEDULED, S.MISSED, S.FAILED)


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

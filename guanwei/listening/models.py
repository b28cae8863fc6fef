"""Listening (聆听): everything that comes in. Streams (what is read for an account, with its
cursor), the runs that read them (coverage), platform users as authors, Mentions (each platform
item once per enterprise, with the processing every area wants: normalised text, sentiment,
emotion, fingerprint and voice), fans-service pushes stored before they are processed, and the
consumers' cursors."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanwei.core import clock
from guanwei.core.models import Enterprise, TenantQuerySet
from guanwei.matrix.models import Account, Connection


class StreamKind(models.TextChoices):
    MENTIONS = "mentions", _("@我的微博")
    COMMENT_MENTIONS = "comment_mentions", _("@我的评论")
    COMMENTS_TO_ME = "comments_to_me", _("收到的评论")
    DIRECT_MESSAGES = "direct_messages", _("私信")
    POST_COMMENTS = "post_comments", _("某条微博的评论")
    POST_REPOSTS = "post_reposts", _("某条微博的转发")
    SEARCH = "search", _("关键词搜索")


# The connector's read for each kind, and the capability that allows it.
READS = {
    StreamKind.MENTIONS: ("mentions", "mentions"),
    StreamKind.COMMENT_MENTIONS: ("comment_mentions", "comment_mentions"),
    StreamKind.COMMENTS_TO_ME: ("comments_to_me", "comments"),
    StreamKind.DIRECT_MESSAGES: ("direct_messages", "direct_messages"),
    StreamKind.POST_COMMENTS: ("comments_on", "comments"),
    StreamKind.POST_REPOSTS: ("reposts_of", "reposts"),
    StreamKind.SEARCH: ("search", "search"),
}
DEFAULT_KINDS = (
    StreamKind.MENTIONS, StreamKind.COMMENT_MENTIONS, StreamKind.COMMENTS_TO_ME,
    StreamKind.DIRECT_MESSAGES,
)  # fmt: skip


class AccountScopedQuerySet(TenantQuerySet):
    def for_member(self, member):  # type: ignore[no-untyped-def]
        """Within a member's account limit, the accounts' own rule (Account.objects.for_member)."""
        qs = self.filter(enterprise_id=member.enterprise_id)
        if member.is_limited_to_accounts:
            qs = qs.filter(account__in=Account.objects.for_member(member))
        return qs


class Stream(models.Model):
    """One thing listening reads for an account, with its cursor. The cursor moves only in the
    transaction that stored what was read, so a crash re-reads, never skips."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="streams")
    kind = models.CharField(_("类型"), max_length=20, choices=StreamKind.choices)
    target = models.CharField(max_length=200, blank=True)  # a post id, or a search query
    cursor = models.CharField(max_length=64, blank=True)  # the newest item id stored (since_id)
    interval_s = models.PositiveIntegerField(default=60)
    is_active = models.BooleanField(default=True)
    next_poll_at = models.DateTimeField(default=clock.now)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    newest_item_at = models.DateTimeField(null=True, blank=True)  # platform time of the cursor's item
    last_error = models.CharField(max_length=40, blank=True)  # a PlatformError kind ('' when fine)
    last_error_detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=clock.now)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "target"], name="stream_unique")
        ]
        indexes = [
            models.Index(fields=["next_poll_at"], condition=models.Q(is_active=True), name="stream_due")
        ]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.kind}{':' + self.target if self.target else ''}"


class StreamRun(models.Model):
    """One read of a stream (coverage): when, what it fetched and stored, or why it got nothing
    — so a chart can say "no data (token expired)" instead of "no posts"."""

    class Outcome(models.TextChoices):
        OK = "ok", _("正常")
        RATE_LIMITED = "rate_limited", _("被限流")
        TOKEN_EXPIRED = "auth_expired", _("授权失效")
        FORBIDDEN = "forbidden", _("无权读取")
        UNAVAILABLE = "unavailable", _("平台不可用")
        ERROR = "error", pgettext_lazy("stream run", "出错")

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    fetched = models.PositiveIntegerField(default=0)
    stored = models.PositiveIntegerField(default=0)
    detail = models.CharField(max_length=300, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["stream", "-started_at"], name="streamrun_stream_newest")]

    def __str__(self) -> str:
        return f"{self.stream_id} {self.started_at:%Y-%m-%d %H:%M:%S} {self.outcome}"


class Author(models.Model):
    """A platform user as listening last saw them (cached; refreshed when they appear again)."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    platform = models.CharField(max_length=100)
    remote_id = models.CharField(max_length=64)
    screen_name = models.CharField(max_length=100, blank=True)
    verified_type = models.IntegerField(null=True, blank=True)
    followers_count = models.PositiveIntegerField(null=True, blank=True)
    region = models.CharField(max_length=60, blank=True)
    gender = models.CharField(max_length=4, blank=True)
    refreshed_at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "platform", "remote_id"], name="author_unique")
        ]

    def __str__(self) -> str:
        return self.screen_name or self.remote_id


class Voice(models.Model):
    """A group of near-duplicate mentions (reposts, copy-paste 水军) counted once."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    fingerprint = models.BigIntegerField()
    size = models.PositiveIntegerField(default=0)
    first_seen_at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "fingerprint"], name="voice_unique")
        ]

    def __str__(self) -> str:
        return f"voice {self.fingerprint:x} ×{self.size}"


KIND_LABELS = {
    "status": pgettext_lazy("mention kind", "微博"), "comment": pgettext_lazy("mention kind", "评论"),
    "repost": pgettext_lazy("mention kind", "转发"), "dm": pgettext_lazy("mention kind", "私信"),
}  # fmt: skip
SENTIMENT_LABELS = {"positive": _("正面"), "neutral": _("中性"), "negative": _("负面")}
EMOTION_LABELS = {
    "happy": _("喜悦"), "angry": _("愤怒"), "sad": _("悲伤"), "fear": _("恐惧"),
    "surprise": _("惊讶"), "neutral": pgettext_lazy("emotion", "平静"),
}  # fmt: skip


class Mention(models.Model):
    """A platform post, comment, repost or DM that listening stored once for the enterprise,
    whichever stream, push or import brought it. Areas consume mentions in id order."""

    class Source(models.TextChoices):
        POLL = "poll", _("轮询")
        PUSH = "push", _("推送")
        IMPORT = "import", _("导入")

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    platform = models.CharField(max_length=100)  # e.g. "weibo:api.weibo.com"
    remote_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=10)  # status | comment | repost | dm (platforms.base)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    stream = models.ForeignKey(Stream, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.POLL)
    author = models.ForeignKey(Author, null=True, blank=True, on_delete=models.SET_NULL, related_name="mentions")
    text = models.TextField()
    normalized = models.TextField()
    url = models.CharField(max_length=300, blank=True)
    thread_id = models.CharField(max_length=64)  # the status a comment/repost belongs to, or its own id
    in_reply_to_id = models.CharField(max_length=64, blank=True)
    reply_to_comment_id = models.CharField(max_length=64, blank=True)
    sentiment = models.CharField(max_length=10)  # positive | neutral | negative
    emotion = models.CharField(max_length=10)  # happy angry sad fear surprise neutral
    fingerprint = models.BigIntegerField()
    voice = models.ForeignKey(Voice, null=True, blank=True, on_delete=models.SET_NULL, related_name="mentions")
    created_at = models.DateTimeField()  # on the platform
    received_at = models.DateTimeField(default=clock.now)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "platform", "remote_id"], name="mention_unique")
        ]
        indexes = [
            models.Index(fields=["enterprise", "-received_at", "-id"], name="mention_newest"),
            models.Index(fields=["account", "-received_at", "-id"], name="mention_account_newest"),
            models.Index(fields=["enterprise", "thread_id"], name="mention_thread"),
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.remote_id}"

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS.get(self.kind, self.kind))

    @property
    def sentiment_label(self) -> str:
        return str(SENTIMENT_LABELS.get(self.sentiment, self.sentiment))

    @property
    def emotion_label(self) -> str:
        return str(EMOTION_LABELS.get(self.emotion, self.emotion))


class Push(models.Model):
    """A fans-service push as it arrived (stored first, answered at once, processed later)."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    body = models.JSONField()
    received_at = models.DateTimeField(default=clock.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=100, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["received_at"], condition=models.Q(processed_at__isnull=True), name="push_unprocessed")
        ]

    def __str__(self) -> str:
        return f"push {self.pk} ({self.outcome or 'pending'})"


class ConsumerCursor(models.Model):
    """How far a consumer (monitoring, the inbox…) has read the mentions, by id."""

    name = models.CharField(max_length=60, unique=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"{self.name}@{self.last_id}"


class ImportState(models.TextChoices):
    QUEUED = "queued", _("排队中")
    CHECKING = "checking", _("校验中")
    LOADING = "loading", _("导入中")
    DONE = "done", _("已完成")
    REJECTED = "rejected", _("已拒绝")  # a bad row: nothing loaded
    FAILED = "failed", _("失败")  # the server's fault (logged)


class Import(models.Model):
    """A file of mentions bought from a 舆情 vendor or crawled by the enterprise's own tools
    (listening.imports): checked whole, then stored through listening like any other source."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey("core.Member", null=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=200)  # the file's name as uploaded
    path = models.CharField(max_length=500)  # where the upload is kept until it is loaded
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    layout = models.CharField(max_length=20, blank=True)  # listening.imports.LAYOUTS, found in the file
    state = models.CharField(max_length=10, choices=ImportState.choices, default=ImportState.QUEUED)
    rows = models.PositiveIntegerField(default=0)  # records in the file (known after the check)
    done = models.PositiveIntegerField(default=0)  # records loaded
    bytes_checked = models.BigIntegerField(default=0)  # of the file as uploaded (the check's progress)
    stored = models.PositiveIntegerField(default=0)  # new mentions
    duplicates = models.PositiveIntegerField(default=0)  # already stored (a re-import, or polled)
    errors = models.JSONField(default=list, blank=True)  # ["file:line: reason", …] (the first 50)
    created_at = models.DateTimeField(default=clock.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["enterprise", "-created_at"], name="import_newest")]

    def __str__(self) -> str:
        return f"import {self.pk} {self.name}"

    @property
    def is_finished(self) -> bool:
        return self.state in (ImportState.DONE, ImportState.REJECTED, ImportState.FAILED)

    @property
    def percent(self) -> int:
        if self.state == ImportState.DONE:
            return 100
        if self.state == ImportState.LOADING and self.rows:
            return min(99, 50 + 50 * self.done // self.rows)  # the check was the first half
        if self.state == ImportState.CHECKING and self.size:
            return min(49, 50 * self.bytes_checked // self.size)
        return 0

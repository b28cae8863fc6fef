"""The sandbox platform's own data (tables `sandbox_*`): a small Weibo with apps, users, tokens,
statuses, comments, likes, follows, direct messages, fans-service pushes, faults and rate-limit
counters. guanwei never reads these tables; it talks to the sandbox over HTTP like to Weibo.

Change state only through `guanwei.sandbox.store` (counters and ids are kept there).
"""

from __future__ import annotations

import hashlib

from django.db import models
from django.utils.translation import gettext_lazy as _

from guanwei.core.crypto import EncryptedTextField


class Sequence(models.Model):
    """Monotonic id allocator (one row per name), used for Weibo-like uids and 16-digit mids.

    Ids are handed out in blocks by one conditional UPDATE, so bulk writers pay one query per
    batch and two processes can never get the same id on SQLite or PostgreSQL."""

    name = models.CharField(max_length=32, primary_key=True)
    value = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class AppLevel(models.TextChoices):
    """授权级别: decides the default token lifetime (see PLATFORM_APIS §1.5)."""

    TEST = "test", _("测试（未审核）")
    NORMAL = "normal", _("普通")
    MONTHLY = "monthly", _("30 天")
    DEVELOPER = "developer", _("开发者本人")


class App(models.Model):
    """An app registered on the sandbox (my apps → 应用信息): key, secret, safe domains, limits."""

    app_key = models.CharField(max_length=20, unique=True)
    # Encrypted at rest (GUANWEI_SECRET_KEYS), like guanwei's own secrets: the platform needs it
    # back to sign fans-service pushes, so a hash would not do.
    app_secret = EncryptedTextField()
    name = models.CharField(max_length=100)
    level = models.CharField(max_length=16, choices=AppLevel.choices, default=AppLevel.NORMAL)
    # Overrides the level's lifetime when set (seconds).
    token_lifetime_s = models.PositiveIntegerField(null=True, blank=True)
    # 安全域名: comma- or newline-separated host names; a shared link must be under one of them.
    safe_domains = models.TextField(blank=True)
    # 授权回调页: newline-separated; an entry without a path admits every path on that origin.
    redirect_uris = models.TextField(blank=True)
    is_commercial = models.BooleanField(default=False)  # may call search/statuses/limited
    is_audited = models.BooleanField(default=True)  # unaudited: only test accounts may authorise
    # Overrides of ratelimit.DEFAULT_LIMITS and the posting rules (see guanwei.sandbox.ratelimit).
    limits = models.JSONField(default=dict, blank=True)
    test_users = models.ManyToManyField("SandboxUser", blank=True, related_name="test_of_apps")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "sandbox_app"

    def __str__(self) -> str:
        return f"{self.name} ({self.app_key})"


class Gender(models.TextChoices):
    MALE = "m", _("男")
    FEMALE = "f", _("女")
    UNKNOWN = "n", _("未知")


class SandboxUser(models.Model):
    """A user of the sandbox platform: official accounts, simulated netizens, replayed users."""

    id = models.BigIntegerField(primary_key=True)  # the uid, 10 digits
    screen_name = models.CharField(max_length=60, unique=True)
    password = models.CharField(max_length=200, blank=True)  # django hash; "" = cannot sign in
    description = models.CharField(max_length=300, blank=True)
    url = models.CharField(max_length=200, blank=True)
    domain = models.CharField(max_length=60, blank=True)
    province = models.CharField(max_length=8, default="100")  # Weibo codes, e.g. "11" Beijing
    city = models.CharField(max_length=8, default="1000")
    location = models.CharField(max_length=60, blank=True)  # "北京 朝阳区"
    gender = models.CharField(max_length=1, choices=Gender.choices, default=Gender.UNKNOWN)
    verified = models.BooleanField(default=False)
    verified_type = models.IntegerField(default=-1)  # −1 ordinary, 0 celebrity, 2 enterprise…
    verified_reason = models.CharField(max_length=200, blank=True)
    is_official = models.BooleanField(default=False)  # an enterprise's official account
    allow_all_comment = models.BooleanField(default=True)  # False: only people it follows (20206)
    allow_all_act_msg = models.BooleanField(default=True)
    followers_count = models.IntegerField(default=0)
    friends_count = models.IntegerField(default=0)
    statuses_count = models.IntegerField(default=0)
    favourites_count = models.IntegerField(default=0)
    bi_followers_count = models.IntegerField(default=0)
    # Simulated netizens: free-form persona name, bot flag and any traits the scenarios need.
    persona = models.CharField(max_length=40, blank=True)
    is_bot = models.BooleanField(default=False)
    traits = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "sandbox_user"

    def __str__(self) -> str:
        return self.screen_name


def hash_credential(raw: str) -> str:
    """SHA-256 of a token or code: what the platform looks credentials up by."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


class Token(models.Model):
    """An OAuth2 access token of one user for one app (Weibo tokens look like `2.00…`).

    Stored as a real platform would: looked up by its SHA-256 (`token_hash`), never in clear
    text. Weibo hands the *same* token back when a user re-authorises within its validity, so
    the platform keeps it too, encrypted (`token_sealed`), to give it back then."""

    token_hash = models.CharField(max_length=64, unique=True)
    token_sealed = EncryptedTextField()
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="tokens")
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="tokens")
    scope = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "sandbox_token"
        indexes = [models.Index(fields=["app", "user"], name="sandbox_token_app_user")]

    def __str__(self) -> str:
        return f"token of {self.user_id} for app {self.app_id}"

    @property
    def token(self) -> str:
        """The token itself (decrypted): only for handing it to its app."""
        return self.token_sealed

    @classmethod
    def matching(cls, raw: str) -> models.QuerySet[Token]:
        return cls.objects.filter(token_hash=hash_credential(raw))


class AuthCode(models.Model):
    """A one-time authorization code (oauth2/authorize → oauth2/access_token). Only its SHA-256
    is stored; the code itself is in the redirect and nowhere else."""

    code_hash = models.CharField(max_length=64, unique=True)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="+")
    redirect_uri = models.CharField(max_length=500)
    scope = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "sandbox_authcode"

    def __str__(self) -> str:
        return f"code for {self.user_id}"


class Picture(models.Model):
    """An uploaded image (statuses/share `pic`), served back under /sandbox/pic/."""

    id = models.BigIntegerField(primary_key=True)
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="+")
    content_type = models.CharField(max_length=20)
    data = models.BinaryField()
    size = models.IntegerField()
    created_at = models.DateTimeField()

    class Meta:
        db_table = "sandbox_picture"

    def __str__(self) -> str:
        return f"pic {self.pk}"


class Status(models.Model):
    """A 微博: original or repost. Soft-deleted (`deleted_at`) so repost chains stay intact."""

    id = models.BigIntegerField(primary_key=True)  # 16-digit mid; idstr and mid are its string
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="statuses")
    text = models.TextField()
    app = models.ForeignKey(App, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The original at the root of a repost chain (Weibo's `retweeted_status`) and the direct parent.
    retweeted_status = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="all_reposts"
    )
    repost_parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="direct_reposts"
    )
    picture = models.ForeignKey(Picture, on_delete=models.SET_NULL, null=True, blank=True)
    visible_type = models.SmallIntegerField(default=0)  # 0 normal, 1 private, 3 group, 4 密友
    # Posted through an unaudited app: visible only to its author and the app's test accounts.
    is_test_only = models.BooleanField(default=False)
    reposts_count = models.IntegerField(default=0)
    comments_count = models.IntegerField(default=0)
    attitudes_count = models.IntegerField(default=0)
    rip = models.CharField(max_length=45, blank=True)
    mentioned = models.ManyToManyField(
        SandboxUser, blank=True, related_name="mentioned_in_statuses"
    )
    created_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "sandbox_status"
        indexes = [
            # user_timeline, duplicate checks: a user's latest statuses by id.
            models.Index(fields=["user", "-id"], name="sandbox_status_user_id"),
            # the public timeline and search by time.
            models.Index(fields=["created_at"], name="sandbox_status_created"),
        ]

    def __str__(self) -> str:
        return f"{self.pk}: {self.text[:30]}"


class Comment(models.Model):
    """A 评论 on a status, optionally replying to another comment."""

    id = models.BigIntegerField(primary_key=True)
    status = models.ForeignKey(Status, on_delete=models.CASCADE, related_name="comments")
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="comments")
    text = models.TextField()
    reply_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    app = models.ForeignKey(App, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    rip = models.CharField(max_length=45, blank=True)
    mentioned = models.ManyToManyField(
        SandboxUser, blank=True, related_name="mentioned_in_comments"
    )
    created_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "sandbox_comment"
        indexes = [models.Index(fields=["status", "-id"], name="sandbox_comment_status_id")]

    def __str__(self) -> str:
        return f"{self.pk}: {self.text[:30]}"


class Like(models.Model):
    """An attitude (点赞) on a status."""

    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="+")
    status = models.ForeignKey(Status, on_delete=models.CASCADE, related_name="likes")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "sandbox_like"
        constraints = [models.UniqueConstraint(fields=["user", "status"], name="sandbox_like_once")]

    def __str__(self) -> str:
        return f"{self.user_id} likes {self.status_id}"


class Follow(models.Model):
    """`follower` follows `followee`. Ordered by id for cursor paging of follower lists."""

    follower = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="following")
    followee = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="followed_by")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "sandbox_follow"
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="sandbox_follow_once")
        ]
        indexes = [models.Index(fields=["followee", "-id"], name="sandbox_follow_followee_id")]

    def __str__(self) -> str:
        return f"{self.follower_id} → {self.followee_id}"


class MessageType(models.TextChoices):
    TEXT = "text", "text"
    IMAGE = "image", "image"
    VOICE = "voice", "voice"
    POSITION = "position", "position"
    EVENT = "event", "event"
    MENTION = "mention", "mention"
    ARTICLES = "articles", "articles"


class Message(models.Model):
    """A 私信 or fans-service event between a user and an account (both directions).

    Events (`type=event`, subtype follow/unfollow/subscribe/…) and @-mention notices
    (`type=mention`) are stored here too: they open or close the messages/reply windows."""

    id = models.BigIntegerField(primary_key=True)
    sender = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="+")
    receiver = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=12, choices=MessageType.choices, default=MessageType.TEXT)
    subtype = models.CharField(max_length=20, blank=True)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    # Set on replies sent through messages/reply (or passive replies in the push response).
    app = models.ForeignKey(App, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "sandbox_message"
        indexes = [
            models.Index(fields=["sender", "receiver", "-id"], name="sandbox_message_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.sender_id} → {self.receiver_id}"


class FanService(models.Model):
    """粉丝服务平台 developer mode of one account: callback URL and the app whose secret signs."""

    user = models.OneToOneField(SandboxUser, on_delete=models.CASCADE, related_name="fan_service")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    callback_url = models.CharField(max_length=500)
    is_verified = models.BooleanField(default=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    push_mentions = models.BooleanField(default=True)  # needs Weibo's extra grant in reality

    class Meta:
        db_table = "sandbox_fanservice"

    def __str__(self) -> str:
        return f"fans service of {self.user_id}"


class PushState(models.TextChoices):
    PENDING = "pending", _("待推送")
    DELIVERED = "delivered", _("已送达")
    FAILED = "failed", _("失败")


class Push(models.Model):
    """One signed delivery of a Message to an account's callback URL (5 s timeout, 3 tries)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="pushes")
    fan_service = models.ForeignKey(FanService, on_delete=models.CASCADE, related_name="pushes")
    state = models.CharField(max_length=12, choices=PushState.choices, default=PushState.PENDING)
    attempts = models.SmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "sandbox_push"

    def __str__(self) -> str:
        return f"push {self.pk} ({self.state})"


class FaultKind(models.TextChoices):
    HTTP_5XX = "http_5xx", _("服务器错误 5xx")
    TIMEOUT = "timeout", _("超时（不执行）")
    RATE_LIMIT = "rate_limit", _("限流错误")
    EXPIRED_TOKEN = "expired_token", _("令牌过期")
    RESPONSE_LOST = "response_lost", _("已执行但响应丢失")


class Fault(models.Model):
    """An injected failure: for one app (or all), on endpoints matching a glob pattern
    (`statuses/share`, `comments/*`, `oauth2/*`), with a probability and/or for the next N calls."""

    app = models.ForeignKey(
        App, on_delete=models.CASCADE, null=True, blank=True, related_name="faults"
    )
    endpoint = models.CharField(max_length=100, default="*")
    kind = models.CharField(max_length=16, choices=FaultKind.choices)
    probability = models.FloatField(default=1.0)
    remaining_calls = models.IntegerField(null=True, blank=True)  # None = unlimited
    delay_s = models.FloatField(default=15.0)  # timeout / response_lost: how long to hang
    http_status = models.SmallIntegerField(default=503)  # http_5xx: 500, 502, 503, 504
    error_code = models.IntegerField(null=True, blank=True)  # rate_limit: 10022/10023/10024
    is_enabled = models.BooleanField(default=True)
    hits = models.IntegerField(default=0)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "sandbox_fault"

    def __str__(self) -> str:
        return f"{self.kind} on {self.endpoint}"


class RateCounter(models.Model):
    """Calls in one window of one bucket (`ip:1.2.3.4`, `user:APP:UID`, `posts:APP:UID`…)."""

    bucket = models.CharField(max_length=120)
    window_start = models.DateTimeField()
    count = models.IntegerField(default=0)

    class Meta:
        db_table = "sandbox_ratecounter"
        constraints = [
            models.UniqueConstraint(fields=["bucket", "window_start"], name="sandbox_rate_window")
        ]

    def __str__(self) -> str:
        return f"{self.bucket}@{self.window_start}: {self.count}"


# Runs of scenarios/replays and the hot-search board live in their own module (scenarios helper).
from .models_runs import HotSearchEntry, Run, RunKind, RunState  # noqa: E402, F401

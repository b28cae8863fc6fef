"""Monitoring (舆情监控): monitors are rules in textkit's query language; every mention that
listening stores is matched against all of an enterprise's monitors in one pass (a listening
consumer), each match stored once per mention × monitor, and counted per minute."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanwei.core import clock
from guanwei.core.models import Channel, Enterprise, Member, TenantQuerySet
from guanwei.core.states import StateMachine
from guanwei.listening.models import Mention

EMOTIONS = ("happy", "angry", "sad", "fear", "surprise", "neutral")


class MonitorGroup(models.TextChoices):
    BRAND = "brand", _("品牌")
    PRODUCT = "product", pgettext_lazy("monitor group", "产品")
    COMPETITOR = "competitor", _("竞品")
    EXECUTIVE = "executive", _("高管")
    CUSTOM = "custom", _("自定义")


class Monitor(models.Model):
    """A named rule (docs/query-language.md) the enterprise watches."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("名称"), max_length=60)
    group = models.CharField(_("分组"), max_length=12, choices=MonitorGroup.choices, default=MonitorGroup.BRAND)
    rule = models.TextField(_("规则"))
    is_active = models.BooleanField(_("启用"), default=True)
    created_by = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)
    # Matches before this moment were made by an earlier rule (or not at all): the dashboard says so.
    rule_since = models.DateTimeField(default=clock.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["enterprise", "name"], name="monitor_unique_name")]

    def __str__(self) -> str:
        return self.name


class MonitorMatch(models.Model):
    """One mention matched by one monitor, with what the counters and filters need."""

    # No index of their own for `enterprise` and `monitor`: every lookup by monitor uses the two
    # below (monitor first), and the enterprise's is needed only to delete an enterprise. Each
    # index costs the hot insert path (thousands of matches a second).
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+", db_index=False)
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="matches", db_index=False)
    mention = models.ForeignKey(Mention, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()  # the mention's time on the platform
    sentiment = models.CharField(max_length=10)
    emotion = models.CharField(max_length=10)
    voice_id = models.BigIntegerField(null=True)
    verified = models.BooleanField(default=False)
    followers = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["monitor", "mention"], name="match_once")]
        indexes = [models.Index(fields=["monitor", "-created_at", "-id"], name="match_newest")]

    def __str__(self) -> str:
        return f"{self.monitor_id}×{self.mention_id}"


class Counters(models.Model):
    """What a monitor counts of its matches in a span of time."""

    volume = models.PositiveIntegerField(default=0)
    positive = models.PositiveIntegerField(default=0)
    neutral = models.PositiveIntegerField(default=0)
    negative = models.PositiveIntegerField(default=0)
    happy = models.PositiveIntegerField(default=0)
    angry = models.PositiveIntegerField(default=0)
    sad = models.PositiveIntegerField(default=0)
    fear = models.PositiveIntegerField(default=0)
    surprise = models.PositiveIntegerField(default=0)
    calm = models.PositiveIntegerField(default=0)  # the emotion "neutral"
    reach = models.BigIntegerField(default=0)  # followers of the authors, summed
    verified = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class MinuteCount(Counters):
    """A monitor's counters for one minute (of the mentions' platform time), rolled up into
    HourCount; unique voices are counted from the matches (a voice spans minutes)."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="counts", db_index=False)  # the unique below
    minute = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["monitor", "minute"], name="count_per_minute")]

    def __str__(self) -> str:
        return f"{self.monitor_id}@{self.minute:%Y-%m-%d %H:%M}: {self.volume}"


class HourCount(Counters):
    """A monitor's counters for one hour (UTC): the sum of its MinuteCount rows, kept beside them
    in the same transaction, so charts and totals over days read 24 rows a day instead of 1,440."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="hour_counts", db_index=False)  # the unique below
    hour = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["monitor", "hour"], name="count_per_hour")]

    def __str__(self) -> str:
        return f"{self.monitor_id}@{self.hour:%Y-%m-%d %H}h: {self.volume}"


COUNTERS = ("volume", "positive", "neutral", "negative", "happy", "angry", "sad", "fear", "surprise", "calm",
            "reach", "verified")  # fmt: skip


class AlertRule(models.Model):
    """When a monitor raises an alert (monitoring.spikes), and whom it tells."""

    monitor = models.OneToOneField(Monitor, on_delete=models.CASCADE, primary_key=True, related_name="alert_rule")
    is_active = models.BooleanField(_("启用预警"), default=True)
    min_volume = models.PositiveIntegerField(_("最小声量（每小时）"), default=10)
    factor = models.FloatField(_("倍数"), default=3.0, help_text=_("声量或负面提及达到基线的几倍时预警。"))
    negative_share = models.FloatField(_("负面占比"), default=0.5, help_text=_("负面提及占比达到多少时才算负面激增。"))
    min_duration = models.PositiveIntegerField(_("持续（分钟）"), default=10, help_text=_("异常须持续这么久才预警，避免一闪而过的噪声。"))
    quiet_start = models.TimeField(_("免打扰开始"), null=True, blank=True)
    quiet_end = models.TimeField(_("免打扰结束"), null=True, blank=True)
    cooldown = models.PositiveIntegerField(_("最短间隔（分钟）"), default=60, help_text=_("同一监控同类预警的最短间隔；更严重时立即升级。"))
    channels = models.ManyToManyField(Channel, blank=True, related_name="+", verbose_name=_("通知渠道"),
                                      help_text=_("不选表示订阅了预警的所有渠道。"))  # fmt: skip
    # The storms under way, per kind (monitoring.spikes.decide): one alert per episode
    episodes = models.JSONField(default=dict, blank=True, editable=False)

    def __str__(self) -> str:
        return f"rule of {self.monitor_id}"


class AlertKind(models.TextChoices):
    VOLUME = "volume", _("声量激增")
    NEGATIVE = "negative", _("负面激增")
    HOT_SEARCH = "hot_search", _("登上热搜")


class Alert(models.Model):
    """A spike a monitor saw: how bad (severity 1–10) and why, in plain words."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=10, choices=AlertKind.choices)
    severity = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=300)
    volume = models.PositiveIntegerField()  # in the window (the last hour)
    baseline = models.FloatField()
    window_end = models.DateTimeField()
    sent = models.BooleanField(default=False)  # False: quiet hours (recorded, not sent)
    created_at = models.DateTimeField(default=clock.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["enterprise", "-created_at"], name="alert_newest")]

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.kind} {self.severity}"


class IncidentState(models.TextChoices):
    OPEN = "open", _("已开启")
    RESPONDING = "responding", _("应对中")
    MONITORING = "monitoring", _("观察中")
    CLOSED = "closed", _("已关闭")


IS = IncidentState
INCIDENT_MACHINE = StateMachine(
    "state",
    {
        IS.OPEN: {IS.RESPONDING, IS.MONITORING, IS.CLOSED},
        IS.RESPONDING: {IS.MONITORING, IS.CLOSED},
        IS.MONITORING: {IS.RESPONDING, IS.CLOSED},
        IS.CLOSED: {IS.RESPONDING},  # the storm came back
    },
    audit_action="incident.state_changed",
)


class Incident(models.Model):
    """A crisis (危机公关) being handled: how bad, who owns it, where it stands, and its story."""

    state_machines = {"state": INCIDENT_MACHINE}

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(_("标题"), max_length=120)
    severity = models.PositiveSmallIntegerField(_("严重度"), default=5)
    state = models.CharField(_("状态"), max_length=12, choices=IncidentState.choices, default=IS.OPEN)
    owner = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("负责人"))  # fmt: skip
    monitor = models.ForeignKey(Monitor, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents",
                                verbose_name=_("相关监控"))  # fmt: skip
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    opened_by = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    opened_at = models.DateTimeField(default=clock.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["enterprise", "-opened_at"], name="incident_newest")]

    def __str__(self) -> str:
        return self.title


class IncidentNote(models.Model):
    """A note or a task in an incident's log."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notes")
    member = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    is_task = models.BooleanField(default=False)
    done = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return self.text[:30]


class IncidentStatement(models.Model):
    """A statement (危机声明) drafted in an incident's room: a publishing Post, sent through its
    approval (the emergency path where the author may take it) and linked to the incident."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="statement_links")
    post = models.ForeignKey("publishing.Post", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "post"], name="incident_statement_once")]

    def __str__(self) -> str:
        return f"{self.incident_id} ← post {self.post_id}"


class HotTopic(models.Model):
    """One title on Weibo's hot-search board (热搜) at one moment — public, shared by every
    enterprise (monitoring.hotsearch): read from the sandbox's replayed board, or imported."""

    seen_at = models.DateTimeField()  # the board's time
    title = models.CharField(max_length=200)
    rank = models.PositiveSmallIntegerField()
    heat = models.BigIntegerField(default=0)
    category = models.CharField(max_length=20, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["title", "seen_at"], name="hot_topic_once")]
        indexes = [models.Index(fields=["-seen_at"], name="hot_topic_latest")]

    def __str__(self) -> str:
        return f"{self.seen_at:%Y-%m-%d %H:%M} #{self.rank} {self.title}"


class HotSearchHit(models.Model):
    """A hot-search title a monitor's rule matches: when it entered, how high it climbed."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+", db_index=False)
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="hot_hits", db_index=False)
    title = models.CharField(max_length=200)
    first_seen_at = models.DateTimeField()
    first_rank = models.PositiveSmallIntegerField()
    best_rank = models.PositiveSmallIntegerField()
    last_rank = models.PositiveSmallIntegerField()
    last_seen_at = models.DateTimeField()
    told_rank = models.PositiveSmallIntegerField(null=True)  # the rank the last alert told

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["monitor", "title"], name="hot_hit_once")]
        indexes = [models.Index(fields=["monitor", "-last_seen_at"], name="hot_hit_latest")]

    def __str__(self) -> str:
        return f"{self.monitor_id}: {self.title} (best #{self.best_rank})"

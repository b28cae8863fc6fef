"""Monitoring (舆情监控): monitors are rules in textkit's query language; every mention that
listening stores is matched against all of an enterprise's monitors in one pass (a listening
consumer), each match stored once per mention × monitor, and counted per minute."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanwei.core import clock
from guanwei.core.models import Enterprise, Member, TenantQuerySet
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

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="+")
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="matches")
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


class MinuteCount(models.Model):
    """A monitor's counters for one minute (of the mentions' platform time). Hours and days are
    sums of these; unique voices are counted from the matches (a voice spans minutes)."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="counts")
    minute = models.DateTimeField()
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
        constraints = [models.UniqueConstraint(fields=["monitor", "minute"], name="count_per_minute")]

    def __str__(self) -> str:
        return f"{self.monitor_id}@{self.minute:%Y-%m-%d %H:%M}: {self.volume}"


COUNTERS = ("volume", "positive", "neutral", "negative", "happy", "angry", "sad", "fear", "surprise", "calm",
            "reach", "verified")  # fmt: skip

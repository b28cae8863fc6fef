"""Runs of scenarios and replays (their progress for the terminal and the runs page), and the
hot-search board that the hot-search replay fills. Imported by `models.py`; changed only
through `guanwei.sandbox.runs` and `guanwei.sandbox.replay`."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RunKind(models.TextChoices):
    SCENARIO = "scenario", _("场景")
    REPLAY = "replay", _("回放")
    SEED = "seed", _("初始历史")


class RunState(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("运行中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")
    CANCELLED = "cancelled", _("已取消")


SUMMARY_LABELS = {
    "status": _("微博"),
    "repost": _("转发"),
    "comment": _("评论"),
    "like": _("赞"),
    "follow": _("关注"),
    "dm": _("私信"),
    "hot": _("热搜"),
    "negative": _("其中负面"),
    "skipped": _("跳过"),
}


class Run(models.Model):
    """One scenario or replay: what was asked, how far it got (done/total), how it ended."""

    kind = models.CharField(_("类型"), max_length=12, choices=RunKind.choices)
    name = models.CharField(_("名称"), max_length=40)  # scenario name or dataset
    params = models.JSONField(_("参数"), default=dict, blank=True)
    state = models.CharField(
        _("状态"), max_length=12, choices=RunState.choices, default=RunState.QUEUED
    )
    done = models.PositiveIntegerField(_("已完成"), default=0)
    total = models.PositiveIntegerField(_("总数"), default=0)
    error = models.TextField(_("错误"), blank=True)
    summary = models.JSONField(_("摘要"), default=dict, blank=True)  # counts by event kind …
    requested_by = models.CharField(_("发起人"), max_length=150, blank=True)
    # The guanwei enterprise of the member who started it from the runs page (a plain id: the
    # sandbox reads no guanwei table). None for the command line and the demo seed.
    enterprise_id = models.BigIntegerField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(_("创建时间"))
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "sandbox_run"
        verbose_name = _("沙盒运行")
        indexes = [models.Index(fields=["-id"], name="sandbox_run_latest")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.state})"

    @property
    def percent(self) -> int:
        if self.state == RunState.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def summary_items(self) -> list[tuple[str, int]]:
        """Non-zero counts of the summary with their labels, in a fixed order."""
        counts = self.summary or {}
        return [
            (str(label), counts[key]) for key, label in SUMMARY_LABELS.items() if counts.get(key)
        ]

    @property
    def is_finished(self) -> bool:
        return self.state in (RunState.DONE, RunState.FAILED, RunState.CANCELLED)


class HotSearchEntry(models.Model):
    """One row of a 热搜 snapshot (replayed history): rank, title, heat at a snapshot time."""

    snapshot_at = models.DateTimeField()
    rank = models.PositiveSmallIntegerField()  # 0: pinned (置顶), no rank
    title = models.CharField(max_length=200)
    heat = models.BigIntegerField(default=0)
    category = models.CharField(max_length=20, blank=True)
    is_ad = models.BooleanField(default=False)
    run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        db_table = "sandbox_hotsearch"
        # the board on /sandbox/: the latest snapshot, by rank
        indexes = [models.Index(fields=["-snapshot_at", "rank"], name="sandbox_hotsearch_latest")]
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot_at", "title"], name="sandbox_hotsearch_title_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.snapshot_at} #{self.rank} {self.title}"

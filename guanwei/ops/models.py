"""Rows the worker writes about itself: one heartbeat per worker process, one state row per
periodic job. Infrastructure, not tenant data: no enterprise column."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from guanwei.core import clock


def stale_before() -> datetime:
    """A worker whose last beat is older than this is stale: the one rule the status page's
    badge (WorkerHeartbeat.is_stale) and /healthz (ops.queries.fresh_workers) share."""
    return clock.now() - timedelta(seconds=settings.WORKER_STALE_AFTER_S)


class WorkerHeartbeat(models.Model):
    """One `guanwei worker` process. Written every ~15 s by the worker loop itself, so a worker
    stuck in a long task stops beating — which is exactly what the status page should show."""

    worker_id = models.CharField(max_length=64, unique=True)
    host = models.CharField(_("主机"), max_length=200)
    pid = models.PositiveIntegerField()
    queues = models.CharField(_("队列"), max_length=200)
    started_at = models.DateTimeField(_("启动时间"))
    last_beat_at = models.DateTimeField(_("最近心跳"), db_index=True)
    stopped_at = models.DateTimeField(_("停止时间"), null=True, blank=True)
    tasks_done_count = models.PositiveIntegerField(_("已完成任务"), default=0)

    class Meta:
        verbose_name = _("工作进程心跳")
        ordering = ["-last_beat_at"]

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"

    @property
    def is_stale(self) -> bool:
        return self.stopped_at is not None or self.last_beat_at < stale_before()


class PeriodicJobState(models.Model):
    """When each job of ops.schedule runs next. A worker claims a run with
    `UPDATE … SET next_run_at=<new> WHERE name=… AND next_run_at=<old>`: of many workers that
    saw the same `<old>`, exactly one updates a row and enqueues the task."""

    name = models.CharField(max_length=100, unique=True)
    next_run_at = models.DateTimeField(_("下次运行"))
    last_enqueued_at = models.DateTimeField(_("上次入队"), null=True, blank=True)
    last_task_id = models.CharField(max_length=64, blank=True)
    last_claimed_by = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("定时任务状态")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

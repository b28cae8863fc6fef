"""What the status page and /healthz read: workers, queue depth, periodic jobs, failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count
from django.utils.translation import ngettext
from django_tasks_db.models import DBTaskResult

from guanwei.core import clock
from guanwei.ops.models import PeriodicJobState, WorkerHeartbeat
from guanwei.ops.schedule import JOBS, PeriodicJob

# A run is overdue when nobody claimed it this long after it was due (a worker checks every
# ~15 s, so a minute means no worker is scheduling).
OVERDUE_GRACE = timedelta(seconds=60)
FAILED_WINDOW = timedelta(hours=24)


def uses_task_queue() -> bool:
    """False with GUANWEI_TASKS_IMMEDIATE: tasks then run in the caller, a worker has no work."""
    return str(settings.TASKS["default"]["BACKEND"]).startswith("django_tasks_db")


def fresh_workers():  # type: ignore[no-untyped-def]
    """Workers that beat within WORKER_STALE_AFTER_S, have not stopped, and — when they run on
    this host — whose process still exists (a killed worker is dead at once, not in 120 s)."""
    from guanwei.ops.recovery import fresh_worker_ids

    return WorkerHeartbeat.objects.filter(worker_id__in=fresh_worker_ids())


def last_beat_at() -> datetime | None:
    return WorkerHeartbeat.objects.order_by("-last_beat_at").values_list("last_beat_at", flat=True).first()


def queue_depth() -> dict[str, int]:
    """Tasks ready to run now, per queue (every configured queue listed, even when empty)."""
    depth = {q: 0 for q in settings.TASKS["default"].get("QUEUES", ["default"])}
    rows = DBTaskResult.objects.ready().values("queue_name").annotate(n=Count("id"))
    for row in rows:
        depth[row["queue_name"]] = row["n"]
    return depth


def running_count() -> dict[str, int]:
    rows = DBTaskResult.objects.running().values("queue_name").annotate(n=Count("id"))
    return {row["queue_name"]: row["n"] for row in rows}


def every(interval: timedelta) -> str:
    """每 15 分钟 / every 15 minutes."""
    seconds = int(interval.total_seconds())
    if seconds % 86400 == 0:
        n = seconds // 86400
        return ngettext("每 %(n)s 天", "每 %(n)s 天", n) % {"n": n}
    if seconds % 3600 == 0:
        n = seconds // 3600
        return ngettext("每 %(n)s 小时", "每 %(n)s 小时", n) % {"n": n}
    if seconds % 60 == 0:
        n = seconds // 60
        return ngettext("每 %(n)s 分钟", "每 %(n)s 分钟", n) % {"n": n}
    return ngettext("每 %(n)s 秒", "每 %(n)s 秒", seconds) % {"n": seconds}


@dataclass
class JobStatus:
    job: PeriodicJob
    next_run_at: datetime | None
    last_enqueued_at: datetime | None
    last_status: str
    is_overdue: bool

    @property
    def every(self) -> str:
        return every(self.job.interval)


def job_statuses() -> list[JobStatus]:
    now = clock.now()
    states = {s.name: s for s in PeriodicJobState.objects.filter(name__in=[j.name for j in JOBS])}
    task_ids = [s.last_task_id for s in states.values() if s.last_task_id]
    status_of = {
        str(pk): status
        for pk, status in DBTaskResult.objects.filter(id__in=task_ids).values_list("id", "status")
    }
    result = []
    for job in JOBS:
        state = states.get(job.name)
        next_run_at = state.next_run_at if state else None
        last_status = status_of.get(state.last_task_id, "") if state else ""
        result.append(JobStatus(
            job=job,
            next_run_at=next_run_at,
            last_enqueued_at=state.last_enqueued_at if state else None,
            last_status=last_status,
            # never scheduled at all counts too: no worker has ever looked at the schedule
            is_overdue=next_run_at is None or next_run_at + OVERDUE_GRACE < now,
        ))
    return result


def recent_failures(limit: int = 20, *, enterprise_id: int | None = None):  # type: ignore[no-untyped-def]
    """Failed tasks of the last 24 h, newest first: task name, queue, time, exception class.
    No arguments and no traceback: not a view into tenants' data. With `enterprise_id`, only the
    tasks enqueued for that enterprise (an `enterprise_id` keyword argument)."""
    since = clock.now() - FAILED_WINDOW
    qs = DBTaskResult.objects.failed().filter(finished_at__gte=since).order_by("-finished_at")
    if enterprise_id is not None:
        qs = qs.filter(args_kwargs__kwargs__enterprise_id=enterprise_id)
    return qs.only("id", "task_path", "queue_name", "finished_at", "exception_class_path")[:limit], qs.count()

"""Housekeeping tasks of ops, run by the schedule."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task
from django_tasks_db.models import DBTaskResult

from guanwei.core import clock
from guanwei.ops.models import WorkerHeartbeat

SUCCESS_KEEP = timedelta(days=7)
FAILURE_KEEP = timedelta(days=30)  # failures stay longer: someone has to read them
HEARTBEAT_KEEP = timedelta(days=1)


@task()
def prune_task_results() -> dict[str, int]:
    now = clock.now()
    ok, _ = DBTaskResult.objects.successful().filter(finished_at__lt=now - SUCCESS_KEEP).delete()
    failed, _ = DBTaskResult.objects.failed().filter(finished_at__lt=now - FAILURE_KEEP).delete()
    return {"successful_deleted": ok, "failed_deleted": failed}


@task()
def prune_heartbeats() -> int:
    deleted, _ = WorkerHeartbeat.objects.filter(last_beat_at__lt=clock.now() - HEARTBEAT_KEEP).delete()
    return deleted


@task()
def recover_tasks() -> dict[str, int]:
    """ops.recover_tasks — requeue (or fail, with the reason) tasks whose worker died."""
    from guanwei.ops.recovery import recover_tasks as recover

    return recover()

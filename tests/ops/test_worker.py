"""The worker: runs tasks from the database queue, writes its heartbeat, enqueues due jobs."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django_tasks_db.models import DBTaskResult

from guanwei.core import clock
from guanwei.ops import tasks
from guanwei.ops.models import PeriodicJobState, WorkerHeartbeat
from guanwei.ops.schedule import JOBS
from guanwei.ops.worker import GuanweiWorker

pytestmark = pytest.mark.django_db(transaction=True)


def batch_worker(**kwargs) -> GuanweiWorker:  # type: ignore[no-untyped-def]
    defaults = {"queue_names": ["*"], "interval": 0, "stop_when_idle": True, "startup_delay": False}
    return GuanweiWorker(**{**defaults, **kwargs})


def test_worker_runs_queued_task_and_records_its_heartbeat() -> None:
    old = clock.now() - timedelta(days=2)
    WorkerHeartbeat.objects.create(worker_id="gone", host="h", pid=1, queues="*",
                                   started_at=old, last_beat_at=old)
    result = tasks.prune_heartbeats.enqueue()
    worker = batch_worker(run_schedule=False, worker_id="w-test")
    before = clock.now()
    worker.run()

    assert DBTaskResult.objects.get(id=result.id).status == "SUCCESSFUL"
    assert not WorkerHeartbeat.objects.filter(worker_id="gone").exists()  # the task really ran
    beat = WorkerHeartbeat.objects.get(worker_id="w-test")
    assert beat.pid == os.getpid()
    assert beat.tasks_done_count == 1
    assert beat.last_beat_at >= before
    assert beat.stopped_at is not None  # a clean stop says so: the page shows "stopped", not "silent"


def test_worker_enqueues_and_runs_due_periodic_jobs_on_its_first_tick() -> None:
    worker = batch_worker(worker_id="w-sched")
    worker.run()
    assert set(PeriodicJobState.objects.values_list("name", flat=True)) == {j.name for j in JOBS}
    assert set(PeriodicJobState.objects.values_list("last_claimed_by", flat=True)) == {"w-sched"}
    finished = DBTaskResult.objects.filter(task_path__in=[j.task for j in JOBS])
    assert finished.count() == len(JOBS)
    assert WorkerHeartbeat.objects.get(worker_id="w-sched").tasks_done_count == len(JOBS)


def test_heartbeat_row_comes_back_if_it_was_pruned_while_the_worker_lived() -> None:
    worker = batch_worker(run_schedule=False, worker_id="w-back")
    worker.register()
    WorkerHeartbeat.objects.filter(worker_id="w-back").delete()
    worker.beat()
    assert WorkerHeartbeat.objects.filter(worker_id="w-back", stopped_at__isnull=True).exists()


def test_worker_started_by_guanwei_run_stops_when_its_parent_is_gone(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GUANWEI_WORKER_PARENT_PID", str(os.getppid() + 999_999))
    worker = batch_worker(run_schedule=False, worker_id="w-orphan", stop_when_idle=False)
    worker.run()  # returns instead of looping forever
    assert WorkerHeartbeat.objects.get(worker_id="w-orphan").stopped_at is not None

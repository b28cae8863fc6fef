"""The worker: runs tasks from the database queue, writes its heartbeat, enqueues due jobs."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

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


def test_two_worker_processes_on_postgresql_run_each_task_exactly_once() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("several workers at once is a PostgreSQL deployment")
    from tests.ops.worker_tasks import hold_until_two_workers

    ids = [str(hold_until_two_workers.enqueue(i).id) for i in range(30)]
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUANWEI_")}
    env.update({
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "GUANWEI_LOG_LEVEL": "WARNING",
    })
    root = Path(__file__).resolve().parents[2]
    workers = [
        subprocess.Popen([sys.executable, "-m", "guanwei", "worker", "--batch", "--no-schedule",
                          "--worker-id", f"pg-{n}"], cwd=root, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for n in (1, 2)
    ]
    outputs = [w.communicate(timeout=240)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs

    results = DBTaskResult.objects.filter(id__in=ids)
    assert sorted(r.return_value for r in results) == list(range(30))
    assert {r.status for r in results} == {"SUCCESSFUL"}
    assert all(len(r.worker_ids) == 1 for r in results), "a task was claimed twice"
    by_worker = {w: sum(1 for r in results if r.worker_ids == [w]) for w in ("pg-1", "pg-2")}
    assert sum(by_worker.values()) == 30
    assert min(by_worker.values()) > 0, by_worker  # they really worked side by side
    beats = WorkerHeartbeat.objects.filter(worker_id__in=["pg-1", "pg-2"])
    assert sorted(b.tasks_done_count for b in beats) == sorted(by_worker.values())

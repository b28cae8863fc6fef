"""A killed worker's tasks are not stuck forever: requeued when safe to rerun, failed with the
reason otherwise; a killed worker is dead at once for /healthz."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django_tasks_db.models import DBTaskResult

from guanwei.core import clock
from guanwei.ops import recovery
from guanwei.ops.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUANWEI_")}
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    else:
        url = f"sqlite:///{db['NAME']}"
    env.update({"DATABASE_URL": url, "GUANWEI_LOG_LEVEL": "WARNING", "GUANWEI_ENV": "test"})
    return env


def _worker(worker_id: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "guanwei", "worker", "--no-schedule", "--worker-id", worker_id, *extra],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _wait(predicate, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_a_task_of_a_killed_worker_is_requeued_and_finished_by_another(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("real worker processes side by side: the PostgreSQL deployment")
    from tests.ops.worker_tasks import sleep_then_return, sleep_unsafe

    monkeypatch.setattr(
        recovery, "RERUN_SAFE", recovery.RERUN_SAFE | {"tests.ops.worker_tasks.sleep_then_return"}
    )
    safe = sleep_then_return.enqueue(3.0, "finished")
    unsafe = sleep_unsafe.enqueue(3.0)
    first = _worker("doomed")
    try:
        _wait(lambda: DBTaskResult.objects.filter(status="RUNNING").exists())
        running = DBTaskResult.objects.get(status="RUNNING")
        os.kill(first.pid, signal.SIGKILL)  # kill -9 mid-task
        first.wait(timeout=30)
        # Recognised at once (same host, process gone), not after WORKER_STALE_AFTER_S.
        health = Client().get("/healthz").json()
        assert health["worker"]["fresh_count"] == 0
        counts = recovery.recover_tasks()
        assert sum(counts.values()) == 1
        running.refresh_from_db()
        assert running.status in ("READY", "FAILED")
    finally:
        if first.poll() is None:
            first.kill()
    second = _worker("rescuer", "--batch")
    output = second.communicate(timeout=120)[0]
    assert second.returncode == 0, output
    safe.refresh()
    unsafe_row = DBTaskResult.objects.get(id=unsafe.id)
    safe_row = DBTaskResult.objects.get(id=safe.id)
    assert safe_row.status == "SUCCESSFUL" and safe_row.return_value == "finished"
    if running.id == unsafe_row.id:  # the killed one was the unsafe task: failed, not repeated
        assert unsafe_row.status == "FAILED"
        assert unsafe_row.exception_class_path == "guanwei.ops.recovery.WorkerLost"
        assert "not declared safe to run again" in unsafe_row.traceback
        assert unsafe_row.worker_ids == ["doomed"]
    else:  # the killed one was the safe task: run again by the rescuer
        assert safe_row.worker_ids == ["doomed", "rescuer"]


def _running_task(worker_id: str, task_path: str) -> DBTaskResult:
    from tests.ops.worker_tasks import sleep_then_return

    result = sleep_then_return.enqueue(0.01, "x")
    DBTaskResult.objects.filter(id=result.id).update(
        status="RUNNING", started_at=clock.now(), worker_ids=[worker_id], task_path=task_path
    )
    return DBTaskResult.objects.get(id=result.id)


def _beat(worker_id: str, *, pid: int, host: str | None = None, age_s: float = 0) -> None:
    at = clock.now() - timedelta(seconds=age_s)
    WorkerHeartbeat.objects.create(
        worker_id=worker_id, host=host or socket.gethostname(), pid=pid, queues="*",
        started_at=at, last_beat_at=at,
    )  # fmt: skip


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_gone_process_on_this_host_is_dead_at_once_and_its_safe_task_requeued() -> None:
    _beat("gone", pid=_dead_pid())
    task = _running_task("gone", "guanwei.matrix.tasks.check_tokens")
    assert "gone" in recovery.dead_worker_ids()
    assert Client().get("/healthz").json()["worker"]["fresh_count"] == 0
    assert recovery.recover_tasks() == {"requeued": 1, "failed": 0}
    task.refresh_from_db()
    assert task.status == "READY" and task.started_at is None
    assert recovery.recover_tasks() == {"requeued": 0, "failed": 0}  # once


def test_an_unsafe_task_of_a_dead_worker_is_failed_with_the_reason() -> None:
    _beat("stale", pid=os.getpid(), host="elsewhere", age_s=900)  # another host: by staleness
    task = _running_task("stale", "guanwei.somewhere.publish_post")
    assert recovery.recover_tasks() == {"requeued": 0, "failed": 1}
    task.refresh_from_db()
    assert task.status == "FAILED" and "WorkerLost" in task.exception_class_path


def test_a_live_workers_task_is_left_alone() -> None:
    _beat("alive", pid=os.getpid())
    task = _running_task("alive", "guanwei.matrix.tasks.check_tokens")
    assert recovery.recover_tasks() == {"requeued": 0, "failed": 0}
    task.refresh_from_db()
    assert task.status == "RUNNING"


def test_a_run_whose_worker_died_can_be_cancelled() -> None:
    from guanwei.sandbox import runs
    from guanwei.sandbox.models_runs import Run, RunState
    from tests.sandbox.life_helpers import make_accounts

    make_accounts()
    run = runs.scenario_run("ordinary_day", minutes=5)
    Run.objects.filter(pk=run.pk).update(state=RunState.RUNNING)  # its worker was killed
    runs.request_cancel(run)
    _beat("gone-run", pid=_dead_pid())
    task = _running_task("gone-run", "guanwei.sandbox.runs.execute_run")
    DBTaskResult.objects.filter(id=task.id).update(args_kwargs={"args": [run.pk], "kwargs": {}})
    assert recovery.recover_tasks() == {"requeued": 1, "failed": 0}
    runs.execute_run.call(run.pk)  # what the next worker does with the requeued task
    run.refresh_from_db()
    assert run.state == RunState.CANCELLED


def test_a_worker_busy_with_a_long_task_is_not_taken_for_lost() -> None:
    """It beats only between tasks: silent for 5 minutes in a long task is not lost yet."""
    _beat("busy", pid=os.getpid(), host="elsewhere", age_s=300)
    task = _running_task("busy", "guanwei.matrix.tasks.refresh_accounts")
    assert recovery.recover_tasks() == {"requeued": 0, "failed": 0}
    task.refresh_from_db()
    assert task.status == "RUNNING"

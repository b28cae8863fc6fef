"""Periodic jobs: declared once in ops.schedule, enqueued exactly once per run across workers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult

from guanwei.ops.models import PeriodicJobState
from guanwei.ops.schedule import JOBS, PeriodicJob
from guanwei.ops.worker import claim_run, enqueue_due_jobs, next_run_after

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
HOURLY = PeriodicJob("test.hourly", timedelta(hours=1), "guanwei.ops.tasks.prune_heartbeats")
QUARTER = PeriodicJob("test.quarter", timedelta(minutes=15), "guanwei.ops.tasks.prune_task_results")
TEST_JOBS = [HOURLY, QUARTER]


def tasks_of(job: PeriodicJob) -> int:
    return DBTaskResult.objects.filter(task_path=job.task).count()


def test_every_scheduled_job_names_a_task_that_takes_no_arguments() -> None:
    assert len({job.name for job in JOBS}) == len(JOBS), "job names must be unique"
    for job in JOBS:
        task = job.load_task()
        assert isinstance(task, Task), job.task
        assert job.interval >= timedelta(seconds=1), f"{job.name}: workers look for due jobs every ~1 s"


def test_missed_runs_collapse_into_one_on_the_jobs_grid() -> None:
    hour = timedelta(hours=1)
    assert next_run_after(T0, hour, T0) == T0 + hour
    assert next_run_after(T0, hour, T0 + timedelta(minutes=59)) == T0 + hour
    # down for a day and a half: one run now, the next on the grid
    assert next_run_after(T0, hour, T0 + timedelta(hours=36, minutes=5)) == T0 + timedelta(hours=37)


@pytest.mark.django_db
def test_a_new_job_runs_at_the_first_check_then_once_per_interval() -> None:
    assert enqueue_due_jobs(now=T0, worker_id="w1", jobs=TEST_JOBS) == ["test.hourly", "test.quarter"]
    assert enqueue_due_jobs(now=T0, worker_id="w2", jobs=TEST_JOBS) == []
    assert enqueue_due_jobs(now=T0 + timedelta(minutes=14), jobs=TEST_JOBS) == []
    assert enqueue_due_jobs(now=T0 + timedelta(minutes=15), jobs=TEST_JOBS) == ["test.quarter"]
    assert enqueue_due_jobs(now=T0 + timedelta(hours=1), jobs=TEST_JOBS) == ["test.hourly", "test.quarter"]
    assert (tasks_of(HOURLY), tasks_of(QUARTER)) == (2, 3)
    state = PeriodicJobState.objects.get(name="test.quarter")
    assert state.next_run_at == T0 + timedelta(hours=1, minutes=15)
    assert state.last_task_id == str(DBTaskResult.objects.filter(task_path=QUARTER.task).latest("enqueued_at").id)


@pytest.mark.django_db
def test_a_run_another_worker_claimed_first_is_not_enqueued_again() -> None:
    enqueue_due_jobs(now=T0, jobs=[HOURLY])
    due_at = T0 + timedelta(hours=1)
    # Worker A read the state (next_run_at = due_at) …
    seen = PeriodicJobState.objects.get(name=HOURLY.name).next_run_at
    # … worker B claims the same run meanwhile …
    assert enqueue_due_jobs(now=due_at, worker_id="B", jobs=[HOURLY]) == [HOURLY.name]
    # … so A's conditional update matches nothing, and A enqueues nothing.
    assert claim_run(HOURLY, seen, due_at, "A") is False
    assert tasks_of(HOURLY) == 2
    assert PeriodicJobState.objects.get(name=HOURLY.name).last_claimed_by == "B"


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_postgresql_enqueue_each_run_exactly_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent workers are a PostgreSQL deployment; SQLite serialises writers")
    steps = [T0 + i * QUARTER.interval for i in range(12)]
    barrier = threading.Barrier(2)
    claimed: dict[str, list[str]] = {"A": [], "B": []}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        from django.db import connection as thread_connection

        try:
            for now in steps:
                barrier.wait(timeout=30)  # both check the same instant, as two live workers would
                claimed[name] += enqueue_due_jobs(now=now, worker_id=name, jobs=TEST_JOBS)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
            barrier.abort()
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in "AB"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    # 12 quarter-hour runs and 3 hourly runs (08:00, 09:00, 10:00) between them, none twice
    assert tasks_of(QUARTER) == 12
    assert tasks_of(HOURLY) == 3
    assert sorted(claimed["A"] + claimed["B"]) == sorted(["test.quarter"] * 12 + ["test.hourly"] * 3)


@pytest.mark.django_db
def test_a_job_whose_task_does_not_import_stays_due_and_the_others_still_run(caplog) -> None:  # type: ignore[no-untyped-def]
    broken = PeriodicJob("test.broken", timedelta(minutes=5), "guanwei.ops.tasks.no_such_task")
    assert enqueue_due_jobs(now=T0, jobs=[broken, HOURLY]) == ["test.hourly"]
    assert PeriodicJobState.objects.get(name="test.broken").next_run_at == T0  # still due: overdue
    assert "periodic job=test.broken could not be enqueued" in caplog.text
    assert not DBTaskResult.objects.filter(task_path__endswith="no_such_task").exists()

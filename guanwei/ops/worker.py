"""`guanwei worker`: django-tasks-db's Worker plus a heartbeat row and the periodic jobs of
ops.schedule.

Several workers may run at once on PostgreSQL: django-tasks-db claims each task with
`SELECT … FOR UPDATE SKIP LOCKED`, and each periodic run is claimed with a conditional UPDATE
(`enqueue_due_jobs`), so no two workers enqueue the same run. On SQLite one worker is the norm;
a second one is still correct (writers are serialised), only not faster.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import DatabaseError, close_old_connections, transaction
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from guanwei.core import clock
from guanwei.ops.models import PeriodicJobState, WorkerHeartbeat
from guanwei.ops.schedule import JOBS, PeriodicJob

log = logging.getLogger("guanwei.ops.worker")

BEAT_INTERVAL_S = 15
# How often a worker looks for due periodic jobs (two small queries when none is due): often
# enough for publishing's 2-second dispatch, apart from the 15-second heartbeat.
SCHEDULE_INTERVAL_S = 1.0
# `guanwei run` sets this so that its worker child stops when the parent is gone (even SIGKILLed).
PARENT_PID_ENV = "GUANWEI_WORKER_PARENT_PID"


def new_worker_id() -> str:
    host = socket.gethostname()[:40]
    return f"{host}-{os.getpid()}-{get_random_string(6)}"


def next_run_after(scheduled_at: datetime, interval: timedelta, now: datetime) -> datetime:
    """The first slot on the job's grid (scheduled_at + k·interval) strictly after `now`:
    a worker that was down for a day runs a missed hourly job once, not 24 times."""
    missed = (now - scheduled_at) // interval if now >= scheduled_at else -1
    return scheduled_at + (missed + 1) * interval


def claim_run(job: PeriodicJob, seen_next_run_at: datetime, now: datetime, worker_id: str) -> bool:
    """Claim the run of `job` that was due at `seen_next_run_at` and enqueue its task, in one
    transaction. Returns False when another worker claimed it first: its UPDATE moved
    next_run_at, so ours matches no row (Healthchecks' `Flip…filter(processed=None).update`)."""
    with transaction.atomic():
        claimed = PeriodicJobState.objects.filter(
            name=job.name, next_run_at=seen_next_run_at
        ).update(
            next_run_at=next_run_after(seen_next_run_at, job.interval, now),
            last_enqueued_at=now,
            last_claimed_by=worker_id[:64],
        )
        if not claimed:
            return False
        result = job.load_task().enqueue()
        PeriodicJobState.objects.filter(name=job.name).update(last_task_id=str(result.id))
    log.debug("periodic job=%s enqueued task=%s worker=%s", job.name, result.id, worker_id)
    return True


def enqueue_due_jobs(
    *, now: datetime | None = None, worker_id: str = "", jobs: Iterable[PeriodicJob] | None = None
) -> list[str]:
    """Enqueue every job of the schedule that is due at `now`; returns the names this call
    enqueued. Safe to call from any number of workers at once."""
    now = now or clock.now()
    by_name = {job.name: job for job in (JOBS if jobs is None else jobs)}
    known = set(PeriodicJobState.objects.filter(name__in=by_name).values_list("name", flat=True))
    if len(known) < len(by_name):
        # A new job runs first at the next check; ignore_conflicts because another worker may
        # be inserting the same row right now.
        PeriodicJobState.objects.bulk_create(
            [PeriodicJobState(name=name, next_run_at=now) for name in by_name if name not in known],
            ignore_conflicts=True,
        )
    enqueued = []
    due = PeriodicJobState.objects.filter(name__in=by_name, next_run_at__lte=now)
    for name, seen in due.values_list("name", "next_run_at"):
        try:
            if claim_run(by_name[name], seen, now, worker_id):
                enqueued.append(name)
        except Exception:
            # The claim rolled back with the failed enqueue (e.g. a task path that does not
            # import), so the job stays due and shows as overdue on /ops/status; the other jobs
            # still run.
            log.exception("periodic job=%s could not be enqueued", name)
    return enqueued


class GuanweiWorker(Worker):
    """django-tasks-db's Worker, run in batch passes, with a tick between tasks and passes
    that writes the heartbeat and enqueues due periodic jobs."""

    def __init__(
        self,
        *,
        queue_names: list[str],
        interval: float = 1.0,
        worker_id: str = "",
        backend_name: str = "default",
        max_tasks: int | None = None,
        stop_when_idle: bool = False,
        beat_interval_s: float = BEAT_INTERVAL_S,
        run_schedule: bool = True,
        startup_delay: bool = True,
    ) -> None:
        super().__init__(
            queue_names=queue_names,
            interval=interval,
            batch=True,  # one pass = run what is ready, then return to our loop
            backend_name=backend_name,
            startup_delay=False,
            max_tasks=max_tasks,
            worker_id=worker_id or new_worker_id(),
            excluded_queue_names=[],
        )
        self.stop_when_idle = stop_when_idle
        self.beat_interval_s = beat_interval_s
        self.run_schedule = run_schedule
        self.initial_delay = startup_delay and interval > 0
        self.last_tick_at = 0.0
        self.last_schedule_at = 0.0
        parent = os.environ.get(PARENT_PID_ENV)
        self.parent_pid = int(parent) if parent and parent.isdigit() else None

    @property
    def tasks_done_count(self) -> int:
        return self._run_tasks

    # --- heartbeat --------------------------------------------------------------------------
    def register(self) -> WorkerHeartbeat:
        now = clock.now()
        heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={
                "host": socket.gethostname()[:200],
                "pid": os.getpid(),
                "queues": ",".join(self.queue_names)[:200],
                "started_at": now,
                "last_beat_at": now,
                "stopped_at": None,
                "tasks_done_count": 0,
            },
        )
        return heartbeat

    def beat(self) -> None:
        updated = WorkerHeartbeat.objects.filter(worker_id=self.worker_id).update(
            last_beat_at=clock.now(), tasks_done_count=self.tasks_done_count, stopped_at=None
        )
        if not updated:  # pruned while we were busy for a day: come back
            self.register()
            self.beat()

    def mark_stopped(self) -> None:
        now = clock.now()  # one instant: the last beat is the stop
        WorkerHeartbeat.objects.filter(worker_id=self.worker_id).update(
            last_beat_at=now, stopped_at=now, tasks_done_count=self.tasks_done_count
        )

    def tick(self, force: bool = False) -> None:
        """Heartbeat at most every beat_interval_s, and the schedule at most every
        SCHEDULE_INTERVAL_S (monotonic clock)."""
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            log.warning("worker=%s parent process is gone, stopping", self.worker_id)
            self.running = False
            return
        now = time.monotonic()
        beat_due = force or now - self.last_tick_at >= self.beat_interval_s
        schedule_due = self.run_schedule and (
            force or now - self.last_schedule_at >= SCHEDULE_INTERVAL_S
        )
        if not (beat_due or schedule_due):
            return
        try:
            if beat_due:
                self.last_tick_at = now
                self.beat()
            if schedule_due:
                self.last_schedule_at = now
                enqueue_due_jobs(worker_id=self.worker_id)
        except DatabaseError:
            # A locked SQLite file or a PostgreSQL failover must not kill the worker: the beat
            # goes stale (visible on /ops/status) and the next tick tries again.
            log.exception("worker=%s heartbeat/schedule failed; retrying at the next tick", self.worker_id)

    # --- loop -------------------------------------------------------------------------------
    def run_task(self, db_task_result: DBTaskResult) -> None:
        super().run_task(db_task_result)
        if self.running:
            self.tick()

    def run(self) -> None:
        if self.initial_delay:
            time.sleep(random.random())  # noqa: S311  (no thundering herd of restarted workers)
        self.register()
        try:  # what a worker killed before us left RUNNING is picked up now, not in a minute
            from guanwei.ops.recovery import recover_tasks

            recover_tasks()
        except DatabaseError:
            log.exception("worker=%s could not recover orphaned tasks at start", self.worker_id)
        log.info("worker=%s started queues=%s pid=%s", self.worker_id, ",".join(self.queue_names), os.getpid())
        try:
            while self.running:
                close_old_connections()
                self.tick(force=self.last_tick_at == 0.0)
                if not self.running:
                    break
                done_before = self._run_tasks
                super().run()  # one batch pass: returns when nothing is ready
                if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                    break
                if self.stop_when_idle and self._run_tasks == done_before:
                    break
                if self.running and self._run_tasks == done_before:
                    time.sleep(self.interval)
        finally:
            close_old_connections()
            try:
                self.mark_stopped()
            except DatabaseError:  # the database is gone too: the beat simply goes stale
                log.exception("worker=%s could not record its stop", self.worker_id)
            log.info("worker=%s stopped tasks_done=%s", self.worker_id, self.tasks_done_count)

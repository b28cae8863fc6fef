"""A killed worker's tasks are not stuck forever.

django-tasks-db marks a task RUNNING with the worker's id when a worker claims it; if that worker
is killed (`kill -9`, OOM, a lost machine) the row would stay RUNNING for good. Recovery finds
tasks whose worker is dead and either puts them back in the queue — when the task is declared
safe to run again, in RERUN_SAFE below, the one place that says so — or fails them with a reason
a person can read. Each row is changed with a conditional UPDATE (`… WHERE status='RUNNING' AND
started_at=<seen>`), so two workers recovering at once change it once.

A worker is dead when it recorded a stop, at once when its heartbeat names this host and a process
id that no longer exists here, or when it has not beaten for WORKER_LOST_AFTER_S (10 minutes:
much longer than the 120 s after which /ops/status calls it silent, because a worker beats only
between tasks and a long task must not be taken for a lost worker and run a second time).
(A reused process id would look alive until the heartbeat goes stale: the slow path still
applies.) Recovery runs when a worker starts and every minute (ops.recover_tasks).
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from django.db.models import Q
from django_tasks_db.models import DBTaskResult

from guanwei.core import clock
from guanwei.ops.models import WorkerHeartbeat, stale_before

log = logging.getLogger("guanwei.ops.recovery")

WORKER_LOST_AFTER_S = 600

#: Tasks a new worker may simply run again when the worker running them died: they are
#: idempotent or resume from their own checkpoint. Anything not listed is failed instead, with
#: the reason, for a person to look at. A new task that is safe to rerun is added here.
RERUN_SAFE: frozenset[str] = frozenset(
    {
        "guanwei.ops.tasks.prune_task_results",
        "guanwei.ops.tasks.prune_heartbeats",
        "guanwei.ops.tasks.recover_tasks",
        "guanwei.core.exports.prune_exports",
        # A delivery is claimed by a conditional update and keeps its webhook-id: a second run
        # skips a delivered row, and receivers de-duplicate a resend by its id.
        "guanwei.core.channels.deliver",
        "guanwei.core.channels.retry_deliveries",
        # Starts the file again from its first row (a lost run's rows are not kept).
        "guanwei.core.exports.run_export",
        # A claimed target is settled by its state machine (a lost send is reconciled).
        "guanwei.publishing.tasks.dispatch",
        "guanwei.publishing.tasks.watch_overdue",
        # Runs only while its claim is the target's and its send has not begun: a rerun after
        # the send began does nothing, and the target is reconciled from the timeline.
        "guanwei.publishing.dispatch.send_target",
        "guanwei.publishing.dispatch.send_targets",
        "guanwei.monitoring.matching.backfill_monitor",  # deletes and recounts its window
        "guanwei.monitoring.spikes.detect",  # an open storm (episode) is not told twice
        "guanwei.monitoring.spikes.detect_monitors",
        # Reads move cursors only with what they stored; a push is claimed before processing.
        "guanwei.listening.tasks.poll",
        "guanwei.listening.tasks.dispatch",
        "guanwei.listening.pushes.process_pushes",
        # Starts the file over; the load is idempotent (each item is stored once).
        "guanwei.listening.imports.run_import_task",
        "guanwei.monitoring.searches.sync_all",
        "guanwei.inbox.replies.send_reply",  # claimed by a conditional update: a rerun skips a sent one
        "guanwei.inbox.replies.run",
        "guanwei.inbox.sla.watch",  # warned/breached flags: each told once  # idempotent: streams made to match the rules
        "guanwei.monitoring.hotsearch.watch",  # a board already recorded is not told again
        "guanwei.matrix.tasks.prune_rate_use",
        "guanwei.matrix.tasks.check_tokens",
        "guanwei.matrix.tasks.refresh_accounts",
        # Resumes from its last checkpoint (a live run may repeat up to one slice of netizen
        # activity); a cancel requested meanwhile is honoured when it resumes.
        "guanwei.sandbox.runs.execute_run",
    }
)


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def dead_worker_ids() -> set[str]:
    """Workers that will never finish what they claimed."""
    lost_before = clock.now() - timedelta(seconds=WORKER_LOST_AFTER_S)
    dead = set(
        WorkerHeartbeat.objects.filter(
            Q(stopped_at__isnull=False) | Q(last_beat_at__lt=lost_before)
        ).values_list("worker_id", flat=True)
    )
    host = socket.gethostname()[:200]
    for worker_id, pid in WorkerHeartbeat.objects.filter(
        host=host, stopped_at__isnull=True
    ).values_list("worker_id", "pid"):
        if pid != os.getpid() and not process_exists(pid):
            dead.add(worker_id)
    return dead


def fresh_worker_ids() -> set[str]:
    """Workers beating recently whose process (on this host) still exists: /healthz's view."""
    alive = set(
        WorkerHeartbeat.objects.filter(
            last_beat_at__gte=stale_before(), stopped_at__isnull=True
        ).values_list("worker_id", flat=True)
    )
    return alive - dead_worker_ids()


def recover_tasks() -> dict[str, int]:
    """Requeue or fail the RUNNING tasks of dead workers. Returns counts."""
    dead = dead_worker_ids()
    counts = {"requeued": 0, "failed": 0}
    if not dead:
        return counts
    known = set(WorkerHeartbeat.objects.values_list("worker_id", flat=True))
    for task in DBTaskResult.objects.running().only(
        "id", "task_path", "worker_ids", "started_at"
    ):
        owner = task.worker_ids[-1] if task.worker_ids else ""
        # A task whose worker left no heartbeat at all (pruned a day after it died) is as lost.
        if owner not in dead and owner in known:
            continue
        still = DBTaskResult.objects.filter(
            id=task.id, status="RUNNING", started_at=task.started_at
        )
        if task.task_path in RERUN_SAFE:
            changed = still.update(status="READY", started_at=None, run_after=clock.now())
            outcome = "requeued"
        else:
            changed = still.update(
                status="FAILED",
                finished_at=clock.now(),
                exception_class_path="guanwei.ops.recovery.WorkerLost",
                traceback=(
                    f"The worker {owner or '?'} running this task stopped without finishing it "
                    "(killed or lost). The task is not declared safe to run again "
                    "(guanwei.ops.recovery.RERUN_SAFE), so it was not retried: check what it "
                    "did and run it again if needed."
                ),
            )
            outcome = "failed"
        if changed:
            counts[outcome] += 1
            log.warning(
                "task.recovered id=%s task=%s worker=%s outcome=%s",
                task.id, task.task_path, owner or "-", outcome,
            )  # fmt: skip
    return counts

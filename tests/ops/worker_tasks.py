"""Tasks that exist only for the worker tests (imported by `guanwei worker` subprocesses, which
run with the repository root as working directory)."""

from __future__ import annotations

import time

from django_tasks import task

from guanwei.ops.models import WorkerHeartbeat


@task()
def hold_until_two_workers(n: int) -> int:
    """Runs ~0.1 s, and the first ones wait (up to 30 s) until two workers are registered, so
    the two workers are certainly claiming from the queue at the same time."""
    deadline = time.monotonic() + 30
    while WorkerHeartbeat.objects.filter(stopped_at__isnull=True).count() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    return n


@task()
def sleep_then_return(seconds: float, marker: str) -> str:
    """Long enough to be killed in the middle of; safe to run again (ops.recovery.RERUN_SAFE)."""
    time.sleep(seconds)
    return marker


@task()
def sleep_unsafe(seconds: float) -> str:
    """The same, but not declared safe to rerun: recovery must fail it, not repeat it."""
    time.sleep(seconds)
    return "done"

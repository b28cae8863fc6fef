"""Background entry points of core (run by `guanwei worker`)."""

from __future__ import annotations

import logging

from django_tasks import task

from guanwei.core import channels, exports

log = logging.getLogger("guanwei.core.tasks")


@task()
def run_export(export_id: int, enterprise_id: int | None = None) -> str:
    """core.run_export — write one CSV export's file (core.exports.run). `enterprise_id` only
    attributes the task on /ops/status."""
    return exports.run(export_id)


@task()
def prune_exports() -> int:
    """core.prune_exports — delete expired exports and their files."""
    pruned = exports.prune()
    log.info("core.prune_exports pruned=%s", pruned)
    return pruned


@task()
def deliver(delivery_id: int, enterprise_id: int | None = None) -> str:
    """core.deliver — one attempt at one channel delivery (core.channels.attempt)."""
    return channels.attempt(delivery_id)


@task()
def retry_deliveries() -> int:
    """core.retry_deliveries — attempt the deliveries whose retry is due, and those a dead
    worker left half-sent."""
    return channels.retry_due()

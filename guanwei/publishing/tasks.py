"""Background entry points of publishing (scheduled in ops/schedule.py)."""

from __future__ import annotations

import logging

from django_tasks import task

from guanwei.publishing import dispatch as dispatching

log = logging.getLogger("guanwei.publishing.tasks")


@task(queue_name="publish")
def dispatch() -> dict[str, int]:
    """publishing.dispatch — settle unconfirmed targets, then claim and send the due ones."""
    outcomes = dispatching.run(fan_out=True)
    if outcomes:
        log.info("publishing.dispatch outcomes=%s", outcomes)
    return outcomes



@task()
def watch_overdue() -> dict[str, int]:
    """publishing.watch_overdue — tell enterprises whose targets are overdue by over 2 minutes."""
    from guanwei.publishing import health

    return health.watch()

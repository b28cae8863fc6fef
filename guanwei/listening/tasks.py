"""Background entry points of listening (scheduled in ops/schedule.py)."""

from __future__ import annotations

import logging

from django_tasks import task

from guanwei.listening import consumers, polling

log = logging.getLogger("guanwei.listening.tasks")


@task()
def poll() -> dict[str, int]:
    """listening.poll — read every due stream once (and give new accounts their streams)."""
    outcomes = polling.poll_due()
    log.info("listening.poll outcomes=%s", outcomes)
    return outcomes


@task()
def dispatch() -> dict[str, int]:
    """listening.dispatch — hand each consumer the mentions after its cursor."""
    return consumers.dispatch_all()

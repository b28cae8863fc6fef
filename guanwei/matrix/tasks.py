"""Background entry points of the matrix (run by `guanwei worker`; scheduled in ops/schedule.py)."""

from __future__ import annotations

import logging

from django_tasks import task

from guanwei.matrix.health import check_token_expiry

log = logging.getLogger("guanwei.matrix.tasks")


@task()
def check_tokens() -> dict[str, int]:
    """matrix.check_tokens — mark tokens expiring within TOKEN_EXPIRY_WARNING_S, and expired ones,
    so the bell and the matrix page warn before publishing starts failing."""
    moved = check_token_expiry()
    log.info("matrix.check_tokens moved=%s", moved)
    return moved

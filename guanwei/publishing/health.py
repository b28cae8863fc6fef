"""Scheduler health: targets that should have gone out and have not. `/ops/status` shows them
(the whole server's to the operator, an enterprise's to its admins), and the job
`publishing.watch_overdue` tells an enterprise through its channels, once per condition, when any
target is overdue by more than OVERDUE_AFTER — and closes the notice when none is."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q

from guanwei.core import channels, clock
from guanwei.core.models import Enterprise
from guanwei.core.notifications import notify, resolve
from guanwei.publishing.models import Target, TargetState

OVERDUE_AFTER = timedelta(minutes=2)
CONDITION = "publishing:overdue"
S = TargetState


def overdue(enterprise_id: int | None = None):  # type: ignore[no-untyped-def]
    """Scheduled targets due more than OVERDUE_AFTER ago (not waiting for a retry), and targets
    publishing or unconfirmed for longer than that. Manual tasks are people's, not the
    scheduler's: they are listed on the calendar instead."""
    limit = clock.now() - OVERDUE_AFTER
    qs = Target.objects.filter(manual_reason="").filter(
        Q(state=S.SCHEDULED, due_at__lt=limit, next_attempt_at__isnull=True)
        | Q(state=S.SCHEDULED, next_attempt_at__lt=limit)
        | Q(state__in=[S.PUBLISHING, S.UNCONFIRMED], claimed_at__lt=limit)
    )
    return qs.filter(enterprise_id=enterprise_id) if enterprise_id is not None else qs


def overdue_counts() -> dict[int, int]:
    return dict(overdue().values("enterprise_id").annotate(n=Count("id")).values_list("enterprise_id", "n"))


def watch() -> dict[str, int]:
    """Open (or keep) one notice per enterprise with overdue targets, through the channels; close
    it where there are none any more."""
    counts = overdue_counts()
    opened = 0
    for enterprise in Enterprise.objects.filter(pk__in=list(counts)):
        title = f"{counts[enterprise.pk]} 条内容已超过发布时间 2 分钟仍未发出"
        created = notify(enterprise, action="post.edit", title=title, level="error",
                         url="/publishing/?view=list&state=scheduled", condition_key=CONDITION)  # fmt: skip
        if created is not None:
            opened += 1
            channels.send(enterprise, "publishing.overdue", channels.Message(
                title=title, text="请查看 /ops/status 的后台进程和队列。", url="/publishing/?view=list&state=scheduled",
                level="error", data={"overdue": counts[enterprise.pk]},
            ))  # fmt: skip
    closed = 0
    for enterprise in Enterprise.objects.exclude(pk__in=list(counts)):
        closed += resolve(enterprise, CONDITION)
    return {"opened": opened, "closed": closed}

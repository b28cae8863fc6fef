"""The one list of periodic jobs (name, interval, task). The worker enqueues each job when it
is due, exactly once across all workers (see ops.worker.enqueue_due_jobs).

Add a job here and nowhere else. `task` is the dotted path of a django-tasks `@task` that takes
no arguments; it is imported only when the job is enqueued, so ops does not import every app.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils.module_loading import import_string


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval: timedelta
    task: str  # dotted path to a django_tasks Task
    description: str = ""

    def load_task(self):  # type: ignore[no-untyped-def]
        return import_string(self.task)


JOBS: list[PeriodicJob] = [
    PeriodicJob(
        name="ops.prune_task_results",
        interval=timedelta(hours=1),
        task="guanwei.ops.tasks.prune_task_results",
        description="Delete finished task results older than 7 days (failed: 30 days).",
    ),
    PeriodicJob(
        name="ops.prune_heartbeats",
        interval=timedelta(hours=1),
        task="guanwei.ops.tasks.prune_heartbeats",
        description="Forget heartbeats of workers that stopped or vanished more than a day ago.",
    ),
    PeriodicJob(
        name="ops.recover_tasks",
        interval=timedelta(minutes=1),
        task="guanwei.ops.tasks.recover_tasks",
        description="Requeue the tasks of a worker that died (or fail them with the reason when "
        "they are not safe to run again).",
    ),
    PeriodicJob(
        name="core.prune_exports",
        interval=timedelta(hours=1),
        task="guanwei.core.exports.prune_exports",
        description="Delete exports (and their files) 24 hours after they were requested.",
    ),
    PeriodicJob(
        name="core.retry_deliveries",
        interval=timedelta(minutes=1),
        task="guanwei.core.channels.retry_deliveries",
        description="Send channel deliveries whose retry is due (backoff 30 s … 2 h, 6 attempts).",
    ),
    PeriodicJob(
        name="monitoring.detect",
        interval=timedelta(minutes=1),
        task="guanwei.monitoring.spikes.detect",
        description="Compare each monitor's last hour with its usual hour; raise and send alerts.",
    ),
    PeriodicJob(
        name="monitoring.watch_hot_search",
        interval=timedelta(minutes=1),
        task="guanwei.monitoring.hotsearch.watch",
        description="Read the hot-search board (the sandbox's replay) and alert when a monitored "
        "title enters it or climbs.",
    ),
    PeriodicJob(
        name="monitoring.sync_searches",
        interval=timedelta(minutes=10),
        task="guanwei.monitoring.searches.sync_all",
        description="Keep a keyword-search stream for what the monitors need where a connection may "
        "search (a connection's search contract may start or end).",
    ),
    PeriodicJob(
        name="inbox.send_replies",
        interval=timedelta(seconds=5),
        task="guanwei.inbox.replies.run",
        description="Send due inbox replies, reconcile unconfirmed ones (exactly once).",
    ),
    PeriodicJob(
        name="inbox.watch_sla",
        interval=timedelta(minutes=1),
        task="guanwei.inbox.sla.watch",
        description="Warn before an inbox item's SLA deadline and mark breached ones.",
    ),
    PeriodicJob(
        name="publishing.dispatch",
        interval=timedelta(seconds=1),
        task="guanwei.publishing.tasks.dispatch",
        description="Publish due targets exactly once (claim, send, settle lost answers from the "
        "account's own timeline).",
    ),
    PeriodicJob(
        name="publishing.watch_overdue",
        interval=timedelta(minutes=1),
        task="guanwei.publishing.tasks.watch_overdue",
        description="Alert (channels, one notice per condition) when a target is overdue by more "
        "than 2 minutes; close the notice when none is.",
    ),
    PeriodicJob(
        name="listening.poll",
        interval=timedelta(seconds=15),
        task="guanwei.listening.tasks.poll",
        description="Read every due stream (each at its own interval, within the app level's "
        "hourly calls) and store what is new as Mentions.",
    ),
    PeriodicJob(
        name="listening.dispatch",
        interval=timedelta(seconds=15),
        task="guanwei.listening.tasks.dispatch",
        description="Hand each consumer (monitoring, the inbox…) the mentions after its cursor.",
    ),
    PeriodicJob(
        name="listening.process_pushes",
        interval=timedelta(minutes=1),
        task="guanwei.listening.pushes.process_pushes",
        description="Turn stored fans-service pushes into Mentions (each push also asks at once).",
    ),
    PeriodicJob(
        name="matrix.prune_rate_use",
        interval=timedelta(hours=1),
        task="guanwei.matrix.tasks.prune_rate_use",
        description="Forget the shared rate budget's counts of hours that are over.",
    ),
    PeriodicJob(
        name="matrix.check_tokens",
        interval=timedelta(minutes=15),
        task="guanwei.matrix.tasks.check_tokens",
        description="Mark accounts whose tokens expire soon (or have expired) and notify admins.",
    ),
    PeriodicJob(
        name="matrix.refresh_accounts",
        # 2 read calls per account per run (users/show + get_token_info) = 4/h per account,
        # against Weibo's ~150 calls per user per hour: cheap.
        interval=timedelta(minutes=30),
        task="guanwei.matrix.tasks.refresh_accounts",
        description="Refresh followers, name, verification and token expiry from the platform; "
        "a dead token or an unreachable platform sets health (one notification).",
    ),
]


def job_named(name: str) -> PeriodicJob:
    for job in JOBS:
        if job.name == name:
            return job
    raise KeyError(name)

"""`guanwei worker`: run background tasks and periodic jobs until stopped (SIGINT/SIGTERM)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from guanwei.ops.queries import uses_task_queue
from guanwei.ops.worker import GuanweiWorker


class Command(BaseCommand):
    help = "Run a guanwei worker: every background task and every periodic job (ops.schedule)."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--queues", default="*",
            help="Comma-separated queues to work on, or * for all (default). "
            f"Configured: {', '.join(settings.TASKS['default'].get('QUEUES', []))}",
        )
        parser.add_argument("--interval", type=float, default=1.0,
                            help="Seconds to wait when no task is ready (default 1).")
        parser.add_argument("--worker-id", default="", help="Unique id (default: host-pid-random).")
        parser.add_argument("--max-tasks", type=int, default=None,
                            help="Exit after running this many tasks.")
        parser.add_argument("--batch", action="store_true",
                            help="Run what is ready (and due periodic jobs), then exit.")
        parser.add_argument("--no-schedule", action="store_true",
                            help="Do not enqueue periodic jobs from this worker.")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        if not uses_task_queue():
            raise CommandError(
                f"The task backend is {settings.TASKS['default']['BACKEND']}: tasks run in the "
                "web process, no worker is needed "
                "(unset GUANWEI_TASKS_IMMEDIATE to use the database queue)."
            )
        queues = [q.strip() for q in options["queues"].split(",") if q.strip()] or ["*"]
        if options["interval"] < 0:
            raise CommandError("--interval must be zero or more.")
        if len(options["worker_id"]) > 64:
            raise CommandError("--worker-id must be at most 64 characters.")
        worker = GuanweiWorker(
            queue_names=queues,
            interval=options["interval"],
            worker_id=options["worker_id"],
            max_tasks=options["max_tasks"],
            stop_when_idle=options["batch"],
            run_schedule=not options["no_schedule"],
            startup_delay=not options["batch"],
        )
        # django-tasks-db logs every empty pass at INFO; its warnings (shutdown) still show.
        logging.getLogger("django_tasks_db").setLevel(logging.WARNING)
        worker.configure_signals()
        worker.run()

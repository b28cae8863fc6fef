"""`guanwei run [--port N]`: web and worker together in one process tree (no seeding)."""

from __future__ import annotations

import os
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from guanwei.ops.server import serve, unapplied_migrations


def default_port() -> int:
    return urlparse(settings.BASE_URL).port or 8000


def point_base_url_at(port: int) -> None:
    """Without GUANWEI_BASE_URL, the base URL follows --port (for us and the worker child),
    so links and the built-in sandbox connection point where we actually listen."""
    if os.environ.get("GUANWEI_BASE_URL"):
        return
    base = f"http://127.0.0.1:{port}"
    os.environ["GUANWEI_BASE_URL"] = base
    settings.BASE_URL = base
    settings.CSRF_TRUSTED_ORIGINS = [base]


class Command(BaseCommand):
    help = "Run the web server (waitress on guanwei.wsgi) and a worker together, in the foreground."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--port", type=int, default=None, help="Port (default: from GUANWEI_BASE_URL, else 8000).")
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--threads", type=int, default=8, help="Web request threads (default 8).")
        parser.add_argument("--no-worker", action="store_true", help="Web only (run `guanwei worker` elsewhere).")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        port = options["port"] or default_port()
        if not 0 < port < 65536:
            raise CommandError(f"--port {port} is not a TCP port.")
        pending = unapplied_migrations()
        if pending:
            raise CommandError(
                f"{len(pending)} database migration(s) not applied (e.g. {pending[0]}): "
                "run `guanwei migrate` first."
            )
        point_base_url_at(port)
        try:
            serve(host=options["host"], port=port, threads=options["threads"],
                  stdout=self.stdout, with_worker=not options["no_worker"])
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{port}: {exc.strerror or exc}") from None

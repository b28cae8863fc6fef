"""`guanwei sandbox_fault list|add|remove|clear` — edit the sandbox's injected faults."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from guanwei.sandbox import faults
from guanwei.sandbox.models import App, Fault, FaultKind


class Command(BaseCommand):
    help = "List, add or remove faults injected into the sandbox platform's API."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="show the faults")
        add = sub.add_parser("add", help="add a fault")
        add.add_argument("kind", choices=FaultKind.values)
        add.add_argument("--endpoint", default="*", help="glob, e.g. statuses/share, comments/*")
        add.add_argument("--app", help="app key (default: every app)")
        add.add_argument("--probability", type=float, default=1.0)
        add.add_argument("--times", type=int, help="only the next N matching calls")
        add.add_argument(
            "--delay", type=float, default=15.0, help="seconds to hang (timeout, response_lost)"
        )
        add.add_argument("--status", type=int, default=503, help="HTTP status for http_5xx")
        add.add_argument(
            "--code", type=int, help="error code for rate_limit (10022/10023/10024/20016)"
        )
        remove = sub.add_parser("remove", help="remove one fault")
        remove.add_argument("id", type=int)
        clear = sub.add_parser("clear", help="remove all faults (of one app with --app)")
        clear.add_argument("--app")

    def _app(self, key: str | None) -> App | None:
        if not key:
            return None
        app = App.objects.filter(app_key=key).first()
        if app is None:
            raise CommandError(f"no sandbox app with app key {key!r}")
        return app

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SANDBOX_ENABLED:
            raise CommandError(
                "the built-in sandbox is switched off on this server (GUANWEI_SANDBOX=false); "
                "set GUANWEI_SANDBOX=true to use it"
            )
        action = options["action"]
        if action == "list":
            rows = Fault.objects.select_related("app").order_by("pk")
            if not rows:
                self.stdout.write("no faults")
            for f in rows:
                left = "∞" if f.remaining_calls is None else f.remaining_calls
                self.stdout.write(
                    f"{f.pk}\t{f.app.app_key if f.app else '*'}\t{f.endpoint}\t{f.kind}\t"
                    f"p={f.probability}\tleft={left}\thits={f.hits}\t"
                    f"{'on' if f.is_enabled else 'off'}"
                )
        elif action == "add":
            try:
                fault = faults.add_fault(
                    options["kind"],
                    options["endpoint"],
                    app=self._app(options["app"]),
                    probability=options["probability"],
                    times=options["times"],
                    delay_s=options["delay"],
                    http_status=options["status"],
                    error_code=options["code"],
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"added fault {fault.pk}: {fault.kind} on {fault.endpoint}")
        elif action == "remove":
            deleted, _ = Fault.objects.filter(pk=options["id"]).delete()
            if not deleted:
                raise CommandError(f"no fault {options['id']}")
            self.stdout.write(f"removed fault {options['id']}")
        elif action == "clear":
            n = faults.clear_faults(self._app(options["app"]))
            self.stdout.write(f"removed {n} faults")

"""`guanwei demo [--seed-only] [--port N]`: migrate, seed the demo enterprise, print the logins,
then run web and worker together in the foreground (Ctrl-C stops both)."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from guanwei.ops.management.commands.run import default_port, point_base_url_at
from guanwei.ops.seed import seed_demo
from guanwei.ops.server import serve


class Command(BaseCommand):
    help = "Migrate, seed the demo enterprise 示例乳业, and run web + worker (a demo, not production)."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--seed-only", action="store_true", help="Migrate and seed, then exit.")
        parser.add_argument("--port", type=int, default=None, help="Port (default 8000).")
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        if settings.IS_PRODUCTION:
            raise CommandError("guanwei demo prints its passwords: not with GUANWEI_ENV=production.")
        if not settings.SANDBOX_ENABLED:
            raise CommandError(
                "the demo runs on the built-in sandbox, which is switched off "
                "(GUANWEI_SANDBOX=false): set GUANWEI_SANDBOX=true."
            )
        port = options["port"] or default_port()
        if not 0 < port < 65536:
            raise CommandError(f"--port {port} is not a TCP port.")
        point_base_url_at(port)
        db = settings.DATABASES["default"]
        self.stdout.write(f"database: {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}")
        call_command("migrate", interactive=False, verbosity=0)
        report = seed_demo(settings.BASE_URL)
        self.stdout.write(
            "demo enterprise {} (slug {}): {}".format(
                report.enterprise.name, report.enterprise.slug,
                "created " + ", ".join(f"{n} {k}" for k, n in sorted(report.created.items()))
                if report.created
                else "updated " + ", ".join(f"{n} {k}" for k, n in sorted(report.updated.items()))
                if report.updated
                else "already in place, nothing changed",
            )
        )
        if report.history:
            self.stdout.write("sandbox history (past days on the demo platform): " + ", ".join(
                f"{n} {kind}" for kind, n in sorted(report.history.items(), key=lambda kv: -kv[1])))
        if not report.has_tokens:
            self.stdout.write(self.style.WARNING("note: the demo accounts have no tokens"))
        for note in report.notes:
            self.stdout.write(self.style.WARNING(f"note: {note}"))
        self.stdout.write(f"\nDemo logins at {settings.BASE_URL}/ (password for everyone: "
                          f"{report.logins[0][1]} — a demo, change nothing you care about):")
        width = max(len(u) for u, _, _ in report.logins)
        for username, _password, role in report.logins:
            self.stdout.write(f"  {username.ljust(width)}  {role}")
        self.stdout.write("")
        if options["seed_only"]:
            return
        serve(host=options["host"], port=port, threads=8, stdout=self.stdout)

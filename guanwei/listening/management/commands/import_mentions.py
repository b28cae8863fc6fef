"""`guanwei import_mentions --enterprise SLUG --member USERNAME FILE…` — import files of
mentions on the server (files too large to upload, or a scripted feed). The same check and load
as the import page (listening.imports), with the progress printed; the files are left in place."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guanwei.core import audit
from guanwei.core.models import Member
from guanwei.core.permissions import can
from guanwei.listening import imports
from guanwei.listening.models import Import


class Command(BaseCommand):
    help = "Import files of mentions (CSV, JSON Lines, JSON; gzip allowed) for an enterprise."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", help="the files to import (left in place)")
        parser.add_argument("--enterprise", required=True, help="the enterprise's slug")
        parser.add_argument("--member", required=True, help="the username of the member who imports (needs the right mention.import)")

    def handle(self, *args: Any, **options: Any) -> None:
        member = (
            Member.objects.select_related("enterprise", "user")
            .filter(enterprise__slug=options["enterprise"], user__username=options["member"], is_active=True)
            .first()
        )
        if member is None:
            raise CommandError("no such active member in that enterprise")
        if not can(member, imports.RIGHT):
            raise CommandError(f"{options['member']} may not import mentions (right {imports.RIGHT})")
        failed = False
        for name in options["files"]:
            path = Path(name).resolve()
            if not path.is_file():
                raise CommandError(f"{name}: no such file")
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            job = Import.objects.create(enterprise=member.enterprise, created_by=member, name=path.name[:200],
                                        path=str(path), size=path.stat().st_size, sha256=digest.hexdigest())  # fmt: skip
            audit.record(member.enterprise, member, "mentions.import_started", job, params={"name": job.name},
                         detail={"size": job.size, "sha256": job.sha256, "from": "command"})  # fmt: skip
            stop = threading.Event()
            watcher = threading.Thread(target=self._watch, args=(job.pk, stop), daemon=True)
            watcher.start()
            try:
                imports.run_import(job)
            finally:
                stop.set()
                watcher.join()
            self.stdout.write(f"{path.name}: {job.state} · {job.rows} records · {job.stored} new mentions · "
                              f"{job.duplicates} already stored")  # fmt: skip
            for error in job.errors:
                self.stderr.write(f"  {error}")
            failed = failed or job.state != "done"
        if failed:
            raise CommandError("some files were not imported")

    def _watch(self, job_id: int, stop: threading.Event) -> None:
        from django.db import connection

        try:
            while not stop.wait(5):
                job = Import.objects.filter(pk=job_id).first()
                if job:
                    self.stderr.write(f"  {job.percent}% · {job.get_state_display()} · {job.done}/{job.rows or '?'}")
        finally:
            connection.close()

"""`guanwei backup PATH`: a consistent copy of the database while the server runs.

SQLite: the online backup API (a page-by-page copy that sees one consistent state, with writers
carrying on). PostgreSQL: `pg_dump --format=custom` (one snapshot transaction). Beside the copy
goes `manifest.json` — when, which database, the applied migrations, and the fingerprints of the
GUANWEI_SECRET_KEYS that encrypt the secrets in it — and `README.txt`, saying that the keys
themselves are NOT in the backup: without them the app secrets and tokens cannot be read, so
keep them apart (a password manager, a different vault). Restore steps: docs/operations.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from guanwei.core import clock

README = """guanwei backup
==============

This folder holds a consistent copy of guanwei's database ({file}) and manifest.json.

The secret keys are NOT in this backup. App secrets and account tokens in it are encrypted
with GUANWEI_SECRET_KEYS; manifest.json lists the fingerprints of the keys that were in use.
Keep the keys apart from the backup (whoever has both can read every token) and make sure you
still have them: a backup restored without its keys has unreadable secrets, and every account
must then be connected again.

Restore: see docs/operations.md, "Backups and restore".
"""


def key_fingerprint(key: str) -> str:
    """A short, one-way name for a Fernet key (safe to write down; reveals nothing)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class Command(BaseCommand):
    help = "Write a consistent copy of the database (and a manifest) into PATH, a new folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="a folder that does not exist yet (or is empty)")

    def handle(self, *args: Any, **options: Any) -> None:
        target = Path(options["path"]).expanduser().resolve()
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise CommandError(f"{target} exists and is not an empty folder: choose a new one.")
        target.mkdir(parents=True, exist_ok=True)
        os.chmod(target, 0o700)  # the copy holds everything but the keys
        vendor = connection.vendor
        if vendor == "sqlite":
            file_name = "guanwei.sqlite3"
            self._sqlite(target / file_name)
        elif vendor == "postgresql":
            file_name = "guanwei.pgdump"
            self._postgres(target / file_name)
        else:  # pragma: no cover - settings allow only these two
            raise CommandError(f"cannot back up a {vendor} database")
        manifest = {
            "created_at": clock.now().isoformat(),
            "database": vendor,
            "file": file_name,
            "bytes": (target / file_name).stat().st_size,
            "migrations": {
                app: name
                for app, name in MigrationRecorder.Migration.objects.order_by("id").values_list(
                    "app", "name"
                )
            },
            "secret_key_fingerprints": [key_fingerprint(k) for k in settings.SECRET_KEYS],
            "secret_keys_included": False,
        }
        (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        (target / "README.txt").write_text(README.format(file=file_name))
        self.stdout.write(
            f"backup written to {target} ({manifest['bytes']:,} bytes, {vendor}).\n"
            "The secret keys (GUANWEI_SECRET_KEYS) are NOT in it: keep them apart, you need them "
            "to read the app secrets and tokens after a restore."
        )

    def _sqlite(self, destination: Path) -> None:
        connection.ensure_connection()
        copy = sqlite3.connect(destination)
        try:
            # In steps of 1,024 pages: writers are not held up for long, and a page written
            # meanwhile makes SQLite restart the copy, so the result is one consistent state.
            connection.connection.backup(copy, pages=1024)
        finally:
            copy.close()
        os.chmod(destination, 0o600)

    def _postgres(self, destination: Path) -> None:
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise CommandError(
                "pg_dump is not installed: install the PostgreSQL client of the server's version "
                "(Debian: apt-get install postgresql-client)."
            )
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version_num")
            server_major = int(cursor.fetchone()[0]) // 10000
        version = subprocess.run([pg_dump, "--version"], capture_output=True, text=True).stdout
        client_major = int("".join(c for c in version.split()[-1].split(".")[0] if c.isdigit()) or 0)
        if client_major < server_major:
            raise CommandError(
                f"pg_dump {client_major} is older than the server ({server_major}): install "
                f"postgresql-client-{server_major}."
            )
        db = connection.settings_dict
        env = dict(os.environ)
        if db.get("PASSWORD"):
            env["PGPASSWORD"] = db["PASSWORD"]  # not on the command line, where `ps` shows it
        command = [pg_dump, "--format=custom", "--no-owner", "--file", str(destination),
                   "--host", db.get("HOST") or "127.0.0.1", "--port", str(db.get("PORT") or 5432),
                   "--username", db.get("USER") or "postgres", db["NAME"]]  # fmt: skip
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            destination.unlink(missing_ok=True)
            raise CommandError(f"pg_dump failed: {result.stderr.strip()[:500]}")
        os.chmod(destination, 0o600)

"""`guanwei backup PATH` while the server runs; a restore into a fresh database finds every row
and every secret decryptable with the keys (which are not in the backup)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from guanwei.core.crypto import decrypt
from guanwei.ops.management.commands.backup import key_fingerprint

pytestmark = pytest.mark.django_db(transaction=True)


def _tables() -> list[str]:
    return sorted(
        m._meta.db_table for m in apps.get_models() if m._meta.managed and not m._meta.proxy
    )


def _counts_here() -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for table in _tables():
            cursor.execute(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608 — our own table names
            counts[table] = cursor.fetchone()[0]
    return counts


def _restore(backup: Path) -> tuple[dict[str, int], list[str]]:
    """Restore into a fresh database; return its row counts and its encrypted columns' values."""
    secrets_sql = [
        "SELECT app_secret FROM matrix_connection",
        "SELECT token FROM matrix_account WHERE token <> ''",
        "SELECT app_secret FROM sandbox_app",
    ]
    if connection.vendor == "sqlite":
        db = sqlite3.connect(backup / "guanwei.sqlite3")
        rows = lambda sql: db.execute(sql).fetchall()  # noqa: E731
        closer = db.close
    else:
        import psycopg

        fresh = f"{connection.settings_dict['NAME']}_restored"
        admin = psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True)
        admin.execute(f'DROP DATABASE IF EXISTS "{fresh}"')
        admin.execute(f'CREATE DATABASE "{fresh}"')
        subprocess.run(["pg_restore", "--no-owner", "-h", "127.0.0.1", "-U", "postgres", "-d",
                        fresh, str(backup / "guanwei.pgdump")], check=True)  # fmt: skip
        db = psycopg.connect(host="127.0.0.1", user="postgres", dbname=fresh)

        def rows(sql):  # type: ignore[no-untyped-def]
            return db.execute(sql).fetchall()

        def closer():  # type: ignore[no-untyped-def]
            db.close()
            admin.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')
            admin.close()

    try:
        counts = {t: rows(f'SELECT COUNT(*) FROM "{t}"')[0][0] for t in _tables()}
        sealed = [v for sql in secrets_sql for (v,) in rows(sql)]
    finally:
        closer()
    return counts, sealed


def test_a_restored_backup_has_every_row_and_every_secret_decryptable(personas, tmp_path: Path) -> None:
    if connection.vendor == "postgresql" and not shutil.which("pg_restore"):
        pytest.skip("pg_restore is not installed")
    from guanwei.sandbox.world import make_app_and_user

    make_app_and_user()  # a sandbox app secret (encrypted) too
    target = tmp_path / "backup-1"
    out = StringIO()
    call_command("backup", str(target), stdout=out)
    assert "NOT in it" in out.getvalue()
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["database"] == connection.vendor and manifest["secret_keys_included"] is False
    assert manifest["secret_key_fingerprints"] == [key_fingerprint(k) for k in settings.SECRET_KEYS]
    assert "are NOT in this backup" in (target / "README.txt").read_text()
    assert not any(k in (target / "manifest.json").read_text() for k in settings.SECRET_KEYS)

    counts, sealed = _restore(target)
    assert counts == _counts_here()
    assert counts["core_member"] > 0 and counts["matrix_account"] > 0
    assert sealed and all(decrypt(value) for value in sealed)  # readable with the kept keys


def test_backup_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "x").write_text("x")
    with pytest.raises(CommandError, match="not an empty folder"):
        call_command("backup", str(tmp_path / "old"))

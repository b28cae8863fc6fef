"""The real components behind the settings: SQLite in WAL mode by default, PostgreSQL through
DATABASE_URL, Redis for the cache when REDIS_URL is set (local memory otherwise)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def shell(tmp_path: Path, code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("GUANWEI_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    clean.update({"GUANWEI_VAR_DIR": str(tmp_path / "var"), "GUANWEI_LOG_LEVEL": "WARNING", **env})
    result = subprocess.run([sys.executable, "-m", "guanwei", "shell", "--no-imports", "-c", code], cwd=tmp_path,
                            env=clean, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_default_database_is_an_sqlite_file_under_var_in_wal_mode(tmp_path: Path) -> None:
    out = shell(tmp_path, "from django.db import connection as c; cur = c.cursor(); "
                          "cur.execute('PRAGMA journal_mode'); print(cur.fetchone()[0], c.settings_dict['NAME'])")
    mode, name = out.split()
    assert mode == "wal"
    assert Path(name) == tmp_path / "var" / "guanwei.db"


def test_cache_is_redis_when_redis_url_is_set(tmp_path: Path) -> None:
    if not answers(6379):
        pytest.skip("no Redis at 127.0.0.1:6379")
    import redis

    key = f"components-{uuid.uuid4().hex}"
    out = shell(tmp_path, f"from django.core.cache import caches; caches['default'].set('{key}', 'ok', 60); "
                          "print(type(caches['default']).__name__)", REDIS_URL="redis://127.0.0.1:6379/15")
    assert out == "RedisCache"
    client = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    stored = [k for k in client.keys(f"*{key}*")]
    assert stored, "the value did not reach Redis"
    client.delete(*stored)


def test_cache_is_per_process_memory_without_redis_url() -> None:
    if settings.REDIS_URL:
        pytest.skip("this run uses Redis")
    assert settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")

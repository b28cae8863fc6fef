"""The `guanwei` command as a user runs it: in a subprocess, on its own database."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from guanwei.core.models import Role


def guanwei_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUANWEI_", "DJANGO_"))}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'x.db'}",
                "GUANWEI_VAR_DIR": str(tmp_path / "var"), "GUANWEI_LOG_LEVEL": "WARNING", **extra})
    return env


def guanwei(tmp_path: Path, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guanwei", *args], cwd=tmp_path, env=guanwei_env(tmp_path, **env),
        capture_output=True, text=True, timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_seed_only_works_anywhere_with_a_database_url(tmp_path: Path) -> None:
    """DATABASE_URL=sqlite:////some/dir/x.db guanwei demo --seed-only, from an unrelated dir."""
    db = tmp_path / "somewhere" / "else" / "x.db"
    result = guanwei(tmp_path, "demo", "--seed-only", DATABASE_URL=f"sqlite:///{db}")
    assert result.returncode == 0, result.stderr
    assert "zhangwei" in result.stdout and "guanwei-demo" in result.stdout
    with sqlite3.connect(db) as conn:
        (members,) = conn.execute(
            "SELECT count(*) FROM core_member m JOIN core_enterprise e ON e.id = m.enterprise_id "
            "WHERE e.slug = 'demo'").fetchone()
        (accounts,) = conn.execute("SELECT count(*) FROM matrix_account").fetchone()
    assert members == len(Role.values)
    assert accounts >= 6
    again = guanwei(tmp_path, "demo", "--seed-only", DATABASE_URL=f"sqlite:///{db}")
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stdout


def test_run_serves_web_and_worker_until_sigint_stops_both(tmp_path: Path) -> None:
    assert guanwei(tmp_path, "migrate", "-v0").returncode == 0
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "guanwei", "run", "--port", str(port)], cwd=tmp_path,
        env=guanwei_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        health = wait_for_fresh_worker(port, proc)
        assert health["db"] == "ok" and health["worker"]["fresh"] is True
        with sqlite3.connect(tmp_path / "db" / "x.db") as conn:
            (worker_pid,) = conn.execute("SELECT pid FROM ops_workerheartbeat").fetchone()
        assert worker_pid != proc.pid and process_exists(worker_pid)

        # A worker that dies is replaced (after a short backoff) ...
        os.kill(worker_pid, signal.SIGKILL)
        worker_pid = wait_for_new_worker(tmp_path / "db" / "x.db", old_pid=worker_pid)
        assert process_exists(worker_pid)

        # ... and Ctrl-C stops web and worker together.
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "stopped." in output
    assert wait_until_gone(worker_pid), "the worker outlived `guanwei run`"
    with sqlite3.connect(tmp_path / "db" / "x.db") as conn:
        (stopped_at,) = conn.execute(
            "SELECT stopped_at FROM ops_workerheartbeat WHERE pid = ?", (worker_pid,)).fetchone()
    assert stopped_at is not None  # it stopped cleanly, not killed


def test_run_refuses_to_start_on_an_unmigrated_database(tmp_path: Path) -> None:
    result = guanwei(tmp_path, "run", "--port", str(free_port()))
    assert result.returncode != 0
    assert "guanwei migrate" in result.stderr


def wait_for_fresh_worker(port: int, proc: subprocess.Popen[str], limit_s: float = 90) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"guanwei run exited early:\n{proc.stdout.read() if proc.stdout else ''}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                return json.load(r)  # 200: database ok and a worker beat
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    pytest.fail("/healthz never reported a fresh worker")


def wait_for_new_worker(db: Path, old_pid: int, limit_s: float = 90) -> int:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            row = conn.execute("SELECT pid FROM ops_workerheartbeat WHERE pid != ? AND stopped_at IS NULL",
                               (old_pid,)).fetchone()
        if row:
            return int(row[0])
        time.sleep(0.3)
    pytest.fail("the killed worker was not replaced")


def process_exists(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_until_gone(pid: int, limit_s: float = 30) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if not process_exists(pid):
            return True
        time.sleep(0.2)
    return False


def test_demo_refuses_to_print_passwords_in_production() -> None:
    from django.core.management import CommandError, call_command
    from django.test import override_settings

    with override_settings(IS_PRODUCTION=True), pytest.raises(CommandError, match="production"):
        call_command("demo", "--seed-only")


def test_worker_explains_that_immediate_tasks_need_no_worker() -> None:
    from django.core.management import CommandError, call_command
    from django.test import override_settings

    immediate = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with override_settings(TASKS=immediate), pytest.raises(CommandError, match="GUANWEI_TASKS_IMMEDIATE"):
        call_command("worker", "--batch")

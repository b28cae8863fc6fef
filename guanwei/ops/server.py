"""Web + worker in one process tree, for `guanwei run` and `guanwei demo`.

The web server (waitress, a pure-Python WSGI server) runs in this process; the worker is a
child process (`python -m guanwei worker`) in its own session, so that a Ctrl-C in the terminal
reaches only us and we stop the worker exactly once, letting it finish the task in hand. The
child also watches our pid and stops if we disappear without a word (SIGKILL).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TextIO

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from guanwei.ops.queries import uses_task_queue
from guanwei.ops.worker import PARENT_PID_ENV

log = logging.getLogger("guanwei.ops.server")

WORKER_STOP_GRACE_S = 30
RESTART_BACKOFF_MAX_S = 60


def unapplied_migrations() -> list[str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{m.app_label}.{m.name}" for m, _ in plan]


class WorkerProcess:
    """Keeps one `guanwei worker` child alive until stop(); restarts it (with backoff) if it
    dies on its own, so a crash in the worker never silently leaves the demo without one."""

    def __init__(self, stdout: TextIO) -> None:
        self.stdout = stdout
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self.lock = threading.Lock()  # a restart and stop() never interleave
        self.thread = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._spawn()
        self.thread.start()

    def _spawn(self) -> None:
        env = {**os.environ, PARENT_PID_ENV: str(os.getpid())}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "guanwei", "worker"], env=env, start_new_session=True
        )
        self.stdout.write(f"worker started (pid {self.proc.pid})\n")
        self.stdout.flush()

    def _supervise(self) -> None:
        backoff = 1.0
        while not self.stopping.is_set():
            assert self.proc is not None
            started = time.monotonic()
            code = self.proc.wait()
            if self.stopping.is_set():
                return
            if time.monotonic() - started > RESTART_BACKOFF_MAX_S:
                backoff = 1.0  # it had been healthy: this is a new incident
            log.error("worker pid=%s exited with %s; restarting in %.0f s", self.proc.pid, code, backoff)
            if self.stopping.wait(backoff):
                return
            backoff = min(backoff * 2, RESTART_BACKOFF_MAX_S)
            with self.lock:
                if self.stopping.is_set():
                    return
                self._spawn()

    def stop(self) -> int | None:
        with self.lock:
            self.stopping.set()
            proc = self.proc
        if proc is None or proc.poll() is not None:
            return None if proc is None else proc.returncode
        proc.send_signal(signal.SIGTERM)  # graceful: the worker finishes its current task
        try:
            return proc.wait(timeout=WORKER_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            log.warning("worker pid=%s did not stop in %s s; killing it", proc.pid, WORKER_STOP_GRACE_S)
            proc.kill()
            return proc.wait()


def serve(*, host: str, port: int, threads: int, stdout: TextIO, with_worker: bool = True) -> None:
    """Serve guanwei.wsgi on host:port and run a worker beside it until SIGINT/SIGTERM."""
    from waitress import create_server

    from guanwei.wsgi import application

    # Bind first: a busy port fails here, before a worker is started for nothing.
    server = create_server(application, host=host, port=port, threads=threads, ident="guanwei")
    if with_worker and not uses_task_queue():
        stdout.write("tasks run inside requests (GUANWEI_TASKS_IMMEDIATE): no worker started\n")
        with_worker = False
    worker = WorkerProcess(stdout) if with_worker else None

    def _stop(signum, frame):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    # Explicit for SIGINT too: a process started in the background by a shell inherits SIGINT
    # ignored, and `kill -INT` must still stop us.
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if worker:
            worker.start()
        stdout.write(f"web listening on http://{host}:{port}/ (Ctrl-C stops web and worker)\n")
        stdout.flush()
        server.run()  # returns (after closing) on KeyboardInterrupt/SystemExit
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close()
        if worker:
            stdout.write("stopping the worker…\n")
            stdout.flush()
            worker.stop()
        stdout.write("stopped.\n")
        stdout.flush()

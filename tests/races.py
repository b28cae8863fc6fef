"""Races for the tests that need real concurrent connections (PostgreSQL): calls started at
the same moment in threads, each with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections

from guanwei.core.errors import ActionError


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run `calls` together (a barrier releases them at once); each one's result, or the
    ActionError it raised, in the order given. Any other error is raised here."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    crashed: list[BaseException] = []

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[i] = call()
        except ActionError as refused:
            results[i] = refused
        except BaseException as error:  # re-raised in the test's thread below
            crashed.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if crashed:
        raise crashed[0]
    return results

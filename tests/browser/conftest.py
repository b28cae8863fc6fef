"""Playwright driving Debian's Chromium against pytest-django's live_server."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.signals import request_finished, request_started

CHROMIUM = "/usr/bin/chromium"


class InFlight:
    """Requests the live server is still answering. Its thread shares the test's in-memory SQLite
    connection, so a request still running when the test ends (a favicon, a poll the closed page
    had sent) would use that connection while pytest-django flushes the database: the flush then
    fails. The contexts' fixture waits for this count to drop to zero after it closes them.
    Only the server's threads count: the test client answers in the test's own thread, and a
    streamed answer it never reads to the end would never finish."""

    def __init__(self) -> None:
        self.count = 0
        self.seen = 0  # requests started, ever
        self.changed = threading.Condition()

    def started(self, **kwargs: object) -> None:
        if threading.current_thread() is threading.main_thread():
            return
        with self.changed:
            self.count += 1
            self.seen += 1

    def finished(self, **kwargs: object) -> None:
        if threading.current_thread() is threading.main_thread():
            return
        with self.changed:
            self.count = max(0, self.count - 1)
            self.changed.notify_all()

    def wait_idle(self, timeout: float, quiet: float = 0.2) -> bool:
        """True once no request has run for `quiet` seconds (one the closed page sent may still
        be on its way to the server), False after `timeout`."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                if not self.changed.wait_for(lambda: self.count == 0, deadline - time.monotonic()):
                    return False
                seen = self.seen
                self.changed.wait(quiet)  # woken early only by a request that ended
                if self.count == 0 and self.seen == seen:
                    return True
                if time.monotonic() > deadline:  # requests kept coming
                    return False


in_flight = InFlight()
request_started.connect(in_flight.started, weak=False, dispatch_uid="browser-in-flight-started")
request_finished.connect(in_flight.finished, weak=False, dispatch_uid="browser-in-flight-finished")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run in a
    # thread with a running loop unless told it is safe (the test drives, the server thread
    # serves). Only while browser tests run, so other tests keep Django's guard.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_context(browser):  # type: ignore[no-untyped-def]
    """Opens a browser context (a person's own cookies) at a width: 1280 px, or a phone's 375.
    All are closed when the test ends, and the test waits until the live server has answered what
    they had sent, before the database is flushed."""
    opened = []

    def open_context(width: int = 1280):  # type: ignore[no-untyped-def]
        context = browser.new_context(
            viewport={"width": width, "height": 900 if width > 500 else 812}, locale="zh-CN"
        )
        context.set_default_timeout(15_000)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()
    assert in_flight.wait_idle(timeout=30), f"the live server still answers {in_flight.count} request(s)"


@pytest.fixture
def new_page(new_context):  # type: ignore[no-untyped-def]
    """A page in a context of its own (another person), closed when the test ends."""
    return lambda width=1280: new_context(width).new_page()


@pytest.fixture
def page(new_page):  # type: ignore[no-untyped-def]
    return new_page()


@pytest.fixture
def screenshots() -> Path:
    """Where browser tests leave screenshots for a person to look at (var/ is not committed)."""
    from django.conf import settings

    path = Path(settings.VAR_DIR) / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def login(page, base_url: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base_url + "/")
    assert "/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main form button[type=submit]")
    page.wait_for_url(base_url + "/")

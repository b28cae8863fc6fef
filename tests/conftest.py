"""Shared fixtures: the personas (see tests/personas.py), logged-in clients, fast hashing."""

from __future__ import annotations

import tempfile

import pytest
from django.test import Client

from tests import personas as _personas


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # Hashing passwords is the slowest thing a test does; MD5 is fine for throwaway users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Export files go to a throwaway directory, not the checkout's var/ (one per xdist worker).
    settings.STORAGES["exports"]["OPTIONS"]["location"] = tempfile.mkdtemp(prefix="gw-test-exports-")
    _allow_flushing_audit_log_on_sqlite()


def _allow_flushing_audit_log_on_sqlite() -> None:
    """The audit table refuses DELETE at the database level (core migration 0002). Transactional
    tests (live_server) empty tables between tests with ``DELETE FROM`` on SQLite, so for tests
    only the flush drops the triggers, empties the table and puts the triggers back. (PostgreSQL
    flushes with TRUNCATE, which row triggers do not see.)"""
    # via .base: importing .operations first is a circular import when the backend is not loaded yet (PostgreSQL runs)
    from django.db.backends.sqlite3.base import DatabaseOperations

    from guanwei.core.db_guards import SQLITE_AUDIT_DROP, SQLITE_AUDIT_TRIGGERS

    original = DatabaseOperations.sql_flush
    if getattr(original, "_guanwei_wrapped", False):
        return

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):  # type: ignore[no-untyped-def]
        statements = original(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        if "core_auditentry" in tables:
            statements = [*SQLITE_AUDIT_DROP, *statements, *SQLITE_AUDIT_TRIGGERS]
        return statements

    sql_flush._guanwei_wrapped = True  # type: ignore[attr-defined]
    DatabaseOperations.sql_flush = sql_flush  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Login throttling and other counters live in the cache; every test starts from zero."""
    from django.conf import settings
    from django.core.cache import cache
    from django.utils import translation

    from guanwei.monitoring import matching

    cache.clear()
    # A request in English (LocaleMiddleware activates the language in this thread and nothing
    # deactivates it) must not leave the next test's texts in English.
    translation.activate(settings.LANGUAGE_CODE)
    # Compiled matchers are kept per process, stamped by (count, largest id, latest change) of the
    # monitors; a rolled-back test gives its ids and its frozen clock to the next one.
    matching._cache.clear()


@pytest.fixture
def personas(db: None) -> _personas.Personas:
    return _personas.build()


@pytest.fixture
def client_for(personas: _personas.Personas):  # type: ignore[no-untyped-def]
    """`client_for("alice")` or `client_for(member)`: a test client signed in as that member."""

    def make(who) -> Client:  # type: ignore[no-untyped-def]
        member = personas.members.get(who) if isinstance(who, str) else who
        if member is None and who == "mallory":
            member = personas.mallory
        client = Client()
        client.force_login(member.user)
        return client

    return make


@pytest.fixture
def operator(db: None):  # type: ignore[no-untyped-def]
    """The server operator: a Django superuser who belongs to no enterprise."""
    from django.contrib.auth.models import User

    return User.objects.create_superuser("olga", "olga@example.com", "operator-pass-9")


@pytest.fixture
def operator_client(operator) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(operator)
    return client

"""The sandbox stores credentials as a real platform would: tokens and codes by hash, app secrets
encrypted — never in clear text beside guanwei's encrypted columns."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from guanwei.sandbox import store
from guanwei.sandbox.models import Token, hash_credential
from guanwei.sandbox.world import make_app_and_user

pytestmark = pytest.mark.django_db


def _raw(table: str, column: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")  # noqa: S608 — fixed names
        return [row[0] for row in cursor.fetchall()]


def test_no_token_code_or_secret_is_in_clear_text_in_the_database(client) -> None:
    app, user, token = make_app_and_user(screen_name="存储检查")
    _, code = store.create_auth_code(app, user, "https://example.com/cb")
    dump = repr([_rows(t) for t in ("sandbox_token", "sandbox_authcode", "sandbox_app")])
    assert token.token not in dump and code not in dump and app.app_secret not in dump
    assert hash_credential(token.token) in _raw("sandbox_token", "token_hash")
    # and the platform still works with them
    assert Token.matching(token.token).get() == token
    r = client.get("/sandbox/2/account/get_uid.json", {"access_token": token.token})
    assert r.status_code == 200 and r.json()["uid"] == user.pk


def _rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 — fixed names
        return cursor.fetchall()


@pytest.mark.django_db(transaction=True)
def test_migration_seals_existing_clear_text_rows() -> None:
    from datetime import UTC, datetime, timedelta

    before = [("sandbox", "0005_run_enterprise")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    at = datetime(2026, 1, 1, tzinfo=UTC)
    app = old.get_model("sandbox", "App").objects.create(
        app_key="1234567890", app_secret="clear-secret-0001", name="old", created_at=at
    )
    user = old.get_model("sandbox", "SandboxUser").objects.create(
        id=5_900_000_001, screen_name="旧用户", created_at=at
    )
    old.get_model("sandbox", "Token").objects.create(
        token="2.00cleartoken", app_id=app.pk, user_id=user.pk, created_at=at,
        expires_at=at + timedelta(days=9999),
    )  # fmt: skip
    old.get_model("sandbox", "AuthCode").objects.create(
        code="clearcode", app_id=app.pk, user_id=user.pk, redirect_uri="https://x/", created_at=at
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    dump = repr([_rows(t) for t in ("sandbox_app", "sandbox_token", "sandbox_authcode")])
    assert "clear-secret-0001" not in dump and "2.00cleartoken" not in dump
    assert "clearcode" not in dump
    from guanwei.sandbox.models import App, AuthCode

    assert App.objects.get(pk=app.pk).app_secret == "clear-secret-0001"
    assert Token.matching("2.00cleartoken").get().token == "2.00cleartoken"
    assert AuthCode.objects.filter(code_hash=hash_credential("clearcode")).exists()

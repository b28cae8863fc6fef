"""GUANWEI_SANDBOX decides whether the built-in sandbox exists at all; the built-in connection
follows the server's own address at run time; the consent page is throttled like guanwei's."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from guanwei.matrix import connectors
from guanwei.platforms.base import PlatformError
from guanwei.sandbox.world import DEMO_PASSWORD, make_app_and_user

pytestmark = pytest.mark.django_db


def _sandbox_enabled_in(env: dict[str, str], tmp_path: Path) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GUANWEI_", "DJANGO_"))}
    clean.update({"GUANWEI_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
                  "DJANGO_SETTINGS_MODULE": "guanwei.settings", **env})  # fmt: skip
    code = "import django; django.setup(); from django.conf import settings; print(settings.SANDBOX_ENABLED)"
    out = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True,
                         timeout=60, check=True)  # fmt: skip
    return out.stdout.strip()


def test_on_by_default_outside_production_and_off_in_production_unless_set(tmp_path: Path) -> None:
    prod = {"GUANWEI_ENV": "production", "GUANWEI_SECRET_KEY": "x" * 50,
            "GUANWEI_SECRET_KEYS": "3KXPtV0MzUYMRPvuRb1kOO6W6S0rRkHVJ8IiAnYJuVQ=",
            "GUANWEI_BASE_URL": "https://gw.example.com", "GUANWEI_ALLOWED_HOSTS": "gw.example.com"}  # fmt: skip
    assert _sandbox_enabled_in({"GUANWEI_ENV": "development"}, tmp_path) == "True"
    assert _sandbox_enabled_in(prod, tmp_path) == "False"
    assert _sandbox_enabled_in({**prod, "GUANWEI_SANDBOX": "true"}, tmp_path) == "True"


def _urls_with_sandbox(enabled: bool, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SANDBOX_ENABLED = enabled
    name = f"guanwei_urls_sandbox_{enabled}"
    spec = importlib.util.spec_from_file_location(name, Path(connectors.__file__).parents[1] / "urls.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    settings.ROOT_URLCONF = name


def test_switched_off_the_sandbox_does_not_exist(settings, client) -> None:  # type: ignore[no-untyped-def]
    _, _, token = make_app_and_user()
    _urls_with_sandbox(False, settings)
    for path in ("/sandbox/", "/sandbox/2/account/get_uid.json", "/sandbox/oauth2/authorize",
                 "/sandbox/faults/", "/sandbox/runs/"):  # fmt: skip
        assert client.get(path, {"access_token": token.token}).status_code == 404, path
    _urls_with_sandbox(True, settings)
    assert client.get("/sandbox/2/account/get_uid.json", {"access_token": token.token}).status_code == 200


def test_switched_off_its_commands_refuse_and_its_connections_say_why(settings, personas) -> None:  # type: ignore[no-untyped-def]
    settings.SANDBOX_ENABLED = False
    for command in (("sandbox", "runs"), ("sandbox_fault", "list")):
        with pytest.raises(CommandError, match="GUANWEI_SANDBOX"):
            call_command(*command)
    with pytest.raises(PlatformError) as error:
        connectors.for_connection(personas.connection)
    assert error.value.kind == "unavailable" and error.value.permanent
    assert "GUANWEI_SANDBOX" in error.value.message


def test_the_builtin_connection_follows_the_servers_address_at_run_time(settings, personas) -> None:  # type: ignore[no-untyped-def]
    """`guanwei demo --seed-only` then `guanwei run --port 8102`: the connection was stored with
    port 8000, but the sandbox now answers on 8102 — and so must the connector."""
    assert personas.connection.base_url == "http://127.0.0.1:8000/sandbox"
    settings.BASE_URL = "http://127.0.0.1:8102"
    connector = connectors.for_connection(personas.connection)
    url = str(connector.authorize_url("http://127.0.0.1:8102/cb", "s"))
    connector.close()
    assert url.startswith("http://127.0.0.1:8102/sandbox/oauth2/authorize?")


def test_run_port_points_the_base_url_and_the_worker_at_itself(monkeypatch, settings) -> None:  # type: ignore[no-untyped-def]
    from guanwei.ops.management.commands.run import point_base_url_at

    monkeypatch.delenv("GUANWEI_BASE_URL", raising=False)
    point_base_url_at(8102)
    assert settings.BASE_URL == "http://127.0.0.1:8102"
    assert os.environ["GUANWEI_BASE_URL"] == "http://127.0.0.1:8102"  # inherited by the worker
    monkeypatch.delenv("GUANWEI_BASE_URL")


@override_settings(LOGIN_FAILURE_LIMIT=3, LOGIN_FAILURE_WINDOW_S=600)
def test_the_consent_sign_in_is_throttled_like_guanweis(client: Client) -> None:
    app, user, _ = make_app_and_user(redirect_uris="https://guanwei.example/cb", password=DEMO_PASSWORD)
    params = {"client_id": app.app_key, "redirect_uri": "https://guanwei.example/cb", "state": "s"}
    url = "/sandbox/oauth2/authorize?" + "&".join(f"{k}={v}" for k, v in params.items())
    for _ in range(3):
        wrong = client.post(url, {"screen_name": user.screen_name, "password": "wrong"},
                            REMOTE_ADDR="10.3.3.3")  # fmt: skip
        assert wrong.status_code == 400
    blocked = client.post(url, {"screen_name": user.screen_name, "password": DEMO_PASSWORD},
                          REMOTE_ADDR="10.3.3.3")  # fmt: skip
    assert blocked.status_code == 400 and "尝试次数过多" in blocked.content.decode()
    other = Client().post(url, {"screen_name": user.screen_name, "password": DEMO_PASSWORD},
                          REMOTE_ADDR="10.4.4.4")  # fmt: skip
    assert other.status_code == 302 and "code=" in other["Location"]

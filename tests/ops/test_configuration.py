"""Configuration: a bad variable stops start-up naming it; system checks catch bad combinations;
.env.example lists every variable settings.py reads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from guanwei.ops.checks import check_configuration

ROOT = Path(__file__).resolve().parents[2]
# The checks read settings.DATABASES; overriding it here touches no connection.
pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")

BAD_VALUES = [
    ("GUANWEI_ENV", "staging"),
    ("GUANWEI_DEBUG", "maybe"),
    ("GUANWEI_SECRET_KEYS", "not-a-fernet-key"),
    ("GUANWEI_BASE_URL", "ftp://example.com"),
    ("DATABASE_URL", "mysql://root@localhost/guanwei"),
    ("DATABASE_URL", "nonsense"),
    ("REDIS_URL", "http://localhost:6379"),
    ("GUANWEI_TASKS_IMMEDIATE", "sometimes"),
    ("GUANWEI_LOGIN_FAILURE_LIMIT", "five"),
    ("GUANWEI_LOGIN_FAILURE_LIMIT", "0"),
    ("GUANWEI_LOGIN_FAILURE_WINDOW_S", "-1"),
    ("GUANWEI_TIME_ZONE", "Mars/Olympus_Mons"),
    ("GUANWEI_DATA_DIR", "/nonexistent/guanwei-data"),
    ("GUANWEI_HTTP_TIMEOUT_S", "1.5"),
    ("GUANWEI_TOKEN_EXPIRY_WARNING_S", "10"),
    ("GUANWEI_LOG_LEVEL", "LOUD"),
]


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GUANWEI_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    clean.update({"GUANWEI_VAR_DIR": str(tmp_path / "var"),
                  "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", **env})
    return subprocess.run([sys.executable, "-m", "guanwei", "check"], cwd=tmp_path, env=clean,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("name", "value"), BAD_VALUES, ids=[f"{n}={v}" for n, v in BAD_VALUES])
def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path: Path, name: str, value: str) -> None:
    result = start(tmp_path, **{name: value})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("guanwei: configuration error: ")
    assert name in result.stderr
    assert "Traceback" not in result.stderr


def test_production_without_secret_keys_stops_start_up_naming_them(tmp_path: Path) -> None:
    result = start(tmp_path, GUANWEI_ENV="production", GUANWEI_BASE_URL="https://gw.example.com",
                   GUANWEI_ALLOWED_HOSTS="gw.example.com")
    assert result.returncode == 2
    assert "GUANWEI_SECRET_KEY" in result.stderr and "GUANWEI_SECRET_KEYS" in result.stderr


def test_the_defaults_start_cleanly(tmp_path: Path) -> None:
    result = start(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


PRODUCTION_OK = {
    "IS_PRODUCTION": True, "DEBUG": False, "BASE_URL": "https://gw.example.com",
    "ALLOWED_HOSTS": ["gw.example.com"], "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SECRET_KEY": "k" * 10 + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH",
    "DATABASES": {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "guanwei"}},
    "TASKS": {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
}


def ids(**overrides: object) -> set[str]:
    with override_settings(**{**PRODUCTION_OK, **overrides}):
        return {m.id for m in check_configuration()}


def test_a_sound_production_configuration_passes_the_checks() -> None:
    assert ids() == set()


def test_checks_name_each_bad_production_combination() -> None:
    assert ids(DEBUG=True) == {"guanwei.E001"}
    assert ids(DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "x"}}) == {"guanwei.W002"}
    assert ids(BASE_URL="http://gw.example.com") == {"guanwei.E005"}
    assert ids(REDIS_URL="") == {"guanwei.W004"}
    assert ids(TASKS={"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}) == {"guanwei.W006"}
    assert ids(ALLOWED_HOSTS=["*"]) == {"guanwei.W007"}
    assert ids(SECRET_KEY="short") == {"guanwei.W008"}


def test_base_url_host_must_be_allowed_everywhere() -> None:
    assert ids(ALLOWED_HOSTS=["other.example.com"]) == {"guanwei.E003"}
    assert ids(ALLOWED_HOSTS=[".example.com"]) == set()  # Django's subdomain wildcard
    assert ids(IS_PRODUCTION=False, ALLOWED_HOSTS=["localhost"], BASE_URL="http://127.0.0.1:8000") == {"guanwei.E003"}
    assert ids(IS_PRODUCTION=False, DEBUG=True, REDIS_URL="", BASE_URL="http://127.0.0.1:8000",
               ALLOWED_HOSTS=["127.0.0.1"]) == set()  # development may be lax


def settings_variables() -> set[str]:
    source = (ROOT / "guanwei" / "settings.py").read_text()
    names = set(re.findall(r"\benv(?:_[a-z]+)?\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", source))
    names |= set(re.findall(r"os\.environ\.get\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", source))
    return names


def test_env_example_lists_every_variable_settings_reads_with_an_explanation() -> None:
    names = settings_variables()
    assert {"DATABASE_URL", "GUANWEI_SECRET_KEYS", "GUANWEI_ENV"} <= names  # the parser works
    lines = (ROOT / ".env.example").read_text().splitlines()
    listed = {}
    for i, line in enumerate(lines):
        m = re.match(r"#?\s*([A-Z][A-Z0-9_]*)=", line)
        if m:
            listed[m.group(1)] = i
    missing = names - listed.keys()
    assert not missing, f"add to .env.example: {sorted(missing)}"
    unknown = listed.keys() - names
    assert not unknown, f".env.example lists variables settings.py does not read: {sorted(unknown)}"
    for name, i in listed.items():
        assert i > 0 and lines[i - 1].startswith("# "), f"{name} needs a one-line explanation above it"


def test_configuration_errors_do_not_print_passwords(tmp_path: Path) -> None:
    db = start(tmp_path, DATABASE_URL="mysql://guanwei:hunter2@db.example.com/guanwei")
    redis = start(tmp_path, REDIS_URL="http://:hunter2@cache.example.com:6379")
    for result, name in ((db, "DATABASE_URL"), (redis, "REDIS_URL")):
        assert result.returncode == 2 and name in result.stderr
        assert "hunter2" not in result.stderr


def test_outside_production_the_secret_keys_are_generated_once_and_kept(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    assert start(tmp_path).returncode == 0
    secrets_file = tmp_path / "var" / "secrets.env"
    first = secrets_file.read_text()
    assert secrets_file.stat().st_mode & 0o777 == 0o600  # readable by the owner only
    values = dict(line.split("=", 1) for line in first.splitlines())
    Fernet(values["GUANWEI_SECRET_KEYS"].encode())  # a usable key
    assert len(values["GUANWEI_SECRET_KEY"]) >= 50
    assert start(tmp_path).returncode == 0
    assert secrets_file.read_text() == first  # the same keys next time: tokens stay readable


class _FakeConnection:
    """A connection whose server answers SHOW autovacuum with `autovacuum`."""

    def __init__(self, vendor: str, autovacuum: str) -> None:
        self.vendor, self.autovacuum = vendor, autovacuum

    def cursor(self):  # type: ignore[no-untyped-def]
        answer = self.autovacuum

        class Cursor:
            def __enter__(self):  # type: ignore[no-untyped-def]
                return self

            def __exit__(self, *exc: object) -> None:
                return None

            def execute(self, sql: str) -> None:
                assert sql == "SHOW autovacuum"

            def fetchone(self) -> tuple[str]:
                return (answer,)

        return Cursor()


def test_postgresql_without_autovacuum_is_warned_of(monkeypatch) -> None:
    import django.db

    from guanwei.ops.checks import check_database

    def ids(vendor: str, autovacuum: str, databases: list[str] | None = None) -> set[str]:
        monkeypatch.setattr(django.db, "connections", {"default": _FakeConnection(vendor, autovacuum)})
        return {m.id for m in check_database(databases=databases)}

    assert ids("postgresql", "off", ["default"]) == {"guanwei.W009"}
    assert ids("postgresql", "on", ["default"]) == set()
    assert ids("postgresql", "off") == set()  # asked only with --database
    assert ids("sqlite", "off", ["default"]) == set()

"""Production behind TLS: links are https, the security headers are sent, and `guanwei check
--deploy` passes clean with the settings docs/operations.md documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from guanwei.core.models import Invitation

PRODUCTION = {
    "GUANWEI_ENV": "production",
    "GUANWEI_SECRET_KEY": "k3y-for-tests-only-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGH",
    "GUANWEI_SECRET_KEYS": "3KXPtV0MzUYMRPvuRb1kOO6W6S0rRkHVJ8IiAnYJuVQ=",
    "GUANWEI_BASE_URL": "https://gw.example.com",
    "GUANWEI_ALLOWED_HOSTS": "gw.example.com",
    "GUANWEI_PROXY_SSL_HEADER": "true",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def _run(tmp_path: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GUANWEI_", "DJANGO_", "REDIS_URL"))}
    clean.update({"GUANWEI_VAR_DIR": str(tmp_path), "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
                  "DJANGO_SETTINGS_MODULE": "guanwei.settings", **PRODUCTION, **env})  # fmt: skip
    return subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)  # fmt: skip


def test_check_deploy_passes_clean_with_the_documented_production_settings(tmp_path: Path) -> None:
    result = _run(tmp_path, "import sys; from django.core.management import execute_from_command_line; "
                  "execute_from_command_line(['guanwei', 'check', '--deploy', '--fail-level', 'WARNING'])")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_sends_csp_hsts_and_redirects_to_https(tmp_path: Path) -> None:
    code = """
import django, json; django.setup()
from django.core.management import call_command
call_command('migrate', verbosity=0)
from django.test import Client
c = Client()
plain = c.get('/login/', HTTP_HOST='gw.example.com')
health = c.get('/healthz?check=db', HTTP_HOST='gw.example.com')
tls = c.get('/login/', HTTP_HOST='gw.example.com', HTTP_X_FORWARDED_PROTO='https')
print(json.dumps({'plain': [plain.status_code, plain.get('Location')],
                  'health': health.status_code,
                  'tls': [tls.status_code, tls.get('Content-Security-Policy'),
                          tls.get('Strict-Transport-Security'), tls.get('X-Frame-Options')]}))
"""
    result = _run(tmp_path, code, DATABASE_URL=f"sqlite:///{tmp_path}/p.db")
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://gw.example.com/login/"]
    assert seen["health"] in (200, 503)  # load balancers' probe is not redirected
    status, csp, hsts, frames = seen["tls"]
    assert status == 200
    assert "script-src 'self'" in csp and "object-src 'none'" in csp and "unsafe-eval" not in csp
    assert "max-age=31536000" in hsts and "includeSubDomains" in hsts
    assert frames == "DENY"


@pytest.mark.django_db
def test_behind_tls_invitation_links_and_redirect_uris_are_https(personas, client_for, settings) -> None:  # type: ignore[no-untyped-def]
    settings.BASE_URL = "https://gw.example.com"
    settings.ALLOWED_HOSTS = ["gw.example.com", "testserver"]
    admin = client_for("bob")
    response = admin.post("/members/invite/", {"email": "new@example.com", "role": "editor"},
                          HTTP_HOST="gw.example.com", HTTP_X_FORWARDED_PROTO="https")  # fmt: skip
    html = response.content.decode()
    assert "https://gw.example.com/invite/inv_" in html and "http://gw.example.com" not in html
    assert Invitation.objects.filter(email="new@example.com").exists()
    from guanwei.matrix.actions import callback_url

    assert callback_url(None, personas.connection) == (
        f"https://gw.example.com/matrix/connections/{personas.connection.pk}/callback"
    )


def test_a_forged_host_header_does_not_change_an_invitation_link(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    html = client_for("bob").post("/members/invite/", {"email": "x@example.com", "role": "editor"}).content.decode()
    assert "http://127.0.0.1:8000/invite/inv_" in html
    assert Client  # the test client's own host (testserver) never appears in the link
    assert "testserver/invite" not in html

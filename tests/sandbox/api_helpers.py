"""Small helpers for the sandbox API tests: call an endpoint as Weibo clients do."""

from __future__ import annotations

from typing import Any

from django.test import Client

from guanwei.sandbox.models import Token

LINK = "http://demo.guanwei.local/p/1"


def call(
    client: Client,
    method: str,
    name: str,
    token: Token | str | None = None,
    *,
    header: bool = True,
    **params: Any,
):
    """`call(client, "POST", "statuses/share", token, status="…")` → the test response.
    The token goes into `Authorization: OAuth2 …` (or the `access_token` parameter)."""
    raw = token.token if isinstance(token, Token) else token
    headers = {}
    if raw and header:
        headers["Authorization"] = f"OAuth2 {raw}"
    elif raw:
        params["access_token"] = raw
    url = f"/sandbox/2/{name}.json"
    if method == "GET":
        return client.get(url, params, headers=headers)
    return client.post(url, params, headers=headers)


def share(client: Client, token: Token, text: str, **params: Any):
    params.setdefault("rip", "211.156.0.1")
    return call(client, "POST", "statuses/share", token, status=text, **params)


def assert_error(response, code: int, status: int | None = None) -> dict[str, Any]:
    body = response.json()
    assert body["error_code"] == code, body
    assert isinstance(body["error_code"], int)
    assert set(body) >= {"request", "error_code", "error"}
    assert response.status_code >= 400
    if status is not None:
        assert response.status_code == status
    return body

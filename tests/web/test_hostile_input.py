"""Hostile strings at every form field and query parameter of the pages: never a 5xx.

The pages come from the URL resolver (the walk of tests/test_tenant_isolation.py, with real
ids); each page is fetched as the owner, its form fields read from the HTML, and hypothesis
throws hostile values at them — as the query string and as a POST body."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, quote_from_bytes

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guanwei.core.actions import do_invite_member
from guanwei.core.models import Role
from tests.personas import Personas
from tests.test_tenant_isolation import (  # noqa: F401 (insider_objects is a fixture)
    all_routes,
    insider_objects,
    values_for,
)

HOSTILE = [
    "\x00", "a\x00b", "\ud800", "x\udfff", "\u202eevil\u202c", "\u200f\u200e", "line\r\nbreak",
    "A" * (1024 * 1024), "-1", "0", "99999999999999999999", "1e309", "NaN", "9999-12-31",
    "0001-01-01", "2026-02-30", "'; DROP TABLE core_member; --", "<script>alert(1)</script>",
    "../../etc/passwd", "%00", "[]", "{}", " ", "",
]  # fmt: skip
_NAME = re.compile(r'\bname="([^"]+)"')
SKIP_FIELDS = {"csrfmiddlewaretoken", "next"}
# Posting to these would end the owner's session or change the language: not input handling.
SKIP_POST = {"core:logout", "set_language"}


def _pages(personas: Personas, objects: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    client = Client()
    client.force_login(personas.alice.user)
    pages = []
    invitation = do_invite_member(personas.alice, "hostile@example.com", Role.EDITOR)
    for route in all_routes():
        if route.template.startswith(("api/", "i18n/", "healthz")):  # healthz: 503 = no worker
            continue
        if route.name == "core:invite_accept":  # the token is the credential: a real one
            url = route.url({"token": invitation.token})
        else:
            url = route.url(values_for(route, personas, objects))
        response = client.get(url)
        fields: list[str] = []
        if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
            fields = sorted(set(_NAME.findall(response.content.decode())) - SKIP_FIELDS)
        pages.append((route.name, url, fields or ["page", "q"]))
    return pages


@pytest.mark.django_db
def test_hostile_values_in_every_field_and_query_parameter_never_give_a_5xx(
    personas: Personas, insider_objects: dict[str, Any]  # noqa: F811
) -> None:
    pages = _pages(personas, insider_objects)
    assert len(pages) > 15
    client = Client(raise_request_exception=False)
    client.force_login(personas.alice.user)

    @settings(max_examples=150, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(
        page=st.sampled_from(pages),
        value=st.sampled_from(HOSTILE) | st.text(max_size=50),
        as_post=st.booleans(),
        data=st.data(),
    )
    def check(page: tuple[str, str, list[str]], value: str, as_post: bool, data: Any) -> None:
        name, url, fields = page
        field = data.draw(st.sampled_from(fields))
        # Encoded as a browser or a script would send it: lone surrogates become bytes that are
        # not valid UTF-8 (%ED%A0%80), which the server must cope with too.
        raw = value.encode("utf-8", "surrogatepass")
        body = f"{quote(field)}={quote_from_bytes(raw)}"
        if as_post and name not in SKIP_POST:
            response = client.post(url, body, content_type="application/x-www-form-urlencoded")
        else:
            response = client.get(f"{url}?{body}")
        assert response.status_code < 500, (url, field, value[:40], response.status_code)

    check()

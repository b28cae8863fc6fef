"""No secrets in logs: every handler redacts guanwei's token, invitation and OAuth-code shapes,
whoever logs them."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from guanwei.core.actions import do_create_api_token, do_invite_member
from guanwei.core.logredact import redact
from guanwei.core.models import Role


@pytest.fixture
def console():  # type: ignore[no-untyped-def]
    """What settings.LOGGING's console handler writes (its real filters and formatter)."""
    import io

    from guanwei.core.logredact import RedactSecrets

    handler = next(
        h for h in logging.getLogger().handlers if any(isinstance(f, RedactSecrets) for f in h.filters)
    )
    out = io.StringIO()
    old = handler.setStream(out)
    yield out
    handler.setStream(old)


def test_the_console_handler_carries_the_filter() -> None:
    from guanwei.core.logredact import RedactSecrets

    handlers = logging.getLogger().handlers
    assert any(any(isinstance(f, RedactSecrets) for f in h.filters) for h in handlers)


def test_a_csrf_failure_does_not_log_a_live_invitation_link(personas, console) -> None:  # type: ignore[no-untyped-def]
    issued = do_invite_member(personas.alice, "zoe@example.com", Role.EDITOR)
    response = Client(enforce_csrf_checks=True).post(f"/invite/{issued.token}/", {"username": "z"})
    assert response.status_code == 403
    err = console.getvalue()
    assert "CSRF" in err or "Forbidden" in err  # the event itself is logged…
    assert issued.token not in err  # …without the link that would let a reader join


@pytest.mark.parametrize("scheme", ["Basic", "Bearer"])
def test_an_api_token_in_an_authorization_header_is_never_logged(personas, console, scheme) -> None:  # type: ignore[no-untyped-def]
    token = do_create_api_token(personas.carol, "ci").token
    Client().get("/api/v1/members", HTTP_AUTHORIZATION=f"{scheme} {token}")
    Client().get("/api/v1/members", HTTP_AUTHORIZATION=f"{scheme} {token[:-1]}x")  # a wrong one
    logging.getLogger("some.library").error("auth header was %s", f"{scheme} {token}")
    err = console.getvalue()
    assert token not in err and token[:-1] not in err


def test_a_third_party_logger_with_an_exception_is_redacted(console) -> None:  # type: ignore[no-untyped-def]
    try:
        raise ValueError("bad code=abc123secret for 2.00deadbeefcafe0000")
    except ValueError:
        logging.getLogger("thirdparty").exception("failed with access_token=%s", "2.00abcdef012345")
    err = console.getvalue()
    assert "abc123secret" not in err and "2.00deadbeefcafe0000" not in err
    assert "2.00abcdef012345" not in err and "ValueError" in err


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("GET /invite/inv_AbCdEfGh12345678/ 403", "inv_AbCdEfGh12345678"),
        ("Authorization: Basic Z3dfYWJjZGVmZ2hpams=", "Z3dfYWJjZGVmZ2hpams="),
        ("token gw_abcdefghijklmnop used", "gw_abcdefghijklmnop"),
        ("callback?code=1234abcd&state=x", "1234abcd"),
        ('{"access_token": "2.00abc123456789"}', "2.00abc123456789"),
        ("client_secret=s3cr3t&x=1", "s3cr3t"),
    ],
)
def test_redact_blanks_each_shape(line: str, secret: str) -> None:
    assert secret not in redact(line)

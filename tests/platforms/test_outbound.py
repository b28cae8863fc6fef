"""Outbound requests only where they belong: the policy in the one HTTP seam, after DNS."""

from __future__ import annotations

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from guanwei.platforms.http import GuardedTransport, OutboundPolicy, OutboundRefused

PUBLIC = OutboundPolicy()

INTERNAL = [
    "http://127.0.0.1:6379/", "http://localhost/", "http://[::1]/", "http://10.0.0.5/",
    "http://172.16.3.4/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/", "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/", "http://[fd00::1]/",
    "http://[fe80::1]/", "http://224.0.0.1/", "http://[64:ff9b::a00:1]/", "http://[2002:7f00:1::]/",
    "http://redis.local/", "http://db.internal/",
]  # fmt: skip


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_addresses_are_refused_before_any_request(url: str) -> None:
    assert PUBLIC.static_problem(url) is not None
    with pytest.raises(OutboundRefused):
        PUBLIC.resolve(httpx.URL(url))


def test_public_addresses_pass_and_production_wants_https() -> None:
    assert PUBLIC.static_problem("http://203.0.113.9/") is not None  # TEST-NET: not global
    assert PUBLIC.static_problem("https://8.8.8.8/") is None
    assert OutboundPolicy(require_https=True).static_problem("http://8.8.8.8/") == "scheme"
    assert PUBLIC.static_problem("gopher://8.8.8.8/") == "scheme"


def test_an_explicit_allowance_admits_a_platform_on_ones_own_network() -> None:
    policy = OutboundPolicy(
        allowed_networks=(ipaddress.ip_network("10.20.0.0/16"),),
        allowed_hosts=frozenset({"mastodon.intra"}),
    )
    assert policy.static_problem("http://10.20.1.2/") is None
    assert policy.static_problem("http://10.21.1.2/") is not None
    assert policy.resolve(httpx.URL("http://mastodon.intra/api")) is None  # connect as usual


def test_a_name_that_resolves_inside_is_refused_after_dns(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Re-checked after resolution: a public-looking name pointing at 127.0.0.1 is refused."""
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, 1, 6, "", ("127.0.0.1", 80))]
    )
    with pytest.raises(OutboundRefused):
        PUBLIC.resolve(httpx.URL("https://rebind.example/"))


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = self.headers.get("Host", "").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_connection_goes_to_the_checked_address_with_the_original_host(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    real = socket.getaddrinfo
    lookups = []

    def fake(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host == "platform.example":
            lookups.append(host)
            return [(socket.AF_INET, 1, 6, "", ("127.0.0.1", port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    policy = OutboundPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    try:
        with httpx.Client(transport=GuardedTransport(policy)) as client:
            response = client.get(f"http://platform.example:{port}/x")
        assert response.text == f"platform.example:{port}"  # pinned, Host kept
        assert lookups == ["platform.example"]  # resolved once: no second answer to swap in
    finally:
        server.shutdown()


def test_a_refused_address_looks_like_a_closed_port_to_the_caller() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    allowed = OutboundPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    errors = []
    for policy, url in ((PUBLIC, "http://127.0.0.1:6379/"), (allowed, f"http://127.0.0.1:{closed}/")):
        with httpx.Client(transport=GuardedTransport(policy)) as client:
            with pytest.raises(httpx.ConnectError) as caught:
                client.get(url)
            errors.append(type(caught.value).__mro__[1:])
    assert errors[0][-3:] == errors[1][-3:]  # both ConnectErrors: the same to whoever asked

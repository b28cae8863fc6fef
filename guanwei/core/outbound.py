"""Where guanwei's outbound requests may go, from the settings: the policy the one HTTP seam
(`platforms.http.GuardedTransport`) enforces for connectors and the sandbox's pushes alike."""

from __future__ import annotations

import ipaddress

import httpx
from django.conf import settings

from guanwei.platforms.http import GuardedTransport, OutboundPolicy, origin_of


def policy() -> OutboundPolicy:
    hosts: set[str] = set()
    networks = []
    for entry in settings.OUTBOUND_ALLOW:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower().rstrip("."))
    return OutboundPolicy(
        require_https=settings.IS_PRODUCTION,
        allowed_hosts=frozenset(hosts),
        allowed_networks=tuple(networks),
        # The server itself (the built-in sandbox answers there, and its pushes come back).
        trusted_origins=frozenset({origin_of(httpx.URL(settings.BASE_URL))}),
    )


def transport() -> GuardedTransport:
    return GuardedTransport(policy())


def url_problem(url: str) -> bool:
    """True when `url` may never be called (checked again, after DNS, at request time)."""
    return policy().static_problem(url) is not None

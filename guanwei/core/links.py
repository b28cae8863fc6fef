"""Absolute links guanwei hands out (invitation links, OAuth redirect_uris, links in messages):
always from GUANWEI_BASE_URL, never from the request, so behind a TLS-terminating proxy they are
https and a forged Host header cannot change them."""

from __future__ import annotations

from django.conf import settings


def absolute_url(path: str) -> str:
    return settings.BASE_URL + (path if path.startswith("/") else "/" + path)

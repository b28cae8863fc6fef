"""Fault injection (issue 3, sandbox item 4): per app (or every app) and per endpoint glob, with
a probability and/or for the next N calls.

Kinds:
* `http_5xx` — answer `http_status` without doing anything: 500 → Weibo JSON 10001, 503 → 10002,
  502/504 → an nginx-style HTML page (real gateways do not speak Weibo JSON).
* `timeout` — hang `delay_s` seconds (past the client's timeout), do nothing, then answer 504.
* `rate_limit` — Weibo's rate-limit error (`error_code`, default 10023; 10022/10024/20016 work).
* `expired_token` — 21327 expired_token, whatever the token.
* `response_lost` — do the write, then lose the answer: hang `delay_s` and answer 504, or with
  `delay_s = 0` answer 502 at once. The status exists; the client saw a failure.

Edit faults with `add_fault` / `clear_faults` (the `guanwei sandbox_fault` command and the
/sandbox/faults/ page call these).
"""

from __future__ import annotations

import fnmatch
import random
import time
from typing import Any

from django.db.models import F, Q
from django.http import HttpResponse

from guanwei.core.clock import now

from .errors import ApiError, error_response
from .models import App, Fault, FaultKind

_NGINX = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}

_rng = random.Random()


def add_fault(
    kind: str,
    endpoint: str = "*",
    *,
    app: App | None = None,
    probability: float = 1.0,
    times: int | None = None,
    delay_s: float = 15.0,
    http_status: int = 503,
    error_code: int | None = None,
    note: str = "",
) -> Fault:
    """Create a fault. `times` = only the next N matching calls; None = until removed."""
    if kind not in FaultKind.values:
        raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(FaultKind.values)}")
    if not 0.0 <= probability <= 1.0:
        raise ValueError("probability must be between 0 and 1")
    if kind == FaultKind.HTTP_5XX and not 500 <= http_status <= 599:
        raise ValueError("http_status must be 5xx")
    if times is not None and times < 1:
        raise ValueError("times must be at least 1")
    if delay_s < 0:
        raise ValueError("delay_s must not be negative")
    return Fault.objects.create(
        app=app,
        endpoint=endpoint.strip().removesuffix(".json").lstrip("/") or "*",
        kind=kind,
        probability=probability,
        remaining_calls=times,
        delay_s=delay_s,
        http_status=http_status,
        error_code=error_code,
        note=note,
        created_at=now(),
    )


def clear_faults(app: App | None = None) -> int:
    """Remove the faults of `app` (None: all faults of every app)."""
    qs = Fault.objects.all() if app is None else Fault.objects.filter(app=app)
    return qs.delete()[0]


def set_enabled(fault: Fault, enabled: bool) -> None:
    Fault.objects.filter(pk=fault.pk).update(is_enabled=enabled)


def pick(app: App | None, endpoint: str) -> Fault | None:
    """The fault that fires on this call, if any. App-specific faults come before global ones;
    a "next N calls" fault is consumed with a conditional UPDATE so each call is counted once."""
    scope = Q(app=None) | Q(app=app) if app is not None else Q(app=None)
    candidates = sorted(
        Fault.objects.filter(scope, is_enabled=True).exclude(remaining_calls=0),
        key=lambda f: (f.app_id is None, f.pk),
    )
    for fault in candidates:
        if not fnmatch.fnmatchcase(endpoint, fault.endpoint):
            continue
        if fault.probability < 1.0 and _rng.random() >= fault.probability:
            continue
        if fault.remaining_calls is not None:
            if not Fault.objects.filter(pk=fault.pk, remaining_calls__gt=0).update(
                remaining_calls=F("remaining_calls") - 1, hits=F("hits") + 1
            ):
                continue  # another call used the last one
        else:
            Fault.objects.filter(pk=fault.pk).update(hits=F("hits") + 1)
        return fault
    return None


def _gateway(status: int) -> HttpResponse:
    body = _NGINX.format(code=status, reason=_REASONS.get(status, "Error"))
    return HttpResponse(body, status=status, content_type="text/html")


def before(fault: Fault, request_path: str) -> HttpResponse | None:
    """The answer of a fault that stops the call before it runs (None for response_lost)."""
    kind = fault.kind
    if kind == FaultKind.HTTP_5XX:
        if fault.http_status in (500, 503):
            code = 10001 if fault.http_status == 500 else 10002
            return error_response(request_path, ApiError(code, status=fault.http_status))
        return _gateway(fault.http_status)
    if kind == FaultKind.TIMEOUT:
        time.sleep(fault.delay_s)
        return _gateway(504)
    if kind == FaultKind.RATE_LIMIT:
        code = fault.error_code or 10023
        args: list[Any] = ["update_status"] if code == 10024 else []
        return error_response(request_path, ApiError(code, *args))
    if kind == FaultKind.EXPIRED_TOKEN:
        return error_response(request_path, ApiError(21327))
    return None


def after(fault: Fault, response: HttpResponse) -> HttpResponse:
    """response_lost: the call ran (and wrote); its answer never arrives."""
    if fault.kind != FaultKind.RESPONSE_LOST:
        return response
    if fault.delay_s > 0:
        time.sleep(fault.delay_s)
        return _gateway(504)
    return _gateway(502)

"""One logging filter that blanks guanwei's secret shapes from every log record, whoever logged
it (Django's CSRF warning with an invitation URL, an API library echoing an Authorization header,
httpx with an OAuth query string): personal API tokens (`gw_…`), invitation tokens (`inv_…`),
sandbox/Weibo access tokens (`2.00…`), `Authorization:` values, and secret-bearing query
parameters (`code=`, `access_token=`, `client_secret=`…). Attached to every handler in
settings.LOGGING, so third-party loggers are covered too."""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    # Authorization: Bearer/Basic/OAuth2 <credential>
    (re.compile(r"((?:Bearer|Basic|OAuth2|Token)\s+)[A-Za-z0-9._~+/=-]{6,}", re.I), r"\1***"),
    (re.compile(r"\bgw_[A-Za-z0-9_-]{8,}"), "gw_***"),
    (re.compile(r"\binv_[A-Za-z0-9_-]{8,}"), "inv_***"),
    (re.compile(r"\b2\.00[A-Za-z0-9]{8,}"), "2.00***"),
    # key=value in query strings and form bodies (also URL-encoded)
    (
        re.compile(
            r"(\b(?:access_token|refresh_token|client_secret|app_secret|code|token|password|secret)"
            r"(?:=|%3D))[^&\s\"',;}]+",
            re.I,
        ),
        r"\1***",
    ),
    # "key": "value" in JSON (only keys that always hold a secret)
    (
        re.compile(
            r"(\"(?:access_token|refresh_token|client_secret|app_secret|password)\"\s*:\s*\")[^\"]+",
            re.I,
        ),
        r"\1***",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Renders the record's message (and traceback) once, redacted; formatters then use it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error path
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class OneLineForbidden(logging.Filter):
    """Django logs every 403 (PermissionDenied) with its whole traceback; a refused request is
    an expected event, so it becomes one line with the path and the user's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "django.request" and getattr(record, "status_code", None) == 403:
            request = getattr(record, "request", None)
            user = getattr(request, "user", None)
            user_id = getattr(user, "pk", None) if user is not None else None
            record.msg = f"{record.getMessage()} user={user_id or '-'}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True

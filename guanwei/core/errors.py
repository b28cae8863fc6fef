"""The one convention for errors a person can act on (Zulip's `JsonableError` idea).

Every action (`do_*` in `<app>/actions.py`) raises `ActionError(message, field)` when the user
broke a rule they can fix — the message says what to do, `field` names the form field or API
body field it concerns ('' for the whole request). A missing right is PermissionDenied (403),
another tenant's object Http404; a bug is a bug (500, logged), never caught and reworded.

Views show it with `show_on_form` or `show_as_message`; the API turns it into
`422 {"detail": [{"field", "in": "body", "reason"}]}` in one exception handler (api.urls), the
same shape as its own validation errors.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages


class ActionError(Exception):
    """A rule the user broke, with the field it concerns ('' for the whole form)."""

    def __init__(self, message: str, field: str = "", position: int | None = None) -> None:
        super().__init__(message)
        self.message = str(message)
        self.field = field
        self.position = position  # where in the field's text, when that is known (a rule's error)


def show_on_form(form: Any, exc: ActionError) -> None:
    """The error on its field of `form`, or above the form when the form has no such field."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def show_as_message(request: Any, exc: ActionError) -> None:
    """The error as a page message (for buttons without a form to show it on)."""
    messages.error(request, exc.message)


def api_detail(exc: ActionError) -> dict[str, Any]:
    item: dict[str, Any] = {"field": exc.field, "in": "body", "reason": exc.message}
    if exc.position is not None:
        item["position"] = exc.position
    return {"detail": [item]}

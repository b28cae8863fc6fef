"""Text rendered when it is shown, in the reader's language, from a code and parameters: audit
summaries (by action) and notices (by message code). Apps register their renderers in their
AppConfig.ready (through core.audit.register_action_labels and
core.notifications.register_messages). Imports no model, so models may use it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.utils.translation import gettext_lazy as _

SYSTEM_ACTOR = "system"  # actor_label of audit entries written by guanwei itself (no member)


def system_label() -> str:
    return str(_("系统"))


def role_label(code: object) -> str:
    """A member role's name (所有者 / Owner), from the field's own choices."""
    choices = dict(apps.get_model("core", "Member")._meta.get_field("role").choices)
    return str(choices.get(code, code))


Summary = Callable[[dict[str, Any]], str]
SUMMARIES: dict[str, Summary] = {}

#: code -> params -> (title, body), in the current language.
Renderer = Callable[[dict[str, Any]], tuple[str, str]]
MESSAGES: dict[str, Renderer] = {}


def render_summary(action: str, params: dict[str, Any] | None, stored: str) -> str:
    """An audit entry's summary now; the stored text for entries without params (written
    before params existed) or whose renderer does not fit its old params."""
    render = SUMMARIES.get(action)
    if render is None or params is None:
        return stored
    try:
        return render(params)
    except (KeyError, TypeError, ValueError):
        return stored


def render_message(code: str, params: dict[str, Any] | None, stored: tuple[str, str]) -> tuple[str, str]:
    renderer = MESSAGES.get(code)
    if renderer is None or params is None:
        return stored
    try:
        return renderer(params)
    except (KeyError, TypeError, ValueError):
        return stored

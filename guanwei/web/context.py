"""Template context shared by every page: navigation, the notifications bell, the time zone."""

from __future__ import annotations

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from guanwei.web import navigation
from guanwei.web.notices import open_notifications


def shell(request):  # type: ignore[no-untyped-def]
    member = getattr(request, "member", None)
    member = member if member else None  # unwrap the lazy None
    tz = member.enterprise.time_zone if member else settings.DEFAULT_ENTERPRISE_TIME_ZONE
    return {
        "member": member,
        "shell_tz": tz,
        "nav": SimpleLazyObject(lambda: navigation.navigation(member, request.path)),
        "bell": SimpleLazyObject(lambda: open_notifications(member, limit=10)),
        "operator_links": SimpleLazyObject(
            lambda: navigation.operator_links(getattr(request, "user", None))
        ),
    }

"""The one place where access is decided (Healthchecks' `_get_check_for_user`, Zulip's
`access_*_by_id`). Views and API handlers get objects only through `get_for`, and check rights
only through `can` / `require` / `@member_required`.

* An object of another enterprise (or outside a member's account limit) is 404, never 403:
  an outsider cannot even learn it exists.
* A missing right on a visible object is 403.

The server **operator** (Django's superuser, `guanwei createsuperuser`) is apart from every
tenant's roles: no Role grants the operator's pages (sandbox faults, fans-service settings,
scenario runs, the server-wide details of /ops/status), and being the operator grants nothing
inside an enterprise. `operator_required` guards those pages in every mode, DEBUG included.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404
from django.shortcuts import redirect

from guanwei.core.models import Member, Role

R = Role
ALL = frozenset(Role.values)
ADMINS = frozenset({R.OWNER, R.ADMIN})

# action -> roles that may do it. Later issues add their actions here, and only here.
PERMISSIONS: dict[str, frozenset[str]] = {
    "enterprise.view": ALL,
    "dashboard.view": ALL,
    "member.view": ADMINS,
    "member.manage": ADMINS,
    "audit.view": ADMINS | {R.VIEWER},
    "channel.manage": ADMINS,
    "account.view": ALL,
    "account.manage": ADMINS,
    # Platform connections (app keys, base URLs): the page and the API answer the same roles.
    "connection.view": ADMINS,
    "ops.view": ADMINS,  # the enterprise's own slice of /ops/status
    "apitoken.manage": ALL,
    "post.view": ALL,
    "post.edit": ADMINS | {R.EDITOR, R.CAMPAIGN},
    "post.review": ADMINS | {R.REVIEWER},
    "post.emergency": ADMINS,  # the emergency path: one approval is enough (publishing)
    "publishing.manage": ADMINS,  # approval chains and the sensitive-word list
    "inbox.reply": ADMINS | {R.AGENT},
    "inbox.manage": ADMINS,
    "inbox.approve": ADMINS,  # replies the enterprise wants approved (inbox.ReplyApproval)  # service teams, their hours and SLA targets, routing rules
    "monitor.manage": ADMINS | {R.ANALYST},
    "mention.import": ADMINS | {R.ANALYST},  # files of mentions from vendors and crawlers (listening.imports)
    "campaign.manage": ADMINS | {R.CAMPAIGN},
}

M = TypeVar("M", bound=models.Model)


def can(member: Member | None, action: str) -> bool:
    if member is None or not member.is_active:
        return False
    try:
        return member.role in PERMISSIONS[action]
    except KeyError:
        raise ValueError(f"unknown action {action!r}: declare it in core.permissions.PERMISSIONS") from None


def require(member: Member | None, action: str) -> None:
    if not can(member, action):
        raise PermissionDenied(action)


def get_for(member: Member, model: type[M], pk: Any, action: str = "") -> M:
    """The object `pk` of `model` as `member` may see it: 404 if it belongs to another
    enterprise (or lies outside the member's account limit), 403 if the right is missing."""
    try:
        obj = model.objects.for_member(member).get(pk=pk)  # type: ignore[attr-defined]
    except (model.DoesNotExist, ValueError, TypeError):  # type: ignore[attr-defined]
        raise Http404(model._meta.verbose_name) from None
    if action:
        require(member, action)
    return obj


def is_operator(user: Any) -> bool:
    """The person who runs the server: an active Django superuser."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.is_superuser
    )


def operator_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """View decorator for the server's own pages: anonymous → sign-in, anyone but the operator →
    403, whatever DEBUG says."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_operator(request.user):
            raise PermissionDenied("operator only")
        return view(request, *args, **kwargs)

    return wrapped


def member_required(action: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """View decorator: signed-in active member, and `action` allowed for their role."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(request, *args, **kwargs):  # type: ignore[no-untyped-def]
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if request.member is None:
                if is_operator(request.user):
                    # The operator belongs to no enterprise: their home is the server's status.
                    return redirect("ops:status")
                raise PermissionDenied("no active membership")
            if action:
                require(request.member, action)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator

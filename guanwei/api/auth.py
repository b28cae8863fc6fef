"""API authentication: `Authorization: Bearer <personal token>`, or the same-origin session
(with CSRF on unsafe methods). Both put the active Member on `request.member`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from guanwei.core.actions import authenticate_token
from guanwei.core.models import Member


class PersonalToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Member | None:
        member = authenticate_token(token)
        if member is not None:
            request.member = member  # type: ignore[attr-defined]
        return member


class MemberSession(SessionAuth):
    """The page session; MemberMiddleware has already resolved the active member (a
    deactivated member's user is inactive, so their session no longer authenticates)."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return getattr(request, "member", None)

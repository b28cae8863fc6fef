"""Assembles the one NinjaAPI from each app's router and mounts it (guanwei/urls.py includes
this under /api/v1/). OpenAPI at /api/v1/openapi.json; the docs page at /api/v1/docs serves
Swagger UI from django-ninja's own static files (the "ninja" app), never from a CDN.

Later apps add their router here: `api.add_router("/", "guanwei.<app>.api.router")`.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.urls import path
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from guanwei.api.auth import MemberSession, PersonalToken
from guanwei.core.errors import ActionError, api_detail

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "in": {"type": "string"},
                            "reason": {"type": "string"},
                            "position": {"type": "integer", "description": "where in the text (0-based), e.g. in a monitor's rule"},
                        },
                    },
                },
            ]
        }
    },
    "required": ["detail"],
}
ERROR_RESPONSES = {
    "400": "Malformed request (e.g. a NUL character): detail names the field.",
    "401": "No valid personal token.",
    "403": "The token's member may not do this.",
    "404": "No such object in the member's enterprise.",
    "405": "Method not allowed.",
    "422": "A parameter failed validation: detail lists each field and the reason.",
}


class GuanweiApi(NinjaAPI):
    """The NinjaAPI whose OpenAPI document also describes the error answers every operation can
    give, in their one shape ({"detail": …}), so clients (and the schema fuzz test) know them."""

    def get_openapi_schema(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        schema = super().get_openapi_schema(*args, **kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for code, description in ERROR_RESPONSES.items():
                    responses.setdefault(code, {
                        "description": description,
                        "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Error"}
                        }},
                    })  # fmt: skip
        return schema


api = GuanweiApi(
    title="guanwei API",
    version="1",
    description="官微 — the enterprise's official account matrix. Authenticate with "
    "`Authorization: Bearer <personal token>` (create one under /settings/tokens/).",
    auth=[PersonalToken(), MemberSession()],
    urls_namespace="api",
)


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc):  # type: ignore[no-untyped-def]
    return api.create_response(request, {"detail": _("权限不足")}, status=403)


@api.exception_handler(Http404)
def _not_found(request, exc):  # type: ignore[no-untyped-def]
    """"Not found: Official account" / "未找到：官方账号" — in the caller's language, naming the kind
    of object (core.permissions.get_for raises Http404 with the model's verbose name)."""
    what = exc.args[0] if exc.args else ""
    detail = _("未找到：%(what)s") % {"what": what} if what else _("未找到")
    return api.create_response(request, {"detail": detail}, status=404)


@api.exception_handler(AuthenticationError)
def _unauthorized(request, exc):  # type: ignore[no-untyped-def]
    return api.create_response(
        request, {"detail": _("未认证：请提供有效的个人令牌")}, status=401
    )


@api.exception_handler(ActionError)
def _action_refused(request, exc: ActionError):  # type: ignore[no-untyped-def]
    """An action's rule (core.errors): 422 naming the field, like a validation error."""
    return api.create_response(request, api_detail(exc), status=422)


@api.exception_handler(ValidationError)
def _invalid(request, exc: ValidationError):  # type: ignore[no-untyped-def]
    """422 naming each field and the reason: {"detail": [{"field", "in", "reason", ...}]}."""
    errors = []
    for error in exc.errors:
        loc = [str(p) for p in error.get("loc", ())]
        where = loc[0] if loc else ""
        # ninja nests query/path params under their container name; the field is the last part.
        field = loc[-1] if loc else ""
        errors.append({"field": field, "in": where, "reason": error.get("msg", ""), "loc": loc})
    return api.create_response(request, {"detail": errors}, status=422)


api.add_router("/", "guanwei.core.api.router")
api.add_router("/", "guanwei.matrix.api.router")
api.add_router("/", "guanwei.listening.api.router")
api.add_router("/", "guanwei.publishing.api.router")
api.add_router("/", "guanwei.monitoring.api.router")
api.add_router("/", "guanwei.inbox.api.router")

def not_found(request, unknown: str):  # type: ignore[no-untyped-def]
    """Unknown paths under /api/v1/ answer in JSON like every other API error."""
    return JsonResponse({"detail": _("未找到")}, status=404)


urlpatterns = [path("", api.urls), path("<path:unknown>", not_found, name="api_not_found")]

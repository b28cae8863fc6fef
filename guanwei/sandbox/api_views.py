"""The sandbox's Weibo Open API v2: `/sandbox/2/<resource>/<name>.json` (PLATFORM_APIS §2–6).

One dispatcher does what Weibo's gateway does for every call — find the API (10020), check the
method (10021), faults, token (10006/21332/21327), rate limits (10022/10023/10024) — then calls
the endpoint's handler, which parses Weibo's parameters, calls `store`, and returns Weibo's JSON.
Every failure, including a bug, is answered with Weibo's error JSON, never a stack trace.
The endpoints live in `api_statuses` (statuses, comments) and `api_people` (users, friendships,
messages, search); this module holds the gateway and the shared read helpers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from guanwei.core.clock import now

from . import faults, ratelimit
from .errors import ApiError, error_response, invalid, missing, reject_nul
from .models import App, Comment, Follow, SandboxUser, Status, Token
from .serializers import comment_json, list_json, status_json

log = logging.getLogger(__name__)

STATUS_RELATED = ("user", "app", "retweeted_status__user", "retweeted_status__app")
COMMENT_RELATED = (
    "user",
    "app",
    "status__user",
    "status__app",
    "status__retweeted_status__user",
    "status__retweeted_status__app",
    "reply_to__user",
    "reply_to__app",
)


# --- the call -----------------------------------------------------------------------------------


@dataclass
class Call:
    """One API call: the request, its token's app and user, and Weibo-style parameter access."""

    request: HttpRequest
    endpoint: str
    params: dict[str, str]
    token: Token | None = None
    base_url: str = ""
    _authorised: dict[int, bool] = field(default_factory=dict)

    @property
    def app(self) -> App:
        assert self.token is not None
        return self.token.app

    @property
    def user(self) -> SandboxUser:
        assert self.token is not None
        return self.token.user

    def str(self, name: str, *, required: bool = False, default: str = "") -> str:
        value = self.params.get(name)
        if value is None or (required and value == ""):
            if required:
                raise missing(name)
            return default
        return value

    def int(
        self,
        name: str,
        default: int = 0,
        *,
        lo: int | None = 0,
        hi: int | None = None,
        required: bool = False,
        clamp: bool = False,
    ) -> int:
        raw = self.params.get(name)
        if raw is None or raw.strip() == "":
            if required:
                raise missing(name)
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise invalid(name, "int", raw) from None
        if lo is not None and value < lo:
            raise invalid(name, f">= {lo}", raw)
        if hi is not None and value > hi:
            if clamp:
                return hi
            raise invalid(name, f"<= {hi}", raw)
        return value

    def id(self, name: str = "id") -> int:
        return self.int(name, required=True, lo=1, hi=2**63 - 1)

    def choice(self, name: str, choices: tuple[int, ...], default: int = 0) -> int:
        value = self.int(name, default, lo=None)
        if value not in choices:
            raise invalid(name, "|".join(map(str, choices)), str(value))
        return value

    def is_authorised(self, user_id: int) -> bool:
        """Has this user authorised the app (holds an unrevoked token)?"""
        if user_id not in self._authorised:
            self._authorised[user_id] = Token.objects.filter(
                app=self.app, user_id=user_id, revoked_at=None
            ).exists()
        return self._authorised[user_id]


@dataclass(frozen=True)
class Endpoint:
    name: str
    methods: tuple[str, ...]
    handler: Callable[[Call], dict[str, Any]]
    category: str = ""
    commercial: bool = False
    counted: bool = True


REGISTRY: dict[str, Endpoint] = {}


def endpoint(
    name: str,
    methods: tuple[str, ...] = ("GET",),
    *,
    category: str = "",
    commercial: bool = False,
    counted: bool = True,
) -> Callable[..., Any]:
    def register(fn: Callable[[Call], dict[str, Any]]) -> Callable[[Call], dict[str, Any]]:
        REGISTRY[name] = Endpoint(name, methods, fn, category, commercial, counted)
        return fn

    return register


# --- the gateway --------------------------------------------------------------------------------


def token_string(request: HttpRequest) -> str:
    """`access_token` parameter, or the `Authorization: OAuth2 <token>` header."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("oauth2", "bearer") and value.strip():
        return value.strip()
    return (request.POST.get("access_token") or request.GET.get("access_token") or "").strip()


def find_token(raw: str) -> Token | None:
    if not raw or len(raw) > 64:
        return None
    return Token.matching(raw).select_related("app", "user").first()


def check_token(token: Token | None, raw: str) -> Token:
    if not raw:
        raise ApiError(10006)
    if token is None or token.revoked_at is not None:
        raise ApiError(21332)
    if token.expires_at <= now():
        raise ApiError(21327)
    return token


def client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "0.0.0.0"


def _params(request: HttpRequest) -> dict[str, str]:
    params = {k: v for k, v in request.GET.items()}
    if request.method == "POST":
        params.update({k: v for k, v in request.POST.items()})
    return params


def guarded(request_path: Callable[[HttpRequest], str]) -> Callable[..., Any]:
    """Wrap a view so that every exception becomes Weibo's error JSON (and is logged)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            path = request_path(request)
            try:
                reject_nul(request)
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return error_response(path, exc)
            except RequestDataTooBig:
                return error_response(path, ApiError(10018))
            except (MultiPartParserError, SuspiciousOperation, UnicodeDecodeError):
                return error_response(path, ApiError(10008))
            except Exception:
                log.exception("sandbox.api error path=%s", path)
                return error_response(path, ApiError(10001))

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        return csrf_exempt(wrapped)

    return decorator


def weibo_path(request: HttpRequest) -> str:
    """Weibo's `request` field: the path without our mount point, e.g. `/2/statuses/share.json`."""
    path = request.path
    marker = path.find("/2/")
    return path[marker:] if marker >= 0 else path


@guarded(weibo_path)
def api(request: HttpRequest, name: str) -> HttpResponse:
    path = weibo_path(request)
    ep = REGISTRY.get(name)
    if ep is None:
        raise ApiError(10020)
    if request.method not in ep.methods:
        raise ApiError(10021)
    raw = token_string(request)
    # The token first: an injected fault belongs to the app whose valid token made the call, so
    # a caller without one gets the platform's token error, never someone's fault (or its delay).
    token = check_token(find_token(raw), raw)
    fault = faults.pick(token.app, name)
    if fault is not None:
        early = faults.before(fault, path)
        if early is not None:
            log.info("sandbox.fault kind=%s endpoint=%s app=%s", fault.kind, name, token.app_id)
            return early
    call = Call(
        request=request,
        endpoint=name,
        params=_params(request),
        token=token,
        base_url=request.build_absolute_uri("/")[:-1],
    )
    if ep.commercial and not call.app.is_commercial:
        raise ApiError(10014)
    if ep.counted:
        ratelimit.check(
            call.app, call.user.pk, client_ip(request), ep.category, commercial=ep.commercial
        )
    body = ep.handler(call)
    response: HttpResponse = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    if fault is not None:
        log.info("sandbox.fault kind=%s endpoint=%s (after write)", fault.kind, name)
        response = faults.after(fault, response)
    return response


@guarded(weibo_path)
def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    raise ApiError(10020)


# --- helpers ------------------------------------------------------------------------------------


def visible_to(call: Call, prefix: str = "") -> Q:
    """Statuses the token's user may see: all but test-only ones (posted through an unaudited
    app), which only their author and that app's test accounts see."""
    me = call.user
    test_apps = App.test_users.through.objects.filter(sandboxuser=me).values("app_id")
    return (
        Q(**{f"{prefix}is_test_only": False})
        | Q(**{f"{prefix}user": me})
        | Q(**{f"{prefix}app_id__in": test_apps})
    )


def statuses(call: Call) -> QuerySet[Status]:
    return (
        Status.objects.select_related(*STATUS_RELATED)
        .filter(deleted_at=None)
        .filter(visible_to(call))
    )


def comments(call: Call) -> QuerySet[Comment]:
    return (
        Comment.objects.select_related(*COMMENT_RELATED)
        .filter(deleted_at=None)
        .filter(visible_to(call, "status__"))
    )


def get_status(call: Call, status_id: int) -> Status:
    status = statuses(call).filter(pk=status_id).first()
    if status is None:
        raise ApiError(20101)
    return status


def get_comment(call: Call, comment_id: int) -> Comment:
    c = comments(call).filter(pk=comment_id).first()
    if c is None:
        raise ApiError(20201)
    return c


@dataclass
class Page:
    items: list[Any]
    total: int
    next_cursor: int


def page_by_id(call: Call, qs: QuerySet[Any], *, default_count: int, max_count: int) -> Page:
    """Weibo's timeline paging: since_id exclusive, max_id inclusive, count (clamped) + page.
    `next_cursor` is the id of the next older item, so `max_id=next_cursor` continues."""
    since_id = call.int("since_id", 0)
    max_id = call.int("max_id", 0)
    count = call.int("count", default_count, lo=1, hi=max_count, clamp=True)
    page = call.int("page", 1, lo=1, hi=100000)
    if since_id:
        qs = qs.filter(pk__gt=since_id)
    if max_id:
        qs = qs.filter(pk__lte=max_id)
    total = qs.count()
    offset = (page - 1) * count
    rows = list(qs.order_by("-pk")[offset : offset + count + 1])
    next_cursor = rows[count].pk if len(rows) > count else 0
    return Page(rows[:count], total, next_cursor)


def author_filter(call: Call, qs: QuerySet[Any], field_name: str = "user") -> QuerySet[Any]:
    """filter_by_author: 0 all, 1 people I follow, 2 strangers."""
    mode = call.choice("filter_by_author", (0, 1, 2))
    if mode == 0:
        return qs
    followed = Follow.objects.filter(follower=call.user).values("followee_id")
    lookup = {f"{field_name}_id__in": followed}
    return qs.filter(**lookup) if mode == 1 else qs.exclude(**lookup)


def statuses_list(call: Call, page: Page, key: str = "statuses") -> dict[str, Any]:
    trim = call.choice("trim_user", (0, 1)) == 1
    return list_json(
        key,
        [status_json(s, base_url=call.base_url, trim_user=trim) for s in page.items],
        total_number=page.total,
        next_cursor=page.next_cursor,
    )


def comments_list(call: Call, page: Page) -> dict[str, Any]:
    trim = call.choice("trim_user", (0, 1)) == 1
    return list_json(
        "comments",
        [comment_json(c, base_url=call.base_url, trim_user=trim) for c in page.items],
        total_number=page.total,
        next_cursor=page.next_cursor,
    )


def reload_status(status_id: int) -> Status:
    return Status.objects.select_related(*STATUS_RELATED).get(pk=status_id)


def reload_comment(comment_id: int) -> Comment:
    return Comment.objects.select_related(*COMMENT_RELATED).get(pk=comment_id)


# --- pictures and avatars (public, like sinaimg.cn) ---------------------------------------------


def picture(request: HttpRequest, size: str, pid: int) -> HttpResponse:
    from django.http import Http404

    from .models import Picture

    pic = Picture.objects.filter(pk=pid).first()
    if pic is None:
        raise Http404("picture")
    response = HttpResponse(bytes(pic.data), content_type=pic.content_type)
    response["Cache-Control"] = "public, max-age=86400"
    return response


def avatar(request: HttpRequest, uid: int) -> HttpResponse:
    """A plain 50×50 PNG in a colour derived from the uid (no image library needed)."""
    response = HttpResponse(_solid_png(uid), content_type="image/png")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def _solid_png(seed: int, size: int = 50) -> bytes:
    import struct
    import zlib

    colour = bytes(((seed * 97) % 200 + 30, (seed * 57) % 200 + 30, (seed * 31) % 200 + 30))
    raw = b"".join(b"\x00" + colour * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


# The endpoints register themselves in REGISTRY when their modules load.
from . import api_people, api_statuses  # noqa: E402, F401

"""The sandbox's Weibo Open API v2: `/sandbox/2/<resource>/<name>.json` (PLATFORM_APIS §2–6).

One dispatcher does what Weibo's gateway does for every call — find the API (10020), check the
method (10021), faults, token (10006/21332/21327), rate limits (10022/10023/10024) — then calls
the endpoint's handler, which parses Weibo's parameters, calls `store`, and returns Weibo's JSON.
Every failure, including a bug, is answered with Weibo's error JSON, never a stack trace.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from guanwei.core.clock import now
from guanwei.textkit.length import SHARE_LIMIT, weibo_length

from . import faults, ratelimit, store
from .errors import ApiError, error_response, invalid, missing
from .fanservice import reply_window
from .models import App, Comment, Follow, MessageType, SandboxUser, Status, Token
from .serializers import comment_json, list_json, status_json, user_json, weibo_time

log = logging.getLogger(__name__)

MAX_PIC_BYTES = 5 * 1024 * 1024
TOPIC_RE = re.compile(r"#[^#\n]{1,64}#")
LINK_RE = re.compile(r"https?://[^\s<>\"'，。！？、）】]+", re.I)
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)

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
    return Token.objects.select_related("app", "user").filter(token=raw).first()


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
    token = find_token(raw)
    fault = faults.pick(token.app if token else None, name)
    if fault is not None:
        early = faults.before(fault, path)
        if early is not None:
            log.info("sandbox.fault kind=%s endpoint=%s", fault.kind, name)
            return early
    call = Call(
        request=request,
        endpoint=name,
        params=_params(request),
        token=check_token(token, raw),
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


def check_length(text: str, limit: int = SHARE_LIMIT) -> None:
    if not text.strip():
        raise ApiError(20008)
    if weibo_length(text) > limit:
        raise ApiError(20012)


def safe_domains(app: App) -> list[str]:
    return [
        d.strip().lower().lstrip(".") for d in re.split(r"[\s,，;]+", app.safe_domains) if d.strip()
    ]


def has_safe_link(text: str, app: App) -> bool:
    domains = safe_domains(app)
    for url in LINK_RE.findall(text):
        host = (urlsplit(url).hostname or "").lower()
        if any(host == d or host.endswith("." + d) for d in domains):
            return True
    return False


def _fold(text: str) -> str:
    return _NOT_WORD.sub("", LINK_RE.sub("", text)).lower()


def check_repeats(call: Call, text: str) -> None:
    """20019 for the same text as one of the user's recent statuses, 20017 for a similar one."""
    limits = ratelimit.limits_for(call.app)
    if not limits["duplicate_lookback"]:
        return
    since = now() - timedelta(seconds=limits["duplicate_window_s"])
    recent = list(
        Status.objects.filter(user=call.user, deleted_at=None, created_at__gte=since)
        .order_by("-pk")
        .values_list("text", flat=True)[: limits["duplicate_lookback"]]
    )
    stripped = text.strip()
    if any(t.strip() == stripped for t in recent):
        raise ApiError(20019)
    ratio = float(limits["similar_ratio"] or 0)
    if not ratio:
        return
    folded = _fold(text)
    for other in recent:
        other_folded = _fold(other)
        if folded == other_folded and folded:
            raise ApiError(20017)
        if min(len(folded), len(other_folded)) >= 10 and (
            difflib.SequenceMatcher(None, folded, other_folded).ratio() >= ratio
        ):
            raise ApiError(20017)


def check_burst(call: Call) -> None:
    """20016 "Out of limit" (发微博太多啦，休息一会儿吧): too many posts in a short window."""
    limits = ratelimit.limits_for(call.app)
    if not limits["burst_posts"]:
        return
    since = now() - timedelta(seconds=limits["burst_window_s"])
    if (
        Status.objects.filter(user=call.user, created_at__gte=since).count()
        >= limits["burst_posts"]
    ):
        raise ApiError(20016)


def picture_upload(call: Call) -> tuple[bytes, str] | None:
    upload = call.request.FILES.get("pic")
    if upload is None:
        if "pic" in call.params:
            raise ApiError(20007)
        return None
    if upload.size is not None and upload.size > MAX_PIC_BYTES:
        raise ApiError(20006)
    data = upload.read(MAX_PIC_BYTES + 1)
    if len(data) > MAX_PIC_BYTES:
        raise ApiError(20006)
    if data.startswith(b"\xff\xd8\xff"):
        return data, "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data, "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return data, "image/gif"
    raise ApiError(20005)


def check_rip(value: str) -> str:
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        raise invalid("rip", "ip", value) from None
    return value.strip()


def own_uid(call: Call) -> None:
    """uid/screen_name, when given, must name the authorised user (21335)."""
    uid = call.params.get("uid")
    if uid:
        if call.int("uid", lo=1) != call.user.pk:
            raise ApiError(21335)
    name = call.params.get("screen_name")
    if name and name != call.user.screen_name:
        raise ApiError(21335)


def reload_status(status_id: int) -> Status:
    return Status.objects.select_related(*STATUS_RELATED).get(pk=status_id)


def reload_comment(comment_id: int) -> Comment:
    return Comment.objects.select_related(*COMMENT_RELATED).get(pk=comment_id)


# --- statuses -----------------------------------------------------------------------------------


@endpoint("statuses/share", ("POST",), category="posts")
def share(call: Call) -> dict[str, Any]:
    """Post an original status: safe-domain link, ≤140 characters, `rip`, `#话题#` removed."""
    text = call.str("status", required=True)
    rip = check_rip(call.str("rip", required=True))
    check_length(text)
    if not has_safe_link(text, call.app):
        raise ApiError(10017, message="appkey not bind domain!")
    upload = picture_upload(call)
    text = TOPIC_RE.sub("", text).strip()
    if not text:
        raise ApiError(20008)
    check_repeats(call, text)
    check_burst(call)
    with transaction.atomic():
        picture = store.store_picture(call.user, *upload) if upload else None
        status = store.post_status(call.user, text, app=call.app, picture=picture, rip=rip)
    return status_json(reload_status(status.pk), base_url=call.base_url)


@endpoint("statuses/update", ("POST",), category="posts")
def update(call: Call) -> dict[str, Any]:
    """Retired for ordinary apps: statuses/share replaced it (§2.3)."""
    raise ApiError(10014)


@endpoint("statuses/repost", ("POST",), category="posts")
def repost(call: Call) -> dict[str, Any]:
    status_id = call.id("id")
    text = call.str("status")
    is_comment = call.choice("is_comment", (0, 1, 2, 3))
    rip = call.str("rip")
    if rip:
        rip = check_rip(rip)
    status = get_status(call, status_id)
    if text:
        check_length(text)
    check_burst(call)
    new = store.repost(call.user, status, text, app=call.app, is_comment=is_comment, rip=rip)
    return status_json(reload_status(new.pk), base_url=call.base_url)


@endpoint("statuses/destroy", ("POST",))
def destroy(call: Call) -> dict[str, Any]:
    status = get_status(call, call.id("id"))
    if status.user_id != call.user.pk:
        raise ApiError(20102)
    body = status_json(status, base_url=call.base_url)
    store.destroy_status(status)
    return body


@endpoint("statuses/show")
def show(call: Call) -> dict[str, Any]:
    """Only statuses of users who authorised this app are readable (others: 20101)."""
    status = get_status(call, call.id("id"))
    if not call.is_authorised(status.user_id):
        raise ApiError(20101)
    return status_json(
        status, base_url=call.base_url, trim_user=call.choice("trim_user", (0, 1)) == 1
    )


@endpoint("statuses/user_timeline")
def user_timeline(call: Call) -> dict[str, Any]:
    """The authorised user's own statuses, and only the latest few (5; §2.2)."""
    own_uid(call)
    qs = statuses(call).filter(user=call.user)
    feature = call.choice("feature", (0, 1, 2, 3, 4))
    if feature == 1:
        qs = qs.filter(retweeted_status=None)
    elif feature == 2:
        qs = qs.exclude(picture=None)
    elif feature in (3, 4):
        qs = qs.none()  # the sandbox has no video or music
    if call.choice("base_app", (0, 1)) == 1:
        qs = qs.filter(app=call.app)
    latest = ratelimit.limits_for(call.app)["user_timeline_latest"]
    if latest:
        ids = list(qs.order_by("-pk").values_list("pk", flat=True)[:latest])
        qs = statuses(call).filter(pk__in=ids)
    page = page_by_id(call, qs, default_count=20, max_count=100)
    return statuses_list(call, page)


@endpoint("statuses/mentions")
def mentions(call: Call) -> dict[str, Any]:
    """Statuses that @-mention the authorised user."""
    qs = statuses(call).filter(mentioned=call.user).exclude(user=call.user)
    qs = author_filter(call, qs)
    call.choice("filter_by_source", (0, 1, 2))
    if call.choice("filter_by_type", (0, 1)) == 1:
        qs = qs.filter(retweeted_status=None)
    page = page_by_id(call, qs, default_count=50, max_count=200)
    return statuses_list(call, page)


@endpoint("statuses/repost_timeline")
def repost_timeline(call: Call) -> dict[str, Any]:
    """Reposts of a status (direct and down its chain); the list key is `reposts`."""
    status_id = call.id("id")
    if not Status.objects.filter(visible_to(call), pk=status_id).exists():
        raise ApiError(20101)
    qs = statuses(call).filter(Q(retweeted_status_id=status_id) | Q(repost_parent_id=status_id))
    qs = author_filter(call, qs)
    page = page_by_id(call, qs, default_count=20, max_count=200)
    return statuses_list(call, page, key="reposts")


# --- comments -----------------------------------------------------------------------------------


def _may_comment(call: Call, status: Status) -> None:
    author = status.user
    if (
        not author.allow_all_comment
        and author.pk != call.user.pk
        and not store.is_following(author, call.user)
    ):
        raise ApiError(20206)


@endpoint("comments/create", ("POST",), category="comments")
def comment_create(call: Call) -> dict[str, Any]:
    text = call.str("comment", required=True)
    status_id = call.id("id")
    comment_ori = call.choice("comment_ori", (0, 1))
    rip = call.str("rip")
    if rip:
        rip = check_rip(rip)
    status = get_status(call, status_id)
    check_length(text)
    _may_comment(call, status)
    with transaction.atomic():
        c = store.comment(call.user, status, text, app=call.app, rip=rip)
        if comment_ori and status.retweeted_status_id:
            store.comment(call.user, status.retweeted_status, text, app=call.app, rip=rip)
    return comment_json(reload_comment(c.pk), base_url=call.base_url)


@endpoint("comments/reply", ("POST",), category="comments")
def comment_reply(call: Call) -> dict[str, Any]:
    """Reply to comment `cid` under status `id`; without_mention=0 prefixes "回复@昵称:"."""
    text = call.str("comment", required=True)
    cid = call.id("cid")
    status_id = call.id("id")
    without_mention = call.choice("without_mention", (0, 1))
    comment_ori = call.choice("comment_ori", (0, 1))
    rip = call.str("rip")
    if rip:
        rip = check_rip(rip)
    status = get_status(call, status_id)
    parent = get_comment(call, cid)
    if parent.status_id != status.pk:
        raise ApiError(20201)
    check_length(text)
    if without_mention == 0:
        text = f"回复@{parent.user.screen_name}:{text}"
    _may_comment(call, status)
    with transaction.atomic():
        c = store.comment(call.user, status, text, reply_to=parent, app=call.app, rip=rip)
        if comment_ori and status.retweeted_status_id:
            store.comment(call.user, status.retweeted_status, text, app=call.app, rip=rip)
    return comment_json(reload_comment(c.pk), base_url=call.base_url)


@endpoint("comments/destroy", ("POST",))
def comment_destroy(call: Call) -> dict[str, Any]:
    c = get_comment(call, call.id("cid"))
    if c.user_id != call.user.pk:
        raise ApiError(20203)
    body = comment_json(c, base_url=call.base_url)
    store.destroy_comment(c)
    return body


@endpoint("comments/show")
def comments_show(call: Call) -> dict[str, Any]:
    """Comments on one status."""
    status_id = call.id("id")
    if not statuses(call).filter(pk=status_id).exists():
        raise ApiError(20101)
    qs = author_filter(call, comments(call).filter(status_id=status_id))
    return comments_list(call, page_by_id(call, qs, default_count=50, max_count=200))


@endpoint("comments/to_me")
def comments_to_me(call: Call) -> dict[str, Any]:
    """Comments on the user's statuses and replies to the user's comments, not the user's own."""
    me = call.user
    qs = comments(call).filter(Q(status__user=me) | Q(reply_to__user=me)).exclude(user=me)
    qs = author_filter(call, qs)
    call.choice("filter_by_source", (0, 1, 2))
    return comments_list(call, page_by_id(call, qs, default_count=50, max_count=200))


@endpoint("comments/mentions")
def comments_mentions(call: Call) -> dict[str, Any]:
    """Comments that @-mention the user."""
    qs = comments(call).filter(mentioned=call.user).exclude(user=call.user)
    qs = author_filter(call, qs)
    call.choice("filter_by_source", (0, 1, 2))
    return comments_list(call, page_by_id(call, qs, default_count=50, max_count=200))


# --- users and friendships ----------------------------------------------------------------------


def _user_by_params(call: Call, *, default_self: bool = False) -> SandboxUser:
    if call.params.get("uid"):
        uid = call.int("uid", lo=1)
        user = SandboxUser.objects.filter(pk=uid).first()
    elif call.params.get("screen_name"):
        user = SandboxUser.objects.filter(screen_name=call.params["screen_name"]).first()
    elif default_self:
        return call.user
    else:
        raise missing("uid")
    if user is None:
        raise ApiError(20003)
    return user


@endpoint("users/show")
def users_show(call: Call) -> dict[str, Any]:
    """A user; for users who have not authorised this app, description, verified reason, the
    counts and the latest status are withheld (§2.2)."""
    user = _user_by_params(call)
    authorised = call.is_authorised(user.pk)
    latest = None
    if authorised:
        s = statuses(call).filter(user=user).order_by("-pk").first()
        latest = status_json(s, base_url=call.base_url, trim_user=True) if s else None
    return user_json(
        user,
        base_url=call.base_url,
        withhold=not authorised,
        status=latest,
        following=store.is_following(call.user, user),
        follow_me=store.is_following(user, call.user),
    )


@endpoint("account/get_uid")
def get_uid(call: Call) -> dict[str, Any]:
    return {"uid": call.user.pk}


@endpoint("account/rate_limit_status", counted=False)
def rate_limit_status(call: Call) -> dict[str, Any]:
    return ratelimit.status(call.app, call.user.pk, client_ip(call.request))


def _cursor_page(
    call: Call, *, default_count: int, max_count: int
) -> tuple[list[Follow], int, int, int]:
    user = _user_by_params(call, default_self=True)
    if user.pk != call.user.pk:
        raise ApiError(21335)
    count = call.int("count", default_count, lo=1, hi=max_count, clamp=True)
    cursor = call.int("cursor", 0)
    qs = Follow.objects.filter(followee=user).order_by("-pk")
    total = qs.count()
    rows = list(qs.select_related("follower")[cursor : cursor + count])
    next_cursor = cursor + len(rows) if cursor + len(rows) < total else 0
    previous_cursor = max(cursor - count, 0) if cursor else 0
    return rows, total, next_cursor, previous_cursor


@endpoint("friendships/followers")
def followers(call: Call) -> dict[str, Any]:
    """The authorised user's followers, newest first, by `cursor` (an offset)."""
    trim_status = call.choice("trim_status", (0, 1), default=1) == 1
    rows, total, nxt, prev = _cursor_page(call, default_count=50, max_count=200)
    users = []
    for f in rows:
        latest = None
        if not trim_status:
            s = statuses(call).filter(user=f.follower).order_by("-pk").first()
            latest = status_json(s, base_url=call.base_url, trim_user=True) if s else None
        users.append(user_json(f.follower, base_url=call.base_url, status=latest, follow_me=True))
    return {"users": users, "next_cursor": nxt, "previous_cursor": prev, "total_number": total}


@endpoint("friendships/create", ("POST",), category="follows")
def friendships_create(call: Call) -> dict[str, Any]:
    """Follow a user (加关注): 20504 yourself, 20506 already, 20521 too many today."""
    target = _user_by_params(call)
    if target.pk == call.user.pk:
        raise ApiError(20504)
    if store.is_following(call.user, target):
        raise ApiError(20506)
    ratelimit.check_daily_follows(call.app, call.user.pk)
    store.follow(call.user, target)
    target.refresh_from_db()
    return user_json(
        target,
        base_url=call.base_url,
        following=True,
        follow_me=store.is_following(target, call.user),
    )


@endpoint("friendships/destroy", ("POST",))
def friendships_destroy(call: Call) -> dict[str, Any]:
    """Unfollow a user (取消关注): 20522 when not following."""
    target = _user_by_params(call)
    if not store.unfollow(call.user, target):
        raise ApiError(20522)
    target.refresh_from_db()
    return user_json(
        target,
        base_url=call.base_url,
        following=False,
        follow_me=store.is_following(target, call.user),
    )


@endpoint("friendships/followers/ids")
def follower_ids(call: Call) -> dict[str, Any]:
    rows, total, nxt, prev = _cursor_page(call, default_count=500, max_count=5000)
    return {
        "ids": [f.follower_id for f in rows],
        "next_cursor": nxt,
        "previous_cursor": prev,
        "total_number": total,
    }


# --- fans-service messages ----------------------------------------------------------------------


@endpoint("messages/reply", ("POST",), category="messages")
def messages_reply(call: Call) -> dict[str, Any]:
    """Active reply of the account to a fan, within the 48 h windows (§6)."""
    kind = call.str("type", default="text")
    if kind not in ("text", "articles", "position"):
        raise invalid("type", "text|articles|position", kind)
    raw = call.str("data", required=True)
    try:
        data = json.loads(unquote(raw)) if "%" in raw else json.loads(raw)
    except ValueError:
        raise invalid("data", "url-encoded json", raw) from None
    if not isinstance(data, dict):
        raise invalid("data", "json object", raw)
    if kind == "text":
        text = str(data.get("text") or "")
        if not text.strip():
            raise ApiError(20008)
        if len(text) > 300:
            raise ApiError(20013)
    elif kind == "articles":
        articles = data.get("articles")
        if not isinstance(articles, list) or not 1 <= len(articles) <= 8:
            raise invalid("data", "1-8 articles", raw)
    receiver = SandboxUser.objects.filter(pk=call.int("receiver_id", required=True, lo=1)).first()
    if receiver is None:
        raise ApiError(20003)
    allowed, reason = reply_window(call.user, receiver)
    if not allowed:
        raise ApiError(20301 if "unfollow" in reason else 20302)
    m = store.create_reply_message(call.user, receiver, kind, data, app=call.app)
    return {
        "result": True,
        "id": m.pk,
        "idstr": str(m.pk),
        "created_at": weibo_time(m.created_at),
        "type": kind,
        "text": m.text,
        "sender_id": call.user.pk,
        "receiver_id": receiver.pk,
        "data": data,
    }


# --- commercial search --------------------------------------------------------------------------


def _flag(call: Call, name: str) -> bool:
    return call.choice(name, (0, 1)) == 1


@endpoint("search/statuses/limited", commercial=True)
def search_limited(call: Call) -> dict[str, Any]:
    """Keyword search (商业接口, §5): every whitespace-separated term must occur."""
    q = call.str("q", required=True).strip()
    if not q:
        raise missing("q")
    qs = statuses(call)
    for term in q.split():
        qs = qs.filter(text__icontains=term)
    if call.params.get("ids"):
        ids = [i for i in call.params["ids"].split("~") if i]
        if len(ids) > 50:
            raise ApiError(10017, message="IDs is too many!", status=400)
        try:
            qs = qs.filter(user_id__in=[int(i) for i in ids])
        except ValueError:
            raise invalid("ids", "uid~uid", call.params["ids"]) from None
    if call.params.get("province"):
        qs = qs.filter(user__province=call.params["province"])
    if call.params.get("city"):
        qs = qs.filter(user__city=call.params["city"])
    if call.params.get("starttime"):
        qs = qs.filter(created_at__gte=_epoch(call, "starttime"))
    if call.params.get("endtime"):
        qs = qs.filter(created_at__lte=_epoch(call, "endtime"))
    if _flag(call, "hasori"):
        qs = qs.filter(retweeted_status=None)
    if _flag(call, "hasret"):
        qs = qs.exclude(retweeted_status=None)
    if _flag(call, "haspic"):
        qs = qs.exclude(picture=None)
    if _flag(call, "hasv"):
        qs = qs.filter(user__verified=True)
    if _flag(call, "haslink"):
        qs = qs.filter(text__icontains="http")
    if _flag(call, "hasat"):
        qs = qs.filter(text__contains="@")
    sort = call.str("sort", default="time")
    order = {
        "time": "-pk",
        "hot": "-attitudes_count",
        "fwnum": "-reposts_count",
        "cmtnum": "-comments_count",
    }.get(sort)
    if order is None:
        raise invalid("sort", "time|hot|fwnum|cmtnum", sort)
    if order == "-pk":
        page = page_by_id(call, qs, default_count=10, max_count=50)
    else:
        count = call.int("count", 10, lo=1, hi=50, clamp=True)
        number = call.int("page", 1, lo=1, hi=100000)
        items = list(qs.order_by(order, "-pk")[(number - 1) * count : number * count])
        page = Page(items, qs.count(), 0)
    return statuses_list(call, page)


def _epoch(call: Call, name: str) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(call.int(name, lo=0, hi=2**33), tz=UTC)


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


__all__ = ["REGISTRY", "api", "api_not_found", "avatar", "picture", "MessageType"]

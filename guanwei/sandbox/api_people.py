"""users/show, account/*, friendships/*, the fans-service messages/reply and the commercial
search/statuses/limited of the sandbox API (PLATFORM_APIS §2.2, §5, §6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from django.db.models import Max

from . import ratelimit, store
from .api_views import (
    Call,
    Page,
    client_ip,
    endpoint,
    page_by_id,
    statuses,
    statuses_list,
)
from .errors import ApiError, invalid, missing
from .fanservice import reply_window
from .models import Follow, SandboxUser, Status
from .serializers import status_json, user_json, weibo_time

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


def _newest_status_of(call: Call, user_ids: list[int]) -> dict[int, Status]:
    """Each user's newest status this caller may see, for a page of users in two queries."""
    newest_ids = (
        statuses(call)
        .filter(user_id__in=user_ids)
        .order_by()
        .values("user_id")
        .annotate(newest=Max("pk"))
        .values_list("newest", flat=True)
    )
    return {s.user_id: s for s in statuses(call).filter(pk__in=list(newest_ids))}


@endpoint("friendships/followers")
def followers(call: Call) -> dict[str, Any]:
    """The authorised user's followers, newest first, by `cursor` (an offset)."""
    trim_status = call.choice("trim_status", (0, 1), default=1) == 1
    rows, total, nxt, prev = _cursor_page(call, default_count=50, max_count=200)
    newest = {} if trim_status else _newest_status_of(call, [f.follower_id for f in rows])
    users = []
    for f in rows:
        s = newest.get(f.follower_id)
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

    return datetime.fromtimestamp(call.int(name, lo=0, hi=2**33), tz=UTC)

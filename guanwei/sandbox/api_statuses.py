"""statuses/* and comments/* of the sandbox API, with Weibo's content rules for writes: length
(140 characters, links as 10), a link under the app's safe domain, `rip`, `#话题#` removed,
pictures, repeated or similar text, posting too often (PLATFORM_APIS §2.2–2.3, §3)."""

from __future__ import annotations

import difflib
import ipaddress
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import Q

from guanwei.core.clock import now
from guanwei.textkit.length import SHARE_LIMIT, weibo_length

from . import ratelimit, store
from .api_views import (
    Call,
    author_filter,
    comments,
    comments_list,
    endpoint,
    get_comment,
    get_status,
    page_by_id,
    reload_comment,
    reload_status,
    statuses,
    statuses_list,
    visible_to,
)
from .errors import ApiError, invalid
from .models import App, Status
from .serializers import comment_json, status_json

MAX_PIC_BYTES = 5 * 1024 * 1024
TOPIC_RE = re.compile(r"#[^#\n]{1,64}#")
LINK_RE = re.compile(r"https?://[^\s<>\"'，。！？、）】]+", re.I)
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


# --- content rules ------------------------------------------------------------------------------


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

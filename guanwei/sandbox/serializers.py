"""Weibo JSON shapes (PLATFORM_APIS §2.4): status, user, comment objects and list wrappers.

Times are China time like Weibo's `"Tue May 31 17:46:55 +0800 2011"`; `id` is an int64 with
`idstr` and `mid` as its string form.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .models import Comment, SandboxUser, Status

CHINA = ZoneInfo("Asia/Shanghai")
WEIBO_TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"
DELETED_TEXT = "抱歉，此微博已被作者删除。查看帮助：http://t.cn/zWSudZc"


def weibo_time(at: datetime) -> str:
    # strftime's %a/%b follow the C locale here (never set otherwise), so English names.
    return at.astimezone(CHINA).strftime(WEIBO_TIME_FORMAT)


def source_html(app_name: str | None) -> str:
    if not app_name:
        return '<a href="http://weibo.com/" rel="nofollow">微博 weibo.com</a>'
    return f'<a href="http://app.weibo.com/" rel="nofollow">{app_name}</a>'


def user_json(
    user: SandboxUser,
    *,
    base_url: str = "",
    withhold: bool = False,
    status: dict[str, Any] | None = None,
    following: bool = False,
    follow_me: bool = False,
) -> dict[str, Any]:
    """The user object. `withhold` drops what users/show hides for users who did not
    authorise the app: description, verified reason, the counts and the latest status."""
    avatar = f"{base_url}/sandbox/avatar/{user.pk}.png"
    data: dict[str, Any] = {
        "id": user.pk,
        "idstr": str(user.pk),
        "class": 1,
        "screen_name": user.screen_name,
        "name": user.screen_name,
        "province": user.province,
        "city": user.city,
        "location": user.location,
        "description": user.description,
        "url": user.url,
        "profile_image_url": avatar,
        "profile_url": f"u/{user.pk}",
        "domain": user.domain,
        "weihao": "",
        "gender": user.gender,
        "followers_count": user.followers_count,
        "friends_count": user.friends_count,
        "pagefriends_count": 0,
        "statuses_count": user.statuses_count,
        "favourites_count": user.favourites_count,
        "created_at": weibo_time(user.created_at),
        "following": following,
        "allow_all_act_msg": user.allow_all_act_msg,
        "geo_enabled": True,
        "verified": user.verified,
        "verified_type": user.verified_type,
        "remark": "",
        "allow_all_comment": user.allow_all_comment,
        "avatar_large": avatar,
        "avatar_hd": avatar,
        "verified_reason": user.verified_reason,
        "follow_me": follow_me,
        "online_status": 0,
        "bi_followers_count": user.bi_followers_count,
        "lang": "zh-cn",
    }
    if withhold:
        data["description"] = ""
        data["verified_reason"] = ""
        for key in (
            "followers_count",
            "friends_count",
            "statuses_count",
            "favourites_count",
            "bi_followers_count",
            "pagefriends_count",
        ):
            del data[key]
    elif status is not None:
        data["status"] = status
    return data


def status_json(
    s: Status, *, base_url: str = "", trim_user: bool = False, with_retweeted: bool = True
) -> dict[str, Any]:
    """The status object; reposts carry the root as `retweeted_status`."""
    deleted = s.deleted_at is not None
    data: dict[str, Any] = {
        "created_at": weibo_time(s.created_at),
        "id": s.pk,
        "idstr": str(s.pk),
        "mid": str(s.pk),
        "can_edit": False,
        "text": DELETED_TEXT if deleted else s.text,
        "textLength": len(s.text.encode("gbk", "replace")),
        "source_allowclick": 0,
        "source_type": 1,
        "source": source_html(s.app.name if s.app_id and s.app else None),
        "favorited": False,
        "truncated": False,
        "isLongText": False,
        "in_reply_to_status_id": "",
        "in_reply_to_user_id": "",
        "in_reply_to_screen_name": "",
        "pic_urls": [],
        "geo": None,
        "reposts_count": max(s.reposts_count, 0),
        "comments_count": max(s.comments_count, 0),
        "attitudes_count": max(s.attitudes_count, 0),
        "mlevel": 0,
        "visible": {"type": s.visible_type, "list_id": 0},
        "annotations": [],
    }
    if deleted:
        data["deleted"] = "1"
    if trim_user:
        data["user"] = {"id": s.user_id}  # exact trimmed shape is [UNCONFIRMED]; keep the id
    else:
        data["user"] = user_json(s.user, base_url=base_url)
    if s.picture_id and not deleted:
        pid = s.picture_id
        data["pic_urls"] = [{"thumbnail_pic": f"{base_url}/sandbox/pic/thumbnail/{pid}.jpg"}]
        data["thumbnail_pic"] = f"{base_url}/sandbox/pic/thumbnail/{pid}.jpg"
        data["bmiddle_pic"] = f"{base_url}/sandbox/pic/bmiddle/{pid}.jpg"
        data["original_pic"] = f"{base_url}/sandbox/pic/large/{pid}.jpg"
    if with_retweeted and s.retweeted_status_id:
        root = s.retweeted_status
        if root is not None:
            data["retweeted_status"] = status_json(
                root, base_url=base_url, trim_user=trim_user, with_retweeted=False
            )
    return data


def comment_json(
    c: Comment, *, base_url: str = "", with_status: bool = True, trim_user: bool = False
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "created_at": weibo_time(c.created_at),
        "id": c.pk,
        "idstr": str(c.pk),
        "mid": str(c.pk),
        "rootid": c.pk,
        "floor_number": 0,
        "text": c.text,
        "source": source_html(c.app.name if c.app_id and c.app else None),
        "user": {"id": c.user_id} if trim_user else user_json(c.user, base_url=base_url),
    }
    if with_status:
        data["status"] = status_json(c.status, base_url=base_url, trim_user=trim_user)
    if c.reply_to_id and c.reply_to is not None:
        data["rootid"] = c.reply_to.pk
        data["reply_comment"] = comment_json(
            c.reply_to, base_url=base_url, with_status=False, trim_user=trim_user
        )
    return data


def list_json(
    key: str,
    items: list[dict[str, Any]],
    *,
    total_number: int,
    next_cursor: int = 0,
    previous_cursor: int = 0,
) -> dict[str, Any]:
    """`{key: […], previous_cursor, next_cursor, total_number, hasvisible, …}` as timelines."""
    return {
        key: items,
        "hasvisible": False,
        "previous_cursor": previous_cursor,
        "next_cursor": next_cursor,
        "total_number": total_number,
        "interval": 0,
        "marks": [],
    }

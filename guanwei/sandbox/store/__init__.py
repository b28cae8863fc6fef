"""The only way to change sandbox state. API views, OAuth, scenarios and replay all call these.

Every function runs in one transaction, allocates Weibo-like ids, and keeps the counters
(`statuses_count`, `followers_count`, `friends_count`, `reposts_count`, `comments_count`,
`attitudes_count`) true. Validation of *API input* (length, safe domain, duplicates, rate limits)
is the API layer's job; these functions accept whatever a scenario or a replay decides happened.

Single writes::

    app = create_app("示例乳业", level=AppLevel.DEVELOPER, safe_domains="demo.guanwei.local")
    user = create_user("示例乳业官方微博", password="…", verified_type=2, is_official=True)
    token = issue_token(app, user)                      # lifetime from the app's level
    s = post_status(user, "新品上市 http://demo.guanwei.local/x", app=app, rip="1.2.3.4")
    r = repost(fan, s, "好喝//@…", is_comment=1)        # chains "text//@parent:parent_text"
    c = comment(fan, s, "求链接")                       # reply_to=another comment for replies
    like(fan, s); follow(fan, user); send_dm(fan, user, "客服在吗")   # DMs push to the callback
    destroy_status(s); destroy_comment(c); unfollow(fan, user); unlike(fan, s)

Batches (one transaction, a handful of queries per batch whatever its size; rows are dicts
whose keys are the single functions' arguments, users and statuses may be given as objects
or ids)::

    users = bulk_create_users([{"screen_name": "小明", "gender": "m", "province": "11"}, …])
    statuses = bulk_create_statuses([{"user": u, "text": "…", "created_at": t}, …,
                                     {"user": v, "text": "转发", "repost_of": statuses[0]}])
    comments = bulk_create_comments([{"user": u, "status": s, "text": "…"}, …])
    bulk_follow([(follower, followee), …]);  bulk_like([(user, status), …])
    bulk_send_dms([{"sender": u, "receiver": account, "text": "…", "created_at": t}, …])

Ids: users get 10-digit uids, statuses/comments/messages share one 16-digit `mid` sequence
(monotonic, so Weibo paging by id follows insertion order; replays insert in time order).
Mentions (`@昵称`) in texts are resolved to existing users and stored, so statuses/mentions and
comments/mentions find them. Accounts with a fans service (`configure_fan_service`) get signed
pushes of DMs, follow/unfollow events and @-mentions (after commit, through a django-tasks task).
Bulk writers push nothing unless `notify=True`.

Modules: `ids` (sequences, counter bumps), `accounts` (apps, users, tokens, codes, pictures),
`content` (statuses, comments, likes), `social` (follows), `messages` (DMs, events, pushes).
Import from the package (`from guanwei.sandbox import store; store.post_status(...)`).
"""

from __future__ import annotations

from .accounts import (
    AUTH_CODE_TTL_S,
    TEST_ACCOUNT_LIMIT,
    TOKEN_LIFETIME_S,
    add_test_user,
    bulk_create_users,
    check_user_password,
    create_app,
    create_auth_code,
    create_user,
    expire_token,
    grant_token,
    issue_token,
    live_token,
    redeem_auth_code,
    revoke_token,
    set_password,
    store_picture,
    token_lifetime_s,
    update_app,
)
from .content import (
    MENTION_RE,
    bulk_create_comments,
    bulk_create_statuses,
    bulk_like,
    comment,
    destroy_comment,
    destroy_status,
    like,
    post_status,
    repost,
    repost_text,
    unlike,
)
from .ids import (
    SEQUENCE_START,
    allocate_ids,
)
from .messages import (
    bulk_send_dms,
    configure_fan_service,
    create_reply_message,
    finish_push,
    mark_fan_service_verified,
    record_event,
    send_dm,
)
from .social import (
    bulk_follow,
    follow,
    is_following,
    unfollow,
)

__all__ = [
    "bulk_send_dms",
    "SEQUENCE_START",
    "allocate_ids",
    "TOKEN_LIFETIME_S",
    "AUTH_CODE_TTL_S",
    "create_app",
    "update_app",
    "create_user",
    "bulk_create_users",
    "TEST_ACCOUNT_LIMIT",
    "add_test_user",
    "set_password",
    "check_user_password",
    "token_lifetime_s",
    "issue_token",
    "live_token",
    "grant_token",
    "revoke_token",
    "expire_token",
    "create_auth_code",
    "redeem_auth_code",
    "store_picture",
    "MENTION_RE",
    "repost_text",
    "bulk_create_statuses",
    "post_status",
    "repost",
    "destroy_status",
    "bulk_create_comments",
    "comment",
    "destroy_comment",
    "bulk_like",
    "like",
    "unlike",
    "bulk_follow",
    "follow",
    "unfollow",
    "is_following",
    "configure_fan_service",
    "mark_fan_service_verified",
    "send_dm",
    "record_event",
    "create_reply_message",
    "finish_push",
]

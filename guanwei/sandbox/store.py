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

Ids: users get 10-digit uids, statuses/comments/messages share one 16-digit `mid` sequence
(monotonic, so Weibo paging by id follows insertion order; replays insert in time order).
Mentions (`@昵称`) in texts are resolved to existing users and stored, so statuses/mentions and
comments/mentions find them. Accounts with a fans service (`configure_fan_service`) get signed
pushes of DMs, follow/unfollow events and @-mentions (after commit, through a django-tasks task).
Bulk writers push nothing unless `notify=True`.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, models, transaction
from django.db.models import F

from guanwei.core.clock import now

from .models import (
    App,
    AppLevel,
    AuthCode,
    Comment,
    FanService,
    Follow,
    Like,
    Message,
    MessageType,
    Picture,
    Push,
    SandboxUser,
    Sequence,
    Status,
    Token,
)

# Weibo-looking id ranges: uids have 10 digits, mids 16.
SEQUENCE_START = {"uid": 5_600_000_000, "mid": 4_960_000_000_000_000, "pic": 1_000_000}

TOKEN_LIFETIME_S = {
    AppLevel.TEST: 24 * 3600,
    AppLevel.NORMAL: 7 * 24 * 3600,
    AppLevel.MONTHLY: 30 * 24 * 3600,
    AppLevel.DEVELOPER: 5 * 365 * 24 * 3600,
}
AUTH_CODE_TTL_S = 600

# Weibo nicknames: CJK, letters, digits, "_" and "-", 1–30 characters.
MENTION_RE = re.compile(r"@([\w\-\u4e00-\u9fff]{1,30})")


def allocate_ids(name: str, n: int = 1) -> range:
    """Reserve `n` consecutive ids of sequence `name` with one row-locking UPDATE."""
    if n <= 0:
        return range(0)
    with transaction.atomic():
        if not Sequence.objects.filter(name=name).update(value=F("value") + n):
            try:
                with transaction.atomic():
                    Sequence.objects.create(name=name, value=SEQUENCE_START[name] + n)
                first = SEQUENCE_START[name] + 1
                return range(first, first + n)
            except IntegrityError:  # another process created the row first
                Sequence.objects.filter(name=name).update(value=F("value") + n)
        last = Sequence.objects.values_list("value", flat=True).get(name=name)
    return range(last - n + 1, last + 1)


def _bump(model: type[models.Model], field: str, deltas: Counter[int] | dict[int, int]) -> None:
    """Add deltas to a counter column: one UPDATE per distinct delta, not per row."""
    by_delta: dict[int, list[int]] = {}
    for pk, delta in deltas.items():
        if delta:
            by_delta.setdefault(delta, []).append(pk)
    for delta, pks in by_delta.items():
        for i in range(0, len(pks), 500):
            model.objects.filter(pk__in=pks[i : i + 500]).update(**{field: F(field) + delta})


def _pk(obj: Any) -> int:
    return obj if isinstance(obj, int) else obj.pk


# --- apps, users, tokens ----------------------------------------------------------------------


def create_app(
    name: str,
    *,
    level: str = AppLevel.NORMAL,
    safe_domains: str = "",
    redirect_uris: str = "",
    is_commercial: bool = False,
    is_audited: bool = True,
    limits: dict[str, Any] | None = None,
    token_lifetime_s: int | None = None,
    app_key: str | None = None,
    app_secret: str | None = None,
) -> App:
    """Register an app. Keys are 10 digits like Weibo's, secrets 32 hex characters."""
    return App.objects.create(
        name=name,
        level=level,
        safe_domains=safe_domains,
        redirect_uris=redirect_uris,
        is_commercial=is_commercial,
        is_audited=is_audited,
        limits=limits or {},
        token_lifetime_s=token_lifetime_s,
        app_key=app_key or str(secrets.randbelow(9 * 10**9) + 10**9),
        app_secret=app_secret or secrets.token_hex(16),
        created_at=now(),
    )


def update_app(app: App, **fields: Any) -> App:
    """Change app settings (level, limits, safe_domains, is_commercial …)."""
    for key, value in fields.items():
        setattr(app, key, value)
    app.save(update_fields=list(fields))
    return app


_USER_FIELDS = {f.name for f in SandboxUser._meta.concrete_fields} - {"id", "password"}


def _user_from_row(row: dict[str, Any], uid: int, at: datetime) -> SandboxUser:
    unknown = set(row) - _USER_FIELDS - {"password"}
    if unknown:
        raise ValueError(f"unknown user fields: {sorted(unknown)}")
    fields = dict(row)
    password = fields.pop("password", None)
    fields.setdefault("created_at", at)
    if fields.get("verified_type", -1) not in (-1, None) and "verified" not in fields:
        fields["verified"] = fields["verified_type"] >= 0 and fields["verified_type"] != 220
    user = SandboxUser(id=uid, **fields)
    user.password = make_password(password) if password else ""
    return user


@transaction.atomic
def create_user(screen_name: str, *, password: str | None = None, **fields: Any) -> SandboxUser:
    """A sandbox user. `password` (hashed) lets them sign in on the consent page."""
    (uid,) = allocate_ids("uid", 1)
    user = _user_from_row({"screen_name": screen_name, "password": password, **fields}, uid, now())
    user.save(force_insert=True)
    return user


@transaction.atomic
def bulk_create_users(rows: Iterable[dict[str, Any]]) -> list[SandboxUser]:
    """Many users at once. Give `password` only where needed: hashing is deliberately slow."""
    rows = list(rows)
    at = now()
    users = [
        _user_from_row(r, uid, at)
        for r, uid in zip(rows, allocate_ids("uid", len(rows)), strict=True)
    ]
    SandboxUser.objects.bulk_create(users, batch_size=500)
    return users


TEST_ACCOUNT_LIMIT = 15  # an unaudited app may have at most 15 test accounts (§1.5)


def add_test_user(app: App, user: SandboxUser) -> None:
    """Let `user` authorise the unaudited `app` (测试账号)."""
    if (
        app.test_users.count() >= TEST_ACCOUNT_LIMIT
        and not app.test_users.filter(pk=user.pk).exists()
    ):
        raise ValueError(f"an unaudited app has at most {TEST_ACCOUNT_LIMIT} test accounts")
    app.test_users.add(user)


def set_password(user: SandboxUser, password: str) -> None:
    user.password = make_password(password)
    user.save(update_fields=["password"])


def check_user_password(user: SandboxUser, password: str) -> bool:
    return bool(user.password) and check_password(password, user.password)


def token_lifetime_s(app: App) -> int:
    return app.token_lifetime_s or TOKEN_LIFETIME_S[AppLevel(app.level)]


def issue_token(
    app: App, user: SandboxUser, lifetime_s: int | None = None, *, scope: str = ""
) -> Token:
    """A new access token (`2.00…`), valid for `lifetime_s` or the app level's lifetime."""
    at = now()
    return Token.objects.create(
        token="2.00" + secrets.token_hex(14),
        app=app,
        user=user,
        scope=scope,
        created_at=at,
        expires_at=at + timedelta(seconds=lifetime_s or token_lifetime_s(app)),
    )


def live_token(app: App, user: SandboxUser) -> Token | None:
    """The user's newest unrevoked, unexpired token for the app, if any."""
    return (
        Token.objects.filter(app=app, user=user, revoked_at=None, expires_at__gt=now())
        .order_by("-id")
        .first()
    )


@transaction.atomic
def grant_token(app: App, user: SandboxUser, *, scope: str = "") -> Token:
    """What access_token does after a good code: re-authorising within the validity window
    extends the live token (Weibo's behaviour, §1.5) instead of minting another one."""
    token = live_token(app, user)
    if token is None:
        return issue_token(app, user, scope=scope)
    token.expires_at = now() + timedelta(seconds=token_lifetime_s(app))
    if scope:
        token.scope = scope
    token.save(update_fields=["expires_at", "scope"])
    return token


def revoke_token(token: Token) -> None:
    Token.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=now())


def expire_token(token: Token) -> None:
    """Make a token expired now (tests, scenarios: "the token died")."""
    token.expires_at = now() - timedelta(seconds=1)
    token.save(update_fields=["expires_at"])


def create_auth_code(app: App, user: SandboxUser, redirect_uri: str, scope: str = "") -> AuthCode:
    return AuthCode.objects.create(
        code=secrets.token_hex(16),
        app=app,
        user=user,
        redirect_uri=redirect_uri,
        scope=scope,
        created_at=now(),
    )


def redeem_auth_code(app: App, code: str) -> AuthCode | None:
    """Mark a code used, once: a conditional UPDATE so two redemptions cannot both win.
    None when it is unknown, of another app, already used or older than 10 minutes."""
    at = now()
    claimed = AuthCode.objects.filter(
        code=code, app=app, used_at=None, created_at__gt=at - timedelta(seconds=AUTH_CODE_TTL_S)
    ).update(used_at=at)
    if not claimed:
        return None
    return AuthCode.objects.select_related("user").get(code=code)


# --- pictures -----------------------------------------------------------------------------------


def store_picture(user: SandboxUser, data: bytes, content_type: str) -> Picture:
    (pid,) = allocate_ids("pic", 1)
    return Picture.objects.create(
        id=pid, user=user, content_type=content_type, data=data, size=len(data), created_at=now()
    )


# --- statuses -----------------------------------------------------------------------------------


def _resolve_mentions(texts: Seq[str]) -> list[list[int]]:
    """For each text, the ids of existing users it @-mentions (one query for the batch)."""
    names_per_text = [list(dict.fromkeys(MENTION_RE.findall(t))) for t in texts]
    all_names = {n for names in names_per_text for n in names}
    if not all_names:
        return [[] for _ in texts]
    ids = dict(
        SandboxUser.objects.filter(screen_name__in=all_names).values_list("screen_name", "id")
    )
    return [[ids[n] for n in names if n in ids] for names in names_per_text]


def repost_text(parent: Status, text: str) -> str:
    """Weibo's chain text: reposting a repost appends `//@parent:parent text`."""
    text = text or "转发微博"
    if parent.retweeted_status_id is None:
        return text
    return f"{text}//@{parent.user.screen_name}:{parent.text}"


@dataclass
class _Pending:
    """Side effects collected during a batch and applied at its end."""

    user_statuses: Counter[int]
    reposts: Counter[int]
    comments: Counter[int]

    @classmethod
    def new(cls) -> _Pending:
        return cls(Counter(), Counter(), Counter())

    def apply(self) -> None:
        _bump(SandboxUser, "statuses_count", self.user_statuses)
        _bump(Status, "reposts_count", self.reposts)
        _bump(Status, "comments_count", self.comments)


@transaction.atomic
def bulk_create_statuses(rows: Iterable[dict[str, Any]], *, notify: bool = False) -> list[Status]:
    """Statuses (originals and reposts) in one go. Row keys: `user`, `text`, and optionally
    `created_at`, `app`, `rip`, `visible` (0/1/3/4), `test_only` (default: posted through an
    unaudited app), `picture`, `repost_of` (a status or id: the
    row becomes a repost with Weibo's chain text unless `chain_text=False`), `id` (replay only:
    keep a known mid; must not collide)."""
    rows = list(rows)
    if not rows:
        return []
    at = now()
    parent_ids = {_pk(r["repost_of"]) for r in rows if r.get("repost_of") is not None}
    parents = Status.objects.select_related("user").in_bulk(parent_ids) if parent_ids else {}
    new_ids = iter(allocate_ids("mid", sum(1 for r in rows if "id" not in r)))
    pending = _Pending.new()
    statuses: list[Status] = []
    for row in rows:
        unknown = set(row) - {
            "user",
            "text",
            "created_at",
            "app",
            "rip",
            "visible",
            "picture",
            "repost_of",
            "chain_text",
            "test_only",
            "id",
        }
        if unknown:
            raise ValueError(f"unknown status fields: {sorted(unknown)}")
        text = row["text"]
        root_id = parent_id = None
        if row.get("repost_of") is not None:
            # A parent created earlier in this same batch is known by object only.
            parent = (
                row["repost_of"]
                if isinstance(row["repost_of"], Status)
                else parents.get(_pk(row["repost_of"]))
            )
            if parent is None:
                raise ValueError(f"repost_of {row['repost_of']!r} does not exist")
            parent_id = parent.pk
            root_id = parent.retweeted_status_id or parent.pk
            if row.get("chain_text", True):
                text = repost_text(parent, text)
            pending.reposts[parent_id] += 1
            if root_id != parent_id:
                pending.reposts[root_id] += 1
        status = Status(
            id=row["id"] if "id" in row else next(new_ids),
            user_id=_pk(row["user"]),
            text=text,
            app=row.get("app"),
            rip=row.get("rip", ""),
            visible_type=row.get("visible", 0),
            # Content posted through an unaudited app is seen only by its test accounts (§1.5).
            is_test_only=row.get(
                "test_only", row.get("app") is not None and not row["app"].is_audited
            ),
            picture=row.get("picture"),
            retweeted_status_id=root_id,
            repost_parent_id=parent_id,
            created_at=row.get("created_at") or at,
        )
        statuses.append(status)
        pending.user_statuses[status.user_id] += 1
    Status.objects.bulk_create(statuses, batch_size=500)
    mentions = _resolve_mentions([s.text for s in statuses])
    through = Status.mentioned.through
    through.objects.bulk_create(
        [
            through(status_id=s.pk, sandboxuser_id=uid)
            for s, uids in zip(statuses, mentions, strict=True)
            for uid in uids
        ],
        batch_size=1000,
    )
    pending.apply()
    if notify:
        _notify_mentions(
            [
                (s.user_id, uids, "status", s.pk, s.text, s.created_at)
                for s, uids in zip(statuses, mentions, strict=True)
                if uids
            ]
        )
    return statuses


def post_status(
    user: SandboxUser,
    text: str,
    *,
    app: App | None = None,
    created_at: datetime | None = None,
    picture: Picture | None = None,
    visible: int = 0,
    rip: str = "",
) -> Status:
    """An original status. @-mentioned accounts with a fans service get a mention push."""
    (status,) = bulk_create_statuses(
        [
            {
                "user": user,
                "text": text,
                "app": app,
                "created_at": created_at,
                "picture": picture,
                "visible": visible,
                "rip": rip,
            }
        ],
        notify=True,
    )
    status.user = user
    return status


@transaction.atomic
def repost(
    user: SandboxUser,
    status: Status,
    text: str = "",
    *,
    app: App | None = None,
    created_at: datetime | None = None,
    is_comment: int = 0,
    rip: str = "",
) -> Status:
    """Repost `status` (its root becomes `retweeted_status`). `is_comment`: 1 also comment on
    `status`, 2 on the original, 3 on both — as statuses/repost does."""
    (new,) = bulk_create_statuses(
        [
            {
                "user": user,
                "text": text,
                "app": app,
                "created_at": created_at,
                "rip": rip,
                "repost_of": status,
            }
        ],
        notify=True,
    )
    new.user = user
    comment_text = text or "转发微博"
    targets = []
    if is_comment in (1, 3):
        targets.append(status)
    if (
        is_comment in (2, 3)
        and status.retweeted_status_id
        and status.retweeted_status_id != status.pk
    ):
        targets.append(Status.objects.get(pk=status.retweeted_status_id))
    elif is_comment == 2:
        targets.append(status)
    for target in targets:
        comment(user, target, comment_text, app=app, created_at=created_at, rip=rip)
    return new


@transaction.atomic
def destroy_status(status: Status) -> Status:
    """Soft-delete; the author's statuses_count and the parents' reposts_count go down."""
    if not Status.objects.filter(pk=status.pk, deleted_at=None).update(deleted_at=now()):
        return status
    status.deleted_at = now()
    SandboxUser.objects.filter(pk=status.user_id).update(statuses_count=F("statuses_count") - 1)
    parents = {status.repost_parent_id, status.retweeted_status_id} - {None}
    Status.objects.filter(pk__in=parents).update(reposts_count=F("reposts_count") - 1)
    return status


# --- comments -----------------------------------------------------------------------------------


@transaction.atomic
def bulk_create_comments(rows: Iterable[dict[str, Any]], *, notify: bool = False) -> list[Comment]:
    """Comments in one go. Row keys: `user`, `status`, `text`, optionally `reply_to` (a comment
    or id), `created_at`, `app`, `rip`, `id` (replay only)."""
    rows = list(rows)
    if not rows:
        return []
    at = now()
    new_ids = iter(allocate_ids("mid", sum(1 for r in rows if "id" not in r)))
    pending = _Pending.new()
    comments: list[Comment] = []
    for row in rows:
        unknown = set(row) - {
            "user",
            "status",
            "text",
            "reply_to",
            "created_at",
            "app",
            "rip",
            "id",
        }
        if unknown:
            raise ValueError(f"unknown comment fields: {sorted(unknown)}")
        c = Comment(
            id=row["id"] if "id" in row else next(new_ids),
            user_id=_pk(row["user"]),
            status_id=_pk(row["status"]),
            text=row["text"],
            reply_to_id=_pk(row["reply_to"]) if row.get("reply_to") is not None else None,
            app=row.get("app"),
            rip=row.get("rip", ""),
            created_at=row.get("created_at") or at,
        )
        comments.append(c)
        pending.comments[c.status_id] += 1
    Comment.objects.bulk_create(comments, batch_size=500)
    mentions = _resolve_mentions([c.text for c in comments])
    through = Comment.mentioned.through
    through.objects.bulk_create(
        [
            through(comment_id=c.pk, sandboxuser_id=uid)
            for c, uids in zip(comments, mentions, strict=True)
            for uid in uids
        ],
        batch_size=1000,
    )
    pending.apply()
    if notify:
        _notify_mentions(
            [
                (c.user_id, uids, "comment", c.pk, c.text, c.created_at)
                for c, uids in zip(comments, mentions, strict=True)
                if uids
            ]
        )
    return comments


def comment(
    user: SandboxUser,
    status: Status,
    text: str,
    *,
    reply_to: Comment | None = None,
    app: App | None = None,
    created_at: datetime | None = None,
    rip: str = "",
) -> Comment:
    """A comment on `status` (a reply when `reply_to` is given; the caller adds any
    "回复@昵称:" prefix — comments/reply does so for without_mention=0)."""
    (c,) = bulk_create_comments(
        [
            {
                "user": user,
                "status": status,
                "text": text,
                "reply_to": reply_to,
                "app": app,
                "created_at": created_at,
                "rip": rip,
            }
        ],
        notify=True,
    )
    c.user, c.status, c.reply_to = user, status, reply_to
    return c


@transaction.atomic
def destroy_comment(c: Comment) -> Comment:
    if Comment.objects.filter(pk=c.pk, deleted_at=None).update(deleted_at=now()):
        c.deleted_at = now()
        Status.objects.filter(pk=c.status_id).update(comments_count=F("comments_count") - 1)
    return c


# --- likes and follows -------------------------------------------------------------------------


@transaction.atomic
def bulk_like(pairs: Iterable[tuple[Any, Any]], *, created_at: datetime | None = None) -> int:
    """(user, status) pairs; existing likes are skipped. Returns how many were new."""
    pairs = list(dict.fromkeys((_pk(u), _pk(s)) for u, s in pairs))
    if not pairs:
        return 0
    existing = set(
        Like.objects.filter(
            status_id__in={s for _, s in pairs}, user_id__in={u for u, _ in pairs}
        ).values_list("user_id", "status_id")
    )
    new = [p for p in pairs if p not in existing]
    at = created_at or now()
    Like.objects.bulk_create(
        [Like(user_id=u, status_id=s, created_at=at) for u, s in new], batch_size=500
    )
    _bump(Status, "attitudes_count", Counter(s for _, s in new))
    return len(new)


def like(user: SandboxUser, status: Status, *, created_at: datetime | None = None) -> bool:
    return bulk_like([(user, status)], created_at=created_at) == 1


@transaction.atomic
def unlike(user: SandboxUser, status: Status) -> bool:
    deleted, _ = Like.objects.filter(user=user, status=status).delete()
    if deleted:
        Status.objects.filter(pk=status.pk).update(attitudes_count=F("attitudes_count") - 1)
    return bool(deleted)


@transaction.atomic
def bulk_follow(
    pairs: Iterable[tuple[Any, Any]], *, created_at: datetime | None = None, notify: bool = False
) -> int:
    """(follower, followee) pairs; self-follows and existing follows are skipped. Keeps
    followers_count, friends_count and bi_followers_count. Returns how many were new."""
    pairs = list(dict.fromkeys((_pk(a), _pk(b)) for a, b in pairs if _pk(a) != _pk(b)))
    if not pairs:
        return 0
    followers = {a for a, _ in pairs}
    followees = {b for _, b in pairs}
    existing = set(
        Follow.objects.filter(follower_id__in=followers, followee_id__in=followees).values_list(
            "follower_id", "followee_id"
        )
    )
    new = [p for p in pairs if p not in existing]
    at = created_at or now()
    Follow.objects.bulk_create(
        [Follow(follower_id=a, followee_id=b, created_at=at) for a, b in new], batch_size=500
    )
    _bump(SandboxUser, "followers_count", Counter(b for _, b in new))
    _bump(SandboxUser, "friends_count", Counter(a for a, _ in new))
    # Mutual follows (互粉): a pair becomes mutual when its second edge is new (count it once
    # even when both edges arrive in this batch).
    reverse = set(
        Follow.objects.filter(follower_id__in=followees, followee_id__in=followers).values_list(
            "follower_id", "followee_id"
        )
    )
    pairs_now_mutual = {frozenset((a, b)) for a, b in new if (b, a) in reverse}
    mutual: Counter[int] = Counter()
    for pair in pairs_now_mutual:
        for uid in pair:
            mutual[uid] += 1
    _bump(SandboxUser, "bi_followers_count", mutual)
    if notify:
        for a, b in new:
            _record_event(a, b, "follow", at)
    return len(new)


def follow(
    follower: SandboxUser, followee: SandboxUser, *, created_at: datetime | None = None
) -> bool:
    """Follow; an account with a fans service gets a `follow` event push."""
    return bulk_follow([(follower, followee)], created_at=created_at, notify=True) == 1


@transaction.atomic
def unfollow(follower: SandboxUser, followee: SandboxUser) -> bool:
    deleted, _ = Follow.objects.filter(follower=follower, followee=followee).delete()
    if not deleted:
        return False
    SandboxUser.objects.filter(pk=followee.pk).update(followers_count=F("followers_count") - 1)
    SandboxUser.objects.filter(pk=follower.pk).update(friends_count=F("friends_count") - 1)
    if Follow.objects.filter(follower=followee, followee=follower).exists():
        SandboxUser.objects.filter(pk__in=[follower.pk, followee.pk]).update(
            bi_followers_count=F("bi_followers_count") - 1
        )
    _record_event(follower.pk, followee.pk, "unfollow", now())
    return True


def is_following(follower: Any, followee: Any) -> bool:
    return Follow.objects.filter(follower_id=_pk(follower), followee_id=_pk(followee)).exists()


# --- messages and the fans service -------------------------------------------------------------


@transaction.atomic
def configure_fan_service(
    user: SandboxUser,
    app: App,
    callback_url: str,
    *,
    push_mentions: bool = True,
    verified: bool = False,
) -> FanService:
    """Developer mode of the fans service (粉丝服务 → 开发模式) for `user`: pushes go to
    `callback_url`, signed with `app`'s secret. `fanservice.verify_callback` does the echostr
    handshake and marks it verified; pushes are only sent to verified callbacks."""
    fs, _ = FanService.objects.update_or_create(
        user=user,
        defaults={
            "app": app,
            "callback_url": callback_url,
            "push_mentions": push_mentions,
            "is_verified": verified,
            "verified_at": now() if verified else None,
        },
    )
    return fs


def mark_fan_service_verified(fs: FanService) -> None:
    FanService.objects.filter(pk=fs.pk).update(is_verified=True, verified_at=now())


def _create_messages(messages: list[Message], *, push: bool = True) -> list[Message]:
    ids = allocate_ids("mid", len(messages))
    for m, mid in zip(messages, ids, strict=True):
        m.id = mid
    Message.objects.bulk_create(messages, batch_size=500)
    if push:
        _queue_pushes(messages)
    return messages


def send_dm(
    sender: SandboxUser,
    receiver: SandboxUser,
    text: str = "",
    *,
    type: str = MessageType.TEXT,
    data: dict[str, Any] | None = None,
    created_at: datetime | None = None,
) -> Message:
    """A 私信 from `sender` to `receiver`; pushed (signed) to the receiver's fans-service
    callback after commit. Opens the receiver's 48 h reply window towards `sender`."""
    with transaction.atomic():
        (m,) = _create_messages(
            [
                Message(
                    sender=sender,
                    receiver=receiver,
                    type=type,
                    text=text,
                    data=data or {},
                    created_at=created_at or now(),
                )
            ]
        )
    return m


def record_event(
    sender: SandboxUser, receiver: SandboxUser, subtype: str, data: dict[str, Any] | None = None
) -> Message:
    """A fans-service event (subscribe, unsubscribe, scan, scan_follow, click, view…)."""
    with transaction.atomic():
        return _record_event(sender.pk, receiver.pk, subtype, now(), data)


def _record_event(
    sender_id: int, receiver_id: int, subtype: str, at: datetime, data: dict[str, Any] | None = None
) -> Message:
    (m,) = _create_messages(
        [
            Message(
                sender_id=sender_id,
                receiver_id=receiver_id,
                type=MessageType.EVENT,
                subtype=subtype,
                data={"subtype": subtype, **(data or {})},
                created_at=at,
            )
        ]
    )
    return m


def _notify_mentions(items: list[tuple[int, list[int], str, int, str, datetime]]) -> None:
    """@-mentions of accounts whose fans service wants them become `mention` messages."""
    targets = {uid for _, uids, *_ in items for uid in uids}
    wanting = set(
        FanService.objects.filter(user_id__in=targets, push_mentions=True).values_list(
            "user_id", flat=True
        )
    )
    messages = [
        Message(
            sender_id=author,
            receiver_id=uid,
            type=MessageType.MENTION,
            subtype=subtype,
            text=text,
            data={"subtype": subtype, "id": str(obj_id)},
            created_at=at,
        )
        for author, uids, subtype, obj_id, text, at in items
        for uid in uids
        if uid in wanting and uid != author
    ]
    if messages:
        _create_messages(messages)


def create_reply_message(
    account: SandboxUser, receiver: SandboxUser, type: str, data: dict[str, Any], *, app: App | None
) -> Message:
    """An account's reply (messages/reply, or a passive reply in a push response). Window
    checks are `fanservice.reply_window`'s job; this only records it."""
    with transaction.atomic():
        (m,) = _create_messages(
            [
                Message(
                    sender=account,
                    receiver=receiver,
                    type=type,
                    text=str(data.get("text", "")),
                    data=data,
                    app=app,
                    created_at=now(),
                )
            ],
            push=False,
        )
    return m


def _queue_pushes(messages: list[Message]) -> None:
    receivers = {m.receiver_id for m in messages}
    services = {
        fs.user_id: fs for fs in FanService.objects.filter(user_id__in=receivers, is_verified=True)
    }
    pushes = [
        Push(message=m, fan_service=services[m.receiver_id], created_at=m.created_at)
        for m in messages
        if m.receiver_id in services
    ]
    if not pushes:
        return
    Push.objects.bulk_create(pushes)
    push_ids = [p.pk for p in pushes]

    def enqueue() -> None:
        from .fanservice import deliver_pushes

        deliver_pushes.enqueue(push_ids)

    transaction.on_commit(enqueue)


@transaction.atomic
def finish_push(push: Push, *, delivered: bool, attempts: int, error: str = "") -> None:
    from .models import PushState

    Push.objects.filter(pk=push.pk).update(
        state=PushState.DELIVERED if delivered else PushState.FAILED,
        attempts=attempts,
        last_error=error[:300],
        delivered_at=now() if delivered else None,
    )

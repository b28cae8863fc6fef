"""Apps, users, tokens, authorization codes and pictures."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction

from guanwei.core.clock import now

from ..models import (
    App,
    AppLevel,
    AuthCode,
    Picture,
    SandboxUser,
    Token,
    hash_credential,
)
from .ids import allocate_ids

TOKEN_LIFETIME_S = {
    AppLevel.TEST: 24 * 3600,
    AppLevel.NORMAL: 7 * 24 * 3600,
    AppLevel.MONTHLY: 30 * 24 * 3600,
    AppLevel.DEVELOPER: 5 * 365 * 24 * 3600,
}
AUTH_CODE_TTL_S = 600

# Weibo nicknames: CJK, letters, digits, "_" and "-", 1–30 characters.


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
    raw = "2.00" + secrets.token_hex(14)
    return Token.objects.create(
        token_hash=hash_credential(raw),
        token_sealed=raw,
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


def create_auth_code(
    app: App, user: SandboxUser, redirect_uri: str, scope: str = ""
) -> tuple[AuthCode, str]:
    """A new one-time code and the code itself (only its hash is stored)."""
    raw = secrets.token_hex(16)
    code = AuthCode.objects.create(
        code_hash=hash_credential(raw),
        app=app,
        user=user,
        redirect_uri=redirect_uri,
        scope=scope,
        created_at=now(),
    )
    return code, raw


def redeem_auth_code(app: App, code: str) -> AuthCode | None:
    """Mark a code used, once: a conditional UPDATE so two redemptions cannot both win.
    None when it is unknown, of another app, already used or older than 10 minutes."""
    at = now()
    code_hash = hash_credential(code)
    claimed = AuthCode.objects.filter(
        code_hash=code_hash,
        app=app,
        used_at=None,
        created_at__gt=at - timedelta(seconds=AUTH_CODE_TTL_S),
    ).update(used_at=at)
    if not claimed:
        return None
    return AuthCode.objects.select_related("user").get(code_hash=code_hash)


# --- pictures -----------------------------------------------------------------------------------


def store_picture(user: SandboxUser, data: bytes, content_type: str) -> Picture:
    (pid,) = allocate_ids("pic", 1)
    return Picture.objects.create(
        id=pid, user=user, content_type=content_type, data=data, size=len(data), created_at=now()
    )

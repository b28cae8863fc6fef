"""API router of listening: streams with their health, and mentions (read-only)."""
# No `from __future__ import annotations` here: ninja reads the annotations at import time.


import re
from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from pydantic import field_validator

from guanwei.core.apitools import Pages, member_of
from guanwei.core.permissions import get_for, require
from guanwei.listening import queries
from guanwei.matrix.models import Account

router = Router(tags=["listening"])
VIEW = "account.view"


class StreamOut(Schema):
    id: int
    account_id: int
    kind: str
    target: str
    cursor: str
    interval_s: int
    last_success_at: datetime | None
    lag_s: int | None = Field(None, description="seconds since the last successful read")
    cursor_age_s: int | None = Field(None, description="seconds since the newest stored item was written")
    last_error: str
    last_error_detail: str
    runs_24h: int
    failed_24h: int
    stored_24h: int


class AuthorOut(Schema):
    remote_id: str
    screen_name: str
    verified_type: int | None
    followers_count: int | None


class MentionOut(Schema):
    id: int
    platform: str
    remote_id: str
    kind: str
    account_id: int | None
    source: str
    author: AuthorOut | None
    text: str
    url: str
    thread_id: str
    in_reply_to_id: str
    sentiment: str
    emotion: str
    voice_id: int | None
    created_at: datetime
    received_at: datetime


class MentionFilter(Schema):
    account: int | None = Field(None, description="an account id")
    kind: Literal["status", "comment", "repost", "dm"] | None = Field(None, description="the item's kind")
    since: datetime | None = Field(None, description="received at or after (ISO 8601)")

    @field_validator("since", mode="before")
    @classmethod
    def _iso_only(cls, value):  # type: ignore[no-untyped-def]
        """Only ISO 8601 (pydantic would also take "0.5" as seconds since 1970)."""
        if value is None or isinstance(value, datetime):
            return value
        if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value):
            return value
        raise ValueError("an ISO 8601 date-time, e.g. 2026-12-05T08:00:00+08:00")


@router.get("/streams", response=list[StreamOut], summary="What listening reads for each account")
@paginate(Pages)
def streams(request: HttpRequest, account: int | None = None):  # type: ignore[no-untyped-def]
    member = member_of(request)
    require(member, VIEW)
    if account is not None:
        account = get_for(member, Account, account, VIEW).pk
    return [
        {**{f: getattr(v.stream, f) for f in ("id", "account_id", "kind", "target", "cursor", "interval_s",
                                              "last_success_at", "last_error", "last_error_detail")},
         "lag_s": v.lag_s, "cursor_age_s": v.cursor_age_s, "runs_24h": v.runs_24h,
         "failed_24h": v.failed_24h, "stored_24h": v.stored_24h}
        for v in queries.streams_of(member, account)
    ]  # fmt: skip


@router.get("/mentions", response=list[MentionOut], summary="Mentions, newest first")
@paginate(Pages)
def mentions(request: HttpRequest, filters: Query[MentionFilter]):  # type: ignore[no-untyped-def]
    member = member_of(request)
    require(member, VIEW)
    account = get_for(member, Account, filters.account, VIEW).pk if filters.account is not None else None
    return queries.mentions_of(member, account_id=account, kind=filters.kind or "", since=filters.since).order_by(
        "-received_at", "-id"
    )

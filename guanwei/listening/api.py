"""API router of listening: streams with their health, mentions (read-only), and imports of
mention files (upload, then poll the import's state)."""
# No `from __future__ import annotations` here: ninja reads the annotations at import time.


import re
from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, File, Query, Router, Schema, Status, UploadedFile
from ninja.pagination import paginate
from pydantic import field_validator

from guanwei.core.apitools import Moment, Pages, member_of
from guanwei.core.permissions import get_for, require
from guanwei.listening import imports, queries
from guanwei.listening.models import Import
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
    since: Moment | None = Field(None, description="received at or after (ISO 8601)")

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


class ImportOut(Schema):
    id: int
    name: str
    size: int
    sha256: str
    layout: str = Field(description="the layout found in the file (docs/imports.md)")
    state: str = Field(description="queued → checking → loading → done; or rejected (a bad record: nothing loaded) or failed")
    percent: int
    rows: int = Field(description="records in the file (known after the check)")
    done: int = Field(description="records loaded")
    stored: int = Field(description="new mentions")
    duplicates: int = Field(description="items already stored (imported before, or polled)")
    errors: list[str] = Field(description='"file:line: reason" for each bad record (the first 50)')
    created_at: datetime
    finished_at: datetime | None


@router.post("/imports", response={201: ImportOut}, summary="Upload a file of mentions (CSV, JSON Lines or JSON; gzip allowed)")
def create_import(request: HttpRequest, file: UploadedFile = File(...)):  # type: ignore[no-untyped-def]  # noqa: B008
    job = imports.do_start_import(member_of(request), file, request=request)
    return Status(201, job)


@router.get("/imports", response=list[ImportOut], summary="Imports, newest first")
@paginate(Pages)
def import_list(request: HttpRequest):  # type: ignore[no-untyped-def]
    member = member_of(request)
    require(member, imports.RIGHT)
    return Import.objects.for_member(member).order_by("-created_at", "-id")


@router.get("/imports/{import_id}", response=ImportOut, summary="One import: its state and progress")
def import_detail(request: HttpRequest, import_id: int):  # type: ignore[no-untyped-def]
    member = member_of(request)
    return get_for(member, Import, import_id, imports.RIGHT)

"""API router of publishing: posts and their actions. Scripts rely on this shape (issue 14):
create takes {"text", "accounts", "scheduled_at"} and answers 201 with `id` and `state`; a post
reads with `state` and `targets` (each `account`, `state`, `platform_id`, `url`, `error`)."""
# No `from __future__ import annotations` here: ninja reads the annotations at import time.

import base64
import binascii
from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from guanwei.core.apitools import Moment, ObjectBody, Pages, member_of
from guanwei.core.errors import ActionError
from guanwei.core.permissions import get_for, require
from guanwei.publishing import actions
from guanwei.publishing.models import Post

router = Router(tags=["publishing"])


class TargetOut(Schema):
    account: int | None
    state: str
    platform_id: str
    url: str
    error: str
    attempts: int
    manual: str = Field("", description="why this target is an assisted manual task ('' when the API posts it)")


class PostOut(Schema):
    id: int
    text: str
    state: str
    scheduled_at: datetime | None
    author: int = Field(..., alias="author_id")
    revision: int
    content_type: str
    emergency: bool
    series: int | None = Field(None, alias="series_id")
    campaign: int | None = Field(None, alias="campaign_id")
    repost_of: str
    targets: list[TargetOut]

    @staticmethod
    def resolve_targets(post: Post) -> list[dict]:
        return _targets(post)


ContentType = Literal["general", "product", "promotion", "service", "crisis"]


class ImageIn(Schema):
    name: str = Field("", max_length=100)
    data: str = Field(..., min_length=4, max_length=7_000_000, description="base64 of a JPEG, PNG or GIF (≤ 5 MB)")


class PostIn(ObjectBody):
    text: str = Field(..., max_length=5000, description="the post; for a repost, the comment (may be empty)")
    accounts: list[int] = Field(..., min_length=1, max_length=50)
    scheduled_at: Moment | None = Field(None, description="ISO-8601 with zone; null: as soon as approved")
    variants: dict[int, str] | None = Field(None, description="per account id: its own text")
    content_type: ContentType = "general"
    series: int | None = None
    campaign: int | None = None
    repost_of: str = Field("", max_length=300, description="URL or id of a post to repost (text is the comment)")
    emergency: bool = Field(False, description="the emergency path (owner/admin): one approval is enough")
    images: list[ImageIn] = Field([], max_length=9)


class PostEdit(ObjectBody):
    text: str | None = Field(None, max_length=5000)
    scheduled_at: Moment | None = None
    variants: dict[int, str] | None = None
    accounts: list[int] | None = Field(None, min_length=1, max_length=50)
    content_type: ContentType | None = None
    series: int | None = None
    campaign: int | None = None


class ScheduleIn(Schema):
    scheduled_at: Moment | None = None


class CommentIn(Schema):
    comment: str = Field("", max_length=1000)


def _targets(post: Post) -> list[dict]:
    """A post's targets as the API shows them; uses prefetched targets and publications."""
    targets = []
    for t in sorted(post.targets.all(), key=lambda t: t.pk):
        publication = getattr(t, "publication", None)
        errors = publication.errors if publication else []
        targets.append({
            "account": t.account_id, "state": t.state, "attempts": t.attempts,
            "platform_id": publication.platform_id if publication else "",
            "url": publication.url if publication else "",
            "error": errors[-1]["message"] if errors and t.state in ("failed", "unconfirmed", "scheduled") else "",
            "manual": t.manual_reason,
        })  # fmt: skip
    return targets


def _out(post: Post) -> Post:
    """The post, re-read with its targets and publications in two queries."""
    return Post.objects.prefetch_related("targets__publication").get(pk=post.pk)


def _post(request: HttpRequest, post_id: int, action: str) -> Post:
    return get_for(member_of(request), Post, post_id, action)


@router.get("/posts", response=list[PostOut], summary="Posts, newest first")
@paginate(Pages)
def post_list(request: HttpRequest):  # type: ignore[no-untyped-def]
    member = member_of(request)
    require(member, "post.view")
    # Paginated in the database; the page's targets and publications in two more queries.
    return Post.objects.for_member(member).prefetch_related("targets__publication").order_by("-created_at", "-pk")


@router.post("/posts", response={201: PostOut}, summary="Create a post (draft) for some accounts")
def post_create(request: HttpRequest, payload: PostIn):  # type: ignore[no-untyped-def]
    variants = {int(k): v for k, v in (payload.variants or {}).items()}
    files = []
    for i, image in enumerate(payload.images):
        try:
            files.append((base64.b64decode(image.data, validate=True), image.name or f"image-{i + 1}"))
        except (binascii.Error, ValueError):
            raise ActionError(f"images[{i}]: not base64", "images") from None
    post = actions.do_create_post(
        member_of(request), text=payload.text, accounts=payload.accounts, scheduled_at=payload.scheduled_at,
        variants=variants, content_type=payload.content_type, series=payload.series, campaign=payload.campaign,
        repost_of=payload.repost_of, emergency=payload.emergency, image_files=files, request=request,
    )  # fmt: skip
    return Status(201, _out(post))


@router.get("/posts/{post_id}", response=PostOut, summary="One post with its targets")
def post_detail(request: HttpRequest, post_id: int):  # type: ignore[no-untyped-def]
    return _out(_post(request, post_id, "post.view"))


@router.patch("/posts/{post_id}", response=PostOut, summary="Edit (voids an approval)")
def post_edit(request: HttpRequest, post_id: int, payload: PostEdit):  # type: ignore[no-untyped-def]
    fields = payload.dict(exclude_unset=True)
    unchanged = actions.UNCHANGED
    variants = fields.get("variants")
    post = actions.do_edit_post(
        member_of(request), _post(request, post_id, "post.edit"), text=fields.get("text"),
        variants={int(k): v for k, v in variants.items()} if variants is not None else None,
        accounts=fields.get("accounts"), content_type=fields.get("content_type"),
        scheduled_at=fields.get("scheduled_at", unchanged), series=fields.get("series", unchanged),
        campaign=fields.get("campaign", unchanged), request=request,
    )  # fmt: skip
    return _out(post)


@router.post("/posts/{post_id}/submit", response=PostOut, summary="Send for review")
def post_submit(request: HttpRequest, post_id: int):  # type: ignore[no-untyped-def]
    return _out(actions.do_submit(member_of(request), _post(request, post_id, "post.edit"), request))


@router.post("/posts/{post_id}/approve", response=PostOut,
             summary="Approve the current revision (scheduled once every tier of its chains approved)")  # fmt: skip
def post_approve(request: HttpRequest, post_id: int):  # type: ignore[no-untyped-def]
    """An optional JSON body `{"comment": "…"}` goes with the approval (scripts send none)."""
    post = _post(request, post_id, "post.review")
    return _out(actions.do_approve(member_of(request), post, _comment(request), request))


def _comment(request: HttpRequest) -> str:
    import json

    if request.content_type != "application/json" or not request.body:
        return ""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise ActionError("the body is not JSON", "comment") from None
    comment = body.get("comment", "") if isinstance(body, dict) else ""
    if not isinstance(comment, str) or len(comment) > 1000:
        raise ActionError("comment: a string of at most 1000 characters", "comment")
    return comment


@router.post("/posts/{post_id}/request-changes", response=PostOut, summary="Send back to the author")
def post_request_changes(request: HttpRequest, post_id: int, payload: CommentIn):  # type: ignore[no-untyped-def]
    post = _post(request, post_id, "post.review")
    return _out(actions.do_request_changes(member_of(request), post, payload.comment, request))


@router.post("/posts/{post_id}/schedule", response=PostOut, summary="Set or move the time")
def post_schedule(request: HttpRequest, post_id: int, payload: ScheduleIn):  # type: ignore[no-untyped-def]
    post = _post(request, post_id, "post.edit")
    return _out(actions.do_schedule(member_of(request), post, payload.scheduled_at, request))


@router.post("/posts/{post_id}/cancel", response=PostOut, summary="Cancel what has not gone out")
def post_cancel(request: HttpRequest, post_id: int):  # type: ignore[no-untyped-def]
    return _out(actions.do_cancel(member_of(request), _post(request, post_id, "post.edit"), request))

"""API router of publishing: posts and their actions. Scripts rely on this shape (issue 14):
create takes {"text", "accounts", "scheduled_at"} and answers 201 with `id` and `state`; a post
reads with `state` and `targets` (each `account`, `state`, `platform_id`, `url`, `error`)."""
# No `from __future__ import annotations` here: ninja reads the annotations at import time.

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from guanwei.core.apitools import Pages, member_of
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


class PostOut(Schema):
    id: int
    text: str
    state: str
    scheduled_at: datetime | None
    author: int = Field(..., alias="author_id")
    revision: int
    targets: list[TargetOut]

    @staticmethod
    def resolve_targets(post: Post) -> list[dict]:
        return _targets(post)


class PostIn(Schema):
    text: str = Field(..., min_length=1, max_length=5000)
    accounts: list[int] = Field(..., min_length=1, max_length=50)
    scheduled_at: datetime | None = Field(None, description="ISO-8601 with zone; null: as soon as approved")
    variants: dict[int, str] | None = Field(None, description="per account id: its own text")


class PostEdit(Schema):
    text: str | None = Field(None, max_length=5000)
    scheduled_at: datetime | None = None


class ScheduleIn(Schema):
    scheduled_at: datetime | None = None


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
    post = actions.do_create_post(member_of(request), text=payload.text, accounts=payload.accounts,
                                  scheduled_at=payload.scheduled_at, variants=variants, request=request)  # fmt: skip
    return Status(201, _out(post))


@router.get("/posts/{post_id}", response=PostOut, summary="One post with its targets")
def post_detail(request: HttpRequest, post_id: int):  # type: ignore[no-untyped-def]
    return _out(_post(request, post_id, "post.view"))


@router.patch("/posts/{post_id}", response=PostOut, summary="Edit (voids an approval)")
def post_edit(request: HttpRequest, post_id: int, payload: PostEdit):  # type: ignore[no-untyped-def]
    fields = payload.dict(exclude_unset=True)
    post = actions.do_edit_post(member_of(request), _post(request, post_id, "post.edit"),
                                text=fields.get("text"), request=request,
                                scheduled_at=fields["scheduled_at"] if "scheduled_at" in fields else "unchanged")  # fmt: skip
    return _out(post)


@router.post("/posts/{post_id}/submit", response=PostOut, summary="Send for review")
def post_submit(request: HttpRequest, post_id: int):  # type: ignore[no-untyped-def]
    return _out(actions.do_submit(member_of(request), _post(request, post_id, "post.edit"), request))


@router.post("/posts/{post_id}/approve", response=PostOut, summary="Approve (then it is scheduled)")
def post_approve(request: HttpRequest, post_id: int):  # type: ignore[no-untyped-def]
    return _out(actions.do_approve(member_of(request), _post(request, post_id, "post.review"), request))


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

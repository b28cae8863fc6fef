"""API router of the inbox (/api/v1/inbox/…): list and read items, assign, reply, set the
status, add a note. A member sees the items of the accounts they may act for; another
enterprise's item is 404; a broken rule is 422 naming the field (core.errors)."""
# No `from __future__ import annotations` here: ninja reads the annotations at import time.

from datetime import datetime
from typing import Literal

from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from guanwei.core.apitools import ObjectBody, Pages, member_of
from guanwei.core.errors import ActionError
from guanwei.core.models import Member
from guanwei.core.permissions import require
from guanwei.inbox import actions, queries
from guanwei.inbox.models import CannedReply, Item

router = Router(tags=["inbox"])
MAX_ID = queries.MAX_ID


class ItemOut(Schema):
    id: int
    account: int = Field(..., alias="account_id")
    author: str
    kind: str
    excerpt: str
    category: str
    priority: str
    reasons: str
    sentiment: str
    status: str
    team: int | None = Field(None, alias="team_id")
    assignee: int | None = Field(None, alias="assignee_id")
    incident: int | None = Field(None, alias="incident_id")
    said_at: datetime
    created_at: datetime
    first_response_due: datetime | None
    resolution_due: datetime | None
    first_responded_at: datetime | None
    solved_at: datetime | None
    breached: bool

    @staticmethod
    def resolve_author(item) -> str:  # type: ignore[no-untyped-def]
        return item.author.screen_name if item.author else ""


class ItemFilters(Schema):
    """Strict: an unknown value is a 422 naming the field, never an empty list."""

    status: Literal["open", "pending", "solved", "all"] | None = None
    category: Literal["complaint", "inquiry", "praise", "suggestion", "spam", "other"] | None = None
    priority: Literal["urgent", "normal", "low"] | None = None
    account: int | None = Field(None, ge=1, le=MAX_ID)
    assignee: str | None = Field(None, pattern=r"^(mine|unassigned|[1-9][0-9]{0,17})$",
                                 description="mine, unassigned, or a member's id")  # fmt: skip
    breached: bool | None = None


class ReplyOut(Schema):
    id: int
    item: int = Field(..., alias="item_id")
    text: str
    via: str
    state: str
    error: str
    created_at: datetime
    sent_at: datetime | None


class NoteOut(Schema):
    id: int
    item: int = Field(..., alias="item_id")
    text: str
    created_at: datetime


class AssignIn(ObjectBody):
    assignee: int | None = Field(None, ge=1, le=MAX_ID, description="a member's id; null: nobody")


# Bodies whose fields have defaults: an empty object still reaches the item's lookup (another
# enterprise's item is 404 whatever the body); the action then names what is missing (422).


class ReplyIn(ObjectBody):
    text: str = Field("", max_length=5000)
    canned: int | None = Field(None, ge=1, le=MAX_ID, description="the canned reply used (counted)")


class StatusIn(ObjectBody):
    status: Literal["open", "pending", "solved"] | None = None


class NoteIn(ObjectBody):
    text: str = Field("", max_length=actions.MAX_NOTE)


def _replying(request: HttpRequest) -> Member:
    member = member_of(request)
    require(member, actions.REPLY)
    return member


def _item(request: HttpRequest, item_id: int) -> tuple[Member, Item]:
    member = member_of(request)
    return member, queries.item_for(member, item_id)


@router.get("/inbox/items", response=list[ItemOut], summary="Inbox items, newest first (open ones unless asked)")
@paginate(Pages)
def item_list(request: HttpRequest, filters: Query[ItemFilters]):  # type: ignore[no-untyped-def]
    member = _replying(request)
    params = QueryDict(mutable=True)
    for key, value in filters.dict(exclude_none=True).items():
        params[key] = ("1" if value else "") if isinstance(value, bool) else str(value)
    return queries.filtered(member, params).order_by("-said_at", "-pk")


@router.get("/inbox/items/{item_id}", response=ItemOut, summary="One inbox item")
def item_detail(request: HttpRequest, item_id: int):  # type: ignore[no-untyped-def]
    return _item(request, item_id)[1]


@router.post("/inbox/items/{item_id}/assign", response=ItemOut, summary="Give the item to a member (null: nobody)")
def item_assign(request: HttpRequest, item_id: int, payload: AssignIn):  # type: ignore[no-untyped-def]
    member, item = _item(request, item_id)
    assignee = None
    if payload.assignee is not None:
        assignee = queries.agents(member).filter(pk=payload.assignee).first()
        if assignee is None:
            raise ActionError(_("没有这个成员。"), "assignee")
    return actions.do_assign(member, item, assignee, request=request)


@router.post("/inbox/items/{item_id}/reply", response={201: ReplyOut},
             summary="Queue a reply (sent exactly once by the worker); 422 for a rule it breaks")  # fmt: skip
def item_reply(request: HttpRequest, item_id: int, payload: ReplyIn):  # type: ignore[no-untyped-def]
    member, item = _item(request, item_id)
    canned = None
    if payload.canned is not None:
        canned = CannedReply.objects.filter(enterprise_id=member.enterprise_id, pk=payload.canned).first()
        if canned is None:
            raise ActionError(_("没有这条快捷回复。"), "canned")
    return Status(201, actions.do_reply(member, item, payload.text, canned=canned, request=request))


@router.post("/inbox/items/{item_id}/status", response=ItemOut, summary="Set the status: open, pending, solved")
def item_status(request: HttpRequest, item_id: int, payload: StatusIn):  # type: ignore[no-untyped-def]
    member, item = _item(request, item_id)
    return actions.do_set_status(member, item, payload.status or "", request)


@router.post("/inbox/items/{item_id}/notes", response={201: NoteOut}, summary="Add an internal note (@name tells them)")
def item_note(request: HttpRequest, item_id: int, payload: NoteIn):  # type: ignore[no-untyped-def]
    member, item = _item(request, item_id)
    return Status(201, actions.do_add_note(member, item, payload.text, request))

"""API router for core: the enterprise and its members (read-only), with the page's checks."""

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, FilterSchema, Query, Router, Schema
from ninja.pagination import paginate

from guanwei.api.auth import member_of
from guanwei.api.pagination import Pages
from guanwei.core import queries
from guanwei.core.models import Member, Role
from guanwei.core.permissions import get_for, require

router = Router(tags=["enterprise"])


class EnterpriseOut(Schema):
    id: int
    name: str
    slug: str
    time_zone: str
    created_at: datetime


class MemberOut(Schema):
    id: int
    username: str = Field(..., alias="user.username")
    display_name: str
    role: Role
    is_active: bool
    is_limited_to_accounts: bool
    joined_at: datetime


class MemberFilter(FilterSchema):
    role: Role | None = None
    is_active: bool | None = None


@router.get("/enterprise", response=EnterpriseOut, summary="The caller's enterprise")
def enterprise(request: HttpRequest):  # type: ignore[no-untyped-def]
    member = member_of(request)
    require(member, "enterprise.view")
    return member.enterprise


@router.get("/members", response=list[MemberOut], summary="Members of the enterprise")
@paginate(Pages)
def members(request: HttpRequest, filters: Query[MemberFilter]):  # type: ignore[no-untyped-def]
    member = member_of(request)
    require(member, "member.view")
    # FilterSchema leaves out the fields the caller did not give (None).
    return filters.filter(queries.members_of(member))


@router.get("/members/{member_id}", response=MemberOut, summary="One member")
def member_detail(request: HttpRequest, member_id: int):  # type: ignore[no-untyped-def]
    return get_for(member_of(request), Member, member_id, "member.view")

"""API router for core: the enterprise and its members (read-only), and the outbound channels
(list, send a test message, follow its delivery), with the pages' checks."""

from datetime import datetime

from django.http import Http404, HttpRequest
from ninja import Field, FilterSchema, Query, Router, Schema, Status
from ninja.pagination import paginate

from guanwei.core import queries
from guanwei.core.actions import do_send_test_message
from guanwei.core.apitools import Pages, member_of
from guanwei.core.models import Channel, Delivery, Member, Role
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


class ChannelOut(Schema):
    id: int
    name: str
    kind: str
    address: str = Field(..., alias="shown_address", description="e-mail addresses, or the URL's host only")
    events: list[str]
    is_active: bool


class DeliveryOut(Schema):
    id: int
    channel_id: int
    event: str
    state: str
    attempts: int
    response_code: int | None
    outcome: str
    next_attempt_at: datetime | None
    created_at: datetime


@router.get("/channels", response=list[ChannelOut], summary="The enterprise's outbound channels", tags=["channels"])
@paginate(Pages)
def channel_list(request: HttpRequest):  # type: ignore[no-untyped-def]
    member = member_of(request)
    require(member, "channel.manage")
    return Channel.objects.for_member(member).order_by("name", "pk")


@router.post("/channels/{channel_id}/test", response={202: DeliveryOut}, tags=["channels"],
             summary="Send a test message through a channel (queued; the delivery's state follows)")  # fmt: skip
def channel_test(request: HttpRequest, channel_id: int):  # type: ignore[no-untyped-def]
    member = member_of(request)
    channel = get_for(member, Channel, channel_id, "channel.manage")
    return Status(202, do_send_test_message(member, channel, request))


@router.get("/channels/{channel_id}/deliveries/{delivery_id}", response=DeliveryOut, tags=["channels"],
            summary="One delivery and its attempts")  # fmt: skip
def delivery_detail(request: HttpRequest, channel_id: int, delivery_id: int):  # type: ignore[no-untyped-def]
    member = member_of(request)
    channel = get_for(member, Channel, channel_id, "channel.manage")
    delivery = channel.deliveries.filter(pk=delivery_id).first()
    if delivery is None:
        raise Http404(str(Delivery._meta.verbose_name))
    return delivery

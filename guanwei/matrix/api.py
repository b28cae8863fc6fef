"""API router for the account matrix: connections and official accounts (read-only). Secrets
(app secrets, account tokens) are never part of any response schema."""

from datetime import datetime

from django.http import HttpRequest
from ninja import FilterSchema, Query, Router, Schema
from ninja.pagination import paginate

from guanwei.api.auth import member_of
from guanwei.api.pagination import Pages
from guanwei.core.permissions import get_for, require
from guanwei.matrix.models import Account, Connection, Health, MatrixRole, PlatformKind

router = Router(tags=["matrix"])


class ConnectionOut(Schema):
    id: int
    name: str
    kind: PlatformKind
    base_url: str
    safe_domain: str
    created_at: datetime


class AccountOut(Schema):
    id: int
    connection_id: int
    platform_uid: str
    screen_name: str
    matrix_role: MatrixRole
    parent_id: int | None
    verified_type: int
    followers_count: int
    has_token: bool
    token_expires_at: datetime | None
    health: Health
    health_detail: str
    health_changed_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_has_token(obj: Account) -> bool:
        # Reading the column decrypts it; only whether one is stored leaves the server.
        return bool(obj.token)


class AccountFilter(FilterSchema):
    matrix_role: MatrixRole | None = None
    health: Health | None = None
    connection_id: int | None = None


@router.get("/connections", response=list[ConnectionOut], summary="Platform connections")
@paginate(Pages)
def connections(request: HttpRequest):  # type: ignore[no-untyped-def]
    member = member_of(request)
    require(member, "account.view")
    return Connection.objects.for_member(member).order_by("name", "pk")


@router.get("/connections/{connection_id}", response=ConnectionOut, summary="One connection")
def connection_detail(request: HttpRequest, connection_id: int):  # type: ignore[no-untyped-def]
    return get_for(member_of(request), Connection, connection_id, "account.view")


@router.get("/accounts", response=list[AccountOut], summary="Official accounts the caller may see")
@paginate(Pages)
def accounts(request: HttpRequest, filters: Query[AccountFilter]):  # type: ignore[no-untyped-def]
    member = member_of(request)
    require(member, "account.view")
    # FilterSchema leaves out the fields the caller did not give (None).
    return filters.filter(Account.objects.for_member(member).order_by("pk"))


@router.get("/accounts/{account_id}", response=AccountOut, summary="One official account")
def account_detail(request: HttpRequest, account_id: int):  # type: ignore[no-untyped-def]
    return get_for(member_of(request), Account, account_id, "account.view")

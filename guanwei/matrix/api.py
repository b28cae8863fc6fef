"""API router for the account matrix: connections and official accounts (read-only), and which
accounts a member may act for. Secrets (app secrets, account tokens) are never part of any
response schema."""

from datetime import datetime

from django.http import HttpRequest
from ninja import FilterSchema, Query, Router, Schema, Status
from ninja.pagination import paginate

from guanwei.core.apitools import Pages, member_of
from guanwei.core.models import Member
from guanwei.core.permissions import get_for, require
from guanwei.matrix import actions
from guanwei.matrix.models import (
    Account,
    AccountAccess,
    Connection,
    Health,
    MatrixRole,
    PlatformKind,
)

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
    require(member, "connection.view")
    return Connection.objects.for_member(member).order_by("name", "pk")


@router.get("/connections/{connection_id}", response=ConnectionOut, summary="One connection")
def connection_detail(request: HttpRequest, connection_id: int):  # type: ignore[no-untyped-def]
    return get_for(member_of(request), Connection, connection_id, "connection.view")


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


class AccountAccessIO(Schema):
    """Whether a member is limited to some accounts, and which (ignored while not limited)."""

    limited: bool
    account_ids: list[int]


def _access_of(target: Member) -> AccountAccessIO:
    ids = sorted(AccountAccess.objects.filter(member=target).values_list("account_id", flat=True))
    return AccountAccessIO(limited=target.is_limited_to_accounts, account_ids=ids)


@router.get("/members/{member_id}/accounts", response=AccountAccessIO,
            summary="The accounts a member may act for")  # fmt: skip
def member_accounts(request: HttpRequest, member_id: int):  # type: ignore[no-untyped-def]
    return _access_of(get_for(member_of(request), Member, member_id, "member.view"))


@router.put("/members/{member_id}/accounts", response={200: AccountAccessIO, 422: dict},
            summary="Limit a member to some accounts (or lift the limit)")  # fmt: skip
def set_member_accounts(request: HttpRequest, member_id: int, payload: AccountAccessIO):  # type: ignore[no-untyped-def]
    member = member_of(request)
    target = get_for(member, Member, member_id, "account.manage")
    wanted = set(payload.account_ids)
    accounts = list(Account.objects.for_member(member).filter(pk__in=wanted))
    unknown = sorted(wanted - {a.pk for a in accounts})
    if unknown:  # another enterprise's ids look exactly like ids that do not exist
        reason = f"no such accounts: {unknown[:20]}"
        return Status(422, {"detail": [{"field": "account_ids", "in": "body", "reason": reason}]})
    actions.do_set_account_access(member, target, accounts, limited=payload.limited, request=request)
    target.refresh_from_db()
    return Status(200, _access_of(target))

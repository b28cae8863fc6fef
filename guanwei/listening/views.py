"""Listening's pages: what is read for each account (streams, lag, coverage) and the latest
mentions; and the fans-service push receiver (public, signed)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from guanwei.core.links import absolute_url
from guanwei.core.lists import keyset_page
from guanwei.core.permissions import can, get_for, member_required
from guanwei.listening import pushes, queries
from guanwei.matrix.models import Account, Connection

VIEW = "account.view"


@member_required(VIEW)
def overview(request: HttpRequest) -> HttpResponse:
    member = request.member
    page = keyset_page(queries.mentions_of(member), request, per_page=30, order=("-received_at",))
    # Where each Weibo connection's fans service must push (set in the account's 开发模式).
    callbacks = (
        [(c, absolute_url(reverse("listening:push", args=[c.pk])))
         for c in Connection.objects.for_member(member).exclude(kind="mastodon").order_by("name")]
        if can(member, "connection.view") else []
    )  # fmt: skip
    return render(
        request, "listening/overview.html",
        {"streams": queries.streams_of(member), "page": page, "callbacks": callbacks},
    )  # fmt: skip


@member_required(VIEW)
def account_streams(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_for(request.member, Account, account_id, VIEW)
    page = keyset_page(
        queries.mentions_of(request.member, account_id=account.pk), request, per_page=30,
        order=("-received_at",),
    )  # fmt: skip
    return render(
        request, "listening/account.html",
        {"account": account, "streams": queries.streams_of(request.member, account.pk), "page": page},
    )  # fmt: skip


@csrf_exempt
@require_http_methods(["GET", "POST"])
def push(request: HttpRequest, connection_id: int) -> HttpResponse:
    """The fans-service receiver. Public: Weibo's signature (the connection's app secret) is the
    credential; an unknown connection is 404 like a bad signature is 403."""
    connection = get_object_or_404(Connection, pk=connection_id)
    return pushes.receive(request, connection)

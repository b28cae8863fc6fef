"""Listening's pages: what is read for each account (streams, lag, coverage) and the latest
mentions; imports of mention files; and the fans-service push receiver (public, signed)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from guanwei.core.errors import ActionError
from guanwei.core.links import absolute_url
from guanwei.core.lists import keyset_page
from guanwei.core.permissions import can, get_for, member_required
from guanwei.listening import imports, pushes, queries
from guanwei.listening.models import Import
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
        {"streams": queries.streams_of(member), "page": page, "callbacks": callbacks,
         "can_import": can(member, imports.RIGHT)},
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


@member_required(imports.RIGHT)
@require_http_methods(["GET", "POST"])
def import_list(request: HttpRequest) -> HttpResponse:
    """Files of mentions from vendors and crawlers: upload one, watch it load."""
    member = request.member
    if request.method == "POST":
        try:
            job = imports.do_start_import(member, request.FILES.get("file"), request=request)
        except ActionError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("已收到“%(name)s”，正在校验。") % {"name": job.name})
        return redirect("listening:imports")
    page = keyset_page(Import.objects.for_member(member), request, per_page=20, order=("-created_at",))
    return render(request, "listening/imports.html", {
        "page": page, "layouts": imports.LAYOUTS, "max_mb": imports.max_bytes() // 2**20,
    })  # fmt: skip


@member_required(imports.RIGHT)
@require_GET
def import_row(request: HttpRequest, import_id: int) -> HttpResponse:
    """One import's row (the list polls it while the import runs)."""
    job = get_for(request.member, Import, import_id, imports.RIGHT)
    return render(request, "listening/_import_row.html", {"job": job})

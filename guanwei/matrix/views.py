"""Pages of the matrix: parse, call an action or a query, render."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from guanwei.core import choosers
from guanwei.core.errors import ActionError, show_as_message, show_on_form
from guanwei.core.lists import keyset_page
from guanwei.core.models import Member
from guanwei.core.permissions import can, get_for, member_required
from guanwei.matrix import actions, queries
from guanwei.matrix.forms import (
    AccessForm,
    AccountForm,
    ConnectForm,
    ConnectionForm,
    account_label,
)
from guanwei.matrix.models import Account, AccountAccess, Connection, MatrixRole

VIEW, MANAGE = "account.view", "account.manage"


@member_required(VIEW)
def matrix_page(request: HttpRequest) -> HttpResponse:
    member = request.member
    expand = _int_param(request, "expand")
    tree = queries.matrix_tree(member, expand=expand)
    children_of = _int_param(request, "children_of")
    if children_of is not None:  # a folded branch being opened (htmx): just its children
        node = queries.find_node(tree, children_of)
        if node is None:
            raise Http404("account")
        node.folded = False
        queries.attach_budgets(node.children)
        return render(request, "matrix/_children.html", {"node": node})
    queries.attach_budgets(tree)
    return render(
        request,
        "matrix/matrix.html",
        {
            "tree": tree,
            "account_count": sum(n.size for n in tree),
            "connections": Connection.objects.for_member(member).order_by("name")
            if can(member, MANAGE)
            else [],
            "can_manage": can(member, MANAGE),
            "warnings": actions.matrix_warnings(member.enterprise_id)
            if can(member, MANAGE)
            else [],
            "roles": MatrixRole.choices,
        },
    )


def _int_param(request: HttpRequest, name: str) -> int | None:
    try:
        value = int(request.GET.get(name, ""))
    except ValueError:
        return None
    return value if 0 < value < 2**62 else None


# --- connections -----------------------------------------------------------------------------


@member_required("connection.view")
def connection_list(request: HttpRequest) -> HttpResponse:
    connections = (
        Connection.objects.for_member(request.member).order_by("name").prefetch_related("accounts")
    )
    return render(request, "matrix/connections.html", {"connections": connections})


@member_required(MANAGE)
def connection_new(request: HttpRequest) -> HttpResponse:
    return _connection_form(request, None)


@member_required(MANAGE)
def connection_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _connection_form(request, get_for(request.member, Connection, pk, MANAGE))


def _connection_form(request: HttpRequest, connection: Connection | None) -> HttpResponse:
    """Add (``connection`` None) or edit a connection with one form and one error path."""
    member = request.member
    instance = connection or Connection(enterprise=member.enterprise)
    form = ConnectionForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        data = {k: form.cleaned_data[k] for k in ConnectionForm.Meta.fields}
        secret = form.cleaned_data["new_secret"]
        try:
            if connection is None:
                saved = actions.do_create_connection(
                    member, app_secret=secret, request=request, **data
                )
                done = _("已添加平台连接“%(name)s”。")
            else:
                # the form wrote the cleaned values onto the instance; re-read to diff them
                saved = get_for(member, Connection, connection.pk, MANAGE)
                actions.do_update_connection(member, saved, new_secret=secret, request=request, **data)
                done = _("已保存平台连接“%(name)s”。")
        except ActionError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, done % {"name": saved.name})
            return redirect("matrix:connections")
    return render(request, "matrix/connection_form.html", {"form": form, "connection": connection})


# --- connecting an account ---------------------------------------------------------------


@member_required(MANAGE)
def connect_start(request: HttpRequest, pk: int) -> HttpResponse:
    member = request.member
    connection = get_for(member, Connection, pk, MANAGE)
    form = ConnectForm(request.POST or None, member=member)
    if request.method == "POST" and form.is_valid():
        try:
            url = actions.do_begin_connect(
                request,
                member,
                connection,
                matrix_role=form.cleaned_data["matrix_role"],
                parent=form.cleaned_data["parent"],
            )
        except ActionError as exc:  # e.g. a base URL the platform or the outbound policy refuses
            show_on_form(form, exc)
        else:
            return HttpResponseRedirect(url)
    return render(request, "matrix/connect.html", {"form": form, "connection": connection})


@require_POST
@member_required(MANAGE)
def account_reconnect(request: HttpRequest, pk: int) -> HttpResponse:
    member = request.member
    account = get_for(member, Account, pk, MANAGE)
    try:
        url = actions.do_begin_connect(request, member, account.connection, account=account)
    except ActionError as exc:
        show_as_message(request, exc)
        return redirect("matrix:account", pk=account.pk)
    return HttpResponseRedirect(url)


@member_required(MANAGE)
def connect_callback(request: HttpRequest, pk: int) -> HttpResponse:
    member = request.member
    connection = get_for(member, Connection, pk, MANAGE)
    q = request.GET
    try:
        result = actions.do_complete_connect(
            request,
            member,
            connection,
            code=q.get("code", ""),
            state=q.get("state", ""),
            error=q.get("error", "") or q.get("error_code", ""),
            error_description=q.get("error_description", ""),
        )
    except actions.ConnectError as exc:
        return render(
            request,
            "matrix/connect_failed.html",
            {"connection": connection, "message": exc.message, "account": exc.account},
            status=400,
        )
    account = result.account
    if result.created:
        messages.success(request, _("已连接账号 @%(name)s。") % {"name": account.screen_name})
    else:
        messages.success(request, _("已重新授权账号 @%(name)s。") % {"name": account.screen_name})
    for warning in result.warnings:
        messages.warning(request, warning)
    return redirect("matrix:account", pk=account.pk)


# --- accounts --------------------------------------------------------------------------------


@member_required(VIEW)
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    member = request.member
    account = get_for(member, Account, pk, VIEW)
    can_manage = can(member, MANAGE)
    form = None
    if can_manage:
        form = AccountForm(
            request.POST or None,
            member=member,
            account=account,
            initial={"matrix_role": account.matrix_role, "parent": account.parent_id},
        )
        if request.method == "POST" and form.is_valid():
            try:
                warnings = actions.do_update_account(
                    member,
                    account,
                    matrix_role=form.cleaned_data["matrix_role"],
                    parent=form.cleaned_data["parent"],
                    request=request,
                )
            except ActionError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("已保存。"))
                for warning in warnings:
                    messages.warning(request, warning)
                return redirect("matrix:account", pk=account.pk)
    elif request.method == "POST":
        return HttpResponse(status=403)
    children = Account.objects.for_member(member).filter(parent=account).order_by("screen_name")
    return render(
        request,
        "matrix/account.html",
        {"account": account, "form": form, "can_manage": can_manage, "children": children},
        status=400 if form is not None and form.errors else 200,
    )


@member_required(MANAGE)
def account_remove(request: HttpRequest, pk: int) -> HttpResponse:
    member = request.member
    account = get_for(member, Account, pk, MANAGE)
    if request.method == "POST":
        name = account.screen_name
        actions.do_remove_account(member, account, request=request)
        messages.success(request, _("已从矩阵移除 @%(name)s。") % {"name": name})
        return redirect("matrix:matrix")
    return render(request, "matrix/account_remove.html", {"account": account})


# --- who may act for which accounts -----------------------------------------------------------


@member_required(VIEW)
def account_choices(request: HttpRequest) -> HttpResponse:
    """<option>s for the account chooser (a parent account): at most 20 whose name matches."""
    return choosers.options(
        request,
        Account.objects.for_member(request.member).order_by("screen_name", "pk"),
        ("screen_name", "platform_uid"),
        label=account_label,
        empty_label=_("（无，作为顶层账号）"),
    )


@member_required(MANAGE)
def access_list(request: HttpRequest) -> HttpResponse:
    member = request.member
    members = Member.objects.for_member(member).filter(is_active=True)
    page = keyset_page(members, request, per_page=50, order=("-is_limited_to_accounts", "display_name"))
    grants: dict[int, list[str]] = {}
    for member_id, name in (
        AccountAccess.objects.for_member(member)
        .filter(member__in=list(page.items))
        .values_list("member_id", "account__screen_name")
    ):
        grants.setdefault(member_id, []).append(name)
    rows = [(m, sorted(grants.get(m.pk, []))) for m in page.items]
    return render(request, "matrix/access.html", {"rows": rows, "page": page})


@member_required(MANAGE)
def access_edit(request: HttpRequest, member_id: int) -> HttpResponse:
    member = request.member
    target = get_for(member, Member, member_id, MANAGE)
    current = Account.objects.for_member(member).filter(access__member=target)
    form = AccessForm(
        request.POST or None,
        member=member,
        initial={"accounts": list(current), "limited": target.is_limited_to_accounts},
    )
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_set_account_access(
                member,
                target,
                list(form.cleaned_data["accounts"]),
                limited=form.cleaned_data["limited"],
                request=request,
            )
        except ActionError as exc:
            show_on_form(form, exc)
        else:
            messages.success(
                request, _("已更新 %(name)s 可操作的账号。") % {"name": target.display_name}
            )
            return redirect("matrix:access")
    return render(request, "matrix/access_edit.html", {"form": form, "target": target})

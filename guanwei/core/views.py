"""Sign-in, members, invitations, the audit log and personal API tokens. Thin views: parse,
call an action (core.actions) or a query (core.queries), render."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guanwei.core import actions, choosers, clock, exports, queries, throttle
from guanwei.core.audit import client_ip
from guanwei.core.errors import ActionError, show_as_message, show_on_form
from guanwei.core.forms import (
    AcceptInvitationForm,
    AuditFilterForm,
    ChannelForm,
    InviteForm,
    LoginForm,
    MemberFilterForm,
    PasswordChangeForm,
    RoleForm,
    TokenForm,
)
from guanwei.core.links import absolute_url
from guanwei.core.lists import keyset_page
from guanwei.core.models import ApiToken, Channel, Export, Invitation, Member, Role
from guanwei.core.permissions import can, get_for, is_operator, member_required

PAGE_SIZE = 50
log = logging.getLogger("guanwei.auth")


# --- sign-in ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = ""
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        ip = client_ip(request)
        verdict = throttle.check(username, ip)
        if verdict.is_blocked:
            if verdict.is_new_burst:  # one audit entry per burst, not one per refused request
                actions.do_record_failed_login(username, "throttled", request)
            form.add_error(
                None,
                _("尝试次数过多，请 %(minutes)d 分钟后再试") % {"minutes": verdict.retry_after_minutes},
            )
            status = 429
            log.warning("login throttled ip=%s retry_after_s=%d", ip, verdict.retry_after_s)
        else:
            user = authenticate(request, username=username, password=form.cleaned_data["password"])
            member = getattr(user, "member", None) if user is not None else None
            if user is not None and member is not None and member.is_active:
                login(request, user)
                throttle.clear_username(username, ip)
                actions.do_record_login(member, request)
                return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
            if user is not None and member is None and is_operator(user):
                # The server operator, in no enterprise: no tenant's audit log to write to.
                login(request, user)
                throttle.clear_username(username, ip)
                log.info("login operator user=%s ip=%s", user.pk, ip)
                return redirect(next_url or "ops:status")
            throttle.record_failure(username, ip)
            log.info("login failed ip=%s", ip)
            actions.do_record_failed_login(username, "bad_credentials", request)
            # The same words whether or not the user exists.
            form.add_error(None, _("用户名或密码错误"))
    response = render(request, "core/login.html", {"form": form, "next": next_url}, status=status)
    if status == 429:
        response["Retry-After"] = str(verdict.retry_after_s)
    return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


@member_required()
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_change_password(
                request.member, form.cleaned_data["old_password"],
                form.cleaned_data["new_password1"], request,
            )
        except ActionError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("密码已修改"))
            return redirect("core:password_change")
    return render(request, "core/password_change.html", {"form": form})


# --- members and invitations -----------------------------------------------------------------


def _members_context(request: HttpRequest, invite_form: InviteForm | None = None) -> dict:
    member = request.member
    filters = MemberFilterForm(request.GET or None, auto_id="filter_%s")  # ids apart from the invite form
    qs = queries.members_of(member)
    if filters.is_valid():
        if filters.cleaned_data["q"]:
            q = filters.cleaned_data["q"]
            qs = qs.filter(Q(display_name__icontains=q) | Q(user__username__icontains=q))
        if filters.cleaned_data["role"]:
            qs = qs.filter(role=filters.cleaned_data["role"])
        if filters.cleaned_data["active"]:
            qs = qs.filter(is_active=filters.cleaned_data["active"] == "1")
    page = keyset_page(qs, request, per_page=PAGE_SIZE, order=("display_name",))
    pending = (
        Invitation.objects.for_member(member)
        .filter(accepted_at=None, revoked_at=None)
        .order_by("-created_at")[:50]
    )
    return {
        "filters": filters,
        "page": page,
        "invite_form": invite_form or InviteForm(),
        "pending": pending,
        "roles": Role.choices,
        "can_manage": can(member, "member.manage"),
        "now": clock.now(),
    }


@member_required("member.view")
def members(request: HttpRequest) -> HttpResponse:
    return render(request, "core/members.html", _members_context(request))


@member_required("member.manage")
@require_POST
def member_invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            issued = actions.do_invite_member(
                request.member, form.cleaned_data["email"], form.cleaned_data["role"], request
            )
        except ActionError as exc:
            show_on_form(form, exc)
        else:
            link = absolute_url(reverse("core:invite_accept", args=[issued.token]))
            # The link is shown on this response only; the database keeps just its hash.
            return render(
                request, "core/invitation_created.html",
                {"invitation": issued.invitation, "link": link},
            )
    return render(request, "core/members.html", _members_context(request, form), status=422)


def _member_action(request: HttpRequest, member_id: int, do, success: str) -> HttpResponse:  # type: ignore[no-untyped-def]
    """Find the colleague (404 if not ours), call `do(actor, target, request)`, report back."""
    target = get_for(request.member, Member, member_id, "member.manage")
    try:
        do(request.member, target, request)
    except ActionError as exc:
        show_as_message(request, exc)
    else:
        messages.success(request, success % {"name": target.display_name})
    return redirect("core:members")


@member_required("member.manage")
@require_POST
def member_role(request: HttpRequest, member_id: int) -> HttpResponse:
    form = RoleForm(request.POST)

    def change_role(actor: Member, target: Member, request: HttpRequest) -> None:
        if not form.is_valid():
            raise ActionError(_("角色：%(reason)s") % {"reason": "; ".join(form.errors["role"])})
        actions.do_change_role(actor, target, form.cleaned_data["role"], request)

    return _member_action(request, member_id, change_role, _("已更改 %(name)s 的角色"))


@member_required("member.manage")
@require_POST
def member_deactivate(request: HttpRequest, member_id: int) -> HttpResponse:
    return _member_action(request, member_id, actions.do_deactivate_member, _("已停用 %(name)s"))


@member_required("member.manage")
@require_POST
def member_reactivate(request: HttpRequest, member_id: int) -> HttpResponse:
    return _member_action(request, member_id, actions.do_reactivate_member, _("已重新启用 %(name)s"))


@member_required("member.manage")
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_for(request.member, Invitation, invitation_id, "member.manage")
    try:
        actions.do_revoke_invitation(request.member, invitation, request)
    except ActionError as exc:
        show_as_message(request, exc)
    else:
        messages.success(request, _("邀请已撤销"))
    return redirect("core:members")


@require_http_methods(["GET", "POST"])
def invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Open to anyone holding the link: the token itself is the credential."""
    invitation, state = actions.find_invitation(token)
    if state != actions.InvitationState.OPEN:
        status = 404 if state == actions.InvitationState.UNKNOWN else 410
        return render(
            request, "core/invitation_invalid.html",
            {"reason": actions.INVITATION_ERRORS[state]()}, status=status,
        )
    form = AcceptInvitationForm(request.POST or None, initial={"username": invitation.email.split("@")[0]})
    if request.method == "POST" and form.is_valid():
        try:
            member = actions.do_accept_invitation(
                token, form.cleaned_data["username"], form.cleaned_data["display_name"],
                form.cleaned_data["password1"], request,
            )
        except ActionError as exc:
            show_on_form(form, exc)
        else:
            login(request, member.user, backend="django.contrib.auth.backends.ModelBackend")
            actions.do_record_login(member, request)
            return redirect(resolve_url(settings.LOGIN_REDIRECT_URL))
    return render(request, "core/invite_accept.html", {"form": form, "invitation": invitation})


# --- audit log -------------------------------------------------------------------------------


def _audit_filter(request: HttpRequest) -> tuple[AuditFilterForm, object]:
    member = request.member
    actions_, types = queries.audit_choices(member)
    form = AuditFilterForm(request.GET or None, member=member, actions=actions_, object_types=types)
    filters = form.cleaned_data if form.is_valid() else {}
    return form, queries.audit_entries(member, filters)


@member_required("audit.view")
def member_choices(request: HttpRequest) -> HttpResponse:
    """<option>s for the member chooser: at most 20 members whose name matches ?q=."""
    return choosers.options(
        request,
        Member.objects.for_member(request.member).order_by("display_name", "pk"),
        ("display_name", "user__username"),
        label=lambda m: m.display_name,
        empty_label=_("全部"),
    )


@member_required("audit.view")
def audit_log(request: HttpRequest) -> HttpResponse:
    form, qs = _audit_filter(request)
    page = keyset_page(qs, request, per_page=PAGE_SIZE)  # the log only grows: no COUNT, no OFFSET
    status = 400 if form.is_bound and not form.is_valid() else 200  # the field errors say why
    return render(
        request, "core/audit.html", {"form": form, "page": page, "query": page.query}, status=status
    )


@member_required("audit.view")
@require_http_methods(["GET", "POST"])
def audit_csv(request: HttpRequest) -> HttpResponse:
    try:
        return exports.respond(request, "audit")
    except ActionError:
        form, _qs = _audit_filter(request)  # the same form shows the field errors
        return render(request, "core/audit.html", {"form": form, "page": None}, status=422)


# --- exports ---------------------------------------------------------------------------------


@member_required()
def export_list(request: HttpRequest) -> HttpResponse:
    """The member's own exports of the last day (they expire)."""
    mine = list(Export.objects.for_member(request.member).order_by("-created_at")[:50])
    for export in mine:
        export.kind_label = exports.kind_label(export.kind)
    return render(request, "core/exports.html", {"exports": mine})


@member_required()
def export_detail(request: HttpRequest, export_id: int) -> HttpResponse:
    """An export's progress; while it runs, htmx reloads the progress part every 2 s."""
    export = get_for(request.member, Export, export_id)
    context = {
        "export": export,
        "kind_label": exports.kind_label(export.kind),
        "downloadable": exports.downloadable(export),
        "error": exports.ERRORS.get(export.error, ""),
    }
    if request.htmx:
        return render(request, "core/_export_progress.html", context)
    return render(request, "core/export_detail.html", context)


@member_required()
def export_download(request: HttpRequest, export_id: int) -> HttpResponse:
    export = get_for(request.member, Export, export_id)
    if not exports.downloadable(export):
        raise Http404("export not ready, expired or no longer permitted")
    return FileResponse(
        exports.open_file(export),
        as_attachment=True,
        filename=exports.download_name(export),
        content_type="text/csv; charset=utf-8",
    )


# --- personal API tokens ---------------------------------------------------------------------


def _tokens_context(request: HttpRequest, form: TokenForm | None = None) -> dict:
    tokens = ApiToken.objects.for_member(request.member).order_by("revoked_at", "-created_at")
    return {"tokens": tokens, "form": form or TokenForm()}


@member_required("apitoken.manage")
def tokens(request: HttpRequest) -> HttpResponse:
    return render(request, "core/tokens.html", _tokens_context(request))


@member_required("apitoken.manage")
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            issued = actions.do_create_api_token(request.member, form.cleaned_data["name"], request)
        except ActionError as exc:
            show_on_form(form, exc)
        else:
            context = _tokens_context(request)
            context["issued"] = issued
            return render(request, "core/tokens.html", context)
    return render(request, "core/tokens.html", _tokens_context(request, form), status=422)


@member_required("apitoken.manage")
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    # A colleague's token is 404 here: ApiToken.objects.for_member holds only one's own.
    api_token = get_for(request.member, ApiToken, token_id, "apitoken.manage")
    actions.do_revoke_api_token(request.member, api_token, request)
    messages.success(request, _("令牌已撤销"))
    return redirect("core:tokens")


# --- outbound channels -----------------------------------------------------------------------


def _channel_data(form: ChannelForm, post) -> dict:  # type: ignore[no-untyped-def]
    return {**form.cleaned_data, "rotate_secret": post.get("rotate_secret") == "1"}


@member_required("channel.manage")
@require_http_methods(["GET", "POST"])
def channel_list(request: HttpRequest) -> HttpResponse:
    form = ChannelForm(request.POST or None, initial={"is_active": True, "bell_action": "channel.manage"})
    if request.method == "POST" and form.is_valid():
        try:
            saved = actions.do_save_channel(request.member, None, _channel_data(form, request.POST), request)
        except ActionError as exc:
            show_on_form(form, exc)
        else:
            if saved.webhook_secret:  # shown on this response only
                return render(request, "core/channel_secret.html", {"saved": saved})
            messages.success(request, _("已添加渠道“%(name)s”。") % {"name": saved.channel.name})
            return redirect("core:channel", saved.channel.pk)
    channels = Channel.objects.for_member(request.member).order_by("name")
    status = 422 if form.is_bound else 200
    return render(request, "core/channels.html", {"channels": channels, "form": form}, status=status)


@member_required("channel.manage")
@require_http_methods(["GET", "POST"])
def channel_detail(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_for(request.member, Channel, channel_id, "channel.manage")
    initial = {
        "name": channel.name, "kind": channel.kind, "events": ", ".join(channel.events),
        "bell_action": channel.bell_action, "is_active": channel.is_active,
        "url": channel.url if channel.kind == Channel.Kind.EMAIL else "",
        "has_url": bool(channel.url),
    }  # fmt: skip
    form = ChannelForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = actions.do_save_channel(request.member, channel, _channel_data(form, request.POST), request)
        except ActionError as exc:
            show_on_form(form, exc)
        else:
            if saved.webhook_secret:
                return render(request, "core/channel_secret.html", {"saved": saved})
            messages.success(request, _("已保存渠道“%(name)s”。") % {"name": saved.channel.name})
            return redirect("core:channel", channel.pk)
    deliveries = keyset_page(channel.deliveries.all(), request, per_page=30)
    status = 422 if form.is_bound else 200
    return render(
        request, "core/channel.html",
        {"channel": channel, "form": form, "page": deliveries}, status=status,
    )  # fmt: skip


@member_required("channel.manage")
@require_POST
def channel_test(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = get_for(request.member, Channel, channel_id, "channel.manage")
    try:
        actions.do_send_test_message(request.member, channel, request)
    except ActionError as exc:
        show_as_message(request, exc)
    else:
        messages.success(request, _("测试消息已排队发送，结果见下方的发送记录。"))
    return redirect("core:channel", channel.pk)

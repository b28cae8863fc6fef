"""The inbox's pages (服务策略): the agent's list (filters, bulk actions, refreshed by htmx every
15 s), one item (conversation, triage, SLA, assignment, status, reply with canned answers, notes,
escalation, the customer panel), the breached list, the reports, canned replies, and the teams
with their routing rules. Thin: queries read, actions decide; a refused reply or note comes back
with the typed text (422), nothing lost."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from guanwei.core import clock
from guanwei.core.errors import ActionError, show_as_message, show_on_form
from guanwei.core.exports import csv_lines
from guanwei.core.lists import keyset_page
from guanwei.core.models import Member
from guanwei.core.permissions import can, get_for, member_required
from guanwei.inbox import actions, queries, settings_actions
from guanwei.inbox.forms import CannedForm, RuleForm, TeamForm
from guanwei.inbox.models import (
    CannedReply,
    Category,
    Item,
    ItemStatus,
    Priority,
    RoutingRule,
    Team,
)
from guanwei.inbox.presence import PRESENCE_POLL_S, looking
from guanwei.matrix.models import Account

REPLY = actions.REPLY
MANAGE = settings_actions.MANAGE
MAX_REPLY_INPUT = 5001  # longer than any reply may be: the action says so, and the text is kept


# ------------------------------------------------------------------ the list


def _list_context(request: HttpRequest, *, selectable: bool = True) -> tuple[dict[str, Any], int]:
    member = request.member
    context: dict[str, Any] = {"params": request.GET, "query": request.GET.urlencode(), "selectable": selectable,
                               "page": None, "filter_error": ""}  # fmt: skip
    try:
        listed = queries.filtered(member, request.GET)
        context["page"] = keyset_page(listed, request, per_page=50, order=("-said_at",))
        queries.mark_overdue(context["page"].items)
    except ActionError as exc:
        # Said, with nothing listed: an unknown filter never quietly lists everything or nothing.
        context["filter_error"] = exc.message
        return context, 400
    return context, 200


def _choices(member: Member) -> dict[str, Any]:
    from guanwei.monitoring.models import Incident, IncidentState

    return {
        "statuses": ItemStatus.choices, "categories": Category.choices, "priorities": Priority.choices,
        "accounts": Account.objects.for_member(member).order_by("screen_name")[:200],
        "teams": Team.objects.filter(enterprise_id=member.enterprise_id).order_by("name"),
        "agents": queries.agents(member),
        "incidents": Incident.objects.filter(enterprise_id=member.enterprise_id).exclude(state=IncidentState.CLOSED)
        .order_by("-opened_at")[:50],
        "may_open_incident": can(member, "monitor.manage"),
    }  # fmt: skip


@member_required(REPLY)
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    context, status = _list_context(request)
    return render(request, "inbox/inbox.html", context | _choices(request.member), status=status)


@member_required(REPLY)
@require_GET
def item_rows(request: HttpRequest) -> HttpResponse:
    """The list's rows alone, for the htmx poll (the filters come along in the query string)."""
    context, status = _list_context(request, selectable=request.GET.get("selectable", "1") != "0")
    return render(request, "inbox/_rows.html", context, status=status)


@member_required(REPLY)
@require_GET
def breached(request: HttpRequest) -> HttpResponse:
    page = keyset_page(queries.breached(request.member), request, per_page=50, order=("-said_at",))
    queries.mark_overdue(page.items)
    return render(request, "inbox/breached.html", {"page": page, "selectable": False})


def _back(query: str) -> str:
    """The inbox with the filters the bulk form came from (only our own parameters survive)."""
    params = QueryDict(query[:2000], mutable=True)
    kept = QueryDict(mutable=True)
    for key in (*queries.FILTERS, "before", "after"):
        if params.get(key):
            kept[key] = params.get(key)
    return reverse("inbox:inbox") + (f"?{kept.urlencode()}" if kept else "")


def _incident_choice(member: Member, value: str) -> Any:
    """The open incident chosen (None: open a new one — for those who may)."""
    from guanwei.monitoring.models import Incident, IncidentState

    if not value:
        if not can(member, "monitor.manage"):
            raise ActionError(_("请选择一个已开启的事件；开启新事件需要舆情/公关权限。"), "incident")
        return None
    pk = queries.as_id(value)
    found = Incident.objects.filter(enterprise_id=member.enterprise_id, pk=pk).exclude(state=IncidentState.CLOSED).first() if pk else None
    if found is None:
        raise ActionError(_("没有这个事件。"), "incident")
    return found


@member_required(REPLY)
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Bulk actions on the checked items: set a status, or escalate them to PR."""
    member = request.member
    ids = [pk for value in request.POST.getlist("items")[:200] if (pk := queries.as_id(value))]
    items = list(queries.visible(member).filter(pk__in=ids).select_related("account", "team"))
    back = _back(request.POST.get("query", ""))
    try:
        if not items:
            raise ActionError(_("请选择工单。"), "items")
        action = request.POST.get("action", "")
        if action == "status":
            status = request.POST.get("status", "")
            if status not in ItemStatus.values:
                raise ActionError(_("没有这个状态。"), "status")
            done = actions.do_bulk_status(member, items, status, request)
            messages.success(request, _("已更新 %(n)d 条工单。") % {"n": done})
        elif action == "escalate":
            incident = _incident_choice(member, request.POST.get("incident", ""))
            incident = actions.do_escalate(member, items, incident=incident, title=request.POST.get("title", "")[:120],
                                           request=request)  # fmt: skip
            messages.success(request, _("已升级到事件“%(title)s”。") % {"title": incident.title})
        else:
            raise ActionError(_("请选择操作。"), "action")
    except ActionError as exc:
        show_as_message(request, exc)
    return redirect(back)


# ------------------------------------------------------------------ one item


def _assignee(member: Member, value: str) -> Member | None:
    if not value:
        return None
    pk = queries.as_id(value)
    found = queries.agents(member).filter(pk=pk).first() if pk else None
    if found is None:
        raise ActionError(_("没有这个成员。"), "assignee")
    return found


def _take(request: HttpRequest, item: Item) -> None:
    actions.do_take(request.member, item, request)
    messages.success(request, _("这条工单由你处理。"))


def _assign(request: HttpRequest, item: Item) -> None:
    actions.do_assign(request.member, item, _assignee(request.member, request.POST.get("assignee", "")), request=request)
    messages.success(request, _("已分配。"))


def _status(request: HttpRequest, item: Item) -> None:
    actions.do_set_status(request.member, item, request.POST.get("status", "")[:20], request)
    messages.success(request, _("状态已更新。"))


def _note(request: HttpRequest, item: Item) -> None:
    actions.do_add_note(request.member, item, request.POST.get("text", "")[: actions.MAX_NOTE + 1], request)
    messages.success(request, _("已添加备注。"))


def _reply(request: HttpRequest, item: Item) -> None:
    member = request.member
    canned_id = queries.as_id(request.POST.get("canned", ""))
    canned = CannedReply.objects.filter(enterprise_id=member.enterprise_id, pk=canned_id).first() if canned_id else None
    reply = actions.do_reply(member, item, request.POST.get("text", "")[:MAX_REPLY_INPUT], canned=canned, request=request)
    if reply.state == "in_review":
        messages.success(request, _("这类工单的回复须经审核：已送审，批准后发出。"))
    else:
        messages.success(request, _("回复已排队，稍后发出。"))


def _review(request: HttpRequest, item: Item) -> None:
    reply = item.replies.filter(pk=queries.as_id(request.POST.get("reply", "")) or 0).first()
    if reply is None:
        raise Http404("reply")
    approve = request.POST.get("verdict") == "approve"
    actions.do_review_reply(request.member, reply, approve=approve, comment=request.POST.get("comment", "")[:300],
                            request=request)  # fmt: skip
    messages.success(request, _("已批准，回复将发出。") if approve else _("已退回给撰写人。"))


def _customer(request: HttpRequest, item: Item) -> None:
    actions.do_set_customer_note(request.member, item, tags=request.POST.get("tags", "")[:400],
                                 note=request.POST.get("note", "")[: actions.MAX_NOTE + 1], request=request)  # fmt: skip
    messages.success(request, _("客户信息已保存。"))


def _spam(request: HttpRequest, item: Item) -> None:
    actions.do_hide_spam(request.member, item, request)
    messages.success(request, _("已标为垃圾评论并解决。微博接口只能删除自己的评论：请在微博客户端删除这条评论。"))


def _escalate(request: HttpRequest, item: Item) -> None:
    incident = _incident_choice(request.member, request.POST.get("incident", ""))
    incident = actions.do_escalate(request.member, [item], incident=incident, title=request.POST.get("title", "")[:120],
                                   request=request)  # fmt: skip
    messages.success(request, _("已升级到事件“%(title)s”。") % {"title": incident.title})


ITEM_ACTIONS: dict[str, Callable[[HttpRequest, Item], None]] = {
    "take": _take, "assign": _assign, "status": _status, "note": _note, "reply": _reply, "escalate": _escalate,
    "review": _review, "spam": _spam, "customer": _customer,
}  # fmt: skip
KEEP_TEXT = {"reply", "note"}  # refused: the page again with the typed text and the reason


@member_required(REPLY)
@require_http_methods(["GET", "POST"])
def item(request: HttpRequest, item_id: int) -> HttpResponse:
    current = queries.item_for(request.member, item_id)
    if request.method == "POST":
        action = request.POST.get("action", "")
        handler = ITEM_ACTIONS.get(action)
        if handler is None:
            raise Http404("action")
        try:
            handler(request, current)
        except ActionError as exc:
            if action in KEEP_TEXT:
                typed = request.POST.get("text", "")[:MAX_REPLY_INPUT]
                return _item_page(request, current, errors={action: exc.message}, typed={action: typed}, status=422)
            show_as_message(request, exc)
        return redirect("inbox:item", current.pk)
    return _item_page(request, current)


@member_required(REPLY)
@require_GET
def presence(request: HttpRequest, item_id: int) -> HttpResponse:
    """Who else is looking at the item (htmx, every PRESENCE_POLL_S)."""
    current = queries.item_for(request.member, item_id)
    return render(request, "inbox/_presence.html", {"item": current, "others": looking(current.pk, request.member),
                                                    "poll_s": PRESENCE_POLL_S})  # fmt: skip


def _prefill(request: HttpRequest, item: Item) -> tuple[str, CannedReply | None]:
    """?canned=<id>&order=<no>: the canned reply's text with its variables filled in."""
    canned_id = queries.as_id(request.GET.get("canned", ""))
    if not canned_id:
        return "", None
    canned = CannedReply.objects.filter(enterprise_id=item.enterprise_id, pk=canned_id).first()
    if canned is None:
        return "", None
    order = request.GET.get("order", "").replace("\x00", "")[:40]
    return actions.fill(canned.text, item, {"order": order} if order else {}), canned


def _item_page(request: HttpRequest, item: Item, *, errors: dict[str, str] | None = None,
               typed: dict[str, str] | None = None, status: int = 200) -> HttpResponse:  # fmt: skip
    member = request.member
    errors, typed = errors or {}, typed or {}
    text, canned = _prefill(request, item)
    left = actions.dm_window_left(item)
    holder = item.assignee if item.assignee_id and item.assignee_id != member.pk else None
    return render(request, "inbox/item.html", {
        "item": item, "conversation": queries.conversation(item), "customer": queries.customer(member, item),
        "reasons": [r for r in item.reasons.split(",") if r], "overdue": queries.is_overdue(item),
        "holder": holder, "mine": item.assignee_id == member.pk,
        "replies": item.replies.select_related("member").order_by("-created_at")[:50],
        "notes": item.notes.select_related("member").order_by("-created_at")[:100],
        "canned_list": CannedReply.objects.filter(enterprise_id=member.enterprise_id).order_by("title")[:200],
        "canned": canned, "order": request.GET.get("order", "")[:40],
        "reply_text": typed.get("reply", text), "note_text": typed.get("note", ""), "errors": errors,
        "dm_left": left, "dm_closed": left is not None and left <= timedelta(0),
        "dm_hours": int(left.total_seconds() // 3600) if left is not None and left > timedelta(0) else 0,
        "dm_minutes": int(left.total_seconds() % 3600 // 60) if left is not None and left > timedelta(0) else 0,
        "other_statuses": [s for s in ItemStatus.choices if s[0] != item.status],
        "may_approve": can(member, actions.APPROVE),
        "others": looking(item.pk, member), "poll_s": PRESENCE_POLL_S,
    } | _choices(member), status=status)  # fmt: skip


# ------------------------------------------------------------------ reports


@member_required(REPLY)
@require_GET
def reports(request: HttpRequest) -> HttpResponse:
    data = queries.report(request.member, request.GET.get("period", ""))
    if request.GET.get("format") == "csv":
        lines = csv_lines(queries.CSV_HEADER, queries.csv_rows(data["rows"]))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        stamp = clock.now().strftime("%Y%m%d")
        response["Content-Disposition"] = f'attachment; filename="inbox-{data["period"]}-{stamp}.csv"'
        return response
    data["queue_chart"] = json.dumps({
        "kind": "volume", "labels": [f"{hour:02d}:00" for hour, _n in data["queue"]], "axis": _("工单数"), "marks": [],
        "series": [{"key": "ours", "name": _("仍待处理"), "data": [n for _hour, n in data["queue"]]}],
    }, ensure_ascii=False)  # web/charts.js draws it; the table below holds the same numbers
    return render(request, "inbox/reports.html", data)


# ------------------------------------------------------------------ canned replies


@member_required(REPLY)
@require_http_methods(["GET", "POST"])
def canned(request: HttpRequest) -> HttpResponse:
    member = request.member
    form = CannedForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            settings_actions.do_save_canned(member, None, title=data["title"], text=data["text"],
                                            category=data["category"], request=request)  # fmt: skip
        except ActionError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("已保存快捷回复。"))
            return redirect("inbox:canned")
    found = CannedReply.objects.filter(enterprise_id=member.enterprise_id)
    q = request.GET.get("q", "").replace("\x00", "").strip()[:60]
    if q:
        found = found.filter(Q(title__icontains=q) | Q(text__icontains=q))
    page = keyset_page(found, request, per_page=50, order=("title",))
    return render(request, "inbox/canned.html", {"form": form, "page": page, "q": q,
                                                 "categories": dict(Category.choices)},
                  status=422 if form.is_bound else 200)  # fmt: skip


@member_required(REPLY)
@require_POST
def canned_delete(request: HttpRequest, canned_id: int) -> HttpResponse:
    found = get_for(request.member, CannedReply, canned_id, REPLY)
    settings_actions.do_delete_canned(request.member, found, request)
    messages.success(request, _("已删除快捷回复“%(name)s”。") % {"name": found.title})
    return redirect("inbox:canned")


# ------------------------------------------------------------------ teams and routing rules


def _team_initial(team: Team) -> dict[str, Any]:
    initial: dict[str, Any] = {"name": team.name, "hours": team.hours, "always_open": team.always_open,
                               "china_holidays": team.china_holidays, "assign_mode": team.assign_mode,
                               "max_open_per_agent": team.max_open_per_agent, "members": list(team.members.all())}  # fmt: skip
    for priority in Priority.values:
        initial[f"first_{priority}"] = team.first_response_min.get(priority)
        initial[f"resolve_{priority}"] = team.resolution_min.get(priority)
    return initial


def _save_team(request: HttpRequest, team: Team | None, form: TeamForm) -> Team | None:
    data = form.cleaned_data
    try:
        return settings_actions.do_save_team(
            request.member, team, name=data["name"], hours=data["hours"], always_open=data["always_open"],
            china_holidays=data["china_holidays"], first_response_min=form.minutes("first"),
            resolution_min=form.minutes("resolve"), assign_mode=data["assign_mode"],
            max_open_per_agent=data["max_open_per_agent"], members=list(data["members"]), request=request,
        )  # fmt: skip
    except ActionError as exc:
        show_on_form(form, exc)
        return None


def _save_rule(request: HttpRequest, rule: RoutingRule | None, form: RuleForm) -> RoutingRule | None:
    data = form.cleaned_data
    try:
        return settings_actions.do_save_rule(
            request.member, rule, name=data["name"], team=data["team"], position=data["position"],
            account=data["account"], category=data["category"], text=data["rule"],
            verified_only=data["verified_only"], urgent_only=data["urgent_only"], request=request,
        )  # fmt: skip
    except ActionError as exc:
        show_on_form(form, exc)
        return None


@member_required(MANAGE)
@require_http_methods(["GET", "POST"])
def teams(request: HttpRequest) -> HttpResponse:
    member = request.member
    which = request.POST.get("form", "")
    team_form = TeamForm(request.POST if which == "team" else None, agents=queries.agents(member))
    rule_form = RuleForm(request.POST if which == "rule" else None, member=member)
    if request.method == "POST":
        if which == "team" and team_form.is_valid() and _save_team(request, None, team_form):
            messages.success(request, _("已保存客服组。"))
            return redirect("inbox:teams")
        if which == "rule" and rule_form.is_valid() and _save_rule(request, None, rule_form):
            messages.success(request, _("已保存分派规则。"))
            return redirect("inbox:teams")
    return render(request, "inbox/teams.html", {
        "teams": Team.objects.filter(enterprise_id=member.enterprise_id).prefetch_related("members").order_by("name"),
        "rules": RoutingRule.objects.filter(enterprise_id=member.enterprise_id).select_related("team", "account"),
        "team_form": team_form, "rule_form": rule_form, "categories": dict(Category.choices),
    }, status=422 if request.method == "POST" else 200)  # fmt: skip


@member_required(MANAGE)
@require_http_methods(["GET", "POST"])
def team_edit(request: HttpRequest, team_id: int) -> HttpResponse:
    team = get_for(request.member, Team, team_id, MANAGE)
    form = TeamForm(request.POST or None, initial=_team_initial(team), agents=queries.agents(request.member))
    if request.method == "POST" and form.is_valid() and _save_team(request, team, form):
        messages.success(request, _("已保存客服组。"))
        return redirect("inbox:teams")
    return render(request, "inbox/team_edit.html", {"team": team, "form": form},
                  status=422 if form.is_bound else 200)  # fmt: skip


@member_required(MANAGE)
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_for(request.member, RoutingRule, rule_id, MANAGE)
    if request.method == "POST" and request.POST.get("action") == "delete":
        settings_actions.do_delete_rule(request.member, rule, request)
        messages.success(request, _("已删除分派规则“%(name)s”。") % {"name": rule.name})
        return redirect("inbox:teams")
    initial = {"name": rule.name, "position": rule.position, "team": rule.team, "account": rule.account,
               "category": rule.category, "rule": rule.rule, "verified_only": rule.verified_only,
               "urgent_only": rule.urgent_only}  # fmt: skip
    form = RuleForm(request.POST or None, initial=initial, member=request.member)
    if request.method == "POST" and form.is_valid() and _save_rule(request, rule, form):
        messages.success(request, _("已保存分派规则。"))
        return redirect("inbox:teams")
    return render(request, "inbox/rule_edit.html", {"rule": rule, "form": form},
                  status=422 if form.is_bound else 200)  # fmt: skip

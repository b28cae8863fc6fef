"""Monitoring's pages: the monitors by group with their last 24 hours, a monitor's dashboard
(volume and sentiment over time with its alerts, emotions, top terms, posts, voices and authors,
the matched mentions with filters), share of voice, the incident room (its timeline with our
statements, key spreaders), the editor with live syntax errors and a preview on the last 7 days.
Thin: forms parse, actions decide, queries read. Charts are drawn by web/charts.js (ECharts) from
the JSON in a `data-chart` attribute; the SVG bars and tables stay for readers without them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.db.models import Case, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from guanwei.core import clock
from guanwei.core.errors import ActionError, show_on_form
from guanwei.core.lists import keyset_page
from guanwei.core.permissions import can, get_for, member_required
from guanwei.listening.models import Mention, Stream, StreamKind
from guanwei.matrix.models import Account, MatrixRole
from guanwei.monitoring import actions, hotsearch, matching, queries, searches
from guanwei.monitoring.forms import MonitorForm
from guanwei.monitoring.models import EMOTIONS, Monitor, MonitorGroup

MANAGE = actions.MANAGE
# Offered by the region filter (Weibo's locations start with a province, "海外" or "其他"; any
# other words can be typed).
REGIONS = ("北京", "天津", "上海", "重庆", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽",
           "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "四川", "贵州", "云南", "西藏", "陕西",
           "甘肃", "青海", "宁夏", "新疆", "台湾", "香港", "澳门", "海外", "其他")  # fmt: skip


def _monitor(request: HttpRequest, monitor_id: int) -> Monitor:
    return get_for(request.member, Monitor, monitor_id, MANAGE)


def _searching(member_enterprise_id: int) -> bool:
    """Does any account of the enterprise search the platform (a commercial contract)?"""
    return Stream.objects.filter(enterprise_id=member_enterprise_id, kind=StreamKind.SEARCH, is_active=True).exists()


def _bars(rows: list[dict], marks: set | None = None) -> tuple[list[dict], int]:
    """A series as stacked SVG bars (positive, neutral, negative from the bottom; 100 units high),
    with the hours in `marks` flagged (our statements). Returns (bars, peak volume)."""
    peak = max((r["volume"] for r in rows), default=0) or 1
    bars = []
    for r in rows:
        pos, neu, neg = (100 * r[k] / peak for k in ("positive", "neutral", "negative"))
        bars.append({**r, "pos": (100 - pos, pos), "neu": (100 - pos - neu, neu), "neg": (100 - pos - neu - neg, neg),
                     "statement": bool(marks) and r["at"] in marks})  # fmt: skip
    return bars, peak


def _label(at: datetime, bucket: str) -> str:
    return at.strftime("%m-%d") if bucket == "day" else at.strftime("%m-%d %H:%M")


def _sentiment_names() -> dict[str, str]:
    return {"positive": _("正面"), "neutral": _("中性"), "negative": _("负面")}


def _volume_chart(rows: list[dict], bucket: str, marks: dict[datetime, list[dict]], *, negative_line: bool = False,
                  ranks: list[dict] | None = None) -> str:  # fmt: skip
    """The chart of a series (web/charts.js "volume"): volume stacked by sentiment, the buckets
    in `marks` flagged (alerts, our statements), with `negative_line` the negative share, and
    with `ranks` hot-search ranks on their own axis (1 at the top)."""
    names = _sentiment_names()
    chart: dict[str, Any] = {
        "kind": "volume",
        "labels": [_label(r["at"], bucket) for r in rows],
        "axis": _("声量"),
        "series": [{"key": k, "name": names[k], "data": [r[k] for r in rows]} for k in ("positive", "neutral", "negative")],
        "marks": [{"at": _label(at, bucket), **mark} for at, found in sorted(marks.items()) for mark in found
                  if rows and rows[0]["at"] <= at <= rows[-1]["at"]],
    }  # fmt: skip
    if negative_line:
        chart["line"] = {"name": _("负面占比"),
                         "data": [round(r["negative"] / r["volume"], 3) if r["volume"] else None for r in rows]}  # fmt: skip
    if ranks:
        chart["ranks"] = {"axis": _("热搜排名"), "series": ranks}
    return json.dumps(chart, ensure_ascii=False)


def _rank_lines(hot: list[dict], rows: list[dict], bucket: str, tz: ZoneInfo, most: int = 3) -> list[dict]:
    """The hot-search ranks of the monitor's best titles per bucket of the volume chart (the
    best rank a title held in the bucket; none where it was off the board)."""
    where = {r["at"]: i for i, r in enumerate(rows)}
    lines = []
    for row in hot[:most]:
        data: list[int | None] = [None] * len(rows)
        for at, rank in row["ranks"]:
            i = where.get(queries.TRUNC_PY[bucket](at.astimezone(tz).replace(tzinfo=None)))
            if i is not None and (data[i] is None or rank < data[i]):
                data[i] = rank
        if any(v is not None for v in data):
            lines.append({"name": f"#{row['hit'].title}#", "data": data})
    return lines


def _alert_marks(monitor: Monitor, since: datetime, bucket: str, tz: ZoneInfo) -> dict[datetime, list[dict]]:
    """The monitor's alerts of the period by the bucket their window ended in (at most 50)."""
    marks: dict[datetime, list[dict]] = {}
    for alert in monitor.alerts.filter(window_end__gte=since).order_by("window_end")[:50]:
        at = queries.TRUNC_PY[bucket](alert.window_end.astimezone(tz).replace(tzinfo=None))
        detail = _("%(kind)s · 严重度 %(n)d：%(reason)s") % {"kind": alert.get_kind_display(), "n": alert.severity,
                                                           "reason": alert.reason}  # fmt: skip
        marks.setdefault(at, []).append({"kind": "alert", "label": pgettext("chart mark", "预警"), "detail": detail})
    return marks


@member_required(MANAGE)
@require_GET
def monitors(request: HttpRequest) -> HttpResponse:
    member = request.member
    rows = list(Monitor.objects.filter(enterprise_id=member.enterprise_id).order_by("group", "name"))
    since = clock.now() - queries.PERIODS["24h"][0]
    totals = {key[0]: row for key, row in queries.counted(since, where={"monitor__in": rows}, by=("monitor_id",),
                                                          fields=("volume", "negative")).items()}  # fmt: skip
    labels = dict(MonitorGroup.choices)
    groups: dict[str, list] = {}
    for monitor in rows:
        t = totals.get(monitor.pk, {})
        monitor.day_volume = t.get("volume") or 0
        monitor.day_negative = (t.get("negative") or 0) / monitor.day_volume if monitor.day_volume else 0
        groups.setdefault(labels[monitor.group], []).append(monitor)
    return render(request, "monitoring/monitors.html", {"groups": groups, "searching": _searching(member.enterprise_id)})


@member_required(MANAGE)
@require_http_methods(["GET", "POST"])
def monitor_edit(request: HttpRequest, monitor_id: int | None = None) -> HttpResponse:
    member = request.member
    monitor = _monitor(request, monitor_id) if monitor_id else None
    initial = {"name": monitor.name, "group": monitor.group, "rule": monitor.rule, "is_active": monitor.is_active} if monitor else {}
    form = MonitorForm(request.POST or None, initial=initial or {"is_active": True})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if monitor is None:
                monitor = actions.do_create_monitor(member, name=data["name"], group=data["group"], rule=data["rule"],
                                                    request=request)  # fmt: skip
            else:
                actions.do_change_monitor(member, monitor, name=data["name"], group=data["group"], rule=data["rule"],
                                          is_active=data["is_active"], request=request)  # fmt: skip
        except ActionError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("已保存。最近 7 天的提及正在按新规则重新匹配。"))
            return redirect("monitoring:monitor", monitor.pk)
    status = 422 if form.is_bound else 200
    return render(request, "monitoring/edit.html", {"form": form, "monitor": monitor}, status=status)


@member_required(MANAGE)
@require_POST
def check(request: HttpRequest) -> HttpResponse:
    """Live syntax check of a rule (htmx): the error with its position, or the warnings; with
    `preview`, what it would have matched in the last 7 days."""
    rule = request.POST.get("rule", "")[: actions.MAX_RULE + 1]
    context: dict = {"rule": rule}
    try:
        context["warnings"] = actions.check_rule(rule)
    except ActionError as exc:
        context["error"] = exc.message
        position = exc.position or 0
        context["before"], context["at"], context["after"] = rule[:position], rule[position : position + 1], rule[position + 1 : position + 40]
    else:
        if request.POST.get("preview") or request.GET.get("preview"):
            context["preview"] = matching.preview(request.member.enterprise_id, rule)
    return render(request, "monitoring/_check.html", context)


@member_required(MANAGE)
@require_POST
def monitor_delete(request: HttpRequest, monitor_id: int) -> HttpResponse:
    monitor = _monitor(request, monitor_id)
    actions.do_delete_monitor(request.member, monitor, request)
    messages.success(request, _("已删除监控“%(name)s”。") % {"name": monitor.name})
    return redirect("monitoring:monitors")


@member_required(MANAGE)
@require_GET
def monitor_detail(request: HttpRequest, monitor_id: int) -> HttpResponse:
    member = request.member
    monitor = _monitor(request, monitor_id)
    period, since, bucket = queries.period_of(request.GET.get("period", ""))
    tz = ZoneInfo(member.enterprise.time_zone)
    rows = queries.series(monitor, since, bucket, tz)
    bars, peak = _bars(rows)
    summary = queries.summary(monitor, since)
    filtering = any(request.GET.get(f, "").strip() for f in queries.FILTERS)
    page, filtered, filter_error, status = None, None, "", 200
    params = request.GET.copy()
    params["period"] = period  # the period switch's own value: an unknown one is the default
    try:
        listed = queries.matches(member, monitor, params)
        page = keyset_page(listed, request, per_page=20, order=("-created_at",))
        if filtering:
            filtered = queries.filtered_count(listed)
    except ActionError as exc:
        # Said, with nothing listed: an unknown filter never quietly lists everything or nothing.
        filter_error, status = exc.message, 400
    emotions_total = sum(n for _e, n in summary.emotions) or 1
    emotion_labels = list(zip(EMOTIONS, [_("喜悦"), _("愤怒"), _("悲伤"), _("恐惧"), _("惊讶"), _("平静")], strict=True))
    names = dict(emotion_labels)
    hot = hotsearch.hits_for(monitor, since)
    emotion_chart = json.dumps({"kind": "emotions", "items": [{"key": e, "name": names[e], "value": n}
                                                             for e, n in summary.emotions]}, ensure_ascii=False)  # fmt: skip
    return render(request, "monitoring/monitor.html", {
        "monitor": monitor, "period": period, "periods": list(queries.PERIODS), "bucket": bucket, "bars": bars,
        "peak": peak, "summary": summary, "emotions": [(e, n, 100 * n / emotions_total) for e, n in summary.emotions],
        "top_posts": queries.top_posts(monitor, since), "top_voices": queries.top_voices(monitor, since),
        "top_authors": queries.top_authors(monitor, since), "page": page, "params": request.GET,
        "emotion_labels": emotion_labels, "coverage": searches.coverage(monitor),
        "alerts": monitor.alerts.order_by("-created_at")[:5],
        "hot_search": hot,
        "groups": dict(MonitorGroup.choices),
        "volume_chart": _volume_chart(rows, bucket, _alert_marks(monitor, since, bucket, tz),
                                      ranks=_rank_lines(hot, rows, bucket, tz)),
        "emotion_chart": emotion_chart, "top_terms": queries.top_terms(monitor, since, period, limit=20),
        "term_sample": queries.TERM_SAMPLE, "filtering": filtering, "filtered": filtered,
        "filter_error": filter_error, "sources": Mention.Source.choices, "regions": REGIONS,
    }, status=status)  # fmt: skip


@member_required(MANAGE)
@require_GET
def share(request: HttpRequest) -> HttpResponse:
    """Share of voice: each monitor's volume in the period, us against competitors, in total and
    over time."""
    member = request.member
    period, since, bucket = queries.period_of(request.GET.get("period", "7d") or "7d")
    data = queries.share_of_voice(member.enterprise_id, since)
    tz = ZoneInfo(member.enterprise.time_zone)
    over_time = queries.share_series(member.enterprise_id, since, bucket, tz)
    return render(request, "monitoring/share.html", {**data, "period": period, "periods": list(queries.PERIODS),
                                                      "groups": dict(MonitorGroup.choices), "bucket": bucket,
                                                      "over_time": over_time, "ring_chart": _ring_chart(data),
                                                      "share_chart": _share_chart(over_time, bucket)})  # fmt: skip


def _ring_chart(data: dict[str, Any]) -> str:
    """web/charts.js "ring": us against competitors inside, the monitors' volumes around it (the
    ten largest; the rest of each side as one sector)."""
    ours, theirs = _("我们"), _("竞品")
    rows = sorted((r for r in data["rows"] if r["volume"]), key=lambda r: (r["monitor"].group == "competitor", -r["volume"]))
    outer = []
    for side, label in (("ours", _("其他（我们）")), ("theirs", _("其他（竞品）"))):
        mine = [r for r in rows if (r["monitor"].group == "competitor") == (side == "theirs")]
        outer += [{"name": r["monitor"].name, "value": r["volume"], "side": side} for r in mine[:10]]
        if rest := sum(r["volume"] for r in mine[10:]):
            outer.append({"name": label, "value": rest, "side": side})
    return json.dumps({"kind": "ring", "inner": [{"name": ours, "value": data["ours"], "side": "ours"},
                                                 {"name": theirs, "value": data["theirs"], "side": "theirs"}],
                       "outer": outer}, ensure_ascii=False)  # fmt: skip


def _share_chart(over_time: list[dict], bucket: str) -> str:
    """web/charts.js "volume": our and the competitors' volume per bucket, with our share."""
    return json.dumps({
        "kind": "volume", "labels": [_label(r["at"], bucket) for r in over_time], "axis": _("声量"), "marks": [],
        "series": [{"key": "ours", "name": _("我们"), "data": [r["ours"] for r in over_time]},
                   {"key": "theirs", "name": _("竞品"), "data": [r["theirs"] for r in over_time]}],
        "line": {"name": _("我们的份额"), "data": [round(r["ours"] / (r["ours"] + r["theirs"]), 3)
                                                  if r["ours"] + r["theirs"] else None for r in over_time]},
    }, ensure_ascii=False)  # fmt: skip


@member_required(MANAGE)
@require_http_methods(["GET", "POST"])
def export(request: HttpRequest) -> HttpResponse:
    """The matched mentions as CSV (?monitor=<id> and the list's filters)."""
    from guanwei.core import exports

    try:
        return exports.respond(request, "monitor_mentions")
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect("monitoring:monitors")


@member_required(MANAGE)
@require_http_methods(["GET", "POST"])
def alert_rule(request: HttpRequest, monitor_id: int) -> HttpResponse:
    from guanwei.monitoring.forms import AlertRuleForm
    from guanwei.monitoring.models import AlertRule

    monitor = _monitor(request, monitor_id)
    rule, _created = AlertRule.objects.get_or_create(monitor=monitor)
    form = AlertRuleForm(request.POST or None, instance=rule, enterprise_id=monitor.enterprise_id)
    if request.method == "POST" and form.is_valid():
        values = {k: v for k, v in form.cleaned_data.items() if k != "channels"}
        try:
            actions.do_set_alert_rule(request.member, monitor, values=values,
                                      channels=list(form.cleaned_data["channels"]), request=request)  # fmt: skip
        except ActionError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("已保存预警规则。"))
            return redirect("monitoring:monitor", monitor.pk)
    return render(request, "monitoring/alert_rule.html", {"form": form, "monitor": monitor},
                  status=422 if form.is_bound else 200)  # fmt: skip


@member_required(MANAGE)
@require_GET
def alerts(request: HttpRequest) -> HttpResponse:
    from guanwei.monitoring.models import Alert

    page = keyset_page(Alert.objects.filter(enterprise_id=request.member.enterprise_id).select_related("monitor"),
                       request, per_page=30)  # fmt: skip
    return render(request, "monitoring/alerts.html", {"page": page})


# ---------------------------------------------------------------- incidents


def _incident(request: HttpRequest, incident_id: int):  # type: ignore[no-untyped-def]
    from guanwei.monitoring.models import Incident

    return get_for(request.member, Incident, incident_id, MANAGE)


@member_required(MANAGE)
@require_http_methods(["GET", "POST"])
def incidents(request: HttpRequest) -> HttpResponse:
    """The incidents, newest first; POST opens one (from an alert with ?alert=<id>, or by hand)."""
    from guanwei.monitoring import incidents as room
    from guanwei.monitoring.models import Alert, Incident

    member = request.member
    if request.method == "POST":
        alert_id = request.POST.get("alert", "")
        alert = Alert.objects.filter(enterprise_id=member.enterprise_id, pk=alert_id).first() if alert_id.isdigit() and len(alert_id) < 18 else None
        monitor_id = request.POST.get("monitor", "")
        monitor = Monitor.objects.filter(enterprise_id=member.enterprise_id, pk=monitor_id).first() if monitor_id.isdigit() and len(monitor_id) < 18 else None
        severity = request.POST.get("severity", "")
        try:
            incident = room.do_open_incident(
                member, title=request.POST.get("title", "")[:200], monitor=monitor, alert=alert, request=request,
                severity=int(severity) if severity.isdigit() and len(severity) < 3 else (alert.severity if alert else 0),
            )  # fmt: skip
        except ActionError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("已开启事件。"))
            return redirect("monitoring:incident", incident.pk)
    page = keyset_page(Incident.objects.filter(enterprise_id=member.enterprise_id).select_related("owner", "monitor"),
                       request, per_page=30, order=("-opened_at",))  # fmt: skip
    monitors_ = Monitor.objects.filter(enterprise_id=member.enterprise_id).order_by("name")
    return render(request, "monitoring/incidents.html", {"page": page, "monitors": monitors_})


@member_required(MANAGE)
@require_http_methods(["GET", "POST"])
def incident(request: HttpRequest, incident_id: int) -> HttpResponse:
    from guanwei.core.models import Member
    from guanwei.monitoring import incidents as room
    from guanwei.monitoring.models import INCIDENT_MACHINE, IncidentState

    member = request.member
    current = _incident(request, incident_id)
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "move":
                room.do_move_incident(member, current, request.POST.get("state", ""), request)
            elif action == "note":
                room.do_add_note(member, current, request.POST.get("text", "")[:2001], is_task=bool(request.POST.get("is_task")), request=request)
            elif action == "done":
                note = current.notes.filter(pk=request.POST.get("note", "0") if request.POST.get("note", "").isdigit() else 0).first()
                if note is None:
                    raise Http404("note")
                room.do_finish_task(member, note, request)
            elif action == "statement":
                ids = [int(v) for v in request.POST.getlist("accounts")[:51] if v.isdigit() and len(v) < 18]
                post = room.do_draft_statement(member, current, text=request.POST.get("text", "")[:5001],
                                               accounts=ids, request=request)  # fmt: skip
                messages.success(request, _("声明已送审。批准后立即发出；发出后，回复的情感会显示在这里。"))
                for reason in {t.manual_reason for t in post.targets.all() if t.manual_reason}:
                    messages.warning(request, _("注意：这条声明将成为人工发布任务——%(reason)s 现在修改正文可避免。") % {"reason": reason})
                return redirect("publishing:post", post.pk)
            elif action == "update":
                owner_id = request.POST.get("owner", "")
                owner = Member.objects.filter(enterprise_id=member.enterprise_id, pk=owner_id).first() if owner_id.isdigit() and len(owner_id) < 18 else None
                sev = request.POST.get("severity", "")
                room.do_update_incident(member, current, owner=owner, request=request,
                                        severity=int(sev) if sev.isdigit() and len(sev) < 3 else None)  # fmt: skip
            else:
                raise Http404("action")
        except ActionError as exc:
            messages.error(request, exc.message)
        return redirect("monitoring:incident", current.pk)
    return render(request, "monitoring/incident.html", _story(member, current, charts=True) | {
        "states": [s for s in IncidentState.choices if INCIDENT_MACHINE.allows(current.state, s[0])],
        "members": Member.objects.filter(enterprise_id=member.enterprise_id, is_active=True).order_by("display_name"),
        "may_draft": can(member, "post.edit") and current.state != IncidentState.CLOSED,
        # the inbox's items escalated here (the reverse of inbox.Item.incident: no import upward)
        "escalated": current.inbox_items.select_related("account", "author").order_by("-said_at")[:50],
        "emergency": can(member, "post.emergency"),
        "accounts": Account.objects.for_member(member).order_by(Case(When(matrix_role=MatrixRole.PARENT, then=0), default=1), "screen_name")[:200],
    })  # fmt: skip


def _story(member, current, *, charts: bool = False) -> dict:  # type: ignore[no-untyped-def]
    """The incident's timeline with our statements, the replies to them, the posts with the
    largest audience and the key spreaders; with `charts`, the timeline's chart data too (the
    room's page; the review file is one self-contained HTML file without scripts)."""
    from guanwei.monitoring import incidents as room
    from guanwei.monitoring import spreaders

    tz = ZoneInfo(member.enterprise.time_zone)
    start, end = room.window(current)
    said = room.statements(current)
    bars, peak, chart, spread = [], 1, "", None
    if current.monitor:
        hour = queries.TRUNC_PY["hour"]
        out = [s for s in said if s.at is not None]  # a statement still in review or waiting has no time yet
        marks = {hour(s.at.astimezone(tz).replace(tzinfo=None)) for s in out}
        rows = queries.series(current.monitor, start, "hour", tz)
        bars, peak = _bars(rows, marks)
        spread = spreaders.spreaders(current.monitor, start, end)
        if charts:
            by_hour: dict[datetime, list[dict]] = {}
            for s in out:
                by_hour.setdefault(hour(s.at.astimezone(tz).replace(tzinfo=None)), []).append(
                    {"kind": "statement", "label": pgettext("chart mark", "声明"), "detail": f"@{s.account}：{s.text[:60]}"})
            chart = _volume_chart(rows, "hour", by_hour, negative_line=True)
    return {"incident": current, "statements": said, "bars": bars, "peak": peak, "timeline_chart": chart,
            "notes": current.notes.select_related("member").order_by("-created_at"), "spread": spread,
            "top_posts": queries.top_posts(current.monitor, start) if current.monitor else []}  # fmt: skip


@member_required(MANAGE)
@require_GET
def incident_review(request: HttpRequest, incident_id: int) -> HttpResponse:
    """The post-mortem as one self-contained HTML file (print it to PDF from the browser)."""
    current = _incident(request, incident_id)
    response = render(request, "monitoring/incident_review.html", _story(request.member, current) | {"review": True})
    response["Content-Disposition"] = f'attachment; filename="incident-{current.pk}.html"'
    return response

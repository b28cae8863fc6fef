"""The sandbox's own pages: the public timeline (广场) at /sandbox/ as a person on the platform
sees it — latest statuses with user, time, text, repost chain and counts, user pages, a status
with its comments and reposts, the hot-search board — and /sandbox/runs/, where the server
operator starts scenarios and replays and watches their progress (htmx polling). Runs belong to
the platform, not to an enterprise: they simulate netizens and never post as an official account
(only guanwei's connector does that, with the account's own token).

Lists page by id like Weibo (`?max_id=`: ids ≤ max_id, newest first), so a page is one indexed
query however large the platform grows."""

from __future__ import annotations

import logging
import re
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from guanwei.core.permissions import operator_required

from . import runs
from .models import Comment, SandboxUser, Status
from .models_runs import HotSearchEntry, Run
from .replay import DATASETS, DEFAULT_LIMITS
from .scenarios import SCENARIOS

log = logging.getLogger("guanwei.sandbox.pages")

PAGE_SIZE = 20
_MENTION = re.compile(r"@([\w\-\u4e00-\u9fff]{1,30})")
_TOPIC = re.compile(r"#([^#\s]{1,40})#")
_LINK = re.compile(r"(https?://[\w\-./?=&%#:;~+]+)")


def render_text(text: str) -> SafeString:
    """Status text as HTML: escaped, with @mentions linked to user pages, #topics# marked and
    links clickable (nofollow)."""
    html = escape(text)
    html = _LINK.sub(r'<a href="\1" rel="nofollow noopener">\1</a>', html)
    html = _MENTION.sub(
        lambda m: (
            f'<a class="sbx-at" href="{reverse("sandbox:user_by_name", args=[m.group(1)])}">@{m.group(1)}</a>'
        ),
        html,
    )
    html = _TOPIC.sub(r'<span class="sbx-topic">#\1#</span>', html)
    return mark_safe(html)  # noqa: S308 — built from escaped text above


def _page(qs: QuerySet[Any], request: HttpRequest) -> tuple[list[Any], int | None]:
    """One page of `qs` (newest first) below ?max_id=, and the max_id of the next page."""
    try:
        max_id = int(request.GET.get("max_id", "0"))
    except ValueError:
        max_id = 0
    if max_id > 0:
        qs = qs.filter(id__lte=max_id)
    rows = list(qs.order_by("-id")[: PAGE_SIZE + 1])
    next_max = rows[PAGE_SIZE].pk if len(rows) > PAGE_SIZE else None
    return rows[:PAGE_SIZE], next_max


def _statuses() -> QuerySet[Status]:
    """What anyone may see: not deleted, public, and not posted by an unaudited app (such
    posts are visible to that app's test accounts only)."""
    return Status.objects.filter(
        deleted_at=None, visible_type=0, is_test_only=False
    ).select_related("user", "retweeted_status__user")


def _with_html(statuses: list[Status]) -> list[Status]:
    for s in statuses:
        s.html = render_text(s.text)  # type: ignore[attr-defined]
        if s.retweeted_status_id and s.retweeted_status is not None:
            root = s.retweeted_status
            root.html = render_text("[此微博已被作者删除]" if root.deleted_at else root.text)  # type: ignore[attr-defined]
    return statuses


def _board() -> list[HotSearchEntry]:
    latest = (
        HotSearchEntry.objects.order_by("-snapshot_at")
        .values_list("snapshot_at", flat=True)
        .first()
    )
    if latest is None:
        return []
    return list(HotSearchEntry.objects.filter(snapshot_at=latest).order_by("rank")[:15])


def hot_search_feed(request: HttpRequest) -> JsonResponse:
    """The replayed hot-search board as JSON, in the shape of weibo.com's web endpoint
    /ajax/side/hotSearch (not part of the Open API: PLATFORM_APIS has no hot-search API), plus
    the replayed snapshot's time. Public, like the board on /sandbox/."""
    latest = HotSearchEntry.objects.order_by("-snapshot_at").values_list("snapshot_at", flat=True).first()
    rows = list(HotSearchEntry.objects.filter(snapshot_at=latest).order_by("rank")[:60]) if latest else []
    return JsonResponse({
        "ok": 1,
        "snapshot_at": latest.isoformat() if latest else None,
        "data": {"realtime": [
            {"word": r.title, "num": r.heat, "realpos": r.rank, "category": r.category, "is_ad": int(r.is_ad)}
            for r in rows if r.rank
        ]},
    })  # fmt: skip


def timeline(request: HttpRequest) -> HttpResponse:
    """广场: everything public, newest first. `?original=1` shows originals only."""
    qs = _statuses()
    if request.GET.get("original") == "1":
        qs = qs.filter(retweeted_status=None)
    statuses, next_max = _page(qs, request)
    return render(
        request,
        "sandbox/timeline.html",
        {
            "statuses": _with_html(statuses),
            "next_max": next_max,
            "original": request.GET.get("original") == "1",
            "board": _board(),
            "accounts": SandboxUser.objects.filter(is_official=True).order_by("id")[:12],
            "active_runs": Run.objects.filter(finished_at=None, started_at__isnull=False).order_by(
                "-id"
            )[:3],
        },
    )


def user_page(request: HttpRequest, uid: int) -> HttpResponse:
    person = get_object_or_404(SandboxUser, pk=uid)
    statuses, next_max = _page(_statuses().filter(user=person), request)
    return render(
        request,
        "sandbox/user.html",
        {"person": person, "statuses": _with_html(statuses), "next_max": next_max},
    )


def user_by_name(request: HttpRequest, name: str) -> HttpResponse:
    person = SandboxUser.objects.filter(screen_name=name).only("id").first()
    if person is None:
        raise Http404("no such user")
    return HttpResponseRedirect(reverse("sandbox:user", args=[person.pk]))


def status_page(request: HttpRequest, sid: int) -> HttpResponse:
    status = get_object_or_404(_statuses(), pk=sid)
    tab = "reposts" if request.GET.get("tab") == "reposts" else "comments"
    if tab == "comments":
        rows, next_max = _page(
            Comment.objects.filter(status=status, deleted_at=None).select_related("user"), request
        )
        for c in rows:
            c.html = render_text(c.text)  # type: ignore[attr-defined]
    else:
        rows, next_max = _page(_statuses().filter(repost_parent=status), request)
        _with_html(rows)
    return render(
        request,
        "sandbox/status.html",
        {"status": _with_html([status])[0], "tab": tab, "rows": rows, "next_max": next_max},
    )


# --- runs: start scenarios and replays, watch progress ------------------------------------------


SCENARIO_LABELS = {
    "ordinary_day": _("平常的一天"),
    "product_launch": _("新品发布（爆发）"),
    "crisis": _("危机：产品质量问题"),
    "lottery": _("转发抽奖（含机器人账号）"),
    "customer_service": _("客户咨询与投诉"),
}
assert SCENARIO_LABELS.keys() == SCENARIOS.keys()


class ScenarioForm(forms.Form):
    name = forms.ChoiceField(label=_("场景"), choices=list(SCENARIO_LABELS.items()))
    minutes = forms.FloatField(
        label=_("模拟时长（分钟）"), initial=60, min_value=1, max_value=10080
    )
    speed = forms.FloatField(label=_("加速倍数"), initial=60, min_value=1, max_value=10000)
    intensity = forms.FloatField(label=_("强度"), initial=1.0, min_value=0.1, max_value=50)
    fast_forward = forms.BooleanField(label=_("快进（立即生成到现在为止的历史）"), required=False)


class ReplayForm(forms.Form):
    dataset = forms.ChoiceField(
        label=_("数据集"),
        choices=[
            ("ced", _("CED 谣言传播级联")),
            ("covid", _("COVID-19 微博事件")),
            ("hot_search", _("热搜历史")),
        ],
    )
    speed = forms.FloatField(
        label=_("加速倍数（0 = 尽快）"), initial=0, min_value=0, max_value=1_000_000
    )
    limit = forms.IntegerField(label=_("数量上限"), required=False, min_value=1, max_value=100_000)


def _forms(request: HttpRequest) -> tuple[ScenarioForm, ReplayForm]:
    kind = request.POST.get("kind") if request.method == "POST" else None
    scenario = ScenarioForm(request.POST if kind == "scenario" else None, prefix="s")
    replay = ReplayForm(request.POST if kind == "replay" else None, prefix="r")
    for form in (scenario, replay):
        for field in form.fields.values():
            if not isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", "sbx-input")
    return scenario, replay


@operator_required
def runs_page(request: HttpRequest) -> HttpResponse:
    scenario_form, replay_form = _forms(request)
    runs_page_rows, next_max = _page(Run.objects.all(), request)
    error = ""
    if request.method == "POST":
        form = scenario_form if request.POST.get("kind") == "scenario" else replay_form
        if form.is_valid():
            d = form.cleaned_data
            who = f"operator {request.user.get_username()}"
            try:
                if form is scenario_form:
                    run = runs.scenario_run(
                        d["name"], minutes=d["minutes"], speed=d["speed"], intensity=d["intensity"],
                        fast_forward=d["fast_forward"], requested_by=who,
                    )  # fmt: skip
                else:
                    run = runs.replay_run(
                        d["dataset"], speed=d["speed"], limit=d["limit"], requested_by=who
                    )
            except ValueError as exc:
                error = str(exc)
            else:
                # The operator's act, not an enterprise's: a log line, not a tenant audit entry.
                log.info("sandbox.run_started run=%s kind=%s name=%s by=%s",
                         run.pk, run.kind, run.name, request.user.pk)  # fmt: skip
                runs.enqueue(run)
                return HttpResponseRedirect(reverse("sandbox:runs"))
    return render(
        request,
        "sandbox/runs.html",
        {
            "scenario_form": scenario_form,
            "replay_form": replay_form,
            "error": error,
            "runs": runs_page_rows,
            "next_max": next_max,
            "limits": DEFAULT_LIMITS,
            "datasets": DATASETS,
        },
    )


@operator_required
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress row of one run (htmx polls it every second until the run finishes)."""
    run = get_object_or_404(Run, pk=run_id)
    return render(request, "sandbox/_run_row.html", {"run": run})


@require_POST
@operator_required
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(Run, pk=run_id)
    runs.request_cancel(run)
    log.info("sandbox.run_cancel_requested run=%s by=%s", run.pk, request.user.pk)
    if request.htmx:  # type: ignore[attr-defined]
        run.refresh_from_db()
        return render(request, "sandbox/_run_row.html", {"run": run})
    return HttpResponseRedirect(reverse("sandbox:runs"))

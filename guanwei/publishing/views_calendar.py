"""The content calendar: month, week and list views of the plan with the same filters; drag a
post to another day (htmx; the post's own page has the form fallback); CSV export and import of
the plan; holidays, 调休 and marketing days; "on this date in earlier years" (hot search)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from guanwei.core import exports
from guanwei.core.errors import ActionError, show_on_form
from guanwei.core.lists import keyset_page
from guanwei.core.models import Member
from guanwei.core.permissions import can, get_for, member_required
from guanwei.matrix.models import Account
from guanwei.publishing import actions, calendar, plan
from guanwei.publishing.forms import ImportForm
from guanwei.publishing.models import Campaign, ContentKind, Post, Series, TargetState

VIEWS = ("month", "week", "list")


FIRST_YEAR, LAST_YEAR = 2000, 2100  # the calendar's range (a month view reaches into the next year)


def _day(value: str, default: date) -> date:
    """A date from the query; anything unreadable or outside the calendar's range: `default`."""
    try:
        day = date.fromisoformat(value) if len(value) == 10 else default
    except ValueError:
        return default
    return day if FIRST_YEAR <= day.year <= LAST_YEAR else default


def _filters(member: Member) -> dict:
    return {
        "accounts": Account.objects.for_member(member).order_by("screen_name").values_list("pk", "screen_name")[:300],
        "series": Series.objects.filter(enterprise_id=member.enterprise_id).order_by("name"),
        "campaigns": Campaign.objects.filter(enterprise_id=member.enterprise_id).order_by("name"),
        "authors": Member.objects.filter(enterprise_id=member.enterprise_id, posts__isnull=False).distinct()
        .order_by("display_name").values_list("pk", "display_name")[:200],
        "states": TargetState.choices, "kinds": ContentKind.choices,
    }  # fmt: skip


def _query_without(request: HttpRequest, *names: str) -> str:
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


@member_required("post.view")
@require_GET
def calendar_view(request: HttpRequest) -> HttpResponse:
    member = request.member
    view = request.GET.get("view", "month")
    view = view if view in VIEWS else "month"
    today = timezone.localdate()
    focus = _day(request.GET.get("date", ""), today)
    context = {"view": view, "focus": focus, "today": today, "params": request.GET,
               "query": _query_without(request, "view", "date", "before", "after"),
               "can_edit": can(member, "post.edit"), **_filters(member)}  # fmt: skip
    try:
        posts = plan.filtered(member, request.GET)
    except ActionError as exc:
        messages.error(request, exc.message)
        posts = Post.objects.none()
    posts = posts.select_related("series", "campaign").prefetch_related("targets__account")
    if view == "list":
        context["page"] = keyset_page(posts.select_related("author"), request, per_page=30)
        return render(request, "publishing/calendar_list.html", context)
    if view == "month":
        weeks = calendar.month_grid(focus.year, focus.month)
        first, last = weeks[0][0].date, weeks[-1][-1].date
        context.update(weeks=weeks, weekdays=[_("周一"), _("周二"), _("周三"), _("周四"), _("周五"), _("周六"), _("周日")], prev=(focus.replace(day=1) - timedelta(days=1)).replace(day=1),
                       next=(focus.replace(day=28) + timedelta(days=4)).replace(day=1))  # fmt: skip
        days = [d for week in weeks for d in week]
    else:
        days = calendar.week_days(focus)
        first, last = days[0].date, days[-1].date
        context.update(days=days, prev=focus - timedelta(days=7), next=focus + timedelta(days=7))
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    end = timezone.make_aware(datetime.combine(last + timedelta(days=1), datetime.min.time()))
    by_day = {d.date: d for d in days}
    shown = list(posts.filter(scheduled_at__gte=start, scheduled_at__lt=end).order_by("scheduled_at", "pk")[:1000])
    for post in shown:
        by_day[timezone.localdate(post.scheduled_at)].posts.append(post)
    context["unscheduled"] = posts.filter(scheduled_at__isnull=True, targets__state__in=["draft", "in_review", "approved"]).distinct().count()
    context["too_many"] = len(shown) >= 1000
    return render(request, f"publishing/calendar_{view}.html", context)


@member_required("post.edit")
@require_POST
def move(request: HttpRequest, post_id: int) -> HttpResponse:
    """Drag to another day: the same time of day on the new date (enterprise time zone). With
    htmx the answer is the moved chip; without, back to the calendar."""
    post = get_for(request.member, Post, post_id, "post.edit")
    day = _day(request.POST.get("date", ""), date.min)
    try:
        if day == date.min:
            raise ActionError(_("请选择日期。"), "date")
        if post.scheduled_at is None:
            raise ActionError(_("这条内容没有发布时间（批准后立即发布），请在内容页设置时间。"), "date")
        local = timezone.localtime(post.scheduled_at)
        moved = timezone.make_aware(datetime.combine(day, local.time().replace(tzinfo=None)))
        post = actions.do_reschedule(request.member, post, moved, request)
    except ActionError as exc:
        if request.htmx:
            return HttpResponse(exc.message, status=422)
        messages.error(request, exc.message)
    else:
        if request.htmx:
            response = render(request, "publishing/_chip.html", {"post": post, "can_edit": True})
            response["HX-Trigger"] = "calendar-moved"
            return response
        messages.success(request, _("已改到 %(day)s。") % {"day": day.isoformat()})
    return redirect(f"{_calendar_url()}?date={day.isoformat() if day != date.min else ''}")


def _calendar_url() -> str:
    from django.urls import reverse

    return reverse("publishing:calendar")


@member_required("post.view")
@require_GET
def on_this_date(request: HttpRequest) -> HttpResponse:
    """The side panel: hot-search titles on this date in earlier years (htmx, loaded lazily)."""
    day = _day(request.GET.get("date", ""), timezone.localdate())
    return render(request, "publishing/_on_this_date.html", {"day": day, "years": calendar.on_this_date(day)})


@member_required("post.view")
@require_http_methods(["GET", "POST"])
def export_plan(request: HttpRequest) -> HttpResponse:
    try:
        return exports.respond(request, "plan")
    except ActionError as exc:
        messages.error(request, exc.message)
        return redirect(_calendar_url())


@member_required("post.edit")
@require_http_methods(["GET", "POST"])
def import_plan(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            posts = plan.do_import_plan(request.member, form.cleaned_data["file"].read(plan.MAX_BYTES + 1), request)
        except plan.PlanImportError as exc:
            report = exc.rows
            show_on_form(form, exc)
        except ActionError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("已导入 %(n)d 条草稿。") % {"n": len(posts)})
            return redirect(f"{_calendar_url()}?view=list&state=draft")
    status = 422 if form.is_bound else 200
    return render(request, "publishing/import.html", {"form": form, "report": report, "columns": plan.COLUMNS}, status=status)

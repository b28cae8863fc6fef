"""Publishing's pages: the composer, the list of posts (the calendar's list view) and a post
with its targets and actions. Thin: forms parse, actions decide."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from guanwei.core.errors import ActionError, show_as_message, show_on_form
from guanwei.core.lists import keyset_page
from guanwei.core.models import StateEvent
from guanwei.core.permissions import can, get_for, member_required
from guanwei.publishing import actions
from guanwei.publishing.forms import CommentForm, ComposeForm, ScheduleForm
from guanwei.publishing.models import Post, TargetState
from guanwei.textkit.length import SHARE_LIMIT, weibo_length


@member_required("post.edit")
@require_http_methods(["GET", "POST"])
def compose(request: HttpRequest) -> HttpResponse:
    from django.urls import reverse

    form = ComposeForm(request.POST or None, member=request.member, length_url=reverse("publishing:length"))
    if request.method == "POST" and form.is_valid():
        try:
            post = actions.do_create_post(
                request.member, text=form.cleaned_data["text"],
                accounts=[a.pk for a in form.cleaned_data["accounts"]],
                scheduled_at=form.cleaned_data["scheduled_at"], request=request,
            )  # fmt: skip
            if request.POST.get("submit_for_review"):
                actions.do_submit(request.member, post, request)
        except ActionError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("已保存。") if not request.POST.get("submit_for_review") else _("已送审。"))
            return redirect("publishing:post", post.pk)
    status = 422 if form.is_bound else 200
    return render(request, "publishing/compose.html", {"form": form, "limit": SHARE_LIMIT // 2}, status=status)


@member_required("post.edit")
@require_POST
def length(request: HttpRequest) -> HttpResponse:
    """The live count under the composer: the server's own weibo_length, as the send check uses."""
    text = request.POST.get("text", "")[:10000]
    units = weibo_length(text)
    return render(request, "publishing/_length.html", {
        "chars": (units + 1) // 2, "left": (SHARE_LIMIT - units) // 2, "over": units > SHARE_LIMIT,
        "over_by": (units - SHARE_LIMIT + 1) // 2,
    })  # fmt: skip


@member_required("post.view")
def post_list(request: HttpRequest) -> HttpResponse:
    qs = Post.objects.for_member(request.member).select_related("author").prefetch_related("targets__account")
    state = request.GET.get("state", "")
    if state in TargetState.values:
        qs = qs.filter(targets__state=state).distinct()
    page = keyset_page(qs, request, per_page=30)
    return render(request, "publishing/posts.html", {"page": page, "states": TargetState.choices, "state": state})


@member_required("post.view")
def post_detail(request: HttpRequest, post_id: int) -> HttpResponse:
    post = get_for(request.member, Post, post_id, "post.view")
    targets = post.targets.select_related("account", "publication").order_by("pk")
    events = StateEvent.objects.filter(
        object_type="publishing.target", object_id__in=[str(t.pk) for t in targets]
    ).select_related("actor").order_by("-created_at", "-pk")[:50]
    member = request.member
    labels = dict(TargetState.choices)
    names = {str(t.pk): (t.account.screen_name if t.account else "—") for t in targets}
    for event in events:
        event.account_name = names.get(event.object_id, "—")
        event.from_label = labels.get(event.from_state, event.from_state)
        event.to_label = labels.get(event.to_state, event.to_state)
    states = {t.state for t in targets}
    context = {
        "post": post, "targets": targets, "events": events,
        "can_submit": can(member, "post.edit") and TargetState.DRAFT in states,
        "can_cancel": can(member, "post.edit") and bool(states & {"draft", "in_review", "approved", "scheduled", "missed", "failed"}),
        "can_schedule": can(member, "post.edit") and post.approved_by_id is not None
        and bool(states & {"approved", "scheduled", "missed", "failed"}),
        "can_review": can(member, "post.review") and post.author_id != member.pk and TargetState.IN_REVIEW in states,
        "schedule_form": ScheduleForm(initial={"scheduled_at": post.scheduled_at}),
        "comment_form": CommentForm(),
    }  # fmt: skip
    return render(request, "publishing/post.html", context)


ACTIONS = {
    "submit": ("post.edit", lambda m, p, r: actions.do_submit(m, p, r), gettext_lazy("已送审。")),
    "approve": ("post.review", lambda m, p, r: actions.do_approve(m, p, r), gettext_lazy("已批准并排期。")),
    "cancel": ("post.edit", lambda m, p, r: actions.do_cancel(m, p, r), gettext_lazy("已取消。")),
    "request_changes": (
        "post.review",
        lambda m, p, r: actions.do_request_changes(m, p, r.POST.get("comment", "")[:1000], r),
        gettext_lazy("已退回修改。"),
    ),
}


@member_required("post.view")
@require_POST
def post_action(request: HttpRequest, post_id: int, action: str) -> HttpResponse:
    if action == "schedule":
        post = get_for(request.member, Post, post_id, "post.edit")
        form = ScheduleForm(request.POST)
        try:
            if not form.is_valid():
                raise ActionError(_("请填写有效的时间。"), "scheduled_at")
            actions.do_schedule(request.member, post, form.cleaned_data["scheduled_at"], request)
        except ActionError as exc:
            show_as_message(request, exc)
        else:
            messages.success(request, _("已排期。"))
        return redirect("publishing:post", post.pk)
    if action not in ACTIONS:
        from django.http import Http404

        raise Http404("action")
    right, do, done = ACTIONS[action]
    post = get_for(request.member, Post, post_id, right)
    try:
        do(request.member, post, request)
    except ActionError as exc:
        show_as_message(request, exc)
    else:
        messages.success(request, str(done))
    return redirect("publishing:post", post.pk)

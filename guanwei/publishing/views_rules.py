"""Pages for the enterprise's publishing rules: approval chains (reviewers read them, admins edit
them), the sensitive-word list, and content series and campaigns."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guanwei.core.errors import ActionError, show_as_message, show_on_form
from guanwei.core.lists import keyset_page
from guanwei.core.permissions import can, get_for, member_required
from guanwei.publishing import rules
from guanwei.publishing.forms import PolicyForm, SettingsForm, TagForm, WordForm, WordImportForm
from guanwei.publishing.models import (
    ApprovalPolicy,
    Campaign,
    PublishingSettings,
    SensitiveWord,
    Series,
    WordAction,
)
from guanwei.textkit.normalize import fold


def _policy(request: HttpRequest, policy_id: int) -> ApprovalPolicy:
    return get_for(request.member, ApprovalPolicy, policy_id, rules.MANAGE)


@member_required("post.review")
@require_http_methods(["GET", "POST"])
def policies(request: HttpRequest) -> HttpResponse:
    """The approval chains, and the publishing settings (the late cutoff)."""
    member = request.member
    current = PublishingSettings.objects.filter(enterprise_id=member.enterprise_id).first()
    minutes = current.late_cutoff_minutes if current else PublishingSettings.DEFAULT_LATE_CUTOFF
    form = SettingsForm(request.POST or None, initial={"late_cutoff_minutes": minutes})
    if request.method == "POST":
        if not can(member, rules.MANAGE):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied(rules.MANAGE)
        if form.is_valid():
            try:
                rules.do_set_late_cutoff(member, form.cleaned_data["late_cutoff_minutes"], request)
            except ActionError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("已保存发布设置。"))
                return redirect("publishing:policies")
    rows = (
        ApprovalPolicy.objects.filter(enterprise_id=member.enterprise_id)
        .prefetch_related("accounts", "tiers__reviewers").order_by("position", "pk")
    )  # fmt: skip
    return render(request, "publishing/policies.html", {
        "policies": rows, "can_manage": can(member, rules.MANAGE), "settings_form": form, "late_cutoff": minutes,
    }, status=422 if form.is_bound else 200)  # fmt: skip


@member_required(rules.MANAGE)
@require_http_methods(["GET", "POST"])
def policy_edit(request: HttpRequest, policy_id: int | None = None) -> HttpResponse:
    member = request.member
    policy = _policy(request, policy_id) if policy_id else None
    initial = {}
    if policy is not None:
        initial = {"name": policy.name, "position": policy.position, "content_type": policy.content_type,
                   "accounts": list(policy.accounts.values_list("pk", flat=True))}  # fmt: skip
        for tier in policy.tiers.all():
            initial.update({f"tier{tier.position}_name": tier.name, f"tier{tier.position}_mode": tier.mode,
                            f"tier{tier.position}_reviewers": list(tier.reviewers.values_list("pk", flat=True))})  # fmt: skip
    form = PolicyForm(request.POST or None, member=member, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rules.do_save_policy(member, policy, name=data["name"], position=data["position"],
                                 content_type=data["content_type"], accounts=list(data["accounts"]),
                                 tiers=form.tier_values(), request=request)  # fmt: skip
        except ActionError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("已保存审批流程。"))
            return redirect("publishing:policies")
    status = 422 if form.is_bound else 200
    return render(request, "publishing/policy_edit.html", {"form": form, "policy": policy}, status=status)


@member_required(rules.MANAGE)
@require_POST
def policy_delete(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = _policy(request, policy_id)
    rules.do_delete_policy(request.member, policy, request)
    messages.success(request, _("已删除审批流程。"))
    return redirect("publishing:policies")


@member_required(rules.MANAGE)
@require_http_methods(["GET", "POST"])
def words(request: HttpRequest) -> HttpResponse:
    member = request.member
    form = WordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rules.do_add_word(member, form.cleaned_data["word"], form.cleaned_data["action"],
                              form.cleaned_data["note"], request)  # fmt: skip
        except ActionError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("已添加。"))
            return redirect("publishing:words")
    qs = SensitiveWord.objects.filter(enterprise_id=member.enterprise_id)
    q = request.GET.get("q", "").strip()[:50]
    if q:
        qs = qs.filter(folded__contains=fold(q))
    page = keyset_page(qs, request, per_page=50, order=("folded",))
    status = 422 if form.is_bound else 200
    return render(request, "publishing/words.html", {
        "form": form, "import_form": WordImportForm(), "page": page, "q": q, "actions": WordAction.choices,
        "total": SensitiveWord.objects.filter(enterprise_id=member.enterprise_id).count(),
    }, status=status)  # fmt: skip


@member_required(rules.MANAGE)
@require_POST
def words_import(request: HttpRequest) -> HttpResponse:
    form = WordImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("请选择一个词表文件。"))
        return redirect("publishing:words")
    try:
        result = rules.do_import_words(request.member, form.cleaned_data["file"].read(rules.MAX_IMPORT_BYTES + 1),
                                       form.cleaned_data["action"], request)  # fmt: skip
    except ActionError as exc:
        show_as_message(request, exc)
    else:
        messages.success(request, _("已导入：新增 %(added)d 个，更新 %(updated)d 个，未变 %(unchanged)d 个。") % result)
    return redirect("publishing:words")


@member_required(rules.MANAGE)
@require_POST
def word_action(request: HttpRequest, word_id: int) -> HttpResponse:
    word = get_for(request.member, SensitiveWord, word_id, rules.MANAGE)
    try:
        if request.POST.get("delete"):
            rules.do_delete_word(request.member, word, request)
        else:
            rules.do_set_word_action(request.member, word, request.POST.get("action", ""), request)
    except ActionError as exc:
        show_as_message(request, exc)
    return redirect("publishing:words")


@member_required("post.view")
@require_http_methods(["GET", "POST"])
def tags(request: HttpRequest) -> HttpResponse:
    member = request.member
    form = TagForm(request.POST or None)
    if request.method == "POST":
        if not can(member, "campaign.manage"):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("campaign.manage")
        if form.is_valid():
            data = form.cleaned_data
            try:
                rules.do_add_tag(member, data["kind"], data["name"], data["starts_on"], data["ends_on"], request)
            except ActionError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("已添加。"))
                return redirect("publishing:tags")
    status = 422 if form.is_bound else 200
    return render(request, "publishing/tags.html", {
        "form": form, "can_manage": can(member, "campaign.manage"),
        "series": Series.objects.filter(enterprise_id=member.enterprise_id).order_by("name"),
        "campaigns": Campaign.objects.filter(enterprise_id=member.enterprise_id).order_by("-starts_on", "name"),
    }, status=status)  # fmt: skip


@member_required("campaign.manage")
@require_POST
def tag_delete(request: HttpRequest, kind: str, tag_id: int) -> HttpResponse:
    model = {"series": Series, "campaign": Campaign}.get(kind)
    if model is None:
        raise Http404("tag")
    tag = get_for(request.member, model, tag_id, "campaign.manage")
    rules.do_delete_tag(request.member, tag, request)
    messages.success(request, _("已删除（其内容保留，只去掉标签）。"))
    return redirect("publishing:tags")

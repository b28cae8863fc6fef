"""Publishing's pages about one post: the composer (new and edit, with live checks, previews,
suggestions and autosave), a post with its chain, reviews, revisions and targets, the diff of two
revisions, the reviewers' queue, and the post's images. Thin: forms parse, actions decide.
The calendar is in views_calendar, the enterprise's rules in views_rules."""

from __future__ import annotations

import difflib
import re
from collections import Counter

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from guanwei.core.errors import ActionError, show_as_message, show_on_form
from guanwei.core.models import Member, StateEvent
from guanwei.core.permissions import can, get_for, member_required
from guanwei.matrix.models import Account
from guanwei.publishing import actions, approval, checks
from guanwei.publishing.forms import CommentForm, ComposeForm, ConfirmForm, ScheduleForm
from guanwei.publishing.models import (
    OPEN_STATES,
    Post,
    PostImage,
    PostRevision,
    SeenRevision,
    Target,
    TargetState,
)

S = TargetState


def _files(form: ComposeForm) -> list[tuple[bytes, str]]:
    """The uploaded images (read to one byte past the limit: a bigger file is refused, whole)."""
    from guanwei.publishing.images import MAX_BYTES

    return [(upload.read(MAX_BYTES + 1), upload.name or "") for upload in form.cleaned_data.get("images") or []]


def _account_ids(form: ComposeForm) -> list[int]:
    return [a.pk for a in form.cleaned_data.get("accounts") or []]


def _draft(request: HttpRequest, form: ComposeForm) -> Post | None:
    """The post the composer is working on (an autosaved draft, or the one being edited)."""
    pk = form.cleaned_data.get("post") if form.is_bound and hasattr(form, "cleaned_data") else None
    return get_for(request.member, Post, pk, "post.edit") if pk else None


@member_required("post.edit")
@require_http_methods(["GET", "POST"])
def compose(request: HttpRequest, post_id: int | None = None) -> HttpResponse:
    """A new post, or (post_id) a change to one. An autosaved draft is finished here too."""
    member = request.member
    editing = get_for(member, Post, post_id, "post.edit") if post_id else None
    initial = {}
    if editing is not None:
        initial = {"post": editing.pk, "text": editing.text, "content_type": editing.content_type,
                   "series": editing.series_id, "campaign": editing.campaign_id, "repost_of": editing.repost_of,
                   "scheduled_at": editing.scheduled_at, "emergency": editing.emergency,
                   "accounts": [t.account_id for t in editing.targets.all() if t.account_id],
                   **{f"variant_{t.account_id}": t.text for t in editing.targets.all() if t.text}}  # fmt: skip
    form = ComposeForm(request.POST or None, request.FILES or None, member=member, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            post = _draft(request, form)
            if post is None:
                post = actions.do_create_post(
                    member, text=data["text"], accounts=_account_ids(form), scheduled_at=data["scheduled_at"],
                    variants=form.variants(), content_type=data["content_type"] or "general",
                    series=data["series"].pk if data["series"] else None,
                    campaign=data["campaign"].pk if data["campaign"] else None,
                    repost_of=data["repost_of"], emergency=bool(data.get("emergency")),
                    image_files=_files(form), request=request,
                )  # fmt: skip
            else:
                post = actions.do_edit_post(
                    member, post, text=data["text"], accounts=_account_ids(form), variants=form.variants(),
                    scheduled_at=data["scheduled_at"], content_type=data["content_type"] or "general",
                    series=data["series"].pk if data["series"] else None,
                    campaign=data["campaign"].pk if data["campaign"] else None, request=request,
                )  # fmt: skip
                if "emergency" in data and data["emergency"] != post.emergency:
                    actions.do_mark_emergency(member, post, bool(data["emergency"]), request)
                files = _files(form)
                if files:
                    actions.do_add_images(member, post, files, request)
            if request.POST.get("submit_for_review"):
                actions.do_submit(member, post, request)
        except ActionError as exc:
            if exc.field.startswith("variants."):  # the per-account text's own field
                exc.field = "variant_" + exc.field.split(".", 1)[1]
            show_on_form(form, exc)
        else:
            messages.success(request, _("已送审。") if request.POST.get("submit_for_review") else _("已保存。"))
            return redirect("publishing:post", post.pk)
    if form.is_bound and request.FILES:  # a browser never keeps chosen files across a refused form
        form.add_error("images", _("出错后浏览器不会保留已选的图片，请重新选择。"))
    status = 422 if form.is_bound else 200
    return render(request, "publishing/compose.html", {"form": form, "editing": editing}, status=status)


def _report_context(request: HttpRequest) -> dict:
    """The live panel's data from the composer's fields (the same checks as on send)."""
    member = request.member
    text = request.POST.get("text", "")[:5000]
    ids = [int(v) for v in request.POST.getlist("accounts")[:50] if v.isdigit() and len(v) < 18]
    accounts = list(Account.objects.for_member(member).exclude(token="").select_related("connection").filter(pk__in=ids))
    post_id = request.POST.get("post", "")
    count = request.POST.get("image_count", "0")
    images = min(int(count), 99) if count.isdigit() and len(count) < 4 else 0
    variants = {a.pk: request.POST.get(f"variant_{a.pk}", "")[:5000] for a in accounts}
    report = checks.report(member.enterprise_id, text, accounts, images=images,
                           repost=bool(request.POST.get("repost_of", "").strip()),
                           exclude_post=int(post_id) if post_id.isdigit() and len(post_id) < 18 else None,
                           variants={k: v for k, v in variants.items() if v})  # fmt: skip
    previews = []
    for item in report.accounts:
        body = request.POST.get(f"variant_{item.account.pk}", "")[:5000] or text
        previews.append({"account": item.account, "body": _card(body)})
    return {"report": report, "previews": previews, "suggestions": _suggestions(member, text, accounts)}


@member_required("post.edit")
@require_POST
def check(request: HttpRequest) -> HttpResponse:
    """The composer's live panel: length, sensitive words, per-account rules, budget, near-
    duplicates, manual-task reasons, previews and #/@ suggestions."""
    return render(request, "publishing/_checks.html", _report_context(request))


@member_required("post.edit")
@require_POST
def autosave(request: HttpRequest) -> HttpResponse:
    """Autosave of the composer (htmx, a few seconds after typing stops)."""
    from django.utils import timezone

    member = request.member
    text = request.POST.get("text", "")[:5001]
    ids = [int(v) for v in request.POST.getlist("accounts")[:51] if v.isdigit() and len(v) < 18]
    pk = request.POST.get("post", "")
    post = get_for(member, Post, pk, "post.edit") if pk.isdigit() and len(pk) < 18 else None
    if post is None and not text.strip():
        return HttpResponse("")
    try:
        post = actions.do_save_draft(member, post, text=text, accounts=ids, request=request)
    except ActionError as exc:
        return render(request, "publishing/_autosaved.html", {"error": exc.message}, status=422)
    return render(request, "publishing/_autosaved.html", {"post": post, "at": timezone.localtime()})


def _card(text: str) -> list[tuple[str, str]]:
    """A preview's text as pieces: ('topic'|'mention'|'link'|'', text) — the card highlights them."""
    pieces = []
    pos = 0
    for m in re.finditer(r"#[^#\n]{1,40}#|@[\w\-]{1,30}|https?://\S+", text):
        if m.start() > pos:
            pieces.append(("", text[pos:m.start()]))
        kind = {"#": "topic", "@": "mention"}.get(m.group()[0], "link")
        pieces.append((kind, m.group()))
        pos = m.end()
    pieces.append(("", text[pos:]))
    return pieces


def _suggestions(member: Member, text: str, accounts: list[Account]) -> dict:
    """#话题# and @names the chosen accounts used before (their last 300 posts), filtered by the
    partial word at the end of the text."""
    m = re.search(r"([#@])([^\s#@]*)$", text)
    if not m:
        return {}
    sign, prefix = m.group(1), m.group(2)
    posts = Post.objects.for_member(member)
    if accounts:
        posts = posts.filter(targets__account__in=accounts)
    counts: Counter[str] = Counter()
    pattern = r"#([^#\n]{1,40})#" if sign == "#" else r"@([\w\-]{1,30})"
    for body in posts.order_by("-pk").values_list("text", flat=True)[:300]:
        counts.update(set(re.findall(pattern, body)))
    words = [w for w, _n in counts.most_common(50) if w.startswith(prefix) and w != prefix][:8]
    return {"sign": sign, "prefix": prefix, "words": [(f"#{w}#" if sign == "#" else f"@{w} ") for w in words]}


def chain_rows(chains: list[approval.Chain]) -> list[dict]:
    """Chains as a page shows them: each tier with its people's names and who approved."""
    ids = {p for c in chains for t in c.tiers for p in (*t.reviewers, *t.approved_by)}
    names = dict(Member.objects.filter(pk__in=ids).values_list("pk", "display_name"))
    rows = []
    for chain in chains:
        current = chain.current
        rows.append({"name": chain.name, "tiers": [{
            "name": tier.name, "all": tier.mode == "all", "done": tier.done, "current": tier is current,
            "people": [(names.get(pk, "—"), pk in tier.approved_by) for pk in sorted(tier.reviewers)],
            "approved": [names.get(pk, "—") for pk in tier.approved_by],
        } for tier in chain.tiers]})  # fmt: skip
    return rows


@member_required("post.view")
def post_detail(request: HttpRequest, post_id: int) -> HttpResponse:
    member = request.member
    post = get_for(member, Post, post_id, "post.view")
    targets = list(post.targets.select_related("account__connection", "publication", "delete_requested_by").order_by("pk"))
    events = StateEvent.objects.filter(
        object_type="publishing.target", object_id__in=[str(t.pk) for t in targets]
    ).select_related("actor").order_by("-created_at", "-pk")[:50]
    labels = dict(TargetState.choices)
    names = {str(t.pk): (t.account.screen_name if t.account else "—") for t in targets}
    for event in events:
        event.account_name = names.get(event.object_id, "—")
        event.from_label = labels.get(event.from_state, event.from_state)
        event.to_label = labels.get(event.to_state, event.to_state)
    states = {t.state for t in targets}
    chains = approval.progress(post)
    seen = SeenRevision.objects.filter(member=member, post=post).values_list("revision", flat=True).first()
    if can(member, "post.review") and seen != post.revision:
        SeenRevision.objects.update_or_create(member=member, post=post, defaults={"revision": post.revision})
    editable = can(member, "post.edit") and bool(states & set(OPEN_STATES))
    context = {
        "post": post, "targets": targets, "events": events, "chains": chain_rows(chains),
        "reviews": post.reviews.select_related("member").order_by("-created_at", "-pk")[:50],
        "revisions": post.revisions.select_related("member").order_by("-number")[:30],
        "images": post.images.all(), "seen": seen,
        "can_edit": editable,
        "can_submit": can(member, "post.edit") and S.DRAFT in states,
        "can_cancel": editable,
        "can_schedule": can(member, "post.edit") and post.approved_by_id is not None
        and bool(states & {S.APPROVED, S.SCHEDULED, S.MISSED, S.FAILED}),
        "can_review": S.IN_REVIEW in states and approval.may_approve_now(member, post, chains),
        "can_request_changes": S.IN_REVIEW in states and can(member, "post.review") and post.author_id != member.pk,
        "can_emergency": can(member, "post.emergency") and bool(states & set(OPEN_STATES)),
        "can_comment": can(member, "post.review") or can(member, "post.edit"),
        "can_delete": can(member, "post.edit"), "can_approve_delete": can(member, "post.review"),
        "schedule_form": ScheduleForm(initial={"scheduled_at": post.scheduled_at}),
        "comment_form": CommentForm(), "confirm_form": ConfirmForm(),
    }  # fmt: skip
    return render(request, "publishing/post.html", context)


def _diff(a: str, b: str) -> list[tuple[str, str]]:
    """Character-level diff (Chinese has no spaces to split words on): ('eq'|'del'|'ins', text)."""
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("eq", a[i1:i2]))
        if op in ("delete", "replace"):
            out.append(("del", a[i1:i2]))
        if op in ("insert", "replace"):
            out.append(("ins", b[j1:j2]))
    return out


def revision_changes(post: Post, old: PostRevision | None, new: PostRevision) -> dict:
    """What changed between two revisions: the text's diff, variants, time, content type."""
    before = old.text if old else ""
    variants = []
    old_v = old.variants if old else {}
    for account_id in sorted(set(old_v) | set(new.variants)):
        if old_v.get(account_id, "") != new.variants.get(account_id, ""):
            variants.append((account_id, _diff(old_v.get(account_id, ""), new.variants.get(account_id, ""))))
    return {
        "old": old, "new": new, "text": _diff(before, new.text), "variants": variants,
        "time_changed": bool(old) and old.scheduled_at != new.scheduled_at,
        "type_changed": bool(old) and old.content_type != new.content_type,
    }  # fmt: skip


@member_required("post.view")
@require_GET
def diff(request: HttpRequest, post_id: int) -> HttpResponse:
    post = get_for(request.member, Post, post_id, "post.view")
    revisions = {r.number: r for r in post.revisions.all()}

    def number(name: str, default: int) -> int:
        value = request.GET.get(name, "")
        return int(value) if value.isdigit() and len(value) < 9 else default

    new = revisions.get(number("to", post.revision))
    if new is None:
        raise Http404("revision")
    old = revisions.get(number("from", new.number - 1))
    names = dict(Account.objects.filter(enterprise_id=post.enterprise_id).values_list("pk", "screen_name"))
    changes = revision_changes(post, old, new)
    changes["variants"] = [(names.get(int(k), k), d) for k, d in changes["variants"]]
    return render(request, "publishing/diff.html", {"post": post, **changes, "numbers": sorted(revisions)})


@member_required("post.review")
def review_queue(request: HttpRequest) -> HttpResponse:
    """Posts waiting for this reviewer now (their tier of the chain), each with what changed
    since the version they last saw."""
    member = request.member
    waiting = (
        Post.objects.for_member(member).filter(targets__state=S.IN_REVIEW).exclude(author=member).distinct()
        .select_related("author").prefetch_related("targets__account").order_by("-updated_at", "-pk")
    )  # fmt: skip
    seen = dict(SeenRevision.objects.filter(member=member).values_list("post_id", "revision"))
    mine, others = [], []
    posts = list(waiting[:200])
    policies = approval.policies_of(member.enterprise_id)
    approvals = approval.approvals_of(posts)
    for post in posts:
        chains = approval.progress(post, policies=policies, approvals=approvals[post.pk])
        item = {"post": post, "chains": chain_rows(chains), "seen": seen.get(post.pk)}
        if item["seen"] and item["seen"] != post.revision:
            revs = {r.number: r for r in post.revisions.filter(number__in=[item["seen"], post.revision])}
            if post.revision in revs:
                item["changes"] = revision_changes(post, revs.get(item["seen"]), revs[post.revision])
        (mine if approval.may_approve_now(member, post, chains) else others).append(item)
    return render(request, "publishing/review.html", {"mine": mine, "others": others})


ACTIONS = {
    "submit": ("post.edit", lambda m, p, r: actions.do_submit(m, p, r), gettext_lazy("已送审。")),
    "approve": ("post.review", lambda m, p, r: actions.do_approve(m, p, r.POST.get("comment", "")[:1000], r),
                gettext_lazy("已批准并排期。")),  # fmt: skip
    "cancel": ("post.edit", lambda m, p, r: actions.do_cancel(m, p, r), gettext_lazy("已取消。")),
    "request_changes": (
        "post.review",
        lambda m, p, r: actions.do_request_changes(m, p, r.POST.get("comment", "")[:1000], r),
        gettext_lazy("已退回修改。"),
    ),
    "comment": ("post.view", lambda m, p, r: actions.do_comment(m, p, r.POST.get("comment", "")[:1000], r),
                gettext_lazy("已评论。")),  # fmt: skip
    "emergency": ("post.emergency", lambda m, p, r: actions.do_mark_emergency(m, p, r.POST.get("on") == "1", r),
                  gettext_lazy("已更新紧急发布标记。")),  # fmt: skip
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
        raise Http404("action")
    right, do, done = ACTIONS[action]
    post = get_for(request.member, Post, post_id, right)
    try:
        result = do(request.member, post, request)
    except ActionError as exc:
        show_as_message(request, exc)
    else:
        if action == "approve" and result.approved_by_id is None:
            waiting = [c.current.name for c in approval.progress(result) if c.current is not None]
            done = _("已批准本级；还在等待：%(tiers)s") % {"tiers": "、".join(waiting)}
        messages.success(request, str(done))
    return redirect("publishing:post", post.pk)


def _target(request: HttpRequest, target_id: int, right: str) -> Target:
    member = request.member
    target = Target.objects.filter(pk=target_id, post__in=Post.objects.for_member(member)).select_related(
        "account__connection", "post", "publication"
    ).first()  # fmt: skip
    if target is None:
        raise Http404("target")
    from guanwei.core.permissions import require

    require(member, right)
    return target


TARGET_ACTIONS = {
    "confirm": ("post.edit", gettext_lazy("已确认发布。")),
    "delete": ("post.edit", gettext_lazy("已处理删除。")),
    "approve_delete": ("post.review", gettext_lazy("已删除。")),
}


@member_required("post.view")
@require_POST
def target_action(request: HttpRequest, target_id: int, action: str) -> HttpResponse:
    """A manual task confirmed with its URL; a published post deleted (or its deletion approved)."""
    if action not in TARGET_ACTIONS:
        raise Http404("action")
    right, done = TARGET_ACTIONS[action]
    target = _target(request, target_id, right)
    try:
        if action == "confirm":
            form = ConfirmForm(request.POST)
            actions.do_confirm_manual(request.member, target, form.data.get("url", "")[:300], request)
        elif action == "delete":
            target = actions.do_delete_published(request.member, target, request)
            if target.state != S.DELETED:
                done = gettext_lazy("已申请删除：母微博的删除需审核人批准。")
        else:
            actions.do_approve_delete(request.member, target, request)
    except ActionError as exc:
        show_as_message(request, exc)
    else:
        messages.success(request, str(done))
    return redirect("publishing:post", target.post_id)


@member_required("post.view")
@require_GET
def image(request: HttpRequest, image_id: int, size: str = "full") -> FileResponse:
    """A post's image or its thumbnail, to whoever may see the post."""
    row = PostImage.objects.filter(pk=image_id, post__in=Post.objects.for_member(request.member)).first()
    if row is None:
        raise Http404("image")
    stored = row.thumb if size == "thumb" else row.file
    try:
        handle = stored.open("rb")
    except FileNotFoundError:
        raise Http404("image file") from None
    response = FileResponse(handle, content_type="image/jpeg" if size == "thumb" else row.mime)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


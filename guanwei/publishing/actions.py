"""Every change to posts (core's `do_*` convention). Each checks the right and the rules, moves
the targets through their state machine (an event row and an audit entry each) and audits, in
one transaction; a broken rule is an ActionError naming the field.

* create / autosave / edit — every saved version is a PostRevision; a change of content makes a
  new revision, which voids approvals (targets go back to draft). Autosave refines the latest
  revision while the same person keeps typing (AUTOSAVE_COALESCE), and checks no rules: a draft
  may be unfinished. The rules are enforced on create (the API), submit, approve and send.
* submit → review: approvals follow the chains of publishing.approval (tiers, any-of/all-of,
  per account and content type; no self-approval); the emergency path (owner/admin) needs one.
* schedule, cancel, confirm a manual task, delete a published post (a parent account's
  deletion waits for a reviewer).
"""

from __future__ import annotations

import re
from contextlib import closing
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from guanwei.core import audit, clock
from guanwei.core.audit import client_ip
from guanwei.core.errors import ActionError
from guanwei.core.models import Member
from guanwei.core.permissions import can, require
from guanwei.core.states import transition
from guanwei.matrix.models import Account, MatrixRole
from guanwei.publishing import approval, images
from guanwei.publishing.checks import check_account, check_text, check_words
from guanwei.publishing.manual import manual_reason
from guanwei.publishing.models import (
    OPEN_STATES,
    Campaign,
    ContentKind,
    Post,
    PostRevision,
    Publication,
    Review,
    Series,
    Target,
    TargetState,
    Verdict,
)

S = TargetState
EDIT, REVIEW, EMERGENCY = "post.edit", "post.review", "post.emergency"
PAST_TOLERANCE = timedelta(minutes=1)
FURTHEST = timedelta(days=3 * 365)  # a plan reaches at most three years ahead
AUTOSAVE_COALESCE = timedelta(minutes=10)
MAX_ACCOUNTS = 50
UNCHANGED: Any = object()


# ---------------------------------------------------------------- small rules


def _accounts(member: Member, ids: list[int], *, required: bool = True) -> list[Account]:
    if not ids:
        if required:
            raise ActionError(_("请至少选择一个账号。"), "accounts")
        return []
    if len(ids) > MAX_ACCOUNTS:
        raise ActionError(_("一次最多发往 50 个账号。"), "accounts")
    found = {a.pk: a for a in Account.objects.for_member(member).select_related("connection").filter(pk__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        # Another tenant's account, one outside the member's limit and a deleted one look alike.
        raise ActionError(_("没有这个账号，或你无权代表它发布：%(ids)s") % {"ids": missing[:10]}, "accounts")
    return [found[i] for i in dict.fromkeys(ids)]


def _check_time(scheduled_at: datetime | None) -> None:
    if scheduled_at is None:
        return
    if scheduled_at.tzinfo is None:
        raise ActionError(_("发布时间须带时区，例如 2026-12-05T09:00:00+08:00。"), "scheduled_at")
    if scheduled_at < clock.now() - PAST_TOLERANCE:
        raise ActionError(_("发布时间已经过去。"), "scheduled_at")
    if scheduled_at > clock.now() + FURTHEST:
        raise ActionError(_("发布时间最多在三年以内。"), "scheduled_at")


def _tag(member: Member, model: type, pk: int | None, field: str) -> Any:
    if pk is None:
        return None
    found = model.objects.filter(enterprise_id=member.enterprise_id, pk=pk).first()
    if found is None:
        raise ActionError(_("没有这个系列或活动。"), field)
    return found


BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _base62_mid(code: str) -> str:
    """Weibo's short post code (weibo.com/<uid>/<code>) → its numeric id: groups of 4 letters
    from the right, each a 7-digit number."""
    parts = []
    while code:
        chunk, code = code[-4:], code[:-4]
        value = 0
        for ch in chunk:
            value = value * 62 + BASE62.index(ch)
        parts.append(str(value).zfill(7) if code else str(value))
    return "".join(reversed(parts)).lstrip("0") or "0"


def repost_id(reference: str) -> str:
    """The platform id of the post to repost, from an id or a post's URL ('' for none)."""
    reference = reference.strip()
    if not reference:
        return ""
    last = [p for p in re.split(r"[/?#]", reference.split("://", 1)[-1]) if p][1:] or [reference]
    token = last[-1] if "://" in reference or "/" in reference else reference
    if token.isdigit() and len(token) <= 20:
        return token
    if re.fullmatch(r"[0-9A-Za-z]{5,9}", token) and not token.isdigit():
        return _base62_mid(token)
    raise ActionError(_("看不懂要转发的微博：请填微博的链接或数字 ID。"), "repost_of")


def _check_repost(member: Member, reference: str, accounts: list[Account]) -> str:
    """The id of an existing post to repost; asks the platform through the first account."""
    from guanwei.matrix import connectors
    from guanwei.platforms.base import PlatformError

    pid = repost_id(reference)
    if not pid or not accounts:
        return pid
    try:
        with closing(connectors.for_account(accounts[0])) as connector:
            connector.get_post(pid)
    except PlatformError as error:
        if error.kind == "not_found":
            raise ActionError(_("要转发的微博不存在或已删除（%(id)s）。") % {"id": pid}, "repost_of") from None
        raise ActionError(_("暂时无法确认要转发的微博：%(error)s") % {"error": str(error)[:120]}, "repost_of") from None
    return pid


def _rules(post: Post, targets: list[Target]) -> None:
    """Every rule a post must meet to go for review, be approved and be sent."""
    repost = bool(post.repost_of)
    for target in targets:
        if target.account is None:
            continue
        field = "text" if not target.text else f"variants.{target.account_id}"
        check_account(target.account)
        check_text(target.body, target.account, field, repost=repost)
        check_words(post.enterprise_id, target.body, field)


def _snapshot(post: Post, member: Member | None, *, coalesce: bool = False) -> PostRevision:
    variants = {str(t.account_id): t.text for t in post.targets.all() if t.text and t.account_id}
    values = {"text": post.text, "variants": variants, "scheduled_at": post.scheduled_at,
              "content_type": post.content_type, "member": member, "updated_at": clock.now()}  # fmt: skip
    if coalesce:
        latest = post.revisions.order_by("-number").first()
        if latest and latest.number == post.revision:
            for key, value in values.items():
                setattr(latest, key, value)
            latest.save()
            return latest
    return PostRevision.objects.create(post=post, number=post.revision, **values)


def _refresh_manual(post: Post) -> None:
    count = post.images.count()
    for target in post.targets.select_related("account__connection"):
        if target.account is None:
            continue
        reason = manual_reason(target.account, target.body, images=count, repost=bool(post.repost_of))
        if reason != target.manual_reason:
            Target.objects.filter(pk=target.pk).update(manual_reason=reason[:200])


def _excerpt(text: str) -> str:
    return text[:40]


# ---------------------------------------------------------------- create, autosave, edit


def do_create_post(
    member: Member, *, text: str, accounts: list[int], scheduled_at: datetime | None = None,
    variants: dict[int, str] | None = None, content_type: str = ContentKind.GENERAL,
    series: int | None = None, campaign: int | None = None, repost_of: str = "",
    emergency: bool = False, image_files: list[tuple[bytes, str]] | None = None, request: Any = None,
) -> Post:  # fmt: skip
    """A new post (a draft) with every rule checked first: nothing is saved when one breaks."""
    require(member, EDIT)
    if content_type not in ContentKind.values:
        raise ActionError(_("没有这种内容类型。"), "content_type")
    if emergency:
        require(member, EMERGENCY)
        if content_type != ContentKind.CRISIS:
            raise ActionError(_("只有“危机声明”类型的内容可以紧急发布。"), "emergency")
    chosen = _accounts(member, accounts)
    variants = {k: v for k, v in (variants or {}).items() if v}
    unknown = [k for k in variants if k not in {a.pk for a in chosen}]
    if unknown:
        raise ActionError(_("分账号文案的账号不在所选账号中：%(ids)s") % {"ids": unknown[:10]}, "variants")
    repost = repost_id(repost_of)
    for account in chosen:
        field = "text" if account.pk not in variants else f"variants.{account.pk}"
        check_account(account)
        check_text(variants.get(account.pk) or text, account, field, repost=bool(repost))
        check_words(member.enterprise_id, variants.get(account.pk) or text, field)
    _check_time(scheduled_at)
    checked = images.check_images(image_files or [])
    if repost and checked:
        raise ActionError(_("转发不能附带图片。"), "images")
    series_obj = _tag(member, Series, series, "series")
    campaign_obj = _tag(member, Campaign, campaign, "campaign")
    repost = _check_repost(member, repost_of, chosen)
    with transaction.atomic():
        post = Post.objects.create(
            enterprise=member.enterprise, author=member, text=text, scheduled_at=scheduled_at,
            content_type=content_type, series=series_obj, campaign=campaign_obj, repost_of=repost,
            emergency=emergency, rip=client_ip(request) or "",
        )  # fmt: skip
        Target.objects.bulk_create([
            Target(enterprise=member.enterprise, post=post, account=a, text=variants.get(a.pk, ""))
            for a in chosen
        ])  # fmt: skip
        images.store(post, checked)
        _refresh_manual(post)
        _snapshot(post, member)
        audit.record(member.enterprise, member, "post.created", post, request=request,
                     params={"excerpt": _excerpt(text)},
                     detail={"accounts": [a.pk for a in chosen], "emergency": emergency})  # fmt: skip
    return post


def _set_accounts(post: Post, chosen: list[Account]) -> bool:
    """Make the post's targets match `chosen`. A target that was ever attempted stays."""
    have = {t.account_id: t for t in post.targets.all()}
    wanted = {a.pk for a in chosen}
    changed = False
    for account_id, target in have.items():
        if account_id not in wanted:
            if target.attempts or target.state not in OPEN_STATES:
                raise ActionError(_("已尝试发布的账号不能移除，请取消该账号的发布。"), "accounts")
            target.delete()
            changed = True
    new = [Target(enterprise_id=post.enterprise_id, post=post, account=a) for a in chosen if a.pk not in have]
    Target.objects.bulk_create(new)
    return changed or bool(new)


def do_save_draft(member: Member, post: Post | None, *, text: str, accounts: list[int],
                  request: Any = None) -> Post:  # fmt: skip
    """Autosave (the composer, every few seconds): keep what was typed, check no rules yet."""
    require(member, EDIT)
    if "\x00" in text or len(text) > 5000:
        raise ActionError(_("正文过长或含有控制字符。"), "text")
    chosen = _accounts(member, accounts, required=False)
    with transaction.atomic():
        if post is None:
            post = Post.objects.create(enterprise=member.enterprise, author=member, text=text,
                                       rip=client_ip(request) or "")  # fmt: skip
            _set_accounts(post, chosen)
            _snapshot(post, member)
            audit.record(member.enterprise, member, "post.created", post, request=request,
                         params={"excerpt": _excerpt(text)}, detail={"autosave": True})  # fmt: skip
            return post
        post = _locked(post)
        if post.author_id != member.pk or any(t.state != S.DRAFT for t in post.targets.all()):
            raise ActionError(_("只有作者本人的草稿会自动保存。"))
        changed = _set_accounts(post, chosen) if accounts else False
        if text == post.text and not changed:
            return post
        latest = post.revisions.order_by("-number").first()
        coalesce = bool(latest and latest.member_id == member.pk and clock.now() - latest.created_at < AUTOSAVE_COALESCE
                        and not post.reviews.filter(revision=post.revision).exists())  # fmt: skip
        if not coalesce:
            post.revision += 1
        post.text = text
        post.updated_at = clock.now()
        post.save()
        _snapshot(post, member, coalesce=coalesce)
        _refresh_manual(post)
    return post


def do_add_images(member: Member, post: Post, files: list[tuple[bytes, str]], request: Any = None) -> Post:
    """More images for a post: content, so a new revision (approval void)."""
    require(member, EDIT)
    checked = images.check_images(files, already=post.images.count())
    if post.repost_of and checked:
        raise ActionError(_("转发不能附带图片。"), "images")
    with transaction.atomic():
        post = _locked(post)
        if not any(t.state in OPEN_STATES for t in post.targets.all()):
            raise ActionError(_("内容已发布或已取消，不能再修改。"))
        images.store(post, checked, start=post.images.count())
        _content_changed(post, member, ["images"], request)
    return post


def do_remove_image(member: Member, image: Any, request: Any = None) -> None:
    require(member, EDIT)
    with transaction.atomic():
        post = _locked(image.post)
        if not any(t.state in OPEN_STATES for t in post.targets.all()):
            raise ActionError(_("内容已发布或已取消，不能再修改。"))
        image.file.delete(save=False)
        image.thumb.delete(save=False)
        image.delete()
        _content_changed(post, member, ["images"], request)


def _content_changed(post: Post, member: Member, changed: list[str], request: Any) -> None:
    post.revision += 1
    post.approved_by = None
    post.updated_at = clock.now()
    post.save()
    _snapshot(post, member)
    _refresh_manual(post)
    _move(post, (S.IN_REVIEW, S.APPROVED, S.SCHEDULED, S.MISSED, S.FAILED), S.DRAFT, member,
          reason="edited: approval void", request=request)  # fmt: skip
    audit.record(member.enterprise, member, "post.edited", post, request=request,
                 params={"excerpt": _excerpt(post.text)}, detail={"changed": changed, "revision": post.revision})  # fmt: skip


def _locked(post: Post) -> Post:
    return Post.objects.select_for_update().get(pk=post.pk)


def _move(post: Post, frm: tuple[str, ...], to: str, actor: Member | None, reason: str = "",
          updates: dict[str, Any] | None = None, request: Any = None) -> int:  # fmt: skip
    """Move every target of `post` in one of `frm` to `to`. Returns how many moved."""
    moved = 0
    for target in post.targets.select_related("account").order_by("pk"):
        if target.state in frm:
            moved += transition(target, to, actor=actor, reason=reason, updates=updates, request=request,
                                audit_params={"post": post.pk})  # fmt: skip
    return moved


def do_edit_post(
    member: Member, post: Post, *, text: str | None = None, scheduled_at: Any = UNCHANGED,
    variants: dict[int, str] | None = None, accounts: list[int] | None = None,
    content_type: str | None = None, series: Any = UNCHANGED, campaign: Any = UNCHANGED,
    request: Any = None,
) -> Post:  # fmt: skip
    """Change a post. A change of content (text, variants, accounts, content type) is a new
    revision and voids the approval: the targets go back to draft. Time, series and campaign
    are not content."""
    require(member, EDIT)
    with transaction.atomic():
        post = _locked(post)
        if not any(t.state in OPEN_STATES for t in post.targets.all()) and post.targets.exists():
            raise ActionError(_("内容已发布或已取消，不能再修改。"))
        content: list[str] = []
        other: list[str] = []
        if accounts is not None:
            if _set_accounts(post, _accounts(member, accounts)):
                content.append("accounts")
        targets = {t.account_id: t for t in post.targets.select_related("account__connection")}
        if variants is not None:
            unknown = [k for k in variants if k not in targets]
            if unknown:
                raise ActionError(_("分账号文案的账号不在所选账号中：%(ids)s") % {"ids": unknown[:10]}, "variants")
            for account_id, target in targets.items():
                new = variants.get(account_id, "") or ""
                if new != target.text:
                    target.text = new
                    target.save(update_fields=["text"])
                    content.append(f"variants.{account_id}")
        if text is not None and text != post.text:
            post.text = text
            content.append("text")
        if content_type is not None and content_type != post.content_type:
            if content_type not in ContentKind.values:
                raise ActionError(_("没有这种内容类型。"), "content_type")
            post.content_type = content_type
            content.append("content_type")
        if scheduled_at is not UNCHANGED and scheduled_at != post.scheduled_at:
            _check_time(scheduled_at)
            post.scheduled_at = scheduled_at
            other.append("scheduled_at")
        if series is not UNCHANGED:
            post.series = _tag(member, Series, series, "series")
            other.append("series")
        if campaign is not UNCHANGED:
            post.campaign = _tag(member, Campaign, campaign, "campaign")
            other.append("campaign")
        if not content and not other:
            return post
        if content:
            for target in post.targets.select_related("account__connection"):
                if target.account is not None:
                    field = "text" if not target.text else f"variants.{target.account_id}"
                    check_text(target.body, target.account, field, repost=bool(post.repost_of))
            _content_changed(post, member, content + other, request)
            return post
        post.updated_at = clock.now()
        post.save()
        if "scheduled_at" in other and post.approved_by_id:
            _schedule(post, member, request)
        audit.record(member.enterprise, member, "post.edited", post, request=request,
                     params={"excerpt": _excerpt(post.text)},
                     detail={"changed": other, "revision": post.revision})  # fmt: skip
    return post


# ---------------------------------------------------------------- review


def do_submit(member: Member, post: Post, request: Any = None) -> Post:
    require(member, EDIT)
    with transaction.atomic():
        post = _locked(post)
        targets = list(post.targets.select_related("account__connection"))
        if not targets:
            raise ActionError(_("请至少选择一个账号。"), "accounts")
        _rules(post, targets)
        _check_time(post.scheduled_at)
        if not _move(post, (S.DRAFT,), S.IN_REVIEW, member, request=request):
            raise ActionError(_("只有草稿可以送审。"))
    return post


def do_mark_emergency(member: Member, post: Post, on: bool = True, request: Any = None) -> Post:
    """The emergency path (危机声明): an owner or admin lets one approval be enough."""
    require(member, EMERGENCY)
    with transaction.atomic():
        post = _locked(post)
        if not any(t.state in OPEN_STATES for t in post.targets.all()):
            raise ActionError(_("内容已发布或已取消。"))
        if post.emergency == on:
            return post
        if on and post.content_type != ContentKind.CRISIS:
            raise ActionError(_("只有“危机声明”类型的内容可以紧急发布。"), "emergency")
        post.emergency = on
        post.save(update_fields=["emergency"])
        audit.record(member.enterprise, member, "post.emergency" if on else "post.emergency_off", post,
                     request=request, params={"excerpt": _excerpt(post.text)})  # fmt: skip
    return post


def do_approve(member: Member, post: Post, comment: str = "", request: Any = None) -> Post:
    """Record an approval of the current revision; when every chain is complete the targets
    are approved and scheduled at the post's time (or now: as soon as approved)."""
    require(member, REVIEW)
    with transaction.atomic():
        post = _locked(post)
        if post.author_id == member.pk:
            raise ActionError(_("不能审批自己撰写的内容。"))
        targets = list(post.targets.select_related("account__connection"))
        if not any(t.state == S.IN_REVIEW for t in targets):
            raise ActionError(_("只有待审核的内容可以批准。"))
        if not approval.may_approve_now(member, post):
            raise ActionError(_("当前审批层级不需要你的批准（或你已批准过这一版）。"))
        _rules(post, targets)
        Review.objects.create(enterprise_id=post.enterprise_id, post=post, revision=post.revision, member=member,
                              verdict=Verdict.APPROVE, comment=comment[:1000], emergency=post.emergency)  # fmt: skip
        chains = approval.progress(post)
        if not all(chain.done for chain in chains):
            audit.record(member.enterprise, member, "post.approval_recorded", post, request=request,
                         params={"excerpt": _excerpt(post.text)}, detail={"revision": post.revision})  # fmt: skip
            return post
        reason = "emergency path: one approval" if post.emergency else ""
        _move(post, (S.IN_REVIEW,), S.APPROVED, member, reason=reason, request=request)
        post.approved_by = member
        post.save(update_fields=["approved_by"])
        audit.record(member.enterprise, member, "post.approved", post, request=request,
                     params={"excerpt": _excerpt(post.text)},
                     detail={"revision": post.revision, "emergency": post.emergency})  # fmt: skip
        _schedule(post, member, request)
    return post


def _schedule(post: Post, actor: Member, request: Any) -> int:
    due = post.scheduled_at or clock.now()
    return _move(post, (S.APPROVED, S.SCHEDULED, S.MISSED, S.FAILED), S.SCHEDULED, actor,
                 updates={"due_at": due, "next_attempt_at": None}, request=request)  # fmt: skip


def do_request_changes(member: Member, post: Post, comment: str = "", request: Any = None) -> Post:
    require(member, REVIEW)
    if not comment.strip():
        raise ActionError(_("请写明要修改什么。"), "comment")
    with transaction.atomic():
        post = _locked(post)
        if post.author_id == member.pk:
            raise ActionError(_("不能审批自己撰写的内容。"))
        if not _move(post, (S.IN_REVIEW,), S.DRAFT, member, reason=comment[:300], request=request):
            raise ActionError(_("只有待审核的内容可以退回修改。"))
        Review.objects.create(enterprise_id=post.enterprise_id, post=post, revision=post.revision, member=member,
                              verdict=Verdict.CHANGES, comment=comment[:1000])  # fmt: skip
    return post


def do_comment(member: Member, post: Post, comment: str, request: Any = None) -> Review:
    """A reviewer's or the author's comment on the current revision."""
    if not (can(member, REVIEW) or can(member, EDIT)):
        require(member, REVIEW)
    comment = comment.strip()
    if not comment or "\x00" in comment:
        raise ActionError(_("请填写评论。"), "comment")
    review = Review.objects.create(enterprise_id=post.enterprise_id, post=post, revision=post.revision,
                                   member=member, verdict=Verdict.COMMENT, comment=comment[:1000])  # fmt: skip
    audit.record(member.enterprise, member, "post.commented", post, request=request, params={"excerpt": _excerpt(post.text)})
    return review


def do_schedule(member: Member, post: Post, scheduled_at: datetime | None, request: Any = None) -> Post:
    """Set (or move) the time of an approved post; missed and failed targets are tried again."""
    require(member, EDIT)
    _check_time(scheduled_at)
    with transaction.atomic():
        post = _locked(post)
        if post.approved_by_id is None:
            raise ActionError(_("内容尚未批准，不能排期。"), "scheduled_at")
        post.scheduled_at = scheduled_at
        post.save(update_fields=["scheduled_at"])
        if not _schedule(post, member, request):
            raise ActionError(_("没有可以排期的发布目标。"), "scheduled_at")
    return post


def do_reschedule(member: Member, post: Post, scheduled_at: datetime, request: Any = None) -> Post:
    """The calendar's drag: a new time, whatever the state (not content: approval stays)."""
    if post.approved_by_id is not None:
        return do_schedule(member, post, scheduled_at, request)
    return do_edit_post(member, post, scheduled_at=scheduled_at, request=request)


def do_cancel(member: Member, post: Post, request: Any = None) -> Post:
    require(member, EDIT)
    with transaction.atomic():
        post = _locked(post)
        if not _move(post, OPEN_STATES, S.CANCELLED, member, request=request):
            raise ActionError(_("没有可以取消的发布目标（发布中、已发布的不能取消）。"))
    return post


# ---------------------------------------------------------------- manual tasks, deletion


def do_confirm_manual(member: Member, target: Target, url: str, request: Any = None) -> Target:
    """A person posted a manual task by hand: the post's URL settles it as published."""
    require(member, EDIT)
    url = url.strip()
    if not re.fullmatch(r"https?://[^\s\x00]{4,290}", url):
        raise ActionError(_("请粘贴发出的微博的完整链接（https://…）。"), "url")
    try:
        platform_id = repost_id(url)
    except ActionError:
        platform_id = ""
    with transaction.atomic():
        if not target.manual_reason:
            raise ActionError(_("这不是人工发布任务。"))
        if not transition(target, S.PUBLISHED, expected=S.SCHEDULED, actor=member, request=request,
                          reason="confirmed by hand", audit_params={"post": target.post_id}):  # fmt: skip
            raise ActionError(_("只有已排期的人工任务可以确认。"))
        Publication.objects.update_or_create(target=target, defaults={
            "enterprise_id": target.enterprise_id, "platform_id": platform_id[:64], "url": url,
            "published_at": clock.now(),
        })  # fmt: skip
    return target


def do_delete_published(member: Member, target: Target, request: Any = None) -> Target:
    """Delete a published post on the platform. A parent account's (母微博) post needs a
    reviewer's approval: the first call asks for it, `do_approve_delete` does it."""
    require(member, EDIT)
    if target.state != S.PUBLISHED:
        raise ActionError(_("只有已发布的内容可以删除。"))
    if target.account and target.account.matrix_role == MatrixRole.PARENT:
        with transaction.atomic():
            if Target.objects.filter(pk=target.pk, delete_requested_by__isnull=True).update(delete_requested_by=member):
                audit.record(member.enterprise, member, "post.delete_requested", target.post, request=request,
                             params={"excerpt": _excerpt(target.body)}, detail={"target": target.pk})  # fmt: skip
        target.refresh_from_db()
        return target
    return _delete_now(member, target, request)


def do_approve_delete(member: Member, target: Target, request: Any = None) -> Target:
    require(member, REVIEW)
    if target.delete_requested_by_id is None:
        raise ActionError(_("没有待批准的删除申请。"))
    if target.delete_requested_by_id == member.pk:
        raise ActionError(_("不能批准自己提出的删除。"))
    return _delete_now(member, target, request)


def _delete_now(member: Member, target: Target, request: Any) -> Target:
    from guanwei.matrix import connectors
    from guanwei.matrix.health import record_platform_error
    from guanwei.platforms.base import PlatformError

    publication = getattr(target, "publication", None)
    if target.account is None or publication is None or not publication.platform_id:
        raise ActionError(_("不知道这条微博在平台上的 ID，无法通过接口删除。"))
    try:
        with closing(connectors.for_account(target.account)) as connector:
            if not connector.capabilities.delete:
                raise ActionError(_("此账号的接口不能删除，请在平台上手动删除。"))
            connector.delete(publication.platform_id)
    except PlatformError as error:
        if error.kind != "not_found":  # already gone: the deletion is done
            record_platform_error(target.account, error)
            raise ActionError(_("平台拒绝删除：%(error)s") % {"error": str(error)[:160]}) from None
    transition(target, S.DELETED, expected=S.PUBLISHED, actor=member, request=request,
               reason="deleted on the platform", audit_params={"post": target.post_id})  # fmt: skip
    return target

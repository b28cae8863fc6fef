"""Every change to posts (core's `do_*` convention): create, edit, submit, approve, request
changes, schedule, cancel. Each checks the right and the rules, moves the targets through their
state machine (an event row and an audit entry each) and audits, in one transaction; a broken
rule is an ActionError naming the field.

Approval today: one approval by a member who may review and is not the author; any edit voids
it (the targets go back to draft). Approval chains (tiers, any-of/all-of, per account and
content type) and the emergency path are not built yet.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from guanwei.core import audit, clock
from guanwei.core.audit import client_ip
from guanwei.core.errors import ActionError
from guanwei.core.models import Member
from guanwei.core.permissions import require
from guanwei.core.states import transition
from guanwei.matrix.models import Account, Health, PlatformKind
from guanwei.platforms.weibo import has_safe_domain_link
from guanwei.publishing.models import OPEN_STATES, Post, Target, TargetState
from guanwei.textkit.length import SHARE_LIMIT, weibo_length

S = TargetState
EDIT, REVIEW = "post.edit", "post.review"
PAST_TOLERANCE = timedelta(minutes=1)
MASTODON_MAX_CHARACTERS = 500


def check_text(text: str, account: Account, field: str = "text") -> None:
    """The platform's length rule for `account` (also checked again at send time)."""
    if not text.strip():
        raise ActionError(_("请填写正文。"), field)
    if "\x00" in text:
        raise ActionError(_("正文含有不可见的控制字符（NUL）。"), field)
    if account.connection.kind == PlatformKind.MASTODON:
        if len(text) > MASTODON_MAX_CHARACTERS:
            raise ActionError(
                _("正文超过 %(n)d 个字符（Mastodon 的上限）。") % {"n": MASTODON_MAX_CHARACTERS}, field
            )
        return
    units = weibo_length(text)
    if units > SHARE_LIMIT:
        raise ActionError(
            _("正文超出微博的 140 字限制（现为 %(chars)s 字，多 %(over)s 字）。")
            % {"chars": (units + 1) // 2, "over": (units - SHARE_LIMIT + 1) // 2},
            field,
        )
    # statuses/share, the only write an ordinary app has, takes text with a link under the
    # app's safe domain (PLATFORM_APIS §2.3); Weibo refuses anything else (10017).
    safe = account.connection.safe_domain.strip()
    if not safe:
        raise ActionError(
            _("平台连接“%(name)s”未填写安全域名：微博只接受带安全域名链接的正文。请先在平台连接中填写。")
            % {"name": account.connection.name}, field,
        )  # fmt: skip
    if not has_safe_domain_link(text, safe):
        raise ActionError(
            _("微博要求正文包含安全域名 %(domain)s 下的链接（例如 https://%(domain)s/…）。") % {"domain": safe}, field
        )


def check_account(member: Member, account: Account, field: str = "accounts") -> None:
    if not account.token:
        raise ActionError(_("账号 @%(name)s 未授权，请先在账号矩阵中连接。") % {"name": account.screen_name}, field)
    if account.health == Health.TOKEN_EXPIRED:
        raise ActionError(_("账号 @%(name)s 的授权已失效，请先重新授权。") % {"name": account.screen_name}, field)


def _accounts(member: Member, ids: list[int]) -> list[Account]:
    if not ids:
        raise ActionError(_("请至少选择一个账号。"), "accounts")
    if len(ids) > 50:
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


def _excerpt(text: str) -> str:
    return text[:40]


def do_create_post(
    member: Member, *, text: str, accounts: list[int], scheduled_at: datetime | None = None,
    variants: dict[int, str] | None = None, request: Any = None,
) -> Post:  # fmt: skip
    require(member, EDIT)
    chosen = _accounts(member, accounts)
    variants = variants or {}
    for account in chosen:
        check_account(member, account)
        check_text(variants.get(account.pk) or text, account,
                   "text" if account.pk not in variants else f"variants.{account.pk}")  # fmt: skip
    _check_time(scheduled_at)
    with transaction.atomic():
        post = Post.objects.create(enterprise=member.enterprise, author=member, text=text,
                                   scheduled_at=scheduled_at, rip=client_ip(request) or "")  # fmt: skip
        Target.objects.bulk_create([
            Target(enterprise=member.enterprise, post=post, account=a, text=variants.get(a.pk, ""))
            for a in chosen
        ])  # fmt: skip
        audit.record(member.enterprise, member, "post.created", post, request=request,
                     params={"excerpt": _excerpt(text)}, detail={"accounts": [a.pk for a in chosen]})  # fmt: skip
    return post


def _move(post: Post, frm: tuple[str, ...], to: str, actor: Member | None, reason: str = "",
          updates: dict[str, Any] | None = None, request: Any = None) -> int:  # fmt: skip
    """Move every target of `post` in one of `frm` to `to`. Returns how many moved."""
    moved = 0
    for target in post.targets.select_related("account").order_by("pk"):
        if target.state in frm:
            moved += transition(target, to, actor=actor, reason=reason, updates=updates, request=request,
                                audit_params={"post": post.pk})  # fmt: skip
    return moved


def _locked(post: Post) -> Post:
    return Post.objects.select_for_update().get(pk=post.pk)


def do_edit_post(member: Member, post: Post, *, text: str | None = None,
                 scheduled_at: datetime | None | str = "unchanged", request: Any = None) -> Post:  # fmt: skip
    """Change the text or the time. A change voids the approval: targets go back to draft."""
    require(member, EDIT)
    with transaction.atomic():
        post = _locked(post)
        if not any(t.state in (S.DRAFT, S.IN_REVIEW, S.APPROVED, S.SCHEDULED, S.MISSED, S.FAILED)
                   for t in post.targets.all()):  # fmt: skip
            raise ActionError(_("内容已发布或已取消，不能再修改。"))
        changed = []
        if text is not None and text != post.text:
            for target in post.targets.select_related("account__connection"):
                if not target.text:
                    check_text(text, target.account)
            post.text = text
            changed.append("text")
        if scheduled_at != "unchanged":
            _check_time(scheduled_at)  # type: ignore[arg-type]
            post.scheduled_at = scheduled_at  # type: ignore[assignment]
            changed.append("scheduled_at")
        if not changed:
            return post
        post.revision += 1
        post.updated_at = clock.now()
        post.approved_by = None
        post.save()
        if "text" in changed:
            _move(post, (S.IN_REVIEW, S.APPROVED, S.SCHEDULED, S.MISSED, S.FAILED), S.DRAFT, member,
                  reason="edited: approval void", request=request)  # fmt: skip
        audit.record(member.enterprise, member, "post.edited", post, request=request,
                     params={"excerpt": _excerpt(post.text)}, detail={"changed": changed, "revision": post.revision})  # fmt: skip
    return post


def do_submit(member: Member, post: Post, request: Any = None) -> Post:
    require(member, EDIT)
    with transaction.atomic():
        post = _locked(post)
        if not _move(post, (S.DRAFT,), S.IN_REVIEW, member, request=request):
            raise ActionError(_("只有草稿可以送审。"))
    return post


def do_approve(member: Member, post: Post, request: Any = None) -> Post:
    """Approve; the targets are then scheduled at the post's time (or now: as soon as approved)."""
    require(member, REVIEW)
    with transaction.atomic():
        post = _locked(post)
        if post.author_id == member.pk:
            raise ActionError(_("不能审批自己撰写的内容。"))
        if not _move(post, (S.IN_REVIEW,), S.APPROVED, member, request=request):
            raise ActionError(_("只有待审核的内容可以批准。"))
        post.approved_by = member
        post.save(update_fields=["approved_by"])
        _schedule(post, member, request)
    return post


def _schedule(post: Post, actor: Member, request: Any) -> int:
    due = post.scheduled_at or clock.now()
    return _move(post, (S.APPROVED, S.SCHEDULED, S.MISSED, S.FAILED), S.SCHEDULED, actor,
                 updates={"due_at": due, "next_attempt_at": None}, request=request)  # fmt: skip


def do_request_changes(member: Member, post: Post, comment: str = "", request: Any = None) -> Post:
    require(member, REVIEW)
    with transaction.atomic():
        post = _locked(post)
        if not _move(post, (S.IN_REVIEW,), S.DRAFT, member, reason=comment[:300] or "changes requested", request=request):
            raise ActionError(_("只有待审核的内容可以退回修改。"))
    return post


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


def do_cancel(member: Member, post: Post, request: Any = None) -> Post:
    require(member, EDIT)
    with transaction.atomic():
        post = _locked(post)
        if not _move(post, OPEN_STATES, S.CANCELLED, member, request=request):
            raise ActionError(_("没有可以取消的发布目标（发布中、已发布的不能取消）。"))
    return post

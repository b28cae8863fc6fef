"""Changes to inbox items (core's `do_*` convention): assign, take, set the status, note, reply,
escalate to PR. Every change checks the right and the item's account (a member limited to some
accounts acts only for those), writes the audit entry, and tells the channels where it matters
(`item.created`, `item.breached`, `item.solved`)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from guanwei.core import audit, businesstime, channels, clock
from guanwei.core.errors import ActionError
from guanwei.core.links import absolute_url
from guanwei.core.models import Member
from guanwei.core.permissions import require
from guanwei.core.states import transition
from guanwei.inbox.models import CannedReply, Item, ItemNote, ItemStatus, Reply, ReplyState
from guanwei.inbox.sla import hours_of
from guanwei.matrix.models import Account

REPLY = "inbox.reply"
APPROVE = "inbox.approve"  # who approves replies where the enterprise asks for it
DM_WINDOW = timedelta(hours=48)  # fans service: replies within 48 h after the user wrote (PLATFORM_APIS)
MAX_NOTE = 2000
MENTION_RE = re.compile(r"@([\w\u4e00-\u9fff·.-]{1,30})")


def _check_account(member: Member, item: Item) -> None:
    if not Account.objects.for_member(member).filter(pk=item.account_id).exists():
        raise ActionError(_("你无权代表这个账号处理工单。"), "account")


def _excerpt(item: Item) -> dict[str, str]:
    return {"excerpt": item.excerpt[:40]}


def _url(item: Item) -> str:
    return absolute_url(f"/inbox/items/{item.pk}/")


def tell_created(item: Item) -> None:
    channels.send(item.enterprise, "item.created", channels.Message(
        title=_("新的客服工单（%(category)s）") % {"category": item.get_category_display()}, text=item.excerpt,
        url=_url(item), level="warning" if item.priority == "urgent" else "info",
        data={"item_id": item.pk, "category": item.category, "priority": item.priority, "account_id": item.account_id,
              "assignee_id": item.assignee_id},
    ))  # fmt: skip


def resume_clock(item: Item, reason: str = "") -> None:
    """A pending item (waiting on the customer) opens again: its deadlines move by the business
    time it waited, so the wait does not count against the team."""
    now = clock.now()
    paused = businesstime.business_seconds(hours_of(item.team), item.paused_at, now) if item.paused_at else 0.0
    updates: dict[str, Any] = {"paused_at": None, "updated_at": now}
    if item.resolution_due and paused:
        updates["resolution_due"] = businesstime.add_business(hours_of(item.team), item.resolution_due, paused)
    transition(item, ItemStatus.OPEN, field="status", expected=ItemStatus.PENDING, reason=reason[:100],
               updates=updates)  # fmt: skip


def do_assign(member: Member, item: Item, assignee: Member | None, *, expected: Member | None | Any = ...,
              request: Any = None) -> Item:  # fmt: skip
    """Give the item to `assignee` (None: nobody). With `expected`, only if it is still assigned
    to that person — two agents taking one item: one wins, the other is told who has it."""
    require(member, REPLY)
    _check_account(member, item)
    if assignee is not None and (assignee.enterprise_id != member.enterprise_id or not assignee.is_active):
        raise ActionError(_("没有这个成员。"), "assignee")
    rows = Item.objects.filter(pk=item.pk)
    if expected is not ...:
        rows = rows.filter(assignee=expected)
    with transaction.atomic():
        if not rows.update(assignee=assignee, updated_at=clock.now()):
            item.refresh_from_db()
            holder = item.assignee.display_name if item.assignee else "—"
            raise ActionError(_("这条工单刚被 %(name)s 接手了。") % {"name": holder}, "assignee")
        audit.record(member.enterprise, member, "item.assigned", item, request=request, params=_excerpt(item),
                     detail={"to": assignee.pk if assignee else None})  # fmt: skip
    item.refresh_from_db()
    return item


def do_take(member: Member, item: Item, request: Any = None) -> Item:
    """"我来处理": the agent takes an unassigned item (or their own); someone else's is refused."""
    if item.assignee_id == member.pk:
        return item
    return do_assign(member, item, member, expected=None, request=request)


def do_set_status(member: Member, item: Item, status: str, request: Any = None) -> Item:
    require(member, REPLY)
    _check_account(member, item)
    if status not in ItemStatus.values:
        raise ActionError(_("没有这个状态。"), "status")
    if status == item.status:
        return item
    now = clock.now()
    updates: dict[str, Any] = {"updated_at": now}
    if status == ItemStatus.SOLVED:
        updates["solved_at"] = now
        updates["paused_at"] = None
    elif status == ItemStatus.PENDING:
        updates["paused_at"] = now
    with transaction.atomic():
        if item.status == ItemStatus.PENDING and status == ItemStatus.OPEN:
            resume_clock(item, reason="reopened")
        elif not transition(item, status, field="status", actor=member, request=request, updates=updates,
                            audit_params=_excerpt(item)):  # fmt: skip
            raise ActionError(_("工单的状态刚被别人改过，请刷新。"), "status")
        item.refresh_from_db()
        if status == ItemStatus.SOLVED:
            channels.send(item.enterprise, "item.solved", channels.Message(
                title=_("客服工单已解决"), text=item.excerpt, url=_url(item),
                data={"item_id": item.pk, "category": item.category, "assignee_id": item.assignee_id},
            ))  # fmt: skip
    return item


def do_bulk_status(member: Member, items: list[Item], status: str, request: Any = None) -> int:
    done = 0
    for item in items:
        try:
            do_set_status(member, item, status, request)
            done += 1
        except ActionError:
            continue
    return done


def do_add_note(member: Member, item: Item, text: str, request: Any = None) -> ItemNote:
    """An internal note; each @name of a member of the enterprise is told in their bell."""
    require(member, REPLY)
    _check_account(member, item)
    text = text.strip()
    if not text or "\x00" in text or len(text) > MAX_NOTE:
        raise ActionError(_("请填写内容（最长 2000 个字）。"), "text")
    with transaction.atomic():
        note = ItemNote.objects.create(item=item, member=member, text=text)
        names = set(MENTION_RE.findall(text))
        if names:
            from guanwei.core.notifications import notify

            for other in Member.objects.filter(enterprise_id=member.enterprise_id, is_active=True, display_name__in=names):
                notify(member.enterprise, action="", member=other, title=_("%(name)s 在工单里提到了你") % {"name": member.display_name},
                       body=text[:200], url=f"/inbox/items/{item.pk}/")  # fmt: skip
    return note


def fill(template: str, item: Item, extra: dict[str, str] | None = None) -> str:
    """A canned reply's variables: {customer}, {account}, and any the agent gives ({order} …);
    an unknown one stays as written, for the agent to see."""
    values = {"customer": item.author.screen_name if item.author else "", "account": item.account.screen_name,
              **(extra or {})}  # fmt: skip
    return re.sub(r"\{(\w{1,20})\}", lambda m: values.get(m.group(1), m.group(0)), template)


def dm_window_left(item: Item) -> timedelta | None:
    """For a DM, how long the fans-service reply window stays open (None: not a DM)."""
    if item.kind != "dm":
        return None
    from guanwei.listening.models import Mention

    last = (
        Mention.objects.filter(enterprise_id=item.enterprise_id, account_id=item.account_id, kind="dm",
                               author_id=item.author_id).order_by("-created_at").values_list("created_at", flat=True).first()
    )  # fmt: skip
    return (last or item.said_at) + DM_WINDOW - clock.now()


def do_reply(member: Member, item: Item, text: str, *, canned: CannedReply | None = None, request: Any = None) -> Reply:
    """Queue a reply (the worker sends it, exactly once). A rule it breaks (length, a closed DM
    window, an account the member may not act for) is refused with what to do; nothing is lost:
    the text stays in the form."""
    from guanwei.publishing.checks import check_text

    require(member, REPLY)
    _check_account(member, item)
    text = text.strip()
    check_text(text, item.account, "text")
    left = dm_window_left(item)
    if left is not None and left <= timedelta(0):
        raise ActionError(_("私信回复窗口已关闭：粉丝服务只能在用户最后一次发消息后的 48 小时内回复。请改为评论回复，或等用户再次来信。"), "text")
    via = "dm" if item.kind == "dm" else ("reply" if item.kind == "comment" else "comment")
    now = clock.now()
    review = needs_approval(item)
    with transaction.atomic():
        reply = Reply.objects.create(enterprise_id=item.enterprise_id, item=item, member=member, text=text, via=via,
                                     state=ReplyState.IN_REVIEW if review else ReplyState.QUEUED,
                                     next_attempt_at=now, created_at=now)  # fmt: skip
        if canned is not None:
            CannedReply.objects.filter(pk=canned.pk).update(uses=F("uses") + 1)
        # One agent answers an item: the reply takes it (a conditional update), and someone
        # else's item is refused — two agents racing on one item send one reply.
        from django.db.models import Q

        if not Item.objects.filter(Q(assignee=None) | Q(assignee=member), pk=item.pk).update(assignee=member):
            item.refresh_from_db()
            holder = item.assignee.display_name if item.assignee else "—"
            raise ActionError(_("这条工单由 %(name)s 处理：请先让对方转给你，回复已保留在输入框里。") % {"name": holder}, "text")
        audit.record(member.enterprise, member, "item.replied", item, request=request, params=_excerpt(item),
                     detail={"reply": reply.pk, "via": via, "review": review})  # fmt: skip
        if review:
            channels.send(item.enterprise, "reply.review", channels.Message(
                title=_("有客服回复待审批"), text=text[:200], url=_url(item),
                data={"item_id": item.pk, "reply_id": reply.pk}))  # fmt: skip
        else:
            _enqueue(reply)
    return reply


def _enqueue(reply: Reply) -> None:
    from guanwei.inbox.replies import send_reply

    transaction.on_commit(lambda: send_reply.enqueue(reply.pk, enterprise_id=reply.enterprise_id))


def needs_approval(item: Item) -> bool:
    """Whether the enterprise wants replies to this item approved (its ReplyApproval rules)."""
    from django.db.models import Q

    from guanwei.inbox.models import ReplyApproval

    return ReplyApproval.objects.filter(
        Q(account__isnull=True) | Q(account_id=item.account_id), Q(category="") | Q(category=item.category),
        enterprise_id=item.enterprise_id,
    ).exists()


def do_review_reply(member: Member, reply: Reply, *, approve: bool, comment: str = "", request: Any = None) -> Reply:
    """A reviewer approves a reply (it is queued and goes out) or sends it back to its author as a
    draft with a comment. The author never approves their own reply."""
    require(member, APPROVE)
    if reply.enterprise_id != member.enterprise_id:
        raise ActionError(_("没有这条回复。"))
    if reply.member_id == member.pk:
        raise ActionError(_("不能审批自己写的回复。"))
    to = ReplyState.QUEUED if approve else ReplyState.DRAFT
    updates: dict[str, Any] = {"approved_by": member, "next_attempt_at": clock.now()} if approve else {"error": comment[:300]}
    with transaction.atomic():
        if not transition(reply, to, expected=ReplyState.IN_REVIEW, actor=member, request=request, updates=updates,
                          reason=comment[:100], audit_params={"excerpt": reply.text[:40]}):  # fmt: skip
            raise ActionError(_("这条回复已经不在待审批状态。"))
        reply.refresh_from_db()
        if approve:
            _enqueue(reply)
    return reply


def do_hide_spam(member: Member, item: Item, request: Any = None) -> Item:
    """Mark a spam comment on our post: the item is solved as spam, audited. Weibo's API deletes
    only the app user's own comments (comments/destroy, error 20203 — PLATFORM_APIS §2), and
    Mastodon none of another's, so removing it is left to a person in the platform's own app (a
    post's owner may delete comments there): the answer says so, with the link."""
    require(member, REPLY)
    _check_account(member, item)
    if item.kind != "comment":
        raise ActionError(_("只有我们微博下的评论可以标为垃圾并删除；@提及和私信请直接设为已解决。"))
    with transaction.atomic():
        Item.objects.filter(pk=item.pk).update(category="spam", updated_at=clock.now())
        audit.record(member.enterprise, member, "item.hidden", item, request=request, params=_excerpt(item),
                     detail={"comment": item.mention.remote_id, "text": item.mention.text[:200], "url": item.mention.url})  # fmt: skip
    item.refresh_from_db()
    if item.status != ItemStatus.SOLVED:
        item = do_set_status(member, item, ItemStatus.SOLVED, request)
    return item


def do_escalate(member: Member, items: list[Item], *, incident: Any = None, title: str = "", request: Any = None) -> Any:
    """Hand items to PR: attach them to an incident, or open one (monitoring's incident room)."""
    from guanwei.monitoring import incidents as room

    require(member, REPLY)
    if not items:
        raise ActionError(_("请选择工单。"), "items")
    for item in items:
        _check_account(member, item)
    with transaction.atomic():
        if incident is None:
            require(member, "monitor.manage")
            worst = max(items, key=lambda i: i.priority == "urgent")
            incident = room.do_open_incident(member, title=(title or worst.excerpt)[:120], severity=6 if worst.priority == "urgent" else 4,
                                             request=request)  # fmt: skip
        elif incident.enterprise_id != member.enterprise_id:
            raise ActionError(_("没有这个事件。"), "incident")
        Item.objects.filter(pk__in=[i.pk for i in items]).update(incident=incident, updated_at=clock.now())
        for item in items:
            audit.record(member.enterprise, member, "item.escalated", item, request=request, params=_excerpt(item),
                         detail={"incident": incident.pk})  # fmt: skip
    return incident


MAX_TAGS, MAX_TAG = 10, 20


def do_set_customer_note(member: Member, item: Item, *, tags: str, note: str, request: Any = None) -> Any:
    """The customer's tags (comma- or space-separated) and note, kept for every item of theirs."""
    from guanwei.inbox.models import CustomerNote

    require(member, REPLY)
    _check_account(member, item)
    if item.author is None:
        raise ActionError(_("这条工单没有可识别的客户。"))
    found = [t for t in re.split(r"[,，、\s]+", tags.strip()) if t]
    if len(found) > MAX_TAGS or any(len(t) > MAX_TAG or "\x00" in t for t in found):
        raise ActionError(_("最多 %(n)d 个标签，每个最长 %(m)d 个字。") % {"n": MAX_TAGS, "m": MAX_TAG}, "tags")
    note = note.strip()
    if len(note) > MAX_NOTE or "\x00" in note:
        raise ActionError(_("请填写内容（最长 2000 个字）。"), "note")
    with transaction.atomic():
        saved, _created = CustomerNote.objects.update_or_create(
            author=item.author, defaults={"enterprise_id": item.enterprise_id, "tags": list(dict.fromkeys(found)),
                                          "note": note, "updated_by": member, "updated_at": clock.now()})  # fmt: skip
        audit.record(member.enterprise, member, "customer.noted", item, request=request, params=_excerpt(item),
                     detail={"tags": saved.tags})  # fmt: skip
    return saved


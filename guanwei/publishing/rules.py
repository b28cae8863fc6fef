"""The enterprise's publishing rules and their `do_*` actions: approval chains (per account and
content type, 1–3 tiers), the sensitive-word list (added one by one or imported from a file),
and the calendar's tags (content series, campaigns). Each change is audited."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from guanwei.core import audit, clock
from guanwei.core.errors import ActionError
from guanwei.core.models import Member
from guanwei.core.permissions import PERMISSIONS, require
from guanwei.matrix.models import Account
from guanwei.publishing.models import (
    ApprovalPolicy,
    ApprovalTier,
    Campaign,
    ContentKind,
    PublishingSettings,
    SensitiveWord,
    Series,
    TierMode,
    WordAction,
)
from guanwei.textkit.normalize import fold

MANAGE = "publishing.manage"
MAX_WORDS = 20_000
MAX_IMPORT_BYTES = 2 * 1024 * 1024


# ---------------------------------------------------------------- approval chains


def do_save_policy(
    member: Member, policy: ApprovalPolicy | None, *, name: str, position: int, content_type: str,
    accounts: list[Account], tiers: list[dict[str, Any]], request: Any = None,
) -> ApprovalPolicy:  # fmt: skip
    """Create or change a chain. `tiers`: 1–3 of {"name", "mode", "reviewers": [Member]}."""
    require(member, MANAGE)
    if not name.strip():
        raise ActionError(_("请填写名称。"), "name")
    if content_type and content_type not in ContentKind.values:
        raise ActionError(_("没有这种内容类型。"), "content_type")
    if not 1 <= len(tiers) <= 3:
        raise ActionError(_("审批流程须有 1 到 3 级。"), "tier1_mode")
    for i, tier in enumerate(tiers, start=1):
        if tier["mode"] not in TierMode.values:
            raise ActionError(_("没有这种审批方式。"), f"tier{i}_mode")
        if tier["mode"] == TierMode.ALL and not tier["reviewers"]:
            raise ActionError(_("“全部批准”须指定审核人。"), f"tier{i}_reviewers")
        for reviewer in tier["reviewers"]:
            if reviewer.enterprise_id != member.enterprise_id or reviewer.role not in PERMISSIONS["post.review"]:
                raise ActionError(_("%(name)s 没有审核权限。") % {"name": reviewer.display_name}, f"tier{i}_reviewers")
    if any(a.enterprise_id != member.enterprise_id for a in accounts):
        raise ActionError(_("没有这个账号。"), "accounts")
    with transaction.atomic():
        created = policy is None
        if policy is None:
            policy = ApprovalPolicy(enterprise=member.enterprise)
        policy.name, policy.position, policy.content_type = name.strip()[:60], position, content_type
        policy.save()
        policy.accounts.set(accounts)
        policy.tiers.all().delete()
        for i, tier in enumerate(tiers, start=1):
            row = ApprovalTier.objects.create(policy=policy, position=i, name=tier["name"][:40], mode=tier["mode"])
            row.reviewers.set(tier["reviewers"])
        audit.record(member.enterprise, member, "approval_policy.created" if created else "approval_policy.changed",
                     policy, request=request, params={"name": policy.name},
                     detail={"tiers": [{"mode": t["mode"], "reviewers": [r.pk for r in t["reviewers"]]} for t in tiers],
                             "accounts": [a.pk for a in accounts], "content_type": content_type})  # fmt: skip
    return policy


def do_delete_policy(member: Member, policy: ApprovalPolicy, request: Any = None) -> None:
    require(member, MANAGE)
    with transaction.atomic():
        audit.record(member.enterprise, member, "approval_policy.deleted", policy, request=request,
                     params={"name": policy.name})  # fmt: skip
        policy.delete()


def do_set_late_cutoff(member: Member, minutes: int, request: Any = None) -> PublishingSettings:
    """How late a post may still go out; later than this it is missed and its author told."""
    require(member, MANAGE)
    if not 5 <= minutes <= 24 * 60:
        raise ActionError(_("迟发上限须在 5 到 1440 分钟之间。"), "late_cutoff_minutes")
    settings, _created = PublishingSettings.objects.update_or_create(
        enterprise_id=member.enterprise_id, defaults={"late_cutoff_minutes": minutes}
    )  # fmt: skip
    audit.record(member.enterprise, member, "publishing.settings_changed", None, request=request,
                 params={"late_cutoff_minutes": minutes})  # fmt: skip
    return settings


# ---------------------------------------------------------------- sensitive words


def _clean_word(word: str, field: str = "word") -> tuple[str, str]:
    word = word.strip()
    if not word or "\x00" in word:
        raise ActionError(_("请填写敏感词。"), field)
    if len(word) > 50:
        raise ActionError(_("敏感词最长 50 个字。"), field)
    folded = fold(word)
    if not folded:
        raise ActionError(_("“%(word)s”只有标点或空白，无法匹配。") % {"word": word[:20]}, field)
    return word, folded[:50]


def do_add_word(member: Member, word: str, action: str = WordAction.BLOCK, note: str = "",
                request: Any = None) -> SensitiveWord:  # fmt: skip
    require(member, MANAGE)
    word, folded = _clean_word(word)
    if action not in WordAction.values:
        raise ActionError(_("没有这种处理方式。"), "action")
    if SensitiveWord.objects.filter(enterprise_id=member.enterprise_id).count() >= MAX_WORDS:
        raise ActionError(_("词表已有 %(n)d 个词，达到上限。") % {"n": MAX_WORDS}, "word")
    try:
        with transaction.atomic():
            row = SensitiveWord.objects.create(enterprise=member.enterprise, word=word, folded=folded,
                                               action=action, note=note.strip()[:100])  # fmt: skip
    except IntegrityError:
        raise ActionError(_("“%(word)s”已在词表中（繁简、全半角、大小写视为相同）。") % {"word": word}, "word") from None
    audit.record(member.enterprise, member, "sensitive_word.added", row, request=request,
                 params={"word": word}, detail={"action": action})  # fmt: skip
    return row


def do_set_word_action(member: Member, word: SensitiveWord, action: str, request: Any = None) -> None:
    require(member, MANAGE)
    if action not in WordAction.values:
        raise ActionError(_("没有这种处理方式。"), "action")
    SensitiveWord.objects.filter(pk=word.pk).update(action=action, updated_at=clock.now())
    audit.record(member.enterprise, member, "sensitive_word.changed", word, request=request,
                 params={"word": word.word}, detail={"action": action})  # fmt: skip


def do_delete_word(member: Member, word: SensitiveWord, request: Any = None) -> None:
    require(member, MANAGE)
    audit.record(member.enterprise, member, "sensitive_word.deleted", word, request=request, params={"word": word.word})
    word.delete()


def do_import_words(member: Member, data: bytes, default_action: str = WordAction.BLOCK,
                    request: Any = None) -> dict[str, int]:  # fmt: skip
    """Import a word list: one word per line, optionally `word,block|warn[,note]`. The whole
    file is checked first; one bad line imports nothing and says which line and why. Words
    already on the list keep their entry (their action is updated to the file's)."""
    require(member, MANAGE)
    if len(data) > MAX_IMPORT_BYTES:
        raise ActionError(_("文件超过 2 MB。"), "file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ActionError(_("文件不是 UTF-8 编码。"), "file") from None
    rows: dict[str, tuple[str, str, str]] = {}
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(",")]
        action = parts[1].lower() if len(parts) > 1 and parts[1] else default_action
        if action not in WordAction.values:
            errors.append(_("第 %(n)d 行：处理方式须为 block 或 warn，而不是“%(a)s”。") % {"n": number, "a": action[:20]})
            continue
        try:
            word, folded = _clean_word(parts[0], "file")
        except ActionError as exc:
            errors.append(_("第 %(n)d 行：%(reason)s") % {"n": number, "reason": exc.message})
            continue
        rows[folded] = (word, action, ",".join(parts[2:])[:100])
    if errors:  # every bad line, and nothing imported
        more = _("……另有 %(n)d 处") % {"n": len(errors) - 10} if len(errors) > 10 else ""
        raise ActionError("；".join(errors[:10]) + more, "file")
    if not rows:
        raise ActionError(_("文件里没有词。"), "file")
    existing = {w.folded: w for w in SensitiveWord.objects.filter(enterprise_id=member.enterprise_id)}
    if len(existing.keys() | rows.keys()) > MAX_WORDS:
        raise ActionError(_("导入后词表将超过 %(n)d 个词的上限。") % {"n": MAX_WORDS}, "file")
    now = clock.now()
    added = updated = 0
    with transaction.atomic():
        new = []
        for folded, (word, action, note) in rows.items():
            if folded in existing:
                if existing[folded].action != action:
                    SensitiveWord.objects.filter(pk=existing[folded].pk).update(action=action, updated_at=now)
                    updated += 1
            else:
                new.append(SensitiveWord(enterprise=member.enterprise, word=word, folded=folded, action=action,
                                         note=note, updated_at=now))  # fmt: skip
        SensitiveWord.objects.bulk_create(new, batch_size=1000)
        added = len(new)
        audit.record(member.enterprise, member, "sensitive_word.imported", None, request=request,
                     params={"added": added, "updated": updated})  # fmt: skip
    return {"added": added, "updated": updated, "unchanged": len(rows) - added - updated}


# ---------------------------------------------------------------- series and campaigns


def do_add_tag(member: Member, kind: str, name: str, starts_on: Any = None, ends_on: Any = None,
               request: Any = None) -> Series | Campaign:  # fmt: skip
    require(member, "campaign.manage")
    name = name.strip()
    if not name or "\x00" in name:
        raise ActionError(_("请填写名称。"), "name")
    if kind == "campaign" and starts_on and ends_on and ends_on < starts_on:
        raise ActionError(_("结束日期早于开始日期。"), "ends_on")
    model: type[Series] | type[Campaign] = Series if kind == "series" else Campaign
    extra = {"starts_on": starts_on, "ends_on": ends_on} if kind == "campaign" else {}
    try:
        with transaction.atomic():
            row = model.objects.create(enterprise=member.enterprise, name=name[:60], **extra)
    except IntegrityError:
        raise ActionError(_("已有同名的系列或活动。"), "name") from None
    audit.record(member.enterprise, member, f"{kind}.created", row, request=request, params={"name": row.name})
    return row


def do_delete_tag(member: Member, tag: Series | Campaign, request: Any = None) -> None:
    require(member, "campaign.manage")
    kind = "series" if isinstance(tag, Series) else "campaign"
    audit.record(member.enterprise, member, f"{kind}.deleted", tag, request=request, params={"name": tag.name})
    tag.delete()

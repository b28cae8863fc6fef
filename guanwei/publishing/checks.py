"""Pre-publish checks: shown while typing (the composer's live panel, `report`), enforced when a
post is created, submitted and approved, and again at send time (publishing.dispatch).

* length — the platform's rule (Weibo: textkit's `weibo_length`, the server's own count);
* what the API cannot carry (publishing.manual: e.g. Weibo's share without a safe-domain link)
  — not an error: the target becomes an assisted manual task;
* the account — authorised, token not expired; its remaining hourly budget (shown);
* the enterprise's sensitive words — `block` refuses, `warn` shows; matched folded (traditional/
  simplified, full/half width, case) by textkit's automaton, one compiled matcher per list;
* a near-duplicate of what the same account published in the last 30 days (textkit
  fingerprint) — a warning: the reviewer sees it too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import Count, Max, Min
from django.utils.translation import gettext as _

from guanwei.core import clock
from guanwei.core.errors import ActionError
from guanwei.matrix.models import Account, Health, PlatformKind
from guanwei.publishing.manual import manual_reason
from guanwei.publishing.models import Publication, SensitiveWord, WordAction
from guanwei.textkit.fingerprint import MIN_SHINGLED_CHARS, fingerprint, hamming, voice_text
from guanwei.textkit.length import SHARE_LIMIT, weibo_length
from guanwei.textkit.query import Matcher, MatchText, compile_rules, highlight

MASTODON_MAX_CHARACTERS = 500
DUPLICATE_DAYS = 30
DUPLICATE_BITS = 8  # fingerprints this close: Jaccard of the bigram sets ≳ 0.75
DUPLICATE_SCAN = 300  # the account's latest publications looked at


# ---------------------------------------------------------------- length and platform rules


def check_text(text: str, account: Account, field: str = "text", *, repost: bool = False) -> None:
    """The platform's length rule for `account` (also checked again at send time)."""
    if not text.strip() and not repost:
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


def check_account(account: Account, field: str = "accounts") -> None:
    if not account.token:
        raise ActionError(_("账号 @%(name)s 未授权，请先在账号矩阵中连接。") % {"name": account.screen_name}, field)
    if account.health == Health.TOKEN_EXPIRED:
        raise ActionError(_("账号 @%(name)s 的授权已失效，请先重新授权。") % {"name": account.screen_name}, field)


# ---------------------------------------------------------------- sensitive words


@dataclass
class WordHit:
    word: str
    action: str
    spans: list[tuple[int, int]] = field(default_factory=list)  # where, in the original text


def _quoted(word: str) -> str:
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


_matchers: dict[int, tuple[tuple[Any, ...], Matcher[int], dict[int, tuple[str, str]]]] = {}
_lock = threading.Lock()


def _matcher(enterprise_id: int) -> tuple[Matcher[int] | None, dict[int, tuple[str, str]]]:
    """The enterprise's compiled word list, rebuilt when the list changes (one aggregate query
    tells: count, newest id, latest change — works across web and worker processes)."""
    words = SensitiveWord.objects.filter(enterprise_id=enterprise_id)
    stamp = tuple(words.aggregate(n=Count("pk"), top=Max("pk"), at=Max("updated_at"), hi=Max("folded"),
                                  lo=Min("folded")).values())  # fmt: skip
    if not stamp[0]:
        return None, {}
    cached = _matchers.get(enterprise_id)
    if cached and cached[0] == stamp:
        return cached[1], cached[2]
    rows = {pk: (word, action) for pk, word, action in words.values_list("pk", "word", "action")}
    matcher = compile_rules({pk: _quoted(word) for pk, (word, _a) in rows.items()})
    with _lock:
        _matchers[enterprise_id] = (stamp, matcher, rows)
    return matcher, rows


def word_hits(enterprise_id: int, text: str) -> list[WordHit]:
    """The sensitive words in `text`, blocking ones first."""
    if not text:
        return []
    matcher, rows = _matcher(enterprise_id)
    if matcher is None:
        return []
    hits = []
    for pk in matcher.match([MatchText(text)])[0]:
        word, action = rows[pk]
        hits.append(WordHit(word, action, highlight(_quoted(word), text)))
    return sorted(hits, key=lambda h: (h.action != WordAction.BLOCK, h.word))


def check_words(enterprise_id: int, text: str, field: str = "text") -> None:
    blocked = [h.word for h in word_hits(enterprise_id, text) if h.action == WordAction.BLOCK]
    if blocked:
        raise ActionError(_("正文含有禁止发布的敏感词：%(words)s") % {"words": "、".join(blocked[:10])}, field)


# ---------------------------------------------------------------- near-duplicates


@dataclass
class Duplicate:
    post_id: int
    published_at: Any
    text: str


def near_duplicates(account: Account, text: str, exclude_post: int | None = None) -> list[Duplicate]:
    """What `account` published in the last 30 days that says nearly the same as `text`."""
    since = clock.now() - timedelta(days=DUPLICATE_DAYS)
    rows = list(
        Publication.objects.filter(target__account=account, published_at__gte=since)
        .exclude(target__post_id=exclude_post)
        .select_related("target__post")
        .order_by("-published_at")[:DUPLICATE_SCAN]
    )
    if not rows or not voice_text(text):
        return []
    bodies = [r.target.body for r in rows]
    mine, *theirs = fingerprint([text, *bodies])
    short = len(voice_text(text)) < MIN_SHINGLED_CHARS
    found = []
    for row, body, print_ in zip(rows, bodies, theirs, strict=True):
        same = print_ == mine if short else hamming(print_, mine) <= DUPLICATE_BITS
        if same:
            found.append(Duplicate(row.target.post_id, row.published_at, body))
    return found[:5]


# ---------------------------------------------------------------- the live panel


@dataclass
class AccountReport:
    account: Account
    error: str = ""
    own_text: bool = False  # a per-account text
    units: int = 0
    manual: str = ""  # why this would be an assisted manual task
    budget: Any = None
    duplicates: list[Duplicate] = field(default_factory=list)


@dataclass
class Report:
    units: int
    words: list[WordHit]
    accounts: list[AccountReport]

    @property
    def chars(self) -> int:
        return (self.units + 1) // 2

    @property
    def left(self) -> int:
        return (SHARE_LIMIT - self.units) // 2

    @property
    def over(self) -> bool:
        return self.units > SHARE_LIMIT

    @property
    def over_by(self) -> int:
        return (self.units - SHARE_LIMIT + 1) // 2

    @property
    def blocked(self) -> bool:
        return any(h.action == WordAction.BLOCK for h in self.words)


def report(enterprise_id: int, text: str, accounts: list[Account], *, images: int = 0,
           repost: bool = False, exclude_post: int | None = None,
           variants: dict[int, str] | None = None) -> Report:  # fmt: skip
    """Everything the composer shows while typing, for the chosen accounts (each with its own
    per-account text when it has one)."""
    variants = variants or {}
    from guanwei.matrix.queries import remaining_for

    budgets = remaining_for([a for a in accounts if a.token]) if accounts else {}
    out = []
    for account in accounts:
        body = variants.get(account.pk) or text
        item = AccountReport(account, budget=budgets.get(account.pk), own_text=account.pk in variants)
        item.units = weibo_length(body)
        try:
            check_account(account)
            check_text(body, account, repost=repost)
        except ActionError as exc:
            item.error = exc.message
        item.manual = manual_reason(account, body, images=images, repost=repost)
        item.duplicates = near_duplicates(account, body, exclude_post) if body.strip() else []
        out.append(item)
    words: dict[str, WordHit] = {}
    for body in [text, *variants.values()]:
        for hit in word_hits(enterprise_id, body):
            words.setdefault(hit.word, hit)
    hits = sorted(words.values(), key=lambda h: (h.action != WordAction.BLOCK, h.word))
    return Report(weibo_length(text), hits, out)

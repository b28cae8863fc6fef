"""Top terms (热词) of a set of posts, without a dictionary: Chinese has no spaces between words,
so a term is a *repeated* run of Chinese characters that is not mostly part of a longer repeated
run — plus ``#话题#`` topics and Latin words (brand and model names).

    >>> [(t.term, t.count) for t in top_terms(["示例乳业的酸奶变质了", "示例乳业酸奶变质", "酸奶不错"])]
    [('酸奶', 3), ('示例乳业', 2), ('酸奶变质', 2)]

How, for each text (folded: simplified, lower case, half-width; without URLs, ``@names`` and the
``//@name:`` repost chain, which repeats what earlier reposters said):

1. its ``#topics#``, Latin/digit words (at least one letter, 2+ characters) and every run of
   2–``MAX_LEN`` Chinese characters that holds no 的 or 了, neither starts nor ends with a
   function character (``EDGE_STOP``: 是 在 我 这 …; nor ends with 有) and is not a stop-word
   (``STOPWORDS``), each counted once per text — a count is the number of texts that say it, so
   one text repeating a word does not make it hot. Emoticon codes ("[哈哈]") are dropped;
2. the runs said in at least ``min_count`` texts are candidates;
3. a candidate is dropped when a longer candidate that contains it is said in at least
   ``CONTAINED_SHARE`` of its texts ("例乳业" inside "示例乳业"; "变质" if nearly always "酸奶变质"),
   so what is left are the longest runs people repeat. Runs of ``MAX_LEN + 1`` characters are
   counted only to drop the fragments of longer repeated sentences; they are never shown.

Ranked by count, then longer first, then by code point (deterministic). A heuristic, not a
segmenter: a two-character word that is usually said inside one longer phrase shows as that
phrase, and rare proper names need ``min_count`` texts to show at all.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from guanwei.textkit._ngrams import to_batch
from guanwei.textkit.normalize import fold

__all__ = [
    "CONTAINED_SHARE",
    "BREAK",
    "EDGE_STOP",
    "END_STOP",
    "MAX_LEN",
    "STOPWORDS",
    "TermCount",
    "contains_any",
    "top_terms",
]

MAX_LEN = 6
CONTAINED_SHARE = 0.75

# A term never starts or ends with these (particles, pronouns, the commonest function words).
# Left out on purpose, because brand and product words start or end with them: 有 (有机), 会
# (会员), 能 (能量), 要 (重要), 对 (对比), 不 (不新鲜), 好 (好喝), 个 (个人).
EDGE_STOP = frozenset(
    "的了着过是在和与及也都就又还吗呢吧啊呀哦嗯啦嘛哟我你他她它们这那很太被把之并而或但"
)
# Nor ends with these: 有 starts words (有机) but ends almost only fragments ("奶有" of "奶有没有").
END_STOP = EDGE_STOP | frozenset("有")
# A term never holds these at all: a run is cut there ("买的示例" is two words, not one).
BREAK = frozenset("的了")

# Words (after folding) that are never terms: function words, Weibo's boilerplate, web noise.
STOPWORDS = frozenset(
    """
    有没有 有没 说真的 说真 讲真 请问 真的 好的 emm emmm emmmm 一个 一些 一样 一下 一直 一定 一起 一般 一点 不是 不要 不会 不能 不过 不了 什么 为什么 怎么 怎么样
    怎样 这样 那样 这么 那么 这种 那种 这些 那些 这里 那里 哪里 如何 为何 以及 以后 以前 以上 以下
    可以 可能 应该 因为 所以 但是 而且 并且 或者 还是 然后 如果 虽然 虽说 即使 只是 只有 只要 就是
    不但 不仅 而是 于是 由于 对于 关于 其他 其中 其实 自己 大家 咱们 人家 别人 有人 有的 没有 没人
    已经 正在 还有 还要 现在 今天 昨天 明天 今年 去年 时候 时间 之后 之前 之间 之中 一次 每次 真的
    觉得 知道 感觉 看到 看看 出来 起来 下来 上来 过来 回来 的话 东西 事情 问题 地方 这个 那个 哪个
    多少 非常 特别 比较 真是 实在 确实 当然 一种 有点 有些 有点儿 所有 任何 各种 个人 们的 怎么办 有一 一天 个月 不知道 一个人 为自己 一定要
    转发微博 转发 转载 网页链接 展开全文 收起全文 全文 微博 微博视频 的微博视频 秒拍视频 分享图片
    分享视频 查看图片 原图 视频 图片 来自 客户端 回复 评论 哈哈 哈哈哈 呵呵 嘿嘿 嘻嘻
    http https www com cn html the and for you are not but with this that have from was
    repost via
    """.split()
)

_TOPIC = re.compile(r"#([^#\s][^#]{0,63})#")
_EMOTICON = re.compile(r"\[[^\[\]\s]{1,8}\]")  # Weibo's [哈哈] codes: a mood, not a term
_LATIN = re.compile(r"[a-z0-9][a-z0-9+\-.]*[a-z0-9+]|[a-z]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_START_CODES = np.array(sorted(ord(c) for c in EDGE_STOP), dtype=np.uint32)
_END_CODES = np.array(sorted(ord(c) for c in END_STOP), dtype=np.uint32)
_BREAK_CODES = np.array(sorted(ord(c) for c in BREAK), dtype=np.uint32)
_PRIME = np.uint64(0x100000001B3)  # FNV's 64-bit prime: a polynomial hash of each run


@dataclass(frozen=True)
class TermCount:
    term: str
    count: int  # texts that say it


def _prepare(text: str) -> tuple[str, set[str]]:
    """The folded text without topics and emoticon codes (for the Chinese runs), and its topics
    and Latin words."""
    folded = fold(text, keep_urls=False, keep_mentions=False, keep_repost_chain=False)
    words = {f"#{topic.strip()}#" for topic in _TOPIC.findall(folded)}
    rest = _EMOTICON.sub(" ", _TOPIC.sub(" ", folded))
    for word in _LATIN.findall(rest):
        if len(word) >= 2 and any(c.isalpha() for c in word) and word not in STOPWORDS:
            words.add(word)
    return rest, words


def _han_counts(texts: list[str], max_len: int, min_count: int) -> dict[str, int]:
    """Runs of 2–max_len Chinese characters without a function character at either end, with
    the number of texts that contain each; only those in at least min_count texts (stop-words
    too: "为什么" must still hide "为什"). Vectorised: every run is hashed to 64 bits in a few numpy
    passes over the whole batch instead of a Python loop per character (among a million runs,
    two share a hash with a chance of about 3 in 100 million)."""
    batch = to_batch(texts)
    cps = batch.codepoints
    han = (
        ((cps >= 0x3400) & (cps <= 0x4DBF))
        | ((cps >= 0x4E00) & (cps <= 0x9FFF))
        | ((cps >= 0xF900) & (cps <= 0xFAFF))
    ) & ~np.isin(cps, _BREAK_CODES)
    starts_ok = han & ~np.isin(cps, _START_CODES)
    ends_ok = han & ~np.isin(cps, _END_CODES)
    not_han = np.concatenate(([0], np.cumsum(~han)))  # not_han[j] - not_han[i]: breaks in [i, j)
    wide = cps.astype(np.uint64)
    total = cps.shape[0]
    hashed = wide.copy()
    keys, starts, sizes = [], [], []
    with np.errstate(over="ignore"):  # the hash wraps around 2**64 on purpose
        for n in range(2, max_len + 1):
            count = total - n + 1
            if count <= 0:
                break
            hashed = hashed[:count] * _PRIME + wide[n - 1 : n - 1 + count]
            whole = (not_han[n : n + count] - not_han[:count]) == 0
            where = np.flatnonzero(starts_ok[:count] & ends_ok[n - 1 : n - 1 + count] & whole)
            keys.append(hashed[where] ^ np.uint64(n))
            starts.append(where)
            sizes.append(np.full(where.size, n, dtype=np.int64))
    if not keys:
        return {}
    key = np.concatenate(keys)
    start = np.concatenate(starts)
    size = np.concatenate(sizes)
    doc = batch.doc[start]
    order = np.lexsort((doc, key))
    key, doc = key[order], doc[order]
    once = np.ones(key.size, dtype=bool)  # the first occurrence of a run in each text
    once[1:] = (key[1:] != key[:-1]) | (doc[1:] != doc[:-1])
    key, first = key[once], order[once]
    new = np.ones(key.size, dtype=bool)
    new[1:] = key[1:] != key[:-1]
    groups = np.flatnonzero(new)
    counts = np.diff(np.append(groups, key.size))
    joined = "\x00".join(texts)  # the offsets of to_batch: each text and one separator
    found: dict[str, int] = {}
    often = counts >= min_count
    for group, said in zip(groups[often].tolist(), counts[often].tolist(), strict=True):
        at = int(start[first[group]])
        found[joined[at : at + int(size[first[group]])]] = said
    return found


def top_terms(texts: Iterable[str], *, limit: int = 30, min_count: int = 2) -> list[TermCount]:
    """The `limit` most said terms of `texts` (see the module docstring)."""
    prepared: list[str] = []
    words: Counter[str] = Counter()
    for text in texts:
        rest, found = _prepare(text)
        prepared.append(rest)
        words.update(found)
    candidates = _han_counts(prepared, MAX_LEN + 1, min_count)
    # the largest count of a longer Chinese candidate that contains each one
    contained_in: dict[str, int] = {}
    for term, n in candidates.items():
        for part_size in range(2, len(term)):
            for i in range(len(term) - part_size + 1):
                part = term[i : i + part_size]
                if part in candidates and contained_in.get(part, 0) < n:
                    contained_in[part] = n
    kept = [
        TermCount(term, n)
        for term, n in candidates.items()
        if len(term) <= MAX_LEN
        and term not in STOPWORDS
        and contained_in.get(term, 0) < CONTAINED_SHARE * n
    ]
    kept += [TermCount(word, n) for word, n in words.items() if n >= min_count]
    kept.sort(key=lambda t: (-t.count, -len(t.term), t.term))
    return kept[:limit]


def contains_any(term: str, words: Sequence[str]) -> bool:
    """Is `term` one of `words`, part of one, or does it contain one? (A monitor's own rule
    terms are marked on the page: every matched post says them.)"""
    bare = term.strip("#")
    return any(w and (w in bare or bare in w) for w in words)

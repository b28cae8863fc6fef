"""Weibo-language texts for the sandbox's simulated netizens.

Two sources, one interface (`TextSource.text(kind, ...)`):

* built-in templates committed in `data/texts_zh.txt` (always available, so the demo works on any
  machine), with slots for the demo brand, its products, order numbers, @mentions, …;
* real Weibo posts from `$GUANWEI_DATA_DIR` when it is set — SMP2020-EWECT (picked by emotion
  label) and weibo_senti_100k (by sentiment) — with real dairy brands substituted by the demo
  enterprise 示例乳业 and its products, real @handles replaced, and a brand hook added when the
  post names no brand, so the monitoring side sees the brand in real language.

Everything here is pure (no database) and deterministic for a seeded `random.Random`.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

TEMPLATES_PATH = Path(__file__).with_name("data") / "texts_zh.txt"

#: Kinds a caller may ask for (the section names of the template file).
KINDS = (
    "praise",
    "question",
    "complaint",
    "crisis_angry",
    "crisis_fear",
    "crisis_calm",
    "rumour",
    "lottery",
    "bot_lottery",
    "launch_hype",
    "chatter",
    "repost_comment",
    "dm_question",
    "dm_complaint",
    "reply",
    "official_statement",
    "official_launch",
    "official_lottery",
    "official_daily",
    "official_reply",
)

#: Which real-data labels feed which kind: (dataset, label). Kinds absent here are template-only
#: (questions with order numbers, rumours about the brand, lottery entries, official posts).
DATASET_LABELS: dict[str, tuple[tuple[str, object], ...]] = {
    "praise": (("ewect", "happy"), ("senti", 1)),
    "complaint": (("ewect", "angry"), ("senti", 0)),
    "crisis_angry": (("ewect", "angry"),),
    "crisis_fear": (("ewect", "fear"), ("ewect", "sad")),
    "chatter": (("ewect", "neutral"), ("ewect", "happy"), ("ewect", "surprise")),
}

EMOJI = ("[赞]", "[哈哈]", "[心]", "[good]", "[鼓掌]", "[doge]", "[允悲]", "[泪]", "[吃瓜]", "[酷]")
CITIES = (
    "北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安", "南京", "重庆",
    "天津", "苏州", "长沙", "郑州", "沈阳", "青岛", "呼和浩特", "哈尔滨", "昆明", "厦门",
)  # fmt: skip

# Real brands and products that appear in the data sets → the demo enterprise's names. Only
# names that are unambiguous: not 苹果/小米 (fruit, grain), 光明 (bright) or 三元 (three yuan)
# on their own.
_REAL_COMPANIES = ("蒙牛乳业", "伊利集团", "伊利股份", "光明乳业", "三元食品", "君乐宝", "飞鹤", "蒙牛", "伊利", "三鹿", "雀巢")  # fmt: skip
_REAL_PRODUCTS = ("特仑苏", "安慕希", "金典", "纯甄", "优酸乳", "酸酸乳", "QQ星", "舒化奶", "莫斯利安", "真果粒", "未来星")  # fmt: skip
_HANDLE = re.compile(r"@[\w\-\u4e00-\u9fff]{1,30}")
_URL = re.compile(r"https?://\S+")
_SPACES = re.compile(r"\s+")
_SECTION = re.compile(r"^\[\[([a-z_]+)\]\]$")


@dataclass(frozen=True)
class Brand:
    """The demo enterprise as netizens talk about it."""

    name: str = "示例乳业"
    products: tuple[str, ...] = (
        "示例纯牛奶", "示例酸奶", "示例有机奶", "示例儿童成长奶", "示例早餐奶", "示例奶粉",
    )  # fmt: skip
    #: What goes wrong in a crisis ("{product}{issue}").
    issues: tuple[str, ...] = (
        "喝出异味", "检出菌落总数超标", "批量胀包变质", "被曝使用过期原料", "喝出异物",
    )  # fmt: skip


DEMO_BRAND = Brand()


@lru_cache(maxsize=1)
def templates() -> dict[str, tuple[str, ...]]:
    """The built-in template lines by kind."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in TEMPLATES_PATH.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = _SECTION.match(line)
        if header:
            current = sections.setdefault(header.group(1), [])
            continue
        if current is None:
            raise ValueError(f"{TEMPLATES_PATH}: text before the first [section]: {line!r}")
        current.append(line)
    missing = set(KINDS) - sections.keys()
    if missing:
        raise ValueError(f"{TEMPLATES_PATH}: missing sections {sorted(missing)}")
    return {kind: tuple(lines) for kind, lines in sections.items()}


def default_data_dir() -> str:
    """`GUANWEI_DATA_DIR` (through Django settings when they are configured)."""
    try:
        from django.conf import settings

        if settings.configured:
            return str(getattr(settings, "DATA_DIR", "") or "")
    except ImportError:  # pragma: no cover - Django is always installed here
        pass
    return os.environ.get("GUANWEI_DATA_DIR", "").strip()


def _read_jsonl_gz(path: Path, limit: int) -> list[dict]:
    rows: list[dict] = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if len(rows) >= limit:
                break
    return rows


def clean_real_text(text: str, brand: Brand = DEMO_BRAND) -> str:
    """A real post made fit for the sandbox: real @handles and links removed, real dairy brands
    replaced by the demo brand and its products, whitespace folded."""
    # Keep the poster's own words: "mine//@a: theirs//@b: …" is a repost chain of other users.
    text = text.split("//@", 1)[0].split("//", 1)[0]
    text = _URL.sub("", text)
    text = _HANDLE.sub("", text)
    for i, name in enumerate(_REAL_PRODUCTS):
        if name in text:
            text = text.replace(name, brand.products[i % len(brand.products)])
    for name in _REAL_COMPANIES:
        if name in text:
            text = text.replace(name, brand.name)
    return _SPACES.sub(" ", text).strip(" /:：")


@lru_cache(maxsize=4)
def dataset_lines(data_dir: str, per_label: int = 4000) -> dict[str, tuple[str, ...]]:
    """Real texts by kind from the data directory (empty when the files are absent). At most
    `per_label` texts per (dataset, label), 4–110 characters after cleaning, de-duplicated."""
    root = Path(data_dir)
    by_source: dict[tuple[str, object], list[str]] = {}
    sources = {
        "ewect": root / "smp2020_ewect" / "usual_train.jsonl.gz",
        "senti": root / "weibo_senti_100k" / "weibo_senti_100k.jsonl.gz",
    }
    for name, path in sources.items():
        if not path.exists():
            continue
        seen: set[str] = set()
        for row in _read_jsonl_gz(path, limit=200_000):
            key = (name, row.get("label"))
            bucket = by_source.setdefault(key, [])
            if len(bucket) >= per_label:
                continue
            text = clean_real_text(str(row.get("text") or ""))
            # '?' marks characters lost in the source's encoding; such texts read badly.
            if not 4 <= len(text) <= 110 or "?" in text or text in seen:
                continue
            seen.add(text)
            bucket.append(text)
    out: dict[str, tuple[str, ...]] = {}
    for kind, labels in DATASET_LABELS.items():
        lines: list[str] = []
        for label in labels:
            lines.extend(by_source.get(label, ()))
        if lines:
            out[kind] = tuple(lines)
    return out


# How a real post that names no brand is tied to the demo brand, per kind.
_HOOKS: dict[str, tuple[str, ...]] = {
    "praise": (
        "{text} 喝着{product}看微博{emoji}",
        "{at} {text}",
        "{text}（今天的{product}也很好喝）",
    ),
    "complaint": ("{at} {text}", "{text} 说的就是{brand}", "买{product}遇到的事：{text}"),
    "crisis_angry": ("{product}{issue}？{text}", "{at} {text}", "{text} {brand}必须给个说法"),
    "crisis_fear": ("{product}{issue}的消息看得心慌，{text}", "{at} {text}"),
    "chatter": ("{text}", "{text}", "{text} 顺手喝了盒{product}"),
}


@dataclass
class TextSource:
    """Produces one post text at a time for a scenario.

    `data_share` is the share of texts taken from real data for kinds that have real data,
    when a data directory is available; the rest come from the templates."""

    rng: random.Random
    data_dir: str | None = None
    brand: Brand = DEMO_BRAND
    data_share: float = 0.5
    _real: dict[str, tuple[str, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        directory = default_data_dir() if self.data_dir is None else self.data_dir
        self.data_dir = directory
        self._real = dataset_lines(directory) if directory else {}

    @property
    def uses_real_data(self) -> bool:
        return bool(self._real)

    def text(
        self,
        kind: str,
        *,
        at: str = "",
        friends: tuple[str, ...] | list[str] = (),
        product: str | None = None,
        issue: str | None = None,
        **slots: object,
    ) -> str:
        """One text of `kind`. `at` is a screen name to mention (without '@'), `friends` names
        for lottery @-chains; other slots (order, batch, …) are filled at random unless given."""
        if kind not in KINDS:
            raise ValueError(f"unknown text kind {kind!r}")
        rng = self.rng
        values: dict[str, object] = {
            "brand": self.brand.name,
            "product": product or rng.choice(self.brand.products),
            "issue": issue or rng.choice(self.brand.issues),
            "at": f"@{at}" if at else "",
            "friends": " ".join(f"@{f}" for f in friends) if friends else "",
            "order": order_number(rng),
            "batch": batch_number(rng),
            "city": rng.choice(CITIES),
            "n": rng.choice((2, 3, 5, 6, 8, 10, 12, 20, 30, 50)),
            "price": rng.choice((39.9, 49.9, 59, 69.9, 88, 99, 128, 168)),
            "emoji": rng.choice(EMOJI),
            "account": at or self.brand.name,
            "service": f"{self.brand.name}客服",
            "date": "本周五",
        }
        values.update(slots)
        real = self._real.get(kind)
        if real and rng.random() < self.data_share:
            values["text"] = rng.choice(real)
            pattern = rng.choice(_HOOKS[kind])
            if not at:
                pattern = pattern.replace("{at} ", "")
        else:
            pattern = rng.choice(templates()[kind])
            if kind in _PERSONAL:
                # People do not copy a line verbatim: an interjection, an emoticon, a "哈哈".
                if rng.random() < 0.25:
                    pattern = rng.choice(_OPENERS) + pattern
                if rng.random() < 0.45:
                    pattern = pattern.rstrip("。") + rng.choice(_CLOSERS)
        return _fill(pattern, values)


# Kinds ordinary people write (bots, official posts and plain "转发微博" stay as they are).
_PERSONAL = frozenset(
    {"praise", "question", "complaint", "crisis_angry", "crisis_fear", "crisis_calm", "rumour",
     "lottery", "launch_hype", "chatter", "dm_question", "dm_complaint", "reply"}
)  # fmt: skip
_OPENERS = ("说真的，", "哎，", "啊啊啊", "emmm ", "讲真，", "救命，", "有一说一，", "")
_CLOSERS = (
    "[哈哈]",
    "[doge]",
    "[允悲]",
    "[泪]",
    "[吃瓜]",
    "！！",
    "。。。",
    "~",
    " 哈哈哈",
    "（小声）",
)

_SLOT = re.compile(r"\{(\w+)\}")


def _fill(pattern: str, values: dict[str, object]) -> str:
    out = _SLOT.sub(lambda m: str(values.get(m.group(1), "")), pattern)
    return _SPACES.sub(" ", out).strip()


def order_number(rng: random.Random) -> str:
    """An e-commerce order number as shops show them: 18 digits starting with a date."""
    return f"2026{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 10**10 - 1):010d}"


def batch_number(rng: random.Random) -> str:
    """A production batch code as printed on a carton, e.g. 20261103B2."""
    return f"2026{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.choice('ABCD')}{rng.randint(1, 9)}"

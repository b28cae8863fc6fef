"""Text normalisation: the one folded form of a post that monitoring matches against.

`fold` is the fast path used on every ingested post; `normalize` does the same work and also keeps
an offset map, so that a match found in the folded text can be highlighted in the original.

Folding, in this order:
1. lone surrogates, control characters (C0/C1 except whitespace), format characters (Unicode
   category Cf: zero-width space/joiners, bidi marks, BOM, soft hyphen, tags), variation selectors
   and the invisible Hangul fillers spammers use are removed; full-width ASCII (U+FF01–U+FF5E) and
   the full-width signs U+FFE0–U+FFE6 become half-width; every whitespace character becomes a space;
2. traditional → simplified Chinese with OpenCC ``t2s`` (phrase-aware; every mapping in the shipped
   dictionaries is length-preserving, and if one ever is not we convert character by character,
   so the offset map stays exact);
3. ``str.casefold()`` (may lengthen a character, e.g. ß → ss; the offset map repeats the index);
4. optionally URLs, ``@mentions``, ``#topics#`` and the ``//@user:`` repost chain are replaced by a
   space (detected on the folded text, so ``＠``, ``＃`` and ``：`` are recognised too);
5. runs of spaces become one space, and leading/trailing spaces are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import opencc

__all__ = ["Normalized", "fold", "normalize", "to_simplified"]

# Unicode category Cf (format characters) as of Unicode 14 (Python 3.11); tests check this list
# against `unicodedata` of the running Python.
_FORMAT_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
# Invisible characters that are not Cf but are used to break up words: combining grapheme joiner,
# variation selectors, Hangul fillers.
_INVISIBLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)


def _build_table() -> tuple[dict[int, int | None], frozenset[str]]:
    table: dict[int, int | None] = {}
    for cp in list(range(0x00, 0x20)) + list(range(0x7F, 0xA0)):
        table[cp] = None
    for lo, hi in _FORMAT_RANGES + _INVISIBLE_RANGES:
        for cp in range(lo, hi + 1):
            table[cp] = None
    for cp in range(0xD800, 0xE000):  # lone surrogates cannot be encoded; drop them
        table[cp] = None
    for ch in _WHITESPACE:
        table[ord(ch)] = 0x20
    for cp in range(0xFF01, 0xFF5F):
        table[cp] = cp - 0xFEE0
    for cp, half in zip(range(0xFFE0, 0xFFE7), "¢£¬¯¦¥₩", strict=True):
        table[cp] = ord(half)
    deleted = frozenset(chr(cp) for cp, v in table.items() if v is None)
    return table, deleted


_TABLE, _DELETED = _build_table()

_CONVERTER = opencc.OpenCC("t2s")


@lru_cache(maxsize=65536)
def _t2s_char(ch: str) -> str:
    out: str = _CONVERTER.convert(ch)
    return out if len(out) == 1 else ch


def _t2s(s: str) -> str:
    """Traditional → simplified, guaranteed to keep the length (and so every position)."""
    if s.isascii():
        return s
    out: str = _CONVERTER.convert(s)
    if len(out) == len(s):
        return out
    return "".join(_t2s_char(c) for c in s)  # pragma: no cover - no such mapping in OpenCC 1.1


_SURROGATES = re.compile("[\ud800-\udfff]")


def to_simplified(text: str) -> str:
    """Traditional → simplified only (lone surrogates dropped); used for regex patterns."""
    return _t2s(_SURROGATES.sub("", text))


# The patterns run on folded text: lower case, half-width, whitespace = " ".
_URL = r"https?://[a-z0-9\-]+(?:\.[a-z0-9\-]+)+[-a-z0-9_$.+!*()/\\,:@&=?~#%;]*|(?<![a-z0-9.\-])t\.cn/[a-z0-9]+"
_NAME = r"[\w\-]{1,30}"
_CHAIN = r"//@" + _NAME + r":.*"
_MENTION = r"//@" + _NAME + r":|(?<![a-z0-9_.])@" + _NAME
_TOPIC = r"#[^#]{1,64}#"


@lru_cache(maxsize=16)
def _strip_pattern(
    keep_urls: bool, keep_mentions: bool, keep_topics: bool, keep_repost_chain: bool
) -> re.Pattern[str]:
    # URLs are always part of the alternation, so that an "@" or "#" inside a URL is never taken
    # for a mention or topic; the chain comes before mentions so "//@a:" starts the chain.
    parts = [f"(?P<url>{_URL})"]
    if not keep_repost_chain:
        parts.append(f"(?P<chain>{_CHAIN})")
    if not keep_mentions:
        parts.append(f"(?P<mention>{_MENTION})")
    if not keep_topics:
        parts.append(f"(?P<topic>{_TOPIC})")
    return re.compile("|".join(parts), re.DOTALL)


def _removed_spans(
    s: str, keep_urls: bool, keep_mentions: bool, keep_topics: bool, keep_repost_chain: bool
) -> list[tuple[int, int]]:
    if keep_urls and keep_mentions and keep_topics and keep_repost_chain:
        return []
    pattern = _strip_pattern(keep_urls, keep_mentions, keep_topics, keep_repost_chain)
    return [m.span() for m in pattern.finditer(s) if not (m.lastgroup == "url" and keep_urls)]


def fold(
    text: str,
    *,
    keep_urls: bool = True,
    keep_mentions: bool = True,
    keep_topics: bool = True,
    keep_repost_chain: bool = True,
) -> str:
    """The folded text alone (no offset map); equal to ``normalize(text, ...).text``."""
    s = _t2s(text.translate(_TABLE)).casefold()
    spans = _removed_spans(s, keep_urls, keep_mentions, keep_topics, keep_repost_chain)
    if spans:
        pieces = []
        pos = 0
        for start, end in spans:
            pieces.append(s[pos:start])
            pos = end
        pieces.append(s[pos:])
        s = " ".join(pieces)
    return " ".join(s.split())


@dataclass(frozen=True)
class Normalized:
    """Folded text plus, for each of its characters, the index of the original character."""

    text: str
    offsets: list[int]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the half-open span ``[start, end)`` of ``text`` to a half-open span of the original.

        The span covers every original character that produced a character in the span (an
        expanded character such as ß → ss maps both halves to the one original character).
        """
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"span ({start}, {end}) outside 0..{len(self.text)}")
        if start == end:
            if start < len(self.offsets):
                return self.offsets[start], self.offsets[start]
            edge = self.offsets[-1] + 1 if self.offsets else 0
            return edge, edge
        return self.offsets[start], self.offsets[end - 1] + 1


def normalize(
    text: str,
    *,
    keep_urls: bool = True,
    keep_mentions: bool = True,
    keep_topics: bool = True,
    keep_repost_chain: bool = True,
) -> Normalized:
    """Fold ``text`` (see the module docstring) and keep the map back to the original."""
    s = text.translate(_TABLE)
    if len(s) == len(text):  # the table only deletes or maps 1:1
        offsets = list(range(len(text)))
    else:
        offsets = [i for i, c in enumerate(text) if c not in _DELETED]
    s = _t2s(s)
    folded = s.casefold()
    if len(folded) != len(s):
        chars: list[str] = []
        expanded: list[int] = []
        for c, off in zip(s, offsets, strict=True):
            f = c.casefold()
            chars.append(f)
            expanded.extend([off] * len(f))
        folded, offsets = "".join(chars), expanded
    s = folded

    spans = _removed_spans(s, keep_urls, keep_mentions, keep_topics, keep_repost_chain)
    if spans:
        pieces: list[str] = []
        piece_offsets: list[int] = []
        pos = 0
        for start, end in spans:
            pieces.append(s[pos:start])
            piece_offsets.extend(offsets[pos:start])
            pieces.append(" ")
            piece_offsets.append(offsets[start])
            pos = end
        pieces.append(s[pos:])
        piece_offsets.extend(offsets[pos:])
        s, offsets = "".join(pieces), piece_offsets

    # Collapse runs of spaces; a kept space points at the first whitespace of its run.
    if "  " not in s and not s.startswith(" ") and not s.endswith(" "):
        return Normalized(s, offsets)
    out: list[str] = []
    out_offsets: list[int] = []
    previous_end = 0
    for m in _NON_SPACE.finditer(s):
        start, end = m.span()
        if out:
            out.append(" ")
            out_offsets.append(offsets[previous_end])
        out.append(m.group())
        out_offsets.extend(offsets[start:end])
        previous_end = end
    return Normalized("".join(out), out_offsets)


_NON_SPACE = re.compile(r"[^ ]+")

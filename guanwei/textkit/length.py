"""Weibo text length in half-units, the way Sina's own client counts it (fact sheet §3).

Weibo publishes no counting rule; its web client's counter ("新浪官方算法", reimplemented
bug-for-bug by WeCase ``src/TweetUtils.py``) is the reference:

1. URLs ``http(s)://host.tld…`` are found. Per URL ``b = len(url) + count(units > U+0080)``.
   ``http(s)://t.cn…`` is not special-cased: it stays in the text and counts literally.
   ``http(s)://weibo.com|weibo.cn…`` costs ``b`` if ``b ≤ 41``, else 20 if ``b ≤ 140``, else
   ``b − 140 + 20``; any other URL costs 20 if ``b ≤ 140``, else ``b − 140 + 20``.
2. The rest of the text costs 1 per code unit, plus 1 more per code unit above U+0080.

The sum is in *half-units*: an ASCII character (space and newline included) is 1, a CJK or
full-width character is 2, an ordinary link is 20. Sina shows ``ceil(half_units / 2)`` "characters"
and the ``statuses/share`` limit of 140 characters is 280 half-units.

Emoji: Sina's counter is JavaScript, where ``String.length`` counts UTF-16 code units and its
``/[^\\x00-\\x80]/g`` matches each surrogate separately. So an emoji outside the BMP (😀 U+1F600)
costs 4 half-units (2 characters), an emoji inside the BMP (☀ U+2600, ❤ U+2764) costs 2, and
every part of a ZWJ sequence or a variation selector counts too. We count the same way: it is the
only documented behaviour, and if the server is more lenient (see the fact sheet's [CONFLICT]),
over-counting only leaves a margin. ``[哈哈]``-style emoticon codes count as the characters typed.
The URL "hostname" part accepts ``https://`` as the 2019 port of the algorithm does (WeCase only
knew ``http://``). The text is not trimmed (WeCase's vectors show it is not).
"""

from __future__ import annotations

import re

__all__ = ["SHARE_LIMIT", "remaining", "weibo_length"]

SHARE_LIMIT = 280
"""``statuses/share`` (and reposts, comments): 140 characters = 280 half-units."""

_URL = re.compile(
    r"https?://[a-zA-Z0-9]+(?:\.[a-zA-Z0-9]+)+[-A-Za-z0-9_$.+!*()/\\,:@&=?~#%]*", re.I
)
_SHORT_LINK = re.compile(r"https?://t\.cn", re.I)
_WEIBO_LINK = re.compile(r"https?://(?:weibo\.com|weibo\.cn)", re.I)
_WIDE = re.compile(r"[^\x00-\x80]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")

_SHORT_URL_MAX = 41  # weibo.com/weibo.cn links up to this many units are counted literally
_URL_MAX = 140
_URL_COST = 20


def _units(s: str) -> int:
    """Half-units of plain text: UTF-16 code units, plus one per unit above U+0080."""
    if s.isascii():
        return len(s)
    wide = len(_WIDE.findall(s))
    astral = len(_ASTRAL.findall(s))
    # an astral character is two UTF-16 units, both above U+0080
    return len(s) + wide + 2 * astral


def _url_cost(url: str) -> int:
    b = _units(url)
    if _WEIBO_LINK.match(url) and b <= _SHORT_URL_MAX:
        return b
    return _URL_COST if b <= _URL_MAX else b - _URL_MAX + _URL_COST


def weibo_length(text: str) -> int:
    """Length of ``text`` in Weibo half-units (CJK = 2, ASCII = 1, a link = 20; see module doc)."""
    if "://" not in text:
        return _units(text)
    total = 0
    rest: list[str] = []
    pos = 0
    for m in _URL.finditer(text):
        url = m.group()
        if _SHORT_LINK.match(url):
            continue  # t.cn links stay in the text and are counted literally
        total += _url_cost(url)
        rest.append(text[pos : m.start()])
        pos = m.end()
    rest.append(text[pos:])
    return total + _units("".join(rest))


def remaining(text: str, limit: int = SHARE_LIMIT) -> int:
    """Half-units left before ``limit`` (negative when the text is too long)."""
    return limit - weibo_length(text)

"""Weibo length: half-units as Sina's own client counts them (fact sheet §3)."""

import pytest

from guanwei.textkit.length import SHARE_LIMIT, remaining, weibo_length

# WeCase's documented vectors (src/TweetUtils_test.py) are Weibo "characters", which Sina computes
# as ceil(half_units / 2): an odd number of ASCII characters rounds up. Each row carries the exact
# half-units we return and the character count WeCase asserts.
WECASE_VECTORS = [
    ("【转基因", 8, 4),  # 4 wide characters × 2
    ("我司CEO！", 9, 5),  # 我司！ 3 × 2 + CEO 3 × 1 = 9 → ceil(4.5) = 5
    ("8@&*%&b", 7, 4),  # 7 ASCII → ceil(3.5) = 4
    (" Test", 5, 3),  # the leading space counts
    ("   Test   ", 10, 5),  # the text is not trimmed
    ("　　　Ｔｅｓｔｉｎｇ　　　　", 28, 14),  # full-width space and letters are wide
]


@pytest.mark.parametrize(("text", "half_units", "wecase_chars"), WECASE_VECTORS)
def test_wecase_vectors_in_half_units(text: str, half_units: int, wecase_chars: int) -> None:
    assert weibo_length(text) == half_units
    assert -(-weibo_length(text) // 2) == wecase_chars


LINK_VECTORS = [
    # an ordinary link costs 20 half-units whatever its length up to 140 units
    ("看 http://example.com/a", 3 + 20),
    ("看 https://example.com/" + "a" * 100, 3 + 20),
    # longer than 140 units: b − 140 + 20
    ("http://example.com/" + "a" * 200, (19 + 200) - 140 + 20),
    # weibo.com / weibo.cn links of at most 41 units count literally, longer ones cost 20
    ("http://weibo.com/123", 20),
    ("http://weibo.com/1234567890", 27),
    ("http://weibo.cn/" + "x" * 25, 41),
    ("http://weibo.cn/" + "x" * 26, 20),
    # t.cn short links are not special-cased: counted character by character
    ("http://t.cn/AbCdEf", 18),
    ("赞http://t.cn/AbCdEf赞", 18 + 4),
    # two links, text around them
    ("官网http://a.com和http://b.com", 4 + 20 + 2 + 20),
    # not a link: no dot in the host
    ("http://localhost", 16),
]


@pytest.mark.parametrize(("text", "half_units"), LINK_VECTORS)
def test_links_cost_as_sina_counts_them(text: str, half_units: int) -> None:
    assert weibo_length(text) == half_units


EMOJI_VECTORS = [
    ("😀", 4),  # outside the BMP: two UTF-16 units, both wide
    ("☀", 2),  # inside the BMP: one wide unit
    ("❤️", 4),  # ❤ + VARIATION SELECTOR-16, each wide
    ("👨\u200d👩", 4 + 2 + 4),  # ZWJ sequence: every part counts
    ("[哈哈]", 1 + 4 + 1),  # emoticon codes count as typed
    ("\u0080", 1),  # Sina's class is [^\x00-\x80]: U+0080 itself is narrow
    ("\u0081", 2),
]


@pytest.mark.parametrize(("text", "half_units"), EMOJI_VECTORS)
def test_emoji_count_as_utf16_units_like_sinas_javascript(text: str, half_units: int) -> None:
    assert weibo_length(text) == half_units


def test_remaining_against_the_share_limit_of_140_characters() -> None:
    assert SHARE_LIMIT == 280
    assert remaining("") == 280
    assert remaining("好" * 140) == 0
    assert remaining("好" * 141) == -2
    assert remaining("a", limit=10) == 9


def test_bad_input_has_defined_lengths() -> None:
    assert weibo_length("") == 0
    assert weibo_length("\ud800") == 2  # a lone surrogate is one wide UTF-16 unit
    assert weibo_length("\x00\x07\n") == 3
    assert weibo_length("a中😀") == 1 + 2 + 4
    big = "中" * 50_000 + "a" * 50_000
    assert weibo_length(big) == 150_000
    assert weibo_length("http://" + "a" * 100_000) == 100_007  # no dot: not a link
    assert weibo_length("http://a." + "b" * 100_000) == 100_009 - 140 + 20

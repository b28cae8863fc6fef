"""Normalisation: one folded form for matching, with a map back to the original for highlights."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guanwei.textkit import normalize as normalize_module
from guanwei.textkit.normalize import Normalized, fold, normalize, to_simplified


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("頭髮乾燥", "头发干燥"),  # traditional → simplified, phrase-aware (乾燥 → 干燥)
        ("乾隆皇帝", "乾隆皇帝"),  # … and 乾 stays in 乾隆
        ("ＣＥＯ說：好！", "ceo说:好!"),  # full-width → half-width, case folded
        ("Straße", "strasse"),  # casefold, not just lower()
        ("牛\u200b奶\u200d变\ufeff质", "牛奶变质"),  # zero-width characters removed
        ("a\x00b\x07c\x7fd", "abcd"),  # control characters removed
        ("  多个\t\n空白　　都变成\u00a0一个  ", "多个 空白 都变成 一个"),  # whitespace runs
        ("❤️", "❤"),  # variation selector removed
        ("", ""),
    ],
)
def test_fold_examples(text: str, folded: str) -> None:
    assert fold(text) == folded
    assert normalize(text).text == folded


def test_normalize_maps_a_match_back_to_the_original_for_highlighting() -> None:
    original = "看看　ＡＢＣ\u200b的牛奶變質了！！"
    n = normalize(original)
    assert n.text == "看看 abc的牛奶变质了!!"
    start = n.text.index("牛奶变质")
    s, e = n.original_span(start, start + len("牛奶变质"))
    assert original[s:e] == "牛奶變質"
    start = n.text.index("abc的")
    s, e = n.original_span(start, start + 4)
    assert original[s:e] == "ＡＢＣ\u200b的"  # the removed zero-width space lies inside


def test_expanded_characters_map_both_halves_to_the_one_original() -> None:
    n = normalize("大ß小")
    assert n.text == "大ss小"
    assert n.offsets == [0, 1, 1, 2]
    assert n.original_span(1, 2) == (1, 2)
    assert n.original_span(1, 3) == (1, 2)


def test_original_span_edges_and_errors() -> None:
    n = normalize("  ab  ")
    assert n.text == "ab"
    assert n.original_span(0, 0) == (2, 2)
    assert n.original_span(2, 2) == (4, 4)
    assert normalize("").original_span(0, 0) == (0, 0)
    with pytest.raises(ValueError):
        n.original_span(1, 5)
    with pytest.raises(ValueError):
        n.original_span(2, 1)


POST = "转发微博//@张三:說得對 @李四 看http://t.cn/AbC1 #示例乳业# 真好"


def test_everything_is_kept_by_default() -> None:
    assert fold(POST) == "转发微博//@张三:说得对 @李四 看http://t.cn/abc1 #示例乳业# 真好"


@pytest.mark.parametrize(
    ("flags", "folded"),
    [
        ({"keep_repost_chain": False}, "转发微博"),
        ({"keep_urls": False}, "转发微博//@张三:说得对 @李四 看 #示例乳业# 真好"),
        ({"keep_mentions": False}, "转发微博 说得对 看http://t.cn/abc1 #示例乳业# 真好"),
        ({"keep_topics": False}, "转发微博//@张三:说得对 @李四 看http://t.cn/abc1 真好"),
        (
            {"keep_urls": False, "keep_mentions": False, "keep_topics": False},
            "转发微博 说得对 看 真好",
        ),
    ],
)
def test_urls_mentions_topics_and_the_repost_chain_can_be_stripped(
    flags: dict[str, bool], folded: str
) -> None:
    assert fold(POST, **flags) == folded
    assert normalize(POST, **flags).text == folded


def test_full_width_markers_are_recognised_when_stripping() -> None:
    text = "好评＠示例乳业官微 ＃新品＃ 好喝//＠王五：转发"
    assert (
        fold(text, keep_mentions=False, keep_topics=False, keep_repost_chain=False) == "好评 好喝"
    )


def test_an_at_sign_inside_a_url_or_email_is_not_a_mention() -> None:
    text = "联系 service@example.com 或 https://example.com/@team 谢谢"
    assert (
        fold(text, keep_mentions=False)
        == "联系 service@example.com 或 https://example.com/@team 谢谢"
    )
    assert fold(text, keep_urls=False, keep_mentions=False) == "联系 service@example.com 或 谢谢"


def test_scheme_less_short_links_are_urls_too() -> None:
    assert fold("看t.cn/AbC 好 abt.cn/x", keep_urls=False) == "看 好 abt.cn/x"


def test_stripped_spans_map_to_where_they_were() -> None:
    original = "好@李四 真好"
    n = normalize(original, keep_mentions=False)
    assert n.text == "好 真好"
    assert [original[i] for i in n.offsets] == ["好", "@", "真", "好"]


def test_to_simplified_keeps_length_and_drops_lone_surrogates() -> None:
    assert to_simplified("[頭髮]+\\d") == "[头发]+\\d"
    assert to_simplified("a\ud800b") == "ab"


def test_format_character_table_matches_unicodedata() -> None:
    listed = {cp for lo, hi in normalize_module._FORMAT_RANGES for cp in range(lo, hi + 1)}
    actual = {cp for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Cf"}
    assert listed == actual


def test_every_whitespace_character_becomes_a_space() -> None:
    spaces = [chr(cp) for cp in range(0x110000) if chr(cp).isspace()]
    assert fold("a" + "".join(spaces) + "b") == "a b"


# --- bad input ----------------------------------------------------------------------------------


def test_lone_surrogates_are_dropped() -> None:
    assert fold("\ud800") == ""
    assert fold("好\udfff评") == "好评"
    n = normalize("a\ud800b")
    assert n == Normalized("ab", [0, 2])


def test_hundred_kilobyte_text_is_folded_with_a_complete_map() -> None:
    text = ("繁體ＡＢＣ \u200b\n" * 12_500)[:100_000]
    n = normalize(text, keep_mentions=False)
    assert n.text == fold(text, keep_mentions=False)
    assert len(n.offsets) == len(n.text)
    assert n.text.startswith("繁体abc 繁体abc")


def test_mixed_scripts_and_controls_have_a_defined_result() -> None:
    text = "Привет مرحبا こんにちは 안녕 \x1b[31m红色\x1b[0m 😀"
    assert fold(text) == "привет مرحبا こんにちは 안녕 [31m红色[0m 😀"


# --- properties ---------------------------------------------------------------------------------

_alphabet = st.sampled_from(
    list("abcABCＡＢＣ１２ 　\t\n\u200b\u200d\ufeff\x00\x1fß@#/:：＠＃牛奶變质头發乾燥隆")
    + ["\ud800", "http://", "t.cn/", "//@", "😀", "\u0130"]
)
texts = st.lists(_alphabet, max_size=40).map("".join)
flags = st.fixed_dictionaries(
    {k: st.booleans() for k in ("keep_urls", "keep_mentions", "keep_topics", "keep_repost_chain")}
)


@settings(max_examples=300, deadline=None)
@given(texts, flags)
def test_fold_equals_normalize_text_and_the_map_is_sound(
    text: str, options: dict[str, bool]
) -> None:
    n = normalize(text, **options)
    assert n.text == fold(text, **options)
    assert len(n.offsets) == len(n.text)
    assert n.offsets == sorted(n.offsets)
    assert all(0 <= o < len(text) for o in n.offsets)
    assert not n.text.startswith(" ") and not n.text.endswith(" ") and "  " not in n.text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_folds_idempotently_and_each_character_comes_from_its_original(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    n = normalize(text, keep_urls=False, keep_mentions=False)
    assert len(n.offsets) == len(n.text)
    if to_simplified(text) == text:  # no traditional characters: no context-dependent mapping
        for c, offset in zip(n.text, n.offsets, strict=True):
            assert c == " " or c in fold(text[offset])

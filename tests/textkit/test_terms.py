"""Top terms without a dictionary: the longest runs people repeat, counted once per text, without
function words, boilerplate, the repost chain or emoticon codes."""

from __future__ import annotations

from guanwei.textkit.terms import MAX_LEN, contains_any, top_terms


def _pairs(texts: list[str], **kw: int) -> list[tuple[str, int]]:
    return [(t.term, t.count) for t in top_terms(texts, **kw)]


def test_a_term_is_the_longest_run_people_repeat_and_its_parts_only_when_said_on_their_own():
    texts = ["示例乳业的酸奶变质了", "示例乳业酸奶变质", "酸奶不错", "酸奶一般"]
    # 酸奶 is said in 4 texts, inside 酸奶变质 in 2 of them (< 75 %): both are shown; 变质 and
    # 示例 are never said apart from the longer runs, so they are not.
    assert _pairs(texts) == [("酸奶", 4), ("示例乳业", 2), ("酸奶变质", 2)]


def test_a_text_counts_once_however_often_it_repeats_a_word():
    assert _pairs(["投诉投诉投诉投诉", "我要投诉"]) == [("投诉", 2)]


def test_function_words_boilerplate_chains_urls_and_emoticons_are_not_terms():
    texts = [
        "转发微博//@某大V:示例乳业质量真差 http://t.cn/abc 我们觉得[哈哈]",
        "转发微博//@另一人:示例乳业质量真差 https://example.com/x 我们觉得[哈哈]",
    ]
    assert _pairs(texts) == []  # only the chain repeats the complaint; the rest is noise


def test_topics_and_latin_words_are_terms_of_their_own():
    texts = ["#示例乳业变质# iPhone 拍的", "#示例乳业变質# 用iphone拍的 5G", "5G 信号"]
    # traditional 質 and upper case folded; "5g" has a letter, so it is a word; 拍的 ends with 的
    assert _pairs(texts) == [("#示例乳业变质#", 2), ("iphone", 2), ("5g", 2)]
    assert _pairs(["2026 年", "2026 年"]) == []  # a number alone is not a term


def test_runs_longer_than_the_limit_are_never_shown_and_hide_their_fragments():
    sentence = "示例乳业冰淇淋原料有问题"  # 12 characters, repeated whole
    assert len(sentence) > MAX_LEN
    assert _pairs([sentence + "，快看", "听说" + sentence, "真的吗" + sentence + "啊"]) == []


def test_ranked_by_count_then_longer_then_by_character_and_cut_at_the_limit():
    texts = ["苹果香蕉", "香蕉苹果", "苹果 香蕉 橙子", "橙子 西瓜", "西瓜 橙子"]
    assert _pairs(texts) == [("橙子", 3), ("苹果", 3), ("香蕉", 3), ("西瓜", 2)]
    assert _pairs(texts, limit=2) == [("橙子", 3), ("苹果", 3)]
    assert _pairs([]) == [] and _pairs(["", "   "]) == []


def test_a_rule_word_is_marked_when_the_term_is_it_holds_it_or_is_part_of_it():
    assert contains_any("示例乳业", ["示例乳业"])
    assert contains_any("示例乳业酸奶", ["示例乳业"])
    assert contains_any("#示例乳业#", ["示例乳业"])
    assert contains_any("乳业", ["示例乳业"])
    assert not contains_any("酸奶", ["示例乳业", ""])

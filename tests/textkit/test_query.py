"""The monitor query language: grammar, semantics, fields, errors and warnings."""

import pytest

from guanwei.textkit.query import (
    And,
    Field,
    MatchText,
    Near,
    Not,
    Or,
    QuerySyntaxError,
    Regex,
    Term,
    check,
    compile_rules,
    near,
    parse,
    verified_classes,
)


def matches(rule: str, post: MatchText | str) -> bool:
    if isinstance(post, str):
        post = MatchText(post)
    return compile_rules({"r": rule}).match([post]) == [["r"]]


# --- grammar ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "tree"),
    [
        ("示例乳业", Term("示例乳业")),
        ('"示例 乳业"', Term("示例 乳业")),
        ("“示例乳业”", Term("示例乳业")),  # Chinese quotes
        ("a b", And((Term("a"), Term("b")))),  # implicit AND
        ("a AND b", And((Term("a"), Term("b")))),
        ("a OR b c", Or((Term("a"), And((Term("b"), Term("c")))))),  # AND binds tighter
        ("(a OR b) c", And((Or((Term("a"), Term("b"))), Term("c")))),
        ("（a OR b）c", And((Or((Term("a"), Term("b"))), Term("c")))),  # full-width parentheses
        ("a -b", And((Term("a"), Not(Term("b"))))),
        ("a NOT b", And((Term("a"), Not(Term("b"))))),
        ("NOT NOT a", Not(Not(Term("a")))),
        ("wi-fi", Term("wi-fi")),  # a minus inside a word is part of it
        ("a NEAR/5 b", Near(("a",), ("b",), 5)),
        ("(a OR b) NEAR/3 c", Near(("a", "b"), ("c",), 3)),
        ("a NEAR/2 b NEAR/4 c", And((Near(("a",), ("b",), 2), Near(("b",), ("c",), 4)))),
        ("NOT a NEAR/5 b", Not(Near(("a",), ("b",), 5))),
        ("author:示例官微", Field("author", "示例官微")),
        ('author:"示例 官微"', Field("author", "示例 官微")),
        ("Author：示例官微", Field("author", "示例官微")),  # full-width colon, any case
        ("verified:蓝V", Field("verified", "blue")),
        ("region:北京", Field("region", "北京")),
        ("account:示例乳业客服", Field("account", "示例乳业客服")),
        (r"/\d{3}元/", Regex(r"\d{3}元")),
        (r"/a\/b/", Regex("a/b")),
        ("/頭髮/", Regex("头发")),  # regexes are simplified too
        ("ＡＢＣ 頭髮", And((Term("abc"), Term("头发")))),  # terms are folded like posts
        ('"say \\"hi\\""', Term('say "hi"')),
        ("and", Term("and")),  # lower-case operators are words (with a warning)
    ],
)
def test_rules_parse_to_these_trees(rule: str, tree: object) -> None:
    assert parse(rule) == tree


# --- semantics ----------------------------------------------------------------------------------


def test_terms_match_as_substrings_of_the_normalised_post() -> None:
    assert matches("示例乳业", "我买的示例乳业酸奶")
    assert matches("变质", "牛奶變質了")  # traditional in the post
    assert matches("ceo", "我司ＣＥＯ说")  # full-width, upper case in the post
    assert matches('"示例 乳业"', "示例\n\n乳业")  # whitespace runs fold to one space
    assert matches("牛奶变质", "牛奶\u200b变质")  # zero-width characters are ignored
    assert not matches("示例乳业", "示例 乳业")


def test_boolean_operators() -> None:
    rule = "示例乳业 AND (投诉 OR 变质) -广告"
    assert matches(rule, "示例乳业的牛奶变质了")
    assert matches(rule, "投诉示例乳业")
    assert not matches(rule, "示例乳业广告：投诉有奖")
    assert not matches(rule, "示例乳业真好喝")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("示例乳业牛奶变质", True),  # gap 2 ("牛奶")
        ("示例乳业变质", True),  # adjacent
        ("变质的是示例乳业", True),  # either order
        ("示例乳业的一盒牛奶变质", False),  # gap 5
        ("示例乳业 的一盒牛奶变质 变质", False),
    ],
)
def test_near_counts_characters_between_the_terms(text: str, expected: bool) -> None:
    assert matches("示例乳业 NEAR/3 变质", text) is expected


def test_near_with_groups_and_overlaps() -> None:
    assert matches("(示例乳业 OR 示例牛奶) NEAR/2 (变质 OR 过期)", "示例牛奶已过期")
    assert matches("乳业 NEAR/0 示例乳业", "示例乳业")  # overlapping spans are 0 apart
    assert not near("ab" + "x" * 10 + "cd", ["ab"], ["cd"], 9)
    assert near("ab" + "x" * 10 + "cd", ["ab"], ["cd"], 10)
    assert near("cd" + "x" * 10 + "ab", ["ab"], ["cd"], 10)


def test_near_is_linear_on_long_repetitive_text() -> None:
    text = "的" * 50_000 + "了" + "的" * 50_000
    assert not near(text, ["的的"], ["吗"], 10)
    assert near(text, ["的的"], ["了"], 0)


def test_regex_runs_on_the_normalised_text_ignoring_case() -> None:
    assert matches(r"/\d{3}元/", "只要１９９元")  # full-width digits fold
    assert matches(r"/[a-z]+@[a-z]+\.com/", "写信给 Service@Example.COM")
    assert not matches(r"/^退款$/", "我要退款")


@pytest.mark.parametrize(
    ("verified_type", "values"),
    [
        (None, {"false"}),
        (-1, {"false"}),
        (0, {"true", "yellow", "orange"}),
        (1, {"true", "blue"}),
        (2, {"true", "blue"}),
        (7, {"true", "blue"}),
        (200, {"false"}),
        (220, {"false"}),
        (8, {"false"}),
    ],
)
def test_weibo_verified_types_map_to_verified_values(
    verified_type: int | None, values: set[str]
) -> None:
    assert verified_classes(verified_type) == values
    for value in ("true", "false", "blue", "yellow", "orange"):
        post = MatchText("示例", verified_type=verified_type)
        assert matches(f"示例 verified:{value}", post) is (value in values)


def test_field_filters() -> None:
    post = MatchText("示例乳业新品", author="示例乳业官微", region="北京 朝阳区", account="示例乳业客服")
    assert matches("author:示例乳业官微", post)
    assert matches("author:示例乳业官微 新品", post)
    assert not matches("author:示例乳业", post)  # the author must be equal, not contain it
    assert matches("region:北京", post)  # a region matches as a whole or by one of its words
    assert matches('region:"北京 朝阳区"', post)
    assert not matches("region:北", post)
    assert matches("account:示例乳业客服", post)
    assert matches("新品 -author:示例乳业官微", MatchText("示例乳业新品", author="网友甲"))
    assert not matches("新品 -author:示例乳业官微", post)


def test_rules_without_positive_terms_are_evaluated_on_every_post() -> None:
    matcher = compile_rules(
        {"not_ad": "NOT 广告", "blue": "verified:blue", "beijing": "region:北京", "re": "/^转发/"}
    )
    posts = [
        MatchText("转发微博", verified_type=3),
        MatchText("广告", region="北京"),
        MatchText(""),
    ]
    assert matcher.match(posts) == [["not_ad", "blue", "re"], ["beijing"], ["not_ad"]]


def test_matcher_returns_rule_ids_in_rule_order_per_post() -> None:
    matcher = compile_rules({3: "a", 1: "b", 2: "a b", 0: "c -a"})
    assert matcher.match([MatchText("ab"), MatchText("c"), MatchText("ca"), MatchText("")]) == [[3, 1, 2], [0], [3], []]
    assert matcher.match([]) == []


def test_sample_only_changes_the_plan_not_the_results() -> None:
    rules = {"r1": "的 示例", "r2": "示例 的", "r3": "(的 OR 了) 示例乳业 -广告"}
    posts = [MatchText(t) for t in ["示例的", "示例乳业的", "的的的", "示例乳业了广告", "示例"]]
    sampled = compile_rules(rules, sample=["的了", "的", "了的", "示例"])
    assert sampled.match(posts) == compile_rules(rules).match(posts)


def test_compiles_many_rules_sharing_terms() -> None:
    rules = {i: f"词{i % 50} (词{i % 7} OR 词{i % 11}) -词{i % 13}" for i in range(2000)}
    matcher = compile_rules(rules)
    assert matcher.literal_count == 50
    result = matcher.match([MatchText("词1 词2 词3"), MatchText("无关")])
    assert result[1] == []
    assert len(result[0]) > 0


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "position", "zh"),
    [
        ("", 0, "规则是空的"),
        ("   ", 0, "规则是空的"),
        ("(示例", 0, "括号没有闭合"),
        ("示例)", 2, "多余的右括号"),
        ("()", 0, "括号里是空的"),
        ("示例 OR", 3, "OR 后面缺少"),
        ("AND 示例", 0, "AND 前面缺少"),
        ("示例 AND AND 乳业", 3, "AND 后面缺少"),
        ("NOT", 0, "NOT 后面缺少"),
        ("示例 -", 3, "减号"),
        ("示例 - 广告", 3, "减号"),
        ('"示例', 0, "引号没有闭合"),
        ("foo:bar", 0, "未知字段“foo”"),
        ("示例 http://t.cn", 3, "未知字段“http”"),
        ("author:", 0, "缺少值"),
        ('author:""', 0, "缺少值"),
        ("verified:maybe", 0, "verified: 的值只能是"),
        ("NEAR/3 示例", 0, "NEAR/n 前面缺少"),
        ("示例 NEAR/3", 3, "NEAR/n 后面缺少"),
        ("示例 NEAR 乳业", 3, "NEAR 要写成 NEAR/数字"),
        ("示例 NEAR/5000 乳业", 3, "NEAR 的距离最多"),
        ("(a b) NEAR/3 c", 0, "NEAR 两边只能是"),
        ("a NEAR/3 -b", 2, "NEAR/n 后面缺少"),
        ("/abc", 0, "正则表达式缺少结尾"),
        ("示例 //", 3, "正则表达式是空的"),
        ("/(a)\\1/", 0, "不支持反向引用"),
        ("/(?=a)b/", 0, "不支持反向引用和环视"),
        ("/" + "a" * 201 + "/", 0, "正则表达式太长"),
        ("/.{0,1000}x/", 0, "正则表达式太复杂"),
        ("\u200b", 0, "规范化后是空的"),
        ("(" * 60 + "a" + ")" * 60, 50, "嵌套太深"),
        ("a" * 4001, 4000, "规则太长"),
    ],
)
def test_syntax_errors_say_where_and_what_in_chinese_and_english(
    rule: str, position: int, zh: str
) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse(rule)
    assert info.value.position == position
    assert zh in info.value.message_zh
    assert info.value.message_en and info.value.message_en.isascii()


def test_compile_rules_names_the_rule_that_does_not_parse() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        compile_rules({"good": "示例", "bad": "示例 AND"})
    assert info.value.rule_id == "bad"


# --- warnings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        "a AND NOT a",
        "示例乳业 -乳业",  # the term contains the excluded one
        "author:甲 author:乙",
        "verified:blue verified:yellow",
        "verified:true verified:false",
        "a NEAR/5 b -a",
        "(a OR b) -a -b",
    ],
)
def test_a_rule_that_can_never_match_is_a_warning(rule: str) -> None:
    warnings = check(rule)
    assert any("永远不会匹配" in w.message_zh for w in warnings)
    matcher = compile_rules({"r": rule})
    assert "r" in matcher.warnings


@pytest.mark.parametrize(
    "rule",
    [
        "a -b",
        "乳业 -示例乳业",
        "verified:yellow verified:orange",
        "author:甲 OR author:乙",
        "a NEAR/5 b",
    ],
)
def test_satisfiable_rules_have_no_such_warning(rule: str) -> None:
    assert check(rule) == []


def test_other_warnings() -> None:
    (everything,) = check("NOT 广告")
    assert "几乎所有帖子" in everything.message_zh
    (lower,) = check("示例 or 乳业")
    assert lower.position == 3 and "大写 OR" in lower.message_zh
    assert check('"or"') == []  # quoted: clearly meant as a word
    (empty_regex,) = check("示例 /x*/")
    assert empty_regex.position == 3 and "空文本" in empty_regex.message_zh


# --- bad input ----------------------------------------------------------------------------------


def test_bad_input_in_rules_and_posts_has_defined_results() -> None:
    matcher = compile_rules({"r": "示例 OR /\\d+/", "n": "NOT 示例", "s": "\ud800示例"})
    posts = [
        MatchText(""),
        MatchText("\ud800示例\udfff"),
        MatchText("示例" * 50_000),
        MatchText("\x00\x01\x1b示例\x7f", author="\ud800", region="\x00", account="\u200b"),
        MatchText("Привет 示例 مرحبا 😀"),
    ]
    assert matcher.match(posts) == [["n"], ["r", "s"], ["r", "s"], ["r", "s"], ["r", "s"]]
    with pytest.raises(QuerySyntaxError):
        parse("\x00")
    assert parse("a\x00b") == Term("ab")


# --- the package stands alone ---------------------------------------------------------------------


def test_docs_examples_compile_without_warnings() -> None:
    import pathlib
    import re

    doc = pathlib.Path(__file__).resolve().parents[2] / "docs" / "query-language.md"
    examples = re.findall(r"^\| [^|]+ \| `(.+)` \|$", doc.read_text(encoding="utf-8"), re.M)
    assert len(examples) >= 8
    for rule in examples:
        assert check(rule) == [], rule


def test_textkit_imports_without_django() -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import sys, guanwei.textkit.query, guanwei.textkit.normalize, guanwei.textkit.length;"
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_highlight_gives_spans_of_the_original_text() -> None:
    from guanwei.textkit.query import highlight

    text = "ＡＢＣ說：示例乳業的牛奶變質了，不是廣告"
    spans = highlight("(示例乳业 OR abc) NEAR/10 变质 -广告 /牛.{0,1}/", text)
    assert [text[s:e] for s, e in spans] == ["ＡＢＣ", "示例乳業", "牛奶變質"]
    assert highlight("示例", "") == []
    assert highlight("a", "a\u200ba") == [(0, 1), (2, 3)]

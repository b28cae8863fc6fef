"""Property tests: the parser never fails except with QuerySyntaxError, and the compiled matcher
agrees with a slow reference evaluator written independently of it."""

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guanwei.textkit.normalize import fold
from guanwei.textkit.query import (
    And,
    Field,
    MatchText,
    Near,
    Node,
    Not,
    Or,
    QuerySyntaxError,
    Regex,
    Term,
    check,
    compile_rules,
    parse,
)

# --- the parser never crashes -------------------------------------------------------------------

query_pieces = st.sampled_from(
    [
        "a",
        "牛奶",
        " ",
        "AND",
        "OR",
        "NOT",
        "NEAR/3",
        "NEAR/",
        "NEAR",
        "(",
        ")",
        "（",
        "）",
        "-",
        '"',
        "“",
        "”",
        "/",
        "\\",
        ":",
        "：",
        "author:",
        "verified:",
        "verified:blue",
        "region:",
        "x:",
        "[",
        "*",
        "{9999}",
        "\u200b",
        "\ud800",
        "\x00",
        "or",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(query_pieces, max_size=25).map("".join)))
def test_random_text_never_crashes_the_parser(text: str) -> None:
    try:
        tree = parse(text)
    except QuerySyntaxError as e:
        assert 0 <= e.position <= len(text)
        assert e.message_zh and e.message_en
        return
    check(text)
    compile_rules({"r": text}).match([MatchText(text), MatchText("")])
    assert tree is not None


# --- the reference evaluator --------------------------------------------------------------------

VERIFIED = {  # Weibo verified_type → verified: values (docs/query-language.md)
    0: {"true", "yellow", "orange"},
    **{t: {"true", "blue"} for t in range(1, 8)},
}


def _occurrences(text: str, literal: str) -> list[int]:
    return [i for i in range(len(text) - len(literal) + 1) if text.startswith(literal, i)]


def reference(node: Node, post: MatchText) -> bool:
    """Direct recursive evaluation over the syntax tree with substring search."""
    text = fold(post.text)
    if isinstance(node, Term):
        return node.text in text
    if isinstance(node, Regex):
        return re.search(node.pattern, text, re.IGNORECASE) is not None
    if isinstance(node, Field):
        if node.name == "author":
            return fold(post.author) == node.value
        if node.name == "account":
            return fold(post.account) == node.value
        if node.name == "region":
            region = fold(post.region)
            return bool(region) and (node.value == region or node.value in region.split(" "))
        return node.value in VERIFIED.get(post.verified_type, {"false"})  # type: ignore[arg-type]
    if isinstance(node, Near):
        for a in node.left:
            for i in _occurrences(text, a):
                for b in node.right:
                    for j in _occurrences(text, b):
                        if max(j - (i + len(a)), i - (j + len(b))) <= node.distance:
                            return True
        return False
    if isinstance(node, Not):
        return not reference(node.child, post)
    if isinstance(node, And):
        return all(reference(c, post) for c in node.children)
    assert isinstance(node, Or)
    return any(reference(c, post) for c in node.children)


# --- random rules and posts ---------------------------------------------------------------------

WORDS = ["a", "b", "ab", "ba", "牛奶", "奶", "變質", "变质", "AB", "示例乳业", "乳业", "x"]
words = st.sampled_from(WORDS)
quoted = words.map(lambda w: f'"{w}"') | st.sampled_from(['"a b"', '"牛奶 变质"', "“乳业”"])
term = words | quoted
side = term | st.lists(term, min_size=2, max_size=3).map(lambda ts: "(" + " OR ".join(ts) + ")")
near = st.tuples(side, st.integers(0, 6), side).map(lambda t: f"{t[0]} NEAR/{t[1]} {t[2]}")
field = st.sampled_from(
    [
        "author:甲",
        "author:乙",
        "account:客服",
        'account:"官微"',
        "region:北京",
        'region:"北京 朝阳区"',
        "region:上海",
        "verified:true",
        "verified:false",
        "verified:blue",
        "verified:yellow",
        "verified:orange",
    ]
)
regex = st.sampled_from(["/a+b/", "/[0-9]{2}/", "/奶.变/", "/^x/", "/b$/", "/示例|乳业/"])
atom = term | term | near | field | regex


def _compound(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.lists(children, min_size=2, max_size=3)
    return st.one_of(
        pair.map(lambda cs: " ".join(f"({c})" for c in cs)),
        pair.map(lambda cs: " AND ".join(f"({c})" for c in cs)),
        pair.map(lambda cs: " OR ".join(f"({c})" for c in cs)),
        children.map(lambda c: f"NOT ({c})"),
        children.map(lambda c: f"-({c})"),
        st.tuples(children, words).map(lambda t: f"({t[0]}) -{t[1]}"),
    )


rules = st.recursive(atom, _compound, max_leaves=6)
post_text = st.lists(
    st.sampled_from(
        ["a", "b", "牛奶", "變質", "变质", " ", "x", "12", "AB", "奶", "示例", "乳业", "。"]
    ),
    max_size=12,
).map("".join)
posts = st.builds(
    MatchText,
    text=post_text,
    author=st.sampled_from(["", "甲", "乙", "丙"]),
    verified_type=st.sampled_from([None, -1, 0, 1, 3, 7, 200, 220]),
    region=st.sampled_from(["", "北京 朝阳区", "上海", "北京"]),
    account=st.sampled_from(["", "客服", "官微"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rules, min_size=1, max_size=8), st.lists(posts, min_size=1, max_size=8))
def test_compiled_matcher_agrees_with_the_reference_evaluator(
    rule_texts: list[str], sample_posts: list[MatchText]
) -> None:
    rule_map = dict(enumerate(rule_texts))
    trees = {i: parse(text) for i, text in rule_map.items()}
    matcher = compile_rules(rule_map)
    got = matcher.match(sample_posts)
    for post, ids in zip(sample_posts, got, strict=True):
        expected = [i for i, tree in trees.items() if reference(tree, post)]
        assert ids == expected, (post, [rule_map[i] for i in set(ids) ^ set(expected)])
    # the planning sample changes which words trigger which rules, never the result
    assert compile_rules(rule_map, sample=[p.text for p in sample_posts]).match(sample_posts) == got


@settings(max_examples=200, deadline=None)
@given(rules, st.lists(posts, min_size=1, max_size=10))
def test_a_rule_warned_as_never_matching_matches_no_post(
    rule: str, sample_posts: list[MatchText]
) -> None:
    tree = parse(rule)
    if any("永远不会匹配" in w.message_zh for w in check(rule)):
        assert not any(reference(tree, p) for p in sample_posts)


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet="abxy", max_size=24),
    st.lists(st.sampled_from(["a", "b", "ab", "ba", "xa", "aa"]), min_size=1, max_size=2),
    st.lists(st.sampled_from(["b", "x", "by", "a"]), min_size=1, max_size=2),
    st.integers(0, 5),
)
def test_near_agrees_with_brute_force(text: str, left: list[str], right: list[str], n: int) -> None:
    post = MatchText(text)
    tree = Near(tuple(left), tuple(right), n)
    assert near_matches(text, left, right, n) == reference(tree, post)


def near_matches(text: str, left: list[str], right: list[str], n: int) -> bool:
    from guanwei.textkit.query import near

    return near(fold(text), left, right, n)


@given(st.text(alphabet="abcXYZ019_", max_size=20))
def test_ascii_alphanumeric_field_values_fold_to_lower_case(value: str) -> None:
    # the matcher's shortcut for uids and ASCII screen names relies on this
    if value.isascii() and value.isalnum():
        assert fold(value) == value.lower()

"""Warnings about rules that parse but are probably not what the marketer meant."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from guanwei.textkit.query.syntax import And, Field, Near, Node, Not, Or, Regex, Term, compile_regex

__all__ = ["MAX_ANALYSED_CASES", "QueryWarning", "warnings_for"]

MAX_ANALYSED_CASES = 1024
"""Rules with more combinations of conditions than this are not checked for "can never match"."""

_VERIFIED_CASES = (
    frozenset({"false"}),
    frozenset({"true", "yellow", "orange"}),
    frozenset({"true", "blue"}),
)


@dataclass(frozen=True)
class QueryWarning:
    position: int
    message_zh: str
    message_en: str


@dataclass
class _Case:
    terms: set[str]
    regexes: set[str]
    nears: set[Near]
    regions: set[str]
    author: str | None
    account: str | None
    verified: frozenset[str]


def _evaluate(node: Node, case: _Case) -> bool:
    if isinstance(node, Term):
        return node.text in case.terms
    if isinstance(node, Regex):
        return node.pattern in case.regexes
    if isinstance(node, Near):
        return node in case.nears
    if isinstance(node, Field):
        if node.name == "author":
            return case.author == node.value
        if node.name == "account":
            return case.account == node.value
        if node.name == "region":
            return node.value in case.regions
        return node.value in case.verified
    if isinstance(node, Not):
        return not _evaluate(node.child, case)
    if isinstance(node, And):
        return all(_evaluate(c, case) for c in node.children)
    return any(_evaluate(c, case) for c in node.children)


def _atoms(node: Node, found: dict[str, set[object]]) -> None:
    if isinstance(node, Term):
        found["terms"].add(node.text)
    elif isinstance(node, Regex):
        found["regexes"].add(node.pattern)
    elif isinstance(node, Near):
        found["nears"].add(node)
        found["terms"].update(node.left)
        found["terms"].update(node.right)
    elif isinstance(node, Field):
        found[node.name].add(node.value)
    elif isinstance(node, Not):
        _atoms(node.child, found)
    else:
        for c in node.children:
            _atoms(c, found)


def _has_not(node: Node) -> bool:
    if isinstance(node, Not):
        return True
    if isinstance(node, And | Or):
        return any(_has_not(c) for c in node.children)
    return False


def can_match(node: Node) -> bool | None:
    """False if no post can match ``node`` (None: too many combinations to say).

    Terms, regexes, NEARs and regions are treated as free conditions, except for facts that hold
    for every post: a term implies every term it contains, a NEAR implies one term of each side,
    a post has one author, one account and one kind of verification."""
    found: dict[str, set[object]] = {
        k: set() for k in ("terms", "regexes", "nears", "region", "author", "account", "verified")
    }
    _atoms(node, found)
    terms = sorted(str(t) for t in found["terms"])
    regexes = sorted(str(r) for r in found["regexes"])
    nears = [n for n in found["nears"] if isinstance(n, Near)]
    regions = sorted(str(r) for r in found["region"])
    authors: list[str | None] = [None, *sorted(str(a) for a in found["author"])]
    accounts: list[str | None] = [None, *sorted(str(a) for a in found["account"])]
    verified = _VERIFIED_CASES if found["verified"] else _VERIFIED_CASES[:1]
    if (
        not _has_not(node)
        and len(found["author"]) <= 1
        and len(found["account"]) <= 1
        and len(found["verified"]) <= 1
    ):
        return True  # monotone in its conditions, and no two of them exclude each other
    free = len(terms) + len(regexes) + len(nears) + len(regions)
    if 2**free * len(authors) * len(accounts) * len(verified) > MAX_ANALYSED_CASES:
        return None
    contained = {t: [u for u in terms if u != t and u in t] for t in terms}
    for bits in itertools.product((False, True), repeat=free):
        it = iter(bits)
        true_terms = {t for t in terms if next(it)}
        if any(u not in true_terms for t in true_terms for u in contained[t]):
            continue
        true_regexes = {r for r in regexes if next(it)}
        true_nears = {n for n in nears if next(it)}
        if any(
            not (true_terms.intersection(n.left) and true_terms.intersection(n.right))
            for n in true_nears
        ):
            continue
        true_regions = {r for r in regions if next(it)}
        for author, account, classes in itertools.product(authors, accounts, verified):
            case = _Case(
                true_terms, true_regexes, true_nears, true_regions, author, account, classes
            )
            if _evaluate(node, case):
                return True
    return False


def _terms(node: Node) -> list[Term]:
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return _terms(node.child)
    if isinstance(node, And | Or):
        return [t for c in node.children for t in _terms(c)]
    return []


def _regexes(node: Node) -> list[Regex]:
    if isinstance(node, Regex):
        return [node]
    if isinstance(node, Not):
        return _regexes(node.child)
    if isinstance(node, And | Or):
        return [r for c in node.children for r in _regexes(c)]
    return []


def warnings_for(node: Node, text: str) -> list[QueryWarning]:
    """Warnings for a parsed rule (``text`` is the rule as written, for positions)."""
    warnings: list[QueryWarning] = []
    if can_match(node) is False:
        warnings.append(
            QueryWarning(
                0,
                "这条规则永远不会匹配任何帖子（条件互相矛盾，例如 a AND NOT a）",
                "This rule can never match any post (its conditions contradict each other, "
                "e.g. a AND NOT a)",
            )
        )
    else:
        empty = _Case(set(), set(), set(), set(), None, None, frozenset({"false"}))
        if _evaluate(node, empty):
            warnings.append(
                QueryWarning(
                    0,
                    "这条规则没有必须出现的词，会匹配几乎所有帖子",
                    "This rule requires no word at all, so it matches almost every post",
                )
            )
    for term in _terms(node):
        if term.text in ("and", "or", "not") and text[term.pos : term.pos + 1] not in '"“＂':
            upper = term.text.upper()
            warnings.append(
                QueryWarning(
                    term.pos,
                    f"小写的 {term.text} 会被当作词语搜索；要表示运算符请写大写 {upper}",
                    f"Lower-case '{term.text}' is searched as a word; write {upper} for the "
                    "operator",
                )
            )
    for regex in _regexes(node):
        if compile_regex(regex.pattern, regex.pos).search("") is not None:
            warnings.append(
                QueryWarning(
                    regex.pos,
                    "这个正则表达式能匹配空文本，因此匹配所有帖子",
                    "This regular expression matches empty text, so it matches every post",
                )
            )
    return warnings


def search_terms(node: Node) -> tuple[str, ...] | None:
    """Keywords to search the platform with so that every post the rule matches contains at least
    one of them (a cover): OR needs one of each side, AND and NEAR only one side's (the smaller).
    None when no keyword covers the rule — a NOT, a regex, a field alone match posts that share
    no word, so a keyword search would miss some of them."""
    if isinstance(node, Term):
        return (node.text,)
    if isinstance(node, Near):
        return min(node.left, node.right, key=len)
    if isinstance(node, Or):
        out: list[str] = []
        for child in node.children:
            found = search_terms(child)
            if found is None:
                return None
            out.extend(t for t in found if t not in out)
        return tuple(out)
    if isinstance(node, And):
        covers = [c for c in (search_terms(child) for child in node.children) if c is not None]
        return min(covers, key=len) if covers else None
    return None

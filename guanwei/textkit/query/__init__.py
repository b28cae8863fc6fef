"""The monitor query language (舆情监控规则): parse, check and compile rules, match posts.

    >>> m = compile_rules({"brand": '示例乳业 AND (投诉 OR 变质) -广告'})
    >>> m.match([MatchText("示例乳业的牛奶变质了")])
    [['brand']]

Grammar and semantics: docs/query-language.md.
"""

from __future__ import annotations

from guanwei.textkit.query.analysis import QueryWarning, search_terms, warnings_for
from guanwei.textkit.query.compiler import Matcher, MatchText, compile_rules, near, verified_classes
from guanwei.textkit.query.highlight import highlight
from guanwei.textkit.query.syntax import (
    And,
    Field,
    Near,
    Node,
    Not,
    Or,
    QuerySyntaxError,
    Regex,
    Term,
    parse,
)

__all__ = [
    "And",
    "Field",
    "Matcher",
    "Near",
    "Node",
    "Not",
    "Or",
    "MatchText",
    "QuerySyntaxError",
    "QueryWarning",
    "Regex",
    "Term",
    "check",
    "compile_rules",
    "highlight",
    "near",
    "parse",
    "search_terms",
    "verified_classes",
]


def check(text: str) -> list[QueryWarning]:
    """Validate one rule: raise QuerySyntaxError if it does not parse, else return its warnings."""
    return warnings_for(parse(text), text)

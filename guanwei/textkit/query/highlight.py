"""Where a rule's words occur in a post, as spans of the original text (for highlighting)."""

from __future__ import annotations

from guanwei.textkit.normalize import normalize
from guanwei.textkit.query.compiler import _occurrences
from guanwei.textkit.query.syntax import And, Near, Node, Not, Or, Regex, Term, compile_regex, parse

__all__ = ["highlight"]


def _positive(node: Node, terms: list[str], regexes: list[str]) -> None:
    """Collect terms and regexes that are not under a NOT (those are what made the post match)."""
    if isinstance(node, Term):
        terms.append(node.text)
    elif isinstance(node, Near):
        terms.extend(node.left)
        terms.extend(node.right)
    elif isinstance(node, Regex):
        regexes.append(node.pattern)
    elif isinstance(node, And | Or):
        for child in node.children:
            _positive(child, terms, regexes)
    elif isinstance(node, Not):
        return


def highlight(rule: str | Node, text: str) -> list[tuple[int, int]]:
    """Sorted, merged half-open spans of ``text`` (the original, not the folded form) where the
    rule's positive terms, phrases and regexes occur. Raises QuerySyntaxError for a bad rule."""
    tree = parse(rule) if isinstance(rule, str) else rule
    terms: list[str] = []
    regexes: list[str] = []
    _positive(tree, terms, regexes)
    folded = normalize(text)
    spans = _occurrences(folded.text, list(dict.fromkeys(terms)))
    for pattern in dict.fromkeys(regexes):
        spans.extend(
            m.span() for m in compile_regex(pattern).finditer(folded.text) if m.end() > m.start()
        )
    merged: list[tuple[int, int]] = []
    for start, end in sorted(folded.original_span(s, e) for s, e in spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged

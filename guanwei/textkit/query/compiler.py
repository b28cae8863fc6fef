"""Compile all of an enterprise's monitor rules into one `Matcher`.

One Aho-Corasick automaton finds every term and phrase of every rule in a single pass over the
folded post. Each rule becomes a small boolean program (a generated Python expression over the set
of literals found, the folded text and the post's fields) and is evaluated only when one of its
*trigger keys* was seen: a literal, a field value (looked up in a dict) or a regex (one RE2 set
scan for all of them). A rule's trigger keys are a set that every matching post must hit — for
``a AND b`` the rarer of the two, for ``a OR b`` both — so common words in AND rules cost nothing.
Rules that are a plain OR of terms, regexes and fields match directly on a hit, without a
program. Only rules that can match without any literal, field or regex (``NOT 广告``) are
evaluated on every post.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar

import ahocorasick
import re2

from guanwei.textkit.normalize import fold
from guanwei.textkit.query.analysis import QueryWarning, warnings_for
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
    compile_regex,
    parse,
)

__all__ = ["Matcher", "MatchText", "compile_rules", "near", "verified_classes"]

K = TypeVar("K", bound=Hashable)

# Weibo `verified_type` → the verified: values it satisfies. −1 is an ordinary user; 0 is a
# personal verification (个人认证: the yellow V, orange/gold for the most influential — the API
# does not tell them apart, so both names match); 1–7 are organisations (government, enterprise,
# media, campus, website, app, organisation: the blue V). 200/220 are 微博达人 (talent badges),
# not a V; like any other or missing value they count as not verified.
_PERSONAL = frozenset({"true", "yellow", "orange"})
_ORGANISATION = frozenset({"true", "blue"})
_UNVERIFIED = frozenset({"false"})


def verified_classes(verified_type: int | None) -> frozenset[str]:
    """The ``verified:`` values a Weibo ``verified_type`` satisfies."""
    if verified_type == 0:
        return _PERSONAL
    if verified_type is not None and 1 <= verified_type <= 7:
        return _ORGANISATION
    return _UNVERIFIED


@dataclass(frozen=True)
class MatchText:
    """What a rule looks at: a text and its author's fields (plain data, no Django). Not the
    vocabulary's Post (content the enterprise publishes): any text to match, usually a Mention."""

    text: str
    author: str = ""
    verified_type: int | None = None
    region: str = ""
    account: str = ""


def _occurrences(text: str, literals: Sequence[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for lit in literals:
        size = len(lit)
        p = text.find(lit)
        while p != -1:
            spans.append((p, p + size))
            p = text.find(lit, p + 1)
    return spans


def near(text: str, left: Sequence[str], right: Sequence[str], distance: int) -> bool:
    """Is some occurrence of a ``left`` literal at most ``distance`` characters from one of
    ``right``? The gap between spans [i, e) and [j, f) is max(j − e, i − f); overlap counts as 0.
    O((m + n) log n) in the numbers of occurrences, whatever the text."""
    a = _occurrences(text, left)
    if not a:
        return False
    b = _occurrences(text, right)
    if not b:
        return False
    b.sort()
    starts = [s for s, _ in b]
    furthest_end = list(itertools.accumulate((e for _, e in b), max))
    for i, e in a:
        k = bisect.bisect_right(starts, e + distance)
        if k and furthest_end[k - 1] >= i - distance:
            return True
    return False


# --- planning -----------------------------------------------------------------------------------

TriggerKey: TypeAlias = int | tuple[str, str] | tuple[str, int]
_Need: TypeAlias = tuple[float, frozenset[TriggerKey]] | None

_FIELD_COST = {"author": 1e-4, "account": 1e-3, "region": 0.05}
_VERIFIED_COST = {"false": 0.9, "true": 0.1}
_REGEX_COST = 0.5


def _literal_frequency(text: str) -> float:
    """Prior guess of the share of posts containing ``text`` (no sample given): each CJK character
    makes it ~20× rarer, each other character ~5×."""
    p = 1.0
    for c in text:
        p *= 0.05 if c > "\u2e7f" else 0.2
    return p


class _Program:
    """Turns syntax trees into expression source and trigger plans over shared tables."""

    def __init__(self, frequency: Callable[[str], float]) -> None:
        self.frequency = frequency
        self.literals: dict[str, int] = {}
        self.strings: dict[str, int] = {}
        self.regexes: dict[str, int] = {}
        self.nears: dict[tuple[tuple[int, ...], tuple[int, ...], int], int] = {}
        self.fields_used: set[str] = set()

    def literal(self, text: str) -> int:
        return self.literals.setdefault(text, len(self.literals))

    def string(self, text: str) -> int:
        return self.strings.setdefault(text, len(self.strings))

    def regex(self, pattern: str) -> int:
        return self.regexes.setdefault(pattern, len(self.regexes))

    def expr(self, node: Node) -> tuple[float, str]:
        """(cost, source) of a boolean expression; cheaper children are tested first."""
        if isinstance(node, Term):
            return 1.0, f"{self.literal(node.text)} in f"
        if isinstance(node, Field):
            self.fields_used.add(node.name)
            sid = self.string(node.value)
            if node.name == "author":
                return 1.0, f"a == S[{sid}]"
            if node.name == "account":
                return 1.0, f"ac == S[{sid}]"
            if node.name == "region":
                return 1.0, f"S[{sid}] in rg"
            return 1.0, f"S[{sid}] in vc"
        if isinstance(node, Regex):
            return 50.0, f"R[{self.regex(node.pattern)}](t) is not None"
        if isinstance(node, Not):
            cost, src = self.expr(node.child)
            return cost, f"not ({src})"
        if isinstance(node, Near):
            left = tuple(self.literal(x) for x in node.left)
            right = tuple(self.literal(x) for x in node.right)
            nid = self.nears.setdefault((left, right, node.distance), len(self.nears))
            has_left = " or ".join(f"{k} in f" for k in left)
            has_right = " or ".join(f"{k} in f" for k in right)
            return 20.0, f"({has_left}) and ({has_right}) and NEAR(t, *N[{nid}])"
        parts = sorted((self.expr(c) for c in node.children), key=lambda p: p[0])
        joiner = " and " if isinstance(node, And) else " or "
        return sum(c for c, _ in parts), joiner.join(f"({src})" for _, src in parts)

    def need(self, node: Node) -> _Need:
        """A set of trigger keys one of which every post matching ``node`` hits, and its cost."""
        if isinstance(node, Term):
            return self.frequency(node.text), frozenset({self.literal(node.text)})
        if isinstance(node, Field):
            if node.name == "verified":
                cost = _VERIFIED_COST.get(node.value, 0.05)
            else:
                cost = _FIELD_COST[node.name]
            return cost, frozenset({(node.name, node.value)})
        if isinstance(node, Regex):
            return _REGEX_COST, frozenset({("re", self.regex(node.pattern))})
        if isinstance(node, Not):
            return None
        if isinstance(node, Near):
            sides = [
                (sum(self.frequency(x) for x in side), frozenset(self.literal(x) for x in side))
                for side in (node.left, node.right)
            ]
            return min(sides, key=lambda s: s[0])
        needs = [self.need(c) for c in node.children]
        if isinstance(node, And):
            known = [n for n in needs if n is not None]
            return min(known, key=lambda n: n[0]) if known else None
        if any(n is None for n in needs):
            return None
        return (
            sum(n[0] for n in needs if n is not None),
            frozenset().union(*(n[1] for n in needs if n is not None)),
        )


def _is_atom(node: Node) -> bool:
    return isinstance(node, Term | Regex | Field)


def _direct_keys(prog: _Program, node: Node) -> frozenset[TriggerKey] | None:
    """For a rule that is an OR of terms, regexes and fields, the keys any of which is a match."""
    atoms = node.children if isinstance(node, Or) else (node,)
    if not all(_is_atom(a) for a in atoms):
        return None
    keys: set[TriggerKey] = set()
    for atom in atoms:
        need = prog.need(atom)
        assert need is not None
        keys.update(need[1])
    return frozenset(keys)


_Dispatch: TypeAlias = tuple[tuple[int, ...], tuple[int, ...]]
_Predicate: TypeAlias = Callable[[set[int], str, str, str, frozenset[str], frozenset[str]], bool]


class Matcher(Generic[K]):
    """All rules of one enterprise, compiled together. Build with `compile_rules`."""

    def __init__(
        self,
        rules: Mapping[K, str],
        sample: Iterable[str] | None = None,
    ) -> None:
        self.rule_ids: list[K] = list(rules)
        self.trees: list[Node] = []
        self.warnings: dict[K, list[QueryWarning]] = {}
        for rule_id, text in rules.items():
            try:
                tree = parse(text)
            except QuerySyntaxError as e:
                e.rule_id = rule_id
                raise
            self.trees.append(tree)
            found = warnings_for(tree, text)
            if found:
                self.warnings[rule_id] = found
        frequency: Callable[[str], float] = _literal_frequency
        if sample is not None:
            frequency = _sampled_frequency(self.trees, sample)
        self._build(frequency)

    def _build(self, frequency: Callable[[str], float]) -> None:
        prog = _Program(frequency)
        sources: list[str] = []
        direct: dict[TriggerKey, list[int]] = {}
        trigger: dict[TriggerKey, list[int]] = {}
        self._always: tuple[int, ...] = ()
        always: list[int] = []
        self.plan_counts = {"direct": 0, "triggered": 0, "always": 0}
        for r, tree in enumerate(self.trees):
            sources.append(prog.expr(tree)[1])
            keys = _direct_keys(prog, tree)
            if keys is not None:
                for key in keys:
                    direct.setdefault(key, []).append(r)
                self.plan_counts["direct"] += 1
                continue
            need = prog.need(tree)
            if need is None:
                always.append(r)
                self.plan_counts["always"] += 1
                continue
            for key in need[1]:
                trigger.setdefault(key, []).append(r)
            self.plan_counts["triggered"] += 1
        self._always = tuple(always)

        # One automaton over every literal of every rule; the value is the literal's id.
        self._automaton: ahocorasick.Automaton | None = None
        if prog.literals:
            automaton = ahocorasick.Automaton()
            for text, lid in prog.literals.items():
                automaton.add_word(text, lid)
            automaton.make_automaton()
            self._automaton = automaton
        size = len(prog.literals)
        # Per trigger key: the rules it matches outright, and the rules whose program it triggers.
        self._direct: list[tuple[int, ...]] = [tuple(direct.get(k, ())) for k in range(size)]
        self._trigger: list[tuple[int, ...]] = [tuple(trigger.get(k, ())) for k in range(size)]
        self._field_rules: dict[str, dict[str, _Dispatch]] = {}
        regex_rules: dict[int, _Dispatch] = {}
        for key in set(direct) | set(trigger):
            if not isinstance(key, tuple):
                continue
            dispatch = (tuple(direct.get(key, ())), tuple(trigger.get(key, ())))
            if key[0] == "re":
                assert isinstance(key[1], int)
                regex_rules[key[1]] = dispatch
            else:
                assert isinstance(key[1], str)
                self._field_rules.setdefault(key[0], {})[key[1]] = dispatch
        self._author_cache: dict[str, tuple[str, tuple[int, ...], tuple[int, ...]]] = {}
        self._account_cache: dict[str, tuple[str, tuple[int, ...], tuple[int, ...]]] = {}
        self._region_cache: dict[str, tuple[frozenset[str], tuple[int, ...], tuple[int, ...]]] = {}
        self._verified_cache: dict[
            int | None, tuple[frozenset[str], tuple[int, ...], tuple[int, ...]]
        ] = {}

        regexes = [compile_regex(p).search for p in prog.regexes]
        # The regexes that match or trigger rules are scanned together by one RE2 set.
        self._regex_set: re2.Set | None = None
        self._regex_set_rules: list[_Dispatch] = []
        if regex_rules:
            options = re2.Options()
            options.case_sensitive = False
            options.log_errors = False
            regex_set = re2.Set.SearchSet(options)
            patterns = list(prog.regexes)
            for rid, dispatch in sorted(regex_rules.items()):
                regex_set.Add(patterns[rid])
                self._regex_set_rules.append(dispatch)
            regex_set.Compile()
            self._regex_set = regex_set

        strings = list(prog.strings)
        by_id = list(prog.literals)  # dicts keep insertion order: position = literal id
        nears = [
            (tuple(by_id[k] for k in left), tuple(by_id[k] for k in right), distance)
            for (left, right, distance) in prog.nears
        ]
        namespace: dict[str, object] = {"S": strings, "R": regexes, "N": nears, "NEAR": near}
        source = "P = [\n" + "".join(f" lambda f, t, a, ac, rg, vc: {s},\n" for s in sources) + "]"
        exec(compile(source, "<monitor rules>", "exec"), namespace)  # noqa: S102 - our own code
        self._programs: list[_Predicate] = namespace["P"]  # type: ignore[assignment]
        # Fields no rule looks at are not even read from the posts.
        self._uses_author = "author" in prog.fields_used
        self._uses_account = "account" in prog.fields_used
        self._uses_region = "region" in prog.fields_used
        self._uses_verified = "verified" in prog.fields_used
        self.literal_count = size

    def match(self, posts: Iterable[MatchText]) -> list[list[K]]:
        """The ids of the rules each post matches, in the order the rules were given."""
        posts = list(posts)
        return self._match_many([fold(p.text) for p in posts], posts)

    def match_prefolded(self, texts: Sequence[str], posts: Sequence[MatchText]) -> list[list[K]]:
        """Like `match` for posts whose texts are already folded (``texts[i] == fold(posts[i].text)``,
        as a Mention's `normalized` is): the folding is not done twice."""
        return self._match_many(texts, posts)

    def match_folded(self, text: str, post: MatchText) -> list[K]:
        """Like `match` for one post whose text is already ``fold(post.text)``."""
        return self._match_many([text], [post])[0]

    # Per post, each field is looked up once in a cache keyed by its raw value that holds the
    # folded value and the rules it matches and triggers: authors, accounts and regions repeat.
    def _author(self, value: str) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
        return self._field_info(self._author_cache, "author", value)

    def _account(self, value: str) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
        return self._field_info(self._account_cache, "account", value)

    def _field_info(
        self,
        cache: dict[str, tuple[str, tuple[int, ...], tuple[int, ...]]],
        name: str,
        value: str,
    ) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
        if len(cache) > 100_000:
            cache.clear()
        # uids and ASCII names: folding is just lower-casing (saves most of the cost of a miss)
        folded = value.lower() if value.isascii() and value.isalnum() else fold(value)
        dispatch = self._field_rules.get(name, {}).get(folded, ((), ()))
        info = (folded, *dispatch)
        cache[value] = info
        return info

    def _merged(self, name: str, values: Iterable[str]) -> _Dispatch:
        table = self._field_rules.get(name, {})
        direct: set[int] = set()
        triggered: set[int] = set()
        for value in values:
            if value in table:
                direct.update(table[value][0])
                triggered.update(table[value][1])
        return tuple(sorted(direct)), tuple(sorted(triggered))

    def _region(self, value: str) -> tuple[frozenset[str], tuple[int, ...], tuple[int, ...]]:
        """A region matches as a whole ("北京 朝阳区") or by any of its words ("北京")."""
        cache = self._region_cache
        if len(cache) > 100_000:
            cache.clear()
        region = fold(value)
        regions = frozenset({region, *region.split(" ")}) if region else frozenset()
        info = (regions, *self._merged("region", regions))
        cache[value] = info
        return info

    def _verified(
        self, verified_type: int | None
    ) -> tuple[frozenset[str], tuple[int, ...], tuple[int, ...]]:
        classes = verified_classes(verified_type)
        info = (classes, *self._merged("verified", classes))
        self._verified_cache[verified_type] = info
        return info

    def _match_many(self, texts: Sequence[str], posts: Sequence[MatchText]) -> list[list[K]]:
        # The hot loop of monitoring. Everything is hoisted into locals, and the per-hit work
        # (collecting literal ids, gathering the rules they match or trigger) runs in C through
        # map/chain over prebuilt tuples; Python code runs per post and per candidate rule only.
        automaton_iter = self._automaton.iter if self._automaton is not None else None
        direct_of = self._direct.__getitem__
        trigger_of = self._trigger.__getitem__
        programs = self._programs
        always = self._always
        rule_id = self.rule_ids.__getitem__
        uses_author, uses_account = self._uses_author, self._uses_account
        uses_region, uses_verified = self._uses_region, self._uses_verified
        author_cache, account_cache = self._author_cache, self._account_cache
        region_cache, verified_cache = self._region_cache, self._verified_cache
        regex_match = self._regex_set.Match if self._regex_set is not None else None
        regex_rules = self._regex_set_rules
        a: str = ""
        ac: str = ""
        rg: frozenset[str] = frozenset()
        vc: frozenset[str] = _UNVERIFIED
        empty: set[int] = set()
        second = _SECOND
        chain = itertools.chain.from_iterable
        out: list[list[K]] = []
        append = out.append
        for text, post in zip(texts, posts, strict=True):
            if automaton_iter is not None and text:
                f = set(map(second, automaton_iter(text)))
            else:
                f = empty
            if f:
                matched = set(chain(map(direct_of, f)))
                candidates = set(chain(map(trigger_of, f)))
            else:
                matched, candidates = set(), set()
            if always:
                candidates.update(always)
            if uses_author:
                a, d, c = author_cache.get(post.author) or self._author(post.author)
                if d:
                    matched.update(d)
                if c:
                    candidates.update(c)
            if uses_account:
                ac, d, c = account_cache.get(post.account) or self._account(post.account)
                if d:
                    matched.update(d)
                if c:
                    candidates.update(c)
            if uses_region:
                rg, d, c = region_cache.get(post.region) or self._region(post.region)
                if d:
                    matched.update(d)
                if c:
                    candidates.update(c)
            if uses_verified:
                vc, d, c = verified_cache.get(post.verified_type) or self._verified(
                    post.verified_type
                )
                if d:
                    matched.update(d)
                if c:
                    candidates.update(c)
            if regex_match is not None:
                hits = regex_match(text)
                if hits:
                    for i in hits:
                        d, c = regex_rules[i]
                        if d:
                            matched.update(d)
                        if c:
                            candidates.update(c)
            if candidates:
                if matched:
                    candidates -= matched
                for r in candidates:
                    if programs[r](f, text, a, ac, rg, vc):
                        matched.add(r)
            append(list(map(rule_id, sorted(matched))) if matched else [])
        return out


_SECOND = operator.itemgetter(1)


def _sampled_frequency(trees: list[Node], sample: Iterable[str]) -> Callable[[str], float]:
    """Share of sample posts containing each literal (smoothed), for planning triggers."""
    literals: set[str] = set()
    stack: list[Node] = list(trees)
    while stack:
        node = stack.pop()
        if isinstance(node, Term):
            literals.add(node.text)
        elif isinstance(node, Near):
            literals.update(node.left)
            literals.update(node.right)
        elif isinstance(node, Not):
            stack.append(node.child)
        elif isinstance(node, And | Or):
            stack.extend(node.children)
    counts = dict.fromkeys(literals, 0)
    total = 0
    if literals:
        automaton = ahocorasick.Automaton()
        for lit in literals:
            automaton.add_word(lit, lit)
        automaton.make_automaton()
        for raw in sample:
            total += 1
            text = fold(raw)
            if text:
                for lit in {v for _, v in automaton.iter(text)}:
                    counts[lit] += 1

    def frequency(text: str) -> float:
        return (counts.get(text, 0) + 0.5) / (total + 1.0)

    return frequency


def compile_rules(rules: Mapping[K, str], *, sample: Iterable[str] | None = None) -> Matcher[K]:
    """Compile every rule together. Raises QuerySyntaxError (with ``rule_id`` set) for the first
    rule that does not parse; warnings (e.g. a rule that can never match) are in
    ``Matcher.warnings``. ``sample``: optional recent post texts, used only to plan which words
    trigger which rules (rarer words first); results are the same with or without it."""
    return Matcher(rules, sample)

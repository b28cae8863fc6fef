"""The monitor query language: tokens, the syntax tree and the parser (see docs/query-language.md).

Every error is a `QuerySyntaxError` with a 0-based position and a message in Chinese and English;
nothing else escapes `parse`, whatever the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import re2

from guanwei.textkit.normalize import fold, to_simplified

__all__ = [
    "FIELDS",
    "MAX_DEPTH",
    "MAX_NEAR",
    "MAX_QUERY_LENGTH",
    "MAX_REGEX_LENGTH",
    "MAX_REGEX_PROGRAM",
    "VERIFIED_VALUES",
    "And",
    "Field",
    "Near",
    "Node",
    "Not",
    "Or",
    "QuerySyntaxError",
    "Regex",
    "Term",
    "compile_regex",
    "parse",
]

MAX_QUERY_LENGTH = 4000
MAX_DEPTH = 50
MAX_NEAR = 1000
MAX_REGEX_LENGTH = 200
MAX_REGEX_PROGRAM = 3000  # RE2 program size (instructions); a{1000} is ~1000
FIELDS = ("author", "verified", "region", "account")
# verified: accepted spellings → the canonical value
VERIFIED_VALUES = {
    "true": "true",
    "false": "false",
    "blue": "blue",
    "yellow": "yellow",
    "orange": "orange",
    "是": "true",
    "否": "false",
    "蓝v": "blue",
    "黄v": "yellow",
    "橙v": "orange",
}


class QuerySyntaxError(ValueError):
    """A rule that cannot be compiled; ``position`` is the 0-based index in the rule text."""

    def __init__(self, position: int, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_en} (at {position})")
        self.position = position
        self.message_zh = message_zh
        self.message_en = message_en
        self.rule_id: object = None  # set by compile_rules for the rule that failed


# --- the syntax tree ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """A word or "phrase", already folded; matches as a substring of the folded post."""

    text: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Regex:
    """``/pattern/`` run with RE2 on the folded post, ignoring case."""

    pattern: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Field:
    """``author:`` / ``verified:`` / ``region:`` / ``account:`` with a folded value."""

    name: Literal["author", "verified", "region", "account"]
    value: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Not:
    child: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Near:
    """Some term of ``left`` and some term of ``right`` at most ``distance`` characters apart."""

    left: tuple[str, ...]
    right: tuple[str, ...]
    distance: int
    pos: int = field(default=0, compare=False)


Node = Term | Regex | Field | Not | And | Or | Near


# --- tokens -------------------------------------------------------------------------------------

_OPEN_QUOTES = {'"': '"', "“": "”", "＂": "＂"}
_WORD_STOP = frozenset('()（）"“＂')
_FIELD = re.compile(r"([A-Za-z_]+)[:：]")
_NEAR = re.compile(r"NEAR/(\d+)")


@dataclass(frozen=True)
class _Token:
    kind: Literal["(", ")", "AND", "OR", "NOT", "-", "NEAR", "TERM", "REGEX", "FIELD", "EOF"]
    pos: int
    text: str = ""
    name: str = ""  # field name
    number: int = 0  # NEAR distance


def _phrase(s: str, start: int) -> tuple[str, int]:
    """Read a quoted phrase starting at ``start`` (the quote); return (content, index after it)."""
    closers = {_OPEN_QUOTES[s[start]], '"'}
    out: list[str] = []
    i = start + 1
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
            continue
        if c in closers:
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise QuerySyntaxError(start, "引号没有闭合", "The quote is never closed")


def _regex(s: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    i = start + 1
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            if s[i + 1] == "/":
                out.append("/")
            else:
                out.append(s[i : i + 2])
            i += 2
            continue
        if c == "/":
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise QuerySyntaxError(
        start,
        "正则表达式缺少结尾的 /（要搜索斜杠本身，请加引号）",
        "The regular expression has no closing / (to search for a slash, quote it)",
    )


def _tokens(s: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
        elif c in "(（":
            tokens.append(_Token("(", i))
            i += 1
        elif c in ")）":
            tokens.append(_Token(")", i))
            i += 1
        elif c in _OPEN_QUOTES:
            text, end = _phrase(s, i)
            tokens.append(_Token("TERM", i, text=text, name="phrase"))
            i = end
        elif c == "/":
            pattern, end = _regex(s, i)
            tokens.append(_Token("REGEX", i, text=pattern))
            i = end
        elif c == "-":
            if i + 1 >= n or s[i + 1].isspace() or s[i + 1] in ")）":
                raise QuerySyntaxError(
                    i,
                    "减号 - 后面要紧跟要排除的词（要搜索减号本身，请加引号）",
                    "A minus sign must be directly followed by the term to exclude "
                    "(to search for a minus sign, quote it)",
                )
            tokens.append(_Token("-", i))
            i += 1
        else:
            j = i
            while j < n and not s[j].isspace() and s[j] not in _WORD_STOP:
                j += 1
            tokens.append(_word(s, i, j))
            i = j
            if tokens[-1].kind == "FIELD" and not tokens[-1].text:
                # field:"a phrase"
                if i < n and s[i] in _OPEN_QUOTES:
                    value, i = _phrase(s, i)
                    tokens[-1] = _Token("FIELD", tokens[-1].pos, text=value, name=tokens[-1].name)
                if not tokens[-1].text.strip():
                    name = tokens[-1].name
                    raise QuerySyntaxError(
                        tokens[-1].pos,
                        f"字段 {name}: 后面缺少值",
                        f"The field {name}: has no value",
                    )
    tokens.append(_Token("EOF", n))
    return tokens


def _word(s: str, i: int, j: int) -> _Token:
    word = s[i:j]
    if word in ("AND", "OR", "NOT"):
        return _Token(word, i)  # type: ignore[arg-type]
    if word.startswith("NEAR"):
        m = _NEAR.fullmatch(word)
        if m is None:
            raise QuerySyntaxError(
                i,
                "NEAR 要写成 NEAR/数字，例如 NEAR/10（要搜索单词 near，请用小写或加引号）",
                "Write NEAR as NEAR/number, e.g. NEAR/10 (to search the word, write it in "
                "lower case or quote it)",
            )
        distance = int(m.group(1)) if len(m.group(1)) <= 6 else MAX_NEAR + 1
        if distance > MAX_NEAR:
            raise QuerySyntaxError(
                i,
                f"NEAR 的距离最多是 {MAX_NEAR} 个字",
                f"The NEAR distance is at most {MAX_NEAR} characters",
            )
        return _Token("NEAR", i, number=distance)
    m = _FIELD.match(word)
    if m is not None:
        name = m.group(1).lower()
        if name not in FIELDS:
            raise QuerySyntaxError(
                i,
                f"未知字段“{m.group(1)}”；可用字段：author、verified、region、account"
                "（要搜索含冒号的词，请加引号）",
                f"Unknown field '{m.group(1)}'; the fields are author, verified, region and "
                "account (to search a word containing a colon, quote it)",
            )
        return _Token("FIELD", i, text=word[m.end() :], name=name)
    return _Token("TERM", i, text=word)


# --- the parser ---------------------------------------------------------------------------------


def compile_regex(pattern: str, position: int = 0) -> re2._Regexp:
    """Compile a ``/regex/`` body for folded text, or refuse it with a QuerySyntaxError."""
    if not pattern:
        raise QuerySyntaxError(position, "正则表达式是空的", "The regular expression is empty")
    if len(pattern) > MAX_REGEX_LENGTH:
        raise QuerySyntaxError(
            position,
            f"正则表达式太长（最多 {MAX_REGEX_LENGTH} 个字符）",
            f"The regular expression is too long (at most {MAX_REGEX_LENGTH} characters)",
        )
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = 4 << 20
    try:
        compiled = re2.compile(pattern, options)
    except (re2.error, UnicodeError, TypeError, ValueError) as e:
        detail = (
            e.args[0].decode("utf-8", "replace")
            if e.args and isinstance(e.args[0], bytes)
            else str(e)
        )
        raise QuerySyntaxError(
            position,
            f"正则表达式无效或不受支持（不支持反向引用和环视）：{detail}",
            f"The regular expression is invalid or unsupported (no backreferences or "
            f"lookaround): {detail}",
        ) from None
    if compiled.programsize > MAX_REGEX_PROGRAM:
        raise QuerySyntaxError(
            position,
            "正则表达式太复杂（重复次数太多），请简化",
            "The regular expression is too complex (too much repetition); simplify it",
        )
    return compiled


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.parse_or()
        if self.tok.kind == ")":
            raise QuerySyntaxError(self.tok.pos, "多余的右括号", "Unmatched closing parenthesis")
        assert self.tok.kind == "EOF"
        return node

    def _missing_operand(self, op: _Token) -> None:
        nxt = self.tok
        if nxt.kind in ("EOF", ")", "OR", "AND", "NEAR"):
            label = op.kind if op.kind != "-" else "-"
            raise QuerySyntaxError(
                op.pos,
                f"{label} 后面缺少词语或条件",
                f"{label} is not followed by a term or condition",
            )

    def parse_or(self) -> Node:
        start = self.tok.pos
        children = [self.parse_and()]
        while self.tok.kind == "OR":
            self._missing_operand(self.advance())
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children), start)

    def parse_and(self) -> Node:
        start = self.tok.pos
        children = [self.parse_unary()]
        while self.tok.kind not in ("EOF", ")", "OR"):
            if self.tok.kind == "AND":
                self._missing_operand(self.advance())
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else And(tuple(children), start)

    def parse_unary(self) -> Node:
        if self.tok.kind in ("NOT", "-"):
            op = self.advance()
            self._missing_operand(op)
            self.enter(op)
            child = self.parse_unary()
            self.depth -= 1
            return Not(child, op.pos)
        return self.parse_near()

    def enter(self, tok: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QuerySyntaxError(
                tok.pos,
                f"嵌套太深（最多 {MAX_DEPTH} 层）",
                f"Nested too deeply (at most {MAX_DEPTH} levels)",
            )

    def parse_near(self) -> Node:
        starts = [self.tok.pos]
        first = self.parse_primary()
        if self.tok.kind != "NEAR":
            return first
        operands = [first]
        distances: list[int] = []
        while self.tok.kind == "NEAR":
            op = self.advance()
            if self.tok.kind not in ("TERM", "("):
                raise QuerySyntaxError(
                    op.pos,
                    "NEAR/n 后面缺少词语",
                    "NEAR/n is not followed by a term",
                )
            distances.append(op.number)
            starts.append(self.tok.pos)
            operands.append(self.parse_primary())
        sides = [_near_side(o, start) for o, start in zip(operands, starts, strict=True)]
        pairs: list[Node] = [
            Near(sides[k], sides[k + 1], distances[k], starts[0]) for k in range(len(distances))
        ]
        return pairs[0] if len(pairs) == 1 else And(tuple(pairs), starts[0])

    def parse_primary(self) -> Node:
        tok = self.tok
        if tok.kind == "TERM":
            self.advance()
            text = fold(tok.text)
            if not text:
                raise QuerySyntaxError(
                    tok.pos,
                    "这个词在规范化后是空的（只有空格或不可见字符）",
                    "This term is empty after normalisation (only spaces or invisible characters)",
                )
            return Term(text, tok.pos)
        if tok.kind == "REGEX":
            self.advance()
            pattern = to_simplified(tok.text)
            compile_regex(pattern, tok.pos)
            return Regex(pattern, tok.pos)
        if tok.kind == "FIELD":
            self.advance()
            return _field(tok)
        if tok.kind == "(":
            self.advance()
            if self.tok.kind == ")":
                raise QuerySyntaxError(tok.pos, "括号里是空的", "Empty parentheses")
            self.enter(tok)
            node = self.parse_or()
            self.depth -= 1
            closing = self.tok
            if closing.kind != ")":
                raise QuerySyntaxError(tok.pos, "括号没有闭合", "The parenthesis is never closed")
            self.advance()
            return node
        if tok.kind == ")":
            raise QuerySyntaxError(tok.pos, "多余的右括号", "Unmatched closing parenthesis")
        if tok.kind in ("AND", "OR"):
            raise QuerySyntaxError(
                tok.pos,
                f"{tok.kind} 前面缺少词语或条件",
                f"{tok.kind} is not preceded by a term or condition",
            )
        if tok.kind == "NEAR":
            raise QuerySyntaxError(
                tok.pos, "NEAR/n 前面缺少词语", "NEAR/n is not preceded by a term"
            )
        if self.i == 0:
            raise QuerySyntaxError(0, "规则是空的", "The rule is empty")
        raise QuerySyntaxError(tok.pos, "规则在这里意外结束", "The rule ends unexpectedly here")


def _near_side(node: Node, start: int) -> tuple[str, ...]:
    if isinstance(node, Term):
        return (node.text,)
    if isinstance(node, Or) and all(isinstance(c, Term) for c in node.children):
        return tuple(dict.fromkeys(c.text for c in node.children if isinstance(c, Term)))
    raise QuerySyntaxError(
        start,
        "NEAR 两边只能是词语、短语或 (词语 OR 词语) 组",
        "NEAR can only join terms, phrases or (term OR term) groups",
    )


def _field(tok: _Token) -> Field:
    value = fold(tok.text)
    if tok.name == "verified":
        canonical = VERIFIED_VALUES.get(value)
        if canonical is None:
            raise QuerySyntaxError(
                tok.pos,
                "verified: 的值只能是 true、false、blue、yellow、orange（或 是、否、蓝V、黄V、橙V）",
                "verified: takes true, false, blue, yellow or orange",
            )
        value = canonical
    if not value:
        raise QuerySyntaxError(
            tok.pos, f"字段 {tok.name}: 后面缺少值", f"The field {tok.name}: has no value"
        )
    return Field(tok.name, value, tok.pos)  # type: ignore[arg-type]


def parse(text: str) -> Node:
    """Parse one rule into its syntax tree; raise QuerySyntaxError for anything else."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            MAX_QUERY_LENGTH,
            f"规则太长（最多 {MAX_QUERY_LENGTH} 个字符）",
            f"The rule is too long (at most {MAX_QUERY_LENGTH} characters)",
        )
    return _Parser(text).parse()

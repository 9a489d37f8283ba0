"""The expression language's tokenizer and recursive-descent parser: text -> syntax tree.

Bureau staff write these expressions, so they are untrusted text: nothing here is ever
handed to eval/exec/compile, and every failure (syntax, absurd length or nesting)
surfaces as FormError. The type check and the closures are in expr_compile.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, TypeAlias

from models.forms.definition import FormError

MAX_LENGTH = 1000
MAX_DEPTH = 50

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "missing"})
FUNCTIONS = frozenset({"sum", "min", "max", "abs", "round", "count", "if", "coalesce", "answered"})
RESERVED = KEYWORDS | FUNCTIONS

# --- tokens ----------------------------------------------------------------------------

TokenKind = Literal["number", "string", "name", "op", "end"]


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    pos: int  # 1-based column, as people count


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<number>[0-9]+(?:\.[0-9]+)?)
  | (?P<string>"[^"\n]*"|'[^'\n]*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|[-+*/<>(),\[\].])
    """,
    re.VERBOSE,
)

_CHAR_HINTS = {
    "=": "use == to compare",
    "&": "use `and`",
    "|": "use `or`",
    "!": "use `not` or !=",
    "（": "use ASCII parentheses ( )",
    "）": "use ASCII parentheses ( )",
    "，": "use an ASCII comma ,",
    "＝": "use == to compare",
    "“": 'use ASCII quotes "..."',
    "”": 'use ASCII quotes "..."',
    "%": "write the rate as a / b * 100",
    "^": "powers are not supported",
}


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN_RE.match(source, pos)
        if m is None:
            ch = source[pos]
            hint = _CHAR_HINTS.get(ch)
            if ch in "\"'":
                raise FormError(f"unclosed quote at position {pos + 1}")
            msg = f"unexpected character {ch!r} at position {pos + 1}"
            raise FormError(f"{msg} ({hint})" if hint else msg)
        kind = m.lastgroup
        if kind != "ws":
            assert kind is not None
            text = m.group()
            tok_kind: TokenKind = kind  # type: ignore[assignment]
            tokens.append(Token(tok_kind, text, pos + 1))
        pos = m.end()
    tokens.append(Token("end", "", len(source) + 1))
    return tokens


# --- syntax tree -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Num:
    value: int | Decimal


@dataclass(frozen=True, slots=True)
class Str:
    value: str


@dataclass(frozen=True, slots=True)
class Missing:
    """The literal `missing`: no value (e.g. no target for this stage)."""


@dataclass(frozen=True, slots=True)
class BoolLit:
    value: bool


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Name:
    name: str


@dataclass(frozen=True, slots=True)
class Attr:
    """`group.field`: the column of a group field over all items."""

    group: str
    field: str


@dataclass(frozen=True, slots=True)
class Unary:
    """A prefix operator: `-a` or `not a` (a leading `+` leaves no node)."""

    op: Literal["-", "not"]
    operand: Node


@dataclass(frozen=True, slots=True)
class Chain:
    """a + b - c (kind "add") or a * b / c (kind "mul"), kept flat so that a long
    sum of fields is not a deep tree."""

    kind: Literal["add", "mul"]
    first: Node
    rest: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # == != < <= > >= in "not in"
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logic:
    op: Literal["and", "or"]
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Node, ...]


Node: TypeAlias = (
    Num
    | Str
    | BoolLit
    | Missing
    | ListLit
    | Name
    | Attr
    | Unary
    | Chain
    | Compare
    | Logic
    | Call
)

_COMPARE_OPS = frozenset({"==", "!=", "<", "<=", ">", ">="})


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.i = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def at(self, text: str) -> bool:
        tok = self.tokens[self.i]
        return tok.text == text and tok.kind in ("op", "name")

    def expect(self, text: str) -> Token:
        tok = self.peek()
        if not self.at(text):
            raise FormError(f"expected {text!r} at position {tok.pos}, found {_show(tok)}")
        return self.take()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormError(f"expression is nested more than {MAX_DEPTH} levels deep")

    def parse(self) -> Node:
        node = self.expr()
        tok = self.peek()
        if tok.kind != "end":
            raise FormError(f"unexpected {_show(tok)} at position {tok.pos}")
        return node

    def expr(self) -> Node:
        self.enter()
        node = self.or_expr()
        self.depth -= 1
        return node

    def or_expr(self) -> Node:
        return self._logic("or", self.and_expr)

    def and_expr(self) -> Node:
        return self._logic("and", self.not_expr)

    def _logic(self, op: Literal["and", "or"], operand: Callable[[], Node]) -> Node:
        """Operands joined by `op`, kept in one flat node; a lone operand is itself."""
        operands = [operand()]
        while self.at(op):
            self.take()
            operands.append(operand())
        return operands[0] if len(operands) == 1 else Logic(op, tuple(operands))

    def _prefixed(self, operand: Callable[[], Node]) -> Node:
        """The operand after a prefix operator (taken here), one level deeper."""
        self.take()
        self.enter()
        node = operand()
        self.depth -= 1
        return node

    def not_expr(self) -> Node:
        if self.at("not"):
            return Unary("not", self._prefixed(self.not_expr))
        return self.comparison()

    def _compare_op(self) -> str | None:
        tok = self.peek()
        if tok.kind == "op" and tok.text in _COMPARE_OPS:
            return tok.text
        if self.at("in"):
            return "in"
        if self.at("not") and self.tokens[self.i + 1].text == "in":
            return "not in"
        return None

    def comparison(self) -> Node:
        left = self.additive()
        op = self._compare_op()
        if op is None:
            return left
        for _ in op.split():
            self.take()
        right = self.additive()
        if self._compare_op() is not None:
            raise FormError(
                f"chained comparison at position {self.peek().pos}: "
                "write `a <= b and b <= c` instead of `a <= b <= c`"
            )
        return Compare(op, left, right)

    def additive(self) -> Node:
        return self._chain("add", "+-", self.term)

    def term(self) -> Node:
        return self._chain("mul", "*/", self.unary)

    def _chain(self, kind: Literal["add", "mul"], ops: str, operand: Callable[[], Node]) -> Node:
        """Operands joined by any of `ops` (one character each), kept in one flat node."""
        first = operand()
        rest: list[tuple[str, Node]] = []
        while self.peek().kind == "op" and self.peek().text in ops:
            op = self.take().text
            rest.append((op, operand()))
        return Chain(kind, first, tuple(rest)) if rest else first

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.text in "+-":
            operand = self._prefixed(self.unary)
            return Unary("-", operand) if tok.text == "-" else operand
        return self.primary()

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "number":
            return Num(Decimal(tok.text) if "." in tok.text else int(tok.text))
        if tok.kind == "string":
            return Str(tok.text[1:-1])
        if tok.kind == "op" and tok.text == "(":
            node = self.expr()
            self.expect(")")
            return node
        if tok.kind == "op" and tok.text == "[":
            return ListLit(self.items("]"))
        if tok.kind == "name":
            return self.named(tok)
        if tok.kind == "end":
            raise FormError("expression ends too early")
        raise FormError(f"unexpected {_show(tok)} at position {tok.pos}")

    def items(self, close: str) -> tuple[Node, ...]:
        """Comma-separated expressions up to `close` (list items, call arguments)."""
        items: list[Node] = []
        if not self.at(close):
            items.append(self.expr())
            while self.at(","):
                self.take()
                items.append(self.expr())
        self.expect(close)
        return tuple(items)

    def named(self, tok: Token) -> Node:
        """A primary starting with a word: a literal keyword, a call, group.field or a name."""
        if tok.text in ("true", "false"):
            return BoolLit(tok.text == "true")
        if tok.text == "missing":
            return Missing()
        if tok.text in KEYWORDS:
            raise FormError(f"unexpected {_show(tok)} at position {tok.pos}")
        if self.at("("):
            self.take()
            return Call(tok.text, self.items(")"))
        if self.at("."):
            self.take()
            attr = self.take()
            if attr.kind != "name":
                raise FormError(f"expected a field name after '{tok.text}.' at position {attr.pos}")
            return Attr(tok.text, attr.text)
        return Name(tok.text)


def _show(tok: Token) -> str:
    return "end of expression" if tok.kind == "end" else repr(tok.text)


def parse(source: str) -> Node:
    """Parse source into a syntax tree; FormError if it is not a valid expression."""
    if not isinstance(source, str):
        raise FormError("an expression must be a string")
    if len(source) > MAX_LENGTH:
        raise FormError(f"expression is longer than {MAX_LENGTH:,} characters")
    if not source.strip():
        raise FormError("expression is empty")
    return _Parser(source).parse()

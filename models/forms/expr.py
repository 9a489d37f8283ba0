"""The small, safe expression language of forms (show_if, rules, computed fields).

Bureau staff write these expressions, so they are untrusted text: they are read by
a hand-written tokenizer and recursive-descent parser into a tree, checked against
the names the form defines (types included), and turned into Python closures. No
text is ever handed to eval/exec/compile, and every failure (syntax, unknown name,
type mismatch, overflow, absurd nesting) surfaces as FormError.

Missing values (a skipped optional question, a hidden field, an unanswered one, a
division by zero) are None, with these rules:
  * arithmetic with a missing operand is missing; x / 0 is missing ("not applicable");
  * sum() counts missing as 0; min()/max() ignore missing; count() counts answered;
  * a comparison or `in` with a missing operand is missing;
  * and/or follow three-valued logic: false and missing = false, true or missing = true;
  * if(cond, a, b): a missing cond counts as not true; the literal `missing` is no value;
  * a rule whose result is missing is not checked (it passes); a show_if whose
    result is missing hides its field.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Any, Literal, TypeAlias

from models.forms.definition import FormError, Value

MAX_LENGTH = 1000
MAX_DEPTH = 50

# Enough digits for any count of teachers times any rate, small enough that a hostile
# expression cannot make the evaluator chew on huge numbers.
DECIMAL_CONTEXT = Context(
    prec=50,
    rounding=ROUND_HALF_UP,
    Emax=10_000,
    Emin=-10_000,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "missing"})
FUNCTIONS = frozenset({"sum", "min", "max", "abs", "round", "count", "if", "coalesce", "answered"})
RESERVED = KEYWORDS | FUNCTIONS

# --- types -----------------------------------------------------------------------------
# Static types are plain strings: "number", "text", "bool", "date", "any", "group",
# and "list[<scalar>]" for list literals, multi_choice answers and group columns.
NUMBER = "number"
TEXT = "text"
BOOL = "bool"
DATE = "date"
ANY = "any"
GROUP = "group"


def list_of(t: str) -> str:
    return f"list[{t}]"


def is_list(t: str) -> bool:
    return t.startswith("list[")


def element(t: str) -> str:
    return t[5:-1] if is_list(t) else ANY


def _fits(t: str, want: str) -> bool:
    return t == want or t == ANY or want == ANY


def _describe(t: str) -> str:
    if is_list(t):
        return f"a list of {_describe(element(t))}"
    return {
        NUMBER: "a number",
        TEXT: "text",
        BOOL: "a yes/no condition",
        DATE: "a date",
        ANY: "anything",
        GROUP: "a group",
    }.get(t, t)


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
class BoolLit:
    value: bool


@dataclass(frozen=True, slots=True)
class Missing:
    """The literal `missing`: no value (e.g. no target for this stage)."""


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class Attr:
    """`group.field`: the column of a group field over all items."""

    group: str
    field: str
    pos: int


@dataclass(frozen=True, slots=True)
class Neg:
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
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Node, ...]
    pos: int


Node: TypeAlias = (
    Num
    | Str
    | BoolLit
    | Missing
    | ListLit
    | Name
    | Attr
    | Neg
    | Chain
    | Compare
    | Logic
    | Not
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
        operands = [self.and_expr()]
        while self.at("or"):
            self.take()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else Logic("or", tuple(operands))

    def and_expr(self) -> Node:
        operands = [self.not_expr()]
        while self.at("and"):
            self.take()
            operands.append(self.not_expr())
        return operands[0] if len(operands) == 1 else Logic("and", tuple(operands))

    def not_expr(self) -> Node:
        if self.at("not"):
            self.take()
            self.enter()
            operand = self.not_expr()
            self.depth -= 1
            return Not(operand)
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
        first = self.term()
        rest: list[tuple[str, Node]] = []
        while self.peek().kind == "op" and self.peek().text in "+-":
            op = self.take().text
            rest.append((op, self.term()))
        return Chain("add", first, tuple(rest)) if rest else first

    def term(self) -> Node:
        first = self.unary()
        rest: list[tuple[str, Node]] = []
        while self.peek().kind == "op" and self.peek().text in "*/":
            op = self.take().text
            rest.append((op, self.unary()))
        return Chain("mul", first, tuple(rest)) if rest else first

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.text in "+-":
            self.take()
            self.enter()
            operand = self.unary()
            self.depth -= 1
            return Neg(operand) if tok.text == "-" else operand
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
            items: list[Node] = []
            if not self.at("]"):
                items.append(self.expr())
                while self.at(","):
                    self.take()
                    items.append(self.expr())
            self.expect("]")
            return ListLit(tuple(items))
        if tok.kind == "name":
            if tok.text in ("true", "false"):
                return BoolLit(tok.text == "true")
            if tok.text == "missing":
                return Missing()
            if tok.text in KEYWORDS:
                raise FormError(f"unexpected {_show(tok)} at position {tok.pos}")
            if self.at("("):
                self.take()
                args: list[Node] = []
                if not self.at(")"):
                    args.append(self.expr())
                    while self.at(","):
                        self.take()
                        args.append(self.expr())
                self.expect(")")
                return Call(tok.text, tuple(args), tok.pos)
            if self.at("."):
                self.take()
                attr = self.take()
                if attr.kind != "name":
                    raise FormError(
                        f"expected a field name after '{tok.text}.' at position {attr.pos}"
                    )
                return Attr(tok.text, attr.text, tok.pos)
            return Name(tok.text, tok.pos)
        if tok.kind == "end":
            raise FormError("expression ends too early")
        raise FormError(f"unexpected {_show(tok)} at position {tok.pos}")


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


# --- scope: what names mean ------------------------------------------------------------

SymbolKind = Literal["field", "item", "computed", "context"]


@dataclass(frozen=True, slots=True)
class Symbol:
    type: str
    kind: SymbolKind = "field"
    choices: frozenset[str] | None = None
    """Codes the value can take (choice fields, stage), to catch misspelled literals."""


@dataclass(frozen=True)
class Scope:
    """The names an expression may use at one place in a form."""

    names: Mapping[str, Symbol] = field(default_factory=dict)
    groups: Mapping[str, Mapping[str, Symbol]] = field(default_factory=dict)
    unavailable: Mapping[str, str] = field(default_factory=dict)
    """Names that exist but may not be used here, with the reason why."""
    where: str = "this expression"


# --- evaluation environment ------------------------------------------------------------


class Env:
    """The values an expression sees: top-level values (fields, computed, context),
    each group's items, and, for per-item expressions, the current item."""

    __slots__ = ("groups", "item", "values")

    def __init__(
        self,
        values: dict[str, Value | None] | None = None,
        groups: dict[str, list[dict[str, Value | None]]] | None = None,
        item: dict[str, Value | None] | None = None,
    ) -> None:
        self.values: dict[str, Value | None] = values if values is not None else {}
        self.groups: dict[str, list[dict[str, Value | None]]] = groups if groups is not None else {}
        self.item: dict[str, Value | None] | None = item


Result: TypeAlias = object  # Value | None | list of them | group size: checked by type rules
Fn: TypeAlias = Callable[[Env], Result]


@dataclass(frozen=True)
class Expr:
    """A checked, compiled expression. Evaluate with `evaluate(env)`."""

    source: str
    type: str
    names: frozenset[str]
    """Bare names used: top-level fields, item fields, computed and context names."""
    group_fields: frozenset[tuple[str, str]]
    """(group, field) columns used through `group.field`."""
    groups: frozenset[str]
    """Groups used as a whole, e.g. count(programmes)."""
    fn: Fn = field(repr=False, compare=False)

    def evaluate(self, env: Env) -> Value | None:
        try:
            result = self.fn(env)
        except FormError:
            raise
        except DecimalException as exc:
            raise FormError(f"arithmetic out of range in {self.source!r}") from exc
        except (TypeError, ValueError, AttributeError, RecursionError) as exc:
            raise FormError(f"cannot evaluate {self.source!r}: {exc}") from exc
        return result  # type: ignore[return-value]


# --- runtime helpers -------------------------------------------------------------------


def _num(v: object) -> int | Decimal:
    if isinstance(v, bool) or not isinstance(v, int | Decimal):
        raise FormError(f"expected a number, got {v!r}")
    return v


def _arith(op: str, a: int | Decimal, b: int | Decimal) -> int | Decimal | None:
    if op == "+":
        return a + b if type(a) is int and type(b) is int else DECIMAL_CONTEXT.add(a, b)
    if op == "-":
        return a - b if type(a) is int and type(b) is int else DECIMAL_CONTEXT.subtract(a, b)
    if op == "*":
        return a * b if type(a) is int and type(b) is int else DECIMAL_CONTEXT.multiply(a, b)
    if b == 0:
        return None
    return DECIMAL_CONTEXT.divide(a, b)


def round_half_up(v: int | Decimal, places: int) -> int | Decimal:
    if isinstance(v, int):
        return v
    q = v.quantize(Decimal(1).scaleb(-places), context=DECIMAL_CONTEXT)
    return int(q) if places == 0 else q


_ORDER_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compare(op: str, a: object, b: object) -> bool:
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if isinstance(a, bool) or isinstance(b, bool):
        raise FormError("yes/no values cannot be ordered")
    return bool(_ORDER_OPS[op](a, b))


def _flatten(values: Iterable[object]) -> list[object]:
    out: list[object] = []
    for v in values:
        if isinstance(v, list):
            out.extend(v)
        else:
            out.append(v)
    return out


# --- compiler: type check + closures ---------------------------------------------------


class _Compiler:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.names: set[str] = set()
        self.group_fields: set[tuple[str, str]] = set()
        self.groups: set[str] = set()

    def err(self, msg: str) -> FormError:
        return FormError(msg)

    def symbol_of(self, node: Node) -> Symbol | None:
        if isinstance(node, Name):
            return self.scope.names.get(node.name)
        if isinstance(node, Attr):
            return self.scope.groups.get(node.group, {}).get(node.field)
        return None

    def check_literals(self, target: Node, literals: Node) -> None:
        """Catch `stage == "junoir"`: a literal that the compared value can never take."""
        sym = self.symbol_of(target)
        if sym is None or sym.choices is None:
            return
        lits = literals.items if isinstance(literals, ListLit) else (literals,)
        for lit in lits:
            if isinstance(lit, Str) and lit.value not in sym.choices:
                known = ", ".join(sorted(sym.choices))
                name = target.name if isinstance(target, Name) else ""
                if isinstance(target, Attr):
                    name = f"{target.group}.{target.field}"
                raise self.err(f'"{lit.value}" is not a choice of {name} (choices: {known})')

    def compile(self, node: Node) -> tuple[Fn, str]:
        if isinstance(node, Num):
            v = node.value
            return (lambda env: v), NUMBER
        if isinstance(node, Str):
            s = node.value
            return (lambda env: s), TEXT
        if isinstance(node, BoolLit):
            b = node.value
            return (lambda env: b), BOOL
        if isinstance(node, Missing):
            return (lambda env: None), ANY
        if isinstance(node, ListLit):
            return self.compile_list(node)
        if isinstance(node, Name):
            return self.compile_name(node)
        if isinstance(node, Attr):
            return self.compile_attr(node)
        if isinstance(node, Neg):
            fn, t = self.compile(node.operand)
            self.want(t, NUMBER, "`-`")

            def neg(env: Env) -> Result:
                v = fn(env)
                if v is None:
                    return None
                n = _num(v)
                return -n if type(n) is int else DECIMAL_CONTEXT.minus(n)

            return neg, NUMBER
        if isinstance(node, Chain):
            return self.compile_chain(node)
        if isinstance(node, Compare):
            return self.compile_compare(node)
        if isinstance(node, Logic):
            return self.compile_logic(node)
        if isinstance(node, Not):
            fn, t = self.compile(node.operand)
            self.want(t, BOOL, "`not`")

            def not_(env: Env) -> Result:
                v = fn(env)
                return None if v is None else not v

            return not_, BOOL
        return self.compile_call(node)

    def want(self, t: str, want: str, what: str) -> None:
        if not _fits(t, want):
            raise self.err(f"{what} needs {_describe(want)}, not {_describe(t)}")

    def compile_list(self, node: ListLit) -> tuple[Fn, str]:
        parts = [self.compile(item) for item in node.items]
        elem = ANY
        for _, t in parts:
            if is_list(t) or t == GROUP:
                raise self.err("a list cannot contain lists")
            if elem == ANY:
                elem = t
            elif not _fits(t, elem):
                raise self.err(f"a list mixes {_describe(elem)} and {_describe(t)}")
        fns = [fn for fn, _ in parts]
        return (lambda env: [fn(env) for fn in fns]), list_of(elem)

    def compile_name(self, node: Name) -> tuple[Fn, str]:
        name = node.name
        if name in RESERVED:
            raise self.err(f"'{name}' is a reserved word and cannot be used as a name")
        sym = self.scope.names.get(name)
        if sym is None:
            if name in self.scope.unavailable:
                raise self.err(f"'{name}' {self.scope.unavailable[name]}")
            if name in self.scope.groups:
                raise self.err(f"'{name}' is a group: use count({name}) or sum({name}.<field>)")
            for g, fields in self.scope.groups.items():
                if name in fields:
                    raise self.err(
                        f"'{name}' is a field of group '{g}' and has one value per item: "
                        f"use sum({g}.{name}), min/max/count, or a per-item rule in the group"
                    )
            raise self.err(f"unknown name '{name}'{_suggest(name, self.scope)}")
        self.names.add(name)
        if sym.kind == "item":

            def item_value(env: Env) -> Result:
                return None if env.item is None else env.item.get(name)

            return item_value, sym.type

        def value(env: Env) -> Result:
            return env.values.get(name)

        return value, sym.type

    def compile_attr(self, node: Attr) -> tuple[Fn, str]:
        fields = self.scope.groups.get(node.group)
        if fields is None:
            if node.group in self.scope.unavailable:
                raise self.err(f"'{node.group}' {self.scope.unavailable[node.group]}")
            raise self.err(f"unknown group '{node.group}'{_suggest(node.group, self.scope)}")
        sym = fields.get(node.field)
        if sym is None:
            raise self.err(f"group '{node.group}' has no field '{node.field}'")
        self.group_fields.add((node.group, node.field))
        g, f = node.group, node.field
        if is_list(sym.type):
            raise self.err(f"'{g}.{f}' is a multi-choice field; its items cannot be combined")

        def column(env: Env) -> Result:
            return [it.get(f) for it in env.groups.get(g, ())]

        return column, list_of(sym.type)

    def compile_chain(self, node: Chain) -> tuple[Fn, str]:
        what = "arithmetic (+ -)" if node.kind == "add" else "arithmetic (* /)"
        first, t = self.compile(node.first)
        self.want(t, NUMBER, what)
        rest: list[tuple[str, Fn]] = []
        for op, operand in node.rest:
            fn, t = self.compile(operand)
            self.want(t, NUMBER, what)
            rest.append((op, fn))

        def chain(env: Env) -> Result:
            acc = first(env)
            if acc is None:
                return None
            acc = _num(acc)
            for op, fn in rest:
                v = fn(env)
                if v is None:
                    return None
                acc = _arith(op, acc, _num(v))
                if acc is None:
                    return None
            return acc

        return chain, NUMBER

    def compile_compare(self, node: Compare) -> tuple[Fn, str]:
        lfn, lt = self.compile(node.left)
        rfn, rt = self.compile(node.right)
        op = node.op
        if op in ("in", "not in"):
            if not is_list(rt) and rt != ANY:
                raise self.err(
                    f"`{op}` needs a list or a multi-choice field on its right, not {_describe(rt)}"
                )
            if is_list(lt) or lt == GROUP or not _fits(lt, element(rt)):
                raise self.err(f"`{op}` looks for {_describe(lt)} in {_describe(rt)}")
            self.check_literals(node.left, node.right)
            self.check_literals(node.right, node.left)
            negate = op == "not in"
            right = node.right
            if isinstance(right, ListLit) and all(isinstance(x, Num | Str) for x in right.items):
                # `stage in ["junior", "senior"]`: a constant list, built once.
                consts = tuple(x.value for x in right.items)  # type: ignore[union-attr]

                def member_const(env: Env) -> Result:
                    a = lfn(env)
                    if a is None:
                        return None
                    found = a in consts
                    return not found if negate else found

                return member_const, BOOL

            def member(env: Env) -> Result:
                a = lfn(env)
                b = rfn(env)
                if a is None or b is None:
                    return None
                if not isinstance(b, list):
                    raise FormError(f"expected a list, got {b!r}")
                found = a in [x for x in b if x is not None]
                return not found if negate else found

            return member, BOOL
        if is_list(lt) or is_list(rt) or GROUP in (lt, rt):
            raise self.err(f"`{op}` cannot compare lists; use `in` or an aggregate")
        if not (_fits(lt, rt)):
            raise self.err(f"`{op}` compares {_describe(lt)} with {_describe(rt)}")
        if op not in ("==", "!=") and (lt in (TEXT, BOOL) or rt in (TEXT, BOOL)):
            raise self.err(f"`{op}` needs numbers or dates, not {_describe(lt)}")
        if op in ("==", "!="):
            self.check_literals(node.left, node.right)
            self.check_literals(node.right, node.left)

        def compare(env: Env) -> Result:
            a = lfn(env)
            if a is None:
                return None
            b = rfn(env)
            if b is None:
                return None
            return _compare(op, a, b)

        return compare, BOOL

    def compile_logic(self, node: Logic) -> tuple[Fn, str]:
        fns: list[Fn] = []
        for operand in node.operands:
            fn, t = self.compile(operand)
            self.want(t, BOOL, f"`{node.op}`")
            fns.append(fn)
        if node.op == "and":

            def and_(env: Env) -> Result:
                missing = False
                for fn in fns:
                    v = fn(env)
                    if v is None:
                        missing = True
                    elif not v:
                        return False
                return None if missing else True

            return and_, BOOL

        def or_(env: Env) -> Result:
            missing = False
            for fn in fns:
                v = fn(env)
                if v is None:
                    missing = True
                elif v:
                    return True
            return None if missing else False

        return or_, BOOL

    def compile_call(self, node: Call) -> tuple[Fn, str]:
        name = node.func
        if name not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.err(f"unknown function '{name}' (known: {known})")
        args = node.args
        if name == "count":
            return self.compile_count(args)
        if name in ("sum", "min", "max"):
            return self.compile_aggregate(name, args)
        if name == "abs":
            self.arity(name, args, 1, 1)
            fn, t = self.compile(args[0])
            self.want(t, NUMBER, "abs()")

            def abs_(env: Env) -> Result:
                v = fn(env)
                if v is None:
                    return None
                n = _num(v)
                return abs(n) if type(n) is int else DECIMAL_CONTEXT.abs(n)

            return abs_, NUMBER
        if name == "round":
            self.arity(name, args, 1, 2)
            fn, t = self.compile(args[0])
            self.want(t, NUMBER, "round()")
            places = 0
            if len(args) == 2:
                p = args[1]
                if not isinstance(p, Num) or not isinstance(p.value, int) or p.value > 10:
                    raise self.err("round(x, n) needs n to be a whole number from 0 to 10")
                places = p.value

            def round_(env: Env) -> Result:
                v = fn(env)
                return None if v is None else round_half_up(_num(v), places)

            return round_, NUMBER
        if name == "answered":
            self.arity(name, args, 1, 1)
            fn, _ = self.compile(args[0])
            return (lambda env: fn(env) is not None), BOOL
        if name == "coalesce":
            self.arity(name, args, 1, None)
            parts = [self.compile(a) for a in args]
            t = self.common_type([t for _, t in parts], "coalesce()")
            fns = [fn for fn, _ in parts]

            def coalesce(env: Env) -> Result:
                for fn in fns:
                    v = fn(env)
                    if v is not None:
                        return v
                return None

            return coalesce, t
        return self.compile_if(args)

    def arity(self, name: str, args: Sequence[Node], lo: int, hi: int | None) -> None:
        n = len(args)
        if n < lo or (hi is not None and n > hi):
            if hi is None:
                need = f"at least {lo}"
            elif lo == hi:
                need = str(lo)
            else:
                need = f"{lo} or {hi}"
            raise self.err(f"{name}() takes {need} argument(s), got {n}")

    def common_type(self, types: Sequence[str], what: str) -> str:
        t = ANY
        for u in types:
            if t == ANY:
                t = u
            elif not _fits(u, t):
                raise self.err(f"{what} mixes {_describe(t)} and {_describe(u)}")
        return t

    def compile_if(self, args: Sequence[Node]) -> tuple[Fn, str]:
        if len(args) < 3 or len(args) % 2 == 0:
            raise self.err(
                "if() takes (condition, value, [condition, value, ...], otherwise): "
                f"an odd number of at least 3 arguments, got {len(args)}"
            )
        conds: list[Fn] = []
        values: list[Fn] = []
        vtypes: list[str] = []
        for i in range(0, len(args) - 1, 2):
            cfn, ct = self.compile(args[i])
            self.want(ct, BOOL, "an if() condition")
            vfn, vt = self.compile(args[i + 1])
            conds.append(cfn)
            values.append(vfn)
            vtypes.append(vt)
        otherwise, ot = self.compile(args[-1])
        vtypes.append(ot)
        t = self.common_type(vtypes, "if()")
        pairs = list(zip(conds, values, strict=True))

        def if_(env: Env) -> Result:
            for cfn, vfn in pairs:
                if cfn(env) is True:
                    return vfn(env)
            return otherwise(env)

        return if_, t

    def compile_count(self, args: Sequence[Node]) -> tuple[Fn, str]:
        self.arity("count", args, 1, 1)
        arg = args[0]
        if isinstance(arg, Name) and arg.name in self.scope.groups:
            g = arg.name
            self.groups.add(g)
            return (lambda env: len(env.groups.get(g, ()))), NUMBER
        fn, t = self.compile(arg)
        if not is_list(t):
            raise self.err(
                "count() needs a group, a group field (group.field) or a multi-choice "
                f"field, not {_describe(t)}"
            )

        def count(env: Env) -> Result:
            v = fn(env)
            if v is None:
                return 0
            if not isinstance(v, list):
                raise FormError(f"expected a list, got {v!r}")
            return sum(1 for x in v if x is not None)

        return count, NUMBER

    def compile_aggregate(self, name: str, args: Sequence[Node]) -> tuple[Fn, str]:
        self.arity(name, args, 1, None)
        parts = [self.compile(a) for a in args]
        scalar_types = [element(t) if is_list(t) else t for _, t in parts]
        for t in scalar_types:
            if t == GROUP:
                raise self.err(f"{name}() needs numbers; use count() for a group")
        t = self.common_type(scalar_types, f"{name}()")
        if name == "sum":
            self.want(t, NUMBER, "sum()")
        elif t not in (NUMBER, DATE, ANY):
            raise self.err(f"{name}() needs numbers or dates, not {_describe(t)}")
        fns = [fn for fn, _ in parts]
        if name == "sum":

            def sum_(env: Env) -> Result:
                acc: int | Decimal = 0
                for v in _flatten(fn(env) for fn in fns):
                    if v is None:
                        continue
                    n = _num(v)
                    acc = (
                        acc + n
                        if type(acc) is int and type(n) is int
                        else DECIMAL_CONTEXT.add(acc, n)
                    )
                return acc

            return sum_, NUMBER
        pick = min if name == "min" else max

        def extreme(env: Env) -> Result:
            present = [v for v in _flatten(fn(env) for fn in fns) if v is not None]
            if not present:
                return None
            return pick(present)  # type: ignore[type-var]

        return extreme, t


def _suggest(name: str, scope: Scope) -> str:
    import difflib

    candidates = [*scope.names, *scope.groups]
    close = difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def compile_expression(source: str, scope: Scope) -> Expr:
    """Parse and check `source` against the names of `scope`; FormError on any problem."""
    node = parse(source)
    compiler = _Compiler(scope)
    try:
        fn, t = compiler.compile(node)
    except RecursionError as exc:  # belt and braces: MAX_DEPTH should prevent it
        raise FormError("expression is nested too deeply") from exc
    return Expr(
        source=source,
        type=t,
        names=frozenset(compiler.names),
        group_fields=frozenset(compiler.group_fields),
        groups=frozenset(compiler.groups),
        fn=fn,
    )


def type_of_value(v: object) -> str:
    if v is None:
        return ANY
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, int | Decimal):
        return NUMBER
    if isinstance(v, str):
        return TEXT
    if isinstance(v, date):
        return DATE
    if isinstance(v, list):
        inner = {type_of_value(x) for x in v} - {ANY}
        return list_of(inner.pop() if len(inner) == 1 else ANY)
    raise FormError(f"unsupported value {v!r}")


def evaluate(source: str, values: Mapping[str, Value | None] | None = None) -> Value | None:
    """Evaluate a stand-alone expression over plain named values (for tests, the CLI
    and one-off checks); the form engine compiles once and reuses the Expr instead."""
    vals = dict(values or {})
    scope = Scope(names={k: Symbol(type_of_value(v)) for k, v in vals.items()})
    return compile_expression(source, scope).evaluate(Env(vals))

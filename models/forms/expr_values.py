"""What compiled expressions work with: static types, the scope of names, the
evaluation environment, the compiled Expr, and exact decimal arithmetic."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
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

# Enough digits for any count of teachers times any rate, small enough that a hostile
# expression cannot make the evaluator chew on huge numbers.
DECIMAL_CONTEXT = Context(
    prec=50,
    rounding=ROUND_HALF_UP,
    Emax=10_000,
    Emin=-10_000,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)


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


def fits(t: str, want: str) -> bool:
    return t == want or t == ANY or want == ANY


def describe(t: str) -> str:
    if is_list(t):
        return f"a list of {describe(element(t))}"
    return {
        NUMBER: "a number",
        TEXT: "text",
        BOOL: "a yes/no condition",
        DATE: "a date",
        ANY: "anything",
        GROUP: "a group",
    }.get(t, t)


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


def as_number(v: object) -> int | Decimal:
    if isinstance(v, bool) or not isinstance(v, int | Decimal):
        raise FormError(f"expected a number, got {v!r}")
    return v


def arith(op: str, a: int | Decimal, b: int | Decimal) -> int | Decimal | None:
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


def compare_values(op: str, a: object, b: object) -> bool:
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if isinstance(a, bool) or isinstance(b, bool):
        raise FormError("yes/no values cannot be ordered")
    return bool(_ORDER_OPS[op](a, b))


def flatten(values: Iterable[object]) -> list[object]:
    out: list[object] = []
    for v in values:
        if isinstance(v, list):
            out.extend(v)
        else:
            out.append(v)
    return out


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

"""The expression compiler: checks a syntax tree against a Scope (types included) and
turns it into Python closures over an Env. See models.forms.expr for the rules of
missing values."""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeAlias

from models.forms.definition import FormError
from models.forms.expr_parse import (
    FUNCTIONS,
    RESERVED,
    Attr,
    BoolLit,
    Call,
    Chain,
    Compare,
    ListLit,
    Logic,
    Missing,
    Name,
    Node,
    Num,
    Str,
    Unary,
    parse,
)
from models.forms.expr_values import (
    ANY,
    BOOL,
    DATE,
    DECIMAL_CONTEXT,
    GROUP,
    NUMBER,
    TEXT,
    Env,
    Expr,
    Fn,
    Result,
    Scope,
    Symbol,
    arith,
    as_number,
    compare_values,
    describe,
    element,
    fits,
    flatten,
    is_list,
    list_of,
    round_half_up,
)

# A compiled piece: the closure and its static type.
Compiled: TypeAlias = tuple[Fn, str]


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

    def compile(self, node: Node) -> Compiled:
        return _NODE_COMPILERS[type(node)](self, node)

    def compile_num(self, node: Num) -> Compiled:
        v = node.value
        return (lambda env: v), NUMBER

    def compile_str(self, node: Str) -> Compiled:
        s = node.value
        return (lambda env: s), TEXT

    def compile_bool(self, node: BoolLit) -> Compiled:
        b = node.value
        return (lambda env: b), BOOL

    def compile_missing(self, node: Missing) -> Compiled:
        return (lambda env: None), ANY

    def compile_unary(self, node: Unary) -> Compiled:
        fn, t = self.compile(node.operand)
        if node.op == "-":
            self.want(t, NUMBER, "`-`")
            return _on_number(fn, operator.neg, DECIMAL_CONTEXT.minus), NUMBER
        self.want(t, BOOL, "`not`")

        def not_(env: Env) -> Result:
            v = fn(env)
            return None if v is None else not v

        return not_, BOOL

    def want(self, t: str, want: str, what: str) -> None:
        if not fits(t, want):
            raise self.err(f"{what} needs {describe(want)}, not {describe(t)}")

    def compile_list(self, node: ListLit) -> Compiled:
        parts = [self.compile(item) for item in node.items]
        elem = ANY
        for _, t in parts:
            if is_list(t) or t == GROUP:
                raise self.err("a list cannot contain lists")
            if elem == ANY:
                elem = t
            elif not fits(t, elem):
                raise self.err(f"a list mixes {describe(elem)} and {describe(t)}")
        fns = [fn for fn, _ in parts]
        return (lambda env: [fn(env) for fn in fns]), list_of(elem)

    def compile_name(self, node: Name) -> Compiled:
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

    def compile_attr(self, node: Attr) -> Compiled:
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

    def compile_chain(self, node: Chain) -> Compiled:
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
            acc = as_number(acc)
            for op, fn in rest:
                v = fn(env)
                if v is None:
                    return None
                acc = arith(op, acc, as_number(v))
                if acc is None:
                    return None
            return acc

        return chain, NUMBER

    def compile_compare(self, node: Compare) -> Compiled:
        lfn, lt = self.compile(node.left)
        rfn, rt = self.compile(node.right)
        if node.op in ("in", "not in"):
            return self.compile_membership(node, (lfn, lt), (rfn, rt))
        return self.compile_comparison(node, (lfn, lt), (rfn, rt))

    def compile_membership(self, node: Compare, left: Compiled, right_part: Compiled) -> Compiled:
        (lfn, lt), (rfn, rt) = left, right_part
        op = node.op
        if not is_list(rt) and rt != ANY:
            raise self.err(
                f"`{op}` needs a list or a multi-choice field on its right, not {describe(rt)}"
            )
        if is_list(lt) or lt == GROUP or not fits(lt, element(rt)):
            raise self.err(f"`{op}` looks for {describe(lt)} in {describe(rt)}")
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

    def compile_comparison(self, node: Compare, left: Compiled, right: Compiled) -> Compiled:
        (lfn, lt), (rfn, rt) = left, right
        op = node.op
        if is_list(lt) or is_list(rt) or GROUP in (lt, rt):
            raise self.err(f"`{op}` cannot compare lists; use `in` or an aggregate")
        if not (fits(lt, rt)):
            raise self.err(f"`{op}` compares {describe(lt)} with {describe(rt)}")
        if op not in ("==", "!=") and (lt in (TEXT, BOOL) or rt in (TEXT, BOOL)):
            raise self.err(f"`{op}` needs numbers or dates, not {describe(lt)}")
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
            return compare_values(op, a, b)

        return compare, BOOL

    def compile_logic(self, node: Logic) -> Compiled:
        fns: list[Fn] = []
        for operand in node.operands:
            fn, t = self.compile(operand)
            self.want(t, BOOL, f"`{node.op}`")
            fns.append(fn)
        # Three-valued: one operand equal to `settles` (false for and, true for or) decides,
        # whatever the others; else a missing operand makes the result missing.
        settles = node.op == "or"

        def logic(env: Env) -> Result:
            missing = False
            for fn in fns:
                v = fn(env)
                if v is None:
                    missing = True
                elif bool(v) is settles:
                    return settles
            return None if missing else not settles

        return logic, BOOL

    def compile_call(self, node: Call) -> Compiled:
        name = node.func
        if name not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.err(f"unknown function '{name}' (known: {known})")
        return _FUNCTION_COMPILERS[name](self, name, node.args)

    def compile_abs(self, name: str, args: Sequence[Node]) -> Compiled:
        self.arity(name, args, 1, 1)
        fn, t = self.compile(args[0])
        self.want(t, NUMBER, "abs()")
        return _on_number(fn, abs, DECIMAL_CONTEXT.abs), NUMBER

    def compile_round(self, name: str, args: Sequence[Node]) -> Compiled:
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
            return None if v is None else round_half_up(as_number(v), places)

        return round_, NUMBER

    def compile_answered(self, name: str, args: Sequence[Node]) -> Compiled:
        self.arity(name, args, 1, 1)
        fn, _ = self.compile(args[0])
        return (lambda env: fn(env) is not None), BOOL

    def compile_coalesce(self, name: str, args: Sequence[Node]) -> Compiled:
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
            elif not fits(u, t):
                raise self.err(f"{what} mixes {describe(t)} and {describe(u)}")
        return t

    def compile_if(self, name: str, args: Sequence[Node]) -> Compiled:
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

    def compile_count(self, name: str, args: Sequence[Node]) -> Compiled:
        self.arity(name, args, 1, 1)
        arg = args[0]
        if isinstance(arg, Name) and arg.name in self.scope.groups:
            g = arg.name
            self.groups.add(g)
            return (lambda env: len(env.groups.get(g, ()))), NUMBER
        fn, t = self.compile(arg)
        if not is_list(t):
            raise self.err(
                "count() needs a group, a group field (group.field) or a multi-choice "
                f"field, not {describe(t)}"
            )

        def count(env: Env) -> Result:
            v = fn(env)
            if v is None:
                return 0
            if not isinstance(v, list):
                raise FormError(f"expected a list, got {v!r}")
            return sum(1 for x in v if x is not None)

        return count, NUMBER

    def compile_aggregate(self, name: str, args: Sequence[Node]) -> Compiled:
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
            raise self.err(f"{name}() needs numbers or dates, not {describe(t)}")
        fns = [fn for fn, _ in parts]
        if name == "sum":

            def sum_(env: Env) -> Result:
                acc: int | Decimal = 0
                for v in flatten(fn(env) for fn in fns):
                    if v is None:
                        continue
                    n = as_number(v)
                    acc = (
                        acc + n
                        if type(acc) is int and type(n) is int
                        else DECIMAL_CONTEXT.add(acc, n)
                    )
                return acc

            return sum_, NUMBER
        pick = min if name == "min" else max

        def extreme(env: Env) -> Result:
            present = [v for v in flatten(fn(env) for fn in fns) if v is not None]
            if not present:
                return None
            return pick(present)  # type: ignore[type-var]

        return extreme, t


_NODE_COMPILERS: dict[type, Callable[[_Compiler, Any], Compiled]] = {
    Num: _Compiler.compile_num,
    Str: _Compiler.compile_str,
    BoolLit: _Compiler.compile_bool,
    Missing: _Compiler.compile_missing,
    ListLit: _Compiler.compile_list,
    Name: _Compiler.compile_name,
    Attr: _Compiler.compile_attr,
    Unary: _Compiler.compile_unary,
    Chain: _Compiler.compile_chain,
    Compare: _Compiler.compile_compare,
    Logic: _Compiler.compile_logic,
    Call: _Compiler.compile_call,
}

# One compiler per function name; sum, min and max share the aggregate.
_FUNCTION_COMPILERS: dict[str, Callable[[_Compiler, str, Sequence[Node]], Compiled]] = {
    "count": _Compiler.compile_count,
    "sum": _Compiler.compile_aggregate,
    "min": _Compiler.compile_aggregate,
    "max": _Compiler.compile_aggregate,
    "abs": _Compiler.compile_abs,
    "round": _Compiler.compile_round,
    "answered": _Compiler.compile_answered,
    "coalesce": _Compiler.compile_coalesce,
    "if": _Compiler.compile_if,
}
assert set(_FUNCTION_COMPILERS) == FUNCTIONS


def _suggest(name: str, scope: Scope) -> str:
    candidates = [*scope.names, *scope.groups]
    close = difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _on_number(
    fn: Fn, on_int: Callable[[int], int], on_decimal: Callable[[int | Decimal], Decimal]
) -> Fn:
    """A function of one number: missing stays missing, a whole number stays whole, a
    decimal is worked out in the forms' decimal context."""

    def on_value(env: Env) -> Result:
        v = fn(env)
        if v is None:
            return None
        n = as_number(v)
        return on_int(n) if type(n) is int else on_decimal(n)

    return on_value


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

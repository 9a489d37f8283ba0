"""The small, safe expression language of forms (show_if, rules, computed fields).

Bureau staff write these expressions, so they are untrusted text: they are read by
a hand-written tokenizer and recursive-descent parser into a tree, checked against
the names the form defines (types included), and turned into Python closures. No
text is ever handed to eval/exec/compile, and every failure (syntax, unknown name,
type mismatch, overflow, absurd nesting) surfaces as FormError.

This module is the language's front door; the work is done in expr_parse (tokenizer,
parser, syntax tree), expr_compile (type check, closures) and expr_values (types,
scope, environment, decimal arithmetic).

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

from collections.abc import Mapping

from models.forms.definition import Value
from models.forms.expr_compile import compile_expression
from models.forms.expr_parse import MAX_DEPTH, RESERVED, Attr, parse
from models.forms.expr_values import Env, Scope, Symbol, type_of_value

# The language's front door: parse, compile and evaluate. The types, scope and values
# that compiled expressions work with are imported from expr_values, the syntax tree's
# node classes from expr_parse.
__all__ = ["MAX_DEPTH", "RESERVED", "Attr", "compile_expression", "evaluate", "parse"]


def evaluate(source: str, values: Mapping[str, Value | None] | None = None) -> Value | None:
    """Evaluate a stand-alone expression over plain named values (for tests, the CLI
    and one-off checks); the form engine compiles once and reuses the Expr instead."""
    vals = dict(values or {})
    scope = Scope(names={k: Symbol(type_of_value(v)) for k, v in vals.items()})
    return compile_expression(source, scope).evaluate(Env(vals))

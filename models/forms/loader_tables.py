"""Reading the tables and values of a form's TOML file, collecting every problem.

A TableReader never raises on bad input: it records a Problem (file, where, reason)
and returns None, so that one run can tell bureau staff everything that is wrong.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any, cast

from models.forms.definition import FormError, Problem, Text
from models.forms.expr import RESERVED, compile_expression
from models.forms.expr_values import Expr, Scope

CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_CODE_LENGTH = 50
TEXT_KEYS = ("zh", "en")


def is_whole(v: object) -> bool:
    """A TOML integer (TOML booleans are Python ints too, and are not numbers here)."""
    return isinstance(v, int) and not isinstance(v, bool)


def kind_of(v: object) -> str:
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "a table"
    return type(v).__name__


class TableReader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    # -- small helpers --------------------------------------------------------------

    def problem(self, where: str | None, reason: str) -> None:
        self.problems.append(Problem(self.file, where, reason))

    def table(self, value: object, where: str | None, what: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(where, f"{what} must be a table, not {kind_of(value)}")
            return None
        return value

    def tables(self, value: object, where: str | None, what: str) -> list[dict[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(where, f"{what} must be an array of tables ([[{what}]])")
            return []
        out = []
        for i, item in enumerate(value):
            t = self.table(item, where, f"{what}[{i + 1}]")
            if t is not None:
                out.append(t)
        return out

    def unknown_keys(
        self, table: Mapping[str, object], allowed: tuple[str, ...], where: str | None
    ) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                if close:
                    self.problem(where, f"unknown key '{key}' (did you mean '{close[0]}'?)")
                else:
                    allowed_list = ", ".join(allowed)
                    self.problem(where, f"unknown key '{key}'; allowed keys: {allowed_list}")

    def text(
        self, table: Mapping[str, object], key: str, where: str | None, *, required: bool
    ) -> Text | None:
        value = table.get(key)
        if value is None:
            if required:
                self.problem(where, f"{key}.zh and {key}.en are missing")
            return None
        if isinstance(value, str):
            self.problem(
                where,
                f'{key} needs both languages: write {key}.zh = "..." and {key}.en = "..."',
            )
            return None
        t = self.table(value, where, key)
        if t is None:
            return None
        self.unknown_keys(t, TEXT_KEYS, where)
        parts: dict[str, str] = {}
        for lang in TEXT_KEYS:
            s = t.get(lang)
            if s is None or (isinstance(s, str) and not s.strip()):
                self.problem(where, f"{key}.{lang} is missing")
            elif not isinstance(s, str):
                self.problem(where, f"{key}.{lang} must be a string")
            else:
                parts[lang] = s.strip()
        if len(parts) != 2:
            return None
        return Text(parts["zh"], parts["en"])

    def code(self, table: Mapping[str, object], where: str, what: str) -> str | None:
        value = table.get("code")
        if value is None:
            self.problem(where, f"{what} has no code")
            return None
        if not isinstance(value, str) or not CODE_RE.match(value):
            self.problem(
                where,
                f"code {value!r} is not valid: use lower-case letters, digits and _, "
                "starting with a letter (e.g. full_time_teachers)",
            )
            return None
        if len(value) > MAX_CODE_LENGTH:
            self.problem(where, f"code '{value}' is longer than {MAX_CODE_LENGTH} characters")
            return None
        if value in RESERVED:
            self.problem(where, f"code '{value}' is a reserved word of the expression language")
            return None
        return value

    def int_value(
        self, table: Mapping[str, object], key: str, where: str, lo: int, hi: int | None = None
    ) -> int | None:
        value = table.get(key)
        if value is None:
            return None
        if not is_whole(value):
            self.problem(where, f"{key} must be a whole number, not {kind_of(value)}")
            return None
        n = cast(int, value)
        if n < lo or (hi is not None and n > hi):
            rng = f"from {lo} to {hi}" if hi is not None else f"at least {lo}"
            self.problem(where, f"{key} must be {rng}, not {n}")
            return None
        return n

    def expression(self, source: object, scope: Scope, where: str, what: str) -> Expr | None:
        if not isinstance(source, str):
            self.problem(where, f"{what} must be a string expression, not {kind_of(source)}")
            return None
        try:
            return compile_expression(source, scope)
        except FormError as err:
            self.problem(where, f"{what} {source!r}: {err}")
            return None

    # -- pieces -----------------------------------------------------------------------


def quiet_tables(value: object) -> list[dict[str, Any]]:
    """The tables of an array, skipping anything else without a word (the problems
    were reported when the array was first read)."""
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict)]

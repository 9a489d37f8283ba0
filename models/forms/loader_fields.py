"""Reading a form's questions: fields (with their bounds and choices) and groups."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from models.forms.definition import (
    DEFAULT_DECIMALS,
    DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_LENGTH,
    FIELD_TYPES,
    FILE_KINDS,
    Bound,
    Choice,
    FieldDef,
    FieldType,
    FileKind,
    GroupDef,
)
from models.forms.expr_values import DATE, NUMBER, TEXT, Symbol, SymbolKind, list_of
from models.forms.loader_tables import TableReader, is_whole

FIELD_KEYS = (
    "code",
    "type",
    "label",
    "unit",
    "min",
    "max",
    "required",
    "hint",
    "choices",
    "show_if",
    "max_length",
    "decimals",
    "kinds",
    "max_mb",
)
CHOICE_KEYS = ("code", "label", "aliases")
GROUP_KEYS = (
    "code",
    "label",
    "hint",
    "after",
    "show_if",
    "min_items",
    "max_items",
    "add_prompt",
    "fields",
    "rules",
)

_FIELD_TYPE_SYMBOL = {
    "integer": NUMBER,
    "decimal": NUMBER,
    "choice": TEXT,
    "multi_choice": list_of(TEXT),
    "date": DATE,
    "text": TEXT,
    "file": TEXT,
}

MAX_FILE_MB = 20
"""A bot may download files of at most 20 MB through the Bot API, so no form asks for more."""


def field_symbol(f: FieldDef, kind: SymbolKind = "field") -> Symbol:
    """What an expression sees of a field: its type and, for choices, its codes."""
    choices = frozenset(c.code for c in f.choices) if f.choices else None
    return Symbol(_FIELD_TYPE_SYMBOL[f.type], kind, choices)


# --- bounds --------------------------------------------------------------------------


def _decimal_bound(value: object) -> Bound | None:
    if is_whole(value):
        return cast(int, value)
    if isinstance(value, float):
        try:
            d = Decimal(repr(value))
        except InvalidOperation:
            return None
        if d.is_finite():
            return d
    return None


def _date_bound(value: object) -> Bound | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return None


def _whole_bound(value: object) -> Bound | None:
    return cast(int, value) if is_whole(value) else None


# Per field type: how to read a min/max, and what to say when it cannot be read.
_BOUND_READERS = {
    "integer": (_whole_bound, "{key} of a integer field must be a whole number"),
    "multi_choice": (_whole_bound, "{key} of a multi_choice field must be a whole number"),
    "decimal": (_decimal_bound, "{key} of a decimal field must be a number"),
    "date": (_date_bound, "{key} of a date field must be a date such as 2026-09-01"),
}


def read_bound(
    ld: TableReader, value: object, ftype: FieldType, key: str, where: str
) -> Bound | None:
    if value is None:
        return None
    reader = _BOUND_READERS.get(ftype)
    if reader is None:
        hint = " (use max_length)" if ftype == "text" else ""
        ld.problem(where, f"{ftype} fields take no {key}{hint}")
        return None
    read, complaint = reader
    bound = read(value)
    if bound is None:
        ld.problem(where, complaint.format(key=key))
    return bound


# --- choices -------------------------------------------------------------------------


def read_choices(ld: TableReader, raw: object, where: str) -> tuple[Choice, ...]:
    out: list[Choice] = []
    seen_codes: set[str] = set()
    seen_words: dict[str, str] = {}
    for i, t in enumerate(ld.tables(raw, where, "choices")):
        ld.unknown_keys(t, CHOICE_KEYS, where)
        code = ld.code(t, where, f"choice {i + 1}")
        label = ld.text(t, "label", where, required=True)
        if code is None or label is None:
            continue
        if code in seen_codes:
            ld.problem(where, f"choice code '{code}' appears twice")
            continue
        seen_codes.add(code)
        choice = Choice(code, label, _aliases(ld, t.get("aliases", []), where, code))
        _check_answers(ld, choice, seen_words, where)
        out.append(choice)
    return tuple(out)


def _aliases(ld: TableReader, raw: object, where: str, code: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(a, str) and a.strip() for a in raw):
        ld.problem(where, f"aliases of choice '{code}' must be a list of words, e.g. [\"国培\"]")
        return ()
    return tuple(a.strip() for a in raw)


def _check_answers(ld: TableReader, choice: Choice, seen_words: dict[str, str], where: str) -> None:
    code, label = choice.code, choice.label
    # A principal may answer with a number, a code, a label or an alias, so these
    # must not collide across choices or the answer would be ambiguous.
    for word in {w.lower() for w in choice.answers}:
        other = seen_words.get(word)
        if other is not None and other != code:
            ld.problem(where, f"choices '{other}' and '{code}' share the answer '{word}'")
        seen_words[word] = code
    if any(w.isdigit() for w in (label.zh, label.en, *choice.aliases)):
        ld.problem(
            where,
            f"choice '{code}' has a number as its label; it would be mistaken "
            "for the choice's position",
        )


# --- fields --------------------------------------------------------------------------


def _field_type(ld: TableReader, t: Mapping[str, Any], where: str) -> FieldType | None:
    ftype = t.get("type")
    if ftype is None:
        ld.problem(where, f"type is missing (one of: {', '.join(FIELD_TYPES)})")
        return None
    if ftype not in FIELD_TYPES:
        close = difflib.get_close_matches(str(ftype), FIELD_TYPES, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        ld.problem(where, f"unknown type {ftype!r}{hint}; use one of: {', '.join(FIELD_TYPES)}")
        return None
    return cast(FieldType, ftype)


def _field_bounds(
    ld: TableReader, t: Mapping[str, Any], ft: FieldType, where: str
) -> tuple[Bound | None, Bound | None]:
    lo = read_bound(ld, t.get("min"), ft, "min", where)
    hi = read_bound(ld, t.get("max"), ft, "max", where)
    if lo is not None and hi is not None and lo > hi:  # type: ignore[operator]
        ld.problem(where, f"min ({lo}) is greater than max ({hi})")
    if ft == "multi_choice" and lo is not None and cast(int, lo) < 0:
        ld.problem(where, "min of a multi_choice field must not be negative")
    return lo, hi


def _field_required(ld: TableReader, t: Mapping[str, Any], where: str) -> bool:
    required = t.get("required", True)
    if not isinstance(required, bool):
        ld.problem(where, "required must be true or false")
        return True
    return required


def _field_choices(
    ld: TableReader, t: Mapping[str, Any], ft: FieldType, hi: Bound | None, where: str
) -> tuple[Choice, ...]:
    if ft not in ("choice", "multi_choice"):
        if "choices" in t:
            ld.problem(where, f"only choice and multi_choice fields have choices, not {ft}")
        return ()
    if "choices" not in t:
        ld.problem(where, f"a {ft} field needs choices")
        choices: tuple[Choice, ...] = ()
    else:
        choices = read_choices(ld, t["choices"], where)
        if not choices and isinstance(t["choices"], list):
            ld.problem(where, f"a {ft} field needs at least one choice")
    if ft == "multi_choice" and hi is not None and choices and hi > len(choices):  # type: ignore[operator]
        ld.problem(where, f"max ({hi}) is more than the {len(choices)} choices")
    return choices


def _field_sizes(
    ld: TableReader,
    t: Mapping[str, Any],
    ft: FieldType,
    bounds: tuple[Bound | None, ...],
    where: str,
) -> tuple[int | None, int | None]:
    """max_length of a text field and decimals of a decimal field, with their defaults."""
    max_length = ld.int_value(t, "max_length", where, 1, 4000)
    if "max_length" in t and ft != "text":
        ld.problem(where, "only text fields have max_length")
    # 4 places: the answers table keeps decimals as NUMERIC(20, 4).
    decimals = ld.int_value(t, "decimals", where, 0, 4)
    if "decimals" in t and ft != "decimal":
        ld.problem(where, "only decimal fields have decimals")
    if ft == "text" and max_length is None:
        max_length = DEFAULT_MAX_LENGTH
    if ft == "decimal" and decimals is None:
        decimals = DEFAULT_DECIMALS
    if ft == "decimal" and decimals is not None:
        for key, b in zip(("min", "max"), bounds, strict=True):
            if isinstance(b, Decimal) and -cast(int, b.as_tuple().exponent) > decimals:
                ld.problem(where, f"{key} ({b}) has more than {decimals} decimal places")
    return max_length, decimals


def _file_limits(
    ld: TableReader, t: Mapping[str, Any], ft: FieldType, where: str
) -> tuple[tuple[FileKind, ...], int | None]:
    """kinds and max_mb of a file field (every kind, and the setting's limit, by default)."""
    max_mb = ld.int_value(t, "max_mb", where, 1, MAX_FILE_MB)
    raw = t.get("kinds")
    if ft != "file":
        for key in ("kinds", "max_mb"):
            if key in t:
                ld.problem(where, f"only file fields have {key}")
        return (), None
    if raw is None:
        return FILE_KINDS, max_mb
    if not isinstance(raw, list) or not raw or not all(isinstance(k, str) for k in raw):
        ld.problem(where, f"kinds must be a list of file kinds, e.g. [\"pdf\", \"image\"] "
                   f"(one or more of: {', '.join(FILE_KINDS)})")
        return FILE_KINDS, max_mb
    unknown = [k for k in raw if k not in FILE_KINDS]
    for k in unknown:
        close = difflib.get_close_matches(k, FILE_KINDS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        ld.problem(where, f"unknown file kind {k!r}{hint}; use: {', '.join(FILE_KINDS)}")
    kinds = tuple(k for k in FILE_KINDS if k in raw)
    return kinds or FILE_KINDS, max_mb


def read_field(
    ld: TableReader, t: Mapping[str, Any], index: int, group: str | None
) -> FieldDef | None:
    fallback = f"{group + '.' if group else ''}fields[{index + 1}]"
    code = ld.code(t, fallback, "field")
    where = code or fallback
    ld.unknown_keys(t, FIELD_KEYS, where)
    label = ld.text(t, "label", where, required=True)
    ft = _field_type(ld, t, where)
    if ft is None:
        return None
    lo, hi = _field_bounds(ld, t, ft, where)
    required = _field_required(ld, t, where)
    unit = ld.text(t, "unit", where, required=False)
    numeric = ft in ("integer", "decimal")
    if unit is not None and not numeric:
        ld.problem(where, "only integer and decimal fields have a unit")
    choices = _field_choices(ld, t, ft, hi, where)
    max_length, decimals = _field_sizes(ld, t, ft, (lo, hi), where)
    kinds, max_mb = _file_limits(ld, t, ft, where)
    if code is None or label is None:
        return None
    return FieldDef(
        code=code,
        type=ft,
        label=label,
        unit=unit if numeric else None,
        min=lo,
        max=hi,
        required=required,
        hint=ld.text(t, "hint", where, required=False),
        choices=choices,
        max_length=max_length if ft == "text" else None,
        decimals=decimals if ft == "decimal" else None,
        group=group,
        kinds=kinds,
        max_mb=max_mb,
    )


# --- groups --------------------------------------------------------------------------


def read_group(ld: TableReader, gt: Mapping[str, Any], index: int) -> GroupDef | None:
    code = ld.code(gt, f"groups[{index + 1}]", "group")
    where = f"group {code}" if code else f"groups[{index + 1}]"
    ld.unknown_keys(gt, GROUP_KEYS, where)
    label = ld.text(gt, "label", where, required=True)
    hint = ld.text(gt, "hint", where, required=False)
    add_prompt = ld.text(gt, "add_prompt", where, required=False)
    min_items = ld.int_value(gt, "min_items", where, 0, 1000)
    max_items = ld.int_value(gt, "max_items", where, 1, 1000)
    lo = 0 if min_items is None else min_items
    hi = DEFAULT_MAX_ITEMS if max_items is None else max_items
    if lo > hi:
        ld.problem(where, f"min_items ({lo}) is greater than max_items ({hi})")
    after = gt.get("after")
    if after is not None and not isinstance(after, str):
        ld.problem(where, "after must be the code of a field")
        after = None
    fields = []
    for i, ft in enumerate(ld.tables(gt.get("fields"), where, "fields")):
        f = read_field(ld, ft, i, code)
        if f is not None:
            fields.append(f)
    if not gt.get("fields"):
        ld.problem(where, "a group needs at least one field ([[groups.fields]])")
    if code is None or label is None:
        return None
    return GroupDef(
        code=code,
        label=label,
        fields=tuple(fields),
        min_items=lo,
        max_items=hi,
        hint=hint,
        after=after,
        add_prompt=add_prompt,
    )

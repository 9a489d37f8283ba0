"""Answers to and from database rows: (field_code: str, item: int, value: JSON).

Values are stored as JSON so that one column holds every type: int as a number,
Decimal as a string ("12.5", so no float ever touches it), date as "2026-11-22",
choice and text as a string, multi_choice as a list of codes, and the group
bookkeeping keys as an int (ITEM_COUNT) and a bool (ITEM_DONE).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

from models.forms.definition import (
    ITEM_COUNT,
    ITEM_DONE,
    AnswerKey,
    Answers,
    FieldDef,
    FormDef,
    FormError,
    Value,
)

JSONValue: TypeAlias = int | str | bool | list[str]
Row: TypeAlias = tuple[str, int, JSONValue]


def dump_value(value: Value) -> JSONValue:
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return list(value)


def load_value(field: FieldDef, raw: object) -> Value:
    """The typed value of a stored answer; FormError if it does not fit the field.

    Accepts both the JSON form of dump_value and the typed columns of a SQL row
    (Decimal from NUMERIC, date from DATE, a multi_choice list as JSON text)."""
    try:
        if field.type == "integer" and isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if field.type == "decimal" and isinstance(raw, Decimal | str | int):
            if not isinstance(raw, bool):
                d = Decimal(raw)
                if d.is_finite():
                    return d
        if field.type == "date":
            if isinstance(raw, date) and not isinstance(raw, datetime):
                return raw
            if isinstance(raw, str):
                return date.fromisoformat(raw)
        if field.type in ("choice", "text", "file") and isinstance(raw, str):
            return raw
        if field.type == "multi_choice":
            items = json.loads(raw) if isinstance(raw, str) else raw
            if isinstance(items, list) and all(isinstance(x, str) for x in items):
                return [str(x) for x in items]
    except (ValueError, InvalidOperation):
        pass
    raise FormError(f"stored value {raw!r} does not fit {field.type} field {field.code}")


def to_rows(answers: Mapping[AnswerKey, Value]) -> list[Row]:
    return [(code, item, dump_value(v)) for (code, item), v in sorted(answers.items())]


def from_rows(form: FormDef, rows: Iterable[tuple[str, int, object]]) -> Answers:
    """Answers from stored rows of this form version. Rows with a None value (a
    skipped question) are left out; unknown codes are a FormError, since a
    submission is always read with the version it was made with."""
    out: Answers = {}
    for code, item, raw in rows:
        if raw is None:
            continue
        if item == ITEM_COUNT and form.has_group(code):
            if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
                raise FormError(f"stored item count {raw!r} of group {code} is not valid")
            out[(code, item)] = raw
        elif item == ITEM_DONE and form.has_group(code):
            out[(code, item)] = bool(raw)
        elif form.has_field(code) and item >= 0:
            out[(code, item)] = load_value(form.field(code), raw)
        else:
            raise FormError(f"form {form.code} v{form.version} has no answer key {(code, item)}")
    return out


def carried_over(form: FormDef, rows: Iterable[tuple[str, int, object]]) -> Answers:
    """The top-level answers of an earlier report that still fit this form version, to
    offer as this report's starting figures. The earlier report may have used another
    version, so a value that no longer fits is left out rather than an error."""
    out: Answers = {}
    for code, item, raw in rows:
        if item != 0 or not form.has_field(code) or form.field(code).group is not None:
            continue
        if form.field(code).type == "file":
            continue  # a document is sent for each period anew (this year's stamped scan)
        try:
            out[(code, 0)] = load_value(form.field(code), raw)
        except FormError:
            continue
    return out

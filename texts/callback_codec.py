"""The machinery of the callback codec: the base of every kind of button, its field types
and how they are written on the wire. The kinds themselves, and the rules they follow,
are in texts/callbacks.py, which is what the rest of the code imports."""

from __future__ import annotations

import re
import types
from dataclasses import MISSING, dataclass, fields
from typing import (
    Annotated,
    Any,
    ClassVar,
    Self,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

SEPARATOR = ":"
MAX_BYTES = 64
# Every id a button carries is a row id, a 32-bit integer on PostgreSQL.
ID_LIMIT = 2**31

# prefix -> kind; filled as the kinds in texts/callbacks.py are defined.
KINDS: dict[str, type[Callback]] = {}


class Stale(ValueError):
    """Callback data that is malformed, forged or from an older version of the bot."""


@dataclass(frozen=True)
class Shape:
    """The exact text of a field on the wire, beyond its type (see the types below)."""

    pattern: re.Pattern[str]


# Shaped field types: to mypy and to the code building buttons they are plain int and str.
RowId = Annotated[int, Shape(re.compile(r"[1-9][0-9]{0,8}"))]
"""A row id: at most nine digits, no leading zero, so always inside PostgreSQL's integer."""
Token = Annotated[str, Shape(re.compile(r"[0-9a-f]{1,8}"))]
"""A short hex name, e.g. of a question (handlers.report_view.key_token: a CRC-32)."""
Index = Annotated[int, Shape(re.compile(r"[0-9]{1,3}"))]
"""A position in a short list (a question's choices, a group's items)."""


@dataclass(frozen=True)
class Callback:
    """The base of every kind of button; see texts/callbacks.py's docstring."""

    PREFIX: ClassVar[str] = ""

    def __init_subclass__(cls, prefix: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not prefix:
            return
        if prefix in KINDS:
            raise ValueError(f"callback prefix {prefix!r} is declared twice")
        cls.PREFIX = prefix
        KINDS[prefix] = cls

    def pack(self) -> str:
        parts = [
            self.PREFIX, *(_encode(shape, getattr(self, name)) for name, shape in _plan(type(self)))
        ]
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()  # optional values left out at the end
        data = SEPARATOR.join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        return data

    @classmethod
    def matches(cls, data: object) -> bool:
        """Whether `data` is meant for this kind (its shape is checked by `unpack`)."""
        return isinstance(data, str) and (
            data == cls.PREFIX or data.startswith(cls.PREFIX + SEPARATOR)
        )

    @classmethod
    def unpack(cls, data: object) -> Self:
        if not cls.matches(data):
            raise Stale(data)
        assert isinstance(data, str)
        rest = data[len(cls.PREFIX) + 1 :]
        parts = rest.split(SEPARATOR) if rest else []
        own = fields(cls)
        if len(parts) > len(own):
            raise Stale(data)
        hints = _hints(cls)
        values: dict[str, Any] = {}
        for index, field in enumerate(own):
            if index < len(parts):
                values[field.name] = _decode(hints[field.name], parts[index], data)
            elif field.default is MISSING and field.default_factory is MISSING:
                raise Stale(data)
        return cls(**values)


def kind_of(data: object) -> type[Callback] | None:
    """The kind a button's data is meant for, by its longest matching prefix."""
    found = [kind for kind in KINDS.values() if kind.matches(data)]
    return max(found, key=lambda kind: len(kind.PREFIX), default=None)


_HINTS: dict[type[Callback], dict[str, Any]] = {}


def _hints(kind: type[Callback]) -> dict[str, Any]:
    """The fields' types with their shapes; kept, as a screen packs many buttons."""
    hints = _HINTS.get(kind)
    if hints is None:
        hints = _HINTS[kind] = get_type_hints(kind, include_extras=True)
    return hints


_PLANS: dict[type[Callback], tuple[tuple[str, Shape | None], ...]] = {}


def _plan(kind: type[Callback]) -> tuple[tuple[str, Shape | None], ...]:
    """Each field's name and shape, in order: what packing needs, kept per kind (a
    question's keyboard packs a dozen buttons, and reading type hints is slow)."""
    plan = _PLANS.get(kind)
    if plan is None:
        hints = _hints(kind)
        plan = _PLANS[kind] = tuple(
            (f.name, _shape_of(_unoptional(hints[f.name])[0])[1]) for f in fields(kind)
        )
    return plan


def _shape_of(hint: Any) -> tuple[Any, Shape | None]:
    """The plain type of a (non-optional) field and its shape, if it has one."""
    if get_origin(hint) is not Annotated:
        return hint, None
    plain, *extras = get_args(hint)
    return plain, next((e for e in extras if isinstance(e, Shape)), None)


def _unoptional(hint: Any) -> tuple[Any, bool]:
    if get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint):
        return next(arg for arg in get_args(hint) if arg is not type(None)), True
    return hint, False


def _encode(shape: Shape | None, value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    if SEPARATOR in text:
        raise ValueError(f"{SEPARATOR!r} inside a callback value: {text!r}")
    if shape is not None and shape.pattern.fullmatch(text) is None:
        # A button that its own decoder would refuse is a bug where it is built.
        raise ValueError(f"callback value {text!r} is not of the shape {shape.pattern.pattern}")
    return text


def _decode(hint: Any, raw: str, data: str) -> Any:
    hint, optional = _unoptional(hint)
    if optional and raw == "":
        return None
    hint, shape = _shape_of(hint)
    if shape is not None and shape.pattern.fullmatch(raw) is None:
        raise Stale(data)
    if hint is int:
        # ASCII only: str.isdigit() also accepts digits int() cannot read, such as "²".
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) >= ID_LIMIT:
            raise Stale(data)
        return int(raw)
    if hint is str:
        if raw == "" and not optional:
            raise Stale(data)
        return raw
    raise TypeError(f"unsupported callback field type {hint!r}")

"""Every button's callback data: one small class per kind of button, each prefix declared once.

A kind is a frozen dataclass whose fields are the values the button carries:

    @dataclass(frozen=True)
    class OpenReport(Callback, prefix="rp:o"):
        round_id: int

    OpenReport(7).pack() == "rp:o:7"
    OpenReport.unpack("rp:o:7") == OpenReport(7)

Callback data comes from the presser's phone and is untrusted (DESIGN principle 6):
`unpack` accepts only the exact shape of the kind (the right number of parts, numbers
that a row id can hold, no separator inside a text) and raises `Stale` for anything else,
which handlers answer in one way ("this button is no longer valid", handlers/menu.py).
Telegram allows 64 bytes of callback data; `pack` refuses more.
"""

from __future__ import annotations

import types
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, Self, Union, get_args, get_origin, get_type_hints

SEPARATOR = ":"
MAX_BYTES = 64
# Every id a button carries is a row id, a 32-bit integer on PostgreSQL.
ID_LIMIT = 2**31

# prefix -> kind; filled as the kinds below are defined.
KINDS: dict[str, type[Callback]] = {}


class Stale(ValueError):
    """Callback data that is malformed, forged or from an older version of the bot."""


@dataclass(frozen=True)
class Callback:
    """The base of every kind of button; see the module's docstring."""

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
        parts = [self.PREFIX, *(_encode(getattr(self, f.name)) for f in fields(self))]
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
        hints = get_type_hints(cls)
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


def _encode(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    if SEPARATOR in text:
        raise ValueError(f"{SEPARATOR!r} inside a callback value: {text!r}")
    return text


def _decode(hint: Any, raw: str, data: str) -> Any:
    optional = get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)
    if optional:
        if raw == "":
            return None
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
    if hint is int:
        if not raw.isdigit() or len(raw) > 10 or int(raw) >= ID_LIMIT:
            raise Stale(data)
        return int(raw)
    if hint is str:
        if raw == "" and not optional:
            raise Stale(data)
        return raw
    raise TypeError(f"unsupported callback field type {hint!r}")


# --- the kinds, one section per capability -----------------------------------------------
# Each capability declares its buttons in its own section below, so that every prefix in
# use can be read in this one file.

# --- home and start (handlers/menu.py, handlers/start.py) ---

# --- onboarding and admin (handlers/onboarding.py, handlers/admin/) ---

# --- status and exports (handlers/status.py) ---

# --- the report (handlers/report/) ---

# --- rounds (handlers/rounds/) ---
# Staff's /round screens ("rd:...") and "send again" ("rt:ID", its own prefix, so the
# authorization test presses it as every other role).


@dataclass(frozen=True)
class RoundList(Callback, prefix="rd:l"):
    pass


@dataclass(frozen=True)
class NewRound(Callback, prefix="rd:n"):
    pass


@dataclass(frozen=True)
class CancelSetUp(Callback, prefix="rd:x"):
    pass


@dataclass(frozen=True)
class ChooseForm(Callback, prefix="rd:f"):
    form_code: str


@dataclass(frozen=True)
class ChoosePeriod(Callback, prefix="rd:p"):
    index: int
    """Of the suggestions in the set-up's state."""


@dataclass(frozen=True)
class ChooseDeadline(Callback, prefix="rd:d"):
    days: int


@dataclass(frozen=True)
class TickDistrict(Callback, prefix="rd:td"):
    district_id: int


@dataclass(frozen=True)
class TickStage(Callback, prefix="rd:ts"):
    index: int
    """Of models.forms.STAGES."""


@dataclass(frozen=True)
class SchoolsChosen(Callback, prefix="rd:ok"):
    pass


@dataclass(frozen=True)
class OpenRound(Callback, prefix="rd:go"):
    pass


@dataclass(frozen=True)
class ShowRound(Callback, prefix="rd:v"):
    round_id: int


@dataclass(frozen=True)
class ExtendRound(Callback, prefix="rd:e"):
    round_id: int
    days: int


@dataclass(frozen=True)
class TypeDeadline(Callback, prefix="rd:E"):
    round_id: int


@dataclass(frozen=True)
class AskClose(Callback, prefix="rd:c"):
    round_id: int


@dataclass(frozen=True)
class CloseRound(Callback, prefix="rd:C"):
    round_id: int


@dataclass(frozen=True)
class ChooseUnlock(Callback, prefix="rd:u"):
    round_id: int


@dataclass(frozen=True)
class UnlockSchool(Callback, prefix="rd:U"):
    round_id: int
    school_id: int


@dataclass(frozen=True)
class RetryRound(Callback, prefix="rt"):
    round_id: int


# --- notices (handlers/notices/) ---

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


@dataclass(frozen=True)
class Home(Callback, prefix="menu:home"):
    """Back to the /menu home screen."""


@dataclass(frozen=True)
class ChooseLanguage(Callback, prefix="lang"):
    code: str  # one of texts.i18n.LANGUAGES; anything else is refused by the handler

# --- onboarding and admin (handlers/onboarding.py, handlers/admin/) ---


@dataclass(frozen=True)
class ConfirmInvite(Callback, prefix="inv:y"):
    nonce: str  # the offer's one-time nonce, never the code (models.invites.make_offer)


@dataclass(frozen=True)
class CancelInvite(Callback, prefix="inv:n"):
    nonce: str | None = None  # older buttons carry none: they withdraw nothing


@dataclass(frozen=True)
class DistrictsPage(Callback, prefix="adm:sd"):
    page: int


@dataclass(frozen=True)
class SchoolsPage(Callback, prefix="adm:sl"):
    district_id: int
    page: int


@dataclass(frozen=True)
class SchoolCard(Callback, prefix="adm:ss"):
    school_id: int


@dataclass(frozen=True)
class PeopleOverview(Callback, prefix="adm:pp"):
    page: int  # always 0: one page; kept in the data so older buttons stay valid


@dataclass(frozen=True)
class MissingPrincipalsPage(Callback, prefix="adm:pm"):
    page: int


@dataclass(frozen=True)
class StaffList(Callback, prefix="adm:st"):
    page: int  # always 0, as PeopleOverview


@dataclass(frozen=True)
class PersonCard(Callback, prefix="adm:pc"):
    person_id: int


@dataclass(frozen=True)
class AskUnbind(Callback, prefix="adm:ub"):
    person_id: int


@dataclass(frozen=True)
class Unbind(Callback, prefix="adm:uy"):
    person_id: int
    bound_to: int  # the school or district id the person was bound to when it was shown


@dataclass(frozen=True)
class MakeStaff(Callback, prefix="adm:mk"):
    person_id: int


@dataclass(frozen=True)
class RemoveStaff(Callback, prefix="adm:rm"):
    person_id: int


@dataclass(frozen=True)
class InviteToSchool(Callback, prefix="adm:iv"):
    school_id: int
    kind: str  # p: the principal, r: a principal replacing the current one, d: a deputy


@dataclass(frozen=True)
class InviteDistrictOfficer(Callback, prefix="adm:id"):
    district_id: int


@dataclass(frozen=True)
class InviteStaff(Callback, prefix="adm:is"):
    page: int  # always 0, as PeopleOverview

# --- status and exports (handlers/status.py) ---


@dataclass(frozen=True)
class StatusRounds(Callback, prefix="st:l"):
    """The /status round list."""


@dataclass(frozen=True)
class StatusRound(Callback, prefix="st:r"):
    round_id: int


@dataclass(frozen=True)
class StatusDistrict(Callback, prefix="st:d"):
    round_id: int
    district_id: int


@dataclass(frozen=True)
class RemindDistrict(Callback, prefix="st:m"):
    round_id: int
    district_id: int


@dataclass(frozen=True)
class ExportRound(Callback, prefix="ex"):
    round_id: int

# --- the report (handlers/report/) ---

# --- rounds (handlers/rounds/) ---

# --- notices (handlers/notices/) ---
